"""Building the parser for the stored catalog, and parsing batches for the CLI."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from adapters.sql.repository import NormalizationDecision
from adapters.text.tokenizer import catalog_kiwi
from agent.parsing.history import HistoryModel, examples_of
from agent.parsing.history_store import Fingerprint, HistoryStore
from agent.parsing.normalizer import VectorNormalizer
from agent.parsing.parser import CatalogParser, ParseResult

if TYPE_CHECKING:
    from agent.context import PMark

log = logging.getLogger(__name__)


def build_parser(ctx: PMark, vectors: bool = True) -> CatalogParser:
    """A parser over the stored catalog, with vector normalization when an embedder loads."""
    entries = ctx.catalog()
    normalizer = None
    if vectors and entries:
        try:
            normalizer = VectorNormalizer(
                ctx.embedder,
                entries,
                threshold=ctx.settings.normalize_threshold,
                cache_dir=ctx.settings.data_dir / "normalizer",
            )
        except Exception:  # the parser must work without embeddings
            log.exception("vector normalization unavailable; parsing with the catalog only")
    return CatalogParser(entries, normalizer, learn_history(ctx))


def learn_history(ctx: PMark) -> HistoryModel:
    """The plant's coded notifications and people's corrections, read from the database; a
    snapshot of the same history fitted before (by another worker, or before a restart) is read
    from the data dir instead of being learned again."""
    catalog = ctx.catalog()
    kiwi = catalog_kiwi(catalog)
    try:
        corrections = ctx.corrections.since(0)
    except Exception:  # a database not yet migrated to the corrections table
        log.exception("corrections unavailable; the parser learns from notifications only")
        corrections = []
    store = HistoryStore(ctx.settings.data_dir / "history")
    with store.locked():
        # One read of the notifications to name what would be learned; a second only when
        # nothing learned from exactly that is saved.
        fingerprint = Fingerprint(catalog)
        for batch in ctx.repo.iter_notifications():
            fingerprint.examples(examples_of(batch))
        for cid, c in corrections:
            fingerprint.correction(cid, c.text, c.category, c.new_code)
        key = fingerprint.hexdigest()
        history = store.load(key, kiwi)
        if history is not None:
            log.info("history read from its snapshot (%d coded texts)", history.examples)
            return history
        history = HistoryModel(kiwi)
        for batch in ctx.repo.iter_notifications():
            history.add(examples_of(batch))
        for cid, c in corrections:
            history.correct(c.text, c.category, c.new_code)
            history.taught.add(cid)
        if history.examples:
            store.save(key, history)
    return history


def decisions_of(result: ParseResult) -> list[NormalizationDecision]:
    """The normalization decisions of one parse, for the review log."""
    return [
        NormalizationDecision(c, term, code, score, method)
        for c, term, code, score, method in result.decisions
    ]


def parse_texts(ctx: PMark, texts: Sequence[str]) -> Iterator[dict[str, Any]]:
    """Parse texts in order, yielding `pmark parse --json` objects; decisions are logged."""
    parser = ctx.parser
    for start in range(0, len(texts), 500):
        results = parser.parse_many(texts[start : start + 500])
        ctx.repo.log_normalizations([d for r in results for d in decisions_of(r)])
        for result in results:
            yield result.as_json()
