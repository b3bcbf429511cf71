"""Parsing a names-only catalog: place shorthand, history limits, what is and is not urgency."""

from __future__ import annotations

import pytest

from adapters.domain import CatalogEntry
from agent.parsing.history import Example, HistoryModel
from agent.parsing.history_merge import _within
from agent.parsing.parser import CatalogParser

# Names only, invented plant: nothing in the lexicon names these places.
ENTRIES = [
    CatalogEntry("location", "K7", "7공장", "Plant 7"),
    CatalogEntry("location", "K7-UT", "7공장 유틸리티동", "Plant 7 Utility Building", parent="K7"),
    CatalogEntry("location", "K7-C", "7공장 C동", "Plant 7 Building C", parent="K7"),
    CatalogEntry("location", "K8", "8공장", "Plant 8"),
    CatalogEntry("location", "K8-UT", "8공장 유틸리티동", "Plant 8 Utility Building", parent="K8"),
    CatalogEntry("location", "K8-C", "8공장 C동", "Plant 8 Building C", parent="K8"),
    CatalogEntry("location", "K8-CR", "8공장 압축기실", "Plant 8 Compressor Room", parent="K8"),
    CatalogEntry("equipment", "Q-PMP", "펌프", "Pump"),
    CatalogEntry("equipment", "Q-CMP", "압축기", "Compressor"),
    CatalogEntry("failure_mode", "X-LEK", "외부 누설", "External leakage"),
    CatalogEntry("priority", "1", "긴급", "Emergency"),
    CatalogEntry("priority", "4", "낮음", "Low"),
]


def test_shortened_place_names_resolve_to_the_plant_named_beside_them() -> None:
    parser = CatalogParser(ENTRIES)
    cases = {
        "P8 util bldg pump leaking": "K8-UT",
        "plant 7 utility - pump leak": "K7-UT",
        "8공 유틸동 펌프 누유": "K8-UT",
        "7공 C동 펌프 누유": "K7-C",
        "p7 bldg c pump dripping": "K7-C",
    }
    for text, code in cases.items():
        assert parser.parse(text).code("location") == code, text


def test_a_head_noun_is_not_dropped_when_what_is_left_names_a_machine() -> None:
    parser = CatalogParser(ENTRIES)
    result = parser.parse("plant 8 compressor leaking")
    # "compressor" is the machine here, not the compressor room.
    assert result.code("equipment") == "Q-CMP"
    assert result.code("location") == "K8"


def test_a_history_word_read_inside_what_the_catalog_matched_is_not_new_evidence() -> None:
    # "급하" is how the history reads the "급한" of "급한거 아님": not a word beyond the
    # catalog's own (negated) match, so it may not overrule it.
    assert _within("급하", "급한거 아님", None)
    assert _within("pump", "pump seal", None)
    assert not _within("급하", "펌프", None)


def test_the_history_does_not_place_a_job_on_a_machine_word_alone() -> None:
    history = HistoryModel()
    # "pump" leans to K8-UT (9 of 16: P(place | pump) ≈ 0.57) without naming it: a machine
    # word, not a place's name.
    said = [("pump leaking", "K8-UT")] * 9 + [("pump leaking", "K7-C")] * 7
    said += [("compressor leaking", loc) for loc in ("K7-C", "K7-UT", "K8-C") for _ in range(8)]
    history.add(
        Example(t, {"equipment": "Q-PMP", "failure_mode": "X-LEK", "location": loc})
        for t, loc in said
    )
    taught = CatalogParser(ENTRIES, history=history)
    # Most pumps in this history sat in one place; this text names none.
    assert taught.parse("pump leaking").code("location") is None


_OTHER = (
    ("X-NOI", "noise"),
    ("X-VIB", "vibration"),
    ("X-HOT", "overheating"),
    ("X-PLG", "plugged"),
)


