"""Recommendations for a text: hybrid search, filtered search on the parsed fields, re-ranking."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from adapters.domain import CatalogEntry
from adapters.search.base import SearchFilters, SearchHit
from adapters.sql.repository import utcnow
from agent.parsing.parser import ParseResult
from agent.recommend.ranking import Query, Recommendation, rank

if TYPE_CHECKING:
    from agent.context import PMark

_VOTES_TTL_S = 60.0


def ancestors_map(entries: Sequence[CatalogEntry]) -> dict[str, set[str]]:
    """For each code, the codes above it in its category's hierarchy."""
    parents = {(e.category, e.code): e.parent for e in entries}
    out: dict[str, set[str]] = {}
    for (category, code), parent in parents.items():
        seen: set[str] = set()
        while parent and parent not in seen:
            seen.add(parent)
            parent = parents.get((category, parent))
        out[code] = seen
    return out


def descendants(code: str, ancestors: Mapping[str, set[str]]) -> list[str]:
    """A code and every code below it."""
    return [code, *sorted(c for c, ups in ancestors.items() if code in ups)]


class Recommender:
    """Turns a text and its parse into ranked past notifications."""

    def __init__(self, ctx: PMark) -> None:
        self.ctx = ctx
        self.ancestors = ancestors_map(ctx.catalog())
        self._votes: dict[tuple[str | None, str | None, str], int] = {}
        self._votes_at = 0.0

    def fresh_votes(self) -> dict[tuple[str | None, str | None, str], int] | None:
        """The cached votes while they are fresh; None when `votes()` would read the database."""
        if time.monotonic() - self._votes_at > _VOTES_TTL_S:
            return None
        return self._votes

    def votes(self) -> dict[tuple[str | None, str | None, str], int]:
        """Supervisors' net votes, refreshed at most once a minute."""
        fresh = self.fresh_votes()
        if fresh is not None:
            return fresh
        self._votes = self.ctx.repo.supervisor_votes()
        self._votes_at = time.monotonic()
        return self._votes

    def candidates(self, text: str, parsed: ParseResult | None, pool: int = 60) -> list[SearchHit]:
        """Hybrid-search candidates, plus the best ones sharing the parsed equipment/failure."""
        index = self.ctx.index
        vector = self.ctx.embedder.encode([text])[0]
        alpha = self.ctx.settings.search_alpha
        found: dict[str, SearchHit] = {
            h.itemno: h for h in index.query(text, vector, alpha, None, pool)
        }
        if parsed is not None:
            for f in self._filters(parsed):
                hits = index.query(text, vector, alpha, f, pool // 2)
                for h in hits:
                    if h.itemno not in found or found[h.itemno].score < h.score:
                        found[h.itemno] = h
                # The narrowest filter usually suffices; widen only when it found too little.
                if len(hits) >= 10:
                    break
        return list(found.values())

    def _filters(self, parsed: ParseResult) -> list[SearchFilters]:
        """Filters on the parsed fields, narrowest first."""
        equipment = parsed.code("equipment")
        failure = parsed.code("failure_mode")
        family = descendants(equipment, self.ancestors) if equipment else None
        filters: list[SearchFilters] = []
        if family and failure:
            filters.append(SearchFilters(equipment=family, failure_mode=[failure]))
        if family:
            filters.append(SearchFilters(equipment=family))
        if failure:
            filters.append(SearchFilters(failure_mode=[failure]))
        return filters

    def recommend(self, text: str, parsed: ParseResult | None, k: int = 5) -> list[Recommendation]:
        """The top-k recommendations for a text."""
        query = Query(ancestors=self.ancestors)
        if parsed is not None:
            query.equipment = parsed.code("equipment")
            query.failure_mode = parsed.code("failure_mode")
            query.location = parsed.code("location")
        hits = self.candidates(text, parsed)
        return rank(hits, query, utcnow(), self.votes(), limit=k)


def search_texts(
    ctx: PMark, texts: Sequence[str], k: int
) -> Iterator[tuple[str, list[Recommendation]]]:
    """`pmark search`: each query parsed, searched and ranked."""
    if not texts:
        return
    ctx.ensure_index()
    recommender = Recommender(ctx)
    for text in texts:
        parsed = ctx.parser.parse(text)
        yield text, recommender.recommend(text, parsed, k)
