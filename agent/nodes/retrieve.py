"""retrieve: hybrid-search candidates for the report, with the parsed fields as extra filters."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from agent.cpu import on_loop
from agent.deps import AgentDeps
from agent.hits import hit_row
from agent.nodes.normalize import EMPTY
from agent.parsing.parser import FieldValue, ParseResult
from agent.pgsaver import settle_writes
from agent.state import TurnState

log = logging.getLogger(__name__)


def query_text(state: TurnState, deps: AgentDeps) -> str:
    """The report's words plus the catalog names of its equipment and failure mode."""
    notification = state.get("notification") or {}
    words = [state.get("report_text") or state.get("user_input", "")]
    for field in ("equipment", "failure_mode"):
        code = notification.get(field, EMPTY)["code"]
        if code:
            words.extend(deps.names(field, code))
    return " ".join(w for w in words if w)


def as_parse(state: TurnState) -> ParseResult:
    """The conversation's notification in the shape the recommender takes."""
    notification = state.get("notification") or {}
    fields = {
        f: FieldValue(v["code"], v["confidence"], v["method"], v["surface"])
        for f, v in notification.items()
    }
    for f in ("location", "equipment", "failure_mode", "priority", "activity"):
        fields.setdefault(f, FieldValue(None, 0.0))
    return ParseResult(text=state.get("report_text", ""), fields=fields)


async def retrieve(state: TurnState, deps: AgentDeps) -> dict[str, Any]:
    """Candidates from the search index; a failing index gives a degraded answer, not an error."""
    text = query_text(state, deps)
    parsed = as_parse(state) if state.get("retries", 0) == 0 else None
    degraded = list(state.get("degraded", []))
    try:
        if deps.search_in_process and on_loop(text):
            # The embedded index is CPU work of ~10 ms at 100k rows: a worker thread would only
            # add a hop and fight the loop for the GIL while the checkpoints are written. The
            # loop is held meanwhile, so the checkpoints so far are stored first.
            await settle_writes()
            hits = deps.recommender.candidates(text, parsed)
        else:  # a search server (network I/O) or a long text: kept off the loop
            hits = await asyncio.to_thread(deps.recommender.candidates, text, parsed)
    except Exception as exc:
        log.warning("search failed: %s", type(exc).__name__)
        degraded.append("search")
        hits = []
    if getattr(deps.recommender.ctx.index, "degraded", False):
        # Weaviate is down and its embedded mirror answered: say so on the card.
        degraded.append("search-fallback")
    return {"hits": [hit_row(h) for h in hits], "degraded": degraded}
