"""Latency percentiles, alert thresholds and the rolling baseline of evaluation.perf."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaluation.perf import (
    Alert,
    PerformanceMonitor,
    check_alerts,
    node_stats,
    percentile,
    threshold_for,
)

latencies = st.lists(st.floats(0, 1e5, allow_nan=False), min_size=1, max_size=50)


@given(latencies, st.floats(0, 100))
def test_percentile_matches_numpy_linear(samples: list[float], q: float) -> None:
    assert percentile(samples, q) == pytest.approx(float(np.percentile(samples, q)), abs=1e-6)


@given(latencies)
def test_p50_never_exceeds_p95(samples: list[float]) -> None:
    stats = node_stats({"parse": samples})["parse"]
    assert min(samples) <= stats.p50_ms <= stats.p95_ms <= max(samples)
    assert stats.count == len(samples)


def test_percentile_examples_and_errors() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(range(1, 101), 95) == pytest.approx(95.05)
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1], 101)


def test_thresholds_per_node() -> None:
    assert threshold_for("turn") == 2.0
    assert threshold_for("retrieve") == 1.8
    assert threshold_for("parse") == 1.5
    assert threshold_for("parse", {"parse": 3.0}) == 3.0


def test_check_alerts_uses_each_nodes_threshold() -> None:
    baselines = {"turn": 100.0, "retrieve": 100.0, "parse": 100.0, "rank": 100.0}
    samples = {
        "turn": [190.0] * 10,  # 1.9x: under the 2.0 turn threshold
        "retrieve": [190.0] * 10,  # 1.9x: over the 1.8 search threshold
        "parse": [151.0] * 10,  # over 1.5
        "rank": [150.0] * 10,  # exactly 1.5x is not "more than"
        "unknown": [9999.0] * 10,  # no baseline: not judged
    }
    alerts = check_alerts(samples, baselines)
    assert [a.node for a in alerts] == ["parse", "retrieve"]
    retrieve = alerts[1]
    assert retrieve.threshold == 1.8 and retrieve.ratio == pytest.approx(1.9)
    assert retrieve.as_dict()["ratio"] == pytest.approx(1.9)
    assert check_alerts({"turn": [201.0]}, baselines)[0].node == "turn"
    assert check_alerts({"turn": [201.0]}, baselines, min_samples=2) == []


def test_alert_is_driven_by_p95_not_the_median() -> None:
    samples = {"parse": [10.0] * 90 + [1000.0] * 10}
    assert node_stats(samples)["parse"].p50_ms == 10.0
    assert [a.node for a in check_alerts(samples, {"parse": 100.0})] == ["parse"]


def feed(monitor: PerformanceMonitor, node: str, values: list[float]) -> None:
    for v in values:
        monitor.observe(node, v)


def test_monitor_uses_configured_baseline_until_it_has_history() -> None:
    monitor = PerformanceMonitor({"retrieve": 100.0}, min_samples=5)
    feed(monitor, "retrieve", [200.0] * 5)
    assert [a.node for a in monitor.alerts()] == ["retrieve"]
    assert monitor.roll()[0].baseline_ms == 100.0
    # The slow window is now the history: baseline becomes its p95 and alerts stop.
    assert monitor.baseline("retrieve") == 200.0
    feed(monitor, "retrieve", [200.0] * 5)
    assert monitor.alerts() == []


def test_rolling_median_baseline_resists_one_slow_window() -> None:
    monitor = PerformanceMonitor(history=5, min_samples=3)
    for _ in range(4):
        feed(monitor, "parse", [100.0] * 3)
        assert monitor.roll() == []
    feed(monitor, "parse", [1000.0] * 3)
    alerts = monitor.roll()
    assert alerts == [Alert("parse", 1000.0, 100.0, 1.5, 3)]
    assert monitor.baseline("parse") == 100.0  # median of [100]*4 + [1000]
    feed(monitor, "parse", [160.0] * 3)
    assert [a.node for a in monitor.alerts()] == ["parse"]


def test_history_is_bounded_and_a_lasting_regression_becomes_the_baseline() -> None:
    monitor = PerformanceMonitor({"turn": 100.0}, history=3, min_samples=1)
    for window in range(2):
        feed(monitor, "turn", [500.0])
        assert [a.node for a in monitor.roll()] == (["turn"] if window == 0 else [])
    assert monitor.baseline("turn") == 500.0


def test_small_windows_do_not_move_the_baseline_or_alert() -> None:
    monitor = PerformanceMonitor({"parse": 100.0}, min_samples=10)
    feed(monitor, "parse", [900.0] * 9)
    assert monitor.alerts() == []
    monitor.roll()
    assert monitor.baseline("parse") == 100.0
    assert monitor.stats() == {}


def test_window_is_capped_to_the_latest_samples() -> None:
    monitor = PerformanceMonitor(max_window_samples=3, min_samples=1)
    feed(monitor, "parse", [1.0, 2.0, 3.0, 4.0])
    assert monitor.stats()["parse"].count == 3
    assert monitor.stats()["parse"].p50_ms == 3.0


def test_monitor_rejects_bad_samples() -> None:
    monitor = PerformanceMonitor()
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            monitor.observe("parse", bad)
