"""Slack gets the same conversation behaviours as Teams (issue 19): signed requests in, Block Kit
asserted on the Web API calls."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from bot.app import AGENT, FEEDBACK
from tests.bot.conftest import Running
from tests.bot.support import slack_action_body, slack_event
from tests.bot.test_slack import _buttons, _post


def _blocks(post: Any) -> list[dict[str, Any]]:
    blocks = post.body["blocks"]
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


async def _say(
    served: Running, text: str, channel: str, ts: str | None = None, user: str = "UTECH1"
) -> Any:
    """An app_mention (in a thread when ts is given); the post that answers it."""
    stub = served.stub
    event = {
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": f"{time.time():.6f}",
        "channel": channel,
        "event_ts": f"{time.time():.6f}",
    }
    if ts:
        event["thread_ts"] = ts
    before = len(stub.slack("chat.postMessage"))
    status, _ = await _post(served, "/slack/events", slack_event(event))
    assert status == 200
    posts = await stub.wait_for(
        lambda: [r for r in stub.slack("chat.postMessage")[before:] if r.body["channel"] == channel]
    )
    return event, posts[0]


async def _click(served: Running, button: dict[str, Any], channel: str, ts: str, msg: str) -> None:
    payload = {
        "type": "block_actions",
        "user": {"id": "UTECH1"},
        "team": {"id": "T1"},
        "api_app_id": "A1",
        "container": {"type": "message", "channel_id": channel, "message_ts": msg},
        "channel": {"id": channel},
        "message": {"ts": msg, "thread_ts": ts},
        "trigger_id": "trig",
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
    status, _ = await _post(
        served, "/slack/actions", slack_action_body(payload), "application/x-www-form-urlencoded"
    )
    assert status == 200


async def test_choices_stale_presses_and_complete_filing(served: Running) -> None:
    stub = served.stub
    repo = served.app[FEEDBACK].repo
    channel = "C" + uuid.uuid4().hex[:8].upper()
    event, question = await _say(served, "<@UPMARKBOT> 냉각수 펌프 누유 발견", channel)
    ts = event["ts"]
    q_ts = question.body.get("ts") or "1700.000001"
    locations = _buttons(_blocks(question), "pmark_choice_location")
    assert locations and json.loads(locations[0]["value"])["answer_id"]
    # Answer the plant only: the answer misses the priority, offers it, has no file button.
    before = len(stub.slack("chat.postMessage"))
    updates = len(stub.slack("chat.update"))
    await _click(served, locations[1], channel, ts, q_ts)
    answer = (await stub.wait_for(lambda: stub.slack("chat.postMessage")[before:]))[0]
    blocks = _blocks(answer)
    assert not _buttons(blocks, "pmark_file") and _buttons(blocks, "pmark_choice_priority")
    # The question's message lost its buttons (chat.update).
    closed = (await stub.wait_for(lambda: stub.slack("chat.update")[updates:]))[0]
    assert not _buttons(_blocks(closed), "pmark_choice_")
    # The old question's other plant: only the one who pressed is told, nothing changes.
    ephemeral = len(stub.slack("chat.postEphemeral"))
    await _click(served, locations[0], channel, ts, q_ts)
    note = (await stub.wait_for(lambda: stub.slack("chat.postEphemeral")[ephemeral:]))[0]
    assert "지난" in note.body["text"]
    thread = json.loads(locations[0]["value"])["thread"]
    assert (await served.app[AGENT].state(thread))["notification"]["location"]["code"] == "F2"
    # A file press on the incomplete draft asks for the priority; nothing is filed.
    count = repo.notification_count()
    data = json.loads(_buttons(blocks, "pmark_choice_priority")[0]["value"])
    crafted = {
        "action_id": "pmark_file",
        "value": json.dumps(
            {"verb": "pmark.file", "answer_id": data["answer_id"], "thread": data["thread"]}
        ),
    }
    before = len(stub.slack("chat.postMessage"))
    await _click(served, crafted, channel, ts, "1700.000002")
    asked = (await stub.wait_for(lambda: stub.slack("chat.postMessage")[before:]))[0]
    assert "우선순위" in asked.body["text"] and _buttons(_blocks(asked), "pmark_choice_priority")
    assert repo.notification_count() == count
    # The priority, then the file button of the complete draft: filed once, from Slack.
    before = len(stub.slack("chat.postMessage"))
    await _click(served, _buttons(blocks, "pmark_choice_priority")[0], channel, ts, "1700.000002")
    complete = (await stub.wait_for(lambda: stub.slack("chat.postMessage")[before:]))[0]
    file_button = _buttons(_blocks(complete), "pmark_file")[0]
    updates = len(stub.slack("chat.update"))
    await _click(served, file_button, channel, ts, "1700.000003")
    # (Another chat.update closes the superseded card meanwhile: look for the filed one.)
    filed = (
        await stub.wait_for(
            lambda: [
                u
                for u in stub.slack("chat.update")[updates:]
                if "✅" in json.dumps(_blocks(u), ensure_ascii=False)
            ]
        )
    )[0]
    assert repo.notification_count() == count + 1
    assert not _buttons(_blocks(filed), "pmark_vote_")


async def test_other_mentions_are_left_out_and_cases_say_why(served: Running) -> None:
    channel = "C" + uuid.uuid4().hex[:8].upper()
    text = "<@UMEGAN> 교체 부탁해요 <@UPMARKBOT> 2공장 압축기 진동 긴급"
    _, post = await _say(served, text, channel)
    blocks = _blocks(post)
    dumped = json.dumps(blocks, ensure_ascii=False)
    assert "UMEGAN" not in dumped and "같은 설비 · 같은 고장 유형" in dumped
    assert "Score" not in dumped and "점수" not in dumped and "text 0." not in dumped
    thread = json.loads(_buttons(blocks, "pmark_vote_up")[0]["value"])["thread"]
    state = await served.app[AGENT].state(thread)
    assert state["report"] == "2공장 압축기 진동 긴급"
    assert state["notification"]["activity"]["code"] is None


async def test_a_second_person_in_the_thread_adds_to_the_same_draft(served: Running) -> None:
    """One technician reports, another answers the question and corrects the equipment in the
    thread: one draft built by both, every answer in that thread."""
    channel = "C" + uuid.uuid4().hex[:8].upper()
    event, question = await _say(served, "<@UPMARKBOT> 2공장 압축기 과열", channel)
    ts = event["ts"]
    assert _buttons(_blocks(question), "pmark_choice_priority")
    assert question.body.get("thread_ts") == ts
    _, answer = await _say(served, "<@UPMARKBOT> 긴급", channel, ts, user="UTECH2")
    assert answer.body.get("thread_ts") == ts
    thread = json.loads(_buttons(_blocks(answer), "pmark_vote_up")[0]["value"])["thread"]
    draft = (await served.app[AGENT].state(thread))["notification"]
    assert draft["priority"]["code"] is not None
    assert (draft["location"]["code"], draft["failure_mode"]["code"]) != (None, None)
    equipment = draft["equipment"]["code"]
    _, corrected = await _say(served, "<@UPMARKBOT> 아니요, 펌프", channel, ts, user="UTECH2")
    assert corrected.body.get("thread_ts") == ts
    after = (await served.app[AGENT].state(thread))["notification"]
    assert after["equipment"]["code"] not in (None, equipment)
    for field in ("location", "failure_mode", "priority"):
        assert after[field]["code"] == draft[field]["code"], field
    assert "→" in json.dumps(_blocks(corrected), ensure_ascii=False)
