"""recommend: re-rank the candidates with the parsed fields, recency and supervisors' thumbs."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from adapters.search.base import SearchHit
from adapters.sql.repository import utcnow
from agent.deps import AgentDeps
from agent.nodes.normalize import EMPTY
from agent.recommend.ranking import Query, rank
from agent.state import TurnState

log = logging.getLogger(__name__)
MIN_SCORE = 0.1


def _hit(data: dict[str, Any]) -> SearchHit:
    values = dict(data)
    if isinstance(values.get("created_at"), str):
        values["created_at"] = datetime.fromisoformat(values["created_at"])
    return SearchHit(**values)


async def recommend(state: TurnState, deps: AgentDeps) -> dict[str, Any]:
    """The top-k recommendations with why each matched."""
    notification = state.get("notification") or {}
    query = Query(
        equipment=notification.get("equipment", EMPTY)["code"],
        failure_mode=notification.get("failure_mode", EMPTY)["code"],
        location=notification.get("location", EMPTY)["code"],
        ancestors=deps.recommender.ancestors,
    )
    hits = [_hit(h) for h in state.get("hits") or []]
    try:
        votes = await asyncio.to_thread(deps.recommender.votes)
    except Exception as exc:
        # Supervisors' thumbs only nudge the ranking: an unreachable database costs them, not
        # the answer.
        log.warning("supervisor votes unavailable: %r", exc)
        votes = {}
    # A case that shares neither words nor fields with the report is noise, not a lead.
    ranked = [r for r in rank(hits, query, utcnow(), votes) if r.score >= MIN_SCORE][: deps.k]
    return {
        "recommendations": [
            {
                "itemno": r.itemno,
                "title": r.title,
                "resolution": r.resolution,
                "score": round(r.score, 4),
                "why": r.why,
                "equipment": r.equipment,
                "failure_mode": r.failure_mode,
            }
            for r in ranked
        ]
    }
