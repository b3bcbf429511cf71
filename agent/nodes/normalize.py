"""normalize: fold this message's fields into the conversation's draft notification."""

from __future__ import annotations

from typing import Any

from agent.deps import AgentDeps
from agent.parsing.parser import REQUIRED_FIELDS
from agent.state import FieldState, TurnState

EMPTY = FieldState(code=None, confidence=0.0, method="none", surface="")
_NEW_SUBJECT = ("equipment", "failure_mode")


def merge(
    previous: dict[str, FieldState], parsed: dict[str, FieldState], override: bool
) -> dict[str, FieldState]:
    """Fill missing fields from `parsed`; with `override`, its fields replace earlier ones."""
    out: dict[str, FieldState] = {}
    for field in set(previous) | set(parsed):
        old = previous.get(field, EMPTY)
        new = parsed.get(field, EMPTY)
        if new["code"] is not None and (override or old["code"] is None):
            out[field] = new
        else:
            out[field] = old
    return out


def is_fresh_report(state: TurnState, parsed: dict[str, FieldState]) -> bool:
    """After an answer, a message naming a machine or a failure is a new report."""
    if state.get("intent") == "new":
        return True
    if state.get("intent") == "correction" or not state.get("last_answer"):
        return False
    if state.get("response", {}).get("kind") == "question":
        return False
    return any(parsed.get(f, EMPTY)["code"] is not None for f in _NEW_SUBJECT)


def normalize(state: TurnState, deps: AgentDeps) -> dict[str, Any]:
    """Merge, keep only codes that exist in the catalog, and list what is still missing."""
    parsed = {
        f: v if v["code"] is None or (f, v["code"]) in deps.catalog else EMPTY
        for f, v in (state.get("parsed") or {}).items()
    }
    text = state.get("user_input", "")
    if is_fresh_report(state, parsed):
        notification = merge({}, parsed, override=True)
        report_text, asked, tag = text, [], state.get("parsed_tag")
    else:
        notification = merge(
            state.get("notification") or {}, parsed, override=state.get("intent") == "correction"
        )
        report_text = f"{state.get('report_text', '')} {text}".strip()
        asked = list(state.get("asked") or [])
        tag = state.get("parsed_tag") or state.get("equipment_tag")
    missing = [f for f in REQUIRED_FIELDS if notification.get(f, EMPTY)["code"] is None]
    return {
        "notification": notification,
        "report_text": report_text[-2000:],
        "asked": asked,
        "equipment_tag": tag,
        "missing": missing,
    }
