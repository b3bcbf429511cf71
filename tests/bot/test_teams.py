"""Teams through the Bot Framework protocol: real JWTs, a local connector, the real app."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from adapters.channels import BotTokenSource, Outbound, TeamsChannel
from adapters.channels.factory import teams_reference_lookup
from bot.app import FEEDBACK
from tests.bot.conftest import SUPERVISOR_AAD, Running
from tests.bot.support import (
    APP_ID,
    APP_PASSWORD,
    KID,
    conversation_update,
    new_key,
    teams_invoke,
    teams_message,
)
from tests.bot.support import walk as _walk


def _card(recorded_body: dict[str, Any]) -> dict[str, Any]:
    attachments = recorded_body.get("attachments") or []
    assert attachments, recorded_body
    assert attachments[0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    return dict(attachments[0]["content"])


def _votes(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        n
        for n in _walk(card)
        if n.get("type") == "Action.Execute" and n.get("verb") == "pmark.vote"
    ]


def _texts(card: dict[str, Any]) -> list[str]:
    return [str(n["text"]) for n in _walk(card) if n.get("type") == "TextBlock"]


async def _answer(served: Running, text: str, **kw: Any) -> tuple[dict[str, Any], Any]:
    """Send a message and wait for the reply carrying a card."""
    stub = served.stub
    activity = teams_message(served.service_url, text, **kw)
    before = len(stub.connector("message"))
    resp = await served.post_activity(activity)
    assert resp.status == 200
    replies = await stub.wait_for(lambda: stub.connector("message")[before:])
    return activity, replies[0]


async def test_message_gets_card_with_recommendations_and_thumbs(served: Running) -> None:
    activity, reply = await _answer(served, "2공장 냉각수 펌프 누유, 긴급")
    conv = activity["conversation"]["id"]
    # Replied in the thread the message came from, to that very message.
    assert reply.method == "POST"
    assert reply.path.endswith(f"/activities/{activity['id']}")
    assert reply.body["conversation"]["id"] == conv
    assert reply.body["replyToId"] == activity["id"]
    # With the bot's token from the (local) AAD token endpoint.
    assert reply.headers["Authorization"] == "Bearer connector-token-1"
    card = _card(reply.body)
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    texts = "\n".join(_texts(card))
    assert "[T0" in texts  # recommendations from the generated history
    votes = _votes(card)
    assert len(votes) >= 2 and {v["data"]["vote"] for v in votes} == {1, -1}
    assert all(v["fallback"]["type"] == "Action.Submit" for v in votes)
    # The draft's own facts: the first FactSet (the "why" panel below repeats the field names).
    draft = next(n for n in _walk(card) if n.get("type") == "FactSet")
    facts = {f["title"]: f["value"] for f in draft["facts"]}
    # The name in the thread's language with its code (no confidence figures).
    assert facts["위치"] == "제2공장 (F2)"
    assert "%" not in facts["설비"]
    assert reply.body["channelData"]["feedbackLoopEnabled"] is True
    # Typing indicators: tests/bot/test_teams_conversation.py (chats only, not channel threads).


async def test_question_offers_plant_choices(served: Running) -> None:
    _, reply = await _answer(served, "펌프 누유", chain="q-" + uuid.uuid4().hex[:8])
    card = _card(reply.body)
    choices = [
        n["data"]["value"]
        for n in _walk(card)
        if n.get("type") == "Action.Execute" and n.get("verb") == "pmark.choice"
    ]
    assert "제1공장" in choices and "제2공장" in choices
    assert "긴급" in choices


async def test_thumb_invoke_twice_stores_one_row_and_updates_card(served: Running) -> None:
    repo = served.app[FEEDBACK].repo
    _, reply = await _answer(served, "2공장 압축기 진동 긴급", chain="t-" + uuid.uuid4().hex[:8])
    vote = _votes(_card(reply.body))[0]
    before = repo.feedback_count()
    value = {"action": {"type": "Action.Execute", "verb": vote["verb"], "data": vote["data"]}}
    invoke = teams_invoke(
        served.service_url,
        "adaptiveCard/action",
        value,
        aad=SUPERVISOR_AAD,
        conversation=reply.body["conversation"]["id"],
    )
    bodies = []
    for _ in range(2):  # a double click, or Teams redelivering the same invoke
        resp = await served.post_activity(invoke)
        assert resp.status == 200
        bodies.append(await resp.json())
    assert repo.feedback_count() == before + 1
    row = [r for r in repo.feedback() if r["answer_id"] == vote["data"]["answer_id"]][-1]
    assert row["itemno"] == vote["data"]["itemno"] and row["vote"] == vote["data"]["vote"]
    assert row["is_supervisor"] is True and row["user_id"] == SUPERVISOR_AAD
    assert row["equipment"] == "CMP" and row["failure_mode"] == "VIB"
    for body in bodies:
        assert body["statusCode"] == 200
        assert body["type"] == "application/vnd.microsoft.card.adaptive"
        assert any("기록" in t for t in _texts(body["value"]))
    # Someone who is not a supervisor: stored as user feedback.
    other = teams_invoke(served.service_url, "adaptiveCard/action", value, aad="aad-tech-b")
    assert (await served.post_activity(other)).status == 200
    rows = [r for r in repo.feedback() if r["user_id"] == "aad-tech-b"]
    assert len(rows) == 1 and rows[0]["is_supervisor"] is False


async def test_file_notification_once(served: Running) -> None:
    repo = served.app[FEEDBACK].repo
    _, reply = await _answer(served, "1공장 전동기 과열 긴급", chain="f-" + uuid.uuid4().hex[:8])
    card = _card(reply.body)
    file_action = card["actions"][0]
    assert file_action["verb"] == "pmark.file"
    count = repo.notification_count()
    value = {
        "action": {"type": "Action.Execute", "verb": "pmark.file", "data": file_action["data"]}
    }
    filed = []
    for _ in range(2):
        resp = await served.post_activity(
            teams_invoke(served.service_url, "adaptiveCard/action", value)
        )
        assert resp.status == 200
        body = await resp.json()
        filed.append([t for t in _texts(body["value"]) if "접수되었습니다" in t])
    assert repo.notification_count() == count + 1
    assert filed[0] == filed[1] and filed[0]
    itemno = filed[0][0].split(": ")[-1]
    stored = repo.notifications([itemno])[itemno]
    assert stored.location == "F1" and stored.equipment == "MTR" and stored.failure_mode == "HOT"
    assert stored.priority == "1" and stored.resolution == ""


async def test_submit_fallback_updates_the_card(served: Running) -> None:
    repo = served.app[FEEDBACK].repo
    _, reply = await _answer(served, "2공장 펌프 진동 보통", chain="s-" + uuid.uuid4().hex[:8])
    data = _votes(_card(reply.body))[1]["fallback"]["data"]
    before = repo.feedback_count()
    stub = served.stub
    puts = len([r for r in stub.connector() if r.method == "PUT"])
    msg = teams_message(served.service_url, "", value=data, reply_to="bot-msg-1")
    assert (await served.post_activity(msg)).status == 200
    await stub.wait_for(lambda: [r for r in stub.connector() if r.method == "PUT"][puts:])
    assert repo.feedback_count() == before + 1


async def test_teams_ai_feedback_buttons(served: Running) -> None:
    repo = served.app[FEEDBACK].repo
    _, reply = await _answer(served, "2공장 펌프 누유 높음", chain="ai-" + uuid.uuid4().hex[:8])
    value = {
        "actionName": "feedback",
        "actionValue": {"reaction": "dislike", "feedback": json.dumps({"feedbackText": "틀림"})},
    }
    # Teams refers to the bot's message by the id the connector gave it.
    message_id = reply.reply_id
    assert message_id
    invoke = teams_invoke(served.service_url, "message/submitAction", value, reply_to=message_id)
    resp = await served.post_activity(invoke)
    assert resp.status == 200
    rows = [r for r in repo.feedback() if r["itemno"] == "*" and r["comment"] == "틀림"]
    assert len(rows) == 1 and rows[0]["vote"] == -1 and rows[0]["is_supervisor"] is False


async def test_redelivered_message_is_answered_once(served: Running) -> None:
    stub = served.stub
    activity = teams_message(
        served.service_url, "1공장 펌프 누유 긴급", chain="r-" + uuid.uuid4().hex[:8]
    )
    before = len(stub.connector("message"))
    for _ in range(3):
        assert (await served.post_activity(activity)).status == 200
    await stub.wait_for(lambda: stub.connector("message")[before:])
    await asyncio.sleep(1.0)
    replies = [
        r
        for r in stub.connector("message")[before:]
        if r.body["conversation"]["id"] == activity["conversation"]["id"]
    ]
    assert len(replies) == 1


async def test_install_stores_reference_and_digest_can_post(served: Running) -> None:
    repo = served.app[FEEDBACK].repo
    conv = "19:maintenance@thread.tacv2"
    resp = await served.post_activity(conversation_update(served.service_url, conv))
    assert resp.status == 200
    refs = {r["conversation_id"]: r["reference"] for r in repo.conversation_refs("teams")}
    assert refs[conv]["serviceUrl"] == served.service_url
    # The evaluation digest's path: a proactive post from the stored reference.
    tokens = BotTokenSource(APP_ID, APP_PASSWORD, f"{served.stub.base}/botframework.com")
    channel = TeamsChannel(teams_reference_lookup(repo), tokens, "https://api.botframework.com")
    try:
        before = len(served.stub.connector("message"))
        msg_id = await channel.post(
            conv, Outbound("digest", teams_attachments=[{"contentType": "x", "content": {}}])
        )
        assert msg_id.startswith("bot-msg-")
        sent = served.stub.connector("message")[before:]
        assert any(r.body["text"] == "digest" and r.path.endswith("/activities") for r in sent)
    finally:
        await channel.aclose()
        await tokens.aclose()


async def test_auth_rejections_are_401(served: Running) -> None:
    activity = teams_message(served.service_url, "2공장 펌프 누유")
    stub = served.stub
    forged = stub.channel_token(served.service_url, key=new_key())
    cases = {
        "forged signature": forged,
        "garbage": "not-a-jwt",
        "wrong audience": stub.channel_token(served.service_url, audience="someone-else"),
        "wrong issuer": stub.channel_token(served.service_url, issuer="https://evil.example"),
        "expired": stub.channel_token(served.service_url, lifetime=-3600),
        "unknown key id": stub.channel_token(served.service_url, kid=KID + "-other"),
        "other serviceUrl": stub.channel_token("https://smba.example/"),
        "missing": None,
    }
    before = len(stub.connector())
    for name, token in cases.items():
        resp = await served.post_activity(activity, token=token or "")
        assert resp.status == 401, name
    assert len(stub.connector()) == before


async def test_malformed_requests(served: Running) -> None:
    url = f"{served.base}/api/messages"
    http = served.http
    big = b"{" + b" " * (10 * 1024 * 1024) + b"}"
    async with http.post(url, data=big, headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 413

    async def chunks() -> Any:
        for _ in range(11):
            yield b" " * (1024 * 1024)

    async with http.post(url, data=chunks(), headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 413
    # Unsigned: refused before the body is parsed. Signed: the body is malformed.
    async with http.post(
        url, data=b"{garbage", headers={"Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 401
    signed = {"Authorization": f"Bearer {served.stub.channel_token(served.service_url)}"}
    async with http.post(
        url, data=b"{garbage", headers={"Content-Type": "application/json", **signed}
    ) as resp:
        assert resp.status == 400
    for body in ([1, 2], {"type": 5}, {"text": "no type"}, {"type": "message", "from": "x"}):
        token = served.stub.channel_token(served.service_url)
        async with http.post(url, json=body, headers={"Authorization": f"Bearer {token}"}) as resp:
            assert resp.status in (400, 401), body
    # Unknown activity types are acknowledged and ignored.
    odd = teams_message(served.service_url, "x")
    odd["type"] = "messageReaction"
    odd["reactionsAdded"] = [{"type": "like"}]
    before = len(served.stub.connector())
    assert (await served.post_activity(odd)).status == 200
    assert len(served.stub.connector()) == before


async def test_still_healthy_and_metrics(served: Running) -> None:
    async with served.http.get(f"{served.base}/healthz") as resp:
        assert resp.status == 200
    async with served.http.get(f"{served.base}/readyz") as resp:
        body = await resp.json()
        assert resp.status == 200, body
        assert set(body["checks"]) >= {"database", "checkpointer", "search"}
    async with served.http.get(f"{served.base}/metrics") as resp:
        text = await resp.text()
        assert "pmark_http_requests_total" in text and "pmark_turns_total" in text
