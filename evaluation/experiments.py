"""Experiments: every `pmark eval run/compare/embeddings` filed under a name with provenance.

PMark's own table `experiment_runs` always records the run (configuration and metrics stay in
`evaluation_runs`), the code version (git commit, `-dirty` when tracked files changed, or
PMARK_CODE_VERSION), who ran it (PMARK_RESEARCHER or the login name) and notes. When the
`research` extra (MLflow) is installed and MLFLOW_TRACKING_URI is set, the same run is also
logged to MLflow: configuration as params, every numeric metric (dotted path) as a metric,
provenance as tags. MLflow failing never loses PMark's own record.
"""

from __future__ import annotations

import getpass
import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from adapters.sql.experiments import ExperimentRecord, ExperimentStore
from adapters.sql.repository import Repository, utcnow
from evaluation.configs import EvaluationError, pmark_version

log = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "default"
REPO_ROOT = Path(__file__).resolve().parents[1]
# Headline metrics per run kind (dotted paths; `*` matches any one key), for listings.
HEADLINES: Mapping[str, tuple[str, ...]] = {
    "full": (
        "parsing.weighted_accuracy",
        "retrieval.precision_at_k",
        "retrieval.ndcg_at_k",
        "retrieval.mrr",
        "feedback.precision",
    ),
    "parsing": ("parsing.weighted_accuracy",),
    "retrieval": ("retrieval.precision_at_k", "retrieval.ndcg_at_k", "retrieval.mrr"),
    "compare": ("difference.*", "p_value.*"),
    "embeddings": (
        "models.*.test.similarity.spearman",
        "models.*.test.retrieval.ndcg_at_k",
        "models.*.test.clustering.ari_equipment",
        "models.*.test.normalization.accuracy",
        "models.*.encode.texts_per_s",
    ),
}


def code_version() -> str:
    """PMARK_CODE_VERSION, else the git commit of this checkout (+ -dirty), else the package's."""
    override = os.environ.get("PMARK_CODE_VERSION", "").strip()
    if override:
        return override[:80]
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return f"pmark-{pmark_version()}"
    return f"{sha}-dirty" if dirty else sha


def researcher() -> str:
    """Who runs the experiment: PMARK_RESEARCHER, else the login name."""
    name = os.environ.get("PMARK_RESEARCHER", "").strip()
    if name:
        return name[:200]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def flatten(node: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of nested mappings by dotted path (booleans and None left out)."""
    out: dict[str, float] = {}
    if isinstance(node, Mapping):
        for key, value in node.items():
            out |= flatten(value, f"{prefix}{key}." if prefix or key else "")
    elif isinstance(node, int | float) and not isinstance(node, bool):
        out[prefix.rstrip(".")] = float(node)
    return out


def _matches(path: str, pattern: str) -> bool:
    parts, want = path.split("."), pattern.split(".")
    return len(parts) == len(want) and all(w in ("*", p) for p, w in zip(parts, want, strict=True))


def headline(kind: str, metrics: Mapping[str, Any]) -> dict[str, float]:
    """The run's headline metrics (HEADLINES for its kind; every metric for unknown kinds)."""
    flat = flatten(metrics)
    patterns = HEADLINES.get(kind)
    if patterns is None:
        return flat
    return {p: v for p, v in flat.items() if any(_matches(p, w) for w in patterns)}


def _mlflow_params(config: Mapping[str, Any]) -> dict[str, str]:
    params: dict[str, str] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            params[prefix.rstrip(".")] = str(node)[:500]

    walk(config, "")
    return params


def log_to_mlflow(
    experiment: str, run_name: str, config: Mapping[str, Any], metrics: Mapping[str, Any],
    tags: Mapping[str, str],
) -> str | None:  # fmt: skip
    """Log one run to MLflow when MLFLOW_TRACKING_URI is set and mlflow imports; its run id."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if not uri:
        return None
    try:
        import mlflow
    except ImportError:
        log.info("MLFLOW_TRACKING_URI is set but mlflow is not installed (extra `research`)")
        return None
    try:
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(experiment)
        with mlflow.start_run(run_name=run_name) as active:
            mlflow.log_params(_mlflow_params(config))
            numbers = flatten(metrics)
            if numbers:
                mlflow.log_metrics(numbers)
            mlflow.set_tags(dict(tags))
            return str(active.info.run_id)
    except Exception:  # MLflow is a mirror: PMark's own record is already stored
        log.exception("logging run %s to MLflow at %s failed", run_name, uri)
        return None


def record_experiment(
    repo: Repository, run_id: int, experiment: str = DEFAULT_EXPERIMENT, notes: str = ""
) -> dict[str, Any]:
    """File a stored run under `experiment` (and mirror it to MLflow); the filed row."""
    name = " ".join(experiment.split())[:200]
    if not name:
        raise EvaluationError("an experiment needs a name")
    store = ExperimentStore(repo.engine)
    run = store.run(run_id)
    if run is None:
        raise EvaluationError(f"no evaluation run {run_id}")
    config = dict(run["config"] or {})
    kind = str(config.get("kind") or "")
    rec = ExperimentRecord(name, run_id, kind, utcnow(), code_version(), researcher(), notes)
    row_id = store.record(rec)
    tags = {
        "pmark.run_id": str(run_id),
        "pmark.kind": kind,
        "pmark.code_version": rec.code_version,
        "pmark.researcher": rec.researcher,
        "mlflow.note.content": notes,
    }
    mlflow_id = log_to_mlflow(name, f"{kind}-{run_id}", config, run["metrics"] or {}, tags)
    if mlflow_id:
        store.set_mlflow_run(row_id, mlflow_id)
    return {
        "id": row_id,
        "experiment": name,
        "run_id": run_id,
        "kind": kind,
        "code_version": rec.code_version,
        "researcher": rec.researcher,
        "notes": notes,
        "mlflow_run_id": mlflow_id,
    }


def list_experiments(
    repo: Repository, experiment: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Filed runs, newest first, with their configuration and headline metrics."""
    rows = ExperimentStore(repo.engine).list(experiment, limit)
    out = []
    for row in rows:
        metrics = row.pop("metrics") or {}
        row["created_at"] = row["created_at"].isoformat(timespec="seconds")
        row["headline"] = headline(row["kind"], metrics)
        out.append(row)
    return out


def comparison_table(rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """One experiment's runs side by side: header (metric, run ids…) and a row per metric."""
    ordered = sorted(rows, key=lambda r: r["run_id"])
    names = sorted({m for r in ordered for m in r["headline"]})
    header = ["metric", *(f"run {r['run_id']}" for r in ordered)]
    body = [[name] + [_num(r["headline"].get(name)) for r in ordered] for name in names]
    return header, body


def _num(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.4f}" if abs(value) < 10 else f"{value:,.1f}"
