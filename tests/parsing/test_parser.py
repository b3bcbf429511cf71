"""The catalog parser on a catalog it has never seen (codes unlike the default catalog's)."""

from __future__ import annotations

import pytest

from adapters.csv_import import parse_catalog
from adapters.domain import CatalogEntry
from agent.parsing.lexicon import extra_forms, tag_equipment
from agent.parsing.parser import CatalogParser
from tests.sample_data import write_catalog


@pytest.fixture(scope="module")
def entries(tmp_path_factory: pytest.TempPathFactory) -> list[CatalogEntry]:
    return parse_catalog(write_catalog(tmp_path_factory.mktemp("cat") / "c.csv")).rows


@pytest.fixture(scope="module")
def parser(entries: list[CatalogEntry]) -> CatalogParser:
    return CatalogParser(entries)


def codes(parser: CatalogParser, text: str) -> dict[str, str | None]:
    result = parser.parse(text).as_json()
    return {k: result[k] for k in ("location", "equipment", "failure_mode", "priority", "activity")}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "부산공장 급수 펌프 누유, 긴급",
            {"location": "BUS", "equipment": "PMP-FW", "failure_mode": "LEK", "priority": "1"},
        ),
        (
            "부산 공장 급수펌프에서 누수가 있습니다",
            {"location": "BUS", "equipment": "PMP-FW", "failure_mode": "LEK", "priority": None},
        ),
        (
            "REPL COMPR SEOUL ASAP",
            {
                "location": "SEO",
                "equipment": "CMP",
                "failure_mode": None,
                "priority": "1",
                "activity": "RPL",
            },
        ),
        (
            "seoul packing hall conveyor noisy, low priority",
            {"location": "SEO-PK", "equipment": "CNV", "failure_mode": "NOS", "priority": "4"},
        ),
        (
            "Busan utility bldg motors overheating",
            {"location": "BUS-UT", "equipment": "MTR", "failure_mode": "HOT"},
        ),
    ],
)
def test_fields_in_korean_english_and_shorthand(
    parser: CatalogParser, text: str, expected: dict[str, str | None]
) -> None:
    got = codes(parser, text)
    assert {k: got[k] for k in expected} == expected


def test_typos_are_matched_fuzzily_in_both_scripts(parser: CatalogParser) -> None:
    assert codes(parser, "콤프래샤 진동")["equipment"] == "CMP"  # one wrong vowel
    assert codes(parser, "compresor vibration")["equipment"] == "CMP"
    assert codes(parser, "motor vibrating")["failure_mode"] == "VIB"  # stem


def test_korean_inflections_meet_the_catalog_by_lemma_and_lexicon(parser: CatalogParser) -> None:
    # "새다" is a catalog synonym; "새고 있어요" only meets it as a lemma or through the lexicon.
    assert codes(parser, "펌프에서 물이 새고 있어요")["failure_mode"] == "LEK"
    assert codes(parser, "모터 안돌아감")["equipment"] == "MTR"


def test_the_lexicon_follows_the_catalogs_own_codes(entries: list[CatalogEntry]) -> None:
    forms = {(e.code, phrase) for e, phrase in extra_forms(entries)}
    assert ("LEK", "dripping") in forms  # anchored by "leak" in this catalog
    assert ("1", "immediately") in forms
    # "보통" is this catalog's own word for code 3: the lexicon never gives it to another code.
    assert not any(p == "보통" and c != "3" for c, p in forms)


def test_a_more_specific_code_wins_over_its_parent(parser: CatalogParser) -> None:
    assert codes(parser, "펌프 중 급수펌프 누설")["equipment"] == "PMP-FW"
    assert codes(parser, "부산공장 유틸동 모터 과열")["location"] == "BUS-UT"


def test_the_head_of_a_compound_is_the_subject(parser: CatalogParser) -> None:
    # Issue 15: "compressor motor" is a motor; the compressor stays as context for search.
    assert codes(parser, "압축기 모터 과열")["equipment"] == "MTR"
    assert parser.parse("압축기 모터 과열").context_equipment == ("CMP",)
    assert codes(parser, "압축기 과열, 모터 옆")["equipment"] == "CMP"


def test_measured_levels_are_not_priorities(parser: CatalogParser) -> None:
    assert codes(parser, "compressor vib high")["priority"] is None
    assert codes(parser, "compressor vibration, high priority")["priority"] == "2"
    assert codes(parser, "우선순위 3 모터 소음")["priority"] == "3"


def test_short_codes_and_digits_are_not_words(parser: CatalogParser) -> None:
    got = codes(parser, "1 2 3 in pls")
    assert got == {
        "location": None,
        "equipment": None,
        "failure_mode": None,
        "priority": None,
        "activity": None,
    }


def test_equipment_tag_and_its_letters(parser: CatalogParser, entries: list[CatalogEntry]) -> None:
    result = parser.parse("P-101A 진동 심함 서울")
    assert result.equipment_tag == "P-101A"
    assert result.code("equipment") == "PMP"
    assert result.fields["equipment"].method == "tag"
    entry = tag_equipment("M-305B", entries)
    assert entry is not None and entry.code == "MTR"


def test_confidence_and_missing_fields(parser: CatalogParser) -> None:
    result = parser.parse("컨베이어 소음").as_json()
    assert result["missing"] == ["location", "priority"]
    assert 0.8 < result["confidence"]["equipment"] <= 1.0
    assert result["confidence"]["location"] == 0.0


def test_hostile_text_parses_without_error(parser: CatalogParser) -> None:
    for text in ["", "\x00\x01", "가" * 10_000, "'; DROP TABLE x; --", "😀" * 50, "a/c/" * 300]:
        result = parser.parse(text).as_json()
        assert set(result) >= {"location", "equipment", "missing", "confidence"}


def test_batch_parsing_equals_one_by_one(parser: CatalogParser) -> None:
    texts = ["부산 펌프 누유", "seoul compr vib asap", "모터 소리 남", "nothing here"]
    assert [r.as_json() for r in parser.parse_many(texts)] == [
        parser.parse(t).as_json() for t in texts
    ]
