"""Slow or broken clients: a body-read deadline, and one quiet log line per unparsable request.

The request head has its deadline in aiohttp itself (`keepalive_timeout` also runs from the
moment a connection opens until a complete head is in: see `bot.app.run`).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Middleware

from bot.middleware import Handler

log = logging.getLogger(__name__)


def body_timeout(seconds: float) -> Middleware:
    """408 when a request body is not in within `seconds` of its head (read once, kept)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.can_read_body and seconds > 0:
            try:
                # aiohttp keeps what read() returned: the handler's own read() gets it at once.
                await asyncio.wait_for(request.read(), seconds)
            except TimeoutError:
                log.info("request body not received within %.0f s on %s", seconds, request.path)
                return web.json_response({"error": "request body too slow"}, status=408)
        return await handler(request)

    return middleware


class QuietBadRequests(logging.Filter):
    """aiohttp's 'Error handling request' for a request it cannot parse: one INFO line.

    aiohttp logs such requests (oversized or malformed heads) at ERROR with a traceback whose
    message quotes the first bytes of what the client sent: anyone could fill the logs and
    raise alerts. The client gets its 400 either way; the log keeps the kind of error only.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg = "unparsable HTTP request refused (%d): %s"
            record.args = (int(exc.code or 400), type(exc).__name__)
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info, record.exc_text = None, None
        return True


def quiet_bad_requests(logger: logging.Logger | None = None) -> QuietBadRequests:
    """Install the filter on aiohttp's server logger (idempotent)."""
    target = logger or logging.getLogger("aiohttp.server")
    for old in [f for f in target.filters if isinstance(f, QuietBadRequests)]:
        target.removeFilter(old)
    quiet = QuietBadRequests()
    target.addFilter(quiet)
    return quiet
