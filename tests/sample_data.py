"""A small bilingual catalog and history made up for tests (not the demo data)."""

from __future__ import annotations

import csv
import random
from datetime import datetime, timedelta
from pathlib import Path

from adapters.domain import NOTIFICATION_COLUMNS

CATALOG = [
    ("location", "SEO", "서울공장", "Seoul Plant", "서울|seoul|서울 공장", ""),
    ("location", "SEO-PK", "서울공장 포장동", "Seoul Packing Hall", "포장동|packing hall", "SEO"),
    ("location", "BUS", "부산공장", "Busan Plant", "부산|busan|부산 공장", ""),
    (
        "location",
        "BUS-UT",
        "부산공장 유틸리티동",
        "Busan Utility Bldg",
        "유틸동|utility bldg",
        "BUS",
    ),
    ("equipment", "PMP", "펌프", "pump", "펌프|pmp|pump", ""),
    ("equipment", "PMP-FW", "급수 펌프", "feed water pump", "급수펌프|fw pump|bfp", "PMP"),
    ("equipment", "CMP", "압축기", "compressor", "콤프레샤|컴프레서|compr|comp", ""),
    ("equipment", "MTR", "전동기", "electric motor", "모터|mtr|motor", ""),
    ("equipment", "CNV", "컨베이어", "conveyor", "콘베어|conv|belt conveyor", ""),
    ("failure_mode", "LEK", "누설", "leakage", "누유|누수|새다|leak|leaking", ""),
    ("failure_mode", "VIB", "진동", "vibration", "떨림|vib|vibrating", ""),
    ("failure_mode", "HOT", "과열", "overheating", "온도 상승|overheat|high temp", ""),
    ("failure_mode", "NOS", "소음", "noise", "이음|소리|noisy|abnormal sound", ""),
    ("priority", "1", "긴급", "emergency", "긴급|비상|asap|urgent", ""),
    ("priority", "2", "높음", "high", "빨리|high|soon", ""),
    ("priority", "3", "보통", "medium", "보통|normal|routine", ""),
    ("priority", "4", "낮음", "low", "여유|low|when possible", ""),
    ("activity", "RPL", "교체", "replace", "교환|replace|repl", ""),
    ("activity", "INS", "점검", "inspect", "확인|inspect|check", ""),
]

FIXES = {
    ("PMP", "LEK"): ["메카니컬 씰 교체", "Replaced mechanical seal"],
    ("PMP-FW", "LEK"): ["급수펌프 글랜드 패킹 교체", "Repacked feed pump gland"],
    ("PMP", "VIB"): ["베어링 교체 및 정렬", "Replaced bearing and realigned"],
    ("CMP", "VIB"): ["압축기 방진고무 교체", "Replaced compressor mounts"],
    ("CMP", "HOT"): ["쿨러 청소", "Cleaned aftercooler"],
    ("MTR", "HOT"): ["냉각팬 청소", "Cleaned motor cooling fan"],
    ("MTR", "NOS"): ["모터 베어링 그리스 주입", "Greased motor bearings"],
    ("CNV", "NOS"): ["컨베이어 롤러 교체", "Replaced conveyor idler rollers"],
}
TITLES = {
    "ko": "{loc} {eq} {fm} 발생",
    "en": "{eq} {fm} at {loc}",
}


def write_catalog(path: Path) -> Path:
    """The test catalog as CSV."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["category", "code", "name_ko", "name_en", "synonyms", "parent"])
        w.writerows(CATALOG)
    return path


def write_history(path: Path, n: int = 80, seed: int = 7) -> Path:
    """Notifications consistent with the test catalog."""
    rnd = random.Random(seed)
    names = {code: (ko, en) for _, code, ko, en, _, _ in CATALOG}
    locations = ["SEO", "SEO-PK", "BUS", "BUS-UT"]
    start = datetime(2024, 1, 1)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(NOTIFICATION_COLUMNS)
        for i in range(n):
            (eq, fm), fixes = rnd.choice(sorted(FIXES.items()))
            loc = rnd.choice(locations)
            lang = rnd.choice(["ko", "en"])
            idx = 0 if lang == "ko" else 1
            title = TITLES[lang].format(loc=names[loc][idx], eq=names[eq][idx], fm=names[fm][idx])
            w.writerow(
                [
                    f"T{i:04d}",
                    (start + timedelta(days=i * 3)).isoformat(),
                    loc,
                    eq,
                    fm,
                    str(rnd.randint(1, 4)),
                    title,
                    "",
                    fixes[idx],
                ]
            )
    return path
