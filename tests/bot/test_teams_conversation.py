"""Teams as a new user meets it (issue 19): choice buttons, stale cards, complete filing, cards
for technicians, group chats and channels, Teams' own feedback. Bot Framework protocol."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from bot.app import AGENT, FEEDBACK, TEAMS
from bot.middleware import CARD_CLOSE_SHED
from tests.bot.conftest import Running
from tests.bot.support import APP_ID, conversation_update, teams_invoke, teams_message
from tests.bot.test_teams import _answer, _card, _texts, _votes, _walk


def _chain(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _choices(card: dict[str, Any], field: str | None = None) -> list[dict[str, Any]]:
    return [
        n
        for n in _walk(card)
        if n.get("type") == "Action.Execute"
        and n.get("verb") == "pmark.choice"
        and (field is None or n["data"]["field"] == field)
    ]


def _execute(data: dict[str, Any]) -> dict[str, Any]:
    return {"action": {"type": "Action.Execute", "verb": data["verb"], "data": data}}


async def _press(
    served: Running, data: dict[str, Any], conversation: str, reply_to: str | None = None
) -> tuple[dict[str, Any], list[Any]]:
    """Press a card button (Action.Execute); the invoke's body and the messages it caused."""
    stub = served.stub
    before = len(stub.connector("message"))
    invoke = teams_invoke(
        served.service_url,
        "adaptiveCard/action",
        _execute(data),
        conversation=conversation,
        reply_to=reply_to,
    )
    resp = await served.post_activity(invoke)
    assert resp.status == 200
    return await resp.json(), stub.connector("message")[before:]


async def _next_card(served: Running, before: int) -> Any:
    stub = served.stub
    return (await stub.wait_for(lambda: stub.connector("message")[before:]))[0]


async def test_choice_buttons_execute_with_a_submit_fallback_carrying_data(
    served: Running,
) -> None:
    _, reply = await _answer(served, "펌프 누유", chain=_chain("c"))
    card = _card(reply.body)
    names = {n["title"] for n in _choices(card)}
    assert {"제1공장", "제2공장", "긴급"} <= names
    for action in _choices(card):
        assert action["fallback"]["type"] == "Action.Submit"
        assert action["fallback"]["data"] == action["data"]
    # No imBack: the playground throws on it ("Cannot add property msTeams").
    assert "msteams" not in json.dumps(card).lower()


async def test_a_choice_answers_and_a_stale_choice_only_explains(served: Running) -> None:
    stub = served.stub
    _, question = await _answer(served, "펌프 누유", chain=_chain("s"))
    conversation = question.body["conversation"]["id"]
    plant = _choices(_card(question.body), "location")[1]
    before = len(stub.connector("message"))
    puts = len([r for r in stub.connector() if r.method == "PUT"])
    body, _ = await _press(served, plant["data"], conversation, question.reply_id)
    # The pressed card comes back without its buttons.
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert not _choices(body["value"])
    answer = await _next_card(served, before)
    answered = _card(answer.body)
    assert any("제2공장" in t for t in _texts(answered))
    # The question's card is closed in place (updateActivity) once the answer is out.
    closed = await stub.wait_for(
        lambda: [
            r
            for r in stub.connector()[:]
            if r.method == "PUT" and r.path.endswith(question.reply_id)
        ]
    )
    assert len([r for r in stub.connector() if r.method == "PUT"]) > puts
    assert not _choices(_card(closed[-1].body))
    # Pressing the old card's other choice: a short explanation, no turn.
    other = _choices(_card(question.body), "location")[0]
    before = len(stub.connector("message"))
    body, _ = await _press(served, other["data"], conversation, question.reply_id)
    assert body["type"] == "application/vnd.microsoft.activity.message"
    assert "지난" in body["value"]
    state = await served.app[AGENT].state(plant["data"]["thread"])
    assert state["notification"]["location"]["code"] == "F2"
    assert len(stub.connector("message")) == before


