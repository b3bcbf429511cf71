"""Running one turn of a conversation on the checkpointed graph."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import timedelta
from typing import Any

from cachetools import TTLCache
from langgraph.types import Command

from adapters.sql.repository import Repository, utcnow
from adapters.tracing import turn_span
from agent.answer import change_views, notification_view
from agent.checkpointer import Checkpointing
from agent.deps import AgentDeps
from agent.graph import build_graph
from agent.intent import followup_index, is_new_report
from agent.lifecycle import Lifecycle
from agent.lifecycle_turn import lifecycle_reply
from agent.locks import ThreadLocks
from agent.metrics import DEGRADED, TURN_SECONDS, TURNS
from agent.nodes.validate import clean_text
from agent.outage import DB_RETRIES, DatabaseUnavailable, DatabaseWatch, is_outage
from agent.pgsaver import turn_connection

log = logging.getLogger(__name__)
TOUCH_EVERY = 60.0  # seconds between two records of activity on one conversation
# Checkpoint metadata naming the turn that wrote a checkpoint: a turn retried after a lost
# connection, or replayed from the spool, finishes what it saved instead of running twice.
TURN_KEY = "pmark_turn"


def thread_id_for(channel: str, conversation: str, reply_chain: str | None = None) -> str:
    """Thread id = channel + conversation (+ the Teams reply chain or Slack thread)."""
    base = f"{channel}:{conversation}"
    return f"{base}:{reply_chain}" if reply_chain else base


class Agent:
    """Turns a user's message into a response dict, one turn at a time per conversation."""

    def __init__(
        self,
        deps: AgentDeps,
        checkpointing: Checkpointing,
        repo: Repository | None = None,
        durability: str = "exit",
        lifecycle: Lifecycle | None = None,
    ) -> None:
        self.deps = deps
        self.lifecycle = lifecycle
        self.checkpointing = checkpointing
        self.repo = repo
        self.durability = durability
        self.graph = build_graph(deps, checkpointing.saver)
        self._touches: set[asyncio.Task[None]] = set()
        self._touched: TTLCache[str, bool] = TTLCache(maxsize=100_000, ttl=TOUCH_EVERY)
        self.locks = ThreadLocks(checkpointing.lock_pool, checkpointing.connect_timeout)
        self.watch = DatabaseWatch(self._probe, checkpointing.recover)
        checkpointing.guard(lambda: self.watch.blocking)

    async def _probe(self) -> bool:
        """Whether the checkpoint store and the application database both answer."""
        if not await self.checkpointing.probe():
            return False
        if self.repo is not None:
            return await asyncio.to_thread(self.repo.ping)
        return True

    def _check_database(self) -> None:
        if self.watch.blocking:
            raise DatabaseUnavailable("the database is unavailable")

    async def turn(
        self, thread_id: str, text: str, user_id: str = "", turn_id: str | None = None
    ) -> dict[str, Any]:
        """Handle one message and return the structured response.

        Raises `DatabaseUnavailable` (having done nothing that a later call with the same
        `turn_id` would repeat) when the checkpoint store cannot be reached.
        """
        started = time.perf_counter()
        turn_id = turn_id or uuid.uuid4().hex
        text, user_id = clean_text(text), clean_text(user_id)
        self._check_database()
        if self.lifecycle is not None:
            # '/file', '완료: …': the notification's lifecycle, not a new report.
            handled = await lifecycle_reply(
                self.lifecycle, self.state, thread_id, text, user_id, turn_id
            )
            if handled is not None:
                handled["thread"] = thread_id
                return handled
        with turn_span(turn_id, **{"pmark.thread_id": thread_id}):
            result = await self._attempts(thread_id, text, user_id, turn_id)
        response = self._response(result, turn_id)
        response["thread"] = thread_id
        if self.lifecycle is not None:
            await self._duplicates(response)
        elapsed = time.perf_counter() - started
        TURN_SECONDS.observe(elapsed)
        TURNS.labels(response.get("kind", "answer")).inc()
        for part in response.get("degraded") or []:
            DEGRADED.labels(part).inc()
        if self.repo is not None and thread_id not in self._touched:
            # Bookkeeping for pruning and expiry only: written after the answer, not before it,
            # and once a minute per conversation at most (expiry counts in days).
            self._touched[thread_id] = True
            task = asyncio.get_running_loop().create_task(self._touch(thread_id))
            self._touches.add(task)
            task.add_done_callback(self._touches.discard)
        log.info(
            "turn done",
            extra={
                "turn_id": turn_id,
                "thread_id": thread_id,
                "kind": response.get("kind"),
                "ms": round(elapsed * 1000, 1),
            },
        )
        return response

    async def _duplicates(self, response: dict[str, Any]) -> None:
        """Open notifications the draft may repeat (the card warns first); none on failure.

        A connection that died under the check (pg_terminate_backend, a failover) is replaced
        by the pool: the check runs once more before the card goes without its warning."""
        assert self.lifecycle is not None
        for attempt in (1, 2):
            try:
                await asyncio.to_thread(self.lifecycle.annotate, response)
                return
            except Exception as exc:
                if not is_outage(exc):
                    log.warning("duplicate check failed", exc_info=True)
                    return
                if attempt == 2:
                    # Expected during an outage, and already told by the database watch.
                    log.warning("duplicate check skipped: database unavailable (%r)", exc)
                    return
                DB_RETRIES.labels("duplicates").inc()

    async def _attempts(
        self, thread_id: str, text: str, user_id: str, turn_id: str
    ) -> dict[str, Any]:
        """The turn, once more on fresh connections if a connection died under it."""
        try:
            return await self._locked_turn(thread_id, text, user_id, turn_id)
        except Exception as exc:
            if not is_outage(exc):
                raise
            if not await self.watch.probe_now():
                raise DatabaseUnavailable("the database is unavailable") from exc
            await self.checkpointing.recover()
            DB_RETRIES.labels("turn").inc()
            # The server is there: a connection died under the turn (pg_terminate_backend, a
            # failover). Once more on fresh connections; the turn id makes the retry finish,
            # not repeat, whatever the first attempt checkpointed.
            log.warning(
                "database connection lost during a turn; retrying it once (%s)",
                type(exc).__name__,
                extra={"thread_id": thread_id, "turn_id": turn_id},
            )
            try:
                return await self._locked_turn(thread_id, text, user_id, turn_id)
            except Exception as again:
                if not is_outage(again):
                    raise
                self.watch.failed(again)
                raise DatabaseUnavailable("the database is unavailable") from again

    async def _locked_turn(
        self, thread_id: str, text: str, user_id: str, turn_id: str
    ) -> dict[str, Any]:
        """One attempt at the turn under the conversation's lock; the graph's raw result."""
        config: dict[str, Any] = {"configurable": {"thread_id": thread_id}}
        mine: dict[str, Any] = {**config, "metadata": {TURN_KEY: turn_id}}
        async with self.locks.hold(thread_id) as conn, turn_connection(conn):
            snapshot = await self.graph.aget_state(config)
            if (snapshot.metadata or {}).get(TURN_KEY) == turn_id:
                # This very turn ran before (a retry, or a replay from the spool).
                if snapshot.next and not snapshot.interrupts:
                    return dict(await self.graph.ainvoke(None, mine, durability=self.durability))
                values = dict(snapshot.values)
                if snapshot.interrupts:
                    values["__interrupt__"] = list(snapshot.interrupts)
                return values
            if snapshot.next and not snapshot.interrupts:
                # A process died mid-turn: finish that turn from its last checkpoint first.
                log.warning("resuming an interrupted turn", extra={"thread_id": thread_id})
                await self.graph.ainvoke(None, config, durability=self.durability)
                snapshot = await self.graph.aget_state(config)
            waiting = bool(snapshot.next) and bool(snapshot.interrupts)
            restart = is_new_report(text) or (
                waiting
                and followup_index(text) is not None
                and bool(snapshot.values.get("last_answer"))
            )
            if waiting and not restart:
                # The answer's own turn id: each card of a conversation has its own answer id.
                payload: Any = Command(resume={"text": text, "turn_id": turn_id})
            else:
                payload = {"user_input": text, "user_id": user_id, "turn_id": turn_id}
            return dict(await self.graph.ainvoke(payload, mine, durability=self.durability))

    def _response(self, result: dict[str, Any], turn_id: str) -> dict[str, Any]:
        interrupts = result.get("__interrupt__") or []
        if interrupts:
            question = dict(interrupts[0].value)
            question["answer_id"] = turn_id
            question["lang"] = result.get("lang", "ko")
            question["notification"] = notification_view(
                self.deps, result.get("notification") or {}, result.get("equipment_tag")
            )
            question["missing"] = result.get("missing", [])
            question["changes"] = change_views(self.deps, list(question.get("changes") or []))
            question["recommendations"] = []
            question["degraded"] = result.get("degraded", [])
            question["timings"] = result.get("timings", {})
            return question
        response = dict(result.get("response") or {})
        response["timings"] = result.get("timings", {})
        return response

    async def resume_pending(self, thread_id: str) -> dict[str, Any] | None:
        """Finish a turn a crashed process left between nodes; None when there is none."""
        self._check_database()
        config: dict[str, Any] = {"configurable": {"thread_id": thread_id}}
        async with self.locks.hold(thread_id) as conn, turn_connection(conn):
            snapshot = await self.graph.aget_state(config)
            if not snapshot.next or snapshot.interrupts:
                return None
            result = await self.graph.ainvoke(None, config, durability=self.durability)
        response = self._response(result, str(snapshot.values.get("turn_id", "")))
        response["thread"] = thread_id
        return response

    async def state(self, thread_id: str) -> dict[str, Any]:
        """The checkpointed values of a conversation."""
        self._check_database()
        snapshot = await self.graph.aget_state({"configurable": {"thread_id": thread_id}})
        return dict(snapshot.values)

    async def _touch(self, thread_id: str) -> None:
        assert self.repo is not None
        try:
            await asyncio.to_thread(self.repo.touch_thread, thread_id)
        except Exception as exc:
            self._touched.pop(thread_id, None)
            # Never worth losing an answer over; the next turn records the thread again.
            log.warning("could not record the turn on %s: %r", thread_id, exc)

    async def settle(self) -> None:
        """Wait for the activity records and review log entries of finished turns."""
        if self._touches:
            await asyncio.gather(*self._touches, return_exceptions=True)
        if self.deps.review_log is not None:
            await self.deps.review_log.flush()

    async def prune(self) -> int:
        """Keep only the latest checkpoint of conversations that had turns since the last prune."""
        if self.repo is None:
            return 0
        await self.settle()
        threads = await asyncio.to_thread(self.repo.threads_to_prune)
        if threads:
            await self.checkpointing.prune(threads)
            await asyncio.to_thread(self.repo.mark_pruned, threads)
        return len(threads)

    async def expire(self, days: int) -> int:
        """Delete conversations idle for more than `days` days."""
        if self.repo is None:
            return 0
        await self.settle()
        cutoff = utcnow() - timedelta(days=days)
        threads = await asyncio.to_thread(self.repo.idle_threads, cutoff)
        for thread_id in threads:
            await self.checkpointing.saver.adelete_thread(thread_id)
        await asyncio.to_thread(self.repo.forget_threads, threads)
        for thread_id in threads:  # a turn on it from now on records it afresh
            self._touched.pop(thread_id, None)
        return len(threads)
