"""The embedder interface and a per-text LRU cache in front of any embedder."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalized float32 vectors of a fixed dimension."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed a batch: shape (len(texts), dim), float32, rows of unit length."""
        ...


def normalize_rows(matrix: npt.ArrayLike) -> Vectors:
    """Rows scaled to unit L2 norm (zero rows stay zero), as contiguous float32."""
    out = np.ascontiguousarray(matrix, dtype=np.float32)
    if out.ndim == 1:
        out = out.reshape(1, -1)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(out / norms, dtype=np.float32)


class CachedEmbedder:
    """An embedder that remembers the vectors of the most recent `maxsize` distinct texts."""

    def __init__(self, inner: Embedder, maxsize: int = 4096) -> None:
        """Wrap `inner`; only texts not in the cache reach it, in one batch."""
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.maxsize = maxsize
        # An OrderedDict, not cachetools.LRUCache: this runs on every turn's texts, and
        # cachetools' pure-Python bookkeeping measured 3-4x slower here
        # (benchmarks/bench_libraries.py).
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed a batch, serving repeated texts from the cache."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(texts):
                row = self._cache.get(text)
                if row is None:
                    missing.setdefault(text, []).append(i)
                else:
                    self._cache.move_to_end(text)
                    out[i] = row
                    self.hits += 1
        if missing:
            fresh = self.inner.encode(list(missing))
            with self._lock:
                for (text, rows), vector in zip(missing.items(), fresh, strict=True):
                    out[rows] = vector
                    self.misses += len(rows)
                    # Copy: a row view would keep the whole batch array alive in the cache.
                    self._cache[text] = vector.copy()
                    self._cache.move_to_end(text)
                while len(self._cache) > self.maxsize:
                    self._cache.popitem(last=False)
        return out

    def cache_size(self) -> int:
        """How many texts are cached."""
        return len(self._cache)
