"""What the history may not read into a text: urgency from a level, a place from a machine,
a kind from a part, a failure from a request. Names-only catalog of an invented plant."""

from __future__ import annotations

from adapters.domain import CatalogEntry
from agent.parsing.history import Example, HistoryModel
from agent.parsing.history_merge import _place_word
from agent.parsing.parser import CatalogParser

ENTRIES = [
    CatalogEntry("location", "K8", "8공장", "Plant 8"),
    CatalogEntry("location", "K8-UT", "8공장 유틸리티동", "Plant 8 Utility Building", parent="K8"),
    CatalogEntry("location", "K8-C", "8공장 C동", "Plant 8 Building C", parent="K8"),
    CatalogEntry("equipment", "Q-PMP", "펌프", "Pump"),
    CatalogEntry("equipment", "Q-PMP-CW", "냉각수 펌프", "Cooling water pump", parent="Q-PMP"),
    CatalogEntry("equipment", "Q-SNS", "센서", "Sensor"),
    CatalogEntry("failure_mode", "X-VIB", "진동", "Vibration"),
    CatalogEntry("failure_mode", "X-LEK", "외부 누설", "External leakage"),
    CatalogEntry("failure_mode", "X-HOT", "과열", "Overheating"),
    CatalogEntry("failure_mode", "X-PLG", "막힘", "Plugged"),
    CatalogEntry("failure_mode", "X-BRK", "고장", "Breakdown"),
    CatalogEntry("priority", "2", "높음", "High"),
    CatalogEntry("priority", "3", "보통", "Normal"),
    CatalogEntry("priority", "4", "낮음", "Low"),
    CatalogEntry("activity", "A-INS", "점검", "Inspection"),
]


def _taught(
    said: list[tuple[str, dict[str, str | None]]], entries: list[CatalogEntry] = ENTRIES
) -> CatalogParser:
    history = HistoryModel()
    history.add(Example(text, codes) for text, codes in said)
    return CatalogParser(entries, history=history)


def test_a_measured_high_is_not_urgency_even_where_the_history_coded_it_urgent() -> None:
    # Every "vibration high" of this history was coded priority 2: "high" became its word for 2.
    said: list[tuple[str, dict[str, str | None]]] = [
        (f"pump vibration high {n}", {"equipment": "Q-PMP", "priority": "2"}) for n in range(12)
    ]
    said += [(f"pump leaking {n}", {"equipment": "Q-PMP", "priority": "3"}) for n in range(30)]
    taught = _taught(said)
    assert taught.parse("sensor vibration high").code("priority") is None
    assert taught.parse("sensor dead, high").code("priority") == "2"


def test_a_machine_read_beside_the_one_worked_on_does_not_place_the_job() -> None:
    # Every pump of this history sat in the utility building.
    said: list[tuple[str, dict[str, str | None]]] = [
        (f"pump leaking {n}", {"equipment": "Q-PMP", "location": "K8-UT"}) for n in range(12)
    ]
    said += [(f"line dripping {n}", {"location": "K8-C"}) for n in range(30)]
    result = _taught(said).parse("sensor reads zero while pump running")
    assert result.code("equipment") == "Q-SNS"
    assert result.code("location") is None


def test_a_word_after_the_machine_names_a_part_not_a_kind_of_it() -> None:
    # Bearing jobs of this history were all on cooling water pumps, written "cw pump".
    said: list[tuple[str, dict[str, str | None]]] = [
        (f"cw pump bearing {word} {n}", {"equipment": "Q-PMP-CW", "failure_mode": code})
        for n in range(5)
        for word, code in (("hot", "X-HOT"), ("shaking", "X-VIB"), ("leaking", "X-LEK"))
    ]
    said += [
        (f"pump leaking {n}", {"equipment": "Q-PMP", "failure_mode": "X-LEK"}) for n in range(10)
    ]
    said += [
        (f"sensor hot {n}", {"equipment": "Q-SNS", "failure_mode": "X-HOT"}) for n in range(10)
    ]
    taught = _taught(said)
    assert taught.parse("pump bearing hot").code("equipment") == "Q-PMP"
    assert taught.parse("cw pump hot").code("equipment") == "Q-PMP-CW"


def test_a_request_for_work_gets_no_failure_from_a_word_of_asking() -> None:
    # "요청" came with a breakdown half the time, with a leak the other half.
    said: list[tuple[str, dict[str, str | None]]] = [
        (f"펌프 요청 {n}", {"equipment": "Q-PMP", "failure_mode": code})
        for n in range(6)
        for code in ("X-BRK", "X-LEK")
    ]
    said += [
        (f"pump blorked {n}", {"equipment": "Q-PMP", "failure_mode": "X-PLG"}) for n in range(30)
    ]
    taught = _taught(said)
    # Without a request for work the history's best guess is still put on the field ...
    assert taught.parse("펌프 요청합니다").code("failure_mode") is not None
    # ... with one ("점검": inspection) the text has named its purpose.
    assert taught.parse("펌프 점검 요청합니다").code("failure_mode") is None


def test_a_normal_state_is_not_normal_urgency() -> None:
    parser = CatalogParser(ENTRIES)
    for text in (
        "pump header pressure was normal, sensor dead",
        "sensor dropping twice as fast as normal",
        "pump running normal but sensor dead",
        "센서 온도가 평소보다 높음",
    ):
        assert parser.parse(text).code("priority") is None, text
    assert parser.parse("sensor dead, normal").code("priority") == "3"
    assert parser.parse("센서 교체 평소대로 처리").code("priority") == "3"