def test_correlated_history_words_do_not_outvote_a_reliable_catalog_read() -> None:
    entries = [
        CatalogEntry("equipment", "Q-VLV", "밸브", "Valve"),
        CatalogEntry("failure_mode", "X-FTC", "닫힘 실패", "Fail to close"),
        CatalogEntry("failure_mode", "X-DOP", "동작 지연", "Delayed operation"),
        CatalogEntry("failure_mode", "X-LEK", "외부 누설", "External leakage"),
        CatalogEntry("failure_mode", "X-NOI", "소음", "Noise"),
        CatalogEntry("failure_mode", "X-VIB", "진동", "Vibration"),
        CatalogEntry("failure_mode", "X-HOT", "과열", "Overheating"),
        CatalogEntry("failure_mode", "X-PLG", "막힘", "Plugged"),
    ]
    # The catalog reads every one of these as its coder did; "to close" only ever came with a
    # failure to close, so naive Bayes alone would bet millions to one on it.
    said = [(f"valve {n} fail to close", "X-FTC") for n in range(20)]
    said += [(f"valve {n} delayed operation", "X-DOP") for n in range(20)]
    said += [(f"valve {n} external leakage", "X-LEK") for n in range(20)]
    said += [(f"valve {n} {name}", code) for code, name in _OTHER for n in range(20)]
    history = HistoryModel()
    history.add(
        Example(t, {"equipment": "Q-VLV", "failure_mode": f, "location": None}) for t, f in said
    )
    taught = CatalogParser(entries, history=history)
    # The lexicon reads "takes" as delayed operation; "to close" is the history's only word.
    assert taught.parse("valve takes 30 s to close").code("failure_mode") == "X-DOP"


def test_inflected_or_hyphenated_priority_words_are_not_urgency() -> None:
    entries = [
        CatalogEntry("equipment", "Q-PMP", "펌프", "Pump"),
        CatalogEntry("priority", "2", "높음", "High"),
        CatalogEntry("priority", "3", "보통", "Normal"),
    ]
    parser = CatalogParser(entries)
    assert parser.parse("pump at 2 bar, normally 4").code("priority") is None
    assert parser.parse("high-bay pump dead").code("priority") is None
    assert parser.parse("pump dead, normal").code("priority") == "3"
    assert parser.parse("pump dead, high").code("priority") == "2"


