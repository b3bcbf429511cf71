"""The structured answer every channel renders, and its templated text in Korean or English."""

from __future__ import annotations

from typing import Any

from agent.deps import AgentDeps
from agent.reasons import reason_words
from agent.state import FieldState

FIELDS: tuple[str, ...] = ("location", "equipment", "failure_mode", "priority", "activity")
LABELS = {
    "ko": {
        "location": "위치",
        "equipment": "설비",
        "failure_mode": "고장 유형",
        "priority": "우선순위",
        "activity": "작업",
        "equipment_tag": "설비 태그",
    },
    "en": {
        "location": "Location",
        "equipment": "Equipment",
        "failure_mode": "Failure mode",
        "priority": "Priority",
        "activity": "Activity",
        "equipment_tag": "Tag",
    },
}


def notification_view(
    deps: AgentDeps, notification: dict[str, FieldState], tag: str | None
) -> dict[str, Any]:
    """Every field as its catalog code with ko/en names and confidence."""
    view: dict[str, Any] = {}
    for field in FIELDS:
        value = notification.get(field)
        code = value["code"] if value else None
        if code is None:
            view[field] = None
            continue
        ko, en = deps.names(field, code)
        view[field] = {
            "code": code,
            "name_ko": ko,
            "name_en": en,
            "confidence": round(float(value["confidence"]) if value else 0.0, 3),
            # Provenance for the card's "why": how the code was found, from which words.
            "method": value.get("method", "") if value else "",
            "surface": value.get("surface", "") if value else "",
        }
    view["equipment_tag"] = tag
    return view


def _name(view: dict[str, Any], field: str, lang: str) -> str:
    value = view.get(field)
    if not value:
        return "-"
    return str(value["name_ko"] if lang == "ko" else value["name_en"]) or str(value["code"])


def question_text(fields: list[str], lang: str) -> str:
    """The clarification question for missing fields."""
    if lang == "ko":
        parts = {
            "location": "어느 공장/구역인가요?",
            "equipment": "어떤 설비인가요?",
            "failure_mode": "어떤 증상인가요? (누유, 진동, 과열 등)",
            "priority": "얼마나 급한가요? (긴급/높음/보통/낮음)",
        }
        return "알려주시면 바로 접수 초안을 만들게요. " + " ".join(
            parts[f] for f in fields if f in parts
        )
    parts = {
        "location": "Which plant or area?",
        "equipment": "Which equipment?",
        "failure_mode": "What is wrong (leak, vibration, overheating…)?",
        "priority": "How urgent is it (emergency/high/medium/low)?",
    }
    return "Tell me and I'll draft the notification. " + " ".join(
        parts[f] for f in fields if f in parts
    )


def answer_text(
    view: dict[str, Any],
    recs: list[dict[str, Any]],
    missing: list[str],
    lang: str,
    degraded: list[str],
    weak: bool = False,
    changes: list[dict[str, Any]] | None = None,
) -> str:
    """A clear templated answer (used when no LLM is configured or it fails)."""
    labels = LABELS[lang]
    head = "접수 초안" if lang == "ko" else "Draft notification"
    lines = [
        f"📋 {head}: "
        + " · ".join(
            f"{labels[f]} {_name(view, f, lang)}"
            for f in ("location", "equipment", "failure_mode", "priority")
        )
    ]
    if view.get("equipment_tag"):
        lines[0] += f" · {labels['equipment_tag']} {view['equipment_tag']}"
    for change in changes or []:
        lines.append(change_text(change, lang))
    if recs and weak:
        lines.append(
            f"🔍 {no_match_text(lang)} "
            + ("가장 가까운 사례:" if lang == "ko" else "Closest guesses:")
        )
    elif recs:
        lines.append(
            "🔧 " + ("과거 유사 사례와 조치:" if lang == "ko" else "Similar past cases and fixes:")
        )
        for i, r in enumerate(recs, 1):
            lines.append(f"{i}. [{r['itemno']}] {r['title']} → {r['resolution']}")
    else:
        lines.append(no_match_text(lang))
    if missing:
        names = ", ".join(labels[f] for f in missing)
        lines.append(
            f"❔ 아직 모르는 항목: {names}" if lang == "ko" else f"❔ Still missing: {names}"
        )
    if degraded:
        lines.append(
            ("⚠️ 일부 기능 제한 중: " if lang == "ko" else "⚠️ Running degraded: ")
            + ", ".join(degraded)
        )
    return "\n".join(lines)


def no_match_text(lang: str) -> str:
    """What a weak or empty search says before its best guesses."""
    return "비슷한 과거 사례를 찾지 못했어요." if lang == "ko" else "No similar past case found."


def change_views(deps: AgentDeps, changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Corrections with the names of the old and new codes."""
    return [
        {
            **c,
            "old_names": list(deps.names(str(c["field"]), c.get("old"))),
            "new_names": list(deps.names(str(c["field"]), c.get("new"))),
        }
        for c in changes
    ]


def change_text(change: dict[str, Any], lang: str) -> str:
    """'✏️ 설비 변경: 공기압축기 → 압축기' / '✏️ Equipment changed: Air compressor → Compressor'."""
    i = 0 if lang == "ko" else 1
    old = (change.get("old_names") or [change.get("old"), change.get("old")])[i] or change.get(
        "old"
    )
    new = (change.get("new_names") or [change.get("new"), change.get("new")])[i] or change.get(
        "new"
    )
    label = LABELS[lang].get(str(change.get("field")), str(change.get("field")))
    word = "변경" if lang == "ko" else "changed"
    return f"✏️ {label} {word}: {old} → {new}"


def detail_text(rec: dict[str, Any], index: int, lang: str) -> str:
    """The answer to '두 번째 건 자세히'."""
    why = reason_words(rec, lang) or str(rec.get("why", ""))
    if lang == "ko":
        return (
            f"{index}번 사례 [{rec['itemno']}] {rec['title']}\n"
            f"- 조치: {rec['resolution']}\n- 추천 이유: {why}"
        )
    return (
        f"Case {index} [{rec['itemno']}] {rec['title']}\n- Fix: {rec['resolution']}\n"
        f"- Why it was recommended: {why}"
    )


def error_text(lang: str) -> str:
    """What the user sees when a turn failed: never silence."""
    if lang == "ko":
        return (
            "⚠️ 요청을 처리하는 중 문제가 생겼습니다. 메시지는 저장되었으니 "
            "잠시 후 다시 시도해 주세요. 급한 경우 정비 담당자에게 직접 연락해 주세요."
        )
    return (
        "⚠️ Something went wrong while handling your message. It was saved; please try again "
        "shortly, and call the maintenance desk if it is urgent."
    )
