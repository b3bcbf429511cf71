"""The local spool: what arrived while the database was down, kept on disk until it is handled.

A message the database cannot take (to claim its delivery id, or to checkpoint its turn) is
written here, in SQLite in the data dir, before the user is told "saved"; so is a thumb that
cannot be stored. Entries are keyed by their delivery id (Teams activity, Slack event), so a
redelivery during the outage is not kept twice, and the replay claims the id in the database
before answering, so a redelivery after it is not answered twice either. A restart of the
process loses nothing: the replay picks the entries up when the database answers again.

The `Replayer` runs the registered handler of each entry once the database is back, one task
per conversation so that a conversation's messages are answered in the order they came.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import Gauge

from adapters.sql.repository import Repository
from agent.outage import DB_RETRIES, DatabaseWatch, is_outage

log = logging.getLogger(__name__)

# Workers share one spool file and what is published is the whole file's count: the most recently
# published one is current (bot.metrics_mp); a sum would count the file once per publishing worker
# and a max could keep a stale count. Workers that never set it are ignored. Only `set` works in
# this mode (inc/dec raise). Should each worker get its own spool file, make this "livesum".
SPOOLED = Gauge(
    "pmark_spooled_items",
    "Messages and thumbs waiting for the database",
    multiprocess_mode="livemostrecent",
)
# A handler failing this often (for a reason other than the database) leaves its entry
# marked failed in the spool file for an operator, instead of blocking its conversation.
MAX_ATTEMPTS = 5

_SCHEMA = """
create table if not exists spool (
    seq integer primary key autoincrement,
    key text not null unique,
    channel text not null,
    kind text not null,
    thread text not null default '',
    payload text not null,
    created_at real not null,
    attempts integer not null default 0,
    state text not null default 'pending',
    error text not null default ''
)
"""


@dataclass(frozen=True)
class SpoolItem:
    """One kept message or thumb."""

    key: str
    channel: str
    kind: str
    thread: str
    payload: dict[str, Any]
    attempts: int = 0


class Spool:
    """A durable FIFO of pending work, unique by key (SQLite, every write synced to disk).

    Methods block briefly on disk I/O: call them from a worker thread (asyncio.to_thread).
    """

    def __init__(self, path: Path, shared: bool = False) -> None:
        """Open (or create) the spool file; `shared` when other processes use it too."""
        self.path = path
        # Shared by the workers of one server: another process may have kept an entry, so the
        # in-process count cannot answer "is anything kept?", and only the replaying worker
        # (which refreshes the count every tick) publishes the gauge.
        self.shared = shared
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("pragma journal_mode=wal")
        self._conn.execute("pragma synchronous=full")
        self._conn.execute("pragma busy_timeout=10000")
        self._conn.execute(_SCHEMA)
        self.pending = 0
        self._publish()

    def _publish(self) -> None:
        self.pending = self.count()
        if not self.shared:
            SPOOLED.set(self.pending)

    def refresh(self) -> int:
        """Re-read the pending count (entries other processes kept included) and publish it."""
        self.pending = self.count()
        SPOOLED.set(self.pending)
        return self.pending

    def add(
        self,
        key: str,
        channel: str,
        kind: str,
        payload: dict[str, Any],
        thread: str = "",
        replace: bool = False,
    ) -> bool:
        """Keep an entry; False when the key is kept already (then `replace` updates it)."""
        data = json.dumps(payload, ensure_ascii=False, default=str)
        with self._lock:
            cur = self._conn.execute(
                "insert into spool (key, channel, kind, thread, payload, created_at) "
                "values (?, ?, ?, ?, ?, ?) on conflict(key) do nothing",
                (key, channel, kind, thread, data, time.time()),
            )
            added = cur.rowcount == 1
            if not added and replace:
                self._conn.execute(
                    "update spool set payload = ?, state = 'pending', attempts = 0 where key = ?",
                    (data, key),
                )
        self._publish()
        return added

    def update(self, key: str, payload: dict[str, Any]) -> None:
        """Replace an entry's payload (e.g. after its delivery id was claimed)."""
        data = json.dumps(payload, ensure_ascii=False, default=str)
        with self._lock:
            self._conn.execute("update spool set payload = ? where key = ?", (data, key))

    def has(self, key: str) -> bool:
        """Whether an entry with this key is kept (pending or failed)."""
        with self._lock:
            row = self._conn.execute("select 1 from spool where key = ?", (key,)).fetchone()
        return row is not None

    async def keeps(self, key: str) -> bool:
        """`has`, off the loop, and only read when anything is kept at all."""
        if not self.shared and not self.pending:
            return False
        return await asyncio.to_thread(self.has, key)

    async def keeps_thread(self, thread: str) -> bool:
        """`has_thread`, off the loop, and only read when anything is kept at all."""
        if not self.shared and not self.pending:
            return False
        return await asyncio.to_thread(self.has_thread, thread)

    def is_pending(self, key: str) -> bool:
        """Whether an entry is still waiting (not handled, not parked as failed)."""
        with self._lock:
            row = self._conn.execute(
                "select 1 from spool where key = ? and state = 'pending'", (key,)
            ).fetchone()
        return row is not None

    def has_thread(self, thread: str) -> bool:
        """Whether a conversation has pending entries (new messages then queue behind them)."""
        if not thread:
            return False
        with self._lock:
            row = self._conn.execute(
                "select 1 from spool where thread = ? and state = 'pending' limit 1", (thread,)
            ).fetchone()
        return row is not None

    def items(self, limit: int = 1000) -> list[SpoolItem]:
        """Pending entries, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "select key, channel, kind, thread, payload, attempts from spool "
                "where state = 'pending' order by seq limit ?",
                (limit,),
            ).fetchall()
        return [SpoolItem(k, c, kind, t, json.loads(p), a) for k, c, kind, t, p, a in rows]

    def remove(self, key: str) -> None:
        """Forget a handled entry."""
        with self._lock:
            self._conn.execute("delete from spool where key = ?", (key,))
        self._publish()

    def failed(self, key: str, error: str) -> int:
        """Count a failed attempt; after MAX_ATTEMPTS the entry is parked as failed."""
        with self._lock:
            self._conn.execute(
                "update spool set attempts = attempts + 1, error = ?, "
                "state = case when attempts + 1 >= ? then 'failed' else state end where key = ?",
                (error[:2000], MAX_ATTEMPTS, key),
            )
            row = self._conn.execute("select attempts from spool where key = ?", (key,)).fetchone()
        self._publish()
        return int(row[0]) if row else 0

    def count(self, state: str = "pending") -> int:
        """Entries in a state."""
        with self._lock:
            row = self._conn.execute(
                "select count(*) from spool where state = ?", (state,)
            ).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        with self._lock:
            self._conn.close()


async def claim_once(repo: Repository, key: str, watch: DatabaseWatch) -> bool:
    """claim_event, once more after a lost connection when the database is still there.

    An outage (the probe fails too) raises, for the caller to spool the message.
    """
    try:
        return await asyncio.to_thread(repo.claim_event, key)
    except Exception as exc:
        if not is_outage(exc) or not await watch.probe_now():
            raise
        log.warning("database connection lost while claiming %s; claiming again", key)
        DB_RETRIES.labels("claim").inc()
    # The first attempt may have committed before its connection died: a key found taken now
    # is most likely this very claim, so the message is answered rather than dropped.
    await asyncio.to_thread(repo.claim_event, key)
    return True


async def claim_for_replay(
    repo: Repository, spool: Spool, item_key: str, payload: dict[str, Any], what: str
) -> bool:
    """Claim a kept message's delivery id before it is answered; False when a redelivery
    already answered it. Marks the payload claimed, in the spool too, so a retry skips this."""
    if payload.get("claimed"):
        return True
    key = payload.get("delivery_key")
    if key and not await asyncio.to_thread(repo.claim_event, key):
        if not payload.get("claim_attempted"):
            log.info("kept %s %s was answered on a redelivery", what, key)
            return False
        log.info("kept %s %s: its own claim had gone through", what, key)
    payload["claimed"] = True
    await asyncio.to_thread(spool.update, item_key, payload)
    return True


Handler = Callable[[SpoolItem], Awaitable[None]]
Spawn = Callable[[Coroutine[Any, Any, Any], str], object]


class Replayer:
    """Hands spooled entries to their handlers once the database answers again."""

    def __init__(self, spool: Spool, watch: DatabaseWatch, spawn: Spawn) -> None:
        self.spool = spool
        self.watch = watch
        self._spawn = spawn
        self._handlers: dict[str, Handler] = {}
        self._running: set[str] = set()

    def register(self, kind: str, handler: Handler) -> None:
        """The handler of one kind of entry; it raises to keep the entry for later."""
        self._handlers[kind] = handler

    @property
    def busy(self) -> bool:
        """Whether a replay is running now."""
        return bool(self._running)

    async def tick(self) -> None:
        """Start replaying conversations with pending entries (unless the database is down)."""
        if self.spool.shared:
            await asyncio.to_thread(self.spool.refresh)
        if self.watch.down or not self.spool.pending:
            return
        items = await asyncio.to_thread(self.spool.items)
        groups: dict[str, list[SpoolItem]] = {}
        for item in items:
            groups.setdefault(item.thread or item.key, []).append(item)
        for group, entries in groups.items():
            if group in self._running:
                continue
            self._running.add(group)
            self._spawn(self._replay(group, entries), "spool-replay")

    async def _replay(self, group: str, entries: list[SpoolItem]) -> None:
        try:
            for item in entries:
                # `entries` was read before this task started: a replay of the same conversation
                # that was finishing meanwhile may have answered some of them already.
                if not await asyncio.to_thread(self.spool.is_pending, item.key):
                    continue
                handler = self._handlers.get(item.kind)
                if handler is None:
                    log.error("no handler for spooled %s %s", item.kind, item.key)
                    await asyncio.to_thread(self.spool.failed, item.key, "no handler")
                    return
                try:
                    await handler(item)
                except Exception as exc:
                    if is_outage(exc):
                        self.watch.failed(exc)
                        return  # kept; replayed when the database is back
                    attempts = await asyncio.to_thread(self.spool.failed, item.key, repr(exc))
                    log.error(
                        "replaying spooled %s %s failed (attempt %d)",
                        item.kind,
                        item.key,
                        attempts,
                        exc_info=exc,
                    )
                    return  # the conversation's later entries wait: order is kept
                await asyncio.to_thread(self.spool.remove, item.key)
                log.info("spooled %s %s answered", item.kind, item.key)
        finally:
            self._running.discard(group)
