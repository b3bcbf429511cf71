"""The embedded index's sketch shortlist: same answers as the exact scan, on both sides of it."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from adapters.domain import Notification
from adapters.search.base import SearchFilters
from adapters.search.embedded import EmbeddedIndex
from adapters.search.sketch import SignSketches, shortlist_size

DIM = 512
EQUIPMENT = ("PMP", "CMP", "MTR", "VLV")


def clustered(n: int, seed: int) -> np.ndarray:
    """Unit vectors mixing a few of 50 shared topics, the way a plant's sentence embeddings
    bunch up (queries are drawn from the same topics as the history)."""
    rng = np.random.default_rng(1)
    topics = rng.standard_normal((50, DIM))
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(50, 0.1), n)
    rows = weights @ topics + 0.2 * rng.standard_normal((n, DIM))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    return rows.astype(np.float32)


@pytest.fixture(scope="module")
def index() -> EmbeddedIndex:
    n = 20_000
    start = datetime(2024, 1, 1)
    notes = [
        Notification(
            f"S{i:05d}",
            start + timedelta(hours=i),
            "P1",
            EQUIPMENT[i % 4],
            "LEAK",
            "2",
            f"pump seal leak {i % 13}",
            "",
            "replaced seal",
        )
        for i in range(n)
    ]
    idx = EmbeddedIndex(DIM)
    idx.upsert(notes, clustered(n, seed=1))
    return idx


def _itemnos(
    idx: EmbeddedIndex, vector: np.ndarray, filters: SearchFilters | None, alpha: float
) -> list[str]:
    idx._last = None  # each mode computes its own scores
    return [h.itemno for h in idx.query("seal leak", vector, alpha, filters, 30)]


@pytest.mark.parametrize("filters", [None, SearchFilters(equipment=["PMP", "CMP"])])
def test_shortlist_ranks_like_the_exact_scan(index: EmbeddedIndex, filters: object) -> None:
    queries = clustered(40, seed=2)
    overlap = []
    for q in queries:
        for alpha in (0.7, 1.0):
            index.sketch_min_rows = 10**9
            exact = _itemnos(index, q, filters, alpha)  # type: ignore[arg-type]
            index.sketch_min_rows = 1000
            sketched = _itemnos(index, q, filters, alpha)  # type: ignore[arg-type]
            overlap.append(len(set(exact) & set(sketched)) / len(exact))
        # The shortlist is re-scored exactly, so what it keeps comes in exact order.
        assert [i for i in exact if i in sketched] == [i for i in sketched if i in exact]
    assert np.mean(overlap) >= 0.99
    index.sketch_min_rows = 10**9


def test_sketches_follow_upserts(index: EmbeddedIndex) -> None:
    index.sketch_min_rows = 1000
    index.refresh()
    new = clustered(1, seed=99)[0]
    index.upsert(
        [Notification("S-NEW", None, "P1", "PMP", "LEAK", "1", "new seal leak", "", "r")],
        new[None, :],
    )
    top = index.query("seal leak", new, 1.0, None, 5)
    assert top[0].itemno == "S-NEW"
    index.sketch_min_rows = 10**9


def test_hamming_distance_counts_differing_signs() -> None:
    sketches = SignSketches(70)  # not a multiple of 64: the padding bits must not count
    rows = np.ones((3, 70), dtype=np.float32)
    rows[1, :5] = -1
    rows[2] = -1
    sketches.extend(3, lambda slots: rows[slots])
    assert sketches.distances(np.ones(70, dtype=np.float32)).tolist() == [0, 5, 70]
    nearest = sketches.nearest(sketches.distances(-np.ones(70, dtype=np.float32)), np.arange(3), 1)
    assert nearest.tolist() == [2]
    assert shortlist_size(10) == 2000 and shortlist_size(500) == 10_000
