"""LangGraph's PostgreSQL saver, writing a turn's checkpoints on the turn's own connection.

`AsyncPostgresSaver` takes one asyncio lock for every statement of every conversation in the
process and checks a connection out of the pool per statement. A turn already holds a
connection for its advisory lock; running its dozen-odd checkpoint statements there, under a
lock of that turn only, saves the checkouts and lets other conversations write meanwhile.
Outside a turn (maintenance, state reads) the saver uses its pool, still without the global lock.

With node durability (PMARK_CHECKPOINT_DURABILITY=async) a turn writes about twenty checkpoint
statements (by default, at the turn's end, two), so their per-statement cost matters: the parent
class serializes each on a worker thread and waits for a round trip per statement, one after the
other on the turn's connection, so they trail the last node by several milliseconds. Here a
checkpoint and its blobs are one statement, a task's writes another, serialized in place, and a
turn's statements are queued and written by a background task while the graph goes on, the way
LangGraph's "async" durability already lets it. (Not as a pipeline: psycopg's pipeline mode
cost more CPU here than its saved round trips on a nearby server.) Reads and the end of the turn
wait for the queue, so the turn's lock is released only once all of it is stored; the rows are
the parent's, so everything that reads them is unchanged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

# The checkpoint row, with the blobs of the channels that changed in a data-modifying CTE (which
# PostgreSQL runs whether or not the outer statement reads it). Arrays go in binary (%b): psycopg
# escapes a text-format bytea[] element by element in Python, ~3x the cost of the binary dump.
_PUT_WITH_BLOBS = """
    WITH blobs AS (
        INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
        SELECT %(thread)s, %(ns)s, b.channel, b.version, b.type, b.blob
        FROM unnest(%(channels)b::text[], %(versions)b::text[], %(types)b::text[],
                    %(blobs)b::bytea[]) AS b(channel, version, type, blob)
        ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING
    )
"""
_PUT_CHECKPOINT = """
    INSERT INTO checkpoints
        (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
    VALUES (%(thread)s, %(ns)s, %(id)s, %(parent)s, %(checkpoint)s, %(metadata)s)
    ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id)
    DO UPDATE SET checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata
"""
_PUT_WRITES = """
    INSERT INTO checkpoint_writes
        (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob)
    SELECT %(thread)s, %(ns)s, %(id)s, %(task)s, %(path)s, w.idx, w.channel, w.type, w.blob
    FROM unnest(%(idx)b::int[], %(channels)b::text[], %(types)b::text[], %(blobs)b::bytea[])
        AS w(idx, channel, type, blob)
    ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
