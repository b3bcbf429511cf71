"""The per-user rate limit: a sliding window per user, users independent."""

from __future__ import annotations

import time

from bot.middleware import RateLimiter


def test_a_user_gets_per_minute_messages_then_is_refused() -> None:
    limiter = RateLimiter(3)
    assert [limiter.allow("teams:u1") for _ in range(5)] == [True, True, True, False, False]
    assert limiter.allow("teams:u2")  # another user is not held up


def test_the_window_slides() -> None:
    limiter = RateLimiter(2, window=1)
    assert limiter.allow("u") and limiter.allow("u") and not limiter.allow("u")
    time.sleep(1.1)
    assert limiter.allow("u")


def test_zero_means_no_limit() -> None:
    limiter = RateLimiter(0)
    assert all(limiter.allow("u") for _ in range(100))
