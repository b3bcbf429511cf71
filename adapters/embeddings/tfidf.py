"""A model-free baseline embedder: character n-gram TF-IDF reduced by truncated SVD (LSA).

Character n-grams within word boundaries (2–4) cope with Korean particles and English
inflection without a tokenizer; the SVD gives dense, fixed-size vectors any SearchIndex accepts.
It must be fitted on a corpus first (e.g. the notification history and the catalog's forms),
and its `name` carries a fingerprint of that fit so caches keyed by name stay correct.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from adapters.embeddings.base import Vectors, normalize_rows


class TfidfEmbedder:
    """Char n-gram TF-IDF + LSA vectors of at most `dim` dimensions (seeded, deterministic)."""

    def __init__(self, corpus: Sequence[str], dim: int = 256, seed: int = 0) -> None:
        """Fit the vocabulary and the SVD on `corpus` (at least two non-empty texts)."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = [t for t in corpus if t.strip()]
        if len(texts) < 2:
            raise ValueError("TfidfEmbedder needs at least two non-empty texts to fit")
        self._vectorizer: Any = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=1, max_features=50000
        )
        matrix = self._vectorizer.fit_transform(texts)
        n_features = int(matrix.shape[1])
        self._svd: Any = None
        if n_features > dim and len(texts) > dim:
            self._svd = TruncatedSVD(n_components=dim, random_state=seed).fit(matrix)
            self.dim = dim
        else:
            self.dim = n_features
        fit = hashlib.sha256("\x1f".join(texts).encode()).hexdigest()[:8]
        self.name = f"tfidf-char2-4-lsa{self.dim}-{fit}"
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed a batch of texts (unknown n-grams are ignored; an empty text is a zero row)."""
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        with self._lock:
            sparse = self._vectorizer.transform(list(texts))
            dense = self._svd.transform(sparse) if self._svd is not None else sparse.toarray()
        return normalize_rows(np.asarray(dense, dtype=np.float32))
