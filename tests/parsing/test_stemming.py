"""The matcher's English stemming: inflections of one word meet, different words do not."""

from __future__ import annotations

import threading

from agent.parsing.textnorm import stem_en


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
