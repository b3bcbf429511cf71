"""/healthz (the process answers), /readyz (its dependencies answer) and /metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.metrics_mp import metrics_body
from bot.workers import current_role

Check = Callable[[], Awaitable[bool]]
CHECKS = web.AppKey("pmark_ready_checks", dict[str, Check])
READY = web.AppKey("pmark_ready", asyncio.Event)
CHECK_TIMEOUT = 3.0


async def healthz(_: web.Request) -> web.Response:
    """Liveness: the event loop answers (and which worker's loop it is, of how many)."""
    role = current_role()
    return web.json_response({"status": "ok", "worker": role.index, "workers": role.count})


async def _run(check: Check) -> tuple[bool, float, str]:
    started = time.perf_counter()
    try:
        ok = bool(await asyncio.wait_for(check(), CHECK_TIMEOUT))
        error = "" if ok else "not answering"
    except TimeoutError:
        ok, error = False, f"no answer within {CHECK_TIMEOUT:.0f} s"
    except Exception as exc:
        ok, error = False, type(exc).__name__
    return ok, round((time.perf_counter() - started) * 1000, 1), error


async def readyz(request: web.Request) -> web.Response:
    """Readiness: started, and every configured dependency answers (503 otherwise)."""
    ready = request.app.get(READY)
    if ready is None or not ready.is_set():
        return web.json_response({"status": "starting"}, status=503)
    checks = request.app.get(CHECKS, {})
    names = list(checks)
    results = await asyncio.gather(*(_run(checks[n]) for n in names))
    report = {
        n: {"ok": ok, "ms": ms, **({"error": err} if err else {})}
        for n, (ok, ms, err) in zip(names, results, strict=True)
    }
    healthy = all(ok for ok, _, _ in results)
    return web.json_response(
        {"status": "ready" if healthy else "degraded", "checks": report},
        status=200 if healthy else 503,
    )


async def metrics(_: web.Request) -> web.Response:
    """Prometheus exposition: this process, or all the workers' files (bot.metrics_mp)."""
    body = await asyncio.to_thread(metrics_body)
    response = web.Response(body=body)
    response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
    response.charset = "utf-8"
    return response


def add_routes(app: web.Application) -> None:
    """Mount the three endpoints."""
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
