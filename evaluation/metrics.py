"""Pure evaluation metrics: retrieval ranking, judged retrieval, parsing accuracy, A/B significance.

Conventions shared by the ranking metrics:
- `retrieved` is a ranked list of item ids (best first). Repeated ids count once, at their first
  rank, so a system cannot gain precision by returning the same item twice.
- `k` must be >= 1. Precision divides by `k` (not by how many results came back), so a system that
  returns fewer than `k` results is charged for the empty slots.
- When `relevant` is empty every metric is 0.0; `aggregate_retrieval` skips such queries instead
  of averaging them in, and reports how many it skipped.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import combinations, product
from typing import Any

import numpy as np

PARSE_FIELDS: tuple[str, ...] = ("location", "equipment", "failure_mode", "priority")
FIELD_WEIGHTS: Mapping[str, float] = {
    "location": 0.30,
    "equipment": 0.30,
    "failure_mode": 0.25,
    "priority": 0.15,
}


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


def top_k(retrieved: Sequence[str], k: int) -> list[str]:
    """The first `k` distinct ids of a ranking, in rank order."""
    _check_k(k)
    seen: set[str] = set()
    out: list[str] = []
    for item in retrieved:
        if item in seen:
            continue
        seen.add(item)
        out.append(item)
        if len(out) == k:
            break
    return out


def hits_at_k(retrieved: Sequence[str], relevant: Collection[str], k: int) -> int:
    """Number of relevant ids among the top `k` distinct results."""
    return sum(1 for item in top_k(retrieved, k) if item in relevant)


def precision_at_k(retrieved: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Relevant results in the top `k`, divided by `k`."""
    return hits_at_k(retrieved, relevant, k) / k


