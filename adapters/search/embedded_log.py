"""The embedded index's files shared between processes: an advisory lock and a log follower.

N server workers open the same index directory. Writers (upsert, delete, compact, the repair of
a crashed append) take an exclusive `flock` on `.lock`, catch up with the log, then append; so
slot numbers are allocated from one sequence. Every process follows `log.jsonl` by byte offset
and applies what the others appended. Appends never change a file's inode; compaction replaces
both files (new inodes), which a follower notices as a different inode and answers by reloading.

A follower keeps its own descriptors of the log and vector file it loaded. While they are open
the kernel keeps those inodes (their numbers cannot be reused), so "the path now names another
inode" is a reliable sign of compaction, and reading through the old descriptors still gives a
consistent (old) pair of files until the reload.
"""

from __future__ import annotations

import enum
import fcntl
import json
import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

LOCK_NAME = ".lock"
LOG_NAME = "log.jsonl"
VECTORS_NAME = "vectors.f32"
_CHUNK = 1 << 20


class DirectoryLock:
    """`flock` on the index directory's lock file, re-entrant for one owner.

    Not thread-safe by itself: the owner calls it under its own thread lock. Holding the
    exclusive lock covers nested shared requests; a shared holder cannot upgrade (flock would
    drop the shared lock first, letting a writer in between unnoticed).
    """

    def __init__(self, path: Path) -> None:
        """A lock on `path` (created on first use)."""
        self.path = path
        self._depth = 0
        self._exclusive = False

    @property
    def exclusive_held(self) -> bool:
        """Whether this owner holds the exclusive lock now."""
        return self._depth > 0 and self._exclusive

    @contextmanager
    def held(self, exclusive: bool) -> Iterator[None]:
        """Hold the lock (shared or exclusive) for the block."""
        if self._depth:
            if exclusive and not self._exclusive:
                raise RuntimeError("a shared index lock cannot be upgraded to exclusive")
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        fd = self._locked(exclusive, wait=True)
        assert fd is not None
        try:
            self._depth, self._exclusive = 1, exclusive
            try:
                yield
            finally:
                self._depth, self._exclusive = 0, False
        finally:
            os.close(fd)

    @contextmanager
    def attempt(self) -> Iterator[bool]:
        """The exclusive lock if nobody holds it, without waiting: yields whether it is held."""
        if self._depth:
            raise RuntimeError("the lock is held already")
        fd = self._locked(True, wait=False)
        if fd is None:
            yield False
            return
        try:
            self._depth, self._exclusive = 1, True
            try:
                yield True
            finally:
                self._depth, self._exclusive = 0, False
        finally:
            os.close(fd)

    def _locked(self, exclusive: bool, wait: bool) -> int | None:
        """A new descriptor holding the lock, or None when `wait` is off and it is taken."""
        # A descriptor per acquisition: closing it releases the lock, also if the process forks.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(fd, mode if wait else mode | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        return fd


class Change(enum.Enum):
    """What happened to the log since this process last looked."""

    NONE = "none"
    GROWN = "grown"  # same file, bytes appended (perhaps only part of a line so far)
    REPLACED = "replaced"  # compacted (another inode) or shrunk: reload from scratch


