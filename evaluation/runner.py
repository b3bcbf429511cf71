"""Evaluation runs: the current parser and retrieval on gold sets and supervisors' thumbs, stored.

Retrieval is measured on exactly what `pmark search` returns (`search_texts`), parsing on exactly
what `pmark parse` returns (the same parser's `parse(...).as_json()`, without writing the
normalization review log). Every run is a row of `evaluation_runs` (timestamp, version, config,
metrics, per-query details) so runs can be compared; a run that raises is stored as failed.

Neighbours, one job each: configs (configuration names), workers (chunks over forked
processes), ab (A/B comparisons), runs (storing and reading runs), alerts, quantiles and
digest_delivery. The names re-exported below keep `from evaluation.runner import …` working.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evaluation.alerts import live_alerts, run_perf_alerts
from evaluation.configs import (
    FULL_KIND,
    PARSER_CONFIGS,
    RETRIEVAL_CONFIGS,
    EvaluationError,
    alpha_of,
    config_task,
    pmark_version,
)
from evaluation.datasets import (
    ParseExample,
    RetrievalExample,
    file_fingerprint,
    judgments_from_feedback,
    load_parse_gold,
    load_retrieval_gold,
)
from evaluation.digest_delivery import build_digest, digest_payload, digest_targets, send_digest
from evaluation.gold_splits import add_parse_splits, add_retrieval_splits
from evaluation.metrics import (
    PARSE_FIELDS,
    aggregate_parsing,
    aggregate_retrieval,
    judged_metrics,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
    weighted_parse_accuracy,
)
from evaluation.perf import percentile
from evaluation.quantiles import histogram_quantile, live_node_latency
from evaluation.runs import (
    RunResult,
    full_runs,
    run_details,
    run_summaries,
    store_run,
    worst_queries,
)
from evaluation.workers import ProgressFn, map_chunks

if TYPE_CHECKING:
    from adapters.domain import Notification
    from agent.context import PMark
    from agent.parsing.parser import CatalogParser

__all__ = [
    "FULL_KIND",
    "PARSER_CONFIGS",
    "RETRIEVAL_CONFIGS",
    "EvaluationError",
    "Evaluator",
    "Outcome",
    "ProgressFn",
    "RunResult",
    "build_digest",
    "config_task",
    "digest_payload",
    "digest_targets",
    "full_runs",
    "histogram_quantile",
    "latency_summary",
    "live_alerts",
    "live_node_latency",
    "pmark_version",
    "run_details",
    "run_perf_alerts",
    "run_summaries",
    "send_digest",
    "worst_queries",
]


def latency_summary(ms: Sequence[float]) -> dict[str, float]:
    """count, p50_ms, p95_ms of per-item latencies (empty dict for none)."""
    if not ms:
        return {}
    return {"count": len(ms), "p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95)}


@dataclass
class Outcome:
    """One configuration evaluated on one set: aggregate metrics and per-item rows."""

    task: str
    config: str
    metrics: dict[str, Any]
    rows: list[dict[str, Any]]


class Evaluator:
    """Evaluates parsing and retrieval for one PMark context; optionally over forked workers."""

    def __init__(self, ctx: PMark, workers: int = 1, progress: ProgressFn | None = None) -> None:
        self.ctx = ctx
        self.workers = max(1, workers)
        self.progress = progress
        self._parsers: dict[str, CatalogParser] = {}
        self._views: dict[float, PMark] = {}
        self._history: list[Notification] | None = None
        self._titles: dict[str, str] = {}

    # Configurations --------------------------------------------------------------------------

    def _parser(self, config: str) -> CatalogParser:
        if config not in PARSER_CONFIGS:
            raise EvaluationError(f"not a parser configuration: {config!r}")
        if config == "vectors":
            return self.ctx.parser
        found = self._parsers.get(config)
        if found is None:
            from agent.parsing.service import build_parser

            found = self._parsers[config] = build_parser(self.ctx, vectors=False)
        return found

    def _view(self, config: str) -> PMark:
        """The context as `pmark search` sees it, with the configuration's alpha."""
        alpha = alpha_of(config, self.ctx.settings.search_alpha)
        if alpha == self.ctx.settings.search_alpha:
            return self.ctx
        view = self._views.get(alpha)
        if view is None:
            self._warm()
            view = copy.copy(self.ctx)  # shares the loaded repo, index, embedder and parser
            view.settings = self.ctx.settings.model_copy(update={"search_alpha": alpha})
            self._views[alpha] = view
        return view

    def _warm(self) -> None:
        _ = self.ctx.repo, self.ctx.embedder, self.ctx.index, self.ctx.parser

    def _notifications(self) -> list[Notification]:
        if self._history is None:
            self._history = [n for batch in self.ctx.repo.iter_notifications() for n in batch]
            self._titles = {n.itemno: n.title for n in self._history}
        return self._history

    # Local work (also what forked workers run) -----------------------------------------------

    def _parse_local(self, config: str, texts: Sequence[str]) -> list[tuple[Any, ...]]:
        parser = self._parser(config)
        many = getattr(parser, "parse_many", None)
        if callable(many):
            # What `pmark parse` (parse_texts) runs: leftover terms embedded in one batch.
            started = time.perf_counter()
            results = [r.as_json() for r in many(list(texts))]
            each = (time.perf_counter() - started) * 1000 / max(1, len(texts))
            return [(result, each) for result in results]
        out: list[tuple[Any, ...]] = []
        for text in texts:
            started = time.perf_counter()
            result = parser.parse(text).as_json()
            out.append((result, (time.perf_counter() - started) * 1000))
        return out

    def _warm_texts(self, texts: Sequence[str]) -> None:
        """Batch-embed what search_texts will embed one by one (query texts, parser leftovers).

        The embedder's cache then serves search_texts' per-query calls; results are the same.
        """
        self.ctx.embedder.encode(list(dict.fromkeys(texts)))
        many = getattr(self.ctx.parser, "parse_many", None)
        if callable(many):
            many(list(texts))

    def _search_local(self, config: str, texts: Sequence[str], k: int) -> list[tuple[Any, ...]]:
        out: list[tuple[Any, ...]] = []
        if config == "prototype":
            from agent.recommend.prototype import prototype_scores

            history = self._notifications()
            for text in texts:
                started = time.perf_counter()
                parsed = self.ctx.parser.parse(text)
                ids = prototype_scores(
                    history,
                    parsed.code("location"),
                    parsed.code("equipment"),
                    parsed.code("priority"),
                    k,
                )
                ms = (time.perf_counter() - started) * 1000
                out.append((ids, [self._titles.get(i, "") for i in ids], ms))
            return out
        from agent.recommend.service import search_texts

        view = self._view(config)
        self._warm_texts(texts)
        started = time.perf_counter()
        for _, recs in search_texts(view, texts, k):
            now = time.perf_counter()
            out.append(([r.itemno for r in recs], [r.title for r in recs], (now - started) * 1000))
            started = now
        return out

    def run_chunk(
        self, kind: str, config: str, chunk: Sequence[str], k: int
    ) -> list[tuple[Any, ...]]:
        """Parse or search one chunk in this process (also what forked workers run)."""
        if kind == "parse":
            return self._parse_local(config, chunk)
        return self._search_local(config, chunk, k)

    def prepare(self, kind: str, config: str) -> None:
        """Load what forked workers share: model, index, and the configuration's parser/view."""
        self._warm()
        if kind == "parse":
            self._parser(config)
        elif config == "prototype":
            self._notifications()
        else:
            self._view(config)

    def _map(self, kind: str, config: str, texts: Sequence[str], k: int) -> list[tuple[Any, ...]]:
        return map_chunks(self, kind, config, texts, k)

    # Evaluations -----------------------------------------------------------------------------

    def parsing(self, examples: Sequence[ParseExample], config: str = "vectors") -> Outcome:
        """Parsing accuracy of one parser configuration on a gold set."""
        if config_task(config) != "parsing":
            raise EvaluationError(f"{config!r} is not a parser configuration")
        results = self._map("parse", config, [e.text for e in examples], 0)
        rows = []
        for example, (predicted, ms) in zip(examples, results, strict=True):
            got = {f: predicted.get(f) for f in PARSE_FIELDS}
            rows.append(
                {
                    "text": example.text,
                    "lang": example.lang,
                    "scenario": example.scenario,
                    "expected": dict(example.expected),
                    "predicted": got,
                    "score": weighted_parse_accuracy(example.expected, got),
                    "ms": round(ms, 3),
                }
            )
        metrics = aggregate_parsing(
            (r["expected"], r["predicted"], r["lang"], r["scenario"]) for r in rows
        )
        metrics["latency_ms"] = latency_summary([r["ms"] for r in rows])
        return Outcome("parsing", config, metrics, rows)

    def search(self, queries: Sequence[str], k: int, config: str = "hybrid") -> list[list[str]]:
        """Ranked itemnos per query, as the configuration returns them."""
        return [list(r[0]) for r in self._map("search", config, queries, k)]

    def retrieval(
        self, examples: Sequence[RetrievalExample], k: int = 5, config: str = "hybrid"
    ) -> Outcome:
        """Precision/Recall@k, MRR@k and nDCG@k of one retrieval configuration on a gold set."""
        if config_task(config) != "retrieval":
            raise EvaluationError(f"{config!r} is not a retrieval configuration")
        results = self._map("search", config, [e.query for e in examples], k)
        rows = []
        for example, (retrieved, titles, ms) in zip(examples, results, strict=True):
            relevant = list(example.relevant)
            rows.append(
                {
                    "query": example.query,
                    "relevant": relevant,
                    "retrieved": retrieved,
                    "titles": titles,
                    "precision": precision_at_k(retrieved, relevant, k),
                    "recall": recall_at_k(retrieved, relevant, k),
                    "rr": reciprocal_rank(retrieved, relevant, k),
                    "ndcg": ndcg_at_k(retrieved, relevant, k),
                    "ms": round(ms, 3),
                }
            )
        metrics = aggregate_retrieval(((r["retrieved"], r["relevant"]) for r in rows), k)
        metrics["latency_ms"] = latency_summary([r["ms"] for r in rows])
        return Outcome("retrieval", config, metrics, rows)

    def feedback(self, k: int = 5, config: str = "hybrid") -> Outcome:
        """Judged metrics on supervisors' thumbs; unjudged results lower coverage, not precision."""
        feedback = self.ctx.repo.feedback()
        counts = {
            "up": sum(1 for f in feedback if f["vote"] > 0),
            "down": sum(1 for f in feedback if f["vote"] < 0),
            "supervisor_up": sum(1 for f in feedback if f["vote"] > 0 and f["is_supervisor"]),
            "supervisor_down": sum(1 for f in feedback if f["vote"] < 0 and f["is_supervisor"]),
        }
        judgments = judgments_from_feedback(feedback)
        results = self._map("search", config, [j.query for j in judgments], k)
        rows = []
        for judgment, (retrieved, titles, _ms) in zip(judgments, results, strict=True):
            jm = judged_metrics(retrieved, judgment.positive, judgment.negative, k)
            rows.append(
                {
                    "query": judgment.query,
                    "positive": sorted(judgment.positive),
                    "negative": sorted(judgment.negative),
                    "retrieved": retrieved,
                    "titles": titles,
                    "n_judged": jm.n_judged,
                    "coverage": jm.coverage,
                    "precision": jm.precision,
                    "rr": jm.reciprocal_rank,
                    "ndcg": jm.ndcg,
                }
            )
        judged = [r for r in rows if r["n_judged"] > 0]

        def mean(key: str) -> float | None:
            values = [float(r[key]) for r in judged]
            return sum(values) / len(values) if values else None

        metrics: dict[str, Any] = {
            "k": k,
            "n_queries": len(rows),
            "n_judged_queries": len(judged),
            "coverage": sum(r["coverage"] for r in rows) / len(rows) if rows else None,
            "precision": mean("precision"),
            "mrr": mean("rr"),
            "ndcg": mean("ndcg"),
            **counts,
        }
        return Outcome("feedback", config, metrics, rows)

    # Stored runs -----------------------------------------------------------------------------

    def run_config(self, kind: str, k: int, **extra: Any) -> dict[str, Any]:
        """The configuration stored with a run: the task's options and the settings that matter."""
        s = self.ctx.settings
        return {
            "kind": kind,
            "k": k,
            "search_alpha": s.search_alpha,
            "normalize_threshold": s.normalize_threshold,
            "embedder": s.embedder,
            "index": "weaviate" if s.weaviate_url else "embedded",
            "llm": bool(s.llm_url),
            "workers": self.workers,
            **extra,
        }

    def run(
        self,
        parse_gold: Path | None,
        retrieval_gold: Path | None,
        k: int = 5,
        kind: str = FULL_KIND,
        feedback: bool = True,
        slot: str | None = None,
        parse_config: str = "vectors",
        retrieval_config: str = "hybrid",
    ) -> RunResult:
        """Evaluate parsing, retrieval and feedback as configured now, and store the run."""
        if config_task(parse_config) != "parsing" or config_task(retrieval_config) != "retrieval":
            raise EvaluationError(f"bad configurations: {parse_config!r}, {retrieval_config!r}")
        config = self.run_config(
            kind,
            k,
            parse_gold=file_fingerprint(parse_gold) if parse_gold else None,
            retrieval_gold=file_fingerprint(retrieval_gold) if retrieval_gold else None,
            parse_config=parse_config,
            retrieval_config=retrieval_config,
            feedback=feedback,
            slot=slot,
        )

        def work() -> tuple[dict[str, Any], dict[str, Any]]:
            metrics: dict[str, Any] = {}
            details: dict[str, Any] = {}
            perf: dict[str, Any] = {}
            if parse_gold is not None:
                outcome = self.parsing(load_parse_gold(parse_gold), parse_config)
                metrics["parsing"], details["parsing"] = outcome.metrics, outcome.rows
                perf["parse"] = outcome.metrics["latency_ms"]
                add_parse_splits(self, parse_gold, parse_config, metrics, details)
            if retrieval_gold is not None:
                outcome = self.retrieval(load_retrieval_gold(retrieval_gold), k, retrieval_config)
                metrics["retrieval"], details["retrieval"] = outcome.metrics, outcome.rows
                perf["retrieve"] = outcome.metrics["latency_ms"]
                add_retrieval_splits(self, retrieval_gold, k, retrieval_config, metrics, details)
            if feedback:
                outcome = self.feedback(k, retrieval_config)
                metrics["feedback"], details["feedback"] = outcome.metrics, outcome.rows
            metrics["perf"] = perf
            return metrics, details

        return store_run(self.ctx.repo, config, work)

    def compare(
        self,
        a: str,
        b: str,
        *,
        parse_gold: Path | None = None,
        retrieval_gold: Path | None = None,
        k: int = 5,
        n_resamples: int = 10000,
    ) -> RunResult:
        """A/B: two configurations on the same set (evaluation.ab.compare), stored as a run."""
        from evaluation.ab import compare

        return compare(
            self,
            a,
            b,
            parse_gold=parse_gold,
            retrieval_gold=retrieval_gold,
            k=k,
            n_resamples=n_resamples,
        )
