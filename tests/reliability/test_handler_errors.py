"""An exception inside a Teams or Slack handler: logged with the turn id, counted in /metrics, and
the user gets an explained failure, never silence."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from agent.answer import error_text
from bot.app import AGENT, FEEDBACK
from tests.bot.conftest import Running
from tests.bot.support import (
    Recorded,
    slack_action_body,
    slack_event,
    slack_headers,
    teams_invoke,
    teams_message,
)


class TurnBroke(RuntimeError):
    """What the agent raises here."""


@pytest.fixture
def broken_turns(served: Running) -> Iterator[list[str]]:
    """The app's agent raises on every turn; the turn ids it was given, in order."""
    agent = served.app[AGENT]
    seen: list[str] = []

    async def turn(thread_id: str, text: str, user_id: str = "", turn_id: str | None = None) -> Any:
        seen.append(turn_id or "")
        raise TurnBroke("the agent broke")

    agent.turn = turn  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        del agent.turn  # back to the class's method


async def _handler_errors(r: Running, channel: str) -> float:
    async with r.http.get(f"{r.base}/metrics") as resp:
        text = await resp.text()
    match = re.search(
        rf'^pmark_handler_errors_total\{{channel="{channel}"\}} ([0-9.e+]+)$', text, re.M
    )
    return float(match.group(1)) if match else 0.0


def _failure_logged(caplog: pytest.LogCaptureFixture, turn_id: str) -> logging.LogRecord:
    records = [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR and getattr(r, "turn_id", None) == turn_id
    ]
    assert records, [(r.name, r.getMessage()) for r in caplog.records]
    record = records[0]
    assert turn_id in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is TurnBroke
    return record


async def test_teams_turn_that_raises_is_logged_counted_and_explained(
    served: Running, broken_turns: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    stub = served.stub
    before = await _handler_errors(served, "teams")
    activity = teams_message(
        served.service_url, "2공장 냉각수 펌프 누유 긴급", chain="broken-" + uuid.uuid4().hex[:8]
    )
    assert (await served.post_activity(activity)).status == 200

    def replies() -> list[Recorded]:
        return [
            r
            for r in stub.connector("message")
            if isinstance(r.body, dict) and r.body.get("replyToId") == activity["id"]
        ]

    found = await stub.wait_for(replies)
    assert len(broken_turns) == 1
    card = json.dumps(found[0].body, ensure_ascii=False)
    assert error_text("ko") in card, card
    assert await _handler_errors(served, "teams") == before + 1
    record = _failure_logged(caplog, broken_turns[0])
    assert record.name == "bot.teams"


async def test_slack_turn_that_raises_is_logged_counted_and_explained(
    served: Running, broken_turns: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    stub = served.stub
    channel = "C0BROKEN" + uuid.uuid4().hex[:6].upper()
    before = await _handler_errors(served, "slack")
    body = slack_event(
        {
            "type": "app_mention",
            "user": "UBROKEN",
            "text": "<@UPMARKBOT> plant 1 motor overheating, urgent",
            "ts": f"{time.time():.6f}",
            "channel": channel,
            "event_ts": f"{time.time():.6f}",
        }
    )
    headers = {"Content-Type": "application/json", **slack_headers(body)}
    async with served.http.post(
        f"{served.base}/slack/events", data=body.encode(), headers=headers
    ) as resp:
        assert resp.status == 200

    def posts() -> list[Recorded]:
        return [r for r in stub.slack("chat.postMessage") if r.body.get("channel") == channel]

    found = await stub.wait_for(posts)
    assert len(broken_turns) == 1
    assert found[0].body["text"] == error_text("en")
    assert error_text("en") in json.dumps(found[0].body["blocks"], ensure_ascii=False)
    assert await _handler_errors(served, "slack") == before + 1
    record = _failure_logged(caplog, broken_turns[0])
    assert record.name == "bot.slack"


# Handlers outside a turn: the thumbs --------------------------------------------------------


class VoteBroke(RuntimeError):
    """What the feedback service raises here."""


@pytest.fixture
def broken_votes(served: Running) -> Iterator[None]:
    """Storing a thumb raises (as a bug in the feedback code would)."""
    feedback = served.app[FEEDBACK]

    async def vote(*args: Any, **kwargs: Any) -> Any:
        raise VoteBroke("the feedback store broke")

    feedback.vote = vote  # type: ignore[method-assign]
    try:
        yield
    finally:
        del feedback.vote


async def test_teams_thumb_that_raises_is_logged_counted_and_explained(
    served: Running, broken_votes: None, caplog: pytest.LogCaptureFixture
) -> None:
    before = await _handler_errors(served, "teams")
    data = {"verb": "pmark.vote", "answer_id": "a-broken", "itemno": "T024000", "vote": 1}
    invoke = teams_invoke(
        served.service_url,
        "adaptiveCard/action",
        {"action": {"type": "Action.Execute", "verb": "pmark.vote", "data": data}},
    )
    headers = {
        "Content-Type": "application/json",
        "Authorization": "Bearer " + served.stub.channel_token(served.service_url),
    }
    async with served.http.post(
        f"{served.base}/api/messages", json=invoke, headers=headers
    ) as resp:
        assert resp.status == 200
        body = await resp.json()
    # The card shows the explained failure instead of the click silently doing nothing.
    assert body["value"] == error_text("ko"), body
    assert await _handler_errors(served, "teams") == before + 1
    records = [r for r in caplog.records if r.exc_info and r.exc_info[0] is VoteBroke]
    assert records and getattr(records[0], "activity_id", None) == invoke["id"]


async def test_slack_thumb_that_raises_is_logged_counted_and_explained(
    served: Running, broken_votes: None, caplog: pytest.LogCaptureFixture
) -> None:
    stub = served.stub
    channel = "C0BROKENVOTE" + uuid.uuid4().hex[:4].upper()
    before = await _handler_errors(served, "slack")
    value = {"verb": "pmark.vote", "answer_id": "a-broken", "itemno": "T024000", "vote": 1}
    payload = {
        "type": "block_actions",
        "user": {"id": "UBROKEN"},
        "team": {"id": "T1"},
        "api_app_id": "A1",
        "container": {"type": "message", "channel_id": channel, "message_ts": "1700.000900"},
        "channel": {"id": channel},
        "message": {"ts": "1700.000900", "thread_ts": "1700.000100"},
        "trigger_id": "trig",
        "actions": [
            {
                "action_id": "pmark_vote_up",
                "block_id": "pmark_rec_1",
                "value": json.dumps(value),
                "type": "button",
                "action_ts": "1",
            }
        ],
    }
    body = slack_action_body(payload)
    headers = {"Content-Type": "application/x-www-form-urlencoded", **slack_headers(body)}
    async with served.http.post(
        f"{served.base}/slack/actions", data=body.encode(), headers=headers
    ) as resp:
        assert resp.status == 200

    def told() -> list[Recorded]:
        return [
            r
            for method in ("chat.postMessage", "chat.postEphemeral")
            for r in stub.slack(method)
            if r.body.get("channel") == channel
        ]

    found = await stub.wait_for(told)
    assert found[0].body["text"] == error_text("ko")
    assert found[0].body.get("thread_ts") == "1700.000100"
    assert await _handler_errors(served, "slack") == before + 1
    records = [r for r in caplog.records if r.exc_info and r.exc_info[0] is VoteBroke]
    assert records and getattr(records[0], "turn_id", None), records
    assert records[0].turn_id in records[0].getMessage()
