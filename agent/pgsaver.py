"""LangGraph's PostgreSQL saver, writing a turn's checkpoints on the turn's own connection.

`AsyncPostgresSaver` takes one asyncio lock for every statement of every conversation in the
process and checks a connection out of the pool per statement. A turn already holds a
connection for its advisory lock; running its dozen-odd checkpoint statements there, under a
lock of that turn only, saves the checkouts and lets other conversations write meanwhile.
Outside a turn (maintenance, state reads) the saver uses its pool, still without the global lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool


@dataclass
class _TurnConnection:
    conn: AsyncConnection[Any]
    # The graph writes checkpoints from background tasks while the next node runs; one
    # connection serves one statement (or pipeline) at a time.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_TURN: ContextVar[_TurnConnection | None] = ContextVar("pmark_turn_connection", default=None)


@asynccontextmanager
async def turn_connection(conn: AsyncConnection[Any] | None) -> AsyncIterator[None]:
    """Route checkpoint statements of this task (and tasks it starts) to `conn`."""
    if conn is None:
        yield
        return
    token = _TURN.set(_TurnConnection(conn))
    try:
        yield
    finally:
        _TURN.reset(token)


class TurnScopedPostgresSaver(AsyncPostgresSaver):
    """AsyncPostgresSaver on a pool, using the current turn's connection when there is one."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        super().__init__(pool)
        self.pool = pool

    @asynccontextmanager
    async def _cursor(self, *, pipeline: bool = False) -> AsyncIterator[AsyncCursor[DictRow]]:
        turn = _TURN.get()
        if turn is not None:
            async with turn.lock, _open_cursor(turn.conn, pipeline) as cur:
                yield cur
            return
        async with self.pool.connection() as conn, _open_cursor(conn, pipeline) as cur:
            yield cur


@asynccontextmanager
async def _open_cursor(
    conn: AsyncConnection[Any], pipeline: bool
) -> AsyncIterator[AsyncCursor[DictRow]]:
    if pipeline:
        # The saver asks for a pipeline where its statements belong together (a checkpoint
        # and its blobs); on an autocommit connection each still commits on its own.
        async with conn.pipeline(), conn.cursor(binary=True, row_factory=dict_row) as cur:
            yield cur
    else:
        async with conn.cursor(binary=True, row_factory=dict_row) as cur:
            yield cur
