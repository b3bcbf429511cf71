"""Re-ranking hybrid-search candidates with what the parser understood, recency and thumbs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol


@dataclass(frozen=True)
class Recommendation:
    """A past notification offered as a lead, with why it was offered."""

    itemno: str
    title: str
    resolution: str
    score: float
    why: str
    equipment: str | None = None
    failure_mode: str | None = None
    location: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class RankingWeights:
    """How much each signal adds to the hybrid score (which is in [0, 1])."""

    text: float = 1.0
    equipment: float = 0.8
    equipment_family: float = 0.35
    failure_mode: float = 0.8
    location: float = 0.15
    location_family: float = 0.07
    recency: float = 0.1
    recency_half_life_days: float = 365.0
    feedback: float = 0.3


@dataclass
class Query:
    """The parsed fields a ranking uses; each may be missing."""

    equipment: str | None = None
    failure_mode: str | None = None
    location: str | None = None
    ancestors: Mapping[str, set[str]] = field(default_factory=dict)


class Candidate(Protocol):
    """What ranking reads of a search hit (a SearchHit, or its row in the state)."""

    @property
    def itemno(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def title(self) -> str: ...
    @property
    def resolution(self) -> str: ...
    @property
    def equipment(self) -> str | None: ...
    @property
    def failure_mode(self) -> str | None: ...
    @property
    def location(self) -> str | None: ...
    @property
    def created_at(self) -> datetime | None: ...


def rank(
    hits: Sequence[Candidate],
    query: Query,
    now: datetime,
    votes: Mapping[tuple[str | None, str | None, str], int] | None = None,
    weights: RankingWeights | None = None,
    limit: int | None = None,
) -> list[Recommendation]:
    """Candidates ordered by boosted score (the first `limit`, if given); the score is squashed
    back into [0, 1]."""
    w = weights or RankingWeights()
    votes = votes or {}
    total = w.text + w.equipment + w.failure_mode + w.location + w.recency + w.feedback
    scored: list[tuple[float, str, int, list[str]]] = []
    for i, hit in enumerate(hits):
        parts: list[str] = [f"text {hit.score:.2f}"]
        raw = w.text * hit.score
        eq = _relation(query.equipment, hit.equipment, query.ancestors)
        if eq == "same":
            raw += w.equipment
            parts.append("same equipment")
        elif eq == "family":
            raw += w.equipment_family
            parts.append("related equipment")
        if query.failure_mode and hit.failure_mode == query.failure_mode:
            raw += w.failure_mode
            parts.append("same failure mode")
        loc = _relation(query.location, hit.location, query.ancestors)
        if loc == "same":
            raw += w.location
            parts.append("same location")
        elif loc == "family":
            raw += w.location_family
            parts.append("same plant")
        if hit.created_at is not None:
            created = hit.created_at
            if created.tzinfo is not None:
                created = created.astimezone(UTC).replace(tzinfo=None)
            age_days = max(0.0, (now - created).total_seconds() / 86400)
            raw += w.recency * math.exp(-math.log(2) * age_days / w.recency_half_life_days)
        net = votes.get((query.equipment, query.failure_mode, hit.itemno), 0)
        if net:
            raw += w.feedback * math.tanh(net / 2)
            parts.append(f"supervisors {'+' if net > 0 else ''}{net}")
        scored.append((raw, hit.itemno, i, parts))
    scored.sort(key=lambda row: (-row[0], row[1]))
    # A Recommendation (and its "why") only for what is kept: 5 of ~90 candidates a turn.
    out = []
    for raw, _, i, parts in scored if limit is None else scored[:limit]:
        hit = hits[i]
        out.append(
            Recommendation(
                hit.itemno,
                hit.title,
                hit.resolution,
                max(0.0, min(1.0, raw / total)),
                ", ".join(parts),
                hit.equipment,
                hit.failure_mode,
                hit.location,
                hit.created_at,
            )
        )
    return out


def _relation(wanted: str | None, got: str | None, ancestors: Mapping[str, set[str]]) -> str:
    if not wanted or not got:
        return "none"
    if wanted == got:
        return "same"
    # A subclass of what was asked for is the same kind of machine; a sibling is only related.
    if wanted in ancestors.get(got, set()):
        return "same"
    if ancestors.get(wanted, set()) & (ancestors.get(got, set()) | {got}):
        return "family"
    return "none"
