"""Only configured supervisors' thumbs become relevance labels, whatever else a request claims.

Through the real app: a technician's thumbs (with card data and a display name claiming to be a
supervisor) are stored, but evaluation's judgments are built from the supervisors' thumbs alone;
a supervisor's whole-answer reaction (Teams' own buttons) is not a label either.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from bot.app import FEEDBACK
from evaluation.datasets import judgments_from_feedback
from tests.bot.conftest import SUPERVISOR_AAD, SUPERVISOR_SLACK, Running
from tests.bot.support import (
    slack_action_body,
    slack_event,
    slack_headers,
    teams_invoke,
    teams_message,
)
from tests.bot.support import walk as _walk

SPOOF = {"is_supervisor": True, "supervisor": True, "user_id": SUPERVISOR_AAD, "role": "admin"}


async def _teams_vote(
    served: Running, data: dict[str, Any], aad: str, conversation: str, name: str = ""
) -> None:
    value = {"action": {"type": "Action.Execute", "verb": "pmark.vote", "data": data}}
    invoke = teams_invoke(
        served.service_url, "adaptiveCard/action", value, aad=aad, conversation=conversation
    )
    if name:
        invoke["from"]["name"] = name
    resp = await served.post_activity(invoke)
    assert resp.status == 200


async def test_only_supervisors_thumbs_are_labels_on_teams(served: Running) -> None:
    repo = served.app[FEEDBACK].repo
    stub = served.stub
    chain = "sup-" + uuid.uuid4().hex[:8]
    activity = teams_message(served.service_url, "2공장 냉각수 펌프 누유 긴급", chain=chain)
    before = len(stub.connector("message"))
    assert (await served.post_activity(activity)).status == 200
    reply = (await stub.wait_for(lambda: stub.connector("message")[before:]))[0]
    card = reply.body["attachments"][0]["content"]
    votes = [
        n["data"]
        for n in _walk(card)
        if n.get("type") == "Action.Execute" and n.get("verb") == "pmark.vote"
    ]
    ups = [v for v in votes if v["vote"] == 1]
    downs = [v for v in votes if v["vote"] == -1]
    assert len(ups) >= 2 and len(downs) >= 2
    item_a, item_b = ups[0]["itemno"], ups[1]["itemno"]
    down_b = next(v for v in downs if v["itemno"] == item_b)
    conversation = reply.body["conversation"]["id"]
    answer_id = ups[0]["answer_id"]

    # A technician claims to be the supervisor in the card data and in the display name.
    tech = "aad-tech-" + uuid.uuid4().hex[:6]
    await _teams_vote(served, {**ups[0], **SPOOF}, tech, conversation, name=SUPERVISOR_AAD)
    await _teams_vote(served, {**ups[1], **SPOOF}, tech, conversation, name=SUPERVISOR_AAD)
    # The supervisor says item B is not relevant.
    await _teams_vote(served, down_b, SUPERVISOR_AAD, conversation)
    # The supervisor's reaction to the whole answer (Teams' built-in buttons).
    reaction = {"actionName": "feedback", "actionValue": {"reaction": "like", "feedback": "{}"}}
    whole = teams_invoke(
        served.service_url,
        "message/submitAction",
        reaction,
        aad=SUPERVISOR_AAD,
        reply_to=reply.reply_id,
    )
    assert (await served.post_activity(whole)).status == 200

    rows = [r for r in repo.feedback() if r["answer_id"] == answer_id]
    by_user = {(r["user_id"], r["itemno"]): r for r in rows}
    # Everything is stored...
    assert by_user[(tech, item_a)]["vote"] == 1 and by_user[(tech, item_b)]["vote"] == 1
    assert by_user[(SUPERVISOR_AAD, item_b)]["vote"] == -1
    assert by_user[(SUPERVISOR_AAD, "*")]["vote"] == 1
    # ...but only the supervisor's thumb on a recommendation is marked as a label...
    labels = {(r["user_id"], r["itemno"]) for r in rows if r["is_supervisor"]}
    assert labels == {(SUPERVISOR_AAD, item_b)}
    # ...and evaluation judges by it alone: B is not relevant (the technician's 👍 does not
    # cancel it out), A stays unjudged.
    judgments = judgments_from_feedback(rows)
    assert len(judgments) == 1
    assert judgments[0].positive == frozenset() and judgments[0].negative == {item_b}


async def test_only_supervisors_thumbs_are_labels_on_slack(served: Running) -> None:
    repo = served.app[FEEDBACK].repo
    stub = served.stub
    ts = f"{time.time():.6f}"
    event = {
        "type": "app_mention",
        "user": "UTECH7",
        "text": "<@UPMARKBOT> 2공장 압축기 과열 긴급",
        "ts": ts,
        "channel": "C0LABELS",
        "event_ts": ts,
    }
    before = len(stub.slack("chat.postMessage"))
    body = slack_event(event)
    headers = {"Content-Type": "application/json", **slack_headers(body)}
    async with served.http.post(f"{served.base}/slack/events", data=body, headers=headers) as r:
        assert r.status == 200
    post = (await stub.wait_for(lambda: stub.slack("chat.postMessage")[before:]))[0]
    blocks = post.body["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    ups = [
        e
        for b in blocks
        if b.get("type") == "actions"
        for e in b["elements"]
        if e["action_id"].startswith("pmark_vote_up")
    ]
    assert ups
    data = json.loads(ups[0]["value"])

    async def vote(user: dict[str, Any]) -> None:
        payload = {
            "type": "block_actions",
            "user": user,
            "team": {"id": "T1"},
            "api_app_id": "A1",
            "container": {"type": "message", "channel_id": "C0LABELS", "message_ts": "1.2"},
            "channel": {"id": "C0LABELS"},
            "message": {"ts": "1.2", "thread_ts": ts},
            "trigger_id": "trig",
            "response_url": f"{stub.base}/hooks/x",
            "actions": [
                {
                    "action_id": ups[0]["action_id"],
                    "block_id": "pmark_rec_1",
                    "value": json.dumps({**data, **SPOOF}),
                    "type": "button",
                    "action_ts": "1",
                }
            ],
        }
        form = slack_action_body(payload)
        h = {"Content-Type": "application/x-www-form-urlencoded", **slack_headers(form)}
        async with served.http.post(f"{served.base}/slack/actions", data=form, headers=h) as r:
            assert r.status == 200

    tech = "UTECH" + uuid.uuid4().hex[:6].upper()
    await vote({"id": tech, "name": SUPERVISOR_SLACK, "username": SUPERVISOR_SLACK})
    for _ in range(100):
        rows = [r for r in repo.feedback() if r["answer_id"] == data["answer_id"]]
        if rows:
            break
        await asyncio.sleep(0.05)
    assert [(r["user_id"], r["vote"], r["is_supervisor"]) for r in rows] == [(tech, 1, False)]
    assert judgments_from_feedback(rows) == []


async def test_a_signed_vote_on_an_answer_pmark_never_showed_is_no_label(served: Running) -> None:
    """Whoever holds the signing secret cannot store labels for made-up answers or cases."""
    repo = served.app[FEEDBACK].repo
    made_up = "ans-" + uuid.uuid4().hex
    data = {"answer_id": made_up, "itemno": "N-NEVER-SHOWN", "vote": 1, "thread": "slack:C0X"}
    payload = {
        "type": "block_actions",
        "user": {"id": SUPERVISOR_SLACK},
        "team": {"id": "T1"},
        "container": {"type": "message", "channel_id": "C0FAKE", "message_ts": "1.2"},
        "channel": {"id": "C0FAKE"},
        "message": {"ts": "1.2"},
        "trigger_id": "trig",
        "actions": [
            {
                "action_id": "pmark_vote_up",
                "block_id": "pmark_rec_1",
                "value": json.dumps(data),
                "type": "button",
                "action_ts": "1",
            }
        ],
    }
    form = slack_action_body(payload)
    headers = {"Content-Type": "application/x-www-form-urlencoded", **slack_headers(form)}
    async with served.http.post(f"{served.base}/slack/actions", data=form, headers=headers) as r:
        assert r.status == 200
    await asyncio.sleep(2.0)  # the listener runs after the ack (a stored vote is in by then)
    assert [r for r in repo.feedback() if r["answer_id"] == made_up] == []
