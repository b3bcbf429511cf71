"""Weaviate with an embedded mirror: when Weaviate is down, search still answers (degraded)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import numpy as np
import numpy.typing as npt

from adapters.domain import Notification
from adapters.search.base import SearchFilters, SearchHit, SearchIndex

log = logging.getLogger(__name__)
# Writes the primary missed while it was down, replayed when it is back (beyond this many,
# `pmark reindex` is needed and the log says so).
MAX_MISSED = 20_000
# A primary query still running after this long gets a readiness check on the side: a killed
# server refuses it at once, and the mirror answers without waiting for the query timeout.
CHECK_AFTER_S = 0.25


class FallbackIndex:
    """Writes go to both indexes; queries go to the primary and fall back to the mirror.

    A primary query gets `query_timeout` seconds (the Weaviate client itself retries an
    unreachable server for a minute); past it the mirror answers. While the primary is down,
    queries never wait for it: reconnection is tried every `retry_after_s` seconds on a
    background thread (only the very first connection, and writes, wait for it). Writes the
    primary missed meanwhile are replayed into it once it is back, so the two stay in step.
    """

    def __init__(
        self,
        open_primary: Callable[[], SearchIndex],
        mirror: SearchIndex,
        retry_after_s: float = 30.0,
        query_timeout: float | None = None,
    ) -> None:
        self._open_primary = open_primary
        self.mirror = mirror
        self.retry_after_s = retry_after_s
        self.query_timeout = query_timeout
        self._queries: ThreadPoolExecutor | None = None
        self._primary: SearchIndex | None = None
        self._failed_at = -1e9
        self._attempted = False
        self._connecting = False
        self._lock = threading.Lock()
        self._missed: dict[str, tuple[Notification, npt.NDArray[np.float32]] | None] = {}
        self._overflowed = False
        self.fallbacks = 0
        self.degraded = False

    # Connection ------------------------------------------------------------------------------

    def _get_primary(self, wait: bool) -> SearchIndex | None:
        """The primary if connected; else start a reconnection when one is due."""
        with self._lock:
            if self._primary is not None:
                return self._primary
            due = time.monotonic() - self._failed_at >= self.retry_after_s
            if not due or self._connecting:
                return None
            self._connecting = True
            first = not self._attempted
            self._attempted = True
        if wait or first:
            self._connect()
            return self._primary
        threading.Thread(target=self._connect, name="pmark-search-reconnect", daemon=True).start()
        return None

    def _connect(self) -> None:
        try:
            primary = self._open_primary()
        except Exception as exc:
            with self._lock:
                self._connecting = False
            self._fail("connect", exc, None)
            return
        try:
            self._replay_missed(primary)
        except Exception as exc:
            with self._lock:
                self._connecting = False
            self._fail("catch-up", exc, None)
            try:
                primary.close()
            except Exception:
                pass
            return
        with self._lock:
            self._primary = primary
            self._connecting = False
        if self.degraded:
            log.warning("primary search index is back")

    def _fail(self, what: str, exc: Exception, failed: SearchIndex | None) -> None:
        with self._lock:
            was_up = self._primary is not None
            self._failed_at = time.monotonic()
            self.degraded = True
            if failed is not None and self._primary is failed:
                self._primary = None
            else:
                failed = None
        if was_up or what != "connect":
            log.warning(
                "primary search index failed on %s (%s); using the embedded mirror",
                what,
                type(exc).__name__,
            )
        if failed is not None:
            try:
                failed.close()
            except Exception:
                pass

    # Writes the primary missed ---------------------------------------------------------------

    def _miss(self, items: dict[str, tuple[Notification, npt.NDArray[np.float32]] | None]) -> None:
        with self._lock:
            self._missed.update(items)
            if len(self._missed) > MAX_MISSED:
                self._missed.clear()
                self._overflowed = True
        if self._overflowed:
            log.error(
                "the primary search index missed more than %d writes while down; "
                "run `pmark reindex` once it is back",
                MAX_MISSED,
            )

    def _replay_missed(self, primary: SearchIndex) -> None:
        with self._lock:
            missed = dict(self._missed)
        if not missed:
            return
        upserts = [(n, v) for n, v in (m for m in missed.values() if m is not None)]
        deletes = [itemno for itemno, m in missed.items() if m is None]
        if upserts:
            primary.upsert([n for n, _ in upserts], np.stack([v for _, v in upserts]))
        if deletes:
            primary.delete(deletes)
        with self._lock:
            for itemno, item in missed.items():
                if self._missed.get(itemno) is item:
                    del self._missed[itemno]
        log.info("replayed %d writes into the primary search index", len(missed))

    # SearchIndex ---------------------------------------------------------------------------

    def upsert(
        self, notifications: Sequence[Notification], vectors: npt.NDArray[np.float32]
    ) -> int:
        """Upsert into the mirror, and into the primary when it is up (later when it is not)."""
        done = self.mirror.upsert(notifications, vectors)
        primary = self._get_primary(wait=True)
        if primary is not None:
            try:
                primary.upsert(notifications, vectors)
                return done
            except Exception as exc:
                self._fail("upsert", exc, primary)
        self._miss({n.itemno: (n, np.asarray(vectors[i])) for i, n in enumerate(notifications)})
        return done

    def delete(self, itemnos: Sequence[str]) -> int:
        """Delete from both (from the primary later when it is down)."""
        done = self.mirror.delete(itemnos)
        primary = self._get_primary(wait=True)
        if primary is not None:
            try:
                primary.delete(itemnos)
                return done
            except Exception as exc:
                self._fail("delete", exc, primary)
        self._miss(dict.fromkeys(itemnos))
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
        primary = self._get_primary(wait=False)
        if primary is not None:
            try:
                hits = self._query_primary(primary, text, vector, alpha, filters, limit)
                self.degraded = False
                return hits
            except Exception as exc:
                self._fail("query", exc, primary)
        self.fallbacks += 1
        self.degraded = True
        return self.mirror.query(text, vector, alpha, filters, limit)

    def _query_primary(
        self,
        primary: SearchIndex,
        text: str,
        vector: npt.NDArray[np.float32],
        alpha: float,
        filters: SearchFilters | None,
        limit: int,
    ) -> list[SearchHit]:
        if self.query_timeout is None:
            return primary.query(text, vector, alpha, filters, limit)
        with self._lock:
            if self._queries is None:
                self._queries = ThreadPoolExecutor(8, thread_name_prefix="pmark-search")
            queries = self._queries
        future = queries.submit(primary.query, text, vector, alpha, filters, limit)
        started = time.monotonic()
        try:
            try:
                return future.result(timeout=min(CHECK_AFTER_S, self.query_timeout))
            except FutureTimeout:
                if not primary.health():
                    raise
            left = self.query_timeout - (time.monotonic() - started)
            return future.result(timeout=max(0.0, left))
        except FutureTimeout:
            # Closing the failed primary (in _fail) also ends the client's retries.
            raise TimeoutError(f"no answer within {self.query_timeout:.1f} s") from None

    def refresh(self) -> None:
        """Build the mirror's BM25 statistics now, not during the first outage's first turn."""
        refresh = getattr(self.mirror, "refresh", None)
        if callable(refresh):
            refresh()

    def count(self) -> int:
        """The mirror's count: it holds every notification even across primary outages."""
        return self.mirror.count()

    def health(self) -> bool:
        """Whether the primary answers (a primary that does not is treated as down)."""
        primary = self._get_primary(wait=False)
        if primary is None:
            return False
        try:
            ok = bool(primary.health())
        except Exception:
            ok = False
        if not ok:
            self._fail("health check", RuntimeError("not ready"), primary)
        return ok

    def close(self) -> None:
        """Close both."""
        with self._lock:
            primary, self._primary = self._primary, None
        if primary is not None:
            primary.close()
        if self._queries is not None:
            self._queries.shutdown(wait=False, cancel_futures=True)
        self.mirror.close()
