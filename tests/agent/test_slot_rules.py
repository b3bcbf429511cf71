"""The slot-filling rules (README, "Slot filling"), each in Korean and English, over turns."""

from __future__ import annotations

import pytest

from agent.runner import Agent
from agent.slots import EMPTY, fill
from agent.state import FieldState
from tests.agent.test_conversation import _codes, _thread


def _f(code: str) -> FieldState:
    return FieldState(code=code, confidence=0.9, method="exact", surface=code)


def test_fill_rules() -> None:
    given = {"equipment": _f("CMP"), "location": EMPTY}
    # An answer fills what was asked and what is empty, never what was given.
    out, changes = fill(given, {"equipment": _f("MTR"), "location": _f("SEO")}, ["location"])
    assert out["equipment"]["code"] == "CMP" and out["location"]["code"] == "SEO"
    assert changes == []
    # An explicit correction replaces, and says so.
    out, changes = fill(given, {"equipment": _f("MTR")}, correction=True)
    assert out["equipment"]["code"] == "MTR"
    assert changes == [{"field": "equipment", "old": "CMP", "new": "MTR"}]
    # Naming the same code again is no change.
    assert fill(given, {"equipment": _f("CMP")}, correction=True)[1] == []


@pytest.mark.parametrize(
    ("report", "answer"),
    [("서울공장 압축기 긴급", "모터 과열"), ("seoul plant compressor urgent", "motor overheating")],
)
async def test_an_answer_fills_what_was_asked_and_keeps_what_was_given(
    agent: Agent, report: str, answer: str
) -> None:
    thread = _thread()
    question = await agent.turn(thread, report)
    assert question["kind"] == "question" and question["fields"] == ["failure_mode"]
    answered = await agent.turn(thread, answer)
    assert answered["kind"] == "answer"
    # The answer also names a motor: the compressor the technician gave stays.
    assert _codes(answered) == {
        "location": "SEO",
        "equipment": "CMP",
        "failure_mode": "HOT",
        "priority": "1",
    }
    assert answered["changes"] == []
    assert all(r["equipment"] != "MTR" for r in answered["recommendations"][:1])


@pytest.mark.parametrize(
    ("report", "correction", "said"),
    [
        ("서울공장 압축기 과열 긴급", "아니요, 모터", "✏️ 설비 변경"),
        ("seoul plant compressor overheating urgent", "no, it's the motor", "✏️ Equipment changed"),
    ],
)
async def test_a_given_field_changes_only_by_an_explicit_correction(
    agent: Agent, report: str, correction: str, said: str
) -> None:
    thread = _thread()
    first = await agent.turn(thread, report)
    assert _codes(first)["equipment"] == "CMP"
    corrected = await agent.turn(thread, correction)
    assert _codes(corrected)["equipment"] == "MTR"
    assert _codes(corrected)["location"] == "SEO" and _codes(corrected)["priority"] == "1"
    assert [(c["field"], c["old"], c["new"]) for c in corrected["changes"]] == [
        ("equipment", "CMP", "MTR")
    ]
    assert said in corrected["reply"]


@pytest.mark.parametrize(
    ("report", "correction"),
    [("서울공장 압축기 긴급", "아니요, 모터"), ("seoul plant compressor urgent", "no, the motor")],
)
async def test_a_correction_instead_of_an_answer_keeps_the_question_open(
    agent: Agent, report: str, correction: str
) -> None:
    thread = _thread()
    assert (await agent.turn(thread, report))["fields"] == ["failure_mode"]
    again = await agent.turn(thread, correction)
    assert again["kind"] == "question" and again["fields"] == ["failure_mode"]
    assert _codes(again)["equipment"] == "MTR"
    assert [c["new"] for c in again["changes"]] == ["MTR"]


@pytest.mark.parametrize(
    ("report", "answer", "expected"),
    [
        ("seoul plant compressor urgent", "과열이요", "접수 초안"),
        ("서울공장 압축기 긴급", "overheating", "Draft notification"),
    ],
)
async def test_the_language_follows_the_latest_message(
    agent: Agent, report: str, answer: str, expected: str
) -> None:
    thread = _thread()
    await agent.turn(thread, report)
    answered = await agent.turn(thread, answer)
    assert answered["kind"] == "answer" and answered["lang"] in ("ko", "en")
    assert expected in answered["reply"]


async def test_a_reply_without_letters_keeps_the_language(agent: Agent) -> None:
    thread = _thread()
    await agent.turn(thread, "서울공장 압축기 과열")
    answered = await agent.turn(thread, "1")
    assert answered["lang"] == "ko" and "접수 초안" in answered["reply"]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("두 번째 건 자세히", "아직 보여드린 사례가 없어요"),
        ("show me the second one", "nothing to"),
    ],
)
async def test_a_followup_with_nothing_to_follow_says_so(
    agent: Agent, text: str, said: str
) -> None:
    response = await agent.turn(_thread(), text)
    assert response["kind"] == "detail" and said in response["reply"]
    assert response["recommendations"] == []


async def test_the_detail_keeps_the_case_number(agent: Agent) -> None:
    thread = _thread()
    answer = await agent.turn(thread, "부산공장 펌프 누유 긴급")
    assert len(answer["recommendations"]) >= 2
    detail = await agent.turn(thread, "두 번째 건 자세히")
    assert detail["reply"].startswith("2번 사례")
    assert [r["rank"] for r in detail["recommendations"]] == [2]
    assert detail["recommendations"][0]["itemno"] == answer["recommendations"][1]["itemno"]


async def test_the_report_is_the_title_and_later_details_are_notes(agent: Agent) -> None:
    thread = _thread()
    question = await agent.turn(thread, "서울공장 압축기 진동 심함")
    assert question["fields"] == ["priority"]
    answer = await agent.turn(thread, "높음")
    assert answer["report"] == "서울공장 압축기 진동 심함" and answer["notes"] == []
    more = await agent.turn(thread, "오늘 아침 교대 때부터 그랬어요")
    assert more["report"] == "서울공장 압축기 진동 심함"
    assert more["notes"] == ["오늘 아침 교대 때부터 그랬어요"]


@pytest.mark.parametrize(
    "lang_text", ["서울공장 압축기 진동 긴급", "seoul compressor vibration urgent"]
)
async def test_cases_say_why_in_words(agent: Agent, lang_text: str) -> None:
    from agent.reasons import reason_words

    answer = await agent.turn(_thread(), lang_text)
    top = answer["recommendations"][0]
    assert "equipment" in top["reasons"] and "failure_mode" in top["reasons"]
    words = reason_words(top, answer["lang"])
    if answer["lang"] == "ko":
        assert words.startswith("같은 설비 · 같은 고장 유형") and "text" not in words
    else:
        assert words.startswith("same equipment · same failure mode")


@pytest.mark.parametrize(
    ("report", "said"),
    [
        # The history has conveyor noise and compressor overheating, never an overheating conveyor.
        ("서울공장 컨베이어 과열 긴급", "비슷한 과거 사례를 찾지 못했어요"),
        ("seoul plant conveyor overheating urgent", "No similar past case found"),
    ],
)
async def test_a_weak_match_says_so_above_its_best_guesses(
    agent: Agent, report: str, said: str
) -> None:
    weak = await agent.turn(_thread(), report)
    assert weak["weak"] is True and weak["recommendations"]
    assert said in weak["reply"]
    good = await agent.turn(_thread(), "서울공장 압축기 진동 긴급")
    assert good["weak"] is False and "찾지 못했" not in good["reply"]
