"""The embedded index's ANN shortlist: the exact scan's answers, on both sides of MIN_ROWS."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from adapters.domain import Notification
from adapters.search.ann import AnnShortlist, shortlist_size
from adapters.search.ann_files import SharedAnnShortlist, _build_lock, build, graph_name
from adapters.search.base import SearchFilters
from adapters.search.embedded import EmbeddedIndex

DIM = 512
EQUIPMENT = ("PMP", "CMP", "MTR", "VLV")


def clustered(n: int, seed: int, dim: int = DIM) -> np.ndarray:
    """Unit vectors mixing a few of 50 shared topics, the way a plant's sentence embeddings
    bunch up (queries are drawn from the same topics as the history)."""
    rng = np.random.default_rng(1)
    topics = rng.standard_normal((50, dim))
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(50, 0.1), n)
    rows = weights @ topics + 0.2 * rng.standard_normal((n, dim))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows.astype(np.float32)


def uniform(n: int, seed: int, dim: int) -> np.ndarray:
    """Random unit vectors (few dimensions: in 512, random points have no near neighbours)."""
    rows = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def exact_top(rows: np.ndarray, q: np.ndarray, k: int, slots: np.ndarray | None = None) -> set[int]:
    slots = np.arange(len(rows)) if slots is None else slots
    sims = rows[slots] @ q
    return {int(s) for s in slots[np.argpartition(-sims, k - 1)[:k]]}


def shortlist_top(
    ann: AnnShortlist, rows: np.ndarray, q: np.ndarray, mask: np.ndarray, k: int
) -> tuple[np.ndarray, set[int]]:
    """The shortlist for mask, and the k best of it by exact score."""
    found = ann.shortlist(q, mask, k, lambda s: rows[s])
    assert found is not None
    return found, exact_top(rows, q, k, found)


@pytest.mark.parametrize(
    "rows, queries",
    [
        (clustered(20_000, seed=1), clustered(30, seed=2)),
        (uniform(20_000, seed=1, dim=32), uniform(30, seed=2, dim=32)),
    ],
    ids=["clustered-512", "uniform-32"],
)
def test_shortlist_keeps_the_true_nearest_neighbours(rows: np.ndarray, queries: np.ndarray) -> None:
    ann = AnnShortlist(rows.shape[1])
    everything = np.ones(len(rows), dtype=bool)
    half = np.arange(len(rows)) % 2 == 0
    recall = []
    for q in queries:
        for mask in (everything, half):
            found, top = shortlist_top(ann, rows, q, mask, 100)
            assert mask[found].all() and 100 <= len(found) <= shortlist_size(100)
            recall.append(len(top & exact_top(rows, q, 100, np.flatnonzero(mask))) / 100)
    assert np.mean(recall) >= 0.98 and min(recall) >= 0.9


def test_graph_follows_appended_slots() -> None:
    rows = clustered(3_000, seed=3)
    ann = AnnShortlist(DIM)
    ann.extend(2_000, lambda s: rows[s])
    assert ann.covered == 2_000
    q = rows[2_500]
    assert 2_500 not in ann.nearest(q, 10)
    # A longer mask means slots were appended (here or by another process): they are added first.
    found = ann.shortlist(q, np.ones(3_000, dtype=bool), 10, lambda s: rows[s])
    assert ann.covered == 3_000
    assert found is not None and found[0] == 2_500
    ann.extend(2_000, lambda s: pytest.fail("covered slots are never added again"))


def test_narrow_or_unlucky_filters_fall_back_to_a_scan() -> None:
    rows = uniform(20_000, seed=4, dim=32)
    ann = AnnShortlist(32)
    q = rows[0]
    few = np.zeros(len(rows), dtype=bool)
    few[[5, 50, 500]] = True
    assert ann.shortlist(q, few, 10, lambda s: rows[s]) is None
    # A fifth of the slots, but the fifth farthest from the query: the nearest hold none of them.
    far = np.zeros(len(rows), dtype=bool)
    far[np.argsort(rows @ q)[: len(rows) // 5]] = True
    assert ann.shortlist(q, far, 10, lambda s: rows[s]) is None
    assert ann.shortlist(q, np.zeros(len(rows), dtype=bool), 10, lambda s: rows[s]) is None


def notes(n: int, first: int = 0) -> list[Notification]:
    start = datetime(2024, 1, 1)
    return [
        Notification(
            f"S{i:05d}",
            start + timedelta(hours=i),
            "P1",
            EQUIPMENT[i % 4],
            "LEAK",
            str(1 + i % 250),
            f"pump seal leak {i % 13}",
            "",
            "replaced seal",
        )
        for i in range(first, first + n)
    ]


@pytest.fixture(scope="module")
def index() -> EmbeddedIndex:
    idx = EmbeddedIndex(DIM)
    idx.upsert(notes(20_000), clustered(20_000, seed=1))
    return idx


def _itemnos(
    idx: EmbeddedIndex, vector: np.ndarray, filters: SearchFilters | None, alpha: float
) -> list[str]:
    idx._last = None  # each mode computes its own scores
    return [h.itemno for h in idx.query("seal leak", vector, alpha, filters, 30)]


@pytest.mark.parametrize(
    "filters",
    [
        None,
        SearchFilters(equipment=["PMP", "CMP"]),  # half the slots: over-fetched
        SearchFilters(priority=["1", "2", "3"]),  # 240 slots: scanned
    ],
    ids=["all", "half", "narrow"],
)
def test_index_ranks_like_the_exact_scan(index: EmbeddedIndex, filters: SearchFilters) -> None:
    queries = clustered(40, seed=2)
    overlap = []
    try:
        for q in queries:
            for alpha in (0.7, 1.0):
                index.ann_min_rows = 10**9
                exact = _itemnos(index, q, filters, alpha)
                index.ann_min_rows = 1000
                approximate = _itemnos(index, q, filters, alpha)
                overlap.append(len(set(exact) & set(approximate)) / len(exact))
            # The shortlist is re-scored exactly, so what it keeps comes in exact order.
            assert [i for i in exact if i in approximate] == [i for i in approximate if i in exact]
    finally:
        index.ann_min_rows = 10**9
    assert np.mean(overlap) >= 0.99


def test_workers_share_a_graph_built_in_the_background(tmp_path: Path) -> None:
    rows = clustered(6_000, seed=5)
    directory = tmp_path / "index"
    writer = EmbeddedIndex(DIM, directory)
    writer.upsert(notes(5_000), rows[:5_000])
    reader = EmbeddedIndex(DIM, directory)  # another worker on the same directory
    reader.ann_min_rows = 1000
    assert reader.query("seal leak", rows[3], 1.0, None, 5)[0].itemno == "S00003"  # scanned
    reader.refresh()  # starts the build, does not wait for it
    assert isinstance(reader._ann, SharedAnnShortlist)
    assert reader.wait_for_ann(180)
    assert reader._ann.covered == 5_000
    assert [p.name for p in directory.glob("ann-*.usearch")] == [
        graph_name(reader._log.generation, 5_000)  # type: ignore[union-attr]
    ]
    writer.delete(["S00007"])
    writer.upsert(notes(1_000, first=5_000), rows[5_000:])

    def top(idx: EmbeddedIndex, slot: int) -> list[str]:
        idx._last = None
        return [h.itemno for h in idx.query("seal leak", rows[slot], 1.0, None, 5)]

    # Appended slots are not in the graph: they are re-scored as the shortlist's tail.
    assert top(reader, 5_500)[0] == "S05500" and top(reader, 42)[0] == "S00042"
    assert "S00007" not in top(reader, 7)
    assert reader._ann.covered == 5_000 and reader._ann._proc is None  # 1,000 behind: no build
    # A third worker maps the same file instead of building its own.
    third = EmbeddedIndex(DIM, directory)
    third.ann_min_rows = 1000
    third.refresh()  # as a worker does at startup, before any query
    assert isinstance(third._ann, SharedAnnShortlist)
    assert third._ann.covered == 5_000 and third._ann._proc is None
    assert top(third, 5_999)[0] == "S05999"
    # Compaction renumbers the slots: scans until a graph of the new files is built.
    writer.compact()
    assert top(reader, 5_500)[0] == "S05500" and top(reader, 42)[0] == "S00042"
    assert reader.wait_for_ann(180)
    assert reader._ann.covered == 5_999
    assert len(list(directory.glob("ann-*.usearch"))) == 1  # the old generation's is gone
    assert top(third, 5_500)[0] == "S05500"


def test_a_build_for_compacted_files_or_a_busy_lock_writes_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "index"
    index = EmbeddedIndex(DIM, directory)
    index.upsert(notes(600), clustered(600, seed=3))
    generation = index._log.generation  # type: ignore[union-attr]
    assert build(directory, "1-2", 600, DIM) is None  # another generation: nothing to do
    with _build_lock(directory) as held:
        assert held
        assert build(directory, generation, 600, DIM) is None
    target = build(directory, generation, 600, DIM)
    assert target is not None and target.name == graph_name(generation, 600)
    assert not list(directory.glob(".*.tmp"))
