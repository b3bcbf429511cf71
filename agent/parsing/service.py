"""Building the parser for the stored catalog, and parsing batches for the CLI."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
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

# From this many notifications the history is learned in a child process and read back from its
# snapshot: learning grows a heap (Kiwi's words of every note, the fit's arrays) that the
# allocator keeps after it is freed, and a worker that learned in place held 100-400 MB more
# for good (bench_http at 100k: 1,315 and 1,638 MB against 1,216 for one that read the
# snapshot). Below it, the child's start (imports, Kiwi) costs more than learning.
CHILD_LEARNS_FROM = 20_000
CHILD_TIMEOUT_S = 3600.0


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


def learn_history(ctx: PMark, child: bool = True, lock: bool = True) -> HistoryModel:
    """The plant's coded notifications and people's corrections, read from the database; a
    snapshot of the same history fitted before (by another worker, or before a restart) is read
    from the data dir instead of being learned again. A large history is learned by a child
    process (`child`) and read back; `lock=False` is for that child, whose parent holds it."""
    catalog = ctx.catalog()
    kiwi = catalog_kiwi(catalog)
    try:
        corrections = ctx.corrections.since(0)
    except Exception:  # a database not yet migrated to the corrections table
        log.exception("corrections unavailable; the parser learns from notifications only")
        corrections = []
    store = HistoryStore(ctx.settings.data_dir / "history")
    with store.locked() if lock else contextlib.nullcontext():
        # One read of the notifications to name what would be learned; a second only when
        # nothing learned from exactly that is saved.
        fingerprint = Fingerprint(catalog)
        count = 0
        for batch in ctx.repo.iter_notifications():
            fingerprint.examples(examples_of(batch))
            count += len(batch)
        for cid, c in corrections:
            fingerprint.correction(cid, c.text, c.category, c.new_code)
        key = fingerprint.hexdigest()
        history = store.load(key, kiwi)
        if history is None and child and count >= CHILD_LEARNS_FROM and learn_in_child(ctx):
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


def learn_in_child(ctx: PMark) -> bool:
    """Learn and save the history in a child process; False when it could not."""
    env = dict(os.environ)
    env["PMARK_DATA_DIR"] = str(ctx.settings.data_dir)
    env.pop("PMARK_DATABASE_URL", None)
    if ctx.settings.database_url:
        env["PMARK_DATABASE_URL"] = ctx.settings.database_url
    try:
        done = subprocess.run(
            [sys.executable, "-m", "agent.parsing.history_child"],
            env=env,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_S,
        )
    except (OSError, subprocess.TimeoutExpired):
        log.warning("the history's child process did not finish; learning it here")
        return False
    if done.returncode != 0:
        log.warning(
            "the history's child process failed (exit %d); learning it here: %s",
            done.returncode,
            (done.stderr.strip().splitlines() or [""])[-1],
        )
        return False
    return True


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
