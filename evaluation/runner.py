"""Evaluation runs: the current parser and retrieval on gold sets and supervisors' thumbs, stored.

Retrieval is measured on exactly what `pmark search` returns (`search_texts`), parsing on exactly
what `pmark parse` returns (the same parser's `parse(...).as_json()`, without writing the
normalization review log). Every run is a row of `evaluation_runs` (timestamp, version, config,
metrics, per-query details) so runs can be compared; a run that raises is stored as failed.

Configurations for A/B comparisons: parsing `vectors` | `novectors`; retrieval `hybrid` (the
configured alpha), `bm25` (alpha 0), `vector` (alpha 1), `alpha=<x>`, and `prototype` (the seed's
SQL scoring on the parsed location/equipment/priority).
"""

from __future__ import annotations

import copy
import logging
import math
import multiprocessing as mp
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from adapters.sql.models import EvaluationRunRow
from adapters.sql.repository import Repository, utcnow
from evaluation.datasets import (
    ParseExample,
    RetrievalExample,
    file_fingerprint,
    judgments_from_feedback,
    load_parse_gold,
    load_retrieval_gold,
)
from evaluation.digest import (
    Digest,
    Language,
    slack_blocks,
    summary_text,
    teams_attachment,
    teams_card,
)
from evaluation.gold_splits import add_parse_splits, add_retrieval_splits
from evaluation.lifecycle_stats import lifecycle_stats
from evaluation.metrics import (
    PARSE_FIELDS,
    aggregate_parsing,
    aggregate_retrieval,
    field_match,
    judged_metrics,
    ndcg_at_k,
    paired_permutation_test,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
    weighted_parse_accuracy,
)
from evaluation.perf import Alert, check_alerts, percentile, threshold_for

if TYPE_CHECKING:
    from adapters.channels.base import Channel
    from adapters.domain import Notification
    from adapters.settings import Settings
    from agent.context import PMark
    from agent.parsing.parser import CatalogParser

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, int], None]
"""Called as (stage, done, total) while a run advances."""

PARSER_CONFIGS: tuple[str, ...] = ("vectors", "novectors")
RETRIEVAL_CONFIGS: tuple[str, ...] = ("hybrid", "bm25", "vector", "prototype")
FULL_KIND = "full"
# Compared metrics: name in the aggregate -> per-query key in the detail rows.
_RETRIEVAL_PAIRS: Mapping[str, str] = {
    "precision_at_k": "precision",
    "recall_at_k": "recall",
    "mrr": "rr",
    "ndcg_at_k": "ndcg",
}
_CHUNK_MAX = 256  # below the embedder's LRU size, so a warmed chunk stays cached


class EvaluationError(ValueError):
    """A run that cannot start (unknown configuration, mismatched A/B tasks)."""


def pmark_version() -> str:
    """The installed PMark version (stored with each run)."""
    try:
        return metadata.version("pmark")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def config_task(name: str) -> str:
    """'parsing' or 'retrieval' for a configuration name; EvaluationError when unknown."""
    if name in PARSER_CONFIGS:
        return "parsing"
    if name in RETRIEVAL_CONFIGS:
        return "retrieval"
    if name.startswith("alpha="):
        _alpha_of(name, 0.5)
        return "retrieval"
    known = ", ".join((*PARSER_CONFIGS, *RETRIEVAL_CONFIGS, "alpha=<0..1>"))
    raise EvaluationError(f"unknown configuration {name!r}; known: {known}")


def _alpha_of(name: str, configured: float) -> float:
    if name == "hybrid":
        return configured
    if name == "bm25":
        return 0.0
    if name == "vector":
        return 1.0
    try:
        alpha = float(name.split("=", 1)[1])
    except (IndexError, ValueError):
        raise EvaluationError(f"bad alpha in {name!r}") from None
    if not 0.0 <= alpha <= 1.0:
        raise EvaluationError(f"alpha must be in [0, 1], got {alpha}")
    return alpha


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


