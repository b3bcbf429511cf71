"""Weaviate with an embedded mirror: when Weaviate is down, search still answers (degraded)."""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import numpy as np
import numpy.typing as npt
from prometheus_client import Counter

from adapters.domain import Notification
from adapters.search.base import SearchFilters, SearchHit, SearchIndex

log = logging.getLogger(__name__)

SEARCH_FALLBACKS = Counter(
    "pmark_search_fallback_total", "Searches answered by the local mirror instead of Weaviate"
)
# Writes the primary missed while it was down, replayed when it is back (beyond this many,
# `pmark reindex` is needed and the log says so).
MAX_MISSED = 20_000
# A primary query still running after this long is hedged: the mirror answers it, and the primary
# gets a readiness check (a killed server refuses it at once). A server that is up but slow (one
# just restarted loads its shards lazily) is left to finish in the background, and until it does
# the mirror answers every query, so a turn of several queries pays this at most once.
HEDGE_AFTER_S = 0.25
# How long that readiness check may take before the mirror answers anyway.
CHECK_WAIT_S = 0.25


class FallbackIndex:
    """Writes go to both indexes; queries go to the primary and fall back to the mirror.

    A primary query that has not answered after `HEDGE_AFTER_S` is answered by the mirror; the
    primary is failed (and its client closed, which ends the client's own minute of retries) when
    its readiness check fails or its query is still running after `query_timeout` seconds. While
    the primary is down or slow, queries never wait for it: reconnection is tried every
    `retry_after_s` seconds on a background thread (only the very first connection, and writes,
    wait for it). Writes the primary missed meanwhile are replayed into it once it is back, so the
    two stay in step.
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
        self._connected_before = False
        self._connecting = False
        self._lock = threading.Lock()
        self._missed: dict[str, tuple[Notification, npt.NDArray[np.float32]] | None] = {}
        self._overflowed = False
        # The primary's query still running past the hedge: (primary, its future, started at).
        self._slow: tuple[SearchIndex, Future[list[SearchHit]], float] | None = None
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
            self._check_complete(primary)
        except Exception as exc:
            with self._lock:
                self._connecting = False
            self._fail("catch-up", exc, None)
            _close_in_background(primary)
            return
        with self._lock:
            self._primary = primary
            self._connecting = False
            self._connected_before = True
        if self.degraded:
            log.warning("primary search index is back")

    def _fail(self, what: str, exc: Exception, failed: SearchIndex | None) -> None:
        with self._lock:
            was_up = self._primary is not None
            self._failed_at = time.monotonic()
            self.degraded = True
            if failed is not None and self._primary is failed:
                self._primary = None
                if self._slow is not None and self._slow[0] is failed:
                    self._slow = None
            else:
                failed = None
        if was_up or what != "connect":
            log.warning(
                "primary search index failed on %s (%s); using the embedded mirror",
                what,
                type(exc).__name__,
            )
        if failed is not None:
            _close_in_background(failed)  # ends the client's retries

    def _check_complete(self, primary: SearchIndex) -> None:
        """Refuse a primary holding fewer notifications than the mirror.

        A Weaviate just restarted answers before it has loaded its schema and shards; its
        results then differ from the mirror's, or are empty. The mirror holds every
        notification, so it keeps answering until the counts agree (and says so if they never
        do: `pmark reindex` refills a Weaviate that lost its data).
        """
        if not self._connected_before:
            return  # the first connection: startup's ensure_index compares and rebuilds
        held, expected = primary.count(), self.mirror.count()
        if held < expected:
            log.warning(
                "primary search index answers but holds %d of %d notifications; the embedded "
                "mirror keeps answering (run `pmark reindex` if this lasts)",
                held,
                expected,
            )
            raise RuntimeError(f"the primary holds {held} of {expected} notifications")

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
        """Hybrid query on the primary; the mirror answers while the primary is down or slow."""
        primary = self._get_primary(wait=False)
        if primary is not None and not self._still_slow(primary):
            try:
                hits = self._query_primary(primary, text, vector, alpha, filters, limit)
            except Exception as exc:
                self._fail("query", exc, primary)
            else:
                if hits is not None:
                    self.degraded = False
                    return hits
        self.fallbacks += 1
        SEARCH_FALLBACKS.inc()
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
    ) -> list[SearchHit] | None:
        """The primary's hits, or None when it is too slow and the mirror should answer."""
        if self.query_timeout is None:
            return primary.query(text, vector, alpha, filters, limit)
        queries = self._pool()
        started = time.monotonic()
        # In this task's context, so the query's trace span joins the turn's trace.
        context = contextvars.copy_context()
        future = queries.submit(context.run, primary.query, text, vector, alpha, filters, limit)
        try:
            return future.result(timeout=min(HEDGE_AFTER_S, self.query_timeout))
        except FutureTimeout:
            pass
        ready = queries.submit(primary.health)
        try:
            if not ready.result(timeout=CHECK_WAIT_S):
                raise ConnectionError("the primary search index is not ready")
        except FutureTimeout:
            pass
        if future.done():
            return future.result()
        with self._lock:
            if self._slow is None:
                self._slow = (primary, future, started)
        future.add_done_callback(lambda f: self._slow_finished(primary, f))
        return None

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._queries is None:
                self._queries = ThreadPoolExecutor(8, thread_name_prefix="pmark-search")
            return self._queries

    def _still_slow(self, primary: SearchIndex) -> bool:
        """Whether a slow query of this primary is still running (failed once overdue)."""
        with self._lock:
            slow = self._slow
            if slow is not None and slow[0] is not primary:
                self._slow = slow = None
        if slow is None:
            return False
        timeout = self.query_timeout if self.query_timeout is not None else 0.0
        if time.monotonic() - slow[2] >= timeout:
            self._fail("query", TimeoutError(f"no answer within {timeout:.1f} s"), primary)
        return True

    def _slow_finished(self, primary: SearchIndex, future: Future[list[SearchHit]]) -> None:
        with self._lock:
            if self._slow is not None and self._slow[1] is future:
                self._slow = None
        exc = None if future.cancelled() else future.exception()
        if isinstance(exc, Exception):
            self._fail("query", exc, primary)

    def refresh(self) -> None:
        """Build the mirror's BM25 statistics now, not during the first outage's first turn."""
        refresh = getattr(self.mirror, "refresh", None)
        if callable(refresh):
            refresh()

    def count(self) -> int:
        """The smaller of the two counts while the primary is up, so that startup's comparison
        with the database refills a fresh (or emptied) Weaviate; the mirror's while it is down
        (the mirror holds every notification even across primary outages)."""
        held = self.mirror.count()
        primary = self._get_primary(wait=False)
        if primary is None:
            return held
        try:
            return min(held, primary.count())
        except Exception as exc:
            self._fail("count", exc, primary)
            return held

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


def _close_in_background(index: SearchIndex) -> None:
    """Close a failed primary on a side thread: a client with calls still hanging on a dead or
    restarting server can take seconds to close, and that is not a turn's time to spend."""

    def close() -> None:
        try:
            index.close()
        except Exception:
            log.debug("closing the failed primary search index failed", exc_info=True)

    threading.Thread(target=close, name="pmark-search-close", daemon=True).start()
