"""Card parts for correcting parsed fields and seeing why each was chosen (issue 15).

Teams: per field an Input.ChoiceSet of the catalog's codes by name and one "apply" action, plus a
"why" container shown by Action.ToggleVisibility. Slack: a static_select per field and a context
block with the provenance. The catalog's codes come with each card (`Card.options`), built from
the parser's catalog by `field_options`, so a re-imported catalog shows on the next card.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cachetools import LRUCache

from adapters.domain import CatalogEntry
from bot.card_parts import Card

FIX_VERB = "pmark.fix"
SLACK_FIX_PREFIX = "pmark_fix_"
FIELDS = ("location", "equipment", "failure_mode", "priority")
_SLACK_MAX_OPTIONS = 100  # Block Kit's limit for a static_select
# Teams refuses a message over about 28 KB: a plant's few hundred equipment codes in every card
# would pass it, so each choice set offers this many (the parsed code always among them).
_TEAMS_MAX_OPTIONS = 50
_HOW: dict[str, tuple[str, str]] = {
    "exact": ("카탈로그 이름", "catalog name"),
    "stem": ("카탈로그 이름", "catalog name"),
    "lemma": ("카탈로그 이름", "catalog name"),
    "fuzzy": ("카탈로그 이름(오타 허용)", "catalog name (typo)"),
    "lexicon": ("동의어", "synonym"),
    "ambiguous": ("카탈로그 이름(모호)", "catalog name (ambiguous)"),
    "history": ("과거 이력", "history"),
    "correction": ("사람의 정정", "a person's correction"),
    "vector": ("벡터 유사도", "vector"),
    "llm": ("언어 모델", "LLM"),
    "tag": ("설비 태그", "equipment tag"),
    "pattern": ("숫자 표기", "pattern"),
}
_LABEL = {
    "location": ("위치", "Location"),
    "equipment": ("설비", "Equipment"),
    "failure_mode": ("고장 유형", "Failure mode"),
    "priority": ("우선순위", "Priority"),
}
_T = {
    "fix": ("✏️ 항목 정정", "✏️ Correct fields"),
    "apply": ("정정 저장", "Save corrections"),
    "why": ("🔎 왜 이렇게 읽었나", "🔎 Why these codes"),
    "unset": ("(없음)", "(none)"),
}
FieldOptions = Mapping[str, Sequence[tuple[str, str, str]]]


def field_options(entries: Iterable[CatalogEntry]) -> dict[str, list[tuple[str, str, str]]]:
    """The catalog's codes with their names, per correctable field, for the choice controls."""
    grouped: dict[str, list[tuple[str, str, str]]] = {}
    for e in entries:
        if e.category in FIELDS:
            grouped.setdefault(e.category, []).append((e.code, e.name_ko, e.name_en))
    return grouped


def _offered(
    options: FieldOptions, field: str, current: str | None, limit: int
) -> list[tuple[str, str, str]]:
    """At most `limit` of a field's codes, the parsed one first when the list is cut."""
    codes = list(options.get(field) or [])
    if len(codes) <= limit:
        return codes
    mine = [o for o in codes if o[0] == current]
    return mine + [o for o in codes if o[0] != current][: limit - len(mine)]


# A field's choice list as rendered, per (its codes, the parsed code where the list is cut,
# language): every card and every thumb's re-render repeats it, and building its dicts was half
# of rendering a card. Each entry holds its codes list, so a list replaced by a catalog import
# can never be mistaken for its successor through a reused id().
_RENDERED: LRUCache[tuple[int, str, int], tuple[object, list[dict[str, str]]]] = LRUCache(1024)
_RENDERED_LOCK = threading.Lock()


def _teams_choices(
    options: FieldOptions, field: str, current: str | None, lang: int
) -> list[dict[str, str]]:
    """The ChoiceSet's choices for a field (shared between cards: never mutated)."""
    codes = options.get(field) or ()
    key = (id(codes), (current or "") if len(codes) > _TEAMS_MAX_OPTIONS else "", lang)
    with _RENDERED_LOCK:
        kept = _RENDERED.get(key)
    if kept is not None and kept[0] is codes:
        return kept[1]
    offered = _offered(options, field, current, _TEAMS_MAX_OPTIONS)
    rendered = [{"title": _name(c, ko, en, lang), "value": c} for c, ko, en in offered]
    with _RENDERED_LOCK:
        _RENDERED[key] = (codes, rendered)
    return rendered


def _lang(response: Mapping[str, Any]) -> int:
    return 1 if response.get("lang") == "en" else 0


def _name(code: str, ko: str, en: str, lang: int) -> str:
    name = en if lang else ko
    return f"{name} ({code})" if name and name != code else code


def _sureness(confidence: float) -> tuple[str, str]:
    """Confidence in words: technicians' cards carry no percentages."""
    if confidence >= 0.85:
        return ("확실", "sure")
    if confidence >= 0.6:
        return ("대체로 확실", "fairly sure")
    return ("불확실", "unsure")


