"""Emulator mode, rate limiting, a dead connector and a dead LLM: explained answers, no crash."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agent.context import PMark
from bot.app import build_app
from tests.bot.conftest import Running, make_settings, start
from tests.bot.support import Stub, teams_message


def _metric(text: str, name: str, label: str) -> float:
    match = re.search(rf"^{name}\{{{label}\}} ([0-9.e+]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
async def emulator(
    plant: PMark, stub: Stub, caplog_module: list[logging.LogRecord]
) -> AsyncIterator[Running]:
    """No app id: emulator mode (unauthenticated), and a tight rate limit."""
    settings = make_settings(
        plant.settings.data_dir,
        stub,
        microsoft_app_id=None,
        microsoft_app_password=None,
        slack_bot_token=None,
        rate_limit_per_minute=3,
    )
    app = build_app(settings, ctx=plant)
    runner, running = await start(app, stub)
    yield running
    await running.http.close()
    await runner.cleanup()


@pytest.fixture(scope="module")
def caplog_module() -> Any:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(level=logging.WARNING)
    logging.getLogger("bot").addHandler(handler)
    yield records
    logging.getLogger("bot").removeHandler(handler)


async def test_emulator_mode_warns_and_answers_without_auth(
    emulator: Running, caplog_module: list[logging.LogRecord]
) -> None:
    assert any("EMULATOR MODE" in r.getMessage() for r in caplog_module)
    stub = emulator.stub
    activity = teams_message(
        emulator.service_url, "2공장 펌프 누유 긴급", chain="emu-" + uuid.uuid4().hex[:6]
    )
    before = len(stub.connector("message"))
    assert (await emulator.post_activity(activity, token=None)).status == 200
    replies = await stub.wait_for(lambda: stub.connector("message")[before:])
    assert "Authorization" not in replies[0].headers
    assert replies[0].body["attachments"][0]["contentType"].endswith("card.adaptive")


async def test_rate_limit_replies_politely(emulator: Running) -> None:
    stub = emulator.stub
    conv = "19:ratelimit@thread.tacv2"
    before = len(stub.connector("message"))
    for i in range(4):
        activity = teams_message(
            emulator.service_url,
            f"1공장 펌프 진동 보통 {i}",
            user="29:fast",
            aad="aad-fast",
            conversation=conv,
            chain=f"rl{i}",
        )
        assert (await emulator.post_activity(activity, token=None)).status == 200
    replies = await stub.wait_for(
        lambda: (
            [
                r
                for r in stub.connector("message")[before:]
                if "ratelimit" in r.body["conversation"]["id"]
            ]
            if len(
                [
                    r
                    for r in stub.connector("message")[before:]
                    if "ratelimit" in r.body["conversation"]["id"]
                ]
            )
            >= 4
            else []
        )
    )
    polite = [r for r in replies if "1분에 3건" in (r.body.get("text") or "")]
    assert len(polite) == 1 and polite[0].body["conversation"]["id"].endswith("rl3")


async def test_dead_connector_is_logged_counted_and_survived(emulator: Running) -> None:
    stub = emulator.stub
    async with emulator.http.get(f"{emulator.base}/metrics") as resp:
        before = _metric(await resp.text(), "pmark_handler_errors_total", 'channel="teams"')
    stub.fail_connector = True
    try:
        activity = teams_message(emulator.service_url, "2공장 압축기 과열 긴급", chain="dead-1")
        assert (await emulator.post_activity(activity, token=None)).status == 200
        for _ in range(200):
            async with emulator.http.get(f"{emulator.base}/metrics") as resp:
                after = _metric(await resp.text(), "pmark_handler_errors_total", 'channel="teams"')
            if after > before:
                break
            await asyncio.sleep(0.05)
        assert after > before
    finally:
        stub.fail_connector = False
    async with emulator.http.get(f"{emulator.base}/healthz") as resp:
        assert resp.status == 200


async def test_dead_llm_gives_degraded_answer_with_note(plant: PMark, stub: Stub) -> None:
    settings = make_settings(
        plant.settings.data_dir,
        stub,
        microsoft_app_id=None,
        microsoft_app_password=None,
        slack_bot_token=None,
        llm_url=f"http://127.0.0.1:{_dead_port()}/v1",
        llm_timeout=1.0,
    )
    ctx = PMark(settings)
    # The same plant: share the loaded embedder, index and parser instead of loading them again.
    for name in ("embedder", "index", "parser"):
        ctx.__dict__[name] = getattr(plant, name)
    app = build_app(settings, ctx=ctx)
    runner, running = await start(app, stub)
    try:
        before = len(stub.connector("message"))
        activity = teams_message(
            running.service_url, "2공장 냉각수 펌프 누유 긴급", chain="llm-dead"
        )
        assert (await running.post_activity(activity, token=None)).status == 200
        replies = await stub.wait_for(lambda: stub.connector("message")[before:], timeout=60)
        card = replies[0].body["attachments"][0]["content"]
        texts = [b.get("text", "") for b in card["body"] if b.get("type") == "TextBlock"]
        assert any("⚠️" in t and "언어 모델" in t for t in texts), texts
        assert any(b.get("type") == "Container" for b in card["body"])  # still recommends
        async with running.http.get(f"{running.base}/readyz") as resp:
            body = await resp.json()
            assert resp.status == 503 and body["checks"]["llm"]["ok"] is False
    finally:
        await running.http.close()
        await runner.cleanup()
