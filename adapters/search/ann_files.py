"""The ANN graph of an on-disk embedded index: built by a background process, mapped read-only
by every worker.

Building an HNSW graph holds the GIL (measured: searches in the same process waited up to
1.5 s behind an 8k-row `add`) and takes 8-50 s at 100k rows, so no serving process builds
one. A worker that finds the graph missing or behind starts `python -m
adapters.search.ann_files` (niced, one at a time per directory: `ann.lock`), which writes
`ann-<generation>-<rows>.usearch` atomically; every worker maps the newest file of its files'
generation with `Index.restore(view=True)`, so N workers share one copy in the page cache.
Until a graph exists the vector side scans exactly; slots appended after it are re-scored
exactly as the shortlist's tail (adapters/search/ann.py `pick`).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from adapters.search.ann import MAX_TAIL, pick
from adapters.search.embedded_log import DirectoryLock, SharedLog, file_generation

if TYPE_CHECKING:
    from usearch.index import Index

log = logging.getLogger(__name__)

BUILD_LOCK = "ann.lock"
_NAME = re.compile(r"ann-(?P<gen>[0-9]+-[0-9]+)-(?P<rows>[0-9]+)\.usearch")
# A rebuild once this many slots are past the graph (or 2% of it): the tail stays well under
# MAX_TAIL, and an index growing one report at a time is rebuilt rarely.
REBUILD_TAIL = 2_000
REBUILD_FRACTION = 0.02
RESCAN_S = 2.0  # how often a worker looks for a newer graph file
RESPAWN_S = 30.0  # a build that failed is not retried sooner
_STEP = 8192


def graph_name(generation: str, rows: int) -> str:
    """The file name of the graph over rows [0, rows) of that generation's vector file."""
    return f"ann-{generation}-{rows}.usearch"


def _build_lock(directory: Path) -> AbstractContextManager[bool]:
    """`ann.lock` held exclusively for the block; False (not held) when a builder has it."""
    return DirectoryLock(directory / BUILD_LOCK).attempt()


class SharedAnnShortlist:
    """The newest graph file of the index's current generation, and the builds that make it."""

    def __init__(self, directory: Path, dim: int, generation: Callable[[], str]) -> None:
        self.directory = directory
        self.dim = dim
        self._generation = generation
        self._view: Index | None = None
        self._view_name = ""
        self.covered = 0
        self._scanned_at = -RESCAN_S
        self._proc: subprocess.Popen[bytes] | None = None
        self._spawned_at = -RESPAWN_S

    # ----- reading -----
    def _mapped(self, generation: str) -> bool:
        """Whether the mapped graph belongs to this generation of the index's files."""
        return self._view_name.startswith(f"ann-{generation}-")

    def _current(self, generation: str) -> Index | None:
        """This generation's newest graph (looked for at most every RESCAN_S)."""
        now = time.monotonic()
        finished = self._proc is not None and self._proc.poll() is not None
        if finished:
            self._proc = None
        if finished or now - self._scanned_at >= RESCAN_S or not self._mapped(generation):
            self._scanned_at = now
            self._rescan(generation)
        return self._view if self._mapped(generation) else None

    def _rescan(self, generation: str) -> None:
        best: tuple[int, str] | None = None
        try:
            names = os.listdir(self.directory)
        except OSError:
            return
        for name in names:
            match = _NAME.fullmatch(name)
            if match and match["gen"] == generation:
                rows = int(match["rows"])
                if best is None or rows > best[0]:
                    best = (rows, name)
        if best is None or best[1] == self._view_name:
            return
        from usearch.index import Index

        try:
            view = Index.restore(str(self.directory / best[1]), view=True)
        except Exception as exc:  # removed meanwhile by a newer build, or torn: scan instead
            log.warning("ANN graph %s not usable: %r", best[1], exc)
            return
        if view is None or view.ndim != self.dim or len(view) != best[0]:
            log.warning("ANN graph %s does not match the index; ignored", best[1])
            return
        self._view, self._view_name, self.covered = view, best[1], best[0]

    def _nearest(self, vector: npt.NDArray[np.float32], count: int) -> npt.NDArray[np.int64]:
        assert self._view is not None
        return np.asarray(self._view.search(vector, count, threads=1).keys, dtype=np.int64)

    def shortlist(
        self,
        vector: npt.NDArray[np.float32],
        allowed: npt.NDArray[np.bool_],
        k: int,
        rows: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float32]],
    ) -> npt.NDArray[np.int64] | None:
        """As `AnnShortlist.shortlist`; None (a scan) while no graph of these files exists."""
        self.extend(len(allowed), rows)  # maps the newest graph, starts a build if it lags
        if not self._mapped(self._generation()):
            return None
        return pick(self._nearest, self.covered, vector, allowed, k)

    # ----- building -----
    def extend(
        self, upto: int, rows: Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float32]]
    ) -> None:
        """Start a background build when the graph lags slots [0, upto) too far; never waits."""
        del rows  # the builder reads the vector file itself
        generation = self._generation()
        # Look for a graph first: a worker that just opened the index (or refreshes it before
        # its first query) must map the one another worker built, not start a second build.
        self._current(generation)
        if not generation or self._proc is not None:
            return
        have = self.covered if self._mapped(generation) else 0
        lag = upto - have
        if lag < max(REBUILD_TAIL, REBUILD_FRACTION * have) and lag <= MAX_TAIL // 2:
            return
        now = time.monotonic()
        if now - self._spawned_at < RESPAWN_S:
            return
        with _build_lock(self.directory) as free:
            if not free:
                return  # another worker's build is running
        self._spawned_at = now
        root = Path(__file__).resolve().parents[2]
        self._proc = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [
                sys.executable,
                "-m",
                "adapters.search.ann_files",
                str(self.directory),
                generation,
                str(upto),
                str(self.dim),
            ],
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # a signal to the server's group does not kill a build
        )

    def wait(self, timeout: float) -> bool:
        """Wait until this worker's build (if any) ends and its graph is mapped."""
        deadline = time.monotonic() + timeout
        while self._proc is not None and self._proc.poll() is None:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return self._current(self._generation()) is not None


