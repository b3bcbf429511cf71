"""Vector normalization: terms the matcher did not know, mapped to catalog codes by embeddings."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from adapters.domain import CatalogEntry


class TextEncoder(Protocol):
    """What the normalizer needs of an embedder."""

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """L2-normalized vectors, one row per text."""
        ...


@dataclass(frozen=True)
class VectorHit:
    """The best catalog entry for a term, with its cosine similarity."""

    term: str
    entry: CatalogEntry
    score: float


class VectorNormalizer:
    """Every name and synonym of a catalog embedded once; terms mapped to the nearest code."""

    def __init__(
        self,
        encoder: TextEncoder,
        entries: Iterable[CatalogEntry],
        threshold: float = 0.85,
        cache_dir: Path | None = None,
    ) -> None:
        self.encoder = encoder
        self.threshold = threshold
        self.cache_dir = cache_dir
        self._by_category: dict[str, tuple[list[CatalogEntry], npt.NDArray[np.float32]]] = {}
        grouped: dict[str, list[tuple[CatalogEntry, str]]] = {}
        for entry in entries:
            for form in (entry.name_ko, entry.name_en, *entry.synonyms):
                if form.strip() and not form.strip().isdigit():
                    grouped.setdefault(entry.category, []).append((entry, form.strip()))
        for category, pairs in grouped.items():
            vectors = self._vectors([form for _, form in pairs])
            self._by_category[category] = ([e for e, _ in pairs], vectors)

    def _vectors(self, forms: list[str]) -> npt.NDArray[np.float32]:
        """Embeddings of catalog forms, kept on disk so a restart does not re-embed the catalog."""
        if self.cache_dir is None:
            return self.encoder.encode(forms)
        name = str(getattr(self.encoder, "name", type(self.encoder).__name__))
        digest = hashlib.sha256("\x1f".join([name, *forms]).encode()).hexdigest()[:24]
        path = self.cache_dir / f"forms-{digest}.npy"
        if path.exists():
            try:
                cached: npt.NDArray[np.float32] = np.load(path)
                if cached.shape[0] == len(forms):
                    return cached
            except (OSError, ValueError):
                pass
        vectors = self.encoder.encode(forms)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, vectors)
        tmp.replace(path)
        return vectors

    def best(self, terms: Sequence[str], categories: Sequence[str]) -> dict[str, VectorHit]:
        """Per category, the best term->entry pair above the threshold."""
        if not terms or not categories:
            return {}
        return self.best_of(terms, self.encoder.encode(list(terms)), categories)

    def encode_terms(self, terms: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
        """Vectors of many terms in one batched call (for parsing a whole file)."""
        unique = sorted(set(terms))
        if not unique:
            return {}
        vectors = self.encoder.encode(unique)
        return {t: vectors[i] for i, t in enumerate(unique)}

    def best_of(
        self,
        terms: Sequence[str],
        vectors: npt.NDArray[np.float32],
        categories: Sequence[str],
    ) -> dict[str, VectorHit]:
        """`best` with the terms' vectors already computed."""
        out: dict[str, VectorHit] = {}
        for category in categories:
            if category not in self._by_category:
                continue
            entries, forms = self._by_category[category]
            sims = vectors @ forms.T
            t, f = np.unravel_index(int(np.argmax(sims)), sims.shape)
            score = float(sims[t, f])
            if score >= self.threshold:
                out[category] = VectorHit(terms[int(t)], entries[int(f)], score)
        return out

    def scores(self, term: str, category: str) -> list[tuple[CatalogEntry, float]]:
        """Every entry of a category with its best similarity to a term, best first (for review)."""
        entries, forms = self._by_category.get(category, ([], np.zeros((0, 1), np.float32)))
        if not entries:
            return []
        sims = (self.encoder.encode([term]) @ forms.T)[0]
        best: dict[str, tuple[CatalogEntry, float]] = {}
        for entry, sim in zip(entries, sims, strict=True):
            if entry.code not in best or sim > best[entry.code][1]:
                best[entry.code] = (entry, float(sim))
        return sorted(best.values(), key=lambda p: -p[1])