def test_the_history_reads_the_catalogs_words_with_its_own_kiwi(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from adapters.text.tokenizer import catalog_kiwi
    from agent.parsing import lemmas, matcher, terms

    history = HistoryModel(catalog_kiwi(ENTRIES))
    said = [(f"펌프 급한 {n}", "1") for n in range(12)] + [
        (f"펌프 점검 {n}", "4") for n in range(12)
    ]
    history.add(Example(t, {"equipment": "Q-PMP", "priority": p}) for t, p in said)
    taught = CatalogParser(ENTRIES, history=history)

    def second_model() -> None:
        raise AssertionError("a second Kiwi model (~250 MB per process) was loaded")

    for module in (terms, lemmas, matcher):
        monkeypatch.setattr(module, "plain_kiwi", second_model)
    assert taught.parse("7공장 펌프 누유 급한거 아님").code("priority") == "4"


def test_the_history_refines_a_machine_only_on_words_the_catalog_did_not_read() -> None:
    entries = [
        CatalogEntry("equipment", "Q-PMP", "펌프", "Pump"),
        CatalogEntry("equipment", "Q-PMP-DS", "약품 펌프", "Dosing pump", parent="Q-PMP"),
        CatalogEntry("equipment", "Q-CMP", "압축기", "Compressor"),
        CatalogEntry("failure_mode", "X-LEK", "누설", "Leaking"),
        CatalogEntry("failure_mode", "X-HOT", "과열", "Overheating"),
    ]
    # Most leaking pumps in this history were dosing pumps, written "dp pump" in shorthand.
    said = [(f"dp pump leaking {n}", "Q-PMP-DS", "X-LEK") for n in range(8)]
    said += [(f"pump overheating {n}", "Q-PMP", "X-HOT") for n in range(10)]
    said += [(f"compressor leaking {n}", "Q-CMP", "X-LEK") for n in range(10)]
    history = HistoryModel()
    history.add(
        Example(t, {"equipment": e, "failure_mode": f, "location": None}) for t, e, f in said
    )
    taught = CatalogParser(entries, history=history)
    # "pump" and "leaking" are both read by the catalog: nothing says which pump.
    assert taught.parse("pump leaking").code("equipment") == "Q-PMP"
    # "dp" is the history's own word for the kind of pump.
    assert taught.parse("dp pump leaking").code("equipment") == "Q-PMP-DS"


# A valve's failure modes by name only; the lexicon brings the ways of saying them.
VALVES = [
    CatalogEntry("equipment", "Q-VLV", "밸브", "Valve"),
    CatalogEntry("failure_mode", "X-FTO", "열림 실패", "Fail to open on demand"),
    CatalogEntry("failure_mode", "X-FTC", "닫힘 실패", "Fail to close on demand"),
    CatalogEntry("failure_mode", "X-STP", "정지 실패", "Fail to stop on demand"),
]


def test_a_phrase_is_not_matched_by_its_verb_once_its_negation_is_gone() -> None:
    # '열리지 않' (does not open) has the dictionary form '열리다' (opens) once '않' falls away:
    # that must not make every valve that opens fine a failure to open.
    parser = CatalogParser(VALVES)
    assert parser.parse("밸브 열리지 않음").code("failure_mode") == "X-FTO"
    assert parser.parse("밸브 열리고 나서 압력 정상").code("failure_mode") != "X-FTO"
    assert parser.parse("밸브 닫히고 나서 압력 정상").code("failure_mode") != "X-FTC"
    assert parser.parse("펌프 멈추고 재기동함").code("failure_mode") is None


def test_forms_are_found_by_their_letters_as_a_scan_of_every_form_finds_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agent.parsing import matcher as matching

    parser = CatalogParser(ENTRIES + VALVES)
    texts = [
        "8공 유틸동 펌프 누유 긴급",
        "P8 util bldg pump leaking, valve won't open",
        "밸브 안 열림 7공장 C동",
        "압축기실 압축기 소음 낮음",
        "x",
        "",
    ]
    indexed = [parser.matcher.find(t) for t in texts]

    def scan(_index: object, forms: list[object], compact: str) -> list[object]:
        return [f for f in forms if f.key in compact]  # type: ignore[attr-defined]

    monkeypatch.setattr(matching, "_present", scan)
    assert [parser.matcher.find(t) for t in texts] == indexed
    assert any(indexed)


def test_a_machine_name_is_read_in_the_shorthand_of_its_words() -> None:
    entries = [
        CatalogEntry("equipment", "Q-VLV", "밸브", "Valve"),
        CatalogEntry("equipment", "Q-SDV", "차단 밸브", "Shutdown valve", parent="Q-VLV"),
        CatalogEntry("equipment", "Q-GEN", "발전기", "Generator"),
        CatalogEntry("equipment", "Q-EDG", "비상 발전기", "Emergency generator", parent="Q-GEN"),
    ]
    parser = CatalogParser(entries)
    assert parser.parse("shutdown vlv slow to close").code("equipment") == "Q-SDV"
    assert parser.parse("emergency gen wont start").code("equipment") == "Q-EDG"
    assert parser.parse("emerg generator tripped").code("equipment") == "Q-EDG"


def test_room_names_are_read_as_plants_shorten_them() -> None:
    entries = [
        *ENTRIES,
        CatalogEntry("location", "K8-BR", "8공장 보일러실", "Plant 8 Boiler Room", parent="K8"),
        CatalogEntry(
            "location", "K7-CR", "7공장 중앙제어실", "Plant 7 Central Control Room", parent="K7"
        ),
    ]
    parser = CatalogParser(entries)
    assert parser.parse("plant 8 boiler house pump leaking").code("location") == "K8-BR"
    assert parser.parse("7공 중제실 펌프 누유").code("location") == "K7-CR"


RULED_OUT = [
    *ENTRIES,
    CatalogEntry("failure_mode", "X-VIB", "진동", "Vibration"),
    CatalogEntry("failure_mode", "X-CRK", "균열", "Crack"),
]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("no external leakage, casing cracked", "X-CRK"),
        ("외부 누설 없음, 펌프 균열", "X-CRK"),
        ("not vibrating, dripping", "X-LEK"),
        ("펌프 누유 없음 진동 심함", "X-VIB"),
        ("압축기 누설은 아니고 진동", "X-VIB"),
        # A negation of something else leaves the failure alone.
        ("not urgent, pump dripping", "X-LEK"),
        ("pump not running and dripping", "X-LEK"),
        # A failure feared is not the one found.
        ("base will crack if it keeps vibrating like this", "X-VIB"),
        ("균열 생길 수 있어서 빨리, 펌프 진동 심함", "X-VIB"),
        ("could crack the base, compressor vibrating", "X-VIB"),
        # A suspicion is: "might be leaking" is coded.
        ("pump might be dripping, casing cracked", "X-LEK"),
    ],
)
def test_a_failure_the_text_rules_out_is_not_its_failure_mode(text: str, code: str) -> None:
    assert CatalogParser(RULED_OUT).parse(text).code("failure_mode") == code


