"""`pmark eval embeddings`: candidate embedders measured side by side and stored as one run.

For each candidate (evaluation/embedders.py), on the dev and the test split: similarity
(Spearman against judged pairs), retrieval (P@k, nDCG@k and MRR of the notifications search —
`search_texts`, what `pmark search` runs — over an in-memory index built with that embedder),
clustering (ARI of k-means against catalog codes) and normalization at the configured threshold
(evaluation/embedding_metrics.py); once per candidate, encode throughput and memory.

Memory is the growth of this process's resident set while the model loads and encodes (and the
process's peak), so a candidate evaluated later may reuse memory an earlier one freed.
"""

from __future__ import annotations

import copy
import random
import resource
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from evaluation.configs import EvaluationError
from evaluation.datasets import DEFAULT_RETRIEVAL_GOLD, RetrievalExample, file_fingerprint
from evaluation.embedders import DEFAULT_MODELS, Unavailable, check_spec, load_embedder
from evaluation.embedding_metrics import (
    DEFAULT_SIMILARITY_GOLD,
    SPLITS,
    catalog_forms,
    clustering_metrics,
    clustering_sample,
    load_similarity_pairs,
    normalization_metrics,
    pair_cosines,
    retrieval_splits,
    similarity_metrics,
)
from evaluation.metrics import aggregate_retrieval
from evaluation.runs import RunResult, store_run
from evaluation.workers import ProgressFn

if TYPE_CHECKING:
    from adapters.domain import Notification
    from adapters.embeddings.base import Embedder
    from agent.context import PMark

THROUGHPUT_TEXTS = 256
THROUGHPUT_BATCH = 64
CLUSTER_LIMIT = 600


