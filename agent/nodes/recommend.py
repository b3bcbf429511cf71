"""recommend: re-rank the candidates with the parsed fields, recency and supervisors' thumbs."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from adapters.sql.repository import utcnow
from agent.deps import AgentDeps
from agent.hits import hit_from_state
from agent.nodes.normalize import EMPTY
from agent.reasons import reason_kinds
from agent.recommend.ranking import Query, rank
from agent.state import TurnState

log = logging.getLogger(__name__)
MIN_SCORE = 0.1


async def recommend(state: TurnState, deps: AgentDeps) -> dict[str, Any]:
    """The top-k recommendations with why each matched."""
    notification = state.get("notification") or {}
    query = Query(
        equipment=notification.get("equipment", EMPTY)["code"],
        failure_mode=notification.get("failure_mode", EMPTY)["code"],
        location=notification.get("location", EMPTY)["code"],
        ancestors=deps.recommender.ancestors,
    )
    codes = {
        "equipment": query.equipment,
        "failure_mode": query.failure_mode,
        "location": query.location,
    }
    hits = [hit_from_state(h) for h in state.get("hits") or []]
    try:
        # The database is read once a minute: only then is a worker thread worth its hop.
        votes = deps.recommender.fresh_votes()
        if votes is None:
            votes = await asyncio.to_thread(deps.recommender.votes)
    except Exception as exc:
        # Supervisors' thumbs only nudge the ranking: an unreachable database costs them, not
        # the answer.
        log.warning("supervisor votes unavailable: %r", exc)
        votes = {}
    # A case that shares neither words nor fields with the report is noise, not a lead.
    ranked = [r for r in rank(hits, query, utcnow(), votes, limit=deps.k) if r.score >= MIN_SCORE]
    return {
        # Ranked: the candidates are not needed again, and every later checkpoint of the
        # conversation (and each turn's first read) would carry them.
        "hits": [],
        "recommendations": [
            {
                "itemno": r.itemno,
                "title": r.title,
                "resolution": r.resolution,
                "score": round(r.score, 4),
                "why": r.why,
                "equipment": r.equipment,
                "failure_mode": r.failure_mode,
                "location": r.location,
                "location_names": list(deps.names("location", r.location)),
                "reasons": reason_kinds(
                    codes,
                    {
                        "equipment": r.equipment,
                        "failure_mode": r.failure_mode,
                        "location": r.location,
                    },
                    deps.recommender.ancestors,
                ),
            }
            for r in ranked
        ],
    }
