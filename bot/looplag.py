"""Event-loop lag: how late a short sleep wakes up, as metrics and a rate-limited warning.

A task sleeps `interval` seconds again and again; whatever it oversleeps is time the loop spent
running something else without yielding (CPU work or blocking IO on the loop, or a thread holding
the GIL). Every wake-up is observed in `pmark_event_loop_lag_seconds`; the largest lag of the last
one to two windows is the gauge `pmark_event_loop_lag_max_seconds`; a lag over `threshold` is
counted and logged as a warning, at most once per `warn_every` seconds.

A callback that blocks for B seconds shows up as a lag between B - interval and B, depending on
where in the monitor's sleep it started. To find *what* blocked, run with PYTHONASYNCIODEBUG=1:
asyncio then logs every callback slower than `loop.slow_callback_duration` with its location.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from prometheus_client import Counter, Gauge, Histogram

log = logging.getLogger(__name__)

LOOP_LAG = Histogram(
    "pmark_event_loop_lag_seconds",
    "How late the event loop woke a sleeping task (time the loop was busy elsewhere)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
LOOP_LAG_MAX = Gauge(
    "pmark_event_loop_lag_max_seconds",
    "Largest event-loop lag in the last one to two monitor windows (60 s by default)",
    # One event loop per worker process: the worst live one (bot.metrics_mp).
    multiprocess_mode="livemax",
)
LOOP_STALLS = Counter(
    "pmark_event_loop_stalls_total", "Event-loop lags over the stall threshold (100 ms)"
)

INTERVAL = 0.025
THRESHOLD = 0.1
WARN_EVERY = 60.0
WINDOW = 60.0


class LoopLagMonitor:
    """Measures the lag of the running event loop until stopped.

    `max_lag`, `samples`, `stalls`, `warnings` and `lags` cover the time since start (or the last
    `reset()`), which
    is what a test reads; the exported gauge covers a rolling window, which is what a dashboard
    wants (an all-time maximum would stay at the worst startup hiccup forever).
    """

    def __init__(
        self,
        interval: float = INTERVAL,
        threshold: float = THRESHOLD,
        warn_every: float = WARN_EVERY,
        window: float = WINDOW,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.interval = interval
        self.threshold = threshold
        self.warn_every = warn_every
        self.window = window
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._last_warning = -float("inf")
        self._unreported = 0
        self._window_start = 0.0
        self._window_max = 0.0
        self._previous_max = 0.0
        self.reset()

    def reset(self) -> None:
        """Forget the lags seen so far (the metrics keep them)."""
        self.max_lag = 0.0
        self.samples = 0
        self.stalls = 0
        self.warnings = 0
        self.lags: list[float] = []

    @property
    def running(self) -> bool:
        """Whether the monitor task is alive."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start measuring on the running loop (idempotent)."""
        if self.running:
            return
        self._window_start = self._clock()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="pmark-loop-lag")

    async def stop(self) -> None:
        """Stop measuring."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            started = self._clock()
            await asyncio.sleep(self.interval)
            woke = self._clock()
            self.observe(max(0.0, woke - started - self.interval), woke)

    def observe(self, lag: float, now: float | None = None) -> None:
        """Record one measured lag (public so the bookkeeping can be tested without a loop)."""
        now = self._clock() if now is None else now
        self.samples += 1
        self.lags.append(lag)
        if len(self.lags) > 100_000:
            del self.lags[:50_000]
        self.max_lag = max(self.max_lag, lag)
        LOOP_LAG.observe(lag)
        if now - self._window_start >= self.window:
            self._previous_max, self._window_max = self._window_max, 0.0
            self._window_start = now
        self._window_max = max(self._window_max, lag)
        LOOP_LAG_MAX.set(max(self._previous_max, self._window_max))
        if lag > self.threshold:
            self.stalls += 1
            LOOP_STALLS.inc()
            self._unreported += 1
            if now - self._last_warning >= self.warn_every:
                log.warning(
                    "event loop blocked for %.0f ms (%d stall(s) over %.0f ms since the last "
                    "warning); set PYTHONASYNCIODEBUG=1 to log the slow callbacks",
                    lag * 1000,
                    self._unreported,
                    self.threshold * 1000,
                    extra={"lag_ms": round(lag * 1000, 1)},
                )
                self._last_warning = now
                self._unreported = 0
                self.warnings += 1


def freeze_heap() -> None:
    """Hide every object alive now from the cyclic garbage collector's passes.

    After startup the heap is mostly long-lived: modules, the embedding model, the catalog, the
    search index, the compiled graph (about 260,000 tracked objects). A full (generation 2)
    collection walks all of it while holding the GIL, which stalled the event loop for 150-250 ms
    under load on two cores. Frozen, those objects are never walked again; collections only see
    what came after. No collection first: it would itself block the loop for as long, and at this
    point the automatic ones have left next to no garbage to keep (0 objects when measured).
    """
    gc.freeze()


def unfreeze_heap() -> None:
    """Let the collector see the frozen objects again (at app cleanup: tests start many apps)."""
    gc.unfreeze()


LOOP_LAG_MONITOR = web.AppKey("pmark_loop_lag", LoopLagMonitor)


def start_loop_lag(app: web.Application, monitor: LoopLagMonitor | None = None) -> LoopLagMonitor:
    """Attach a monitor that runs from the app's startup to its cleanup."""
    if LOOP_LAG_MONITOR in app:
        return app[LOOP_LAG_MONITOR]
    mon = monitor or LoopLagMonitor()
    app[LOOP_LAG_MONITOR] = mon

    async def lifespan(_: web.Application) -> AsyncIterator[None]:
        mon.start()
        try:
            yield
        finally:
            await mon.stop()

    app.cleanup_ctx.append(lifespan)
    return mon
