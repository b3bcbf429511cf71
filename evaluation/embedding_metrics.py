"""What an embedding model is measured on, as pure functions of vectors and gold data.

- similarity: Spearman rank correlation of cosine similarity with judged pair scores (0–5),
  overall and per pair language (ko, en, ko-en), plus the mean cosine per judged kind;
- clustering: adjusted Rand index of k-means clusters against catalog codes (equipment,
  failure mode) of notifications, k = the number of distinct codes;
- normalization: each catalog form (name or synonym) left out and mapped to its nearest other
  form of the same category; right when that form's code is its own and the cosine reaches the
  configured threshold, as the parser's vector normalizer decides.
Every set is split into `dev` and `test`; a row without an explicit split gets one from a stable
hash of its key, so splits never move between runs.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from adapters.domain import CatalogEntry
from evaluation.datasets import DATASETS_DIR, GoldFormatError, RetrievalExample

SPLITS: tuple[str, ...] = ("dev", "test")
PAIR_LANGS: tuple[str, ...] = ("ko", "en", "ko-en")
PAIR_KINDS: tuple[str, ...] = ("paraphrase", "related", "unrelated")
DEFAULT_SIMILARITY_GOLD = DATASETS_DIR / "similarity_pairs.jsonl"


def split_of(key: str) -> str:
    """'dev' or 'test', from a stable hash of `key` (half each, in expectation)."""
    return SPLITS[hashlib.sha256(key.encode()).digest()[0] % 2]


@dataclass(frozen=True)
class SimilarityPair:
    """Two texts with a judged similarity score from 0 (unrelated) to 5 (same meaning)."""

    a: str
    b: str
    score: float
    kind: str
    lang: str
    split: str


def load_similarity_pairs(path: Path = DEFAULT_SIMILARITY_GOLD) -> list[SimilarityPair]:
    """Read a similarity gold set: {"a", "b", "score", "kind", "lang", "split"} per line."""
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            pair = SimilarityPair(
                str(obj["a"]),
                str(obj["b"]),
                float(obj["score"]),
                str(obj["kind"]),
                str(obj["lang"]),
                str(obj.get("split") or split_of(f"{obj['a']}\x1f{obj['b']}")),
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise GoldFormatError(f"{path}:{number}: not a similarity pair ({exc})") from exc
        if pair.kind not in PAIR_KINDS or pair.lang not in PAIR_LANGS or pair.split not in SPLITS:
            raise GoldFormatError(f"{path}:{number}: bad kind, lang or split")
        if not 0.0 <= pair.score <= 5.0:
            raise GoldFormatError(f"{path}:{number}: score must be in [0, 5]")
        pairs.append(pair)
    return pairs


def retrieval_splits(path: Path) -> dict[str, list[RetrievalExample]]:
    """A retrieval gold set by split: a row's own "split" when it has one, else a hash split."""
    out: dict[str, list[RetrievalExample]] = {s: [] for s in SPLITS}
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            query = " ".join(str(obj["query"]).split())
            relevant = tuple(str(r) for r in obj.get("relevant") or [])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise GoldFormatError(f"{path}:{number}: not a retrieval example ({exc})") from exc
        split = str(obj.get("split") or split_of(query))
        if split in out and query:
            out[split].append(RetrievalExample(query, relevant))
    return out


def _ranks(values: Sequence[float]) -> npt.NDArray[np.float64]:
    """1-based ranks, ties sharing their average rank."""
    arr = np.asarray(values, dtype=np.float64)
    order = np.argsort(arr, kind="mergesort")
    ranks = np.empty(len(arr), dtype=np.float64)
    i = 0
    while i < len(arr):
        j = i
        while j + 1 < len(arr) and arr[order[j + 1]] == arr[order[i]]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation (ties share average ranks); None below 3 pairs.

    A constant side ranks nothing, so it scores 0.0 (a model whose similarities are all equal,
    like character n-grams across scripts, shows no association rather than an undefined one).
    """
    if len(x) != len(y):
        raise ValueError("spearman needs two sequences of the same length")
    if len(x) < 3:
        return None
    rx, ry = _ranks(x), _ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = float(np.sqrt((rx**2).sum() * (ry**2).sum()))
    return float((rx * ry).sum() / denominator) if denominator > 0 else 0.0


def similarity_metrics(
    pairs: Sequence[SimilarityPair], cosines: Sequence[float]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Spearman overall and per language, mean cosine per kind; and per-pair rows."""
    rows = [
        {"a": p.a, "b": p.b, "lang": p.lang, "kind": p.kind, "score": p.score, "cosine": c}
        for p, c in zip(pairs, cosines, strict=True)
    ]
    by_lang = {
        lang: spearman([r["score"] for r in sub], [r["cosine"] for r in sub])
        for lang in PAIR_LANGS
        if (sub := [r for r in rows if r["lang"] == lang])
    }
    mean_cosine = {
        kind: float(np.mean([r["cosine"] for r in sub]))
        for kind in PAIR_KINDS
        if (sub := [r for r in rows if r["kind"] == kind])
    }
    metrics = {
        "n": len(rows),
        "spearman": spearman([r["score"] for r in rows], [r["cosine"] for r in rows]),
        "spearman_by_lang": by_lang,
        "mean_cosine": mean_cosine,
    }
    return metrics, rows


