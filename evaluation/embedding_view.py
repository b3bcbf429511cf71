"""The /eval page's embedding section: the latest `pmark eval embeddings` run, side by side."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from markupsafe import Markup

from evaluation.svg import grouped_bars

# (label, path inside a split's metrics); every one is 0..1 except Spearman (−1..1).
SPLIT_METRICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Spearman", ("similarity", "spearman")),
    ("Spearman ko", ("similarity", "spearman_by_lang", "ko")),
    ("Spearman en", ("similarity", "spearman_by_lang", "en")),
    ("Spearman ko↔en", ("similarity", "spearman_by_lang", "ko-en")),
    ("P@k", ("retrieval", "precision_at_k")),
    ("nDCG@k", ("retrieval", "ndcg_at_k")),
    ("ARI equipment", ("clustering", "ari_equipment")),
    ("ARI failure mode", ("clustering", "ari_failure_mode")),
    ("normalization", ("normalization", "accuracy")),
)
ENCODE_METRICS: tuple[tuple[str, str], ...] = (
    ("texts/s", "texts_per_s"),
    ("load s", "load_s"),
    ("RSS growth MiB", "rss_growth_mb"),
    ("dim", "dim"),
)


def latest_embedding_run(runs: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The newest successful embeddings run among run summaries (newest first)."""
    for run in runs:
        if run.get("status") == "ok" and (run.get("config") or {}).get("kind") == "embeddings":
            return run
    return None


def value_at(node: Any, path: Sequence[str]) -> float | None:
    """The number at `path` in nested mappings, or None."""
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    if isinstance(node, bool) or not isinstance(node, int | float):
        return None
    return float(node)


def _cell(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def embedding_section(run: Mapping[str, Any], split: str = "test") -> dict[str, Any]:
    """Charts and a table for the page template: one bar per model per metric on `split`."""
    metrics = run.get("metrics") or {}
    models: Mapping[str, Any] = metrics.get("models") or {}
    names = list(models)
    groups = [label for label, _ in SPLIT_METRICS]
    series = {
        name: [value_at(models[name].get(split), path) for _, path in SPLIT_METRICS]
        for name in names
    }
    charts: list[Markup] = []
    if names:
        charts.append(
            grouped_bars("chart-embeddings", f"Embedding models ({split} split)", groups, series)
        )
    headers = ["metric", *names] if names else ["metric", "note"]
    rows = []
    for split_name in ("dev", "test"):
        for label, path in SPLIT_METRICS:
            rows.append(
                [f"{label} ({split_name})"]
                + [_cell(value_at(models[n].get(split_name), path)) for n in names]
            )
    for label, key in ENCODE_METRICS:
        digits = 0 if key == "dim" else 1
        cells = [_cell(value_at(models[n].get("encode"), (key,)), digits) for n in names]
        rows.append([label, *cells])
    for spec, reason in (metrics.get("unavailable") or {}).items():
        rows.append([f"{spec}: not evaluated", str(reason)] + [""] * (len(headers) - 2))
    started = run.get("started_at")
    label = started.strftime("%m-%d %H:%M") if isinstance(started, datetime) else str(started)
    return {
        "run_id": run.get("id"),
        "label": label,
        "split": split,
        "charts": charts,
        "headers": headers,
        "rows": rows,
    }
