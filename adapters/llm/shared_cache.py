"""An LLM answer cache the server's worker processes share (diskcache: SQLite in the data dir).

Each worker keeps its own in-memory TTL cache; behind it this one lets an answer the LLM wrote
for one worker serve the same request in every other worker on the machine, so `--workers N`
does not pay the LLM N times for a repeated report. Best effort by design: a busy or broken
cache file is a miss (or a skipped write), never an error or a wait for the turn.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

# diskcache waits this long for SQLite's lock before giving up: a turn never queues behind a
# concurrent writer for longer than a cache miss would cost.
_LOCK_WAIT_S = 0.05


class AnswerCache(Protocol):
    """A cache of LLM answers by request key, shared beyond this process."""

    def get(self, key: str) -> Any | None:
        """The cached answer for `key`, or None."""

    def set(self, key: str, value: Any, ttl: float) -> None:
        """Keep `value` for `key` during `ttl` seconds."""

    def close(self) -> None:
        """Release the cache's files."""


class DiskAnswerCache:
    """`AnswerCache` in a directory that every worker of one machine opens."""

    def __init__(self, directory: Path, size_limit: int = 64 * 1024 * 1024) -> None:
        import diskcache

        directory.mkdir(parents=True, exist_ok=True)
        # JSONDisk: answers are JSON values, and a cache file never unpickles anything.
        self._cache = diskcache.Cache(
            str(directory),
            timeout=_LOCK_WAIT_S,
            size_limit=size_limit,
            disk=diskcache.JSONDisk,
        )
        self._errors: tuple[type[BaseException], ...] = (diskcache.Timeout, OSError, ValueError)

    def get(self, key: str) -> Any | None:
        """The cached answer for `key`, or None (also when the file is busy or unreadable)."""
        try:
            return self._cache.get(key)
        except self._errors as exc:
            log.debug("shared LLM cache read skipped: %r", exc)
            return None

    def set(self, key: str, value: Any, ttl: float) -> None:
        """Keep `value` for `ttl` seconds; a busy or full cache skips the write."""
        try:
            self._cache.set(key, value, expire=ttl)
        except self._errors as exc:
            log.debug("shared LLM cache write skipped: %r", exc)

    def close(self) -> None:
        """Close the cache's SQLite connection."""
        self._cache.close()


def open_answer_cache(directory: Path) -> DiskAnswerCache | None:
    """The shared cache in `directory`, or None (logged) when it cannot be opened there."""
    try:
        return DiskAnswerCache(directory)
    except Exception as exc:  # a read-only data dir runs with the per-worker cache alone
        log.warning("shared LLM answer cache unavailable in %s: %r", directory, exc)
        return None
