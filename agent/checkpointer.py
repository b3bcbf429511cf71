"""The checkpointer factory: PostgreSQL when configured, SQLite in the data dir otherwise."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiosqlite
import psycopg
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from adapters.settings import Settings
from agent.pgsaver import TurnScopedPostgresSaver

log = logging.getLogger(__name__)
# How long a pool keeps retrying a lost connection in the background before it leaves the next
# one to demand: psycopg_pool backs off exponentially (1, 2, 4, 8 s...), so after a long outage
# its own retries would lag the database's return by as much again.
RECONNECT_S = 3.0


class GuardedPool(AsyncConnectionPool[Any]):
    """A pool that refuses at once while the database is known to be down.

    Otherwise every turn and state read during an outage would wait out the pool timeout
    before learning what the database watch already knows.
    """

    unavailable: Callable[[], bool] | None = None

    async def getconn(self, timeout: float | None = None) -> Any:
        if self.unavailable is not None and self.unavailable():
            raise PoolTimeout("the database is unavailable")
        return await super().getconn(timeout)


@dataclass
class Checkpointing:
    """The saver and, on PostgreSQL, the pool it runs on (also used for advisory locks)."""

    saver: BaseCheckpointSaver[Any]
    pool: AsyncConnectionPool[Any] | None = None
    kind: str = "sqlite"
    lock_pool: AsyncConnectionPool[Any] | None = None
    url: str | None = None
    connect_timeout: float = 1.0

    async def ping(self) -> bool:
        """Whether the checkpoint store answers (a connection found dead is replaced once)."""
        for attempt in (1, 2):
            try:
                if self.pool is not None:
                    timeout = max(1.0, self.connect_timeout)
                    async with self.pool.connection(timeout=timeout) as conn:
                        await conn.execute("select 1")
                else:
                    conn = self.saver.conn  # type: ignore[attr-defined]
                    await conn.execute("select 1")
                return True
            except PoolTimeout:
                return False
            except Exception:
                if self.pool is None or attempt == 2:
                    return False
                await self.recover()  # e.g. killed by pg_terminate_backend: not an outage
        return False

    async def probe(self) -> bool:
        """Whether the server accepts a new connection now (bypassing the pools' backoff)."""
        if self.url is None:
            return await self.ping()
        try:
            conn = await asyncio.wait_for(
                psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, connect_timeout=libpq_timeout(self.connect_timeout)
                ),
                max(2.0, self.connect_timeout * 2),
            )
            async with conn:
                await conn.execute("select 1")
            return True
        except Exception:
            return False

    def guard(self, unavailable: Callable[[], bool]) -> None:
        """Make the pools refuse at once while `unavailable()` says so."""
        for pool in (self.pool, self.lock_pool):
            if isinstance(pool, GuardedPool):
                pool.unavailable = unavailable

    async def recover(self) -> None:
        """After an outage: drop the pools' dead connections and open fresh ones now."""
        for pool in (self.pool, self.lock_pool):
            if pool is not None:
                try:
                    await pool.check()
                except Exception:
                    log.warning("could not check the checkpoint pool", exc_info=True)

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


async def _compress_blobs_with_lz4(pool: AsyncConnectionPool[Any]) -> None:
    """Checkpoint blobs of a few KB are compressed on every write: lz4 costs a fraction of the
    default pglz. Only new values are affected; a server built without lz4 keeps pglz."""
    try:
        async with pool.connection() as conn:
            for table in ("checkpoint_blobs", "checkpoint_writes"):
                row = await (
                    await conn.execute(
                        "select attcompression::text as c from pg_attribute"
                        " where attrelid = %s::regclass and attname = 'blob'",
                        (table,),
                    )
                ).fetchone()
                if row is not None and row["c"] != "l":  # not lz4 yet: one brief table lock
                    await conn.execute(f"alter table {table} alter column blob set compression lz4")
    except psycopg.Error as exc:
        log.info("checkpoint blobs stay on the server's default compression: %s", exc)


def libpq_timeout(seconds: float) -> int:
    """What libpq's connect_timeout makes of `seconds`."""
    # libpq takes whole seconds and treats anything below 2 as 2.
    return max(2, math.ceil(seconds))


def lock_key(thread_id: str) -> int:
    """A stable signed 64-bit key for pg_advisory_lock."""
    return int.from_bytes(
        hashlib.blake2b(thread_id.encode(), digest_size=8).digest(), "big", signed=True
    )


def _commit_options(settings: Settings) -> dict[str, str]:
    """Session options of the saver's connections.

    A turn writes one checkpoint per node; waiting for each WAL flush costs more than the nodes
    themselves on a busy disk. Without it PostgreSQL still never corrupts or reorders them, and
    a clean stop or a PMark crash loses nothing.
    """
    if settings.checkpoint_synchronous_commit or not settings.postgres_url:
        return {}
    # Keyword arguments replace the URL's own `options`, so keep those.
    given = str(conninfo_to_dict(settings.postgres_url).get("options") or "")
    return {"options": f"{given} -c synchronous_commit=off".strip()}


@asynccontextmanager
async def open_checkpointer(settings: Settings, max_size: int = 20) -> AsyncIterator[Checkpointing]:
    """Open (and set up) the checkpoint store for the lifetime of the block."""
    if settings.postgres_url:
        timeout = settings.db_connect_timeout
        connect = {"connect_timeout": libpq_timeout(timeout)}
        # No `check=` on checkout: after a failed check psycopg_pool backs off a whole second
        # before the next try, so a terminated connection would cost a PoolTimeout. Used as is,
        # it fails its statement at once, and the turn's one retry (after `recover()` dropped
        # the other dead ones) runs on fresh connections.
        pool: AsyncConnectionPool[Any] = GuardedPool(
            settings.postgres_url,
            min_size=max_size if settings.db_pool_open_full else 1,
            max_size=max_size,
            open=False,
            # A short wait for a connection: a database that does not give one within it is
            # treated as down (the turn is spooled) instead of holding the user for 30 s.
            timeout=timeout,
            reconnect_timeout=RECONNECT_S,
            # Pipeline mode and server-side prepared statements break behind PgBouncer and
            # with LangGraph's own statements: autocommit, no prepares, dict rows.
            kwargs={
                "autocommit": True,
                "prepare_threshold": 0,
                "row_factory": dict_row,
                **_commit_options(settings),
                **connect,
            },
        )
        # Advisory locks are held for a whole turn on their own connections, so they must not
        # come from the saver's pool: 20 waiting turns would starve the writes they wait for.
        lock_pool: AsyncConnectionPool[Any] = GuardedPool(
            settings.postgres_url,
            min_size=max_size * 2 if settings.db_pool_open_full else 1,
            max_size=max_size * 2,
            open=False,
            timeout=timeout,
            reconnect_timeout=RECONNECT_S,
            # A turn's checkpoints are written on its lock connection (agent/pgsaver.py).
            kwargs={
                "autocommit": True,
                "prepare_threshold": 0,
                **_commit_options(settings),
                **connect,
            },
        )
        await pool.open(wait=True, timeout=30)
        await lock_pool.open(wait=True, timeout=30)
        try:
            saver = TurnScopedPostgresSaver(pool)
            await saver.setup()
            await _compress_blobs_with_lz4(pool)
            yield Checkpointing(saver, pool, "postgres", lock_pool, settings.postgres_url, timeout)
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
