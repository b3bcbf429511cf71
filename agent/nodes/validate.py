"""validate: clean the user's text and decide what kind of message it is."""

from __future__ import annotations

import re
import uuid
from typing import Any

from agent.deps import AgentDeps
from agent.intent import followup_index, is_correction, is_new_report
from agent.language import reply_language
from agent.state import TurnState

MAX_CHARS = 2000
# Control characters, and lone UTF-16 surrogates ("\ud800" is valid JSON but no valid UTF-8).
_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Control characters and lone surrogates out (PostgreSQL JSON cannot hold NUL, nothing
    UTF-8 can hold a surrogate: the LLM request failed on one), length capped."""
    return _CONTROL.sub(" ", text or "").strip()[:MAX_CHARS]


def names_a_problem(text: str, deps: AgentDeps) -> bool:
    """Whether the text names a machine or a failure (then it is a report, not a follow-up)."""
    fields = deps.parser.parse(text).fields
    return any(fields[f].code is not None for f in ("equipment", "failure_mode") if f in fields)


def validate(state: TurnState, deps: AgentDeps) -> dict[str, Any]:
    """Strip control characters, cap the length, detect language and intent."""
    # A pasted log of 10,000 characters still deserves an answer: keep its head.
    text = clean_text(state.get("user_input") or "")
    intent = "report"
    if not text:
        intent = "empty"
    elif followup_index(text) is not None and (
        state.get("last_answer") or not names_a_problem(text, deps)
    ):
        # Also with no answer to follow: the followup node says there is nothing yet.
        intent = "followup"
    elif is_new_report(text):
        intent = "new"
    elif is_correction(text):
        intent = "correction"
    return {
        "user_input": text,
        "turn_id": state.get("turn_id") or uuid.uuid4().hex,
        "changes": [],
        "lang": reply_language(text, state.get("lang", "ko")) if text else state.get("lang", "ko"),
        "intent": intent,
        "degraded": [],
        "retries": 0,
        "retry": False,
        "errors": [],
    }
