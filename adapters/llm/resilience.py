"""The LLM client's circuit breaker; single event loop, no locks needed.

Kept rather than pybreaker/aiobreaker: both read the wall clock (datetime.now) with no way to
pass ours, so a cooldown cannot be tested without sleeping through it, and neither hands the
half-open probe back when the call is cancelled (release_probe) instead of failing.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from adapters.llm.base import CircuitOpen


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; after `cooldown` s lets one probe through.

    A successful probe closes the circuit, a failed one re-opens it for another cooldown.
    """

    def __init__(
        self,
        threshold: int = 5,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = max(1, threshold)
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> str:
        """'closed', 'open' or 'half_open'."""
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.cooldown:
            return "half_open"
        return "open"

    def before_call(self) -> None:
        """Raise `CircuitOpen` unless a call may go out now."""
        state = self.state
        if state == "closed":
            return
        if state == "half_open" and not self._probing:
            self._probing = True
            return
        assert self._opened_at is not None
        wait = max(0.0, self.cooldown - (self._clock() - self._opened_at))
        raise CircuitOpen(f"LLM circuit open after {self._failures} failures; retry in {wait:.1f}s")

    def record_success(self) -> None:
        """A call got a usable answer: close the circuit."""
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def record_failure(self) -> None:
        """A call found the server unavailable."""
        self._failures += 1
        if self._probing or self._failures >= self.threshold:
            self._opened_at = self._clock()
        self._probing = False

    def release_probe(self) -> None:
        """A probe ended without telling anything about the server (e.g. cancelled)."""
        self._probing = False
