"""Database outages: which errors mean "the database cannot be reached", and a watch that knows
whether it is down right now (set by failures, cleared by a successful probe).

While the watch says down, turns fail at once with `DatabaseUnavailable` instead of waiting for
connection timeouts; the channels keep such messages in their local spool and answer them when
the probe finds the database back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import psycopg
from prometheus_client import Counter, Gauge
from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)

# Every worker process has its own DatabaseWatch: 1 when any live worker finds the database
# down (bot.metrics_mp); "live" so that a worker which exited while it was down leaves no 1 behind.
DB_DOWN = Gauge(
    "pmark_database_down",
    "1 while the database is known to be unreachable",
    multiprocess_mode="livemax",
)
DB_OUTAGES = Counter("pmark_database_outages_total", "Times the database was found unreachable")
DB_RETRIES = Counter(
    "pmark_database_retries_total",
    "Operations retried once on fresh connections after a lost database connection",
    ["what"],
)

# psycopg.OperationalError covers lost connections, refused connects, an administrator's
# pg_terminate_backend and psycopg_pool.PoolTimeout; InterfaceError a connection already closed.
_OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
)


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached: nothing was done, the caller keeps the work for later."""


def is_outage(exc: BaseException) -> bool:
    """Whether an error (or what caused it) means the database could not be reached."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 8:
        seen.add(id(current))
        if isinstance(current, (DatabaseUnavailable, *_OUTAGE_ERRORS)):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__ or current.__context__
    return False


Probe = Callable[[], Awaitable[bool]]


class DatabaseWatch:
    """Down from the first failure until a probe succeeds; probed often while down.

    `tick()` is meant to be called every fraction of a second by the server's background jobs;
    it probes every `interval_down` seconds while down and every `interval_up` while up. Until
    something ticks (the CLI, tests), `down` never blocks work: `active` stays False.
    """

    def __init__(
        self,
        probe: Probe,
        on_recovery: Callable[[], Awaitable[None]] | None = None,
        *,
        interval_down: float = 0.5,
        interval_up: float = 5.0,
        probe_timeout: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe = probe
        self._on_recovery = on_recovery
        self.interval_down = interval_down
        self.interval_up = interval_up
        self.probe_timeout = probe_timeout
        self._clock = clock
        self.down_since: float | None = None
        self.last_error = ""
        self.outages = 0
        self.active = False
        self._last_probe = float("-inf")
        self._probing: asyncio.Lock | None = None

    @property
    def down(self) -> bool:
        """Whether the database is known to be unreachable now."""
        return self.down_since is not None

    @property
    def blocking(self) -> bool:
        """Whether work should fail fast now (down, and someone probes for the recovery)."""
        return self.active and self.down

    def failed(self, exc: BaseException | None = None) -> None:
        """Record a failure that means the database is unreachable."""
        if exc is not None:
            self.last_error = type(exc).__name__
        if self.down_since is None:
            self.down_since = self._clock()
            self.outages += 1
            DB_OUTAGES.inc()
            DB_DOWN.set(1)
            log.warning(
                "database unavailable (%s): messages are kept in the local spool "
                "and answered when it is back",
                self.last_error or "probe failed",
            )

    async def probe_now(self) -> bool:
        """Probe at once (one probe at a time); a failure marks the database down."""
        if self._probing is None:
            self._probing = asyncio.Lock()
        async with self._probing:
            self._last_probe = self._clock()
            try:
                ok = bool(await asyncio.wait_for(self._probe(), self.probe_timeout))
            except Exception as exc:
                self.last_error = type(exc).__name__
                ok = False
            if not ok:
                self.failed()
                return False
            if self.down_since is not None:
                if self._on_recovery is not None:
                    try:
                        await self._on_recovery()
                    except Exception:
                        log.warning("database recovery hook failed", exc_info=True)
                log.warning("database is back after %.1f s", self._clock() - self.down_since)
                self.down_since = None
                DB_DOWN.set(0)
            return True

    async def tick(self) -> None:
        """Probe when one is due."""
        self.active = True
        interval = self.interval_down if self.down else self.interval_up
        if self._clock() - self._last_probe >= interval:
            await self.probe_now()