def test_a_time_frame_after_a_hedge_says_how_soon() -> None:
    # "Not urgent" hedges; the time frame after it is what was asked for.
    parser = CatalogParser(ENTRIES)
    assert parser.parse("pump leaking, not urgent but this week").code("priority") == "3"
    assert parser.parse("펌프 누유 급하진 않은데 이번주 안에").code("priority") == "3"


def test_the_urgent_of_a_not_urgent_is_no_new_word_for_urgency() -> None:
    # In this history "urgent" was said of emergencies; the catalog read "not urgent" here.
    said: list[tuple[str, dict[str, str | None]]] = [
        (f"pump leaking urgent {n}", {"equipment": "Q-PMP", "priority": "1"}) for n in range(12)
    ]
    said += [(f"sensor dead {n}", {"equipment": "Q-SNS", "priority": "3"}) for n in range(30)]
    entries = [*ENTRIES, CatalogEntry("priority", "1", "긴급", "Emergency")]
    history = HistoryModel()
    history.add(Example(text, codes) for text, codes in said)
    taught = CatalogParser(entries, history=history)
    assert taught.parse("pump noisy, not urgent, when possible").code("priority") == "4"


def test_the_failure_a_technician_concluded_is_the_one_coded() -> None:
    parser = CatalogParser(ENTRIES)
    for text in (
        "pump running hot, found the strainer plugged",
        "pump running hot, think its plugged",
        "펌프 과열 봤더니 흡입측 막혀있음",
        "펌프 과열, 흡입측 막힘 의심",
    ):
        assert parser.parse(text).code("failure_mode") == "X-PLG", text
    # Without a word of diagnosis the first symptom named stays the failure.
    assert parser.parse("pump running hot and plugged").code("failure_mode") == "X-HOT"


def test_a_function_word_is_no_evidence_however_the_history_leaned() -> None:
    # By chance every "it" of this history came with a plugged pump.
    said: list[tuple[str, dict[str, str | None]]] = [
        (f"pump {n} blorked again, fix it", {"equipment": "Q-PMP", "failure_mode": "X-PLG"})
        for n in range(12)
    ]
    said += [
        (f"pump {n} leaking", {"equipment": "Q-PMP", "failure_mode": "X-LEK"}) for n in range(30)
    ]
    taught = _taught(said)
    text = "sensor shows 50 with the pump off, need it today"
    assert taught.parse(text).code("failure_mode") is None
    assert taught.parse("pump blorked").code("failure_mode") == "X-PLG"


def test_a_place_nickname_places_the_job_and_a_word_of_the_machine_does_not() -> None:
    # Steam jobs were on the steam piping, most of them in the utility building; "ut bay" is that
    # building's nickname, said of every kind of machine there (the place words of a history must
    # still place a job once words said of machines no longer do).
    entries = [*ENTRIES, CatalogEntry("equipment", "Q-STM", "스팀 배관", "Steam piping")]
    said: list[tuple[str, dict[str, str | None]]] = [
        (f"steam hissing {n}", {"equipment": "Q-STM", "location": place})
        for n in range(5)
        for place in ("K8-UT", "K8-UT", "K8-C")
    ]
    said += [
        (f"ut bay {machine} {n}", {"equipment": code, "location": "K8-UT"})
        for n in range(4)
        for machine, code in (("pump", "Q-PMP"), ("sensor", "Q-SNS"))
    ]
    said += [(f"pump leaking {n}", {"equipment": "Q-PMP", "location": "K8-C"}) for n in range(20)]
    taught = _taught(said, entries)
    assert taught.parse("steam hissing").code("location") is None
    assert taught.parse("ut bay pump leaking").code("location") == "K8-UT"


def test_a_tag_number_does_not_place_the_job() -> None:
    # Every V-201 job so far was in the utility building: the number names the vessel, not where.
    said: list[tuple[str, dict[str, str | None]]] = [
        (f"V-201 leaking {n}", {"location": "K8-UT"}) for n in range(10)
    ]
    said += [(f"pump leaking {n}", {"equipment": "Q-PMP", "location": "K8-C"}) for n in range(20)]
    assert _taught(said).parse("V-201 leaking at flange").code("location") is None


def test_a_word_of_places_is_one_the_notes_used_for_where_more_than_for_anything_else() -> None:
    # The words a location is read from or refined by (history_merge._place_word): "need" came
    # with urgency every time, in whatever building; "ut bay" with every job of one building.
    said: list[tuple[str, dict[str, str | None]]] = [
        (f"need it today {n}", {"priority": "2", "location": place})
        for n in range(5)
        for place in ("K8-UT", "K8-UT", "K8-C")
    ]
    said += [
        (f"ut bay {machine} {n}", {"equipment": code, "location": "K8-UT"})
        for n in range(6)
        for machine, code in (("pump", "Q-PMP"), ("sensor", "Q-SNS"))
    ]
    said += [(f"pump leaking {n}", {"equipment": "Q-PMP", "location": "K8-C"}) for n in range(20)]
    history = _taught(said).history
    assert history is not None
    assert _place_word("ut", history)
    assert not _place_word("need", history)
    assert not _place_word("pump", history)
