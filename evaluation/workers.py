"""Evaluation work in ordered chunks, in this process or over forked worker processes.

Workers forked from a warmed parent share its loaded model and index copy-on-write; gRPC
(Weaviate's client) does not survive fork, so a Weaviate-backed context always runs in-process.
"""

from __future__ import annotations

import math
import multiprocessing as mp
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from agent.context import PMark

ProgressFn = Callable[[str, int, int], None]
"""Called as (stage, done, total) while a run advances."""

CHUNK_MAX = 256  # below the embedder's LRU size, so a warmed chunk stays cached


class ChunkWorker(Protocol):
    """What `map_chunks` drives: the Evaluator."""

    ctx: PMark
    workers: int
    progress: ProgressFn | None

    def run_chunk(
        self, kind: str, config: str, chunk: Sequence[str], k: int
    ) -> list[tuple[Any, ...]]:
        """Parse or search one chunk in this process."""
        ...

    def prepare(self, kind: str, config: str) -> None:
        """Load everything the children will share before forking."""
        ...


_FORKED: dict[str, ChunkWorker] = {}


def _child_init() -> None:
    # Pooled database connections belong to the parent; the child opens its own.
    _FORKED["worker"].ctx.repo.engine.dispose(close=False)


def _work_in_child(task: tuple[str, str, list[str], int]) -> list[tuple[Any, ...]]:
    kind, config, texts, k = task
    return _FORKED["worker"].run_chunk(kind, config, texts, k)


def fork_ok(worker: ChunkWorker) -> bool:
    """Whether this worker may use forked processes."""
    return (
        worker.workers > 1
        and not worker.ctx.settings.weaviate_url
        and "fork" in mp.get_all_start_methods()
    )


def _report(worker: ChunkWorker, stage: str, done: int, total: int) -> None:
    if worker.progress is not None:
        worker.progress(stage, done, total)


def map_chunks(
    worker: ChunkWorker, kind: str, config: str, texts: Sequence[str], k: int
) -> list[tuple[Any, ...]]:
    """Run parse/search over texts in chunks, results in input order, reporting progress."""
    total = len(texts)
    if total == 0:
        return []
    stage = f"{kind} {config}"
    workers = worker.workers if fork_ok(worker) else 1
    size = max(8, min(CHUNK_MAX, math.ceil(total / (workers * 4))))
    chunks = [list(texts[i : i + size]) for i in range(0, total, size)]
    results: list[list[tuple[Any, ...]]] = [[] for _ in chunks]
    done = 0
    _report(worker, stage, 0, total)
    if kind == "search" and config != "prototype":
        worker.ctx.ensure_index()  # once, here, not in every worker
    if workers == 1:
        for i, chunk in enumerate(chunks):
            results[i] = worker.run_chunk(kind, config, chunk, k)
            done += len(chunk)
            _report(worker, stage, done, total)
        return [row for part in results for row in part]
    worker.prepare(kind, config)
    _FORKED["worker"] = worker
    try:
        with ProcessPoolExecutor(
            workers, mp_context=mp.get_context("fork"), initializer=_child_init
        ) as pool:
            futures = {
                pool.submit(_work_in_child, (kind, config, chunk, k)): i
                for i, chunk in enumerate(chunks)
            }
            for future in as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                done += len(chunks[i])
                _report(worker, stage, done, total)
    finally:
        _FORKED.pop("worker", None)
    return [row for part in results for row in part]
