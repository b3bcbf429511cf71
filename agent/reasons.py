"""Why a past case was recommended, as kinds the ranking used and as words a technician reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_WORDS: dict[str, tuple[str, str]] = {
    "equipment": ("같은 설비", "same equipment"),
    "equipment_family": ("비슷한 설비", "related equipment"),
    "failure_mode": ("같은 고장 유형", "same failure mode"),
    "text": ("비슷한 내용", "similar wording"),
}


def _related(wanted: str | None, got: str | None, ancestors: Mapping[str, set[str]]) -> str:
    """'same' (or a subclass of what was asked for), 'family' (a sibling), or ''."""
    if not wanted or not got:
        return ""
    if wanted == got or wanted in ancestors.get(got, set()):
        return "same"
    if ancestors.get(wanted, set()) & (ancestors.get(got, set()) | {got}):
        return "family"
    return ""


def reason_kinds(
    query: Mapping[str, str | None],
    case: Mapping[str, str | None],
    ancestors: Mapping[str, set[str]],
) -> list[str]:
    """What the case shares with the report: equipment, equipment_family, failure_mode,
    location (same place), plant (same site); 'text' when it shares only words."""
    kinds: list[str] = []
    eq = _related(query.get("equipment"), case.get("equipment"), ancestors)
    if eq:
        kinds.append("equipment" if eq == "same" else "equipment_family")
    if query.get("failure_mode") and query.get("failure_mode") == case.get("failure_mode"):
        kinds.append("failure_mode")
    loc = _related(query.get("location"), case.get("location"), ancestors)
    if loc:
        kinds.append("location" if loc == "same" else "plant")
    return kinds or ["text"]


def reason_words(rec: Mapping[str, Any], lang: str) -> str:
    """'같은 설비 · 같은 고장 유형 · 2공장' / 'same equipment · same failure mode · Plant 2'."""
    parts: list[str] = []
    names: Sequence[str] = rec.get("location_names") or ("", "")
    for kind in rec.get("reasons") or []:
        if kind in ("location", "plant"):
            name = names[0] if lang == "ko" else names[1]
            if name:
                parts.append(str(name))
        elif kind in _WORDS:
            ko, en = _WORDS[kind]
            parts.append(ko if lang == "ko" else en)
    return " · ".join(parts)
