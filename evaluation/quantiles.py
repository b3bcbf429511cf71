"""Latency quantiles from this process's Prometheus histograms of graph-node time."""

from __future__ import annotations

import math
from collections.abc import Sequence


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
