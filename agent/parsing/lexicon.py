"""How technicians say things that catalogs rarely list: maintenance language, not plant data.

Each concept names the catalog entry it belongs to by *anchors* (the standard ISO 14224 / plant
terms a catalog uses for it, e.g. "fail to start"); the concept's phrases then work for whatever
code that catalog gives the entry. A phrase that the catalog already uses for another code of the
same category is dropped: the plant's own words always win.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from adapters.domain import CatalogEntry
from agent.parsing.textnorm import normalize


@dataclass(frozen=True)
class Concept:
    """A meaning with the catalog terms that identify it and the ways people write it."""

    category: str
    anchors: tuple[str, ...]
    phrases: tuple[str, ...]


def _c(category: str, anchors: str, phrases: str) -> Concept:
    return Concept(category, tuple(anchors.split("|")), tuple(phrases.split("|")))


CONCEPTS: tuple[Concept, ...] = (
    _c(
        "failure_mode",
        "external leakage|leak|leakage|누설|누유|누수",
        "새고|새요|새는|새어|새네|새서|샘|흘러|흐름|줄줄|뚝뚝|맺힘|물이 고여|고여있|기름 묻|오일 묻|"
        "dripping|drips|drip|seeping|weeping|puddle|spill|spilling|oil on floor|"
        "water on floor|leak from|leaks from",
    ),
    _c(
        "failure_mode",
        "fail to start|fail to start on demand|won't start|기동 실패|기동불가",
        "안돌아감|안 돌아감|안돌아가|안 돌아가|작동 안함|작동안함|작동 안 함|가동 안됨|가동안됨|"
        "가동 안 됨|시동 안걸림|시동 안 걸림|시동 불량|점화 안됨|점화안됨|점화 불량|기동 불량|"
        "기동 안 됨|안 켜져|안켜져|안켜짐|전원 안들어옴|전원 안 들어옴|won't run|doesn't start|"
        "does not start|not starting|failed to start|fails to start|no start|can't start|"
        "cannot start|won't turn on|won't fire|failed to fire|does not run",
    ),
    _c(
        "failure_mode",
        "breakdown|broken|고장|파손",
        "끊어짐|끊어졌|끊김|끊겼|단선|나갔|나감|터짐|터졌|깨졌|부러졌|파손됨|망가짐|망가졌|먹통|"
        "작동 불능|고장났|고장 났|안먹음|안 먹음|못씀|찢어짐|찢어졌|stopped|stopped running|dead|snapped|torn|burst|burnt out|"
        "burned out|blown|out of order|stopped working|inoperable|failed|failure|broke",
    ),
    _c(
        "failure_mode",
        "overheating|overheat|과열",
        "온도 높음|온도높음|온도가 높|온도 높아|온도 상승|뜨거워|뜨겁|열이 많이|열남|열이 나|타는 냄새|"
        "고온 알람|temp high|high temperature|too hot|hot running|burning smell|"
        "temperature alarm|temp alarm|getting hot|runs hot",
    ),
    _c(
        "failure_mode",
        "low output|low flow|출력 저하|토출 부족",
        "약해요|약함|약하다|약해짐|안나옴|안 나옴|안나와|안 나와|부족|저하|안 올라|안올라|안 올라와|"
        "not enough flow|weak flow|low suction|low vacuum|won't build pressure|pressure drop|"
        "flow drop|no flow|low discharge|reduced capacity|poor performance|weak discharge|"
        "not enough pressure|losing pressure|low capacity",
    ),
    _c(
        "failure_mode",
        "abnormal instrument reading|wrong reading|지시 이상|계기 오류",
        "값이 이상|값 이상|표시 이상|지시가 이상|이상하게 나옴|값이 안맞|값 안맞|reading wrong|"
        "reads wrong|wrong value|bad value|showing wrong|display error|reading error|"
        "false reading|reading off|reads zero",
    ),
    _c(
        "failure_mode",
        "erratic output|erratic|불규칙 출력|헌팅",
        "튐|튀어|튀네|왔다갔다|들쭉날쭉|요동|jumping|bouncing|unstable reading|fluctuates|"
        "fluctuation|swinging|hunting",
    ),
    _c(
        "failure_mode",
        "noise|abnormal sound|소음|이음",
        "소리남|소리 남|소리가 나|소리 나|시끄러|끼익|덜컹|윙윙|웅웅|딱딱|딸깍|쇳소리|squeal|"
        "squeaking|grinding|knocking|humming|banging|clunking|whining|screeching|loud",
    ),
    _c(
        "failure_mode",
        "vibration|vibrating|진동",
        "떨려|떨림|흔들려|흔들림|shaking|shakes|wobbling|vibrates|vibes|shudder",
    ),
    _c(
        "failure_mode",
        "plugged|clogged|plugged/choked|막힘",
        "막혀|막힌|막혔|안 빠짐|안빠짐|배수 안됨|차압 높|차압 상승|차압 high|blocked|choked|plugging|"
        "high differential pressure|high dp|clogging|restricted",
    ),
    _c(
        "failure_mode",
        "fail to open|fail to open on demand|열림 실패",
        "안 열려|안열려|안 열림|안열림|열리지 않|won't open|doesn't open|does not open|stuck shut|"
        "stuck closed|not opening",
    ),
    _c(
        "failure_mode",
        "fail to close|fail to close on demand|닫힘 실패",
        "안 닫혀|안닫혀|안 닫힘|안닫힘|닫히지 않|won't close|doesn't close|does not close|"
        "stuck open|not closing",
    ),
    _c(
        "failure_mode",
        "spurious stop|trip|불시 정지",
        "트립|꺼짐|꺼졌|갑자기 멈|혼자 멈|정지됨|섰어요|섰음|멈췄|tripped|trips|tripping|"
        "shut down by itself|shuts down|cut out|cuts out|stops by itself|keeps stopping",
    ),
    _c(
        "failure_mode",
        "structural deficiency|crack|구조적 결함|균열",
        "금감|금이 감|금 갔|갈라짐|갈라졌|녹슴|녹슬|삭음|구멍|찌그러|cracked|cracking|rusted|"
        "rusty|corroded|hole|dent|dented|bent",
    ),
    _c(
        "failure_mode",
        "minor in-service problems|loose|경미한 문제|헐거움",
        "헐거워|풀림|풀렸|느슨|덜렁|흔들거림|loose|loosened|wobbly|came loose",
    ),
    _c(
        "failure_mode",
        "internal leakage|passing|내부 누설",
        "패싱|내부누설|내부 누설|새어 들어|lets by|letting by|passing through|seat leaking",
    ),
    _c(
        "failure_mode",
        "high output|overpressure|출력 과다",
        "압력 너무 높|과압|압력 과다|too much pressure|pressure too high|over pressure",
    ),
    _c(
        "failure_mode",
        "fail to stop|fail to stop on demand|정지 실패",
        "안 꺼짐|안꺼짐|안 멈춤|안멈춤|정지 안됨|정지 안 됨|won't stop|doesn't stop|can't stop",
    ),
    _c(
        "failure_mode",
        "delayed operation|동작 지연",
        "느려|늦게|반응 늦|slow to respond|sluggish|delayed|lagging|slow response",
    ),
    _c(
        "failure_mode",
        "spurious operation|malfunction|오작동",
        "오작동|오동작|저절로|혼자 작동|malfunctioning|acting up|misbehaving",
    ),
    _c(
        "failure_mode",
        "parameter deviation|drift|파라미터 편차",
        "설정값 벗어|벗어남|편차 큼|out of spec|off spec|drifting|drifted|deviation",
    ),
    _c(
        "priority",
        "emergency|urgent|긴급",
        "즉시|당장|지금 당장|급함|급해요|급합니다|급하게|급해|위험|asap|immediately|right now|"
        "right away|critical|urgent|emergency|safety issue|line down|라인 정지|생산 중단",
    ),
    _c(
        "priority",
        "high|높음",
        "빨리|빠른|오늘 중|오늘중|오늘까지|soon|quickly|today|high priority|hurry",
    ),
    _c(
        "priority",
        "medium|normal|보통",
        "일반|보통|평소대로|normal priority|routine|standard|medium priority|not urgent but",
    ),
    _c(
        "priority",
        "low|낮음",
        "천천히|여유|급한건 아님|급한 건 아님|급한거 아님|급한 거 아님|급하지 않|안 급|안급|급하진 않|"
        "나중에|시간 날 때|시간날때|시간 될 때|다음 정비|다음 pm|when possible|when you can|"
        "no rush|not urgent|low priority|whenever|next shutdown|next pm|no hurry",
    ),
    _c(
        "activity",
        "replace|교체",
        "교환|갈아|바꿔|바꾸|교체 필요|swap|change out|changeout|replace|replacement|repl",
    ),
    _c("activity", "repair|수리", "고쳐|수리 필요|수리해|fix|fixing|mend|repair"),
    _c(
        "activity",
        "inspect|inspection|점검",
        "봐주세요|봐 주세요|확인 부탁|확인 요망|확인해|체크|check|look at|take a look|inspect",
    ),
    _c(
        "activity",
        "lubricate|주유|급유",
        "그리스|기름칠|오일 보충|grease|greasing|lube|oil top up|top up oil",
    ),
    _c("activity", "clean|청소", "청소|세척|닦아|flush|cleaning|wash"),
    _c("activity", "calibrate|교정", "교정|캘리브레이션|영점|calibration|recalibrate|zero check"),
    _c("activity", "tighten|체결", "조여|조임|체결|retighten|torque|re-torque"),
    _c("activity", "adjust|조정", "조정|조절|맞춰|adjustment|realign|alignment|align"),
    _c("activity", "overhaul|오버홀", "오버홀|분해 정비|overhaul|rebuild"),
)

# ISA-style tag letters (P-101A is a pump); used only when the text names no equipment.
TAG_PREFIXES: dict[str, tuple[str, ...]] = {
    "P": ("pump",),
    "PU": ("pump",),
    "PMP": ("pump",),
    "C": ("compressor",),
    "K": ("compressor",),
    "CP": ("compressor",),
    "AC": ("air compressor", "compressor"),
    "M": ("electric motor", "motor"),
    "EM": ("electric motor", "motor"),
    "MTR": ("electric motor", "motor"),
    "E": ("heat exchanger",),
    "HX": ("heat exchanger",),
    "HE": ("heat exchanger",),
    "TK": ("tank", "vessel"),
    "T": ("tank", "vessel"),
    "V": ("vessel", "tank"),
    "B": ("boiler",),
    "BLR": ("boiler",),
    "F": ("fan", "blower", "fan/blower"),
    "FN": ("fan", "fan/blower"),
    "BL": ("blower", "fan/blower"),
    "G": ("generator",),
    "GEN": ("generator",),
    "TR": ("transformer",),
    "XFMR": ("transformer",),
    "AG": ("agitator", "mixer"),
    "MX": ("mixer", "agitator"),
    "CT": ("cooling tower",),
    "CH": ("chiller",),
    "GB": ("gearbox",),
    "CR": ("crane",),
    "FLT": ("filter",),
    "XV": ("valve",),
    "FV": ("valve", "control valve"),
    "PV": ("valve", "control valve"),
    "LV": ("valve", "control valve"),
    "TV": ("valve", "control valve"),
    "PSV": ("safety valve", "psv", "valve"),
    "PT": ("pressure transmitter", "instrument"),
    "TT": ("temperature transmitter", "instrument"),
    "FT": ("flow transmitter", "instrument"),
    "LT": ("level transmitter", "instrument"),
}


def _forms(entry: CatalogEntry) -> set[str]:
    return {normalize(f) for f in (entry.name_ko, entry.name_en, *entry.synonyms)}


def resolve(
    anchors: Iterable[str], category: str, entries: Iterable[CatalogEntry]
) -> CatalogEntry | None:
    """The catalog entry of a category whose names include the earliest-listed anchor."""
    pool = [e for e in entries if e.category == category]
    for anchor in anchors:
        key = normalize(anchor)
        hits = [e for e in pool if key in _forms(e)]
        if len(hits) == 1:
            return hits[0]
        if hits:
            # Several codes share the word: the most general one (no parent) is meant.
            top = [e for e in hits if not e.parent]
            if len(top) == 1:
                return top[0]
    return None


def extra_forms(entries: Iterable[CatalogEntry]) -> Iterator[tuple[CatalogEntry, str]]:
    """(entry, phrase) pairs the lexicon adds to a catalog."""
    entries = list(entries)
    taken: dict[tuple[str, str], str] = {}
    for e in entries:
        for f in _forms(e):
            taken.setdefault((e.category, f), e.code)
    for concept in CONCEPTS:
        entry = resolve(concept.anchors, concept.category, entries)
        if entry is None:
            continue
        for phrase in concept.phrases:
            key = (concept.category, normalize(phrase))
            owner = taken.get(key)
            if owner is not None and owner != entry.code:
                continue
            taken[key] = entry.code
            yield entry, phrase


def tag_equipment(tag: str, entries: Iterable[CatalogEntry]) -> CatalogEntry | None:
    """The equipment class a tag's letters stand for (P-101A: pump), if the catalog has it."""
    letters = ""
    for ch in tag.upper():
        if not ch.isalpha():
            break
        letters += ch
    anchors = TAG_PREFIXES.get(letters)
    return resolve(anchors, "equipment", entries) if anchors else None