def recall_at_k(retrieved: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Share of the relevant ids found in the top `k` (0.0 when nothing is relevant)."""
    relevant_set = set(relevant)
    if not relevant_set:
        _check_k(k)
        return 0.0
    return hits_at_k(retrieved, relevant_set, k) / len(relevant_set)


def hit_rate_at_k(retrieved: Sequence[str], relevant: Collection[str], k: int) -> float:
    """1.0 when at least one relevant id is in the top `k`, else 0.0."""
    return 1.0 if hits_at_k(retrieved, relevant, k) > 0 else 0.0


def reciprocal_rank(
    retrieved: Sequence[str], relevant: Collection[str], k: int | None = None
) -> float:
    """1 / rank of the first relevant result (within the top `k` if given), else 0.0."""
    ranking = top_k(retrieved, k if k is not None else max(len(retrieved), 1))
    for rank, item in enumerate(ranking, start=1):
        if item in relevant:
            return 1.0 / rank
    return 0.0


def mean_reciprocal_rank(
    rows: Iterable[tuple[Sequence[str], Collection[str]]], k: int | None = None
) -> float:
    """Mean of `reciprocal_rank` over queries (0.0 for no queries)."""
    values = [reciprocal_rank(retrieved, relevant, k) for retrieved, relevant in rows]
    return sum(values) / len(values) if values else 0.0


def _dcg(gains: Iterable[float]) -> float:
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1))


def ndcg_at_k(retrieved: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Binary-relevance nDCG@k, log2 discount; the ideal ranking has min(k, |relevant|) hits."""
    relevant_set = set(relevant)
    ranking = top_k(retrieved, k)
    ideal = _dcg([1.0] * min(k, len(relevant_set)))
    if ideal == 0.0:
        return 0.0
    return _dcg([1.0 if item in relevant_set else 0.0 for item in ranking]) / ideal


def aggregate_retrieval(
    rows: Iterable[tuple[Sequence[str], Collection[str]]], k: int
) -> dict[str, Any]:
    """Mean retrieval metrics over queries; queries with no relevant ids are skipped and counted.

    Keys: n, n_skipped, k, precision_at_k, recall_at_k, mrr (MRR@k), ndcg_at_k, hit_rate.
    Raises ValueError when no query has a relevant id.
    """
    _check_k(k)
    sums = dict.fromkeys(("precision_at_k", "recall_at_k", "mrr", "ndcg_at_k", "hit_rate"), 0.0)
    n = skipped = 0
    for retrieved, relevant in rows:
        relevant_set = set(relevant)
        if not relevant_set:
            skipped += 1
            continue
        n += 1
        sums["precision_at_k"] += precision_at_k(retrieved, relevant_set, k)
        sums["recall_at_k"] += recall_at_k(retrieved, relevant_set, k)
        sums["mrr"] += reciprocal_rank(retrieved, relevant_set, k)
        sums["ndcg_at_k"] += ndcg_at_k(retrieved, relevant_set, k)
        sums["hit_rate"] += hit_rate_at_k(retrieved, relevant_set, k)
    if n == 0:
        raise ValueError("no query with at least one relevant id")
    return {"n": n, "n_skipped": skipped, "k": k, **{name: s / n for name, s in sums.items()}}


@dataclass(frozen=True)
class JudgedMetrics:
    """Metrics over the judged part of a top-k list (unjudged results are dropped, not misses).

    The ranking metrics are computed on the condensed list (top-k with unjudged ids removed);
    they are None when nothing in the top-k is judged. `coverage` says how much of the top-k
    the numbers rest on.
    """

    k: int
    n_returned: int
    n_judged: int
    n_positive: int
    coverage: float
    precision: float | None
    reciprocal_rank: float | None
    ndcg: float | None


def judged_metrics(
    retrieved: Sequence[str], positive: Collection[str], negative: Collection[str], k: int
) -> JudgedMetrics:
    """Precision, RR and nDCG over the judged results of the top `k` (condensed-list method).

    coverage = judged results / results returned in the top `k` (0.0 when none returned).
    nDCG's ideal uses min(judged results, |positive|) hits, so unjudged slots never lower it.
    """
    pos, neg = set(positive), set(negative)
    if pos & neg:
        raise ValueError(f"ids judged both positive and negative: {sorted(pos & neg)}")
    ranking = top_k(retrieved, k)
    condensed = [item for item in ranking if item in pos or item in neg]
    n_positive = sum(1 for item in condensed if item in pos)
    coverage = len(condensed) / len(ranking) if ranking else 0.0
    if not condensed:
        return JudgedMetrics(k, len(ranking), 0, 0, coverage, None, None, None)
    precision = n_positive / len(condensed)
    rr = next((1.0 / r for r, item in enumerate(condensed, start=1) if item in pos), 0.0)
    ideal = _dcg([1.0] * min(len(condensed), len(pos)))
    ndcg = _dcg([1.0 if item in pos else 0.0 for item in condensed]) / ideal if ideal else 0.0
    return JudgedMetrics(k, len(ranking), len(condensed), n_positive, coverage, precision, rr, ndcg)


_TOKEN = re.compile(r"\w+", re.UNICODE)


def _tokens(text: str | None) -> frozenset[str]:
    return frozenset(t.lower() for t in _TOKEN.findall(text or ""))


def jaccard(a: Collection[str], b: Collection[str]) -> float:
    """Jaccard similarity of two token sets; two empty sets are identical (1.0)."""
    sa, sb = set(a), set(b)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


def pair_dissimilarity(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    """Dissimilarity in [0, 1] of two recommendations, equal thirds of three parts.

    (1) equipment codes differ, (2) failure_mode codes differ (each 1.0 or 0.0; missing = None,
    and None == None), (3) 1 - Jaccard of the lowercased word tokens of the resolutions.
    """
    equipment = 0.0 if a.get("equipment") == b.get("equipment") else 1.0
    failure = 0.0 if a.get("failure_mode") == b.get("failure_mode") else 1.0
    resolution = 1.0 - jaccard(_tokens(a.get("resolution")), _tokens(b.get("resolution")))
    return (equipment + failure + resolution) / 3.0


def diversity(recommendations: Sequence[Mapping[str, Any]]) -> float:
    """Mean `pair_dissimilarity` over all pairs of recommendations (0.0 for fewer than two)."""
    pairs = list(combinations(recommendations, 2))
    if not pairs:
        return 0.0
    return sum(pair_dissimilarity(a, b) for a, b in pairs) / len(pairs)


def _code(value: object) -> str | None:
    # Priority codes arrive as "1" from CSV and sometimes as 1 from a parser; compare as text.
    return None if value is None else str(value)


def field_match(expected: object, predicted: object) -> bool:
    """Exact match of two catalog codes (None matches None)."""
    return _code(expected) == _code(predicted)


def field_score(expected: object, predicted: object) -> float:
    """1.0 on exact match (None == None), 0.0 when only one is None, else SequenceMatcher ratio.

    The ratio is taken as SequenceMatcher(None, expected, predicted), as the seed did; it is not
    always symmetric in its arguments.
    """
    e, p = _code(expected), _code(predicted)
    if e == p:
        return 1.0
    if e is None or p is None:
        return 0.0
    return SequenceMatcher(None, e, p).ratio()


def weighted_parse_accuracy(expected: Mapping[str, Any], predicted: Mapping[str, Any]) -> float:
    """Weighted field score: location .30, equipment .30, failure_mode .25, priority .15."""
    return sum(
        weight * field_score(expected.get(field), predicted.get(field))
        for field, weight in FIELD_WEIGHTS.items()
    )


def aggregate_parsing(
    rows: Iterable[tuple[Mapping[str, Any], Mapping[str, Any], str, str]],
) -> dict[str, Any]:
    """Parsing accuracy over (expected, predicted, lang, scenario) rows.

    Keys: n, weighted_accuracy, field_accuracy{field: exact-match rate},
    field_score{field: mean field_score}, by_language{lang: weighted}, by_scenario{s: weighted}.
    Raises ValueError on no rows.
    """
    n = 0
    weighted_sum = 0.0
    exact = dict.fromkeys(PARSE_FIELDS, 0.0)
    scores = dict.fromkeys(PARSE_FIELDS, 0.0)
    by_lang: dict[str, list[float]] = defaultdict(list)
    by_scenario: dict[str, list[float]] = defaultdict(list)
    for expected, predicted, lang, scenario in rows:
        n += 1
        weighted = weighted_parse_accuracy(expected, predicted)
        weighted_sum += weighted
        by_lang[lang].append(weighted)
        by_scenario[scenario].append(weighted)
        for field in PARSE_FIELDS:
            e, p = expected.get(field), predicted.get(field)
            exact[field] += 1.0 if field_match(e, p) else 0.0
            scores[field] += field_score(e, p)
    if n == 0:
        raise ValueError("no parsing rows")
    return {
        "n": n,
        "weighted_accuracy": weighted_sum / n,
        "field_accuracy": {f: exact[f] / n for f in PARSE_FIELDS},
        "field_score": {f: scores[f] / n for f in PARSE_FIELDS},
        "by_language": {lang: sum(v) / len(v) for lang, v in sorted(by_lang.items())},
        "by_scenario": {s: sum(v) / len(v) for s, v in sorted(by_scenario.items())},
    }


_EXACT_LIMIT = 2**16


def paired_permutation_test(
    a: Sequence[float], b: Sequence[float], n_resamples: int = 10000, seed: int = 0
) -> tuple[float, float]:
    """Two-sided paired sign-flip permutation test of mean(a - b) == 0.

    Returns (mean(a - b), p_value). All 2^n sign patterns are enumerated when 2^n <= n_resamples
    (and <= 65536); otherwise `n_resamples` random patterns are drawn, and p uses the (count + 1) /
    (n_resamples + 1) estimate so it is never 0.

    Kept rather than scipy.stats.permutation_test: scipy would be a new dependency of ~40 MB in
    the image for this one function, which is a dozen lines of numpy here.
    """
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length: {len(a)} != {len(b)}")
    if len(a) == 0:
        raise ValueError("no paired samples")
    if n_resamples < 1:
        raise ValueError("n_resamples must be >= 1")
    diffs = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = diffs.size
    observed = float(diffs.mean())
    # Tolerance so that float noise in sums of the same values is not read as "less extreme".
    threshold = abs(observed) - 1e-12 * max(1.0, float(np.abs(diffs).sum()))
    if 2**n <= min(n_resamples, _EXACT_LIMIT):
        signs = np.array(list(product((1.0, -1.0), repeat=n)))
        stats = np.abs(signs @ diffs) / n
        return observed, float(np.count_nonzero(stats >= threshold)) / len(signs)
    rng = np.random.default_rng(seed)
    extreme = 0
    chunk = max(1, min(n_resamples, 2_000_000 // n))
    remaining = n_resamples
    while remaining:
        size = min(chunk, remaining)
        signs = rng.choice((-1.0, 1.0), size=(size, n))
        stats = np.abs(signs @ diffs) / n
        extreme += int(np.count_nonzero(stats >= threshold))
        remaining -= size
    return observed, (extreme + 1) / (n_resamples + 1)