async def test_under_load_a_superseded_card_is_left_open_and_a_press_on_it_explained(
    served: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = served.stub
    monkeypatch.setattr(served.app[TEAMS], "close_cards_below", 0)  # always "under load"
    _, question = await _answer(served, "펌프 누유", chain=_chain("load"))
    conversation = question.body["conversation"]["id"]
    plant = _choices(_card(question.body), "location")[1]
    before = len(stub.connector("message"))
    shed = CARD_CLOSE_SHED._value.get()
    await _press(served, plant["data"], conversation, question.reply_id)
    await _next_card(served, before)
    # Its answer is out, the close was shed, and nothing updated the question's card ...
    await stub.wait_for(lambda: [1] if CARD_CLOSE_SHED._value.get() > shed else [])
    assert not [
        r for r in stub.connector() if r.method == "PUT" and r.path.endswith(question.reply_id)
    ]
    # ... whose other choice, pressed, is only explained: no second turn.
    other = _choices(_card(question.body), "location")[0]
    before = len(stub.connector("message"))
    body, _ = await _press(served, other["data"], conversation, question.reply_id)
    assert body["type"] == "application/vnd.microsoft.activity.message"
    assert "지난" in body["value"]
    assert len(stub.connector("message")) == before


async def test_filing_only_what_is_complete(served: Running) -> None:
    stub = served.stub
    repo = served.app[FEEDBACK].repo
    _, question = await _answer(served, "냉각수 펌프 누유 발견", chain=_chain("f"))
    conversation = question.body["conversation"]["id"]
    card = _card(question.body)
    # Answer only the plant: the answer still misses the priority.
    before = len(stub.connector("message"))
    await _press(served, _choices(card, "location")[0]["data"], conversation, question.reply_id)
    answer = await _next_card(served, before)
    answered = _card(answer.body)
    assert "actions" not in answered  # no file button
    assert _choices(answered, "priority")  # the missing field has its buttons
    # A file request anyway (an old client, a crafted press): asked for, never filed.
    file_data = {
        "verb": "pmark.file",
        "answer_id": _choices(answered, "priority")[0]["data"]["answer_id"],
        "thread": _choices(answered, "priority")[0]["data"]["thread"],
    }
    count = repo.notification_count()
    before = len(stub.connector("message"))
    body, _ = await _press(served, file_data, conversation, answer.reply_id)
    assert "우선순위" in body["value"]
    asked = _card((await _next_card(served, before)).body)
    assert _choices(asked, "priority") and repo.notification_count() == count
    # The priority by button: now complete, with its file button.
    before = len(stub.connector("message"))
    await _press(served, _choices(asked, "priority")[1]["data"], conversation, answer.reply_id)
    complete = _card((await _next_card(served, before)).body)
    file_action = complete["actions"][0]
    assert file_action["verb"] == "pmark.file"
    body, _ = await _press(served, file_action["data"], conversation)
    filed = [t for t in _texts(body["value"]) if "접수되었습니다" in t]
    assert filed and repo.notification_count() == count + 1
    assert not _votes(body["value"]), "thumbs stay live after filing"
    itemno = filed[0].split(": ")[-1]
    stored = repo.notifications([itemno])[itemno]
    assert stored.priority == "2" and stored.location is not None
    assert stored.title == "냉각수 펌프 누유 발견"
    assert _source(repo, itemno) == "teams"
    # Pressing file again on the old answer card: explained, never a second filing.
    body, _ = await _press(served, file_data, conversation)
    assert repo.notification_count() == count + 1


def _source(repo: Any, itemno: str) -> str:
    from sqlalchemy import text

    with repo.engine.connect() as conn:
        return str(
            conn.execute(
                text("SELECT source FROM notifications WHERE itemno = :i"), {"i": itemno}
            ).scalar_one()
        )


async def test_cards_for_technicians(served: Running) -> None:
    _, reply = await _answer(served, "2공장 압축기 진동 긴급", chain=_chain("w"))
    card = _card(reply.body)
    texts = "\n".join(_texts(card))
    # Why in words, in the card's language; no scoring internals in sight.
    assert "같은 설비 · 같은 고장 유형" in texts
    assert "same equipment" not in texts and "text 0." not in texts
    scores = [n for n in _walk(card) if str(n.get("id", "")).startswith("pmark-score-")]
    assert scores and all(n["isVisible"] is False for n in scores)
    toggles = [n for n in _walk(card) if n.get("type") == "Action.ToggleVisibility"]
    # Each score has its toggle (the "why" and "correct fields" panels have toggles of their own).
    targets = {t["targetElements"][0] for t in toggles}
    assert {n["id"] for n in scores} <= targets
    assert not any(str(t).startswith("pmark-score-") for t in targets - {n["id"] for n in scores})
    assert "압축기 (CMP)" in json.dumps(card, ensure_ascii=False)


async def test_other_mentions_are_not_parsed_and_not_the_title(served: Running) -> None:
    chain = _chain("m")
    activity = teams_message(served.service_url, "", chain=chain)
    activity["text"] = "<at>Megan Bowen</at> 교체 부탁해요 <at>PMark</at> 2공장 펌프 누유 긴급"
    activity["entities"] = [
        {
            "type": "mention",
            "mentioned": {"id": "29:megan", "name": "Megan Bowen"},
            "text": "<at>Megan Bowen</at>",
        },
        {
            "type": "mention",
            "mentioned": {"id": f"28:{APP_ID}", "name": "PMark"},
            "text": "<at>PMark</at>",
        },
    ]
    stub = served.stub
    before = len(stub.connector("message"))
    assert (await served.post_activity(activity)).status == 200
    reply = await _next_card(served, before)
    card = _card(reply.body)
    texts = json.dumps(card, ensure_ascii=False)
    assert "Megan" not in texts
    thread = _votes(card)[0]["data"]["thread"]
    state = await served.app[AGENT].state(thread)
    assert state["report"] == "2공장 펌프 누유 긴급"
    assert state["notification"]["activity"]["code"] is None  # '교체' was said to Megan


async def test_typing_only_where_the_client_shows_it(
    served: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = served.stub
    monkeypatch.setattr(served.app[TEAMS], "typing_after", 0.0)  # as if every answer were late
    typing = len(stub.connector("typing"))
    await _answer(served, "2공장 펌프 누유 긴급", chain=_chain("ty"))  # a channel thread
    assert len(stub.connector("typing")) == typing
    personal = teams_message(
        served.service_url,
        "2공장 펌프 누유 긴급",
        conversation="a:personal-" + _chain("p"),
        chain=None,
    )
    personal["conversation"]["conversationType"] = "personal"
    before = len(stub.connector("message"))
    assert (await served.post_activity(personal)).status == 200
    await _next_card(served, before)
    assert len(stub.connector("typing")) > typing


async def test_a_prompt_answer_comes_without_a_typing_indicator(
    served: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub = served.stub
    monkeypatch.setattr(served.app[TEAMS], "typing_after", 3600.0)  # never, in a test
    typing = len(stub.connector("typing"))
    personal = teams_message(
        served.service_url, "2공장 펌프 누유 긴급", conversation="a:personal-" + _chain("q")
    )
    personal["conversation"]["conversationType"] = "personal"
    before = len(stub.connector("message"))
    assert (await served.post_activity(personal)).status == 200
    await _next_card(served, before)
    assert len(stub.connector("typing")) == typing


@pytest.mark.parametrize(("repeat_below", "many"), [(10_000, True), (0, False)])
async def test_typing_repeats_while_few_answers_wait_and_is_shed_under_load(
    served: Running, monkeypatch: pytest.MonkeyPatch, repeat_below: int, many: bool
) -> None:
    import asyncio

    import bot.teams

    stub = served.stub
    teams = served.app[TEAMS]
    agent = served.app[AGENT]
    monkeypatch.setattr(teams, "typing_after", 0.0)
    monkeypatch.setattr(teams, "typing_repeat_below", repeat_below)
    monkeypatch.setattr(bot.teams, "TYPING_EVERY", 0.05)
    turn = agent.turn
    conversation = "a:personal-" + _chain("shed")

    def mine() -> list[Any]:
        return [
            r
            for r in stub.connector("typing")
            if r.body["conversation"]["id"].startswith(conversation)
        ]

    async def slow_turn(*args: Any, **kwargs: Any) -> Any:
        # The answer waits for what the indicator does, not for a clock: three indicators
        # when repeats are on; when they are shed, the first and then many repeat periods.
        await stub.wait_for(lambda: mine()[2:] if many else mine())
        if not many:
            await asyncio.sleep(20 * bot.teams.TYPING_EVERY)
        return await turn(*args, **kwargs)

    monkeypatch.setattr(agent, "turn", slow_turn)
    personal = teams_message(served.service_url, "2공장 펌프 누유 긴급", conversation=conversation)
    personal["conversation"]["conversationType"] = "personal"
    before = len(stub.connector("message"))
    assert (await served.post_activity(personal)).status == 200
    await _next_card(served, before)
    assert (len(mine()) >= 3) if many else (len(mine()) == 1)


async def test_welcome_in_a_team_explains_the_mention_and_greets_once(served: Running) -> None:
    stub = served.stub
    conv = f"19:{uuid.uuid4().hex[:10]}@thread.tacv2"
    before = len(stub.connector("message"))
    for _ in range(2):  # installed, then reinstalled
        assert (await served.post_activity(conversation_update(served.service_url, conv))).status
    welcomes = [
        r
        for r in stub.connector("message")[before:]
        if r.body["conversation"]["id"].startswith(conv)
    ]
    assert len(welcomes) == 1 and "@PMark" in welcomes[0].body["text"]


async def test_feedback_loop_without_reply_to_is_linked_to_its_answer(served: Running) -> None:
    repo = served.app[FEEDBACK].repo
    _, reply = await _answer(served, "1공장 압축기 과열 높음", chain=_chain("fb"))
    answer_id = _votes(_card(reply.body))[0]["data"]["answer_id"]
    value = {
        "actionName": "feedback",
        "actionValue": {"reaction": "like", "feedback": json.dumps({"feedbackText": "좋아요"})},
    }
    invoke = teams_invoke(
        served.service_url,
        "message/submitAction",
        value,
        conversation=reply.body["conversation"]["id"],
    )
    assert (await served.post_activity(invoke)).status == 200
    rows = [r for r in repo.feedback() if r["comment"] == "좋아요"]
    assert len(rows) == 1 and rows[0]["answer_id"] == answer_id
    assert rows[0]["query"]


async def test_detail_card_numbers_the_case_it_names(served: Running) -> None:
    chain = _chain("d")
    await _answer(served, "2공장 펌프 누유 긴급", chain=chain)
    _, detail = await _answer(served, "두 번째 건 자세히", chain=chain)
    texts = _texts(_card(detail.body))
    assert texts[0].startswith("2번 사례")
    assert any(t.startswith("2. [") for t in texts)
