"""clarify: ask for what is missing, once per field, and fold the answer in."""

from __future__ import annotations

from typing import Any

from langgraph.types import interrupt

from agent.answer import question_text
from agent.deps import AgentDeps
from agent.nodes.normalize import EMPTY, merge
from agent.nodes.parse import fields_of
from agent.parsing.parser import REQUIRED_FIELDS
from agent.state import TurnState


def to_ask(state: TurnState) -> list[str]:
    """Missing fields not asked for yet; nothing when there is nothing to search on at all."""
    asked = set(state.get("asked") or [])
    return [f for f in state.get("missing") or [] if f not in asked]


def needs_clarification(state: TurnState) -> bool:
    """Whether the graph should ask before searching."""
    return bool(to_ask(state))


def clarify(state: TurnState, deps: AgentDeps) -> dict[str, Any]:
    """Pause the conversation with a question; resumed with the user's next message."""
    fields = to_ask(state)
    lang = state.get("lang", "ko")
    question = {
        "kind": "question",
        "fields": fields,
        "reply": question_text(fields, lang),
        "choices": {f: deps.choices(f) for f in fields if f in ("location", "priority")},
    }
    answer = interrupt(question)
    text = str(answer or "").strip()
    result = deps.parser.parse(text)
    parsed = {
        f: v if v["code"] is None or (f, v["code"]) in deps.catalog else EMPTY
        for f, v in fields_of(result).items()
    }
    notification = merge(state.get("notification") or {}, parsed, override=True)
    missing = [f for f in REQUIRED_FIELDS if notification.get(f, EMPTY)["code"] is None]
    return {
        "notification": notification,
        "missing": missing,
        "asked": sorted(set(state.get("asked") or []) | set(fields)),
        "report_text": f"{state.get('report_text', '')} {text}".strip()[-2000:],
        "equipment_tag": state.get("equipment_tag") or result.equipment_tag,
        "user_input": text,
    }
