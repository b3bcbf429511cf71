"""Redelivery while a slow LLM is still working: one graph run, one reply, fast HTTP answers.

Teams redelivers an activity it got no answer to in time, with the same id; Slack retries an
event with the same event_id and `X-Slack-Retry-Num`. Here the LLM (an OpenAI-compatible server
on loopback) answers every chat request only after 20 s, so a turn takes about 40 s (parse, then
the written answer); 16 s after the first delivery the very same one comes again. Each delivery
must be acknowledged within 2 s, the second must not start a second turn, and exactly one reply
reaches the user. The Teams and Slack cases run at the same time to keep the test to one slow
turn's length.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agent.context import PMark
from bot.app import build_app
from tests.bot.conftest import Running, endpoints_for, make_settings, start
from tests.bot.support import Recorded, Stub, slack_event, slack_headers, teams_message
from tests.reliability.fake_llm import MODEL, FakeLLM

LLM_DELAY = 20.0
REDELIVER_AFTER = 16.0
ACK_WITHIN = 2.0
# The client's own deadline must outlast the slow server (the default is 8 s).
LLM_TIMEOUT = 60.0

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
async def slow_llm() -> AsyncIterator[FakeLLM]:
    server = FakeLLM(delay=LLM_DELAY)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
async def slow(plant: PMark, stub: Stub, slow_llm: FakeLLM) -> AsyncIterator[Running]:
    settings = make_settings(
        plant.settings.data_dir,
        stub,
        llm_url=slow_llm.url,
        llm_model=MODEL,
        llm_timeout=LLM_TIMEOUT,
    )
    ctx = PMark(settings)
    for name in ("embedder", "index", "parser"):
        ctx.__dict__[name] = getattr(plant, name)
    app = build_app(settings, ctx=ctx, endpoints=endpoints_for(stub))
    runner, running = await start(app, stub)
    yield running
    await running.http.close()
    await runner.cleanup()


async def _turns(r: Running) -> float:
    """All turns the process has run (pmark_turns_total over every kind)."""
    async with r.http.get(f"{r.base}/metrics") as resp:
        text = await resp.text()
    return sum(float(v) for v in re.findall(r"^pmark_turns_total\{[^}]*\} (\S+)$", text, re.M))


async def _timed(coro: Any) -> tuple[int, float]:
    started = time.monotonic()
    status = await coro
    return status, time.monotonic() - started


async def _teams_case(r: Running, llm: FakeLLM) -> dict[str, Any]:
    marker = "ref-" + uuid.uuid4().hex[:8]
    activity = teams_message(
        r.service_url,
        f"2공장 냉각수 펌프 누유 긴급 {marker}",
        conversation="19:redeliver@thread.tacv2",
        chain="redeliver-" + marker,
    )

    async def deliver() -> int:
        return (await r.post_activity(activity)).status

    first = await _timed(deliver())
    await asyncio.sleep(REDELIVER_AFTER - first[1])
    # The first turn is still waiting for the LLM when the same activity comes again.
    assert llm.calls_with(marker) and not all(c.answered for c in llm.calls_with(marker))
    second = await _timed(deliver())

    def replies() -> list[Recorded]:
        return [
            rec
            for rec in r.stub.connector("message")
            if isinstance(rec.body, dict) and rec.body.get("replyToId") == activity["id"]
        ]

    await r.stub.wait_for(replies, timeout=3 * LLM_DELAY + 30)
    return {"marker": marker, "acks": [first, second], "replies": replies}


async def _slack_case(r: Running, llm: FakeLLM) -> dict[str, Any]:
    marker = "ref-" + uuid.uuid4().hex[:8]
    channel = "C0REDELIVER"
    body = slack_event(
        {
            "type": "app_mention",
            "user": "UREDELIVER",
            "text": f"<@UPMARKBOT> 1공장 압축기 진동 높음 {marker}",
            "ts": f"{time.time():.6f}",
            "channel": channel,
            "event_ts": f"{time.time():.6f}",
        },
        event_id="EvREDELIVER" + marker.upper(),
    )

    async def deliver(retry: dict[str, str]) -> int:
        headers = {"Content-Type": "application/json", **slack_headers(body), **retry}
        async with r.http.post(
            f"{r.base}/slack/events", data=body.encode(), headers=headers
        ) as resp:
            await resp.read()
            return resp.status

    first = await _timed(deliver({}))
    await asyncio.sleep(REDELIVER_AFTER - first[1])
    assert llm.calls_with(marker) and not all(c.answered for c in llm.calls_with(marker))
    second = await _timed(
        deliver({"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    )

    def posts() -> list[Recorded]:
        return [
            rec
            for rec in r.stub.slack("chat.postMessage")
            if isinstance(rec.body, dict) and rec.body.get("channel") == channel
        ]

    await r.stub.wait_for(posts, timeout=3 * LLM_DELAY + 30)
    return {"marker": marker, "acks": [first, second], "replies": posts}


async def test_redelivery_during_a_slow_llm_turn_runs_once_and_acks_fast(
    slow: Running, slow_llm: FakeLLM
) -> None:
    turns_before = await _turns(slow)
    teams, slack = await asyncio.gather(_teams_case(slow, slow_llm), _slack_case(slow, slow_llm))
    # Anything a second run would do (another LLM call, another reply) has had time to happen.
    deadline = time.monotonic() + 2 * LLM_DELAY + 10
    while not all(c.answered for c in slow_llm.calls) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    await asyncio.sleep(2.0)
    for name, case in (("teams", teams), ("slack", slack)):
        for status, seconds in case["acks"]:
            assert status == 200, (name, case["acks"])
            assert seconds < ACK_WITHIN, (name, case["acks"])
        replies = case["replies"]()
        assert len(replies) == 1, f"{name}: {len(replies)} replies to one message"
        # One run of the graph: one field-extraction call carried the user's text.
        parse_calls = [c for c in slow_llm.calls_with(case["marker"]) if c.wants_json]
        assert len(parse_calls) == 1, f"{name}: {len(parse_calls)} graph runs"
    assert await _turns(slow) - turns_before == 2
    # The answer was really written by the slow LLM, not the template after a timeout.
    card = teams["replies"]()[0].body["attachments"][0]["content"]
    assert "Check the seal first" in str(card), card