# Names only (ISO 14224 mode names), invented codes.
MODES = [
    *ENTRIES,
    CatalogEntry("equipment", "Q-VLV", "밸브", "Valve"),
    CatalogEntry("equipment", "Q-MTR", "모터", "Motor"),
    CatalogEntry("failure_mode", "X-BRD", "고장", "Breakdown"),
    CatalogEntry("failure_mode", "X-FTO", "열림 실패", "Fail to open on demand"),
    CatalogEntry("failure_mode", "X-FTS", "기동 실패", "Fail to start on demand"),
    CatalogEntry("failure_mode", "X-STP", "정지 실패", "Fail to stop on demand"),
    CatalogEntry("failure_mode", "X-OHE", "과열", "Overheating"),
    CatalogEntry("failure_mode", "X-LOO", "출력 저하", "Low output"),
    CatalogEntry("failure_mode", "X-PLU", "막힘", "Plugged"),
    CatalogEntry("failure_mode", "X-NOI", "소음", "Noise"),
]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        # A breakdown beside a failure it names is how it ended, not what failed.
        ("솔밸브 코일 단선, 전원은 들어가는데 안열림", "X-FTO"),
        ("솔밸브 코일 단선", "X-BRD"),
        # The failure concluded, in everyday Korean hedges.
        ("펌프 이상한 소리남. 흡입 쪽 막힌 듯", "X-PLU"),
        # A suspicion stated outranks what a look found on the way to it.
        ("펌프 두드려보니 꽉 찬 소리남. 막힌 듯", "X-PLU"),
        ("펌프 소리남", "X-NOI"),
        # Pressing a button and nothing happening says no more than the word after it.
        ("압축기 stop 버튼 눌러도 안 멈춤", "X-STP"),
    ],
)
def test_the_failure_coded_among_several_named(text: str, code: str) -> None:
    assert CatalogParser(MODES).parse(text).code("failure_mode") == code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("모터 권선온도 135도 알람 평소 95도", "X-OHE"),
        ("motor casing temp 92C, normally sits around 60", "X-OHE"),
        ("압축기 토출압 6바에서 멈춤 (정상 7.5)", "X-LOO"),
        ("pump pressure only gets to 90 bar instead of 140", "X-LOO"),
        ("펌프 진공 -720에서 -650까지", "X-LOO"),
        # Within its normal, or the other way, a reading says nothing.
        ("모터 온도 60도 평소 58도", None),
        ("motor temp 40C, normal 80", None),
        ("압축기 토출압 8.5 (정상 7.5)", None),
    ],
)
def test_a_reading_against_its_normal_says_the_failure(text: str, code: str | None) -> None:
    assert CatalogParser(MODES).parse(text).code("failure_mode") == code


