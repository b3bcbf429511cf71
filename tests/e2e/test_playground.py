"""A technician's first minutes with PMark in Microsoft's Teams client simulator.

Each scenario types into the Agents Playground's web UI (headless Chromium), presses the
buttons it renders, and asserts on what the rendered conversation shows; a screenshot of each
lands in .pytest-logs/e2e/. Scenarios commented "Issue 19 finding N" reproduce that finding: they
failed before its fix (branch h19a) and pass with it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.e2e.client import Message, Playground
from tests.e2e.conftest import Served

pytestmark = pytest.mark.e2e


def _field(card: Message, label: str) -> str:
    """The value after a draft label ('설비', 'Equipment') on a rendered card."""
    lines = [line.strip() for line in card.text.splitlines() if line.strip()]
    for i, line in enumerate(lines[:-1]):
        if line == label:
            return lines[i + 1]
    return ""


def _notifications(served: Served) -> list[tuple[str, str, str, str, str]]:
    with served.db() as db:
        rows = db.execute(
            "select title, location, equipment, failure_mode, coalesce(priority, '') "
            "from notifications where itemno like 'PM%' order by created_at"
        ).fetchall()
    return [tuple(str(v) for v in row) for row in rows]  # type: ignore[misc]


def _report(teams: Playground, text: str) -> Message:
    teams.open("Personal Chat")
    return teams.ask(text)


# Reports ------------------------------------------------------------------------------------


def test_korean_report_gets_a_korean_draft_and_past_fixes(teams: Playground) -> None:
    card = _report(teams, "새 건 서울공장 펌프 누유 긴급")
    assert card.card
    assert "📋 접수 초안" in card.text and "과거 유사 사례와 조치" in card.text
    assert _field(card, "위치").startswith("서울공장")
    assert _field(card, "설비").startswith("펌프")
    assert _field(card, "고장 유형").startswith("누설")
    assert _field(card, "우선순위").startswith("긴급")
    assert "조치:" in card.text and "👍 도움이 됨" in card.buttons
    assert "📝 이 내용으로 접수" in card.buttons
    assert not teams.browser_errors()


def test_english_report_gets_an_english_card(teams: Playground) -> None:
    card = _report(teams, "new issue: busan plant compressor vibration, urgent")
    assert "Draft notification" in card.text and "Similar past cases and fixes" in card.text
    assert _field(card, "Location").startswith("Busan Plant")
    assert _field(card, "Equipment").startswith("compressor")
    assert _field(card, "Failure mode").startswith("vibration")
    assert "📝 File this notification" in card.buttons
    assert "접수" not in card.text


def test_mixed_report_is_understood(teams: Playground) -> None:
    card = _report(teams, "새 건 부산공장 compressor 진동 심함 high")
    assert _field(card, "설비").startswith("압축기")
    assert _field(card, "고장 유형").startswith("진동")
    assert _field(card, "위치").startswith("부산공장")


# Issue 19 finding 3: no scoring internals, in English, on a Korean card.
def test_korean_card_explains_cases_in_korean_without_scores(teams: Playground) -> None:
    card = _report(teams, "새 건 서울공장 펌프 누유 긴급")
    assert "same equipment" not in card.text and "text 0." not in card.text
    assert "같은 설비" in card.text


# Missing fields -----------------------------------------------------------------------------


def test_missing_location_answered_by_text(teams: Playground) -> None:
    first = _report(teams, "새 건 펌프 소음 심함")
    assert "위치" in first.text  # asked for, or listed as missing
    card = teams.ask("부산공장")
    assert _field(card, "위치").startswith("부산공장")
    assert _field(card, "설비").startswith("펌프"), "the answer must not change the equipment"
    assert _field(card, "고장 유형").startswith("소음")


# Issue 19 finding 5: choice buttons (Action.Submit imBack) do nothing in the playground.
def test_missing_location_answered_by_button(teams: Playground) -> None:
    first = _report(teams, "새 건 펌프 소음 심함")
    assert "서울공장" in first.buttons
    before = teams.click("서울공장")
    card = teams.next_bot_message(before, "the answer to the location button")
    assert _field(card, "위치").startswith("서울공장")
    assert not [e for e in teams.browser_errors() if "not extensible" in e]


def test_correction_replaces_the_equipment(teams: Playground) -> None:
    first = _report(teams, "새 건 부산공장 펌프 진동 긴급")
    assert _field(first, "설비").startswith("펌프")
    card = teams.ask("아니요, 압축기")
    assert _field(card, "설비").startswith("압축기")
    assert _field(card, "위치").startswith("부산공장")
    assert _field(card, "고장 유형").startswith("진동")


# Issue 19 finding 1: the card says what a correction changed.
def test_correction_says_what_changed(teams: Playground) -> None:
    _report(teams, "새 건 부산공장 펌프 진동 긴급")
    card = teams.ask("아니요, 압축기")
    assert re.search(r"펌프\s*(→|->)\s*압축기", card.text), card.text


# Filing -------------------------------------------------------------------------------------


def test_filing_a_complete_draft_files_it_once(teams: Playground, served: Served) -> None:
    filed_before = len(_notifications(served))
    card = _report(teams, "새 건 서울공장 압축기 과열 긴급")
    assert "📝 이 내용으로 접수" in card.buttons
    teams.click("📝 이 내용으로 접수")
    shown = teams.wait_for_text("✅ 접수되었습니다", "the filed confirmation on the card")
    assert "📝 이 내용으로 접수" not in shown.buttons
    rows = teams.wait_for(
        lambda: _notifications(served)[filed_before:], "the filed notification in the database"
    )
    assert len(rows) == 1
    title, location, equipment, failure_mode, priority = rows[0]
    assert (location, equipment, failure_mode, priority) == ("SEO", "CMP", "HOT", "1")


# Issue 19 finding 2: the file button shows only when every required field has a code.
def test_an_incomplete_draft_offers_no_file_button(teams: Playground) -> None:
    _report(teams, "새 건 펌프 소음 심함")
    card = teams.ask("서울공장")
    assert _field(card, "우선순위") == "" or "우선순위" in card.text
    assert "📝 이 내용으로 접수" not in card.buttons
    assert {"긴급", "높음", "보통", "낮음"} <= set(card.buttons)


# Issue 19 finding 5: a stale card is updated so that its buttons no longer act.
def test_a_superseded_question_card_has_no_live_buttons(teams: Playground) -> None:
    _report(teams, "새 건 펌프 소음 심함")
    teams.ask("부산공장")
    first_card = teams.bot_messages()[-2]
    assert "📝 이 내용으로 접수" not in first_card.buttons
    assert "서울공장" not in first_card.buttons


# Feedback -----------------------------------------------------------------------------------


def test_thumbs_up_on_a_case_is_recorded_and_shown(teams: Playground, served: Served) -> None:
    card = _report(teams, "새 건 서울공장 펌프 누유 긴급")
    with served.db() as db:
        votes_before = db.execute("select count(*) from feedback").fetchone()[0]
    teams.click("👍 도움이 됨")
    teams.wait_for_text("도움이 됨으로 기록", "the vote on the card")
    with served.db() as db:
        votes = db.execute("select vote, itemno from feedback").fetchall()[votes_before:]
    assert [v for v, _ in votes] == [1] and votes[0][1].startswith("T")
    assert card.text.count("[T") >= 1


def _teams_feedback(teams: Playground, served: Served, comment: str) -> list[tuple[str, ...]]:
    """Press the playground's own 👎 under PMark's latest answer and send a comment."""
    with served.db() as db:
        before = db.execute("select count(*) from feedback").fetchone()[0]
    dislike = teams.driver.find_elements("css selector", "button[aria-label='Dislike']")[-1]
    teams.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", dislike)
    dislike.click()
    box = teams.wait_for(
        lambda: teams.driver.find_element("css selector", "[role=dialog] textarea"),
        "Teams' feedback dialog",
    )
    box.send_keys(comment)
    teams.shot("teams-feedback-dialog")
    submit = [
        b
        for b in teams.driver.find_elements("css selector", "[role=dialog] button")
        if b.text.strip().lower() in ("submit", "send", "보내기")
    ]
    submit[0].click()

    def stored() -> list[tuple[str, ...]]:
        with served.db() as db:
            rows = db.execute(
                "select answer_id, itemno, vote, coalesce(comment, '') from feedback"
            ).fetchall()
        return [tuple(str(v) for v in r) for r in rows[before:]]

    return list(teams.wait_for(stored, "the feedback in the database"))


def test_teams_feedback_dialog_stores_the_comment(teams: Playground, served: Served) -> None:
    _report(teams, "새 건 서울공장 펌프 누유 긴급")
    rows = _teams_feedback(teams, served, "씰 말고 베어링 문제였음")
    assert len(rows) == 1
    answer_id, _, vote, comment = rows[0]
    assert vote == "-1" and comment == "씰 말고 베어링 문제였음"


# Issue 19 finding 6: Teams' feedback is linked to its answer even without replyToId.
def test_teams_feedback_is_linked_to_its_answer(teams: Playground, served: Served) -> None:
    _report(teams, "새 건 서울공장 펌프 누유 긴급")
    rows = _teams_feedback(teams, served, "not helpful")
    answer_id = rows[0][0]
    assert answer_id and not answer_id.startswith("msg:")


# Group chat and channel ---------------------------------------------------------------------


def _card_field(text: str, label: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return next((lines[i + 1] for i, x in enumerate(lines[:-1]) if x == label), "")


def test_channel_thread_keeps_its_own_context(teams: Playground) -> None:
    """A post that @mentions PMark gets a card in its thread; a reply in the thread adds to it."""
    teams.open("Plant Maintenance - Shift")
    box = teams.driver.find_element("css selector", "[data-lexical-editor='true']")
    box.click()
    teams.mention("PMark")
    teams.type(" 부산공장 압축기 과열")
    teams.post()
    post = "부산공장 압축기 과열"
    first = teams.wait_for(lambda: teams.thread_cards(post), "PMark's card in the thread")[0]
    assert _card_field(first, "설비").startswith("압축기")
    assert "우선순위" in first
    teams.reply_in_thread(post, [("mention", "PMark"), ("text", " 긴급")])
    cards = teams.wait_for(lambda: teams.thread_cards(post)[1:], "PMark's second card there")
    card = cards[-1]
    assert _card_field(card, "우선순위").startswith("긴급")
    assert _card_field(card, "설비").startswith("압축기")
    assert _card_field(card, "위치").startswith("부산공장")


def _latest_channel_thread(served: Served, channel: str) -> str:
    """The Teams message id of the channel thread PMark last answered in (the playground's page
    does not show message ids; PMark keys each thread by it)."""
    with served.db() as db:
        row = db.execute(
            "select thread_id from thread_activity where thread_id like ? "
            "order by last_active desc limit 1",
            (f"teams:{channel}:%",),
        ).fetchone()
    assert row, "PMark has no thread in that channel"
    return str(row[0]).rsplit(":", 1)[1]


def _as_teammate(served: Served, thread: str, text: str) -> dict[str, Any]:
    """A reply in a channel thread from another member of the team (playground.yml's first
    user), @mentioning PMark, as Teams delivers it."""
    config = yaml.safe_load((REPO / "scripts" / "playground.yml").read_text(encoding="utf-8"))
    bot, user, team = config["bot"], config["users"][0], config["team"]
    channel = team["channels"][0]
    at = f"<at>{bot['name']}</at>"
    return {
        "type": "message",
        "channelId": "msteams",
        "serviceUrl": f"{served.playground}/_connector",
        "recipient": {"id": bot["id"], "name": bot["name"]},
        "conversation": {
            "id": f"{channel['id']};messageid={thread}",
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": config["tenantId"],
        },
        "from": {"id": user["id"], "name": user["name"], "aadObjectId": user["aadObjectId"]},
        "text": f"{at} {text}",
        "entities": [
            {"type": "mention", "text": at, "mentioned": {"id": bot["id"], "name": bot["name"]}}
        ],
        "channelData": {
            "tenant": {"id": config["tenantId"]},
            "team": {"id": team["id"], "name": team["name"]},
            "channel": {"id": channel["id"], "name": channel["name"]},
        },
    }


def test_a_second_person_in_the_thread_adds_to_the_same_draft(
    teams: Playground, served: Served
) -> None:
    """Alex posts a report; Megan answers the priority question in its thread, then corrects
    the equipment: one draft, built by both, each answer in that thread."""
    teams.open("Plant Maintenance - Shift")
    box = teams.driver.find_element("css selector", "[data-lexical-editor='true']")
    box.click()
    teams.mention("PMark")
    post = "서울공장 압축기 과열"
    teams.type(" " + post)
    teams.post()
    first = teams.wait_for(lambda: teams.thread_cards(post), "PMark's card in the thread")[0]
    assert "얼마나 급한가요" in first, first
    thread = _latest_channel_thread(served, "channel-shift-id")

    teams.send_custom_activity(_as_teammate(served, thread, "긴급"))
    cards = teams.wait_for(lambda: teams.thread_cards(post)[1:], "the card for Megan's answer")
    card = cards[-1]
    assert _card_field(card, "우선순위").startswith("긴급")
    assert _card_field(card, "설비").startswith("압축기")
    assert _card_field(card, "위치").startswith("서울공장")

    teams.send_custom_activity(_as_teammate(served, thread, "아니요, 전동기"))
    card = teams.wait_for(lambda: teams.thread_cards(post)[2:], "the card for her correction")[-1]
    assert _card_field(card, "설비").startswith("전동기")
    assert "압축기 → 전동기" in card
    assert _card_field(card, "우선순위").startswith("긴급")
    assert _card_field(card, "위치").startswith("서울공장")
    teams.shot("channel-thread-two-people")


def _group_report(teams: Playground) -> Message:
    teams.open("Group Chat")
    before = len(teams.bot_messages())
    box = teams.driver.find_element("css selector", "[data-lexical-editor='true']")
    box.click()
    teams.mention("Megan Bowen")
    teams.type(" 확인 부탁해요 ")
    teams.mention("PMark")
    teams.type(" 새 건 부산공장 전동기 과열 긴급")
    teams.driver.find_element("css selector", "button[aria-label='Send Message']").click()
    return teams.next_bot_message(before, "PMark's card in the group chat")


def test_group_chat_mention_gets_a_card(teams: Playground) -> None:
    card = _group_report(teams)
    assert _field(card, "설비").startswith("전동기")
    assert _field(card, "고장 유형").startswith("과열")
    assert _field(card, "위치").startswith("부산공장")


# Issue 19 finding 7: other people's mentions are names, not parsed and not in the title.
def test_group_chat_other_mentions_stay_out_of_the_notification(
    teams: Playground, served: Served
) -> None:
    filed_before = len(_notifications(served))
    card = _group_report(teams)
    assert _field(card, "작업") == "", "'확인' addressed to Megan is not an activity"
    teams.click("📝 이 내용으로 접수")
    rows = teams.wait_for(lambda: _notifications(served)[filed_before:], "the filed notification")
    title = rows[0][0]
    assert "Megan" not in title and "<at>" not in title and "확인 부탁" not in title
