"""An approximate nearest-neighbour shortlist (usearch HNSW) that spares a large index a full scan.

An exact cosine scan reads every float of the matrix (200 MB at 100k x 512) and is bound by
memory bandwidth. An HNSW graph walk touches a few thousand vectors instead; what it returns is
re-scored exactly by the caller, so the approximation can only drop a true neighbour, never
misorder one.

Measured at 100k clustered 512-dim vectors (tests/search/test_ann.py's generator) and on 60k
real USE vectors of generated notifications, 2 cores, top 100 after the exact re-score:
- i8 keeps as many true neighbours as f16 (clustered 0.996 both; USE 0.999 both, 500 fetched)
  with 81 MB rather than 145 MB per process, builds faster (11 s vs 14 s at 100k) and searches
  faster (1.1 ms vs 1.4 ms): i8 it is. The f32 rows themselves stay in the caller's store.
- 500 fetched for 100 wanted keeps 0.996 (clustered) / 0.999 (USE) in ~1.1 ms; 1000 fetched
  gain 0.002 for twice the time; the sign-bit sketch this replaces took 3.5 ms.
- expansion_add 64 halves the build but drops clustered recall to 0.989: the default (128) kept.
Random unit vectors (the benchmarks' history) have no neighbourhoods for a graph to follow: there
the shortlist is no better than a sample, and building the graph takes ~50 s at 100k.

`AnnShortlist` is the graph of an index in memory, built by its own process; an index on disk
maps the graph a background process builds (adapters/search/ann_files.py). Both choose what to
re-score with `pick`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from usearch.index import Index

# Below this many slots the exact scan (about 6 ms at 50k) is cheap enough to skip the graph.
MIN_ROWS = 50_000
# Neighbours fetched per wanted result, and never fewer than MIN_SHORTLIST (figures above).
FACTOR = 5
MIN_SHORTLIST = 500
# A filter keeping under 1/6 of the slots would need more than 6x the shortlist fetched (over
# 3000 at k=100, ~6 ms), by then slower than scoring the allowed rows alone (~16k rows, ~7 ms).
MAX_OVERFETCH = 6
_STEP = 8192  # slots added per call: bounds the f32 copy handed to usearch
# Slots appended after the graph was built are re-scored exactly; past this many a full scan
# of the allowed rows costs about the same (fetching 10k scattered rows is ~4 ms).
MAX_TAIL = 10_000


def shortlist_size(k: int) -> int:
    """How many nearest neighbours are re-scored exactly for k results."""
    return max(FACTOR * k, MIN_SHORTLIST)


class AnnShortlist:
    """An HNSW graph over slots [0, covered), extended as the caller's slots are appended."""

    # Dead slots are never removed from the graph: the caller's mask filters them out, and
    # compaction (new slot numbers) starts a new graph.

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.covered = 0
        self._index: Index | None = None  # built on first use: importing usearch costs ~40 ms
        self._last: tuple[npt.NDArray[np.float32], int, int, npt.NDArray[np.int64]] | None = None

    def extend(
        self, upto: int, rows: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float32]]
    ) -> None:
        """Add slots [covered, upto); slots are append-only, so the graph stays valid."""
        if upto <= self.covered:
            return
        if self._index is None:
            from usearch.index import Index

            # Cosine: the same order as the caller's dot product on unit rows, and insensitive
            # to the scale i8 quantization truncates at.
            self._index = Index(ndim=self.dim, metric="cos", dtype="i8")
        for start in range(self.covered, upto, _STEP):
            slots = np.arange(start, min(upto, start + _STEP), dtype=np.int64)
            self._index.add(slots.astype(np.uint64), rows(slots))
            self.covered = int(slots[-1]) + 1

    def nearest(self, vector: npt.NDArray[np.float32], count: int) -> npt.NDArray[np.int64]:
        """About the `count` covered slots nearest to `vector`, nearest first."""
        if self._index is None or count <= 0:
            return np.zeros(0, dtype=np.int64)
        last = self._last
        # The recommender asks one vector under several filters in a row: one walk serves all.
        if (
            last is not None
            and last[1] == self.covered
            and last[2] >= count
            and np.array_equal(last[0], vector)
        ):
            return last[3][:count]
        # One query vector gives `Matches`, whose keys are the found slots (fewer when the graph
        # holds fewer).
        slots = np.asarray(self._index.search(vector, count, threads=1).keys, dtype=np.int64)
        self._last = (vector.copy(), self.covered, count, slots)
        return slots

    def shortlist(
        self,
        vector: npt.NDArray[np.float32],
        allowed: npt.NDArray[np.bool_],
        k: int,
        rows: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float32]],
    ) -> npt.NDArray[np.int64] | None:
        """Allowed nearest slots for k results, or None when scanning the allowed rows is better."""
        self.extend(len(allowed), rows)  # `allowed` masks every slot: catch up with appends
        return pick(self.nearest, self.covered, vector, allowed, k)


def pick(
    nearest: Callable[[npt.NDArray[np.float32], int], npt.NDArray[np.int64]],
    covered: int,
    vector: npt.NDArray[np.float32],
    allowed: npt.NDArray[np.bool_],
    k: int,
) -> npt.NDArray[np.int64] | None:
    """The slots to re-score for k results: allowed graph hits among slots [0, covered), and
    every allowed slot after them (not in the graph yet); None when a scan is better."""
    tail = np.flatnonzero(allowed[covered:]).astype(np.int64) + covered
    if len(tail) > MAX_TAIL:
        return None
    n_allowed = int(np.count_nonzero(allowed[:covered]))
    wanted = shortlist_size(k)
    if not n_allowed:
        return None
    fetch = math.ceil(wanted * covered / n_allowed)
    if fetch > MAX_OVERFETCH * wanted:
        return None
    found = nearest(vector, fetch)
    hits = found[allowed[found]]
    if len(hits) + len(tail) < k:
        return None
    return np.concatenate((hits[:wanted], tail)) if len(tail) else hits[:wanted]
