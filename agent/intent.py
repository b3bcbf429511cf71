"""What a message is for: a new report, a correction, an answer, or a follow-up question."""

from __future__ import annotations

import re

_NEW = re.compile(
    r"^\s*(새\s*건|새로운\s*건|신규|새\s*접수|new\s*(issue|report|one)|start\s*over|reset|처음부터)\b",
    re.I,
)
_CORRECTION = re.compile(
    r"^\s*(아니[요오]?|아뇨|정정|수정|no\b|nope|not\b|actually|correction|i\s*mean|sorry)|말고|아니고|(이|가)\s*아니라",
    re.I,
)
_ORDINALS = {
    "첫": 1,
    "첫번째": 1,
    "첫 번째": 1,
    "두": 2,
    "두번째": 2,
    "세": 3,
    "세번째": 3,
    "네": 4,
    "네번째": 4,
    "다섯": 5,
    "다섯번째": 5,
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
}
_FOLLOWUP = re.compile(
    r"(첫|두|세|네|다섯)\s*번째?\s*(건|거|것|케이스|사례)?|([1-5])\s*번\s*(건|거|것|사례)?|"
    r"\b(first|second|third|fourth|fifth|1st|2nd|3rd|4th|5th)\b|#\s*([1-5])\b|\bno\.?\s*([1-5])\b",
    re.I,
)
_DETAIL = re.compile(
    r"자세히|상세|더\s*보|내용|detail|more|show|tell|explain|what\s+about|open", re.I
)


def is_new_report(text: str) -> bool:
    """'새 건', 'new issue': start a fresh notification."""
    return bool(_NEW.search(text))


def is_correction(text: str) -> bool:
    """'아니 3공장', 'no, plant 3': change a field of the current notification."""
    return bool(_CORRECTION.search(text))


def followup_index(text: str) -> int | None:
    """1-based index of the recommendation a follow-up asks about ('두 번째 건 자세히')."""
    if not _DETAIL.search(text):
        return None
    m = _FOLLOWUP.search(text)
    if not m:
        return None
    if m.group(1):
        return _ORDINALS.get(m.group(1))
    for g in (m.group(3), m.group(6), m.group(7)):
        if g:
            return int(g)
    return _ORDINALS.get((m.group(5) or "").lower())
