"""Vector normalization: terms the matcher did not know, mapped to catalog codes by embeddings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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
    ) -> None:
        self.encoder = encoder
        self.threshold = threshold
        self._by_category: dict[str, tuple[list[CatalogEntry], npt.NDArray[np.float32]]] = {}
        grouped: dict[str, list[tuple[CatalogEntry, str]]] = {}
        for entry in entries:
            for form in (entry.name_ko, entry.name_en, *entry.synonyms):
                if form.strip() and not form.strip().isdigit():
                    grouped.setdefault(entry.category, []).append((entry, form.strip()))
        for category, pairs in grouped.items():
            vectors = encoder.encode([form for _, form in pairs])
            self._by_category[category] = ([e for e, _ in pairs], vectors)

    def best(self, terms: Sequence[str], categories: Sequence[str]) -> dict[str, VectorHit]:
        """Per category, the best term->entry pair above the threshold."""
        if not terms or not categories:
            return {}
        vectors = self.encoder.encode(list(terms))
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
