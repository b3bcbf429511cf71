"""History as a teacher, and the head of a compound, on a small names-only catalog."""

from __future__ import annotations

from adapters.domain import CatalogEntry
from agent.parsing.attribution import Notes, attribute
from agent.parsing.history import Example, HistoryModel
from agent.parsing.parser import CatalogParser

# Names only, no synonyms: a plant PMark has never seen.
ENTRIES = [
    CatalogEntry("location", "ZA", "정제 구역", "Refining area"),
    CatalogEntry("location", "ZB", "출하 구역", "Shipping area"),
    CatalogEntry("location", "ZC", "저장 구역", "Storage area"),
    CatalogEntry("equipment", "E-PMP", "펌프", "Pump"),
    CatalogEntry("equipment", "E-MTR", "모터", "Motor"),
    CatalogEntry("equipment", "E-VLV", "밸브", "Valve"),
    CatalogEntry("equipment", "E-SNS", "센서", "Sensor"),
    CatalogEntry("equipment", "E-TNK", "탱크", "Tank"),
    CatalogEntry("failure_mode", "F-PLG", "막힘", "Plugged"),
    CatalogEntry("failure_mode", "F-BRK", "고장", "Breakdown"),
    CatalogEntry("failure_mode", "F-HOT", "과열", "Overheating"),
    CatalogEntry("failure_mode", "F-LEK", "외부 누설", "External leakage"),
    CatalogEntry("priority", "1", "긴급", "Emergency"),
    CatalogEntry("priority", "3", "보통", "Normal"),
]


def _history() -> HistoryModel:
    said = [
        ("strainer blorked up again at the tank", "E-TNK", "F-PLG", "ZA"),
        ("pump inlet blorked up", "E-PMP", "F-PLG", "ZA"),
        ("valve kaputt need new one", "E-VLV", "F-BRK", "ZB"),
        ("motor kaputt tripped hard", "E-MTR", "F-BRK", "ZB"),
        ("pump running hot n smelly", "E-PMP", "F-HOT", "ZA"),
        ("motor running hot", "E-MTR", "F-HOT", "ZB"),
        ("tank dripping everywhere", "E-TNK", "F-LEK", "ZB"),
        ("pump dripping at seal", "E-PMP", "F-LEK", "ZA"),
        ("rfn area pump dripping", "E-PMP", "F-LEK", "ZA"),
        ("shipping dock valve dripping", "E-VLV", "F-LEK", "ZB"),
        ("rfn sensor kaputt", "E-SNS", "F-BRK", "ZA"),
        ("dock motor blorked up", "E-MTR", "F-PLG", "ZB"),
        ("rfn motor running hot", "E-MTR", "F-HOT", "ZA"),
        ("dock tank kaputt", "E-TNK", "F-BRK", "ZB"),
        ("rfn valve blorked up", "E-VLV", "F-PLG", "ZA"),
        ("yard tank running hot", "E-TNK", "F-HOT", "ZC"),
        ("yard pump kaputt", "E-PMP", "F-BRK", "ZC"),
        ("yard valve dripping", "E-VLV", "F-LEK", "ZC"),
        ("yard sensor blorked up", "E-SNS", "F-PLG", "ZC"),
    ]
    model = HistoryModel()
    model.add(
        Example(t, {"equipment": e, "failure_mode": f, "location": loc, "priority": "3"})
        for t, e, f, loc in said
    )
    return model


def test_history_teaches_shorthand_the_catalog_does_not_name() -> None:
    plain = CatalogParser(ENTRIES)
    taught = CatalogParser(ENTRIES, history=_history())
    for text, code in (("valve blorked up", "F-PLG"), ("sensor kaputt", "F-BRK")):
        assert plain.parse(text).code("failure_mode") is None
        got = taught.parse(text).fields["failure_mode"]
        assert got.code == code, text
        assert got.method == "history" and got.words
    assert plain.parse("yard motor dripping").code("location") is None
    assert taught.parse("yard motor dripping").code("location") == "ZC"


def test_history_does_not_overrule_a_clear_catalog_name_it_never_saw_against() -> None:
    taught = CatalogParser(ENTRIES, history=_history())
    result = taught.parse("펌프 과열 긴급")
    assert result.code("equipment") == "E-PMP"
    assert result.code("failure_mode") == "F-HOT"
    assert result.code("priority") == "1"


def test_confidence_is_a_probability_that_grows_with_agreement() -> None:
    taught = CatalogParser(ENTRIES, history=_history())
    alone = taught.parse("tank blorked up").fields["failure_mode"]
    both = taught.parse("tank blorked up, plugged").fields["failure_mode"]
    assert alone.code == both.code == "F-PLG"
    assert 0.0 < alone.confidence <= both.confidence <= 1.0


def test_a_correction_changes_the_next_parse_of_the_same_phrase() -> None:
    history = _history()
    parser = CatalogParser(ENTRIES, history=history)
    text = "pump blorked up"
    assert parser.parse(text).code("failure_mode") == "F-PLG"
    history.correct(text, "failure_mode", "F-BRK")
    after = parser.parse(text).fields["failure_mode"]
    assert after.code == "F-BRK" and after.method == "correction"


def test_head_of_a_compound_is_the_object_worked_on() -> None:
    parser = CatalogParser(ENTRIES)
    cases = {
        "pump motor running hot": "E-MTR",
        "펌프 모터 과열": "E-MTR",
        "tank level sensor broken": "E-SNS",
        "탱크 레벨 센서 고장": "E-SNS",
        "탱크레벨센서 고장": "E-SNS",
        "valve leaking, near the pump": "E-VLV",
    }
    for text, code in cases.items():
        result = parser.parse(text)
        assert result.code("equipment") == code, text
    assert parser.parse("pump motor running hot").context_equipment == ("E-PMP",)


def test_notes_keep_each_word_once_and_a_code_id_per_field() -> None:
    notes = Notes(("equipment", "failure_mode"))
    notes.add({"pump": 1.0, "leak": 1.0}, {"equipment": "P", "failure_mode": "L"}, 1.0)
    notes.add({"pump": 1.0, "noisy": 0.5}, {"equipment": "P"}, 4.0)
    assert len(notes) == 2
    assert notes.names == ["pump", "leak", "noisy"]
    assert list(notes.codes["equipment"]) == [0, 0]
    assert list(notes.codes["failure_mode"]) == [0, -1]  # the second note left it uncoded
    assert notes.background() == {"pump": 5.0, "leak": 1.0, "noisy": 2.0}


def test_attribution_gives_a_word_to_the_field_that_explains_it_in_every_note() -> None:
    notes = Notes(("equipment", "failure_mode"))
    # Each note also names its own failure: only the transformer explains "트랜스" in all four.
    for failure in ("L", "N", "V", "W"):
        feats = {"트랜스": 1.0, failure.lower(): 1.0}
        notes.add(feats, {"equipment": "TRF", "failure_mode": failure}, 1.0)
    tables = attribute(notes)
    equipment = sum(tables["equipment"]["트랜스"].values())
    failure = sum(tables["failure_mode"].get("트랜스", {}).values())
    assert equipment > 10 * failure
    assert tables["failure_mode"]["l"] == {"L": tables["failure_mode"]["l"]["L"]}
