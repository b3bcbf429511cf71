"""The composition root: builds PMark's parts from settings, lazily, once per process."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.csv_import import RowError, parse_catalog, parse_notifications
from adapters.domain import CatalogEntry, Notification
from adapters.settings import Settings, get_settings
from adapters.sql.migrate import upgrade
from adapters.sql.repository import Repository, UpsertCounts

if TYPE_CHECKING:
    from adapters.embeddings.base import Embedder
    from adapters.search.base import SearchIndex
    from adapters.sql.corrections import CorrectionStore
    from agent.parsing.parser import CatalogParser

log = logging.getLogger(__name__)


@dataclass
class ImportReport:
    """What an import did, for the CLI to print."""

    counts: UpsertCounts
    errors: list[RowError] = field(default_factory=list)
    encoding: str = "utf-8"
    unknown_codes: list[str] = field(default_factory=list)
    indexed: int = 0


class PMark:
    """Settings, database, embedder, search index and parser of one process."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._schema_ready = False

    @cached_property
    def repo(self) -> Repository:
        """The application database, migrated to the current schema."""
        s = self.settings
        url = s.sqlalchemy_url()
        upgrade(url)
        return Repository.from_url(url, s.db_pool_size, s.db_max_overflow, s.db_pool_recycle)

    @cached_property
    def corrections(self) -> CorrectionStore:
        """People's corrections of parsed fields (issue 15)."""
        from adapters.sql.corrections import CorrectionStore

        return CorrectionStore(self.repo.engine)

    @cached_property
    def embedder(self) -> Embedder:
        """The sentence embedder (multilingual USE by default)."""
        from adapters.embeddings.factory import make_embedder

        return make_embedder(self.settings)

    @cached_property
    def index(self) -> SearchIndex:
        """The hybrid search index (Weaviate when configured, else the embedded one)."""
        from adapters.search.factory import make_search_index
        from adapters.text.tokenizer import tokenizer_for

        # Catalog words are user words of the tokenizer, so 누유 or a plant's own terms stay whole.
        return make_search_index(self.settings, self.embedder.dim, tokenizer_for(self.catalog()))

    @cached_property
    def parser(self) -> CatalogParser:
        """The catalog parser for the stored catalog (rebuilt after a catalog import)."""
        from agent.parsing.service import build_parser

        return build_parser(self)

    def catalog(self) -> list[CatalogEntry]:
        """The catalog as stored."""
        return self.repo.catalog()

    # Imports -------------------------------------------------------------------------------

    def import_catalog(self, path: Path, replace: bool = False) -> ImportReport:
        """Import a catalog CSV; bad rows are reported and skipped."""
        parsed = parse_catalog(path)
        counts = self.repo.upsert_catalog(parsed.rows, replace=replace)
        self.__dict__.pop("parser", None)
        return ImportReport(counts, parsed.errors, parsed.encoding)

    def import_notifications(
        self,
        path: Path,
        replace: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> ImportReport:
        """Import a notifications CSV into the database and the search index."""
        parsed = parse_notifications(path)
        known = {(e.category, e.code) for e in self.catalog()}
        unknown: set[str] = set()
        for n in parsed.rows:
            for category in ("location", "equipment", "failure_mode", "priority"):
                value = getattr(n, category)
                if value and (category, value) not in known:
                    unknown.add(f"{category}={value}")
        if replace:
            self._clear_index()
        counts = self.repo.upsert_notifications(parsed.rows, replace=replace)
        self._teach(parsed.rows, replace)
        indexed = self.index_notifications(parsed.rows, progress)
        return ImportReport(counts, parsed.errors, parsed.encoding, sorted(unknown), indexed)

    def _teach(self, rows: Sequence[Notification], replace: bool) -> None:
        """Coded notifications teach a parser already built; a replaced history rebuilds it."""
        parser = self.__dict__.get("parser")
        if parser is None:
            return
        if replace or parser.history is None:
            self.__dict__.pop("parser", None)
            return
        from agent.parsing.history import examples_of

        parser.history.add(examples_of(rows))

    def index_notifications(
        self, items: Sequence[Notification], progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Embed and upsert notifications into the search index, in batches."""
        total = len(items)
        done = 0
        for start in range(0, total, 256):
            batch = list(items[start : start + 256])
            vectors = self.embedder.encode([n.search_text() for n in batch])
            self.index.upsert(batch, vectors)
            done += len(batch)
            if progress:
                progress(done, total)
        return done

    def reindex(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Rebuild the search index from the database."""
        self._clear_index()
        total = 0
        for batch in self.repo.iter_notifications():
            total += self.index_notifications(batch, None)
            if progress:
                progress(total, total)
        return total

    def ensure_index(self) -> None:
        """Rebuild the index when it disagrees with the database (e.g. a fresh Weaviate)."""
        if self.index.count() != self.repo.notification_count():
            log.warning("search index out of step with the database; rebuilding")
            self.reindex()

    def _clear_index(self) -> None:
        itemnos = [n.itemno for batch in self.repo.iter_notifications() for n in batch]
        for start in range(0, len(itemnos), 1000):
            self.index.delete(itemnos[start : start + 1000])
