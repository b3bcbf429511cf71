"""/metrics for one process or for the N workers of `pmark serve --workers N`.

With several workers on one port (SO_REUSEPORT) the kernel hands a scrape of /metrics to any of
them, so each must report the whole server. prometheus_client's multiprocess mode does that: the
supervisor sets `PROMETHEUS_MULTIPROC_DIR` to a fresh empty directory before it starts the
workers, every worker then keeps its metric values in memory-mapped files there
(`counter_<pid>.db`, `gauge_livemax_<pid>.db`, ...), and `metrics_body` merges all the files:
counters and histogram buckets are summed (a dead worker's counts stay, so rates do not drop
when a worker is restarted), each Gauge is combined by its `multiprocess_mode` (summed, maxed,
most recent; the `live*` modes leave out workers that exited). After a worker exits the
supervisor calls `worker_exited(pid)`, which deletes that worker's `live*` gauge files.

prometheus_client picks in-memory or file-backed values once, when `prometheus_client` is first
imported (`prometheus_client.values.ValueClass`), so the variable must be set before that import,
i.e. before any metric module (agent.metrics, agent.outage, bot.looplag, bot.spool,
bot.middleware) is loaded. The workers are fresh processes started with the variable already in
their environment, so that holds; a worker forked from a parent that had imported
prometheus_client without it would keep its metrics to itself (`metrics_body` logs a warning
then). Without the variable (one process, the default) nothing changes: the default registry.

Left out in multiprocess mode: the default registry's `process_*` (memory, CPU, open files) and
`python_gc_*` metrics, which would describe only whichever worker answered the scrape (use the
container's metrics instead); `python_info` is the same in every worker and is kept. Also not
supported there, and not used in this code base: `Gauge.set_function`, Info/Enum metrics,
custom collectors, removing labelled series, exemplars.
"""

from __future__ import annotations

import logging
import os

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    PlatformCollector,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

log = logging.getLogger(__name__)

ENV = "PROMETHEUS_MULTIPROC_DIR"

_warned = False


def multiproc_dir() -> str | None:
    """The shared metrics directory of the workers, or None for a single process."""
    return os.environ.get(ENV) or None


def metrics_body() -> bytes:
    """The Prometheus text exposition of the whole server (blocking: run it in a thread).

    In multiprocess mode it reads only the files in `PROMETHEUS_MULTIPROC_DIR`, never this
    process's default registry, so the answer is the same from every worker.
    """
    path = multiproc_dir()
    if path is None:
        return generate_latest(REGISTRY)
    _warn_if_not_file_backed(path)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    PlatformCollector(registry=registry)
    return generate_latest(registry)


def worker_exited(pid: int, path: str | os.PathLike[str] | None = None) -> None:
    """Forget an exited worker's `live*` gauges (the supervisor calls this after each exit).

    Its counters and histograms stay in the directory, so the server's totals never go back.
    `path` is the workers' metrics directory, by default `PROMETHEUS_MULTIPROC_DIR` of this
    process; without either there is nothing to clean (logged: the dead worker's last gauge
    values would otherwise linger unnoticed).
    """
    where = os.fspath(path) if path is not None else multiproc_dir()
    if where is None:
        log.warning("worker %d exited but %s is not set here: its gauges stay", pid, ENV)
        return
    mark_process_dead(pid, where)  # type: ignore[no-untyped-call]


def _warn_if_not_file_backed(path: str) -> None:
    global _warned
    if _warned or getattr(values.ValueClass, "_multiprocess", False):
        return
    _warned = True
    log.warning(
        "%s=%s but prometheus_client was imported before it was set: this process's own "
        "metrics are not in /metrics (start workers as fresh processes with the variable set)",
        ENV,
        path,
    )
