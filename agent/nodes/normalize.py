"""normalize: fold this message's fields into the conversation's draft notification."""

from __future__ import annotations

import re
from typing import Any

from agent.deps import AgentDeps
from agent.parsing.parser import REQUIRED_FIELDS
from agent.slots import EMPTY, fill
from agent.state import FieldState, TurnState

__all__ = ["EMPTY", "is_fresh_report", "normalize"]
_NEW_SUBJECT = ("equipment", "failure_mode")
_WORD = re.compile(r"[\W_]+")


def is_fresh_report(state: TurnState, parsed: dict[str, FieldState]) -> bool:
    """After an answer, a message naming a machine or a failure is a new report."""
    if state.get("intent") == "new":
        return True
    if state.get("intent") == "correction" or not state.get("last_answer"):
        return False
    if state.get("response", {}).get("kind") == "question":
        return False
    return any(parsed.get(f, EMPTY)["code"] is not None for f in _NEW_SUBJECT)


def only_fields(text: str, parsed: dict[str, FieldState]) -> bool:
    """Whether a message says nothing but field values ("높음", "plant 2, high")."""
    rest = text
    for value in parsed.values():
        if value["code"] is not None and value["surface"]:
            rest = rest.replace(value["surface"], " ")
    return len(_WORD.sub("", rest)) <= 2


def normalize(state: TurnState, deps: AgentDeps) -> dict[str, Any]:
    """Merge by the slot-filling rules (agent/slots.py), keep only codes that exist in the
    catalog, and list what is still missing."""
    parsed = {
        f: v if v["code"] is None or (f, v["code"]) in deps.catalog else EMPTY
        for f, v in (state.get("parsed") or {}).items()
    }
    text = state.get("user_input", "")
    correction = state.get("intent") == "correction"
    changes: list[dict[str, Any]] = []
    if is_fresh_report(state, parsed) or not state.get("notification"):
        notification, _ = fill({}, parsed)
        report_text, asked, tag = text, [], state.get("parsed_tag")
        report, notes = text, []
    else:
        notification, changes = fill(state.get("notification") or {}, parsed, correction=correction)
        report_text = f"{state.get('report_text', '')} {text}".strip()
        asked = list(state.get("asked") or [])
        tag = state.get("parsed_tag") or state.get("equipment_tag")
        report = str(state.get("report") or state.get("report_text") or text)
        # More about the same report goes to the notification's details; a correction
        # changes fields, it is not a detail.
        detail = not correction and not only_fields(text, parsed)
        notes = list(state.get("notes") or []) + ([text] if detail else [])
    missing = [f for f in REQUIRED_FIELDS if notification.get(f, EMPTY)["code"] is None]
    return {
        "notification": notification,
        "changes": changes,
        "report_text": report_text[-2000:],
        "report": report[:2000],
        "notes": [n[:2000] for n in notes][-20:],
        "asked": asked,
        "equipment_tag": tag,
        "missing": missing,
    }