def rss_mb() -> float:
    """This process's resident set size now, in MiB (Linux /proc; 0.0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * resource.getpagesize() / 2**20


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class EmbeddingEvaluator:
    """Evaluates candidate embedders against one PMark context's catalog and history."""

    def __init__(
        self,
        ctx: PMark,
        *,
        k: int = 5,
        seed: int = 0,
        similarity_gold: Path = DEFAULT_SIMILARITY_GOLD,
        retrieval_gold: Path | None = DEFAULT_RETRIEVAL_GOLD,
        cluster_limit: int = CLUSTER_LIMIT,
        progress: ProgressFn | None = None,
    ) -> None:
        self.ctx = ctx
        self.k = k
        self.seed = seed
        self.similarity_gold = similarity_gold
        self.retrieval_gold = retrieval_gold
        self.cluster_limit = cluster_limit
        self.progress = progress
        self._history: list[Notification] | None = None

    def _report(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)

    def history(self) -> list[Notification]:
        """The stored notifications (read once)."""
        if self._history is None:
            self._history = [n for b in self.ctx.repo.iter_notifications() for n in b]
        return self._history

    def corpus(self) -> list[str]:
        """What the TF-IDF baseline is fitted on: notification texts and catalog forms."""
        forms = [f for _, _, f in catalog_forms(self.ctx.catalog())]
        return [n.search_text() for n in self.history()] + forms

    # One candidate ---------------------------------------------------------------------------

    def _encode_stats(self, embedder: Embedder, load_s: float, rss_before: float) -> dict[str, Any]:
        texts = [n.search_text() for n in self.history()] or self.corpus()
        if len(texts) > THROUGHPUT_TEXTS:
            texts = random.Random(self.seed).sample(texts, THROUGHPUT_TEXTS)
        started = time.perf_counter()
        for i in range(0, len(texts), THROUGHPUT_BATCH):
            embedder.encode(texts[i : i + THROUGHPUT_BATCH])
        seconds = time.perf_counter() - started
        return {
            "dim": embedder.dim,
            "load_s": round(load_s, 3),
            "n_texts": len(texts),
            "texts_per_s": round(len(texts) / seconds, 1) if seconds > 0 else None,
            "ms_per_text": round(seconds * 1000 / max(1, len(texts)), 3),
            "rss_growth_mb": round(rss_mb() - rss_before, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }

    def _similarity(self, embedder: Embedder) -> dict[str, tuple[dict[str, Any], list[Any]]]:
        pairs = load_similarity_pairs(self.similarity_gold)
        texts = list(dict.fromkeys([p.a for p in pairs] + [p.b for p in pairs]))
        vectors = dict(zip(texts, embedder.encode(texts), strict=True))
        out = {}
        for split in SPLITS:
            sub = [p for p in pairs if p.split == split]
            a = np.array([vectors[p.a] for p in sub], dtype=np.float32).reshape(len(sub), -1)
            b = np.array([vectors[p.b] for p in sub], dtype=np.float32).reshape(len(sub), -1)
            out[split] = similarity_metrics(sub, pair_cosines(a, b))
        return out

    def _clustering(self, embedder: Embedder) -> dict[str, dict[str, Any]]:
        items = [
            (n.itemno, n.search_text(), {"equipment": n.equipment, "failure_mode": n.failure_mode})
            for n in self.history()
        ]
        out = {}
        for split in SPLITS:
            sample = clustering_sample(items, split, self.cluster_limit, self.seed)
            if not sample:
                out[split] = {"n": 0, "ari_equipment": None, "ari_failure_mode": None}
                continue
            vectors = embedder.encode([text for text, _ in sample])
            labels = {
                name: [lab.get(name) for _, lab in sample] for name in ("equipment", "failure_mode")
            }
            out[split] = clustering_metrics(vectors, labels, self.seed)
        return out

    def _normalization(self, embedder: Embedder) -> dict[str, dict[str, Any]]:
        forms = catalog_forms(self.ctx.catalog())
        vectors = embedder.encode([f for _, _, f in forms]) if forms else np.zeros((0, 1))
        threshold = self.ctx.settings.normalize_threshold
        return {s: normalization_metrics(forms, vectors, threshold, s) for s in SPLITS}

    def _search_view(self, embedder: Embedder) -> PMark:
        """The context with this embedder: its own in-memory index and parser (or ctx itself)."""
        ctx = self.ctx
        if embedder.name == ctx.embedder.name:
            return ctx  # the configured model: exactly what `pmark search` runs
        from adapters.embeddings.base import CachedEmbedder
        from adapters.search.embedded import EmbeddedIndex
        from adapters.text.tokenizer import tokenizer_for

        _ = ctx.repo
        view = copy.copy(ctx)
        view.__dict__["embedder"] = CachedEmbedder(embedder)
        view.__dict__["index"] = EmbeddedIndex(embedder.dim, None, tokenizer_for(ctx.catalog()))
        view.__dict__.pop("parser", None)  # rebuilt on first use, normalizing with `embedder`
        view.index_notifications(self.history())
        return view

    def _retrieval(
        self, embedder: Embedder, gold: dict[str, list[RetrievalExample]]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        from agent.recommend.service import search_texts

        metrics: dict[str, dict[str, Any]] = {}
        rows: dict[str, list[dict[str, Any]]] = {}
        judged = {s: [e for e in gold.get(s, []) if e.relevant] for s in SPLITS}
        view = self._search_view(embedder) if any(judged.values()) else self.ctx
        for split in SPLITS:
            examples = judged[split]
            if not examples:  # no retrieval gold for this split: nothing to measure
                metrics[split], rows[split] = {"k": self.k, "n": 0}, []
                continue
            results = list(search_texts(view, [e.query for e in examples], self.k))
            pairs = [
                ([r.itemno for r in recs], list(e.relevant))
                for e, (_, recs) in zip(examples, results, strict=True)
            ]
            metrics[split] = aggregate_retrieval(pairs, self.k)
            rows[split] = [
                {"query": e.query, "retrieved": got, "relevant": rel}
                for e, (got, rel) in zip(examples, pairs, strict=True)
            ]
        return metrics, rows

    def candidate(self, spec: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """Every metric of one candidate (Unavailable when it cannot load here)."""
        before = rss_mb()
        started = time.perf_counter()
        embedder = load_embedder(spec, self.corpus())
        load_s = time.perf_counter() - started
        encode = self._encode_stats(embedder, load_s, before)
        similarity = self._similarity(embedder)
        clustering = self._clustering(embedder)
        normalization = self._normalization(embedder)
        gold = retrieval_splits(self.retrieval_gold) if self.retrieval_gold else {}
        retrieval, retrieval_rows = self._retrieval(embedder, gold)
        metrics: dict[str, Any] = {"name": embedder.name, "encode": encode}
        for split in SPLITS:
            metrics[split] = {
                "similarity": similarity[split][0],
                "retrieval": retrieval[split],
                "clustering": clustering[split],
                "normalization": normalization[split],
            }
        details = {
            "similarity": {s: similarity[s][1] for s in SPLITS},
            "retrieval": retrieval_rows,
        }
        return metrics, details

    # The run ---------------------------------------------------------------------------------

    def run_config(self, specs: Sequence[str]) -> dict[str, Any]:
        """The configuration stored with the run."""
        s = self.ctx.settings
        return {
            "kind": "embeddings",
            "models": list(specs),
            "k": self.k,
            "seed": self.seed,
            "normalize_threshold": s.normalize_threshold,
            "search_alpha": s.search_alpha,
            "embedder": s.embedder,
            "similarity_gold": file_fingerprint(self.similarity_gold),
            "retrieval_gold": (
                file_fingerprint(self.retrieval_gold) if self.retrieval_gold else None
            ),
            "cluster_limit": self.cluster_limit,
        }

    def run(self, specs: Sequence[str] = DEFAULT_MODELS) -> RunResult:
        """Evaluate every candidate and store one run; unavailable candidates are listed."""
        specs = [check_spec(s) for s in dict.fromkeys(specs)]
        if not specs:
            raise EvaluationError("no embedding model to evaluate")

        def work() -> tuple[dict[str, Any], dict[str, Any]]:
            models: dict[str, Any] = {}
            unavailable: dict[str, str] = {}
            details: dict[str, Any] = {}
            for i, spec in enumerate(specs):
                self._report("embeddings", i, len(specs))
                try:
                    models[spec], details[spec] = self.candidate(spec)
                except Unavailable as exc:
                    unavailable[spec] = str(exc)
            self._report("embeddings", len(specs), len(specs))
            return {"k": self.k, "models": models, "unavailable": unavailable}, details

        return store_run(self.ctx.repo, self.run_config(specs), work)
