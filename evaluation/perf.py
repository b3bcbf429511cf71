"""Latency percentiles per graph node and regression alerts against a rolling baseline. Pure.

Alert rule (from the seed's SystemPerformanceMonitor): a node alerts when its p95 is more than
`threshold x baseline`, where the threshold is 2.0 for the whole turn (node "turn"), 1.8 for
search (node "retrieve") and 1.5 for every other node.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

TURN_NODE = "turn"
SEARCH_NODE = "retrieve"
DEFAULT_THRESHOLD = 1.5
DEFAULT_THRESHOLDS: Mapping[str, float] = {TURN_NODE: 2.0, SEARCH_NODE: 1.8}


def percentile(samples: Iterable[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between ranks (numpy's)."""
    values = list(samples)
    if not values:
        raise ValueError("percentile of no samples")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"q must be in [0, 100], got {q}")
    return float(np.percentile(values, q))


@dataclass(frozen=True)
class NodeStats:
    """Latency summary of one node over one window."""

    node: str
    count: int
    p50_ms: float
    p95_ms: float


@dataclass(frozen=True)
class Alert:
    """A node whose p95 latency exceeded threshold x baseline."""

    node: str
    p95_ms: float
    baseline_ms: float
    threshold: float
    count: int

    @property
    def ratio(self) -> float:
        """p95 / baseline."""
        return self.p95_ms / self.baseline_ms

    def as_dict(self) -> dict[str, float | int | str]:
        """Plain-dict form (for digests and JSON), including the ratio."""
        return {**asdict(self), "ratio": self.ratio}


def threshold_for(node: str, thresholds: Mapping[str, float] | None = None) -> float:
    """Alert multiplier for a node: 2.0 for "turn", 1.8 for "retrieve", else 1.5 (overridable)."""
    table = DEFAULT_THRESHOLDS if thresholds is None else {**DEFAULT_THRESHOLDS, **thresholds}
    return table.get(node, DEFAULT_THRESHOLD)


def node_stats(samples: Mapping[str, Sequence[float]]) -> dict[str, NodeStats]:
    """p50/p95 per node; nodes without samples are left out."""
    return {
        node: NodeStats(node, len(ms), percentile(ms, 50), percentile(ms, 95))
        for node, ms in sorted(samples.items())
        if ms
    }


def check_alerts(
    samples: Mapping[str, Sequence[float]],
    baselines: Mapping[str, float],
    thresholds: Mapping[str, float] | None = None,
    min_samples: int = 1,
) -> list[Alert]:
    """Alerts for nodes whose p95 > threshold x baseline.

    Nodes with no (positive) baseline or fewer than `min_samples` samples are not judged.
    """
    alerts = []
    for node, stats in node_stats(samples).items():
        baseline = baselines.get(node)
        if baseline is None or baseline <= 0 or stats.count < min_samples:
            continue
        limit = threshold_for(node, thresholds)
        if stats.p95_ms > limit * baseline:
            alerts.append(Alert(node, stats.p95_ms, baseline, limit, stats.count))
    return alerts


class PerformanceMonitor:
    """Collects per-node latencies in a window and compares the window's p95 to a baseline.

    The baseline of a node is the median of the p95s of its last `history` closed windows (see
    `roll`); until a node has a closed window, the configured `baselines` value is used. The median
    means a regression has to persist for more than half of the history before it becomes the new
    normal, while one slow window cannot move the baseline much. The caller decides when a window
    ends (e.g. hourly, daily) by calling `roll`; nothing here reads a clock.
    """

    def __init__(
        self,
        baselines: Mapping[str, float] | None = None,
        *,
        history: int = 7,
        max_window_samples: int = 10_000,
        min_samples: int = 20,
        thresholds: Mapping[str, float] | None = None,
    ) -> None:
        if history < 1 or max_window_samples < 1 or min_samples < 1:
            raise ValueError("history, max_window_samples and min_samples must be >= 1")
        self._configured = dict(baselines or {})
        self._history_len = history
        self._max_samples = max_window_samples
        self._min_samples = min_samples
        self._thresholds = dict(thresholds or {})
        self._window: dict[str, deque[float]] = {}
        self._history: dict[str, deque[float]] = {}

    def observe(self, node: str, ms: float) -> None:
        """Record one latency sample (milliseconds) for a node in the current window."""
        if not math.isfinite(ms) or ms < 0:
            raise ValueError(f"latency must be a finite non-negative number, got {ms}")
        window = self._window.get(node)
        if window is None:
            window = self._window[node] = deque(maxlen=self._max_samples)
        window.append(float(ms))

    def baseline(self, node: str) -> float | None:
        """Current baseline p95 for a node, or None when there is none yet."""
        past = self._history.get(node)
        if past:
            return statistics.median(past)
        return self._configured.get(node)

    def baselines(self) -> dict[str, float]:
        """Current baseline of every node that has one."""
        nodes = set(self._configured) | set(self._history)
        return {n: b for n in sorted(nodes) if (b := self.baseline(n)) is not None}

    def stats(self) -> dict[str, NodeStats]:
        """p50/p95 of the current window per node."""
        return node_stats(self._window)

    def alerts(self) -> list[Alert]:
        """Alerts for the current window against the current baselines."""
        return check_alerts(self._window, self.baselines(), self._thresholds, self._min_samples)

    def roll(self) -> list[Alert]:
        """Close the window: return its alerts, fold its p95s into the baselines, start anew.

        Windows with fewer than `min_samples` samples for a node do not update that node's
        baseline (too few to trust their p95).
        """
        alerts = self.alerts()
        for node, stats in self.stats().items():
            if stats.count < self._min_samples:
                continue
            past = self._history.get(node)
            if past is None:
                past = self._history[node] = deque(maxlen=self._history_len)
            past.append(stats.p95_ms)
        self._window = {}
        return alerts
