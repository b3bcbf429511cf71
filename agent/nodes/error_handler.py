"""error_handler: a failed turn still gets an explained answer."""

from __future__ import annotations

from typing import Any

from agent.answer import error_text
from agent.state import TurnState


def error_handler(state: TurnState) -> dict[str, Any]:
    """Tell the user what happened; the message itself is already in the checkpoint."""
    lang = state.get("lang", "ko")
    response = {
        "kind": "error",
        "answer_id": state.get("turn_id", ""),
        "reply": error_text(lang),
        "lang": lang,
        "notification": None,
        "missing": state.get("missing", []),
        "recommendations": [],
        "degraded": ["error"],
        "query": "",
    }
    return {"response": response}


def empty_reply(state: TurnState) -> dict[str, Any]:
    """An empty message gets a prompt to describe the problem."""
    lang = state.get("lang", "ko")
    reply = (
        "무엇이 문제인지 적어 주세요. 예: '2공장 냉각수 펌프 누유, 긴급'"
        if lang == "ko"
        else "Tell me what is wrong, e.g. 'Plant 2 cooling water pump leaking, urgent'."
    )
    return {
        "response": {
            "kind": "prompt",
            "answer_id": state.get("turn_id", ""),
            "reply": reply,
            "lang": lang,
            "notification": None,
            "missing": [],
            "recommendations": [],
            "degraded": [],
            "query": "",
        }
    }
