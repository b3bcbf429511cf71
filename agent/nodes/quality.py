"""quality_check: a weak answer gets one more, broader search (never more than one)."""

from __future__ import annotations

from typing import Any

from agent.state import TurnState

MIN_TOP_SCORE = 0.25
MAX_RETRIES = 1


def needs_retry(state: TurnState) -> bool:
    """Whether to loop back to retrieve: no or weak recommendations, and retries left."""
    if state.get("retries", 0) >= MAX_RETRIES or "search" in state.get("degraded", []):
        return False
    recs = state.get("recommendations") or []
    return not recs or float(recs[0]["score"]) < MIN_TOP_SCORE


def quality_check(state: TurnState) -> dict[str, Any]:
    """Count a retry when one is needed."""
    if needs_retry(state):
        return {"retries": state.get("retries", 0) + 1, "retry": True}
    return {"retry": False}
