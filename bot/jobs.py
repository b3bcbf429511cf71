"""Background work of the app: one task per slow turn, and periodic jobs others can register."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from agent.outage import is_outage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    """A coroutine run every `seconds` (first after `first_delay`), errors logged, never fatal."""

    name: str
    seconds: float
    run: Callable[[], Awaitable[Any]]
    first_delay: float | None = None


# Agent turns running at once per process. Turns are CPU-bound, so more only adds latency; and
# with PostgreSQL each turn holds one pooled connection for its advisory lock while the saver
# needs another: unbounded, a burst of conversations drains the pool (20) and every turn waits
# for a connection that never frees (psycopg_pool.PoolTimeout).
TURN_SLOTS = 8


class Background:
    """Tracks the app's tasks so shutdown lets turns finish briefly, then cancels the rest."""

    def __init__(self, turn_slots: int = TURN_SLOTS) -> None:
        self.turn_slots = turn_slots
        self._slots: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._jobs: list[PeriodicJob] = []
        self._periodic: list[asyncio.Task[Any]] = []
        self.started = False

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str = "turn") -> asyncio.Task[Any]:
        """Run a coroutine in the background; its exception is logged, not lost."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    @asynccontextmanager
    async def turn_slot(self) -> AsyncIterator[None]:
        """Hold one of the process's agent-turn slots for the block."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.turn_slots)
        async with self._slots:
            yield

    @property
    def pending(self) -> int:
        """Number of unfinished per-turn tasks."""
        return len(self._tasks)

    def every(
        self,
        name: str,
        seconds: float,
        run: Callable[[], Awaitable[Any]],
        first_delay: float | None = None,
    ) -> None:
        """Register a periodic job (started with the app, or now if it is already running)."""
        job = PeriodicJob(name, seconds, run, first_delay)
        self._jobs.append(job)
        if self.started:
            self._periodic.append(asyncio.get_running_loop().create_task(self._loop(job)))

    # Not APScheduler's interval trigger (evaluation/scheduler.py uses APScheduler for the cron
    # jobs): these ticks run 2-4 times a second and must wait `seconds` after a run ends (a
    # database probe can take the whole connect timeout). APScheduler 3 runs intervals at a
    # fixed rate and, with max_instances=1, logs a warning for every overlapping run it skips,
    # several a second during an outage; and it logs a failed run as an error, where an outage
    # here is a warning. This loop is the shorter code for that.
    async def _loop(self, job: PeriodicJob) -> None:
        await asyncio.sleep(job.seconds if job.first_delay is None else job.first_delay)
        while True:
            try:
                await job.run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_outage(exc):
                    # Expected while the database is down; the next run catches up.
                    log.warning("periodic job %s skipped: database unavailable", job.name)
                else:
                    log.exception("periodic job %s failed", job.name)
            await asyncio.sleep(job.seconds)

    async def start(self) -> None:
        """Start the registered periodic jobs."""
        self.started = True
        loop = asyncio.get_running_loop()
        self._periodic = [loop.create_task(self._loop(j), name=j.name) for j in self._jobs]

    async def close(self, grace: float = 5.0) -> None:
        """Stop periodic jobs, give running turns `grace` seconds, cancel what is left."""
        for task in self._periodic:
            task.cancel()
        await asyncio.gather(*self._periodic, return_exceptions=True)
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self.started = False


BACKGROUND = web.AppKey("pmark_background", Background)


def background(app: web.Application) -> Background:
    """The app's background registry (created by start_background)."""
    return app[BACKGROUND]


def start_background(app: web.Application) -> Background:
    """Attach a Background to the app: periodic jobs start with it and stop at cleanup."""
    if BACKGROUND in app:
        return app[BACKGROUND]
    bg = Background()
    app[BACKGROUND] = bg

    async def lifespan(_: web.Application) -> AsyncIterator[None]:
        await bg.start()
        yield
        await bg.close()

    app.cleanup_ctx.append(lifespan)
    return bg
