"""HTTP middlewares (body limit, errors, metrics) and the per-user rate limiter."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from prometheus_client import Counter, Histogram

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HANDLER_ERRORS = Counter(
    "pmark_handler_errors_total", "Unhandled exceptions in channel handlers", ["channel"]
)
HTTP_REQUESTS = Counter(
    "pmark_http_requests_total", "HTTP requests by route and status", ["route", "status"]
)
HTTP_SECONDS = Histogram(
    "pmark_http_request_duration_seconds",
    "Time to answer an HTTP request (the answer of a turn may follow later)",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15),
)
RATE_LIMITED = Counter(
    "pmark_rate_limited_total", "Messages refused by the rate limit", ["channel"]
)
TYPING_SHED = Counter(
    "pmark_typing_shed_total", "Typing indicator repeats skipped because many answers waited"
)
CARD_CLOSE_SHED = Counter(
    "pmark_card_close_shed_total",
    "Superseded Teams cards left open (not updated) because many answers waited",
)


def channel_of(path: str) -> str:
    """The channel label of a request path."""
    if path.startswith("/api/messages"):
        return "teams"
    if path.startswith("/slack"):
        return "slack"
    return "http"


def _route(request: web.Request) -> str:
    info = request.match_info.route.resource
    return info.canonical if info is not None else "unmatched"


def body_limit(max_bytes: int) -> Middleware:
    """413 for a declared body over the limit (chunked bodies hit client_max_size on read)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.content_length is not None and request.content_length > max_bytes:
            return web.json_response({"error": f"request body over {max_bytes} bytes"}, status=413)
        return await handler(request)

    return middleware


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """No exception escapes: HTTP errors pass through, anything else is a logged, counted 500."""
    started = time.perf_counter()
    route = _route(request)
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except Exception:
        HANDLER_ERRORS.labels(channel_of(request.path)).inc()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response({"error": "internal error"}, status=500)
    finally:
        HTTP_REQUESTS.labels(route, str(status)).inc()
        HTTP_SECONDS.labels(route).observe(time.perf_counter() - started)


class RateLimiter:
    """At most `per_minute` messages per user in any sliding minute.

    The `limits` library's moving window over in-memory storage (which forgets a user once the
    window has passed, so memory follows the active users, not everyone ever seen).
    """

    def __init__(self, per_minute: int, window: int = 60, processes: int = 1) -> None:
        self.per_minute = per_minute
        # With N workers on one port, each counts in memory: each allows its share. The kernel
        # spreads a sender's connections over the workers, so the shares add up to the limit.
        share = math.ceil(max(per_minute, 1) / max(processes, 1))
        self._item = RateLimitItemPerSecond(share, window)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def allow(self, key: str) -> bool:
        """Count a message; False when the user is over the limit."""
        if self.per_minute <= 0:
            return True
        return bool(self._limiter.hit(self._item, "pmark-user", key))


def rate_limited_text(lang: str, per_minute: int) -> str:
    """The polite refusal."""
    if lang == "ko":
        return (
            f"잠시만요 🙏 메시지가 너무 빨리 들어오고 있어요 (1분에 {per_minute}건까지). "
            "조금 뒤에 다시 보내 주세요."
        )
    return (
        f"Just a moment 🙏 messages are coming in faster than I can take them "
        f"(up to {per_minute} a minute). Please send it again shortly."
    )


def guess_lang(text: str) -> str:
    """'ko' when the text has Hangul, else 'en' (for messages written before the agent runs)."""
    return "ko" if any("\uac00" <= ch <= "\ud7a3" for ch in text) or not text.strip() else "en"
