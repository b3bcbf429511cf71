"""The matcher's English stemming: inflections of one word meet, different words do not."""

from __future__ import annotations

import threading

from adapters.domain import CatalogEntry
from agent.parsing.matcher import CatalogMatcher
from agent.parsing.parser import CatalogParser
from agent.parsing.textnorm import normalize, stem_en


def test_inflections_meet() -> None:
    for forms in (
        ("leak", "leaks", "leaking", "leaked"),
        ("vibrating", "vibration", "vibrations"),
        ("overheating", "overheated"),
        ("pump", "pumps", "pumping"),
    ):
        assert len({stem_en(f) for f in forms}) == 1, forms


def test_different_words_stay_apart() -> None:
    assert stem_en("pump") != stem_en("pipe")
    assert stem_en("crack") != stem_en("creak")
    assert stem_en("valve") != stem_en("value")


def test_threads_get_the_same_stems() -> None:
    words = ["leaking", "vibration", "bearings", "compressors", "choked"] * 200
    expected = [stem_en(w) for w in words]
    results: list[list[str]] = []

    def run() -> None:
        results.append([stem_en(w) for w in words])

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 4


def _names_only() -> list[CatalogEntry]:
    # Names only, no synonyms, no lexicon: what matches is the stems of the catalog's own words.
    return [
        CatalogEntry("equipment", "E1", "", "Relief valve"),
        CatalogEntry("equipment", "E2", "", "Conveyor belt"),
        CatalogEntry("failure_mode", "F1", "", "Lifts early"),
        CatalogEntry("failure_mode", "F2", "", "Fail to close"),
        CatalogEntry("priority", "P1", "", "Urgent"),
    ]


def _found(text: str) -> dict[str, tuple[str, str]]:
    matcher = CatalogMatcher(_names_only())
    norm = normalize(text)
    return {m.entry.code: (m.surface, m.method) for m in matcher.find(norm)}


def test_every_word_of_a_phrase_is_read_by_its_stem() -> None:
    found = _found("relief valves lifting early again, 3 times today")
    assert found["F1"] == ("lifting early", "stem")
    assert found["E1"][0] == "relief valves"
    assert _found("the belt conveyors failed to close the gate")["F2"] == (
        "failed to close",
        "stem",
    )
    # Mixed with Korean, as technicians write: the Latin words still meet.
    assert _found("safety relief valve가 lift early 함")["F1"] == ("lift early", "stem")


def test_stems_must_follow_one_another() -> None:
    found = _found("lifts the cover early")
    assert "F1" not in found
    assert "F1" not in _found("lifts 오늘 early")


def test_urgency_is_not_read_from_an_inflection() -> None:
    # The lexicon's urgency phrases are set words too: "urgently" is no priority.
    parser = CatalogParser(_names_only())
    assert parser.parse("relief valve urgently needs a look").fields["priority"].code is None
    assert parser.parse("relief valve lifting early, urgent").fields["priority"].code == "P1"
