"""The normalization review log, written in batches beside the turns rather than once per turn."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from adapters.sql.repository import NormalizationDecision

log = logging.getLogger(__name__)

Write = Callable[[Sequence[NormalizationDecision]], None]


class ReviewLog:
    """Collects every turn's normalizations and writes them in one statement per `delay`.

    One transaction per turn cost a database round trip set (BEGIN, INSERTs, COMMIT) and a
    thread hop for rows nobody reads until a review; batched, 200 busy conversations share
    one write every `delay` seconds. What waits is bounded (`limit` decisions): past it the
    oldest are dropped and counted, so a flood of turns cannot grow memory without end.
    """

    def __init__(self, write: Write, delay: float = 0.5, limit: int = 10_000) -> None:
        self._write = write
        self._delay = delay
        self._limit = limit
        self._pending: list[NormalizationDecision] = []
        self._flusher: asyncio.Task[None] | None = None
        self.dropped = 0

    def add(self, decisions: Sequence[NormalizationDecision]) -> None:
        """Queue a turn's decisions; a write follows within `delay` (needs a running loop)."""
        if not decisions:
            return
        self._pending.extend(decisions)
        overflow = len(self._pending) - self._limit
        if overflow > 0:
            del self._pending[:overflow]
            self.dropped += overflow
            log.warning("normalization review log behind: %d decisions dropped", overflow)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._after_delay())

    async def _after_delay(self) -> None:
        await asyncio.sleep(self._delay)
        await self._drain()

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await asyncio.to_thread(self._write, batch)
            except Exception as exc:  # the review log never fails a turn
                log.warning(
                    "normalization review log: %d decisions not written: %s",
                    len(batch),
                    type(exc).__name__,
                )

    async def flush(self) -> None:
        """Write what is queued now (shutdown, tests)."""
        flusher = self._flusher
        if flusher is not None and not flusher.done():
            flusher.cancel()
            try:
                await flusher
            except asyncio.CancelledError:
                pass
        await self._drain()