LOANWORDS = [
    CatalogEntry("equipment", "Q-PMP", "펌프", "Pump"),
    CatalogEntry("equipment", "Q-DOS", "정량 펌프", "Dosing pump", parent="Q-PMP"),
    CatalogEntry("equipment", "Q-GD", "가스 감지기", "Gas detector"),
    CatalogEntry("equipment", "Q-BE", "버킷 엘리베이터", "Bucket elevator"),
    CatalogEntry("equipment", "Q-CWP", "냉각수 펌프", "Cooling water pump", parent="Q-PMP"),
]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("도징펌프 과주입됨", "Q-DOS"),
        ("가스디텍터 오알람 계속 울림", "Q-GD"),
        ("버켓엘베 체인 늘어나서 소리남", "Q-BE"),
        ("P2 L1 cw pp #2 vibrating bad", "Q-CWP"),
    ],
)
def test_a_machine_name_is_read_as_korean_technicians_spell_its_english_words(
    text: str, code: str
) -> None:
    assert CatalogParser(LOANWORDS).parse(text).code("equipment") == code


def test_a_phrase_that_says_priority_outranks_an_urgency_word_after_it() -> None:
    entries = [*MODES, CatalogEntry("priority", "2", "높음", "High")]
    parser = CatalogParser(entries)
    assert parser.parse("low priority: high bay pump by the dock dripping").code("priority") == "4"
    assert parser.parse("pump dripping, high").code("priority") == "2"


# Invented machines and places, names only: the lexicon's abbreviations, the names' own heads.
NAMES_ONLY = [
    CatalogEntry("equipment", "M-CMP", "압축기", "Compressor"),
    CatalogEntry("equipment", "M-TRF", "변압기", "Transformer"),
    CatalogEntry("equipment", "M-TNK", "저장 탱크", "Storage tank"),
    CatalogEntry("equipment", "M-PMP", "펌프", "Pump"),
    CatalogEntry("equipment", "M-PMP-D", "약품 펌프", "Dosing pump", parent="M-PMP"),
    CatalogEntry("equipment", "M-SNS-L", "레벨 센서", "Level sensor"),
    CatalogEntry("equipment", "M-SNS-T", "온도 센서", "Temperature sensor"),
    CatalogEntry("equipment", "M-BLR", "보일러", "Boiler"),
    CatalogEntry("equipment", "M-FAN", "송풍기", "Fan"),
    CatalogEntry("location", "S30", "냉각탑 구역", "Cooling tower area"),
    CatalogEntry("location", "S50", "보일러 하우스", "Boiler house"),
    CatalogEntry("location", "S10", "상압증류공정", "Crude distillation unit"),
    CatalogEntry("location", "S70", "포장 라인", "Packing line"),
    CatalogEntry("location", "S90", "급수 펌프실", "Main feed pump room"),
]


@pytest.mark.parametrize(
    ("text", "field", "code"),
    [
        ("compr tripped again", "equipment", "M-CMP"),  # a one-word name, shortened
        ("xfmr humming loud", "equipment", "M-TRF"),
        ("tank overflowing at the yard", "equipment", "M-TNK"),  # the only machine headed "tank"
        ("탱크 넘침", "equipment", "M-TNK"),
        ("pump leaking", "equipment", "M-PMP"),  # a name of its own, not the dosing pump's head
        ("sensor reading zero", "equipment", None),  # two sensors: the head alone says neither
        ("fan noisy at the cooling tower", "location", "S30"),  # a place without its "area"
        ("냉각탑 송풍기 소음", "location", "S30"),
        ("boiler tripped", "location", None),  # "boiler" without its "house" is the machine
        ("CDU feed pump leaking", "location", "S10"),  # initials of three words
        ("CTA fan noisy", "location", "S30"),
        ("pump leaking pls check", "location", None),  # two letters ("pl") would read "pls"
        ("main feed pump room flooded", "location", "S90"),
        # "main feed pump" names a pump, so its initials name no place either.
        ("mfp tripped", "location", None),
    ],
)
def test_a_name_read_in_shorthand_or_by_its_telling_part(
    text: str, field: str, code: str | None
) -> None:
    assert CatalogParser(NAMES_ONLY).parse(text).code(field) == code
