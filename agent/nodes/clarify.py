"""clarify: ask for what is missing, once per field, and fold the answer in."""

from __future__ import annotations

from typing import Any

from langgraph.types import interrupt

from agent.answer import question_text
from agent.deps import AgentDeps
from agent.intent import is_correction
from agent.language import reply_language
from agent.nodes.normalize import EMPTY
from agent.nodes.parse import fields_of
from agent.nodes.validate import clean_text
from agent.parsing.parser import REQUIRED_FIELDS
from agent.slots import fill
from agent.state import TurnState

CHOICE_FIELDS = ("location", "priority")


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
        "choices": {f: deps.choices(f) for f in fields if f in CHOICE_FIELDS},
        "changes": list(state.get("changes") or []),
    }
    answer = interrupt(question)
    resumed = answer if isinstance(answer, dict) else {"text": answer}
    text = clean_text(str(resumed.get("text") or ""))
    result = deps.parser.parse(text)
    parsed = {
        f: v if v["code"] is None or (f, v["code"]) in deps.catalog else EMPTY
        for f, v in fields_of(result).items()
    }
    correction = is_correction(text)
    notification, changes = fill(
        state.get("notification") or {}, parsed, asked=fields, correction=correction
    )
    missing = [f for f in REQUIRED_FIELDS if notification.get(f, EMPTY)["code"] is None]
    # A correction instead of an answer leaves the question open: it is asked again.
    answered = [f for f in fields if not (correction and f in missing)]
    return {
        "notification": notification,
        "changes": changes,
        "missing": missing,
        "asked": sorted(set(state.get("asked") or []) | set(answered)),
        "report_text": f"{state.get('report_text', '')} {text}".strip()[-2000:],
        "equipment_tag": state.get("equipment_tag") or result.equipment_tag,
        "user_input": text,
        "turn_id": str(resumed.get("turn_id") or state.get("turn_id") or ""),
        "lang": reply_language(text, lang) if text else lang,
    }
