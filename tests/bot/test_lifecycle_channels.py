"""The notification lifecycle on both channels, through their real protocols: file from the card,
the duplicate warning at intake with "same problem: add to it" and "different problem: file new",
closing from the thread, and the closed notification recommended for the next similar report."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from adapters.sql.lifecycle import NewNotification
from agent.context import PMark
from bot.app import FEEDBACK, build_app
from tests.bot.conftest import Running, endpoints_for, make_settings, start
from tests.bot.support import (
    Stub,
    slack_action_body,
    slack_event,
    slack_headers,
    teams_invoke,
    teams_message,
    write_plant,
)
from tests.bot.support import walk as _walk


@pytest.fixture(scope="module")
def lc_plant(plant: PMark, stub: Stub, tmp_path_factory: pytest.TempPathFactory) -> PMark:
    """A plant of its own (its open notifications must not warn other modules' reports)."""
    folder: Path = tmp_path_factory.mktemp("lifecycle-plant")
    catalog, history = write_plant(folder / "csv")
    ctx = PMark(make_settings(folder / "data", stub, duplicate_window_days=7))
    ctx.__dict__["embedder"] = plant.embedder  # the model is loaded once per session
    ctx.import_catalog(catalog, replace=True)
    ctx.import_notifications(history)
    return ctx


@pytest.fixture(scope="module")
async def served(lc_plant: PMark, stub: Stub) -> AsyncIterator[Running]:
    app = build_app(lc_plant.settings, ctx=lc_plant, endpoints=endpoints_for(stub))
    runner, running = await start(app, stub)
    yield running
    await running.http.close()
    await runner.cleanup()


def _texts(card: dict[str, Any]) -> list[str]:
    return [str(n["text"]) for n in _walk(card) if n.get("type") == "TextBlock"]


def _executes(card: dict[str, Any], verb: str) -> list[dict[str, Any]]:
    return [
        n
        for n in card.get("actions") or []
        if n.get("type") == "Action.Execute" and n["verb"] == verb
    ]


# Teams ------------------------------------------------------------------------------------


async def _teams_say(
    served: Running, text: str, chain: str, aad: str = "aad-user-a"
) -> dict[str, Any]:
    stub = served.stub
    before = len(stub.connector("message"))
    activity = teams_message(served.service_url, text, chain=chain, aad=aad, user=f"29:{aad}")
    assert (await served.post_activity(activity)).status == 200
    replies = await stub.wait_for(
        lambda: [
            r
            for r in stub.connector("message")[before:]
            if r.body.get("conversation", {}).get("id", "").endswith(chain)
        ]
    )
    return dict(replies[0].body["attachments"][0]["content"])


async def _teams_press(
    served: Running, action: dict[str, Any], chain: str, aad: str = "aad-user-a"
) -> dict[str, Any]:
    value = {"action": {"type": "Action.Execute", "verb": action["verb"], "data": action["data"]}}
    invoke = teams_invoke(
        served.service_url,
        "adaptiveCard/action",
        value,
        aad=aad,
        conversation=f"19:general@thread.tacv2;messageid={chain}",
    )
    resp = await served.post_activity(invoke)
    assert resp.status == 200
    body = await resp.json()
    assert body["type"] == "application/vnd.microsoft.card.adaptive", body
    return dict(body["value"])


async def test_teams_file_duplicate_add_new_close_and_recommend(served: Running) -> None:
    repo = served.app[FEEDBACK].repo
    chain_a = "lc-a-" + uuid.uuid4().hex[:6]
    card = await _teams_say(served, "2공장 압축기 누유 긴급", chain_a)
    assert not any("⚠️ 같은 설비" in t for t in _texts(card))
    filed_card = await _teams_press(served, _executes(card, "pmark.file")[0], chain_a)
    number = next(t for t in _texts(filed_card) if "접수되었습니다" in t).split(": ")[-1]
    assert any("완료:" in t for t in _texts(filed_card))  # how to close it
    record = repo.lifecycle_record(number)
    assert record.status == "open" and record.source == "teams"
    assert record.filed_by == "aad-user-a" and record.equipment == "CMP"

    # A second technician reports the same leak: the card warns first, with number, age, who.
    count = repo.notification_count()
    chain_b = "lc-b-" + uuid.uuid4().hex[:6]
    card = await _teams_say(served, "2공장 압축기 누유 긴급 확인 바람", chain_b, aad="aad-user-b")
    first = card["body"][0]
    assert first["type"] == "Container"
    warning = " ".join(_texts(first))
    assert "같은 설비" in warning and number in warning and "오늘" in warning
    assert "aad-user-a" in warning
    assert not _executes(card, "pmark.file") or _executes(card, "pmark.file")[0]["data"]["force"]
    add = _executes(card, "pmark.add")[0]
    assert add["data"]["number"] == number
    added_card = await _teams_press(served, add, chain_b, aad="aad-user-b")
    assert any(f"{number}에 추가" in t for t in _texts(added_card))
    assert not _executes(added_card, "pmark.file") and not _executes(added_card, "pmark.add")
    assert repo.notification_count() == count  # nothing new filed
    record = repo.lifecycle_record(number)
    assert record.reports == 2 and "aad-user-b" in record.details

    # A third: a different problem on the same machine is filed new.
    chain_c = "lc-c-" + uuid.uuid4().hex[:6]
    card = await _teams_say(served, "2공장 압축기 누유 긴급 다른 배관", chain_c, aad="aad-user-c")
    new = _executes(card, "pmark.file")[0]
    assert new["data"]["force"] is True
    new_card = await _teams_press(served, new, chain_c, aad="aad-user-c")
    other = next(t for t in _texts(new_card) if "접수되었습니다" in t).split(": ")[-1]
    assert other != number and repo.notification_count() == count + 1

    # Closed from the first thread, with the resolution.
    closed_card = await _teams_say(served, "완료: 메카니컬 씰 교체", chain_a)
    assert any(number in t and "메카니컬 씰 교체" in t for t in _texts(closed_card))
    record = repo.lifecycle_record(number)
    assert record.status == "closed" and record.resolution == "메카니컬 씰 교체"
    assert record.closed_by == "aad-user-a"

    # The next similar report is recommended today's fix; only the still-open one warns.
    card = await _teams_say(served, "2공장 압축기 누유 심함 긴급", "lc-d-" + uuid.uuid4().hex[:6])
    texts = "\n".join(_texts(card))
    assert f"[{number}]" in texts and "메카니컬 씰 교체" in texts
    warning = " ".join(_texts(card["body"][0]))
    assert other in warning and number not in warning


# Slack ------------------------------------------------------------------------------------


async def _slack_post(served: Running, path: str, body: str, ctype: str) -> None:
    headers = {"Content-Type": ctype, **slack_headers(body)}
    async with served.http.post(
        f"{served.base}{path}", data=body.encode(), headers=headers
    ) as resp:
        assert resp.status == 200


async def _slack_say(
    served: Running, text: str, user: str = "UTECH1", thread_ts: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    stub = served.stub
    ts = f"{time.time():.6f}"
    event = {
        "type": "app_mention",
        "user": user,
        "text": f"<@UPMARKBOT> {text}",
        "ts": ts,
        "channel": "C0LIFE",
        "event_ts": ts,
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    before = len(stub.slack("chat.postMessage"))
    await _slack_post(served, "/slack/events", slack_event(event), "application/json")
    posts = await stub.wait_for(
        lambda: [
            p for p in stub.slack("chat.postMessage")[before:] if p.body["channel"] == "C0LIFE"
        ]
    )
    blocks = posts[0].body.get("blocks") or []
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    return thread_ts or ts, blocks


def _slack_buttons(blocks: list[dict[str, Any]], action_id: str) -> list[dict[str, Any]]:
    return [
        e
        for b in blocks
        if b.get("type") == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    ]


async def _slack_click(
    served: Running, button: dict[str, Any], user: str, thread_ts: str
) -> list[dict[str, Any]]:
    stub = served.stub
    payload = {
        "type": "block_actions",
        "user": {"id": user},
        "team": {"id": "T1"},
        "api_app_id": "A1",
        "container": {"type": "message", "channel_id": "C0LIFE", "message_ts": "1700.1"},
        "channel": {"id": "C0LIFE"},
        "message": {"ts": "1700.1", "thread_ts": thread_ts},
        "trigger_id": "trig",
        "response_url": f"{stub.base}/hooks/x",
        "actions": [
            {
                "action_id": button["action_id"],
                "block_id": "b",
                "value": button["value"],
                "type": "button",
                "action_ts": "1",
            }
        ],
    }
    before = len(stub.slack("chat.update"))
    await _slack_post(
        served, "/slack/actions", slack_action_body(payload), "application/x-www-form-urlencoded"
    )
    updates = await stub.wait_for(lambda: stub.slack("chat.update")[before:])
    blocks = updates[0].body["blocks"]
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


async def test_slack_english_duplicate_add_close_and_recommend(served: Running) -> None:
    repo = served.app[FEEDBACK].repo
    thread, blocks = await _slack_say(served, "plant 1 compressor leaking, urgent")
    filed = await _slack_click(served, _slack_buttons(blocks, "pmark_file")[0], "UTECH1", thread)
    text = json.dumps(filed, ensure_ascii=False)
    number = text.split("Filed as: ")[1].split("*")[0]
    record = repo.lifecycle_record(number)
    assert record.status == "open" and record.source == "slack" and record.filed_by == "UTECH1"

    count = repo.notification_count()
    other_thread, blocks = await _slack_say(served, "compressor leak in plant 1, urgent", "UTECH2")
    head = json.dumps(blocks[0], ensure_ascii=False)
    assert "already has an open notification" in head and number in head
    assert "today" in head and "by UTECH1" in head
    [force] = _slack_buttons(blocks, "pmark_file")
    assert json.loads(force["value"])["force"] is True
    added = await _slack_click(
        served, _slack_buttons(blocks, "pmark_dup_add")[0], "UTECH2", other_thread
    )
    assert f"Added to {number}" in json.dumps(added, ensure_ascii=False)
    assert repo.notification_count() == count
    assert repo.lifecycle_record(number).reports == 2

    _, reply = await _slack_say(
        served, "done: replaced the mechanical seal", "UTECH1", thread_ts=thread
    )
    stub = served.stub
    last = [p for p in stub.slack("chat.postMessage") if p.body["channel"] == "C0LIFE"][-1]
    assert f"Closed {number}" in json.dumps(last.body, ensure_ascii=False)
    record = repo.lifecycle_record(number)
    assert record.status == "closed" and record.resolution == "replaced the mechanical seal"

    _, blocks = await _slack_say(served, "plant 1 compressor leak again, urgent", "UTECH3")
    text = json.dumps(blocks, ensure_ascii=False)
    assert f"[{number}]" in text and "replaced the mechanical seal" in text
    assert "already has an open notification" not in text
    _ = reply


# A CMMS that is down -------------------------------------------------------------------------


async def test_cmms_down_keeps_events_and_readyz_green(lc_plant: PMark, stub: Stub) -> None:
    settings = lc_plant.settings.model_copy(
        update={
            "cmms_target": "webhook",
            "cmms_url": "http://127.0.0.1:9/refused",  # nothing listens: every attempt fails
            "cmms_secret": SecretStr("k"),
            "cmms_timeout": 0.2,
            "cmms_poll_seconds": 0.1,
        }
    )
    app = build_app(settings, ctx=lc_plant, endpoints=endpoints_for(stub))
    runner, running = await start(app, stub)
    repo = lc_plant.repo
    try:
        new = NewNotification("F1", "MTR", "VIB", "3", "t", "", "teams", "aad-x")
        record = repo.file_new(new, outbox=True)
        deadline = time.monotonic() + 30
        while True:
            [event] = repo.outbox_events(record.itemno)
            if event.attempts >= 2:
                break
            assert time.monotonic() < deadline, "the worker never tried"
            await asyncio.sleep(0.1)
        assert event.delivered_at is None and event.last_error
        async with running.http.get(f"{running.base}/readyz") as resp:
            assert resp.status == 200
    finally:
        await running.http.close()
        await runner.cleanup()
    repo.close_notification(record.itemno, "done", "test", outbox=False)
