"""Lifecycle commands typed in a conversation, in Korean and English."""

from __future__ import annotations

import pytest

from agent.lifecycle_turn import Command, command_of, duplicate_line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("완료: 메카니컬 씰 교체", Command("close", "메카니컬 씰 교체")),
        ("조치 완료 : 베어링 교체", Command("close", "베어링 교체")),
        ("done: replaced the mechanical seal", Command("close", "replaced the mechanical seal")),
        ("Fixed: new gasket", Command("close", "new gasket")),
        ("/close PM202612040001 씰 교체", Command("close", "씰 교체", "PM202612040001")),
        ("/close replaced bearing", Command("close", "replaced bearing")),
        ("완료 PM202612040002: 커플링 정렬", Command("close", "커플링 정렬", "PM202612040002")),
        ("/file", Command("file")),
        ("접수해 주세요", Command("file")),
        ("file it", Command("file")),
        ("/file new", Command("file", force=True)),
        ("다른 문제예요, 새로 접수해 주세요", None),
        ("새로 접수해 주세요", Command("file", force=True)),
        ("/add", Command("add")),
        ("같은 문제예요", Command("add")),
        ("/add PM202612040003", Command("add", number="PM202612040003")),
        ("2공장 펌프 누유 완료되면 알려줘", None),
        ("pump done leaking?", None),
        ("1공장 압축기 진동", None),
    ],
)
def test_commands(text: str, expected: Command | None) -> None:
    assert command_of(text) == expected


def test_forced_filing_in_korean() -> None:
    assert command_of("접수해 주세요 새로") == Command("file", force=True)


def test_duplicate_line_says_number_age_and_who() -> None:
    d = {"number": "PM1", "filed_by": "tech-a"}
    assert duplicate_line(d, "ko", 0.2) == "PM1 (오늘, tech-a)"
    assert duplicate_line(d, "ko", 2.5) == "PM1 (2일 전, tech-a)"
    assert duplicate_line(d, "en", 1.1) == "PM1 (1 day ago, by tech-a)"
    assert duplicate_line(d, "en", 3) == "PM1 (3 days ago, by tech-a)"