def build(directory: Path, generation: str, rows: int, dim: int) -> Path | None:
    """Write the graph of rows [0, rows) of `generation`'s vector file; None when that
    generation is gone (compacted) or another builder holds the lock."""
    with _build_lock(directory) as held:
        if not held:
            return None
        files = SharedLog(directory, dim)
        with files.lock.held(exclusive=False):  # no compaction between the two opens
            log_fd = os.open(files.log_path, os.O_RDONLY)
            vector_fd = os.open(files.vector_path, os.O_RDONLY)
        try:
            if file_generation(log_fd, vector_fd) != generation:
                return None
            if os.fstat(vector_fd).st_size < rows * dim * 4:
                return None
            with open(vector_fd, "rb", closefd=False) as f:
                matrix = np.memmap(f, dtype=np.float32, mode="r", shape=(rows, dim))
            target = directory / graph_name(generation, rows)
            _write_graph(matrix, target)
        finally:
            os.close(log_fd)
            os.close(vector_fd)
        for name in os.listdir(directory):
            if _NAME.fullmatch(name) and name != target.name:
                (directory / name).unlink(missing_ok=True)  # workers keep their mapped copy
        return target


def _write_graph(matrix: npt.NDArray[np.float32], target: Path) -> None:
    from usearch.index import Index

    # Cosine over i8: the order of the index's dot product on unit rows (figures in ann.py).
    index = Index(ndim=matrix.shape[1], metric="cos", dtype="i8")
    for start in range(0, len(matrix), _STEP):
        stop = min(len(matrix), start + _STEP)
        keys = np.arange(start, stop, dtype=np.uint64)
        index.add(keys, np.asarray(matrix[start:stop], dtype=np.float32), threads=1)
    tmp = target.with_name(f".{target.name}.tmp")
    index.save(str(tmp))
    os.replace(tmp, target)  # readers never map a half-written graph


def main(argv: list[str] | None = None) -> int:
    """`python -m adapters.search.ann_files DIRECTORY GENERATION ROWS DIM` (niced)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("generation")
    parser.add_argument("rows", type=int)
    parser.add_argument("dim", type=int)
    args = parser.parse_args(argv)
    os.nice(10)  # serving turns come first on a small machine
    logging.basicConfig(level=logging.INFO)
    started = time.perf_counter()
    try:
        target = build(args.directory, args.generation, args.rows, args.dim)
    except (OSError, RuntimeError) as exc:  # the index was removed meanwhile (usearch raises
        # RuntimeError for a directory gone under its save)
        log.warning("ANN graph not built in %s: %r", args.directory, exc)
        return 1
    if target is not None:
        log.info("ANN graph %s built in %.1f s", target.name, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
