"""`pmark serve --workers N`: N server processes on one port, kept running by a small supervisor.

Each worker is a fresh `pmark serve` process (not a fork: Kiwi, onnxruntime and psycopg's pools
own threads that a fork would leave half-copied) bound with SO_REUSEPORT, so the kernel spreads
connections over them. What must happen once per server runs in worker 0 only (the evaluation
scheduler, the spool replay, the CMMS outbox, forgetting old delivery ids); what must hold across
workers already holds across replicas: PostgreSQL advisory locks order a conversation's turns,
delivery ids are claimed in the database, the spool file is SQLite shared by all of them.

Worker 0 starts first and alone, so migrations, checkpoint tables and the search index are
prepared by one process; the others start when it answers /healthz.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from adapters.settings import Settings

log = logging.getLogger(__name__)

WORKER_INDEX_ENV = "PMARK_WORKER_INDEX"
WORKER_COUNT_ENV = "PMARK_WORKER_COUNT"
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# A worker that lived this long before dying is restarted as a one-off, not counted as a loop.
STABLE_AFTER_S = 60.0
# Past the workers' own shutdown timeout, how long they get before SIGKILL.
KILL_MARGIN_S = 3.0


class WorkersError(ValueError):
    """A worker count that cannot be served (e.g. several workers without PostgreSQL)."""


@dataclass(frozen=True)
class WorkerRole:
    """Which worker this process is, of how many."""

    index: int = 0
    count: int = 1

    @property
    def leader(self) -> bool:
        """Worker 0 runs what must run once per server."""
        return self.index == 0

    @property
    def shared(self) -> bool:
        """Other processes serve the same port and share the data dir."""
        return self.count > 1


def current_role() -> WorkerRole:
    """This process's role, from the variables the supervisor sets (alone: worker 0 of 1)."""
    try:
        index = int(os.environ.get(WORKER_INDEX_ENV, "0"))
        count = int(os.environ.get(WORKER_COUNT_ENV, "1"))
    except ValueError:
        return WorkerRole()
    if count < 1 or not 0 <= index < count:
        return WorkerRole()
    return WorkerRole(index, count)


def available_cores() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup v2 CPU quota."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    # In a container with a CPU limit the affinity still lists every core of the node.
    with contextlib.suppress(OSError, ValueError):
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    return cores


def worker_count(settings: Settings, requested: int | None = None) -> int:
    """How many workers to run: the option, else PMARK_WORKERS, else one per core with
    PostgreSQL checkpoints and one without."""
    n = requested if requested is not None else settings.workers
    if n is None:
        return available_cores() if settings.postgres_url else 1
    if n < 1:
        raise WorkersError(f"--workers must be at least 1, not {n}")
    if n > 1 and not settings.postgres_url:
        raise WorkersError(
            "more than one worker needs PostgreSQL checkpoints (PMARK_POSTGRES_URL): without it "
            "nothing keeps one conversation's turns in order across processes"
        )
    return n


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the supervisor dies, even by SIGKILL."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _probe_host(host: str) -> str:
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


@dataclass
class _Worker:
    index: int
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    fast_failures: int = 0
    restart_at: float | None = None


