"""The checkpointer factory: PostgreSQL when configured, SQLite in the data dir otherwise."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiosqlite
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from adapters.settings import Settings


@dataclass
class Checkpointing:
    """The saver and, on PostgreSQL, the pool it runs on (also used for advisory locks)."""

    saver: BaseCheckpointSaver[Any]
    pool: AsyncConnectionPool[Any] | None = None
    kind: str = "sqlite"
    lock_pool: AsyncConnectionPool[Any] | None = None

    async def ping(self) -> bool:
        """Whether the checkpoint store answers."""
        try:
            if self.pool is not None:
                async with self.pool.connection(timeout=2) as conn:
                    await conn.execute("select 1")
            else:
                conn = self.saver.conn  # type: ignore[attr-defined]
                await conn.execute("select 1")
            return True
        except Exception:
            return False

    async def prune(self, thread_ids: list[str]) -> None:
        """Keep only the latest checkpoint (and its writes) of each thread."""
        if not thread_ids:
            return
        if self.pool is not None:
            await self.saver.aprune(thread_ids, strategy="keep_latest")
            return
        # The SQLite saver has no prune of its own; its checkpoint ids sort by time.
        conn = self.saver.conn  # type: ignore[attr-defined]
        latest = (
            "select max(checkpoint_id) from checkpoints where thread_id = ? group by checkpoint_ns"
        )
        for thread_id in thread_ids:
            for table in ("writes", "checkpoints"):
                await conn.execute(
                    f"delete from {table} where thread_id = ? and checkpoint_id not in ({latest})",
                    (thread_id, thread_id),
                )
        await conn.commit()


def lock_key(thread_id: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock."""
    return int.from_bytes(
        hashlib.blake2b(thread_id.encode(), digest_size=8).digest(), "big", signed=True
    )


@asynccontextmanager
async def open_checkpointer(settings: Settings, max_size: int = 20) -> AsyncIterator[Checkpointing]:
    """Open (and set up) the checkpoint store for the lifetime of the block."""
    if settings.postgres_url:
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            settings.postgres_url,
            min_size=1,
            max_size=max_size,
            open=False,
            # Pipeline mode and server-side prepared statements break behind PgBouncer and
            # with LangGraph's own statements: autocommit, no prepares, dict rows.
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        )
        # Advisory locks are held for a whole turn on their own connections, so they must not
        # come from the saver's pool: 20 waiting turns would starve the writes they wait for.
        lock_pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            settings.postgres_url,
            min_size=1,
            max_size=max_size * 2,
            open=False,
            kwargs={"autocommit": True, "prepare_threshold": 0},
        )
        await pool.open(wait=True, timeout=30)
        await lock_pool.open(wait=True, timeout=30)
        try:
            saver = AsyncPostgresSaver(pool)
            await saver.setup()
            yield Checkpointing(saver, pool, "postgres", lock_pool)
        finally:
            await lock_pool.close()
            await pool.close()
        return
    path = settings.data_dir / "checkpoints.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(str(path))
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA busy_timeout=10000")
    try:
        sqlite_saver = AsyncSqliteSaver(conn)
        await sqlite_saver.setup()
        yield Checkpointing(sqlite_saver, None, "sqlite")
    finally:
        await conn.close()
