"""Latency alerts: the latest full run against the runs before it, and live node timings."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from evaluation.perf import Alert, check_alerts, threshold_for
from evaluation.runs import full_runs


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
