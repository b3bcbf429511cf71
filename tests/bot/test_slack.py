"""Slack through its protocol: v0-signed requests, Web API calls captured on loopback."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot.app import FEEDBACK
from tests.bot.conftest import SUPERVISOR_SLACK, Running
from tests.bot.support import slack_action_body, slack_event, slack_headers


async def _post(
    served: Running,
    path: str,
    body: str,
    ctype: str = "application/json",
    headers: dict[str, str] | None = None,
    **sig: Any,
) -> tuple[int, str]:
    h = {"Content-Type": ctype, **slack_headers(body, **sig), **(headers or {})}
    async with served.http.post(f"{served.base}{path}", data=body.encode(), headers=h) as resp:
        return resp.status, await resp.text()


def _mention(text: str, ts: str | None = None, channel: str = "C0PLANT") -> dict[str, Any]:
    return {
        "type": "app_mention",
        "user": "UTECH1",
        "text": f"<@UPMARKBOT> {text}",
        "ts": ts or f"{time.time():.6f}",
        "channel": channel,
        "event_ts": f"{time.time():.6f}",
    }


async def _answer(served: Running, text: str) -> tuple[dict[str, Any], Any]:
    stub = served.stub
    event = _mention(text)
    before = len(stub.slack("chat.postMessage"))
    status, _ = await _post(served, "/slack/events", slack_event(event))
    assert status == 200
    posts = await stub.wait_for(lambda: stub.slack("chat.postMessage")[before:])
    return event, posts[0]


def _buttons(blocks: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [
        e
        for b in blocks
        if b.get("type") == "actions"
        for e in b["elements"]
        if e["action_id"].startswith(prefix)
    ]


async def test_url_verification(served: Running) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "t"})
    status, text = await _post(served, "/slack/events", body)
    assert status == 200 and "abc123" in text


async def test_bad_or_stale_signatures_are_401(served: Running) -> None:
    body = slack_event(_mention("2공장 펌프 누유 긴급"))
    assert (await _post(served, "/slack/events", body, secret="wrong-secret"))[0] == 401
    assert (await _post(served, "/slack/events", body, age=6 * 60))[0] == 401
    async with served.http.post(
        f"{served.base}/slack/events", data=body, headers={"Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 401
    async with served.http.post(
        f"{served.base}/slack/events", data=b"\xff" * (2 * 1024 * 1024)
    ) as resp:
        assert resp.status == 413


async def test_mention_answered_in_thread_with_blocks(served: Running) -> None:
    event, post = await _answer(served, "2공장 냉각수 펌프 누유, 긴급")
    assert post.headers["Authorization"] == "Bearer xoxb-test-token"
    body = post.body
    assert body["channel"] == "C0PLANT" and body["thread_ts"] == event["ts"]
    blocks = json.loads(body["blocks"]) if isinstance(body["blocks"], str) else body["blocks"]
    ups = _buttons(blocks, "pmark_vote_up")
    downs = _buttons(blocks, "pmark_vote_down")
    assert ups and len(ups) == len(downs)
    assert any("[T0" in json.dumps(b, ensure_ascii=False) for b in blocks)
    assert _buttons(blocks, "pmark_file")


async def test_redelivered_event_processed_once(served: Running) -> None:
    stub = served.stub
    event = _mention("1공장 압축기 진동 높음", channel="C0RETRY")
    body = slack_event(event, event_id="EvRETRY" + uuid.uuid4().hex[:6])
    for retry in ("", "1", "2"):
        headers = (
            {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
        )
        assert (await _post(served, "/slack/events", body, headers=headers))[0] == 200
    await stub.wait_for(
        lambda: [r for r in stub.slack("chat.postMessage") if r.body["channel"] == "C0RETRY"]
    )
    await asyncio.sleep(1.0)
    assert len([r for r in stub.slack("chat.postMessage") if r.body["channel"] == "C0RETRY"]) == 1


async def test_vote_twice_stores_once_and_updates_message(served: Running) -> None:
    repo = served.app[FEEDBACK].repo
    event, post = await _answer(served, "2공장 압축기 과열 긴급")
    blocks = post.body["blocks"]
    button = _buttons(blocks, "pmark_vote_down")[0]
    payload = {
        "type": "block_actions",
        "user": {"id": SUPERVISOR_SLACK},
        "team": {"id": "T1"},
        "api_app_id": "A1",
        "container": {"type": "message", "channel_id": "C0PLANT", "message_ts": "1700.000200"},
        "channel": {"id": "C0PLANT"},
        "message": {"ts": "1700.000200", "thread_ts": event["ts"]},
        "trigger_id": "trig",
        "response_url": f"{served.stub.base}/hooks/x",
        "actions": [
            {
                "action_id": button["action_id"],
                "block_id": "pmark_rec_1",
                "value": button["value"],
                "type": "button",
                "action_ts": "1",
            }
        ],
    }
    before = repo.feedback_count()
    updates = len(served.stub.slack("chat.update"))
    for _ in range(2):
        status, _ = await _post(
            served,
            "/slack/actions",
            slack_action_body(payload),
            "application/x-www-form-urlencoded",
        )
        assert status == 200
    await served.stub.wait_for(lambda: served.stub.slack("chat.update")[updates + 1 :])
    assert repo.feedback_count() == before + 1
    data = json.loads(button["value"])
    row = [r for r in repo.feedback() if r["answer_id"] == data["answer_id"]][0]
    assert row["vote"] == -1 and row["is_supervisor"] is True and row["channel"] == "slack"
    update = served.stub.slack("chat.update")[-1].body
    assert update["ts"] == "1700.000200"
    assert "👎" in json.dumps(update["blocks"], ensure_ascii=False)


async def test_slash_command(served: Running) -> None:
    stub = served.stub
    before = len(stub.slack("chat.postMessage"))
    form = urlencode(
        {
            "command": "/pmark",
            "text": "1공장 모터 과열 긴급",
            "user_id": "UTECH2",
            "channel_id": "C0CMD",
            "team_id": "T1",
            "response_url": f"{stub.base}/hooks/y",
            "trigger_id": "t",
        }
    )
    status, text = await _post(served, "/slack/commands", form, "application/x-www-form-urlencoded")
    assert status == 200 and "⏳" in text
    posts = await stub.wait_for(
        lambda: [r for r in stub.slack("chat.postMessage")[before:] if r.body["channel"] == "C0CMD"]
    )
    assert _buttons(posts[0].body["blocks"], "pmark_vote_up")


async def test_unknown_event_acknowledged(served: Running) -> None:
    body = slack_event({"type": "reaction_added", "user": "U1", "reaction": "+1"})
    assert (await _post(served, "/slack/events", body))[0] == 200
    async with served.http.get(f"{served.base}/healthz") as resp:
        assert resp.status == 200


_ = aiohttp
