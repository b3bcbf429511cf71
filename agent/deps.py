"""What the graph's nodes need, built once per process and shared by every conversation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.domain import CatalogEntry
from adapters.llm.base import LLM
from adapters.search.embedded import EmbeddedIndex
from adapters.settings import Settings
from agent.parsing.parser import CatalogParser
from agent.recommend.service import Recommender
from agent.review_log import ReviewLog

if TYPE_CHECKING:
    from agent.context import PMark


@dataclass
class AgentDeps:
    """Parser, recommender, catalog and (optionally) the LLM."""

    settings: Settings
    parser: CatalogParser
    recommender: Recommender
    catalog: dict[tuple[str, str], CatalogEntry]
    llm: LLM | None = None
    k: int = 5
    # Whether search runs in this process (CPU, run on the loop) or on a server (I/O, threaded).
    search_in_process: bool = False
    # Where every normalization made in a turn goes for review (issue 15); None: not kept.
    review_log: ReviewLog | None = None

    @classmethod
    def from_context(cls, ctx: PMark, llm: LLM | None = None) -> AgentDeps:
        """Build from the process context (the search index is checked against the database)."""
        ctx.ensure_index()
        refresh = getattr(ctx.index, "refresh", None)
        if callable(refresh):
            refresh()  # build BM25 now, not on the first technician's turn
        # A first parse fits the history model (seconds at 100k notifications): here, off the
        # event loop, rather than inside the first turn, on it.
        ctx.parser.parse("warm up")
        entries = ctx.catalog()
        return cls(
            settings=ctx.settings,
            parser=ctx.parser,
            recommender=Recommender(ctx),
            catalog={(e.category, e.code): e for e in entries},
            llm=llm,
            search_in_process=isinstance(ctx.index, EmbeddedIndex),
            review_log=ReviewLog(ctx.repo.log_normalizations),
        )

    def names(self, category: str, code: str | None) -> tuple[str, str]:
        """Korean and English names of a code ('' when unknown)."""
        if code is None:
            return "", ""
        entry = self.catalog.get((category, code))
        return (entry.name_ko, entry.name_en) if entry else (code, code)

    def choices(self, category: str, limit: int = 8) -> list[dict[str, str]]:
        """Top-level codes of a category, offered as quick replies."""
        top = [e for (c, _), e in self.catalog.items() if c == category and not e.parent]
        return [{"code": e.code, "name_ko": e.name_ko, "name_en": e.name_en} for e in top[:limit]]