@dataclass
class RunResult:
    """A stored run."""

    run_id: int
    metrics: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)


# Workers forked from a warmed parent share its loaded model and index copy-on-write.
_FORKED: dict[str, Evaluator] = {}


def _child_init() -> None:
    # Pooled database connections belong to the parent; the child opens its own.
    _FORKED["evaluator"].ctx.repo.engine.dispose(close=False)


def _work_in_child(task: tuple[str, str, list[str], int]) -> list[tuple[Any, ...]]:
    kind, config, texts, k = task
    evaluator = _FORKED["evaluator"]
    if kind == "parse":
        return evaluator._parse_local(config, texts)
    return evaluator._search_local(config, texts, k)


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
        alpha = _alpha_of(config, self.ctx.settings.search_alpha)
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

    def _fork_ok(self) -> bool:
        # gRPC (Weaviate's client) does not survive fork; the embedded index does.
        return (
            self.workers > 1
            and not self.ctx.settings.weaviate_url
            and "fork" in mp.get_all_start_methods()
        )

    def _map(self, kind: str, config: str, texts: Sequence[str], k: int) -> list[tuple[Any, ...]]:
        """Run parse/search over texts in chunks, in order, reporting progress."""
        total = len(texts)
        if total == 0:
            return []
        stage = f"{kind} {config}"
        workers = self.workers if self._fork_ok() else 1
        size = max(8, min(_CHUNK_MAX, math.ceil(total / (workers * 4))))
        chunks = [list(texts[i : i + size]) for i in range(0, total, size)]
        results: list[list[tuple[Any, ...]]] = [[] for _ in chunks]
        done = 0
        self._report(stage, 0, total)
        if kind == "search" and config != "prototype":
            self.ctx.ensure_index()  # once, here, not in every worker
        if workers == 1:
            for i, chunk in enumerate(chunks):
                results[i] = self._run_chunk(kind, config, chunk, k)
                done += len(chunk)
                self._report(stage, done, total)
        else:
            self._warm()
            if kind == "parse":
                self._parser(config)
            elif config == "prototype":
                self._notifications()
            else:
                self._view(config)
            _FORKED["evaluator"] = self
            try:
                with ProcessPoolExecutor(
                    workers, mp_context=mp.get_context("fork"), initializer=_child_init
                ) as pool:
                    futures = {
                        pool.submit(_work_in_child, (kind, config, chunk, k)): i
                        for i, chunk in enumerate(chunks)
                    }
                    for future in as_completed(futures):
                        i = futures[future]
                        results[i] = future.result()
                        done += len(chunks[i])
                        self._report(stage, done, total)
            finally:
                _FORKED.pop("evaluator", None)
        return [row for part in results for row in part]

    def _run_chunk(
        self, kind: str, config: str, chunk: Sequence[str], k: int
    ) -> list[tuple[Any, ...]]:
        if kind == "parse":
            return self._parse_local(config, chunk)
        return self._search_local(config, chunk, k)

    def _report(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)

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

    def _config(self, kind: str, k: int, **extra: Any) -> dict[str, Any]:
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

    def _stored(
        self, config: dict[str, Any], work: Callable[[], tuple[dict[str, Any], dict[str, Any]]]
    ) -> RunResult:
        repo = self.ctx.repo
        run_id = repo.start_run(pmark_version(), config)
        started = time.perf_counter()
        try:
            metrics, details = work()
            metrics["duration_s"] = round(time.perf_counter() - started, 3)
            repo.finish_run(run_id, metrics, details)
        except BaseException as exc:
            repo.fail_run(run_id, f"{type(exc).__name__}: {exc}"[:4000])
            raise
        return RunResult(run_id, metrics, details)

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
        config = self._config(
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

        return self._stored(config, work)

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
        """A/B: two configurations on the same set, per-metric difference (A - B) and p-value."""
        task = config_task(a)
        if config_task(b) != task:
            raise EvaluationError(f"{a!r} and {b!r} do not evaluate the same thing")
        gold = parse_gold if task == "parsing" else retrieval_gold
        if gold is None:
            raise EvaluationError(f"a {task} comparison needs a {task} gold file")
        config = self._config("compare", k, task=task, a=a, b=b, gold=file_fingerprint(gold))

        def work() -> tuple[dict[str, Any], dict[str, Any]]:
            if task == "parsing":
                examples = load_parse_gold(gold)
                first, second = self.parsing(examples, a), self.parsing(examples, b)
                pairs = {"weighted_accuracy": lambda r: r["score"]} | {
                    f"field_accuracy.{f}": _field_hit(f) for f in PARSE_FIELDS
                }
                rows_a, rows_b = first.rows, second.rows
            else:
                examples_r = load_retrieval_gold(gold)
                first, second = self.retrieval(examples_r, k, a), self.retrieval(examples_r, k, b)
                pairs = {m: _key(key) for m, key in _RETRIEVAL_PAIRS.items()}
                keep = [i for i, r in enumerate(first.rows) if r["relevant"]]
                rows_a = [first.rows[i] for i in keep]
                rows_b = [second.rows[i] for i in keep]
            difference: dict[str, float] = {}
            p_value: dict[str, float] = {}
            for metric, get in pairs.items():
                diff, p = paired_permutation_test(
                    [get(r) for r in rows_a], [get(r) for r in rows_b], n_resamples
                )
                difference[metric], p_value[metric] = diff, p
            metrics = {
                "task": task,
                "a": {"name": a, "metrics": first.metrics},
                "b": {"name": b, "metrics": second.metrics},
                "difference": difference,
                "p_value": p_value,
                "n_pairs": len(rows_a),
            }
            return metrics, {"a": first.rows, "b": second.rows}

        return self._stored(config, work)


def _key(name: str) -> Callable[[Mapping[str, Any]], float]:
    return lambda row: float(row[name])


def _field_hit(field_name: str) -> Callable[[Mapping[str, Any]], float]:
    def get(row: Mapping[str, Any]) -> float:
        hit = field_match(row["expected"].get(field_name), row["predicted"].get(field_name))
        return 1.0 if hit else 0.0

    return get


# Reading stored runs -------------------------------------------------------------------------


def _kind(run: Mapping[str, Any]) -> str:
    return str((run.get("config") or {}).get("kind") or "")


_SUMMARY_COLUMNS = (
    EvaluationRunRow.id,
    EvaluationRunRow.started_at,
    EvaluationRunRow.finished_at,
    EvaluationRunRow.status,
    EvaluationRunRow.version,
    EvaluationRunRow.config,
    EvaluationRunRow.metrics,
    EvaluationRunRow.error,
)


def run_summaries(repo: Repository, limit: int = 200) -> list[dict[str, Any]]:
    """Newest runs first without their per-query details (cheap enough for charts)."""
    query = select(*_SUMMARY_COLUMNS).order_by(EvaluationRunRow.id.desc()).limit(limit)
    with repo.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def run_details(repo: Repository, run_id: int) -> dict[str, Any]:
    """The per-query details of one run ({} when it has none)."""
    query = select(EvaluationRunRow.details).where(EvaluationRunRow.id == run_id)
    with repo.engine.connect() as conn:
        return dict(conn.execute(query).scalar() or {})


def full_runs(runs: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Successful full runs, newest first."""
    return [r for r in runs if r.get("status") == "ok" and _kind(r) == FULL_KIND]


def worst_queries(details: Mapping[str, Any] | None, n: int = 5) -> list[dict[str, Any]]:
    """A run's retrieval queries with the lowest nDCG (then precision), with what came back."""
    rows = (details or {}).get("retrieval") or []
    judged = [r for r in rows if r.get("relevant")]
    judged.sort(key=lambda r: (r.get("ndcg", 0.0), r.get("precision", 0.0), r.get("rr", 0.0)))
    return [
        {
            "query": r.get("query", ""),
            "precision": r.get("precision"),
            "ndcg": r.get("ndcg"),
            "retrieved": list(r.get("retrieved") or []),
            "titles": list(r.get("titles") or []),
            "relevant": list(r.get("relevant") or [])[:10],
        }
        for r in judged[:n]
    ]


def _p95s(run: Mapping[str, Any]) -> dict[str, float]:
    perf = (run.get("metrics") or {}).get("perf") or {}
    out = {}
    for node, stats in perf.items():
        if isinstance(stats, Mapping) and isinstance(stats.get("p95_ms"), int | float):
            out[node] = float(stats["p95_ms"])
    return out


def run_perf_alerts(runs: Sequence[Mapping[str, Any]], history: int = 7) -> list[Alert]:
    """The latest full run's p95 per stage against the median p95 of the `history` before it."""
    full = full_runs(runs)
    if len(full) < 2:
        return []
    latest = _p95s(full[0])
    baselines: dict[str, float] = {}
    for node in latest:
        past = [p[node] for r in full[1 : history + 1] if node in (p := _p95s(r))]
        if past:
            baselines[node] = statistics.median(past)
    return check_alerts({node: [ms] for node, ms in latest.items()}, baselines)


def histogram_quantile(buckets: Sequence[tuple[float, float]], q: float) -> float | None:
    """Quantile from cumulative (upper bound, count) buckets, interpolated as Prometheus does."""
    buckets = sorted(buckets)
    if not buckets or buckets[-1][1] <= 0:
        return None
    total = buckets[-1][1]
    rank = q * total
    prev_bound, prev_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return prev_bound
            if count == prev_count:
                return bound
            return prev_bound + (bound - prev_bound) * (rank - prev_count) / (count - prev_count)
        prev_bound, prev_count = bound, count
    return prev_bound


def live_node_latency() -> dict[str, dict[str, float]]:
    """This process's graph-node latencies (Prometheus histograms) with their rolling baselines.

    {node: {count, p50_ms, p95_ms, baseline_ms?}}; empty when the agent's metrics are absent.
    """
    try:
        from agent.metrics import NODE_BASELINE, NODE_SECONDS
    except ImportError:
        return {}
    buckets: dict[str, list[tuple[float, float]]] = {}
    for family in NODE_SECONDS.collect():
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                node = sample.labels.get("node", "?")
                le = float(sample.labels.get("le", "inf"))
                buckets.setdefault(node, []).append((le, float(sample.value)))
    baselines = {
        s.labels.get("node", "?"): float(s.value)
        for family in NODE_BASELINE.collect()
        for s in family.samples
    }
    out: dict[str, dict[str, float]] = {}
    for node, rows in sorted(buckets.items()):
        p50, p95 = histogram_quantile(rows, 0.5), histogram_quantile(rows, 0.95)
        count = max(c for _, c in rows)
        if p50 is None or p95 is None or count <= 0:
            continue
        entry = {"count": count, "p50_ms": p50 * 1000, "p95_ms": p95 * 1000}
        if baselines.get(node):
            entry["baseline_ms"] = baselines[node] * 1000
        out[node] = entry
    return out


def live_alerts(latency: Mapping[str, Mapping[str, float]]) -> list[Alert]:
    """Nodes whose live p95 exceeds their threshold x rolling baseline."""
    alerts = []
    for node, stats in latency.items():
        baseline = stats.get("baseline_ms")
        if not baseline:
            continue
        limit = threshold_for(node)
        if stats["p95_ms"] > limit * baseline:
            alerts.append(Alert(node, stats["p95_ms"], baseline, limit, int(stats["count"])))
    return alerts


def _week_ago(full: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    if not full:
        return None
    target = full[0]["started_at"] - timedelta(days=7)
    older = [r for r in full[1:] if r["started_at"] <= target + timedelta(hours=12)]
    return min(older, key=lambda r: abs(r["started_at"] - target)) if older else None


def build_digest(
    repo: Repository,
    *,
    language: Language = "both",
    now: datetime | None = None,
    latency: Mapping[str, Mapping[str, float]] | None = None,
) -> Digest:
    """The digest from stored runs: latest, previous and ~7-days-ago full runs, worst queries,
    feedback counts, performance alerts and the runs that failed since the previous full run."""
    runs = run_summaries(repo, limit=500)
    full = full_runs(runs)
    latest = full[0] if full else None
    previous = full[1] if len(full) > 1 else None
    week = _week_ago(full)
    since = previous["started_at"] if previous else None
    feedback = repo.feedback()
    counts = {
        "up": sum(1 for f in feedback if f["vote"] > 0),
        "down": sum(1 for f in feedback if f["vote"] < 0),
        "new_since_last": sum(1 for f in feedback if since is None or f["created_at"] >= since),
    }
    failed_since = since or ((now or utcnow()) - timedelta(days=7))
    failed = [
        {
            "run_id": r["id"],
            "kind": _kind(r),
            "started_at": r["started_at"].isoformat(timespec="minutes"),
            "error": r.get("error") or "",
        }
        for r in runs
        if r.get("status") == "failed" and r["started_at"] >= failed_since
    ]
    alerts: list[Alert] = run_perf_alerts(runs) + live_alerts(latency or {})
    return Digest(
        latest=dict((latest or {}).get("metrics") or {}),
        previous=dict(previous["metrics"]) if previous else None,
        week_ago=dict(week["metrics"]) if week else None,
        worst_queries=worst_queries(run_details(repo, latest["id"]) if latest else None),
        feedback=counts,
        perf_alerts=alerts,
        failed_runs=failed,
        language=language,
        generated_at=(now or utcnow()).isoformat(timespec="minutes"),
        run_id=str(latest["id"]) if latest else None,
        lifecycle=lifecycle_stats(repo, (now or utcnow()) - timedelta(days=7)),
    )


def digest_payload(digest: Digest) -> dict[str, Any]:
    """{"teams": Adaptive Card, "slack": Block Kit blocks}."""
    return {"teams": teams_card(digest), "slack": slack_blocks(digest)}


def digest_targets(settings: Settings) -> list[tuple[str, str]]:
    """(channel name, conversation id) pairs that receive the digest."""
    return [("teams", c) for c in settings.digest_teams_conversations] + [
        ("slack", c) for c in settings.digest_slack_channels
    ]


async def send_digest(
    ctx: PMark, digest: Digest, channels: Mapping[str, Channel] | None = None
) -> tuple[int, int]:
    """Post the digest to settings.digest_teams_conversations / digest_slack_channels.

    `channels` are the app's channels by name ("teams", "slack"); when None they are built from
    settings (adapters.channels.factory.make_channels) and closed afterwards. A failing target is
    logged and skipped. Returns (posted, targets).
    """
    from adapters.channels.base import Outbound

    targets = digest_targets(ctx.settings)
    if not targets:
        return 0, 0
    own = channels is None
    if channels is None:
        from adapters.channels.factory import make_channels

        channels = make_channels(ctx.settings, ctx.repo)
    text = summary_text(digest)
    messages = {
        "teams": Outbound(text, teams_attachments=[teams_attachment(teams_card(digest))]),
        "slack": Outbound(text, slack_blocks=slack_blocks(digest)),
    }
    posted = 0
    try:
        for name, conversation in targets:
            channel = channels.get(name)
            if channel is None:
                log.error("digest: no %s channel configured for %s", name, conversation)
                continue
            try:
                await channel.post(conversation, messages[name])
                posted += 1
            except Exception:
                log.exception("digest: posting to %s %s failed", name, conversation)
    finally:
        if own:
            for channel in channels.values():
                await channel.aclose()
    return posted, len(targets)
