"""No secret in what PMark answers or logs when things fail.

The app runs on the real PostgreSQL (application database and checkpoints, the URLs carrying the
test cluster's password) through a TCP proxy on loopback, with every channel secret, the admin
token and an LLM API key configured. Then the proxy is shut — the database is gone — and /readyz,
the replies to Teams and Slack users, the 4xx/5xx bodies and every log record of the app are
checked for each secret the suite knows (tests/reliability/secret_scan.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from pydantic import SecretStr

from agent.context import PMark
from bot.app import build_app
from tests.bot.conftest import Running, endpoints_for, make_settings, start
from tests.bot.support import Stub, slack_event, slack_headers, teams_message, write_plant
from tests.conftest import service_url
from tests.fake_secrets import ADMIN_TOKEN, LLM_API_KEY
from tests.reliability.secret_scan import Scanner, known_secrets


class Proxy:
    """A TCP proxy on loopback that can be shut, taking its connections down with it.

    It runs on a thread of its own: the app makes some blocking database calls on the test's
    event loop, which must not stop the proxy those calls go through.
    """

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pg-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    def close(self) -> None:
        """Stop listening (the port now refuses connections) and cut every connection."""
        if self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)

    def stop(self) -> None:
        self.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._server is None or not self._server.is_serving():
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()
        if self._server is not None:
            await self._server.wait_closed()


def via(url: str, port: int) -> str:
    """`url` with its host:port replaced by the proxy's, credentials kept."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rsplit("@", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{userinfo}@127.0.0.1:{port}"))


class Records(logging.Handler):
    """Every record, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.lines.extend(self.format(record).splitlines())


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Down:
    running: Running
    proxy: Proxy
    secrets: dict[str, str]
    scanner: Scanner

    def leaks(self, text: str) -> list[tuple[str, str]]:
        return self.scanner.line(text)


@pytest.fixture
async def on_postgres(
    plant: PMark, stub: Stub, pg_sqlalchemy_url: str, tmp_path: Path
) -> AsyncIterator[Down]:
    checkpoint_url = service_url("PMARK_TEST_CHECKPOINT_URL", "PostgreSQL")
    secrets = known_secrets()
    password = urlsplit(os.environ["PMARK_TEST_POSTGRES_URL"]).password
    assert password and password in secrets.values()
    upstream = urlsplit(pg_sqlalchemy_url)
    proxy = Proxy(upstream.hostname or "127.0.0.1", upstream.port or 5432)
    proxy.start()
    settings = make_settings(
        tmp_path / "data",
        stub,
        database_url=via(pg_sqlalchemy_url, proxy.port),
        postgres_url=via(checkpoint_url, proxy.port),
        admin_token=SecretStr(ADMIN_TOKEN),
        llm_url=f"http://127.0.0.1:{_dead_port()}/v1",
        llm_api_key=SecretStr(LLM_API_KEY),
        llm_timeout=1.0,
        eval_schedule_enabled=False,
    )
    ctx = PMark(settings)
    ctx.__dict__["embedder"] = plant.embedder  # loaded once per session
    catalog, _ = write_plant(tmp_path / "csv")
    await asyncio.to_thread(ctx.import_catalog, catalog, True)
    runner, running = await start(build_app(settings, ctx=ctx, endpoints=endpoints_for(stub)), stub)
    try:
        yield Down(running, proxy, secrets, Scanner(secrets))
    finally:
        proxy.stop()
        await running.http.close()
        await runner.cleanup()


async def _text(running: Running, method: str, path: str, **kwargs: Any) -> tuple[int, str]:
    async with running.http.request(method, running.base + path, **kwargs) as resp:
        headers = "\n".join(f"{k}: {v}" for k, v in resp.headers.items())
        return resp.status, headers + "\n" + await resp.text()


async def test_no_secret_in_replies_or_logs_when_the_database_is_gone(
    on_postgres: Down, records: Records
) -> None:
    down = on_postgres
    running, stub = down.running, down.running.stub

    status, text = await _text(running, "GET", "/readyz")
    body = json.loads(text.split("\n")[-1])
    assert body["checks"]["database"]["ok"] and body["checks"]["checkpointer"]["ok"], body
    assert not body["checks"]["llm"]["ok"] and not down.leaks(text)

    down.proxy.close()

    # Readiness names what is down, not how it connects.
    status, text = await _text(running, "GET", "/readyz")
    body = json.loads(text.split("\n")[-1])
    assert status == 503 and body["status"] == "degraded"
    assert not body["checks"]["database"]["ok"] and not body["checks"]["checkpointer"]["ok"]
    assert not down.leaks(text), down.leaks(text)

    # A Teams user gets an apology, not the error.
    before = len(stub.connector("message"))
    activity = teams_message(running.service_url, "2공장 냉각수 펌프 누유 긴급", chain="db-gone")
    resp = await running.post_activity(activity)
    replies = await stub.wait_for(lambda: stub.connector("message")[before:], timeout=60)
    assert resp.status in (200, 500, 503)
    for reply in replies:
        assert reply.body.get("text") or reply.body.get("attachments")
        assert not down.leaks(json.dumps(reply.body, ensure_ascii=False))

    # A Slack user too (whatever the app manages to say).
    posts_before = len(stub.slack("chat.postMessage"))
    event = {
        "type": "app_mention",
        "user": "UTECH1",
        "text": "<@UPMARKBOT> 2공장 압축기 과열 긴급",
        "ts": "1700000001.000100",
        "channel": "C0DBGONE",
        "event_ts": "1700000001.000100",
    }
    body_text = slack_event(event)
    headers = {"Content-Type": "application/json", **slack_headers(body_text)}
    status, text = await _text(running, "POST", "/slack/events", data=body_text, headers=headers)
    assert not down.leaks(text)
    await asyncio.sleep(1.0)
    for post in stub.slack("chat.postMessage")[posts_before:]:
        assert not down.leaks(json.dumps(post.body, ensure_ascii=False))

    # Error bodies, with and without credentials.
    bearer = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    attempts: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/eval", {}),
        ("GET", "/eval?token=wrong", {}),
        ("GET", "/eval", {"headers": bearer}),  # the page cannot read the database: 5xx
        ("POST", "/api/messages", {"data": b"{not json", "headers": {"Content-Type": "x"}}),
        ("POST", "/api/messages", {"json": activity, "headers": {"Authorization": "Bearer x"}}),
        ("POST", "/slack/events", {"data": body_text, "headers": slack_headers("other")}),
        ("POST", "/slack/commands", {"data": b"\xff" * (2 * 1024 * 1024)}),
        ("GET", "/no/such/page", {}),
        ("DELETE", "/readyz", {}),
    ]
    statuses = []
    for method, path, kwargs in attempts:
        status, text = await _text(running, method, path, **kwargs)
        statuses.append(status)
        assert status >= 400, (method, path, status)
        assert not down.leaks(text), (method, path, down.leaks(text))
    assert any(s >= 500 for s in statuses) and any(s == 401 for s in statuses)

    # And nothing the app logged along the way (tracebacks included) holds a secret.
    assert any("Traceback" in line for line in records.lines)
    leaks = [(line[:120], down.leaks(line)) for line in records.lines if down.leaks(line)]
    assert not leaks, leaks