"""
# Special channels (errors, interrupts) replace an earlier write; ordinary ones never do.
_REPLACE = "DO UPDATE SET channel = EXCLUDED.channel, type = EXCLUDED.type, blob = EXCLUDED.blob"
_KEEP = "DO NOTHING"


@dataclass
class _TurnConnection:
    conn: AsyncConnection[Any]
    # One connection serves one statement (or pipeline) at a time.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    queued: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    writer: asyncio.Task[None] | None = None
    failed: BaseException | None = None
    # The latest checkpoint as read in this turn, until the turn writes: the runner reads the
    # state, then the graph reads it again to start from it.
    latest: tuple[tuple[str, str], CheckpointTuple | None] | None = None

    def send(self, query: str, params: dict[str, Any]) -> None:
        """Queue a write; a writer task stores what is queued, in order."""
        if self.failed is not None:
            raise self.failed
        self.latest = None
        self.queued.append((query, params))
        if self.writer is None or self.writer.done():
            self.writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        while self.queued and self.failed is None:
            batch, self.queued = self.queued, []
            try:
                async with self.lock, _open_cursor(self.conn, pipeline=False) as cur:
                    for query, params in batch:
                        await cur.execute(query, params)
            except asyncio.CancelledError as exc:
                self.failed = exc
                self.queued.clear()
                raise
            except Exception as exc:  # kept for flush(): the turn, not this task, reports it
                self.failed = exc
                self.queued.clear()

    async def flush(self) -> None:
        """Wait until every queued write is stored; raise the error of one that was not."""
        while self.writer is not None and not self.writer.done():
            await asyncio.wait([self.writer])
        if self.failed is not None:
            raise self.failed


_TURN: ContextVar[_TurnConnection | None] = ContextVar("pmark_turn_connection", default=None)


async def settle_writes() -> None:
    """Wait for the current turn's queued checkpoint writes (nothing outside a turn).

    For a node about to hold the event loop: the queue is only sent while the loop runs, and
    a crash during the node must find the checkpoints written before it.
    """
    turn = _TURN.get()
    if turn is not None:
        await turn.flush()


@asynccontextmanager
async def turn_connection(conn: AsyncConnection[Any] | None) -> AsyncIterator[None]:
    """Route checkpoint statements of this task (and tasks it starts) to `conn`.

    On the way out, waits for the turn's queued writes (and raises if they failed).
    """
    if conn is None:
        yield
        return
    turn = _TurnConnection(conn)
    token = _TURN.set(turn)
    try:
        yield
    except BaseException as failed:
        try:
            await turn.flush()  # what the graph saved before the error still counts
        except BaseException as lost:
            if lost is not failed:  # usually the very error the turn is failing with
                log.warning("checkpoint writes lost with a failed turn: %r", lost)
        raise
    else:
        await turn.flush()
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
            await turn.flush()  # a read sees the turn's writes; writes keep their order
            turn.latest = None
            async with turn.lock, _open_cursor(turn.conn, pipeline) as cur:
                yield cur
            return
        async with self.pool.connection() as conn, _open_cursor(conn, pipeline) as cur:
            yield cur

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint asked for; the latest one is read once per turn until it writes."""
        turn = _TURN.get()
        configurable = config["configurable"]
        if turn is None or get_checkpoint_id(config):
            return await super().aget_tuple(config)
        key = (str(configurable["thread_id"]), str(configurable.get("checkpoint_ns", "")))
        if turn.latest is not None and turn.latest[0] == key:
            return turn.latest[1]
        found = await super().aget_tuple(config)
        turn.latest = (key, found)
        return found

    async def _load_checkpoint_tuple(self, value: DictRow) -> CheckpointTuple:
        # The parent decodes a row's pending writes on a worker thread: a thread hop on every
        # read, queued under load behind the process's SQL calls. A turn that ended (the usual
        # row) left none, so its tuple is built here; rows with writes go the parent's way.
        if value["pending_writes"]:
            return await super()._load_checkpoint_tuple(value)
        ids = {"thread_id": value["thread_id"], "checkpoint_ns": value["checkpoint_ns"]}
        checkpoint = dict(value["checkpoint"])
        checkpoint["channel_values"] = {
            **(checkpoint.get("channel_values") or {}),
            **self._load_blobs(value["channel_values"]),
        }
        parent = value["parent_checkpoint_id"]
        return CheckpointTuple(
            {"configurable": {**ids, "checkpoint_id": value["checkpoint_id"]}},
            checkpoint,  # type: ignore[arg-type]
            value["metadata"],
            {"configurable": {**ids, "checkpoint_id": parent}} if parent else None,
            [],
        )

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Save a checkpoint and the blobs of its changed channels in one statement."""
        configurable = config["configurable"]
        thread_id = configurable["thread_id"]
        checkpoint_ns = configurable["checkpoint_ns"]
        inline = dict(checkpoint["channel_values"])
        blob_values: dict[str, Any] = {}
        for channel, value in checkpoint["channel_values"].items():
            # Primitives stay inline in the checkpoint's JSON, as the parent class stores them.
            if isinstance(value, _DeltaSnapshot):
                blob_values[channel] = inline.pop(channel)
                inline[channel] = True
            elif value is not None and not isinstance(value, (str, int, float, bool)):
                blob_values[channel] = inline.pop(channel)
        stored = {**checkpoint, "channel_values": inline}
        params: dict[str, Any] = {
            "thread": thread_id,
            "ns": checkpoint_ns,
            "id": checkpoint["id"],
            "parent": configurable.get("checkpoint_id"),
            "checkpoint": Jsonb(stored),
            "metadata": Jsonb(get_serializable_checkpoint_metadata(config, metadata)),
        }
        versions = {k: v for k, v in new_versions.items() if k in blob_values}
        query = _PUT_CHECKPOINT
        if versions:
            rows = self._dump_blobs(thread_id, checkpoint_ns, blob_values, versions)
            params["channels"] = [r[2] for r in rows]
            params["versions"] = [r[3] for r in rows]
            params["types"] = [r[4] for r in rows]
            params["blobs"] = [r[5] for r in rows]
            query = _PUT_WITH_BLOBS + query
        await self._execute(query, params)
        return {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": checkpoint_ns,
                "checkpoint_id": checkpoint["id"],
            }
        }

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's writes in one statement."""
        if not writes:
            return
        configurable = config["configurable"]
        rows = self._dump_writes(
            configurable["thread_id"],
            configurable["checkpoint_ns"],
            configurable["checkpoint_id"],
            task_id,
            task_path,
            writes,
        )
        indexes = [r[5] for r in rows]
        if len(set(indexes)) < len(indexes):
            # Two writes to one special channel: row by row, as the parent class does.
            await super().aput_writes(config, writes, task_id, task_path)
            return
        special = all(channel in WRITES_IDX_MAP for channel, _ in writes)
        params = {
            "thread": configurable["thread_id"],
            "ns": configurable["checkpoint_ns"],
            "id": configurable["checkpoint_id"],
            "task": task_id,
            "path": task_path,
            "idx": indexes,
            "channels": [r[6] for r in rows],
            "types": [r[7] for r in rows],
            "blobs": [r[8] for r in rows],
        }
        await self._execute(_PUT_WRITES + (_REPLACE if special else _KEEP), params)

    async def _execute(self, query: str, params: dict[str, Any]) -> None:
        turn = _TURN.get()
        if turn is not None:
            turn.send(query, params)
            return
        async with self._cursor() as cur:
            await cur.execute(query, params)


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
