"""Stored evaluation runs: writing one (a run that raises is stored as failed) and reading them."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from adapters.sql.models import EvaluationRunRow
from adapters.sql.repository import Repository
from evaluation.configs import FULL_KIND, pmark_version

Work = Callable[[], tuple[dict[str, Any], dict[str, Any]]]
"""Computes (metrics, details) of a run."""


@dataclass
class RunResult:
    """A stored run."""

    run_id: int
    metrics: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)


def store_run(repo: Repository, config: dict[str, Any], work: Work) -> RunResult:
    """Start a run row, do the work, store its metrics and details (or the error, re-raised)."""
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


def run_kind(run: Mapping[str, Any]) -> str:
    """The `kind` in a run's configuration ('' when absent)."""
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
    return [r for r in runs if r.get("status") == "ok" and run_kind(r) == FULL_KIND]


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
