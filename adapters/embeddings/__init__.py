"""Sentence embedders (USE multilingual by default, sentence-transformers optional)."""

from adapters.embeddings.base import CachedEmbedder, Embedder, normalize_rows
from adapters.embeddings.factory import make_embedder

__all__ = ["CachedEmbedder", "Embedder", "make_embedder", "normalize_rows"]
