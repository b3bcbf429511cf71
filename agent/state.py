"""The state one conversation carries from node to node and turn to turn."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict


def merge_dicts(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer: later timings overwrite earlier ones of the same node."""
    return {**(left or {}), **(right or {})}


class FieldState(TypedDict):
    """One field of the draft notification."""

    code: str | None
    confidence: float
    method: str
    surface: str


class TurnState(TypedDict, total=False):
    """Everything the graph knows about a conversation."""

    thread_id: str
    turn_id: str
    user_id: str
    user_input: str
    lang: str
    intent: str
    report_text: str
    parsed: dict[str, FieldState]
    parsed_tag: str | None
    notification: dict[str, FieldState]
    changes: list[dict[str, Any]]  # given fields a correction replaced this turn (agent/slots.py)
    report: str  # the report as first written: the filed notification's title
    notes: list[str]  # later messages about the same report: its details
    equipment_tag: str | None
    missing: list[str]
    asked: list[str]
    hits: list[list[Any]]  # agent/hits.py rows
    recommendations: list[dict[str, Any]]
    response: dict[str, Any]
    last_answer: dict[str, Any]
    timings: Annotated[dict[str, float], merge_dicts]
    errors: Annotated[list[str], operator.add]
    degraded: list[str]
    retries: int
    retry: bool