def pair_cosines(
    vectors_a: npt.NDArray[np.float32], vectors_b: npt.NDArray[np.float32]
) -> list[float]:
    """Row-wise cosine of two batches of unit vectors."""
    return [float(v) for v in np.einsum("ij,ij->i", vectors_a, vectors_b)]


def clustering_sample(
    items: Sequence[tuple[str, str, Mapping[str, str]]], split: str, limit: int, seed: int
) -> list[tuple[str, Mapping[str, str]]]:
    """(text, labels) of the items of one split (by key hash), at most `limit`, seeded sample."""
    chosen = [(text, labels) for key, text, labels in items if split_of(key) == split]
    if len(chosen) > limit:
        chosen = random.Random(seed).sample(chosen, limit)
    return chosen


def clustering_metrics(
    vectors: npt.NDArray[np.float32],
    labels: Mapping[str, Sequence[str | None]],
    seed: int = 0,
) -> dict[str, Any]:
    """Per label field: ARI of k-means (k = distinct labels) against the labels, and k."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    out: dict[str, Any] = {"n": int(vectors.shape[0])}
    for name, values in labels.items():
        keep = [i for i, v in enumerate(values) if v]
        truth = [values[i] for i in keep]
        k = len(set(truth))
        if k < 2 or len(keep) <= k:
            out[f"ari_{name}"], out[f"k_{name}"] = None, k
            continue
        found = KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(vectors[keep])
        out[f"ari_{name}"] = float(adjusted_rand_score(truth, found))
        out[f"k_{name}"] = k
    return out


def catalog_forms(entries: Sequence[CatalogEntry]) -> list[tuple[str, str, str]]:
    """(category, code, form) of every name and synonym, as the vector normalizer indexes them."""
    out = []
    for e in entries:
        for form in dict.fromkeys((e.name_ko, e.name_en, *e.synonyms)):
            if form.strip() and not form.strip().isdigit():
                out.append((e.category, e.code, form.strip()))
    return out


def normalization_metrics(
    forms: Sequence[tuple[str, str, str]],
    vectors: npt.NDArray[np.float32],
    threshold: float,
    split: str,
) -> dict[str, Any]:
    """Leave-one-form-out normalization of the split's forms against all other forms.

    Only forms whose code has another form can be right, so only those are scored.
    """
    correct = covered = n = 0
    for category in sorted({c for c, _, _ in forms}):
        idx = [i for i, (c, _, _) in enumerate(forms) if c == category]
        sub = vectors[idx]
        sims = sub @ sub.T
        codes = [forms[i][1] for i in idx]
        texts = [forms[i][2] for i in idx]
        for a, i in enumerate(idx):
            cat, code, text = forms[i]
            if split_of(f"{cat}\x1f{code}\x1f{text}") != split:
                continue
            if sum(1 for b, c in enumerate(codes) if c == code and b != a) == 0:
                continue
            row = sims[a].copy()
            for b, other in enumerate(texts):
                if other == text:
                    row[b] = -np.inf  # itself (or the same text under another code)
            best = int(np.argmax(row))
            n += 1
            if row[best] >= threshold:
                covered += 1
                correct += codes[best] == code
    return {
        "n": n,
        "threshold": threshold,
        "accuracy": correct / n if n else None,
        "coverage": covered / n if n else None,
        "precision": correct / covered if covered else None,
    }
