"""Serializing turns of one conversation, within a process and across replicas."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from psycopg_pool import AsyncConnectionPool

from agent.checkpointer import lock_key


class ThreadLocks:
    """An asyncio lock per thread, plus a PostgreSQL advisory lock when a pool is given."""

    def __init__(self, pool: AsyncConnectionPool[Any] | None = None) -> None:
        self.pool = pool
        self._local: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @asynccontextmanager
    async def hold(self, thread_id: str) -> AsyncIterator[None]:
        """Hold the conversation's lock for the block."""
        lock = self._local.get(thread_id)
        if lock is None:
            lock = asyncio.Lock()
            self._local[thread_id] = lock
        async with lock:
            if self.pool is None:
                yield
                return
            key = lock_key(thread_id)
            async with self.pool.connection() as conn:
                # Session-level lock on a dedicated autocommit connection: another replica's
                # turn on the same thread waits here until this one is checkpointed.
                await conn.execute("select pg_advisory_lock(%s)", (key,))
                try:
                    yield
                finally:
                    await conn.execute("select pg_advisory_unlock(%s)", (key,))
