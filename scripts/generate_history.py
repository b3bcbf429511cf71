"""Generate the demo notification history (data/history.csv) from data/catalog.csv.

Deterministic: the same seed and catalog give byte-identical output. No network.
Usage: python scripts/generate_history.py [--catalog PATH] [--out PATH] [--seed N] [--count N]
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from adapters.domain import NOTIFICATION_COLUMNS

REPO = Path(__file__).resolve().parents[1]
COLUMNS = NOTIFICATION_COLUMNS
HANGUL = re.compile(r"[\uac00-\ud7a3]")
START = datetime(2022, 1, 3, 0, 0)
SPAN_DAYS = 3 * 365


@dataclass(frozen=True)
class Entry:
    """One catalog row."""

    category: str
    code: str
    name_ko: str
    name_en: str
    synonyms: tuple[str, ...]
    parent: str | None

    def ko_forms(self) -> list[str]:
        """Korean written forms (name first)."""
        forms = [self.name_ko, *(s for s in self.synonyms if HANGUL.search(s))]
        return _dedupe(forms)

    def en_forms(self) -> list[str]:
        """Latin-script written forms (name first)."""
        forms = [self.name_en, *(s for s in self.synonyms if not HANGUL.search(s))]
        return _dedupe(forms)


def _dedupe(forms: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for f in forms:
        if f and f.lower() not in seen:
            seen[f.lower()] = f
    return list(seen.values())


def load_catalog(path: Path) -> dict[str, dict[str, Entry]]:
    """Catalog entries by category, then code."""
    out: dict[str, dict[str, Entry]] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            syn = tuple(s.strip() for s in row["synonyms"].split("|") if s.strip())
            e = Entry(
                row["category"].strip(),
                row["code"].strip(),
                row["name_ko"].strip(),
                row["name_en"].strip(),
                syn,
                row["parent"].strip() or None,
            )
            out.setdefault(e.category, {})[e.code] = e
    return out


# --- plausibility tables ---------------------------------------------------------------------

# Which equipment lives in which kind of area (area kind = area code suffix, digits dropped).
AREA_EQUIPMENT: dict[str, dict[str, int]] = {
    "PROD": {
        "PU": 3,
        "PU-CW": 2,
        "PU-VAC": 1,
        "EM": 4,
        "EM-GM": 2,
        "GB": 2,
        "AG": 2,
        "VA": 2,
        "VA-CV": 2,
        "VA-SOL": 1,
        "VA-CK": 1,
        "HE": 1,
        "HE-PL": 1,
        "CV": 2,
        "FA-EX": 1,
        "IN-PT": 1,
        "IN-TT": 1,
        "IN-FT": 1,
        "IN-LT": 1,
        "TK": 1,
        "PI": 1,
        "FI-ST": 1,
        "FI": 1,
        "CR": 1,
        "HY": 1,
        "FC": 1,
        "LI": 1,
        "SE": 1,
        "HT": 1,
    },
    "BLR": {
        "BO": 5,
        "PU-FW": 3,
        "PU-CND": 2,
        "FA-ID": 2,
        "FA-FD": 2,
        "VA-SV": 2,
        "VA-CV": 2,
        "VA-ST": 2,
        "VA-XV": 1,
        "VA-CK": 1,
        "PI-ST": 2,
        "IN-LT": 1,
        "IN-PT": 1,
        "HE": 1,
        "TK": 1,
        "EJ": 1,
        "EM-HV": 1,
        "TU": 1,
        "GE": 1,
    },
    "UT": {
        "CO-AIR": 3,
        "AD": 2,
        "CH": 2,
        "CT": 1,
        "PU-CW": 3,
        "PU-FIRE": 1,
        "HE-PL": 1,
        "HE-CD": 1,
        "TR": 1,
        "SG": 1,
        "VE": 1,
        "GE-EDG": 1,
        "PI-CW": 1,
        "FI": 1,
        "FC": 1,
        "EM": 1,
        "VA-CK": 1,
    },
    "CMP": {
        "CO-AIR": 5,
        "CO-REC": 1,
        "CO-TUR": 1,
        "AD": 3,
        "VE": 2,
        "HE-OC": 1,
        "HE-AC": 1,
        "FI": 2,
        "PU-LO": 1,
        "EM-HV": 1,
        "VA-SOL": 1,
        "IN-PT": 1,
    },
    "CCR": {"IN": 2, "IN-PT": 1, "UP": 3, "SG": 1, "LI": 1, "FC": 1},
    "WH": {"CR": 4, "SH": 3, "LI": 2, "CV-RL": 2, "FA-EX": 1, "PL": 1},
    "MT": {"CR": 2, "LI": 1, "CO-AIR": 1, "EM": 1, "FA-EX": 1, "SH": 1},
    "L": {
        "CV": 4,
        "CV-SC": 1,
        "CV-BE": 1,
        "EM": 3,
        "EM-GM": 2,
        "GB": 3,
        "PU": 2,
        "PU-VAC": 1,
        "HY": 2,
        "AG": 2,
        "VA-SOL": 2,
        "IN-TT": 1,
        "IN-PT": 1,
        "FC": 2,
        "HT": 1,
        "FA": 1,
        "FI": 1,
        "SE": 1,
    },
    "PK": {"PK": 5, "PL": 3, "CV-RL": 3, "CV": 2, "EM-GM": 2, "VA-SOL": 2, "HY": 1, "SH": 1},
    "CT": {
        "CT": 5,
        "PU-CW": 4,
        "PI-CW": 2,
        "FA": 1,
        "EM": 2,
        "IN-TT": 1,
        "FI-ST": 1,
        "PU-DS": 1,
        "GB": 1,
    },
    "WWT": {
        "PU-SUB": 4,
        "PU-DS": 3,
        "PU-SL": 2,
        "AG": 3,
        "TK-CH": 2,
        "TK": 1,
        "FA": 1,
        "IN-LT": 1,
        "IN": 1,
        "SC": 1,
        "VA": 1,
        "PI": 1,
        "SE": 1,
    },
    "TF": {
        "TK": 4,
        "TK-CH": 2,
        "PU": 2,
        "VA": 2,
        "VA-XV": 2,
        "VA-SV": 1,
        "IN-LT": 2,
        "IN-GD": 2,
        "PI": 2,
        "EM-EX": 1,
    },
    "RM": {"CV": 2, "CV-SC": 2, "CV-BE": 2, "DC": 3, "CR": 1, "FA": 1, "SH": 1, "TK": 1, "AG": 1},
    "SUB": {"TR": 4, "SG": 4, "UP": 2, "GE-EDG": 2, "LI": 1, "FA-EX": 1},
}
AREA_KIND_ALIASES = {"A": "PROD", "B": "PROD", "C": "PROD"}

# How each equipment class tends to fail (subclass rows override their root class).
FAILURES: dict[str, dict[str, int]] = {
    "PU": {
        "ELP": 10,
        "VIB": 7,
        "NOI": 4,
        "OHE": 3,
        "LOO": 5,
        "BRD": 2,
        "FTS": 2,
        "UST": 2,
        "PLU": 2,
        "SER": 1,
        "STD": 1,
    },
    "PU-DS": {"LOO": 5, "ELP": 4, "ERO": 3, "PLU": 3, "BRD": 2, "FTS": 1},
    "PU-SUB": {"FTS": 4, "UST": 3, "PLU": 4, "LOO": 3, "BRD": 2, "ELP": 1},
    "PU-SL": {"ELP": 5, "STD": 3, "PLU": 3, "VIB": 3, "LOO": 2},
    "CO": {
        "ELP": 4,
        "VIB": 4,
        "NOI": 3,
        "OHE": 5,
        "LOO": 4,
        "FTS": 3,
        "UST": 4,
        "PDE": 2,
        "BRD": 1,
        "SER": 1,
        "HIO": 1,
    },
    "EM": {"OHE": 7, "VIB": 5, "NOI": 4, "FTS": 3, "UST": 3, "BRD": 2, "SER": 1},
    "VA": {"INL": 5, "ELP": 5, "FTO": 3, "FTC": 3, "ERO": 1, "STD": 1, "DOP": 1, "SER": 1},
    "VA-CV": {"ERO": 5, "INL": 3, "ELP": 3, "FTO": 2, "FTC": 1, "DOP": 2, "AIR": 1},
    "VA-SV": {"INL": 5, "ELP": 2, "PDE": 2, "FTO": 1, "SPO": 1},
    "VA-XV": {"FTC": 4, "FTO": 4, "INL": 2, "DOP": 2, "ELP": 2, "SPO": 1},
    "VA-CK": {"INL": 5, "NOI": 3, "FTC": 3, "BRD": 1},
    "VA-SOL": {"FTO": 3, "FTC": 3, "BRD": 3, "SPO": 2, "OHE": 1},
    "VA-ST": {"INL": 5, "PLU": 4, "ELP": 2, "FTO": 1},
    "HE": {"ELP": 4, "INL": 3, "PLU": 5, "STD": 2, "PDE": 2, "LOO": 2},
    "FA": {"VIB": 6, "NOI": 5, "BRD": 2, "OHE": 2, "LOO": 2, "UST": 1, "SER": 1, "STD": 1},
    "CV": {"BRD": 4, "NOI": 3, "SER": 4, "UST": 3, "VIB": 2, "STP": 1, "PLU": 1},
    "BO": {"UST": 5, "FTS": 4, "ELP": 3, "PDE": 3, "STD": 2, "LOO": 2, "AIR": 1},
    "HT": {"BRD": 4, "OHE": 2, "FTS": 2, "AIR": 1, "LOO": 1},
    "TR": {"OHE": 4, "ELP": 3, "NOI": 3, "AIR": 2, "UST": 2},
    "SG": {"UST": 4, "OHE": 3, "BRD": 2, "SPO": 2, "NOI": 1},
    "FC": {"UST": 5, "FTS": 2, "BRD": 2, "OHE": 2, "ERO": 1},
    "UP": {"BRD": 3, "AIR": 2, "UST": 2, "OHE": 1},
    "GE": {"FTS": 5, "UST": 3, "ELP": 2, "OHE": 2, "PDE": 1, "VIB": 1},
    "TU": {"VIB": 4, "UST": 3, "ELP": 2, "OHE": 1, "PDE": 1},
    "TK": {"ELP": 5, "STD": 4, "AIR": 2, "SER": 1},
    "VE": {"ELP": 3, "STD": 3, "PDE": 1, "SER": 1},
    "PI": {"ELP": 6, "STD": 4, "VIB": 2, "PLU": 1, "SER": 1},
    "IN": {"AIR": 6, "ERO": 3, "BRD": 2, "PDE": 3, "SER": 1},
    "IN-GD": {"AIR": 4, "SPO": 3, "BRD": 2, "PDE": 2},
    "FI": {"PLU": 7, "ELP": 2, "BRD": 1},
    "DC": {"PLU": 4, "BRD": 2, "ELP": 2, "LOO": 1},
    "CR": {"BRD": 3, "FTS": 2, "NOI": 2, "SER": 2, "SPO": 1, "STP": 1},
    "AG": {"VIB": 4, "NOI": 3, "ELP": 3, "BRD": 2, "OHE": 1},
    "CT": {"LOO": 3, "VIB": 3, "NOI": 2, "STD": 2, "PLU": 2, "ELP": 2},
    "CH": {"UST": 4, "LOO": 3, "FTS": 2, "OHE": 2, "PDE": 2, "ELP": 1},
    "AD": {"PDE": 4, "BRD": 2, "ELP": 2, "PLU": 1, "UST": 1},
    "GB": {"NOI": 4, "VIB": 4, "ELP": 4, "OHE": 3, "BRD": 1},
    "HY": {"ELP": 5, "LOO": 3, "OHE": 3, "NOI": 2, "PDE": 1},
    "PK": {"BRD": 4, "UST": 4, "SER": 3, "ERO": 2, "SPO": 1},
    "PL": {"BRD": 3, "SPO": 2, "UST": 3, "SER": 2, "FTS": 1},
    "SC": {"PLU": 4, "LOO": 2, "ELP": 2, "STD": 2},
    "SE": {"VIB": 5, "NOI": 2, "UST": 2, "BRD": 1, "ELP": 1},
    "EJ": {"LOO": 3, "PLU": 2, "STD": 1},
    "LI": {"BRD": 6, "SER": 1},
    "SH": {"BRD": 4, "FTO": 2, "FTC": 2, "SER": 2, "SPO": 1},
}

# Priority weights (1..4) shifted by how bad the failure mode usually is.
PRIORITY_BY_FM: dict[str, tuple[int, int, int, int]] = {
    "ELP": (3, 4, 4, 1),
    "UST": (4, 4, 3, 1),
    "BRD": (3, 4, 3, 1),
    "FTS": (3, 4, 3, 1),
    "OHE": (2, 4, 4, 1),
    "FTO": (2, 4, 3, 1),
    "FTC": (2, 4, 3, 1),
    "INL": (1, 3, 5, 2),
    "SER": (0, 1, 4, 4),
    "NOI": (1, 2, 5, 3),
    "STD": (1, 2, 5, 3),
    "OTH": (0, 1, 5, 3),
}
DEFAULT_PRIORITY = (1, 3, 5, 2)

COMPONENTS: dict[str, list[tuple[str, str]]] = {
    "PU": [
        ("메카니컬 씰", "mechanical seal"),
        ("베어링", "bearing"),
        ("커플링", "coupling"),
        ("임펠러", "impeller"),
        ("그랜드 패킹", "gland packing"),
        ("케이싱", "casing"),
    ],
    "CO": [
        ("흡입 필터", "suction filter"),
        ("언로더 밸브", "unloader valve"),
        ("오일 쿨러", "oil cooler"),
        ("피스톤 링", "piston ring"),
        ("베어링", "bearing"),
        ("오일 세퍼레이터", "oil separator"),
    ],
    "EM": [
        ("베어링", "bearing"),
        ("권선", "winding"),
        ("냉각팬", "cooling fan"),
        ("단자함", "terminal box"),
        ("NDE 베어링", "NDE bearing"),
    ],
    "VA": [
        ("글랜드 패킹", "gland packing"),
        ("시트", "seat"),
        ("액추에이터", "actuator"),
        ("포지셔너", "positioner"),
        ("스템", "stem"),
        ("플랜지", "flange"),
    ],
    "HE": [
        ("튜브", "tube"),
        ("가스켓", "gasket"),
        ("플레이트", "plate"),
        ("쉘", "shell"),
        ("채널 커버", "channel cover"),
    ],
    "FA": [
        ("베어링", "bearing"),
        ("임펠러", "impeller"),
        ("V벨트", "V-belt"),
        ("댐퍼", "damper"),
        ("풀리", "pulley"),
    ],
    "CV": [
        ("벨트", "belt"),
        ("롤러", "roller"),
        ("풀리", "pulley"),
        ("체인", "chain"),
        ("스크레이퍼", "scraper"),
        ("테이크업", "take-up"),
    ],
    "BO": [
        ("버너", "burner"),
        ("수관", "water tube"),
        ("화염 감지기", "flame detector"),
        ("급수 레벨", "drum level"),
        ("맨홀 가스켓", "manhole gasket"),
    ],
    "TR": [
        ("절연유", "insulating oil"),
        ("부싱", "bushing"),
        ("냉각팬", "cooling fan"),
        ("온도계", "winding temp gauge"),
    ],
    "SG": [
        ("차단기", "breaker"),
        ("부스바", "busbar"),
        ("계전기", "relay"),
        ("접촉기", "contactor"),
    ],
    "GB": [("오일씰", "oil seal"), ("베어링", "bearing"), ("기어", "gear"), ("오일", "oil")],
    "CR": [
        ("와이어로프", "wire rope"),
        ("브레이크", "brake"),
        ("리밋 스위치", "limit switch"),
        ("펜던트 스위치", "pendant"),
        ("훅", "hook"),
    ],
    "PI": [
        ("플랜지", "flange"),
        ("엘보", "elbow"),
        ("용접부", "weld joint"),
        ("서포트", "pipe support"),
    ],
    "TK": [
        ("노즐", "nozzle"),
        ("맨홀", "manhole"),
        ("바닥판", "bottom plate"),
        ("레벨 게이지", "level gauge"),
    ],
    "IN": [
        ("임펄스 라인", "impulse line"),
        ("케이블", "cable"),
        ("전송기", "transmitter"),
        ("커넥터", "connector"),
    ],
    "AG": [
        ("메카니컬 씰", "mechanical seal"),
        ("샤프트", "shaft"),
        ("감속기", "gearbox"),
        ("임펠러", "impeller"),
    ],
    "HY": [
        ("유압 호스", "hydraulic hose"),
        ("유압유", "hydraulic oil"),
        ("실린더", "cylinder"),
        ("릴리프 밸브", "relief valve"),
    ],
    "PK": [
        ("센서", "sensor"),
        ("히터 바", "sealing bar"),
        ("커터", "cutter"),
        ("공압 실린더", "air cylinder"),
    ],
}
LINE_SERVICE = {"PI-ST": "ST", "PI-CW": "CW"}
# Failure modes that are located on a part of the machine ("seal leak", "bearing noise").
PART_FAILURES = frozenset({"ELP", "VIB", "NOI", "OHE", "STD", "SER", "BRD", "PLU", "INL"})
GENERIC_COMPONENT = [("본체", "body"), ("연결부", "connection")]

TAG_PREFIX: dict[str, list[str]] = {
    "PU": ["P"],
    "CO": ["C", "K"],
    "EM": ["M"],
    "VA": ["HV"],
    "VA-CV": ["FCV", "PCV", "LCV", "TCV"],
    "VA-SV": ["PSV"],
    "VA-XV": ["XV"],
    "VA-CK": ["CK"],
    "VA-SOL": ["SOV"],
    "VA-ST": ["ST"],
    "HE": ["E"],
    "FA": ["F", "BL"],
    "FA-ID": ["IDF"],
    "FA-FD": ["FDF"],
    "FA-EX": ["EF"],
    "CV": ["CV"],
    "BO": ["B"],
    "HT": ["H"],
    "TR": ["TR"],
    "SG": ["MCC", "SWGR"],
    "FC": ["VFD"],
    "UP": ["UPS"],
    "GE": ["G"],
    "GE-EDG": ["EDG"],
    "TU": ["T"],
    "TK": ["TK"],
    "VE": ["V"],
    "PI": ["L"],
    "IN": ["XI"],
    "IN-PT": ["PT"],
    "IN-TT": ["TT"],
    "IN-FT": ["FT"],
    "IN-LT": ["LT"],
    "IN-GD": ["GD"],
    "FI": ["FL"],
    "FI-ST": ["S"],
    "DC": ["DC"],
    "CR": ["CR"],
    "AG": ["AG"],
    "CT": ["CT"],
    "CH": ["CH"],
    "AD": ["AD"],
    "GB": ["GB"],
    "HY": ["HPU"],
    "PK": ["PK"],
    "PL": ["PL"],
    "SC": ["SC"],
    "SE": ["CF"],
    "EJ": ["J"],
    "LI": [],
    "SH": ["SD"],
}

# --- phrase banks ----------------------------------------------------------------------------

SYMPTOM_KO: dict[str, list[str]] = {
    "ELP": ["누유", "누수", "누설", "누유 발생", "새고 있음", "누설 발견", "오일 샘", "물이 샘"],
    "INL": ["내부 누설", "패싱", "시트 패싱", "내부누설 의심", "잠가도 샘"],
    "VIB": ["진동", "진동 심함", "진동 증가", "떨림 심함", "진동 과다"],
    "NOI": ["소음", "이음 발생", "이상 소음", "소리 심함", "쇳소리 남", "굉음"],
    "OHE": ["과열", "온도 상승", "고온", "과열 발생", "발열 심함"],
    "FTS": ["기동 불가", "기동 안됨", "안켜짐", "기동 실패", "스타트 안됨"],
    "STP": ["정지 안됨", "정지 불가", "안꺼짐"],
    "BRD": ["고장", "파손", "작동 불가", "고장남", "멈춤"],
    "LOO": ["토출 부족", "출력 저하", "압력 저하", "유량 부족", "성능 저하"],
    "HIO": ["과압", "압력 과다", "출력 과다"],
    "AIR": ["지시 이상", "지시값 이상", "계기 오류", "지시 불량"],
    "PLU": ["막힘", "차압 상승", "막힘 발생", "폐색"],
    "STD": ["부식", "균열", "크랙 발견", "부식 심함", "감육"],
    "SER": ["볼트 풀림", "헐거움", "풀림", "경미한 문제"],
    "FTC": ["안 닫힘", "닫힘 불량", "완전 폐쇄 안됨"],
    "FTO": ["안 열림", "열림 불량", "고착", "개방 안됨"],
    "ERO": ["헌팅", "불안정", "출렁임", "변동 심함"],
    "UST": ["트립", "불시 정지", "갑자기 정지", "트립 발생"],
    "SPO": ["오작동", "오동작", "혼자 작동"],
    "DOP": ["동작 지연", "반응 느림", "느리게 동작"],
    "PDE": ["설정값 이탈", "편차 발생", "규격 이탈"],
    "OTH": ["기타 문제", "이상"],
}
SYMPTOM_EN: dict[str, list[str]] = {
    "ELP": ["leak", "leaking", "oil leak", "water leak", "leakage", "dripping"],
    "INL": ["passing", "internal leak", "seat leak", "passing when closed"],
    "VIB": ["vibration", "high vibration", "vibrating", "excessive vib", "vib high"],
    "NOI": ["noise", "abnormal noise", "noisy", "rattling", "squealing", "grinding noise"],
    "OHE": ["overheating", "overheat", "high temp", "running hot", "hot"],
    "FTS": ["won't start", "fail to start", "no start", "start failure"],
    "STP": ["won't stop", "fail to stop", "can't stop"],
    "BRD": ["broken", "breakdown", "not working", "damaged", "failed"],
    "LOO": ["low flow", "low pressure", "low output", "capacity drop", "low discharge pressure"],
    "HIO": ["overpressure", "high output", "high discharge pressure"],
    "AIR": ["wrong reading", "bad reading", "sensor fault", "reading abnormal"],
    "PLU": ["plugged", "clogged", "choked", "high dP", "blocked"],
    "STD": ["corrosion", "crack", "cracked", "corroded", "rust through"],
    "SER": ["loose bolts", "loose", "minor issue", "loosened"],
    "FTC": ["won't close", "fail to close", "not closing fully"],
    "FTO": ["won't open", "fail to open", "stuck closed"],
    "ERO": ["hunting", "erratic", "fluctuating", "unstable"],
    "UST": ["tripped", "trip", "spurious trip", "stopped suddenly"],
    "SPO": ["malfunction", "spurious operation", "operating by itself"],
    "DOP": ["slow response", "sluggish", "delayed operation"],
    "PDE": ["out of spec", "setpoint deviation", "drift"],
    "OTH": ["issue", "problem"],
}
CONTEXT_KO = [
    "순회 점검 중",
    "야간 근무 중",
    "운전원 신고:",
    "DCS 알람 발생.",
    "생산팀 요청.",
    "오전 순회 시",
    "교대 인수인계 중 확인.",
    "",
    "",
    "",
]
CONTEXT_EN = [
    "During rounds,",
    "Night shift reported:",
    "Operator reports",
    "DCS alarm.",
    "Production called in.",
    "Found on morning walkdown:",
    "",
    "",
    "",
]
REQUEST_KO = [
    "확인 부탁드립니다.",
    "조치 바랍니다.",
    "점검 요청합니다.",
    "빠른 조치 부탁드립니다.",
    "확인 요망.",
    "정비 요청.",
    "",
]
REQUEST_EN = [
    "Please check.",
    "pls check",
    "Request inspection.",
    "Need maint support.",
    "Please fix.",
    "pls advise",
    "",
]
EXTRA_KO: dict[str, list[str]] = {
    "ELP": ["바닥에 오일 흔적 있음.", "흡착포 깔아둠.", "방울로 떨어지는 수준.", "줄줄 샘."],
    "VIB": ["{vib} mm/s 측정됨.", "휴대용 진동계로 {vib} mm/s.", "기초 볼트까지 떨림."],
    "OHE": ["표면 온도 {temp}℃.", "열화상 {temp}℃ 확인.", "손 대기 힘들 정도."],
    "UST": ["예비기로 전환함.", "재기동 후 정상 운전 중.", "알람 이력 확인 필요."],
    "FTS": ["예비기 운전 중.", "리셋 후에도 동일.", "MCC에서 기동 신호 확인."],
    "LOO": ["토출압 {p_low} bar (정상 {p_norm} bar).", "유량 평소 대비 70% 수준."],
    "NOI": ["베어링 쪽에서 소리 남.", "운전 중 간헐적 발생."],
    "PLU": ["차압 {dp} bar.", "전후단 압력차 큼."],
}
EXTRA_EN: dict[str, list[str]] = {
    "ELP": ["Oil on floor.", "Absorbent pads placed.", "Dripping steadily."],
    "VIB": ["Measured {vib} mm/s.", "Vib {vib} mm/s at DE bearing.", "Felt on base frame."],
    "OHE": ["Surface temp {temp} C.", "IR camera shows {temp} C."],
    "UST": ["Switched to standby.", "Restarted, running now.", "Check alarm history."],
    "FTS": ["Standby unit running.", "Same after reset."],
    "LOO": ["Discharge {p_low} bar vs normal {p_norm} bar.", "Flow about 70% of normal."],
    "NOI": ["Noise from bearing side.", "Intermittent while running."],
    "PLU": ["dP {dp} bar.", "Large pressure drop across it."],
}

# Resolutions: key is an equipment code (or its root class) and failure mode.
RESOLUTIONS: dict[tuple[str, str], tuple[list[str], list[str]]] = {
    ("PU", "ELP"): (
        [
            "메카니컬 씰 교체 후 누유 없음 확인",
            "그랜드 패킹 추가 체결 및 교체, 누수 정지 확인",
            "케이싱 가스켓 교체, 시운전 30분 누설 없음",
            "씰 O-링 경화로 교체. 재발 시 씰 타입 변경 검토",
        ],
        [
            "Replaced mechanical seal, no leak after test run",
            "Repacked gland, leak stopped",
            "Replaced casing gasket and re-torqued bolts, no leak",
            "Seal faces worn - new cartridge seal fitted",
        ],
    ),
    ("PU", "VIB"): (
        [
            "DE측 베어링 교체, 커플링 얼라인먼트 재조정. 진동 {vib_ok} mm/s로 감소",
            "기초 볼트 재체결 및 얼라인 조정 후 진동 {vib_ok} mm/s",
            "임펠러 이물질 제거 및 밸런싱, 진동 정상",
        ],
        [
            "Replaced bearing DE side, aligned coupling, vibration {vib_ok} mm/s",
            "Re-torqued base bolts, laser alignment done, vib {vib_ok} mm/s",
            "Cleaned impeller debris, rebalanced, vibration normal",
        ],
    ),
    ("PU", "NOI"): (
        [
            "베어링 손상 확인, 양측 베어링 교체 및 그리스 주입",
            "캐비테이션 소음 - 흡입 스트레이너 청소 후 해소",
            "커플링 고무 교체 후 이음 없어짐",
        ],
        [
            "Bearing noise - replaced both bearings and regreased",
            "Cavitation noise; cleaned suction strainer, noise gone",
            "Replaced coupling insert, noise gone",
        ],
    ),
    ("PU", "OHE"): (
        [
            "베어링 그리스 과다 주입 확인, 적정량으로 조정 후 온도 {temp_ok}℃",
            "베어링 교체 후 온도 정상",
            "최소유량 라인 밸브 개방, 과열 해소",
        ],
        [
            "Over-greased bearing; purged grease, temp down to {temp_ok} C",
            "Replaced bearing, temperature normal",
            "Opened min-flow line, overheating cleared",
        ],
    ),
    ("PU", "LOO"): (
        [
            "흡입 스트레이너 막힘 청소 후 토출압 {p_norm} bar 회복",
            "임펠러 마모로 교체, 성능 회복",
            "웨어링 간극 과다 - 웨어링 교체 후 유량 정상",
        ],
        [
            "Cleaned suction strainer, discharge back to {p_norm} bar",
            "Worn impeller replaced, flow restored",
            "Wear ring clearance high, replaced wear rings, flow OK",
        ],
    ),
    ("PU", "FTS"): (
        ["MCC 과부하 계전기 리셋 및 접점 교체 후 기동 정상", "모터 단자 풀림 재체결, 기동 확인"],
        [
            "Reset overload relay and replaced contactor, pump starts OK",
            "Loose motor terminal retightened, starts fine",
        ],
    ),
    ("PU", "BRD"): (
        ["샤프트 파손으로 펌프 어셈블리 교체", "커플링 파손 교체 및 얼라인먼트"],
        ["Broken shaft, replaced pump assembly", "Coupling failed, replaced and aligned"],
    ),
    ("PU", "UST"): (
        [
            "저유량 인터록 트립 - 흡입 밸브 개도 확인 후 재기동",
            "모터 과전류 트립, 베어링 점검 후 재기동",
        ],
        [
            "Tripped on low flow interlock; suction valve opened, restarted",
            "Overcurrent trip; checked bearings, restarted OK",
        ],
    ),
    ("PU", "PLU"): (
        ["흡입측 이물질 제거 및 스트레이너 청소"],
        ["Removed debris from suction, cleaned strainer"],
    ),
    ("CO", "OHE"): (
        [
            "오일 쿨러 핀 청소 및 오일 교환 후 토출 온도 {temp_ok}℃",
            "냉각수 유량 부족 - 냉각수 밸브 조정, 온도 정상",
            "오일 필터/세퍼레이터 교체, 과열 해소",
        ],
        [
            "Cleaned oil cooler fins and changed oil, discharge temp {temp_ok} C",
            "Low cooling water flow, opened CW valve, temp normal",
            "Replaced oil filter and separator, no more overheating",
        ],
    ),
    ("CO", "LOO"): (
        [
            "흡입 필터 교체 후 토출압 {p_norm} bar 회복",
            "언로더 밸브 고착 수리, 압력 정상",
            "흡입 밸브 플레이트 교체",
        ],
        [
            "Replaced intake filter, pressure back to {p_norm} bar",
            "Unloader valve stuck, repaired, pressure OK",
            "Replaced suction valve plates",
        ],
    ),
    ("CO", "ELP"): (
        ["오일 라인 피팅 재체결 및 O-링 교체", "드레인 밸브 시트 교체, 누설 정지"],
        [
            "Retightened oil line fitting, replaced O-ring",
            "Replaced drain valve seat, leak stopped",
        ],
    ),
    ("CO", "VIB"): (
        ["모터-압축기 커플링 얼라인먼트 재조정, 진동 {vib_ok} mm/s", "방진 패드 교체"],
        [
            "Realigned motor/compressor coupling, vib {vib_ok} mm/s",
            "Replaced anti-vibration mounts",
        ],
    ),
    ("CO", "UST"): (
        ["고온 트립 - 오일쿨러 청소 후 재기동", "압력 스위치 불량 교체 후 정상 운전"],
        [
            "High temp trip; cleaned oil cooler and restarted",
            "Faulty pressure switch replaced, running normally",
        ],
    ),
    ("CO", "FTS"): (["기동반 접촉기 교체 후 기동 확인"], ["Replaced starter contactor, starts OK"]),
    ("CO", "NOI"): (
        ["흡입/토출 밸브 교체 후 소음 감소", "벨트 장력 조정"],
        ["Replaced valves, noise reduced", "Adjusted belt tension"],
    ),
    ("CO", "PDE"): (
        ["압력 설정값 재조정 {p_norm} bar"],
        ["Reset pressure setpoint to {p_norm} bar"],
    ),
    ("EM", "OHE"): (
        [
            "냉각팬 커버 먼지 청소 후 권선 온도 정상",
            "베어링 교체 및 그리스 주입, 온도 {temp_ok}℃",
            "과부하 원인 - 부하측 점검, 전류 정상 범위",
            "절연저항 측정 양호, 냉각팬 파손 교체",
        ],
        [
            "Cleaned fan cover, winding temp normal",
            "Replaced bearings and regreased, temp {temp_ok} C",
            "Load side checked, current back within FLA",
            "IR test OK, replaced broken cooling fan",
        ],
    ),
    ("EM", "VIB"): (
        ["모터 베어링 교체, 얼라인먼트 후 진동 {vib_ok} mm/s", "소프트풋 보정 후 진동 감소"],
        [
            "Replaced motor bearings, aligned, vib {vib_ok} mm/s",
            "Corrected soft foot, vibration down",
        ],
    ),
    ("EM", "NOI"): (
        ["베어링 이음 - 베어링 교체", "냉각팬 접촉 소음, 커버 교정"],
        ["Bearing noise, replaced bearings", "Fan rubbing on cover, straightened cover"],
    ),
    ("EM", "FTS"): (
        ["MCC 퓨즈 단선 교체 후 기동 정상", "권선 절연 불량 - 모터 교체", "과부하 계전기 리셋"],
        [
            "Blown fuse in MCC replaced, starts OK",
            "Winding insulation failed, motor replaced",
            "Reset overload relay",
        ],
    ),
    ("EM", "UST"): (
        ["과전류 트립 - 부하 점검 후 재기동", "단자 접촉 불량 재체결"],
        ["Overcurrent trip, checked load, restarted", "Loose terminal retightened"],
    ),
    ("EM", "BRD"): (["권선 소손, 예비 모터로 교체"], ["Winding burnt, replaced with spare motor"]),
    ("VA", "INL"): (
        [
            "밸브 시트 래핑 및 디스크 교체, 패싱 없음",
            "밸브 교체 (시트 침식)",
            "리밋 스위치 재조정 후 완전 폐쇄 확인",
        ],
        [
            "Lapped seat and replaced disc, no passing",
            "Replaced valve (seat eroded)",
            "Re-set limit stop, valve closes fully",
        ],
    ),
    ("VA", "ELP"): (
        [
            "글랜드 패킹 추가 체결 후 누설 정지",
            "글랜드 패킹 교체",
            "플랜지 가스켓 교체 및 볼트 재체결",
        ],
        [
            "Tightened gland packing, leak stopped",
            "Repacked valve gland",
            "Replaced flange gasket and re-torqued",
        ],
    ),
    ("VA", "FTO"): (
        [
            "액추에이터 에어 공급 라인 막힘 청소, 작동 정상",
            "스템 고착 - 분해 청소 및 윤활",
            "솔레노이드 코일 교체",
        ],
        [
            "Cleared blocked air supply to actuator, strokes OK",
            "Stem seized - cleaned and lubricated",
            "Replaced solenoid coil",
        ],
    ),
    ("VA", "FTC"): (
        ["이물질 제거 후 완전 폐쇄 확인", "액추에이터 스프링 교체", "리밋 스위치 조정"],
        ["Removed debris, closes fully", "Replaced actuator spring", "Adjusted limit switch"],
    ),
    ("VA", "ERO"): (
        ["포지셔너 캘리브레이션 및 PID 튜닝 후 헌팅 해소", "포지셔너 교체", "계장 공기 압력 조정"],
        [
            "Calibrated positioner and retuned loop, no more hunting",
            "Replaced positioner",
            "Adjusted instrument air supply",
        ],
    ),
    ("VA", "DOP"): (
        ["액추에이터 윤활 및 스피드 컨트롤러 조정"],
        ["Lubricated actuator, adjusted speed controller"],
    ),
    ("VA-SV", "INL"): (
        ["PSV 분해 후 시트 래핑, 설정압 {p_set} bar 재시험 합격", "안전밸브 교체 (시트 손상)"],
        [
            "PSV overhauled, seat lapped, popped at {p_set} bar",
            "Replaced relief valve, seat damaged",
        ],
    ),
    ("VA-SV", "PDE"): (["설정압 재조정 및 봉인"], ["Reset set pressure and sealed"]),
    ("VA-ST", "INL"): (
        ["스팀트랩 디스크 교체 후 증기 패싱 없음", "트랩 교체 (써모다이나믹 타입)"],
        ["Replaced trap disc, no live steam passing", "Replaced steam trap (TD type)"],
    ),
    ("VA-ST", "PLU"): (["트랩 스트레이너 청소, 배출 정상"], ["Cleaned trap strainer, draining OK"]),
    ("VA-SOL", "BRD"): (["솔레노이드 코일 소손 교체"], ["Burnt solenoid coil replaced"]),
    ("VA-CK", "NOI"): (
        ["체크밸브 디스크 교체, 채터링 해소"],
        ["Replaced check valve disc, chattering stopped"],
    ),
    ("HE", "PLU"): (
        [
            "튜브 하이드로 제팅 세척 후 차압 정상",
            "판형 열교환기 분해 세척 및 가스켓 교체",
            "역세척 실시, 차압 {dp_ok} bar",
        ],
        [
            "Hydro-jetted tubes, dP normal",
            "Opened PHE, cleaned plates, new gaskets",
            "Backflushed, dP now {dp_ok} bar",
        ],
    ),
    ("HE", "ELP"): (
        ["채널 커버 가스켓 교체 및 재체결", "플랜지 볼트 재체결 후 누설 정지"],
        ["Replaced channel cover gasket, re-torqued", "Re-torqued flange bolts, leak stopped"],
    ),
    ("HE", "INL"): (
        ["튜브 누설 확인, 플러깅 {n}개 실시", "판 균열 확인, 플레이트 교체"],
        ["Tube leak found, plugged {n} tubes", "Cracked plate found and replaced"],
    ),
    ("HE", "STD"): (
        ["쉘 부식부 보수 용접 및 방청 도장"],
        ["Weld repaired corroded shell, painted"],
    ),
    ("FA", "VIB"): (
        [
            "임펠러 분진 부착 제거 및 현장 밸런싱, 진동 {vib_ok} mm/s",
            "베어링 교체 및 벨트 장력 조정",
        ],
        [
            "Cleaned dust build-up on impeller, field balanced, vib {vib_ok} mm/s",
            "Replaced bearings and adjusted belt tension",
        ],
    ),
    ("FA", "NOI"): (
        ["V벨트 교체 및 장력 조정, 소음 해소", "베어링 그리스 주입 후 이음 감소"],
        ["Replaced V-belts and set tension, noise gone", "Greased bearings, noise reduced"],
    ),
    ("FA", "BRD"): (["벨트 파단 교체"], ["Snapped belt replaced"]),
    ("CV", "BRD"): (
        ["벨트 파손부 핫 스플라이싱 보수", "구동 체인 파단 교체", "롤러 베어링 파손 교체"],
        [
            "Hot spliced damaged belt",
            "Replaced broken drive chain",
            "Replaced seized roller bearings",
        ],
    ),
    ("CV", "SER"): (
        ["벨트 사행 조정 및 테이크업 장력 조정", "스크레이퍼 볼트 재체결"],
        ["Adjusted belt tracking and take-up tension", "Retightened scraper bolts"],
    ),
    ("CV", "NOI"): (["아이들러 롤러 교체 후 소음 해소"], ["Replaced idler rollers, noise gone"]),
    ("CV", "UST"): (
        ["비상정지 풀코드 스위치 오작동 - 스위치 교체", "과부하 트립 - 이물질 제거 후 재기동"],
        ["Pull-cord switch faulty, replaced", "Overload trip, cleared jam and restarted"],
    ),
    ("BO", "UST"): (
        ["화염 감지기 렌즈 청소 후 정상 연소", "저수위 트립 - 레벨 스위치 점검 및 급수 밸브 조정"],
        [
            "Cleaned flame scanner lens, firing normal",
            "Low water trip; checked level switch, adjusted feed valve",
        ],
    ),
    ("BO", "FTS"): (
        ["점화 전극 간극 조정 및 교체, 착화 정상", "가스 압력 스위치 리셋"],
        ["Adjusted and replaced ignition electrode, lights off OK", "Reset gas pressure switch"],
    ),
    ("BO", "ELP"): (
        ["맨홀 가스켓 교체", "수관 누설부 보수 용접"],
        ["Replaced manhole gasket", "Weld repaired tube leak"],
    ),
    ("BO", "PDE"): (["연소 공기비 조정, 배기 O2 정상"], ["Retuned air/fuel ratio, O2 in range"]),
    ("TR", "OHE"): (
        ["냉각팬 교체 및 방열판 청소, 권선 온도 정상", "부하 분산 조정"],
        ["Replaced cooling fans and cleaned radiators, winding temp normal", "Rebalanced loads"],
    ),
    ("TR", "ELP"): (
        ["방압판 가스켓 교체 및 절연유 보충"],
        ["Replaced gasket and topped up insulating oil"],
    ),
    ("TR", "NOI"): (
        ["철심 체결 볼트 재체결, 소음 감소"],
        ["Re-torqued core clamping bolts, hum reduced"],
    ),
    ("SG", "UST"): (
        ["차단기 트립 원인 - 지락 개소 절연 보수 후 투입", "계전기 설정 재확인 후 재투입"],
        [
            "Breaker trip from earth fault, insulation repaired, reclosed",
            "Checked relay settings, reclosed",
        ],
    ),
    ("SG", "OHE"): (
        ["부스바 접속부 재체결, 열화상 재측정 정상", "단자 변색 - 단자 교체"],
        ["Re-torqued busbar joints, thermography OK", "Discoloured lug replaced"],
    ),
    ("FC", "UST"): (
        ["인버터 과전류 알람 - 가감속 시간 조정", "냉각팬 교체 후 정상", "파라미터 백업 후 리셋"],
        [
            "VFD overcurrent fault, increased ramp times",
            "Replaced VFD cooling fan",
            "Backed up params and reset",
        ],
    ),
    ("GE", "FTS"): (
        ["배터리 교체 후 기동 정상", "연료 필터 교체 및 에어 빼기"],
        ["Replaced starting batteries, starts OK", "Replaced fuel filter and bled air"],
    ),
    ("IN", "AIR"): (
        [
            "트랜스미터 영점 및 스팬 교정",
            "임펄스 라인 막힘 블로잉 후 지시 정상",
            "센서 교체 후 지시 정상",
        ],
        [
            "Zero/span calibrated transmitter",
            "Blew out plugged impulse line, reading OK",
            "Replaced sensor, reading normal",
        ],
    ),
    ("IN", "ERO"): (
        ["케이블 실드 접지 보수, 노이즈 제거"],
        ["Fixed cable shield grounding, noise gone"],
    ),
    ("IN", "PDE"): (["교정 실시, 오차 {pct}% 이내"], ["Calibrated, error within {pct}%"]),
    ("IN-TT", "AIR"): (["써모커플 단선 교체"], ["Thermocouple open circuit, replaced"]),
    ("IN-GD", "SPO"): (
        ["가스 감지기 센서 교체 및 교정"],
        ["Replaced detector head and calibrated"],
    ),
    ("FI", "PLU"): (
        ["필터 엘리먼트 교체, 차압 {dp_ok} bar", "스트레이너 바스켓 청소"],
        ["Replaced filter element, dP {dp_ok} bar", "Cleaned strainer basket"],
    ),
    ("FI-ST", "PLU"): (
        [
            "스트레이너 바스켓 분해 청소, 차압 {dp_ok} bar",
            "스크린 파손 확인, 스트레이너 스크린 교체",
        ],
        ["Cleaned strainer basket, dP {dp_ok} bar", "Torn screen found, replaced strainer screen"],
    ),
    ("DC", "PLU"): (
        ["백필터 교체 및 펄스 타이머 조정"],
        ["Replaced filter bags, adjusted pulse timer"],
    ),
    ("CR", "BRD"): (
        ["와이어로프 교체", "브레이크 라이닝 교체 및 간극 조정", "펜던트 스위치 교체"],
        ["Replaced wire rope", "Replaced brake lining, set gap", "Replaced pendant switch"],
    ),
    ("CR", "FTS"): (["리밋 스위치 접점 불량 교체"], ["Faulty limit switch replaced"]),
    ("AG", "ELP"): (["교반기 메카니컬 씰 교체"], ["Replaced agitator mechanical seal"]),
    ("AG", "VIB"): (
        ["샤프트 휨 확인, 샤프트 교정 및 베어링 교체"],
        ["Shaft bent, straightened and replaced bearings"],
    ),
    ("CT", "LOO"): (
        ["충진재 스케일 세척 및 살수 노즐 청소"],
        ["Cleaned fill scale and spray nozzles"],
    ),
    ("CT", "VIB"): (["팬 블레이드 각도 조정 및 밸런싱"], ["Reset fan blade pitch and balanced"]),
    ("CH", "UST"): (
        ["고압 트립 - 응축기 튜브 세척 후 정상"],
        ["High pressure trip; cleaned condenser tubes"],
    ),
    ("CH", "LOO"): (["냉매 누설부 보수 및 냉매 보충"], ["Repaired refrigerant leak and recharged"]),
    ("AD", "PDE"): (
        ["흡착제 교체 후 노점 -40℃ 확인", "냉매 보충 후 노점 정상"],
        ["Replaced desiccant, dew point -40 C", "Recharged refrigerant, dew point normal"],
    ),
    ("AD", "BRD"): (["오토 드레인 밸브 교체"], ["Replaced auto drain valve"]),
    ("GB", "ELP"): (["오일씰 교체 및 오일 보충"], ["Replaced oil seal and topped up oil"]),
    ("GB", "NOI"): (
        ["기어 마모 확인, 오일 교환 후 모니터링"],
        ["Gear wear found, oil changed, monitoring"],
    ),
    ("GB", "OHE"): (["오일 레벨 부족 - 오일 보충 및 교환"], ["Low oil level, changed oil"]),
    ("HY", "ELP"): (["유압 호스 교체 및 유압유 보충"], ["Replaced hydraulic hose, topped up oil"]),
    ("HY", "LOO"): (
        ["유압 펌프 교체, 압력 {p_norm} bar"],
        ["Replaced hydraulic pump, pressure {p_norm} bar"],
    ),
    ("PK", "BRD"): (
        ["실링 히터 교체", "커터 날 교체"],
        ["Replaced sealing heater", "Replaced cutter blade"],
    ),
    ("PK", "UST"): (["포토센서 위치 조정 및 청소"], ["Cleaned and realigned photo eye"]),
    ("PI", "ELP"): (
        [
            "플랜지 가스켓 교체",
            "핀홀 부위 클램프 임시 조치 후 정기보수 때 배관 교체 예정",
            "누설부 배관 교체",
        ],
        [
            "Replaced flange gasket",
            "Clamped pinhole leak, pipe spool replacement at next shutdown",
            "Replaced leaking pipe section",
        ],
    ),
    ("PI", "STD"): (
        ["감육부 두께 측정 후 배관 교체 및 도장"],
        ["UT thickness checked, replaced spool and painted"],
    ),
    ("TK", "ELP"): (["노즐 플랜지 가스켓 교체"], ["Replaced nozzle flange gasket"]),
    ("TK", "STD"): (["부식부 보수 용접 및 도장"], ["Weld repair of corroded area and repaint"]),
    ("LI", "BRD"): (
        ["LED 등기구 교체", "안정기 교체"],
        ["Replaced LED fixture", "Replaced ballast"],
    ),
    ("SH", "BRD"): (["셔터 모터 교체", "리밋 재조정"], ["Replaced shutter motor", "Reset limits"]),
    ("SE", "VIB"): (
        ["보울 잔류물 세척 및 베어링 교체"],
        ["Cleaned bowl deposits and replaced bearings"],
    ),
}
GENERIC_RES_KO: dict[str, list[str]] = {
    "ELP": ["{eq} 누설부 가스켓 교체 후 누설 없음 확인", "{eq} 체결부 재체결, 누설 정지"],
    "INL": ["{eq} 내부 부품 교체 후 누설 없음"],
    "VIB": ["{eq} 베어링 교체 및 얼라인먼트, 진동 {vib_ok} mm/s"],
    "NOI": ["{eq} 점검 후 마모 부품 교체, 소음 해소"],
    "OHE": ["{eq} 냉각부 청소 후 온도 {temp_ok}℃ 정상"],
    "FTS": ["{eq} 제어회로 점검, 릴레이 교체 후 기동 정상"],
    "STP": ["{eq} 제어 접점 융착 - 접촉기 교체"],
    "BRD": ["{eq} 손상 부품 교체 후 정상 작동", "{eq} 수리 완료"],
    "LOO": ["{eq} 내부 청소 후 성능 회복"],
    "HIO": ["{eq} 설정값 재조정"],
    "AIR": ["{eq} 계기 교정 후 지시 정상"],
    "PLU": ["{eq} 막힘 제거 및 청소"],
    "STD": ["{eq} 부식부 보수 및 방청 도장"],
    "SER": ["{eq} 볼트 재체결 및 정리"],
    "FTC": ["{eq} 작동부 청소 및 조정, 닫힘 정상"],
    "FTO": ["{eq} 작동부 윤활 및 조정, 열림 정상"],
    "ERO": ["{eq} 제어 파라미터 조정 후 안정"],
    "UST": ["{eq} 트립 원인 점검 후 재기동, 정상 운전"],
    "SPO": ["{eq} 센서 및 배선 점검, 불량 센서 교체"],
    "DOP": ["{eq} 작동부 윤활 및 조정"],
    "PDE": ["{eq} 설정값 재조정 및 확인"],
    "OTH": ["{eq} 점검 후 조치 완료"],
}
GENERIC_RES_EN: dict[str, list[str]] = {
    "ELP": ["Replaced gasket on {eq}, no leak", "Retightened {eq} joints, leak stopped"],
    "INL": ["Replaced internals of {eq}, no passing"],
    "VIB": ["Replaced bearings and aligned {eq}, vib {vib_ok} mm/s"],
    "NOI": ["Replaced worn parts on {eq}, noise gone"],
    "OHE": ["Cleaned cooling on {eq}, temp {temp_ok} C"],
    "FTS": ["Checked {eq} control circuit, replaced relay, starts OK"],
    "STP": ["Welded contacts on {eq} starter, contactor replaced"],
    "BRD": ["Replaced damaged parts on {eq}, working", "{eq} repaired"],
    "LOO": ["Cleaned {eq} internals, output restored"],
    "HIO": ["Readjusted {eq} setpoint"],
    "AIR": ["Calibrated {eq} instrument, reading OK"],
    "PLU": ["Cleared blockage in {eq}"],
    "STD": ["Repaired corrosion on {eq} and painted"],
    "SER": ["Retightened bolts on {eq}"],
    "FTC": ["Cleaned and adjusted {eq}, closes OK"],
    "FTO": ["Lubricated and adjusted {eq}, opens OK"],
    "ERO": ["Retuned {eq} control, stable now"],
    "UST": ["Checked trip cause on {eq}, restarted OK"],
    "SPO": ["Checked sensors and wiring on {eq}, replaced faulty sensor"],
    "DOP": ["Lubricated and adjusted {eq}"],
    "PDE": ["Reset {eq} setpoint and verified"],
    "OTH": ["{eq} checked and fixed"],
}


# --- generation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Asset:
    """One physical item: an equipment code installed in an area, with a tag."""

    location: str
    equipment: str
    tag: str


class Generator:
    """Builds notifications from the catalog with a seeded RNG."""

    def __init__(self, catalog: dict[str, dict[str, Entry]], seed: int) -> None:
        self.cat = catalog
        self.rng = random.Random(seed)
        self.loc = catalog.get("location", {})
        self.eq = catalog.get("equipment", {})
        self.fm = catalog.get("failure_mode", {})
        self.pri = catalog.get("priority", {})
        self.act = catalog.get("activity", {})
        self.assets = self._build_assets()

    def root(self, code: str) -> str:
        """The top-level equipment class of a code."""
        seen = set()
        while (e := self.eq.get(code)) is not None and e.parent and code not in seen:
            seen.add(code)
            code = e.parent
        return code

    def _lookup(self, table: dict[str, dict[str, int]], code: str) -> dict[str, int]:
        for key in (code, self.root(code)):
            if key in table:
                return {k: v for k, v in table[key].items() if k in self.fm}
        return {k: 1 for k in ("BRD", "SER", "OTH") if k in self.fm}

    def _pick(self, weights: dict[str, int]) -> str:
        keys = sorted(weights)
        return self.rng.choices(keys, weights=[weights[k] for k in keys])[0]

    def _build_assets(self) -> list[Asset]:
        assets: list[Asset] = []
        used: set[str] = set()
        for code in sorted(self.loc):
            entry = self.loc[code]
            if not entry.parent:
                continue
            kind = code.split("-", 1)[-1].rstrip("0123456789") or "PROD"
            kind = AREA_KIND_ALIASES.get(kind, kind)
            profile = AREA_EQUIPMENT.get(kind, AREA_EQUIPMENT["PROD"])
            plant_digit = "".join(ch for ch in entry.parent if ch.isdigit())[:1] or "9"
            for eq_code in sorted(profile):
                if eq_code not in self.eq:
                    continue
                for _ in range(self.rng.choice((1, 1, 2, 3)) * profile[eq_code]):
                    tag = self._new_tag(eq_code, plant_digit, used)
                    assets.append(Asset(code, eq_code, tag))
        return assets

    def _new_tag(self, eq_code: str, plant_digit: str, used: set[str]) -> str:
        prefixes = TAG_PREFIX.get(eq_code, TAG_PREFIX.get(self.root(eq_code), ["EQ"]))
        if not prefixes:
            return ""
        for _ in range(50):
            prefix = self.rng.choice(prefixes)
            number = f"{plant_digit}{self.rng.randint(1, 60):02d}"
            suffix = self.rng.choice(("", "", "A", "B"))
            if prefix == "L":
                size = self.rng.choice(('2"', '3"', '4"', '6"'))
                service = LINE_SERVICE.get(eq_code) or self.rng.choice(("PW", "IA", "N2", "HW"))
                tag = f"{size}-{service}-{number}{suffix}"
            else:
                tag = f"{prefix}-{number}{suffix}"
            if tag not in used:
                used.add(tag)
                return tag
        return ""

    # -- text pieces --

    def _forms(self, entry: Entry, lang: str) -> list[str]:
        forms = entry.ko_forms() if lang == "ko" else entry.en_forms()
        return forms or entry.ko_forms() or entry.en_forms() or [entry.code]

    def loc_text(self, code: str, lang: str) -> str:
        entry = self.loc[code]
        forms = self._forms(entry, lang)
        if entry.parent:
            # Area synonyms like "A동" only make sense with the plant in front of them.
            plant = self.rng.choice(self._forms(self.loc[entry.parent], lang))
            short = self.rng.choice(forms)
            if short in (entry.name_ko, entry.name_en) or any(ch.isdigit() for ch in short):
                return short
            return f"{plant} {short}"
        return self.rng.choice(forms[:3] + forms)

    def eq_text(self, code: str, lang: str) -> str:
        forms = self._forms(self.eq[code], lang)
        return self.rng.choice(forms[:2] + forms)

    def fm_text(self, code: str, lang: str) -> str:
        bank = (SYMPTOM_KO if lang == "ko" else SYMPTOM_EN).get(code)
        forms = self._forms(self.fm[code], lang)
        if bank and self.rng.random() < 0.75:
            return self.rng.choice(bank)
        return self.rng.choice(forms)

    def pri_text(self, code: str, lang: str) -> str:
        return self.rng.choice(self._forms(self.pri[code], lang))

    def act_text(self, code: str, lang: str) -> str:
        return self.rng.choice(self._forms(self.act[code], lang))

    def numbers(self) -> dict[str, str]:
        r = self.rng
        p_norm = r.uniform(3.0, 9.0)
        return {
            "vib": f"{r.uniform(6.5, 14.0):.1f}",
            "vib_ok": f"{r.uniform(1.2, 2.8):.1f}",
            "temp": str(r.randint(78, 115)),
            "temp_ok": str(r.randint(45, 68)),
            "p_norm": f"{p_norm:.1f}",
            "p_low": f"{p_norm * r.uniform(0.5, 0.8):.1f}",
            "p_set": f"{r.uniform(8, 16):.1f}",
            "dp": f"{r.uniform(0.8, 2.5):.1f}",
            "dp_ok": f"{r.uniform(0.1, 0.4):.1f}",
            "n": str(r.randint(2, 9)),
            "pct": str(r.choice((0.25, 0.5, 1.0))),
        }

    # -- one notification --

    def notification(self, when: datetime, itemno: str, is_open: bool) -> dict[str, str]:
        r = self.rng
        asset = r.choice(self.assets)
        location = asset.location
        if r.random() < 0.12:
            location = self.loc[location].parent or location
        eq_code = asset.equipment
        if r.random() < 0.15 and self.eq[eq_code].parent:
            # Some technicians file against the general class.
            eq_code = self.eq[eq_code].parent or eq_code
        fm_code = self._pick(self._lookup(FAILURES, asset.equipment))
        pw = PRIORITY_BY_FM.get(fm_code, DEFAULT_PRIORITY)
        pri_code = self._pick({str(i + 1): w for i, w in enumerate(pw) if str(i + 1) in self.pri})
        lang = r.choices(("ko", "en", "mixed"), weights=(45, 25, 30))[0]
        nums = self.numbers()
        title = self.title(location, eq_code, fm_code, pri_code, asset.tag, lang)
        details = self.details(eq_code, fm_code, asset, lang, nums)
        resolution = "" if is_open else self.resolution(asset.equipment, fm_code, lang, nums)
        return {
            "itemno": itemno,
            "created_at": when.isoformat(timespec="seconds"),
            "location": location,
            "equipment": eq_code,
            "failure_mode": fm_code,
            "priority": pri_code,
            "title": title,
            "details": details,
            "resolution": resolution,
        }

    def title(self, loc: str, eq: str, fm: str, pri: str, tag: str, lang: str) -> str:
        r = self.rng
        show_pri = pri in ("1", "2") and r.random() < 0.6 or r.random() < 0.15
        show_loc = r.random() < 0.8
        if lang == "mixed":
            langs = {k: r.choice(("ko", "en")) for k in ("loc", "eq", "fm", "pri")}
            if len(set(langs.values())) == 1:
                langs["eq"] = "en" if langs["loc"] == "ko" else "ko"
        else:
            langs = dict.fromkeys(("loc", "eq", "fm", "pri"), lang)
        lt = self.loc_text(loc, langs["loc"]) if show_loc else ""
        et = self.eq_text(eq, langs["eq"])
        if tag and r.random() < 0.35:
            et = f"{tag} {et}" if r.random() < 0.7 else tag
        ft = self.fm_text(fm, langs["fm"])
        pt = self.pri_text(pri, langs["pri"]) if show_pri else ""
        head = langs["fm"]
        if head == "ko":
            shapes = [
                "{l} {e} {f}",
                "{e} {f} ({l})",
                "[{p}] {l} {e} {f}",
                "{l} {e} {f}, {p}",
                "{e} {f} 발생 - {l}",
                "{l} {e} {f} 조치 요청",
                "{e} {f}건 {p}",
                "{l} {e}에서 {f}",
            ]
        else:
            shapes = [
                "{e} {f} at {l}",
                "{p} {e} {f} {l}",
                "{l} - {e} {f}",
                "{f} on {e} ({l})",
                "{e} {f}, {p}",
                "[{p}] {l} {e} {f}",
                "{l} {e} {f} pls check",
            ]
        shape = r.choice(shapes)
        text = shape.format(l=lt, e=et, f=ft, p=pt)
        if head == "en" and r.random() < 0.12 and self.act:
            act = r.choice(["REPL", "REPR", "INSP", "CHECK"])
            act_word = act if act == "CHECK" or act not in self.act else self.act_text(act, "en")
            text = f"{act_word} {et} {ft if r.random() < 0.5 else ''} {lt} {pt}"
            text = text.upper()
        elif head == "en" and r.random() < 0.1:
            text = text.upper()
        return _tidy(text)

    def details(self, eq: str, fm: str, asset: Asset, lang: str, nums: dict[str, str]) -> str:
        r = self.rng
        root = self.root(asset.equipment)
        comp_ko, comp_en = r.choice(COMPONENTS.get(root, GENERIC_COMPONENT))
        dlang = lang if lang != "mixed" else r.choice(("ko", "en"))
        if dlang == "ko":
            ctx = r.choice(CONTEXT_KO)
            who = f"{asset.tag} " if asset.tag and r.random() < 0.6 else ""
            eq_word = self.eq_text(eq, "ko" if lang == "ko" else r.choice(("ko", "en")))
            symptom = r.choice(SYMPTOM_KO.get(fm, ["이상"]))
            extra = r.choice(EXTRA_KO.get(fm, [""]) + [""]).format(**nums)
            req = r.choice(REQUEST_KO)
            part = f"{comp_ko} 부위 " if fm in PART_FAILURES else ""
            text = f"{ctx} {who}{eq_word} {part}{symptom}. {extra} {req}"
        else:
            ctx = r.choice(CONTEXT_EN)
            who = f"{asset.tag} " if asset.tag and r.random() < 0.6 else ""
            eq_word = self.eq_text(eq, "en" if lang == "en" else r.choice(("ko", "en")))
            symptom = r.choice(SYMPTOM_EN.get(fm, ["issue"]))
            extra = r.choice(EXTRA_EN.get(fm, [""]) + [""]).format(**nums)
            req = r.choice(REQUEST_EN)
            part = f" at {comp_en}" if fm in PART_FAILURES else ""
            text = f"{ctx} {who}{eq_word} {symptom}{part}. {extra} {req}"
        return _tidy(text)

    def resolution(self, eq: str, fm: str, lang: str, nums: dict[str, str]) -> str:
        r = self.rng
        rlang = lang if lang != "mixed" else r.choice(("ko", "en"))
        idx = 0 if rlang == "ko" else 1
        for key in ((eq, fm), (self.root(eq), fm)):
            if key in RESOLUTIONS:
                text = r.choice(RESOLUTIONS[key][idx])
                break
        else:
            bank = GENERIC_RES_KO if rlang == "ko" else GENERIC_RES_EN
            name = self.eq[eq].name_ko if rlang == "ko" else self.eq[eq].name_en
            if rlang == "en" and name and not name.isupper():
                name = name[0].lower() + name[1:]
            text = r.choice(bank.get(fm, bank["OTH"])).replace("{eq}", name or eq)
            text = text[0].upper() + text[1:]
        text = text.format(**nums)
        if r.random() < 0.2:
            text += r.choice(
                [". 재발 시 재점검 예정", ". 예비품 청구함", ". 운전 확인 완료"]
                if rlang == "ko"
                else [". Monitor for recurrence", ". Spare ordered", ". Returned to service"]
            )
        return text

    def generate(self, count: int) -> list[dict[str, str]]:
        """`count` notifications in time order, itemno numbered per year."""
        r = self.rng
        times = sorted(
            START + timedelta(minutes=r.randint(0, SPAN_DAYS * 24 * 60)) for _ in range(count)
        )
        # Daytime-heavy: pull most timestamps into working hours.
        shifted = []
        for t in times:
            if r.random() < 0.7 and not 7 <= t.hour < 19:
                t = t.replace(hour=r.randint(8, 17))
            shifted.append(t.replace(second=0))
        shifted.sort()
        last = shifted[-1]
        per_year: dict[int, int] = {}
        rows = []
        for t in shifted:
            per_year[t.year] = per_year.get(t.year, 0) + 1
            itemno = f"N{t.year}{per_year[t.year]:06d}"
            is_open = (last - t).days < 14 and r.random() < 0.5
            rows.append(self.notification(t, itemno, is_open))
        return rows


def _tidy(text: str) -> str:
    text = re.sub(r"\(\s*\)|\[\s*\]", "", text)
    text = re.sub(r"\s+([,.)])", r"\1", text)
    text = re.sub(r"^[\s,.\-]+|[\s,\-]+$", "", text)
    text = re.sub(r"\s*-\s*$", "", text)
    text = re.sub(r",\s*,", ",", text)
    return re.sub(r"\s{2,}", " ", text).strip()


def render(rows: list[dict[str, str]]) -> str:
    """CSV text with the notification header, LF line endings."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--catalog", type=Path, default=REPO / "data" / "catalog.csv")
    ap.add_argument("--out", type=Path, default=REPO / "data" / "history.csv")
    ap.add_argument("--seed", type=int, default=14224)
    ap.add_argument("--count", type=int, default=2400)
    args = ap.parse_args(argv)
    gen = Generator(load_catalog(args.catalog), args.seed)
    text = render(gen.generate(args.count))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(text.encode("utf-8"))
    print(f"wrote {args.count} notifications to {args.out}")


if __name__ == "__main__":
    main()
