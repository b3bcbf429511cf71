"""The hybrid search interface shared by the embedded index and Weaviate, and its score fusion."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from adapters.domain import Notification

# Each side of a hybrid query ranks this many candidates (at least) before fusion: Weaviate's
# QUERY_HYBRID_MAXIMUM_RESULTS default, so both backends fuse the same candidate sets.
MIN_CANDIDATES = 100


def candidate_count(limit: int) -> int:
    """How many candidates each side (BM25, vector) contributes to the fusion."""
    return max(limit, MIN_CANDIDATES)


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions applied before ranking; lists match any of their codes, None = no filter."""

    location: Sequence[str] | None = None
    equipment: Sequence[str] | None = None
    failure_mode: Sequence[str] | None = None
    priority: Sequence[str] | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None

    def code_filters(self) -> dict[str, tuple[str, ...]]:
        """The non-empty code filters by field name."""
        out: dict[str, tuple[str, ...]] = {}
        for name in ("location", "equipment", "failure_mode", "priority"):
            value: Sequence[str] | str | None = getattr(self, name)
            if value is None:
                continue
            codes = (value,) if isinstance(value, str) else tuple(value)
            out[name] = codes
        return out

    def is_empty(self) -> bool:
        """True when nothing is filtered."""
        return not self.code_filters() and self.created_from is None and self.created_to is None


@dataclass(frozen=True)
class SearchHit:
    """One ranked notification with the two parts of its hybrid score."""

    itemno: str
    score: float
    bm25: float
    vector: float
    explanation: str
    title: str
    resolution: str
    location: str | None
    equipment: str | None
    failure_mode: str | None
    priority: str | None
    created_at: datetime | None


@runtime_checkable
class SearchIndex(Protocol):
    """A hybrid (BM25 + vector) index of notifications."""

    def upsert(
        self, notifications: Sequence[Notification], vectors: npt.NDArray[np.float32]
    ) -> int:
        """Insert or replace notifications (by itemno) with their vectors; returns how many."""
        ...

    def delete(self, itemnos: Sequence[str]) -> int:
        """Remove notifications by itemno; returns how many existed."""
        ...

    def query(
        self,
        text: str,
        vector: npt.NDArray[np.float32],
        alpha: float,
        filters: SearchFilters | None = None,
        limit: int = 10,
    ) -> list[SearchHit]:
        """Hybrid search; alpha weights the vector side (0 = BM25 only, 1 = vector only)."""
        ...

    def count(self) -> int:
        """Number of indexed notifications."""
        ...

    def health(self) -> bool:
        """True when the index can answer queries."""
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...


def checked_vectors(
    notifications: Sequence[Notification], vectors: npt.NDArray[np.float32], dim: int
) -> npt.NDArray[np.float32]:
    """The vectors as an (n, dim) float32 matrix, or ValueError when they do not fit."""
    if len(notifications) != len(vectors):
        raise ValueError(f"{len(notifications)} notifications but {len(vectors)} vectors")
    if not notifications:
        return np.zeros((0, dim), dtype=np.float32)
    matrix = np.asarray(vectors, dtype=np.float32).reshape(len(notifications), -1)
    if matrix.shape[1] != dim:
        raise ValueError(f"vectors have dimension {matrix.shape[1]}, index has {dim}")
    return matrix


def checked_query_vector(vector: npt.NDArray[np.float32], dim: int) -> npt.NDArray[np.float32]:
    """A query vector as a flat float32 array, or ValueError when its dimension is wrong."""
    q = np.asarray(vector, dtype=np.float32).reshape(-1)
    if q.shape[0] != dim:
        raise ValueError(f"query vector has dimension {q.shape[0]}, index has {dim}")
    return q


def object_id(itemno: str) -> str:
    """The object UUID of a notification (Weaviate's generate_uuid5), also the tie-breaker."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, itemno))


def explain(score: float, bm25: float, vector: float, alpha: float) -> str:
    """Human-readable account of a hybrid score."""
    return (
        f"hybrid {score:.3f} = {alpha:.2f} x vector {vector:.3f} "
        f"+ {1.0 - alpha:.2f} x bm25 {bm25:.3f} (relative score fusion)"
    )
