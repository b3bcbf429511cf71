"""Weaviate with an embedded mirror: when Weaviate is down, search still answers (degraded)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from adapters.domain import Notification
from adapters.search.base import SearchFilters, SearchHit, SearchIndex

log = logging.getLogger(__name__)


class FallbackIndex:
    """Writes go to both indexes; queries go to the primary and fall back to the mirror."""

    def __init__(
        self,
        open_primary: Callable[[], SearchIndex],
        mirror: SearchIndex,
        retry_after_s: float = 30.0,
    ) -> None:
        self._open_primary = open_primary
        self.mirror = mirror
        self.retry_after_s = retry_after_s
        self._primary: SearchIndex | None = None
        self._failed_at = -1e9
        self.fallbacks = 0
        self.degraded = False

    def _get_primary(self) -> SearchIndex | None:
        if self._primary is None and time.monotonic() - self._failed_at >= self.retry_after_s:
            try:
                self._primary = self._open_primary()
            except Exception as exc:
                self._fail("connect", exc)
        return self._primary

    def _fail(self, what: str, exc: Exception) -> None:
        log.warning(
            "primary search index failed on %s (%s); using the embedded mirror",
            what,
            type(exc).__name__,
        )
        self._failed_at = time.monotonic()
        self.degraded = True
        if self._primary is not None:
            try:
                self._primary.close()
            except Exception:
                pass
        self._primary = None

    def upsert(
        self, notifications: Sequence[Notification], vectors: npt.NDArray[np.float32]
    ) -> int:
        """Upsert into the mirror, and into the primary when it is up."""
        done = self.mirror.upsert(notifications, vectors)
        primary = self._get_primary()
        if primary is not None:
            try:
                primary.upsert(notifications, vectors)
            except Exception as exc:
                self._fail("upsert", exc)
        return done

    def delete(self, itemnos: Sequence[str]) -> int:
        """Delete from both."""
        done = self.mirror.delete(itemnos)
        primary = self._get_primary()
        if primary is not None:
            try:
                primary.delete(itemnos)
            except Exception as exc:
                self._fail("delete", exc)
        return done

    def query(
        self,
        text: str,
        vector: npt.NDArray[np.float32],
        alpha: float,
        filters: SearchFilters | None = None,
        limit: int = 10,
    ) -> list[SearchHit]:
        """Hybrid query on the primary; the mirror answers while the primary is down."""
        primary = self._get_primary()
        if primary is not None:
            try:
                hits = primary.query(text, vector, alpha, filters, limit)
                self.degraded = False
                return hits
            except Exception as exc:
                self._fail("query", exc)
        self.fallbacks += 1
        return self.mirror.query(text, vector, alpha, filters, limit)

    def count(self) -> int:
        """The mirror's count: it holds every notification even across primary outages."""
        return self.mirror.count()

    def health(self) -> bool:
        """Whether the primary answers."""
        primary = self._get_primary()
        try:
            return primary is not None and primary.health()
        except Exception:
            return False

    def close(self) -> None:
        """Close both."""
        if self._primary is not None:
            self._primary.close()
        self.mirror.close()