class SharedLog:
    """This process's view of one generation of `log.jsonl` + `vectors.f32`."""

    def __init__(self, directory: Path, dim: int) -> None:
        """Follow the index files in `directory` (nothing is opened until `attach`)."""
        self.directory = directory
        self.dim = dim
        self.row_bytes = dim * 4
        self.lock = DirectoryLock(directory / LOCK_NAME)
        self.log_path = directory / LOG_NAME
        self.vector_path = directory / VECTORS_NAME
        self.offset = 0  # bytes of the log consumed: only whole, parsed lines
        self._log_fd: int | None = None
        self._vector_fd: int | None = None
        self._inode: tuple[int, int] = (0, 0)
        self.generation = ""  # names this pair of files; compaction starts another
        # Raw descriptors are not closed by the garbage collector: these close them when the
        # index is dropped without `close()`.
        self._closers: list[weakref.finalize[[int], SharedLog]] = []

    # ----- descriptors -----
    def attach(self) -> None:
        """Open the current files from their start; call under the (shared) lock, so that the
        two descriptors belong to the same generation."""
        self.detach()
        flags = os.O_RDWR | os.O_CREAT
        self._vector_fd = os.open(self.vector_path, flags, 0o644)
        self._log_fd = os.open(self.log_path, flags, 0o644)
        self._closers = [weakref.finalize(self, os.close, fd) for fd in self._fds()]
        st = os.fstat(self._log_fd)
        self._inode = (st.st_dev, st.st_ino)
        self.generation = file_generation(self._log_fd, self._vector_fd)
        self.offset = 0

    def detach(self) -> None:
        """Close the descriptors (a later `poll` then asks for a reload)."""
        for closer in self._closers:
            closer()
        self._closers = []
        self._log_fd = self._vector_fd = None

    def _fds(self) -> tuple[int, int]:
        if self._log_fd is None or self._vector_fd is None:
            raise RuntimeError("index files are not open")
        return self._log_fd, self._vector_fd

    # ----- reading -----
    def poll(self) -> Change:
        """One `os.stat` of the log path: has anything happened since the last read?"""
        if self._log_fd is None:
            return Change.REPLACED
        try:
            st = os.stat(self.log_path)
        except FileNotFoundError:
            return Change.REPLACED
        if (st.st_dev, st.st_ino) != self._inode or st.st_size < self.offset:
            return Change.REPLACED
        # A partial line past the offset (an append in progress, or a crash's leftover until
        # the next writer cuts it) is looked at again each time: it is at most one line.
        return Change.NONE if st.st_size == self.offset else Change.GROWN

    def records(self) -> Iterator[dict[str, Any]]:
        """Records of the complete lines after `offset`, advancing it line by line.

        A partial last line (another writer's append in progress, or a crash's leftover) is
        left alone, and so is everything from a line that does not parse: only a writer under
        the exclusive lock may cut them off (`repair`).
        """
        log_fd, _ = self._fds()
        end = os.fstat(log_fd).st_size
        pos = self.offset
        tail = b""
        while pos < end:
            chunk = os.pread(log_fd, min(_CHUNK, end - pos), pos)
            if not chunk:
                return
            pos += len(chunk)
            lines = (tail + chunk).split(b"\n")
            tail = lines.pop()
            for line in lines:
                try:
                    record = json.loads(line)
                except ValueError:
                    return
                self.offset += len(line) + 1
                if isinstance(record, dict):
                    yield record

    def vector_rows(self) -> int:
        """Whole rows in the vector file."""
        _, vector_fd = self._fds()
        return os.fstat(vector_fd).st_size // self.row_bytes

    def read_rows(self, start: int, stop: int) -> npt.NDArray[np.float32]:
        """Rows [start, stop) of the vector file, copied."""
        _, vector_fd = self._fds()
        want = (stop - start) * self.row_bytes
        data = os.pread(vector_fd, want, start * self.row_bytes)
        if len(data) != want:
            raise ValueError(f"{self.vector_path} is shorter than its log says")
        return np.frombuffer(data, dtype=np.float32).reshape(stop - start, self.dim).copy()

    def map_rows(self, rows: int) -> np.memmap[Any, np.dtype[np.float32]] | None:
        """The first `rows` rows as a read-only map: N workers share one copy in the page cache.

        Rows below the logged slot count are never truncated or rewritten in place (compaction
        writes new files), so the map never faults on a cut page.
        """
        if rows <= 0:
            return None
        _, vector_fd = self._fds()
        with open(vector_fd, "rb", closefd=False) as f:
            return np.memmap(f, dtype=np.float32, mode="r", shape=(rows, self.dim))

    def has_leftovers(self, slots: int) -> bool:
        """Whether the files hold more than the consumed log and its `slots` vector rows."""
        log_fd, vector_fd = self._fds()
        return (
            os.fstat(log_fd).st_size > self.offset
            or os.fstat(vector_fd).st_size > slots * self.row_bytes
        )

    # ----- writing (exclusive lock held, log consumed up to its last whole line) -----
    def repair(self, slots: int) -> None:
        """Cut what a crashed writer left: a torn or unparsable log tail, vectors beyond `slots`.

        Only valid under the exclusive lock after reading every record: then no append is in
        progress and whatever was not consumed is garbage.
        """
        assert self.lock.exclusive_held
        log_fd, vector_fd = self._fds()
        if os.fstat(log_fd).st_size > self.offset:
            os.ftruncate(log_fd, self.offset)
            os.fsync(log_fd)
        if os.fstat(vector_fd).st_size > slots * self.row_bytes:
            os.ftruncate(vector_fd, slots * self.row_bytes)

    def append(
        self, records: list[dict[str, Any]], vectors: npt.NDArray[np.float32], first_slot: int
    ) -> None:
        """Write vectors at their slots' rows, then the log lines; each fsynced, vectors first,
        so that a follower seeing a whole log line can always read its vectors."""
        assert self.lock.exclusive_held
        log_fd, vector_fd = self._fds()
        if len(vectors):
            _write_all(
                vector_fd,
                np.ascontiguousarray(vectors, dtype=np.float32).tobytes(),
                first_slot * self.row_bytes,
            )
            os.fsync(vector_fd)
        data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
        if data:
            _write_all(log_fd, data, self.offset)
            os.fsync(log_fd)
            self.offset += len(data)

    def replace(self, records: list[dict[str, Any]], vectors: npt.NDArray[np.float32]) -> None:
        """Compaction: write both files anew and switch to them (followers see new inodes)."""
        assert self.lock.exclusive_held
        tmp_vectors = self.vector_path.with_suffix(".tmp")
        tmp_log = self.log_path.with_suffix(".tmp")
        _write_file(tmp_vectors, np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
        _write_file(
            tmp_log,
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode(),
        )
        # Vectors first: a crash between the two renames leaves the old log naming slots past
        # the end of the shorter vector file, which open reports, instead of a new log silently
        # pairing slots with the old file's rows.
        os.replace(tmp_vectors, self.vector_path)
        os.replace(tmp_log, self.log_path)
        _fsync_dir(self.directory)
        self.attach()
        self.offset = os.fstat(self._fds()[0]).st_size


def file_generation(log_fd: int, vector_fd: int) -> str:
    """A name for one generation of the two files: their inodes (open descriptors keep them
    from being reused, and compaction writes both anew)."""
    return f"{os.fstat(log_fd).st_ino}-{os.fstat(vector_fd).st_ino}"


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def _write_file(path: Path, data: bytes) -> None:
    with path.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
