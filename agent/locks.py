"""Serializing turns of one conversation, within a process and across replicas."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from agent.checkpointer import libpq_timeout, lock_key

log = logging.getLogger(__name__)


class ThreadLocks:
    """An asyncio lock per thread, plus a PostgreSQL advisory lock when a pool is given."""

    def __init__(
        self, pool: AsyncConnectionPool[Any] | None = None, connect_timeout: float | None = None
    ) -> None:
        self.pool = pool
        # How long to wait for a pooled connection (None: the pool's own timeout).
        self.connect_timeout = connect_timeout
        # With a slot held, a connection is idle or the pool opens one for this hold: the wait
        # covers that one connect too (libpq's own limit), or a pool still growing on a busy
        # machine would read as a database outage and cost the turn a retry.
        self._wait = (
            None if connect_timeout is None else connect_timeout + libpq_timeout(connect_timeout)
        )
        self._local: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        # A hold keeps a pool connection to its end. Past the pool's size, holds wait here, in
        # order, instead of timing out on the pool, which reads as a database outage (the served
        # app has fewer turn slots anyway; direct callers such as benchmarks not).
        self._slots = asyncio.Semaphore(pool.max_size) if pool is not None else None

    @asynccontextmanager
    async def hold(self, thread_id: str) -> AsyncIterator[psycopg.AsyncConnection[Any] | None]:
        """Hold the conversation's lock for the block; yields the lock's connection, if any."""
        lock = self._local.get(thread_id)
        if lock is None:
            lock = asyncio.Lock()
            self._local[thread_id] = lock
        async with lock:
            if self.pool is None or self._slots is None:
                yield None
                return
            key = lock_key(thread_id)
            async with self._slots, self.pool.connection(timeout=self._wait) as conn:
                # Session-level lock on a dedicated autocommit connection: another replica's
                # turn on the same thread waits here until this one is checkpointed.
                await conn.execute("select pg_advisory_lock(%s)", (key,))
                try:
                    yield conn
                finally:
                    try:
                        await conn.execute("select pg_advisory_unlock(%s)", (key,))
                    except psycopg.Error as exc:
                        # The connection died (pg_terminate_backend, a restart): the server
                        # released the session's lock with it, and the turn itself is done.
                        log.warning("advisory unlock lost with its connection: %r", exc)
