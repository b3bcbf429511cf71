"""Prometheus metrics of the agent, and the per-node slowness check against a rolling baseline."""

from __future__ import annotations

import logging
from collections import deque

from prometheus_client import Counter, Gauge, Histogram

log = logging.getLogger(__name__)

NODE_SECONDS = Histogram(
    "pmark_node_duration_seconds",
    "Time spent in each graph node",
    ["node"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
NODE_ERRORS = Counter("pmark_node_errors_total", "Exceptions raised by graph nodes", ["node"])
NODE_SLOW = Counter(
    "pmark_node_slow_total", "Node runs slower than 1.5x their rolling baseline", ["node"]
)
TURNS = Counter("pmark_turns_total", "Conversation turns handled", ["kind"])
TURN_SECONDS = Histogram(
    "pmark_turn_duration_seconds",
    "Time of a whole turn",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15),
)
DEGRADED = Counter("pmark_degraded_total", "Turns answered without a dependency", ["part"])
# Each worker process keeps its own rolling median (bot.metrics_mp): export the slowest live
# worker's, one series per node as with a single process; an exited worker's median is dropped.
NODE_BASELINE = Gauge(
    "pmark_node_baseline_seconds",
    "Rolling median duration per node",
    ["node"],
    multiprocess_mode="livemax",
)


class SlownessWatch:
    """Flags a node that runs 1.5x slower than its rolling median (a log line and a counter)."""

    def __init__(
        self, window: int = 200, factor: float = 1.5, warmup: int = 20, refresh: int = 10
    ) -> None:
        self.window = window
        self.factor = factor
        self.warmup = warmup
        # The median is re-taken every `refresh` observations, not on each: sorting the window
        # for every node of every turn cost more than most nodes, and a median of 200 barely
        # moves in 10.
        self.refresh = refresh
        self._samples: dict[str, deque[float]] = {}
        self._baseline: dict[str, tuple[float, int]] = {}  # median, observations since

    def observe(self, node: str, seconds: float) -> bool:
        """Record a duration; True when it was slow against the baseline."""
        samples = self._samples.setdefault(node, deque(maxlen=self.window))
        slow = False
        if len(samples) >= self.warmup:
            baseline, since = self._baseline.get(node, (0.0, self.refresh))
            if since >= self.refresh:
                ordered = sorted(samples)
                baseline, since = ordered[len(ordered) // 2], 0
                NODE_BASELINE.labels(node).set(baseline)
            self._baseline[node] = (baseline, since + 1)
            # Sub-millisecond nodes jitter by more than 1.5x: only flag what a user could feel.
            if seconds > self.factor * baseline and seconds - baseline > 0.005:
                slow = True
                NODE_SLOW.labels(node).inc()
                log.info(
                    "node %s took %.1f ms, baseline %.1f ms", node, seconds * 1000, baseline * 1000
                )
        samples.append(seconds)
        return slow


WATCH = SlownessWatch()
