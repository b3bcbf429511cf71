"""The per-node slowness watch: a node far slower than its own rolling median is flagged."""

from __future__ import annotations

from agent.metrics import SlownessWatch


def test_a_node_far_slower_than_its_median_is_flagged_and_a_small_jitter_is_not() -> None:
    watch = SlownessWatch(window=50, warmup=20, refresh=10)
    assert not any(watch.observe("retrieve", 0.010) for _ in range(20))  # warming up
    assert not watch.observe("retrieve", 0.013)  # 3 ms over: nobody feels it
    assert watch.observe("retrieve", 0.030)
    assert not watch.observe("parse", 0.030)  # another node has its own history


def test_the_baseline_follows_a_lasting_change_within_a_window() -> None:
    watch = SlownessWatch(window=50, warmup=20, refresh=10)
    for _ in range(30):
        watch.observe("respond", 0.010)
    assert watch.observe("respond", 0.040)
    for _ in range(50):  # a heavier model, say: the new normal fills the window
        watch.observe("respond", 0.040)
    assert not watch.observe("respond", 0.045)
    assert watch.observe("respond", 0.100)