@dataclass
class Supervisor:
    """Starts the workers, restarts one that dies, stops them all on SIGTERM/SIGINT."""

    settings: Settings
    host: str
    port: int
    count: int
    workers: list[_Worker] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _metrics_dir: Path | None = None

    def _command(self) -> list[str]:
        return [sys.executable, "-m", "bot.cli", "serve", "--host", self.host]

    def _spawn(self, worker: _Worker) -> None:
        env = dict(os.environ)
        env.update(
            {
                WORKER_INDEX_ENV: str(worker.index),
                WORKER_COUNT_ENV: str(self.count),
                "PMARK_WORKERS": "1",  # the child serves; it does not supervise
                "PMARK_PORT": str(self.port),
            }
        )
        if self._metrics_dir is not None:
            env[METRICS_DIR_ENV] = str(self._metrics_dir)
        worker.proc = subprocess.Popen(
            [*self._command(), "--port", str(self.port)],
            env=env,
            # Its own session: a Ctrl+C in the terminal reaches the supervisor only, which then
            # stops every worker in order instead of racing their exits against restarts.
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - the supervisor runs no threads
        )
        worker.started = time.monotonic()
        worker.restart_at = None
        log.info("worker %d started (pid %d)", worker.index, worker.proc.pid)

    def _healthy(self) -> bool:
        url = f"http://{_probe_host(self.host)}:{self.port}/healthz"
        if ":" in _probe_host(self.host):
            url = f"http://[{_probe_host(self.host)}]:{self.port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=1.0) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def _reserve_port(self) -> socket.socket:
        """Bind (not listen) the port with SO_REUSEPORT: port 0 becomes a real port, and the
        port stays ours between a worker's death and its restart."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((self.host, self.port))
        self.port = int(sock.getsockname()[1])
        return sock

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        log.info("supervisor got signal %d: stopping the workers", signum)
        self._stop.set()

    def run(self) -> int:
        """Serve until a signal (0) or until the workers cannot be kept up (their exit code)."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        reserved = self._reserve_port()
        own_metrics_dir = METRICS_DIR_ENV not in os.environ
        if own_metrics_dir:
            self._metrics_dir = Path(tempfile.mkdtemp(prefix="pmark-metrics-"))
        else:
            # The operator's directory: files of an earlier run's workers would stay in the sums.
            self._metrics_dir = Path(os.environ[METRICS_DIR_ENV])
            self._metrics_dir.mkdir(parents=True, exist_ok=True)
            for stale in self._metrics_dir.glob("*.db"):
                stale.unlink(missing_ok=True)
        log.info("PMark serving on http://%s:%d with %d workers", self.host, self.port, self.count)
        try:
            return self._serve()
        finally:
            self._stop_all()
            reserved.close()
            if own_metrics_dir and self._metrics_dir is not None:
                shutil.rmtree(self._metrics_dir, ignore_errors=True)

    def _serve(self) -> int:
        self.workers = [_Worker(i) for i in range(self.count)]
        first = self.workers[0]
        self._spawn(first)
        # Worker 0 alone first: it migrates the database and prepares the index.
        while not self._healthy():
            assert first.proc is not None
            code = first.proc.poll()
            if code is not None:
                log.error("worker 0 exited with %d before it served", code)
                return code or 1
            if self._stop.wait(0.25):
                return 0
        for worker in self.workers[1:]:
            self._spawn(worker)
        while not self._stop.wait(0.2):
            code = self._watch()
            if code is not None:
                return code
        return 0

    def _watch(self) -> int | None:
        """Restart dead workers; an exit code when one keeps dying."""
        now = time.monotonic()
        for worker in self.workers:
            if worker.proc is None:
                continue
            code = worker.proc.poll()
            if code is None:
                continue
            if worker.restart_at is None:
                self._exited(worker.proc.pid)
                lived = now - worker.started
                worker.fast_failures = worker.fast_failures + 1 if lived < STABLE_AFTER_S else 1
                if worker.fast_failures >= self.settings.worker_restart_limit:
                    log.error(
                        "worker %d died %d times in a row within %.0f s of starting; stopping",
                        worker.index,
                        worker.fast_failures,
                        STABLE_AFTER_S,
                    )
                    return code or 1
                delay = min(30.0, 0.5 * 2 ** (worker.fast_failures - 1))
                worker.restart_at = now + delay
                log.error(
                    "worker %d (pid %d) exited with %d; restarting in %.1f s",
                    worker.index,
                    worker.proc.pid,
                    code,
                    delay,
                )
            elif now >= worker.restart_at:
                self._spawn(worker)
        return None

    def _exited(self, pid: int) -> None:
        if self._metrics_dir is None:
            return
        try:
            from bot.metrics_mp import worker_exited
        except ImportError:  # metrics of a dead worker stay in the sums until the next start
            return
        with contextlib.suppress(Exception):
            worker_exited(pid, self._metrics_dir)

    def _stop_all(self) -> None:
        """SIGTERM every worker; SIGKILL what has not stopped by the shutdown deadline."""
        live = [w.proc for w in self.workers if w.proc is not None and w.proc.poll() is None]
        for proc in live:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.settings.shutdown_timeout + KILL_MARGIN_S
        for proc in live:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("worker pid %d did not stop in time; killing it", proc.pid)
                proc.kill()
                proc.wait()
        for w in self.workers:
            if w.proc is not None:
                self._exited(w.proc.pid)


def supervise(settings: Settings, host: str, port: int, count: int) -> int:
    """Run `count` workers on host:port until stopped; the process exit code."""
    return Supervisor(settings, host, port, count).run()
