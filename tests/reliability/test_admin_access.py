"""Every route of the built app is either a channel/probe endpoint or needs the admin token.

Routes are enumerated from the real app, so an endpoint added later is checked without touching
this file: unless it is listed in PUBLIC it must refuse a missing or wrong token (401/403) and
answer with the right one.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from agent.context import PMark
from bot.app import build_app
from tests.bot.conftest import Running, endpoints_for, make_settings, start
from tests.bot.support import Stub
from tests.fake_secrets import ADMIN_TOKEN

# Authenticated by their channel (Bot Framework JWT, Slack signature) or meant to be open to
# the orchestrator (probes) and the Prometheus scraper.
PUBLIC = {
    ("POST", "/api/messages"),
    ("POST", "/slack/events"),
    ("POST", "/slack/actions"),
    ("POST", "/slack/commands"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    # What is running and links (bot/home.py): kinds of backends only, no secret or host.
    ("GET", "/"),
}
WRONG = [
    ({}, ""),
    ({"Authorization": "Bearer wrong-token"}, ""),
    ({}, "?token=wrong-token"),
    ({"Authorization": f"Bearer {ADMIN_TOKEN.upper()}"}, ""),
    ({"Authorization": f"Bearer {ADMIN_TOKEN[:-1]}"}, ""),
    ({"Authorization": f"Bearer {ADMIN_TOKEN}x"}, ""),
    ({}, f"?token={ADMIN_TOKEN[:-1]}"),
    ({"Authorization": f"Basic {ADMIN_TOKEN}"}, ""),
    ({"Authorization": "Bearer wrong-token"}, f"?token={ADMIN_TOKEN}"),
]
RIGHT = [({"Authorization": f"Bearer {ADMIN_TOKEN}"}, ""), ({}, f"?token={ADMIN_TOKEN}")]


def routes(app: web.Application) -> list[tuple[str, str]]:
    """(method, path) of every route, path parameters filled with a sample value."""
    out = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue  # aiohttp's twin of each GET
        canonical = route.resource.canonical if route.resource is not None else ""
        out.add((route.method, re.sub(r"\{[^}]+\}", "1", canonical)))
    return sorted(out)


def admin_routes(app: web.Application) -> list[tuple[str, str]]:
    return [r for r in routes(app) if r not in PUBLIC]


async def _app(plant: PMark, stub: Stub, **overrides: Any) -> tuple[web.AppRunner, Running]:
    settings = make_settings(
        plant.settings.data_dir, stub, eval_schedule_enabled=False, **overrides
    )
    ctx = PMark(settings)
    # The same plant: share what is slow to load.
    for name in ("embedder", "index", "parser"):
        ctx.__dict__[name] = getattr(plant, name)
    return await start(build_app(settings, ctx=ctx, endpoints=endpoints_for(stub)), stub)


@pytest.fixture(scope="module")
async def admin(plant: PMark, stub: Stub) -> AsyncIterator[Running]:
    runner, running = await _app(plant, stub, admin_token=SecretStr(ADMIN_TOKEN))
    yield running
    await running.http.close()
    await runner.cleanup()


async def _status(running: Running, method: str, path: str, headers: dict[str, str]) -> int:
    kwargs: dict[str, Any] = {"headers": headers, "allow_redirects": False}
    if method not in ("GET", "DELETE"):
        kwargs["json"] = {}
    async with running.http.request(method, running.base + path, **kwargs) as resp:
        body = await resp.text()
        assert ADMIN_TOKEN not in body
        return resp.status


def test_the_admin_surface_is_known(admin: Running) -> None:
    found = routes(admin.app)
    assert PUBLIC <= set(found), "a channel or probe endpoint went missing"
    assert ("GET", "/eval") in admin_routes(admin.app)


async def test_every_admin_endpoint_refuses_missing_and_wrong_tokens(admin: Running) -> None:
    for method, path in admin_routes(admin.app):
        for headers, query in WRONG:
            status = await _status(admin, method, path + query, headers)
            assert status in (401, 403), (method, path, headers, query, status)


async def test_every_admin_endpoint_answers_the_right_token(admin: Running) -> None:
    for method, path in admin_routes(admin.app):
        for headers, query in RIGHT:
            status = await _status(admin, method, path + query, headers)
            assert status not in (401, 403) and status < 500, (method, path, query, status)
    async with admin.http.get(
        f"{admin.base}/eval", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as resp:
        assert resp.status == 200 and resp.content_type == "text/html"


async def test_without_a_configured_token_admin_endpoints_stay_shut(
    plant: PMark, stub: Stub
) -> None:
    runner, running = await _app(plant, stub, admin_token=None)
    try:
        attempts = [
            *WRONG,
            ({"Authorization": "Bearer "}, "?token="),
            ({"Authorization": "Bearer None"}, "?token=None"),
            *RIGHT,
        ]
        for method, path in admin_routes(running.app):
            for headers, query in attempts:
                status = await _status(running, method, path + query, headers)
                assert status in (401, 403), (method, path, headers, query, status)
    finally:
        await running.http.close()
        await runner.cleanup()


async def test_public_endpoints_need_no_admin_token(admin: Running) -> None:
    """The probes answer anonymously; the channels refuse what their own auth does not pass."""
    for path in ("/healthz", "/readyz", "/metrics"):
        async with admin.http.get(admin.base + path) as resp:
            assert resp.status in (200, 503), path
    async with admin.http.get(admin.base + "/") as resp:
        assert resp.status == 200 and ADMIN_TOKEN not in await resp.text()
    async with admin.http.post(f"{admin.base}/api/messages", json={"type": "message"}) as resp:
        assert resp.status in (400, 401)
    for path in ("/slack/events", "/slack/actions", "/slack/commands"):
        async with admin.http.post(admin.base + path, data=b"x") as resp:
            assert resp.status in (400, 401), path