def provenance(response: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field label, 'words → how · confidence') for every field that has a code."""
    lang = _lang(response)
    view = response.get("notification") or {}
    out: list[tuple[str, str]] = []
    for field in FIELDS:
        value = view.get(field)
        if not value:
            continue
        how = _HOW.get(str(value.get("method") or ""), (str(value.get("method") or "-"),) * 2)
        words = str(value.get("surface") or "").strip() or "-"
        sure = _sureness(float(value.get("confidence") or 0.0))[lang]
        out.append((_LABEL[field][lang], f"“{words}” → {how[lang]} · {sure}"))
    return out


def fix_data(response: Mapping[str, Any]) -> dict[str, Any]:
    """What the 'apply' action carries besides the chosen codes."""
    return {
        "verb": FIX_VERB,
        "answer_id": str(response.get("answer_id", "")),
        "thread": str(response.get("thread", "")),
    }


def teams_field_controls(
    response: Mapping[str, Any], options: FieldOptions
) -> list[dict[str, Any]]:
    """Adaptive Card elements: a 'why' toggle with provenance, and choice sets to correct."""
    if response.get("kind", "answer") != "answer":
        return []
    lang = _lang(response)
    view = response.get("notification") or {}
    key = str(response.get("answer_id", "")) or "draft"
    why_id, fix_id = f"why-{key}", f"fix-{key}"
    facts = [{"title": k, "value": v} for k, v in provenance(response)]
    inputs: list[dict[str, Any]] = []
    for field in FIELDS:
        current = (view.get(field) or {}).get("code")
        choices = _teams_choices(options, field, current, lang)
        if not choices:
            continue
        inputs.append(
            {
                "type": "Input.ChoiceSet",
                "id": f"fix_{field}",
                "label": _LABEL[field][lang],
                "style": "filtered",
                "value": current or "",
                "choices": choices,
            }
        )
    elements: list[dict[str, Any]] = []
    toggles = []
    if facts:
        elements.append(
            {
                "type": "Container",
                "id": why_id,
                "isVisible": False,
                "items": [{"type": "FactSet", "facts": facts}],
            }
        )
        toggles.append(
            {
                "type": "Action.ToggleVisibility",
                "title": _T["why"][lang],
                "targetElements": [why_id],
            }
        )
    if inputs:
        data = fix_data(response)
        inputs.append(
            {
                "type": "ActionSet",
                "actions": [
                    {
                        "type": "Action.Execute",
                        "title": _T["apply"][lang],
                        "verb": FIX_VERB,
                        "data": data,
                        "fallback": {
                            "type": "Action.Submit",
                            "title": _T["apply"][lang],
                            "data": data,
                        },
                    }
                ],
            }
        )
        elements.append({"type": "Container", "id": fix_id, "isVisible": False, "items": inputs})
        toggles.append(
            {
                "type": "Action.ToggleVisibility",
                "title": _T["fix"][lang],
                "targetElements": [fix_id],
            }
        )
    if toggles:
        elements.insert(0, {"type": "ActionSet", "actions": toggles})
    return elements


def teams_fixes(data: Mapping[str, Any]) -> dict[str, str]:
    """The codes chosen in the card's choice sets, by field."""
    out: dict[str, str] = {}
    for field in FIELDS:
        value = data.get(f"fix_{field}")
        if isinstance(value, str) and value.strip():
            out[field] = value.strip()
    return out


def slack_field_blocks(response: Mapping[str, Any], options: FieldOptions) -> list[dict[str, Any]]:
    """Block Kit: the provenance as context, and a static_select per field to correct it."""
    if response.get("kind", "answer") != "answer":
        return []
    lang = _lang(response)
    view = response.get("notification") or {}
    blocks: list[dict[str, Any]] = []
    why = provenance(response)
    if why:
        text = f"*{_T['why'][lang]}*\n" + "\n".join(f"{k}: {v}" for k, v in why)
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]})
    selects: list[dict[str, Any]] = []
    data = fix_data(response)
    for field in FIELDS:
        current = (view.get(field) or {}).get("code")
        offered = _offered(options, field, current, _SLACK_MAX_OPTIONS)
        if not offered:
            continue
        opts = [
            {
                "text": {"type": "plain_text", "text": _name(c, ko, en, lang)[:75]},
                "value": f"{c}"[:150],
            }
            for c, ko, en in offered
        ]
        select: dict[str, Any] = {
            "type": "static_select",
            "action_id": f"{SLACK_FIX_PREFIX}{field}",
            "placeholder": {"type": "plain_text", "text": _LABEL[field][lang]},
            "options": opts,
        }
        chosen = [o for o in opts if o["value"] == current]
        if chosen:
            select["initial_option"] = chosen[0]
        selects.append(select)
    if selects:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"pmark_fix|{data['answer_id']}|{data['thread']}"[:255],
                "elements": selects[:5],
            }
        )
    return blocks


def slack_fix(action: Mapping[str, Any], block_id: str) -> tuple[str, str, str, str] | None:
    """(answer_id, thread, field, code) of a Slack select change, or None."""
    action_id = str(action.get("action_id") or "")
    if not action_id.startswith(SLACK_FIX_PREFIX):
        return None
    field = action_id[len(SLACK_FIX_PREFIX) :]
    code = str((action.get("selected_option") or {}).get("value") or "")
    parts = block_id.split("|")
    if field not in FIELDS or not code or len(parts) < 3:
        return None
    return parts[1], parts[2], field, code


def teams_fields_section(card: Card) -> list[dict[str, Any]]:
    """The card section (bot/cards.py TEAMS_SECTIONS): controls only while the card is live."""
    return teams_field_controls(card.response, card.options) if card.live else []


def slack_fields_section(card: Card) -> list[dict[str, Any]]:
    """The card section (bot/cards.py SLACK_SECTIONS): controls only while the card is live."""
    return slack_field_blocks(card.response, card.options) if card.live else []
