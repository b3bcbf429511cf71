"""Properties and hand-computed examples for evaluation.metrics."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluation.metrics import (
    FIELD_WEIGHTS,
    aggregate_parsing,
    aggregate_retrieval,
    diversity,
    field_score,
    hit_rate_at_k,
    hits_at_k,
    judged_metrics,
    mean_reciprocal_rank,
    ndcg_at_k,
    pair_dissimilarity,
    paired_permutation_test,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
    top_k,
    weighted_parse_accuracy,
)

ids = st.text(alphabet="abcdefghij", min_size=1, max_size=2)
rankings = st.lists(ids, max_size=15)
relevant_sets = st.sets(ids, max_size=8)
ks = st.integers(min_value=1, max_value=12)


@given(rankings, relevant_sets, ks)
def test_ranking_metrics_are_in_unit_interval(
    ranking: list[str], relevant: set[str], k: int
) -> None:
    for metric in (precision_at_k, recall_at_k, ndcg_at_k, hit_rate_at_k):
        assert 0.0 <= metric(ranking, relevant, k) <= 1.0 + 1e-12
    assert 0.0 <= reciprocal_rank(ranking, relevant, k) <= 1.0


@given(rankings, relevant_sets, ks)
def test_precision_times_k_is_the_hit_count(ranking: list[str], relevant: set[str], k: int) -> None:
    hits = len(set(top_k(ranking, k)) & relevant)
    assert hits_at_k(ranking, relevant, k) == hits
    assert math.isclose(precision_at_k(ranking, relevant, k) * k, hits)
    if relevant:
        assert math.isclose(recall_at_k(ranking, relevant, k) * len(relevant), hits)


@given(st.sets(ids, min_size=1, max_size=8), ks, st.lists(ids, max_size=5))
def test_perfect_ranking_scores_one(relevant: set[str], k: int, tail: list[str]) -> None:
    ranking = sorted(relevant) + [t for t in tail if t not in relevant]
    assert ndcg_at_k(ranking, relevant, k) == pytest.approx(1.0)
    assert reciprocal_rank(ranking, relevant, k) == 1.0
    assert hit_rate_at_k(ranking, relevant, k) == 1.0
    if len(relevant) >= k:
        assert precision_at_k(ranking, relevant, k) == 1.0
    if k >= len(relevant):
        assert recall_at_k(ranking, relevant, k) == 1.0


@given(rankings, st.sets(ids, min_size=1, max_size=8), ks)
def test_relevant_doc_at_rank_one_never_lowers_rr_or_hit_rate(
    ranking: list[str], relevant: set[str], k: int
) -> None:
    doc = sorted(relevant)[0]
    boosted = [doc, *ranking]
    assert reciprocal_rank(boosted, relevant, k) == 1.0
    assert reciprocal_rank(boosted, relevant, k) >= reciprocal_rank(ranking, relevant, k)
    assert hit_rate_at_k(boosted, relevant, k) >= hit_rate_at_k(ranking, relevant, k)


@given(rankings, relevant_sets, ks)
def test_metrics_ignore_duplicates(ranking: list[str], relevant: set[str], k: int) -> None:
    doubled = [x for item in ranking for x in (item, item)]
    for metric in (precision_at_k, recall_at_k, ndcg_at_k, hit_rate_at_k, reciprocal_rank):
        assert metric(doubled, relevant, k) == metric(ranking, relevant, k)


@given(rankings, relevant_sets, st.integers(1, 6), st.integers(0, 6))
def test_recall_and_hit_rate_grow_with_k(
    ranking: list[str], relevant: set[str], k: int, extra: int
) -> None:
    assert recall_at_k(ranking, relevant, k + extra) >= recall_at_k(ranking, relevant, k)
    assert hit_rate_at_k(ranking, relevant, k + extra) >= hit_rate_at_k(ranking, relevant, k)


@given(st.sets(ids, min_size=1, max_size=6), st.sets(ids, min_size=1, max_size=6))
def test_recall_of_disjoint_and_identical_sets(a: set[str], b: set[str]) -> None:
    big = len(a | b)
    assert recall_at_k(sorted(a), a, big) == 1.0
    if not a & b:
        assert recall_at_k(sorted(a), b, big) == 0.0 == recall_at_k(sorted(b), a, big)


def test_hand_computed_ranking_example() -> None:
    ranking = ["d1", "x", "d2", "y", "z"]
    relevant = {"d1", "d2", "d3"}
    assert precision_at_k(ranking, relevant, 5) == pytest.approx(2 / 5)
    assert precision_at_k(ranking, relevant, 3) == pytest.approx(2 / 3)
    assert recall_at_k(ranking, relevant, 5) == pytest.approx(2 / 3)
    assert reciprocal_rank(["x", "y", "d2"], relevant) == pytest.approx(1 / 3)
    assert reciprocal_rank(["x", "y", "d2"], relevant, k=2) == 0.0
    # DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG@5 with 3 relevant = 1 + 1/log2(3) + 1/log2(4).
    idcg = 1 + 1 / math.log2(3) + 0.5
    assert ndcg_at_k(ranking, relevant, 5) == pytest.approx(1.5 / idcg)
    # Fewer results than k: precision still divides by k.
    assert precision_at_k(["d1"], relevant, 5) == pytest.approx(0.2)
    assert mean_reciprocal_rank([(["d1"], {"d1"}), (["x", "d1"], {"d1"}), (["x"], {"d1"})]) == (
        pytest.approx(0.5)
    )


def test_empty_relevant_and_bad_k() -> None:
    assert recall_at_k(["a"], set(), 3) == 0.0
    assert ndcg_at_k(["a"], set(), 3) == 0.0
    with pytest.raises(ValueError):
        precision_at_k(["a"], {"a"}, 0)


def test_aggregate_retrieval_means_and_skips_unjudgeable_queries() -> None:
    rows = [(["a", "b"], {"a"}), (["c", "a"], {"a", "z"}), (["q"], set())]
    out = aggregate_retrieval(rows, k=2)
    assert out["n"] == 2 and out["n_skipped"] == 1 and out["k"] == 2
    assert out["precision_at_k"] == pytest.approx((0.5 + 0.5) / 2)
    assert out["recall_at_k"] == pytest.approx((1.0 + 0.5) / 2)
    assert out["mrr"] == pytest.approx((1.0 + 0.5) / 2)
    assert out["hit_rate"] == 1.0
    ndcg2 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert out["ndcg_at_k"] == pytest.approx((1.0 + ndcg2) / 2)
    with pytest.raises(ValueError):
        aggregate_retrieval([(["a"], set())], k=1)


def test_judged_metrics_drop_unjudged_results() -> None:
    out = judged_metrics(["u1", "p1", "n1", "u2", "p2"], {"p1", "p2"}, {"n1"}, k=5)
    assert out.n_returned == 5 and out.n_judged == 3 and out.n_positive == 2
    assert out.coverage == pytest.approx(3 / 5)
    assert out.precision == pytest.approx(2 / 3)
    assert out.reciprocal_rank == 1.0  # u1 is not a miss
    assert out.ndcg == pytest.approx((1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3)))
    none = judged_metrics(["u1", "u2"], {"p"}, {"n"}, k=5)
    assert none.coverage == 0.0 and none.precision is None and none.ndcg is None
    with pytest.raises(ValueError):
        judged_metrics(["a"], {"a"}, {"a"}, k=1)


@given(rankings, relevant_sets, relevant_sets, st.sets(ids, max_size=4), ks)
def test_adding_unjudged_results_never_changes_judged_precision(
    ranking: list[str], pos: set[str], neg: set[str], noise: set[str], k: int
) -> None:
    neg = neg - pos
    noise = {f"U{n}" for n in noise}  # disjoint from judged ids
    base = judged_metrics(ranking, pos, neg, k)
    # The same top k with unjudged ids mixed in, and k widened by exactly that many.
    head = top_k(ranking, k)
    interleaved = [*sorted(noise)[:1], *head[:1], *sorted(noise)[1:], *head[1:]]
    wide = judged_metrics(interleaved, pos, neg, k + len(noise))
    assert 0.0 <= base.coverage <= 1.0
    assert wide.precision == base.precision
    assert wide.reciprocal_rank == base.reciprocal_rank
    assert wide.n_judged == base.n_judged


def test_field_score_and_weighted_accuracy() -> None:
    assert field_score(None, None) == 1.0
    assert field_score("PUMP", None) == 0.0 == field_score(None, "PUMP")
    assert field_score("1", 1) == 1.0
    assert field_score("PUMP-01", "PUMP-02") == pytest.approx(12 / 14)
    exp = {"location": "A1", "equipment": "PUMP", "failure_mode": "LEAK", "priority": "2"}
    assert weighted_parse_accuracy(exp, exp) == pytest.approx(1.0)
    assert weighted_parse_accuracy(exp, {}) == 0.0
    pred = {**exp, "priority": "3", "failure_mode": None}
    assert weighted_parse_accuracy(exp, pred) == pytest.approx(0.60)
    assert sum(FIELD_WEIGHTS.values()) == pytest.approx(1.0)


codes = st.one_of(st.none(), st.text(alphabet="AB-12", max_size=6))
records = st.fixed_dictionaries({f: codes for f in FIELD_WEIGHTS})


@given(records, records)
def test_weighted_accuracy_bounds(exp: dict[str, str], pred: dict[str, str]) -> None:
    score = weighted_parse_accuracy(exp, pred)
    assert 0.0 <= score <= 1.0 + 1e-12
    assert weighted_parse_accuracy(exp, exp) == pytest.approx(1.0)
    for f in FIELD_WEIGHTS:
        partial = field_score(exp[f], pred[f])
        assert (partial == 1.0) == (exp[f] == pred[f])
        assert 0.0 <= partial <= 1.0


def test_field_score_keeps_the_seed_argument_order() -> None:
    # SequenceMatcher is not symmetric; the seed compares expected against predicted.
    assert field_score("12B", "B1B") == pytest.approx(2 / 3)
    assert field_score("B1B", "12B") == pytest.approx(1 / 3)


def test_aggregate_parsing() -> None:
    exp: dict[str, str | None] = {
        "location": "A",
        "equipment": "P",
        "failure_mode": "L",
        "priority": "1",
    }
    rows: list[tuple[dict[str, str | None], dict[str, str | None], str, str]] = [
        (exp, exp, "ko", "plain"),
        (exp, {**exp, "location": None}, "en", "plain"),
        (exp, {**exp, "priority": "2"}, "en", "typo"),
    ]
    out = aggregate_parsing(rows)
    assert out["n"] == 3
    assert out["weighted_accuracy"] == pytest.approx((1.0 + 0.70 + 0.85) / 3)
    assert out["field_accuracy"] == pytest.approx(
        {"location": 2 / 3, "equipment": 1.0, "failure_mode": 1.0, "priority": 2 / 3}
    )
    assert out["field_score"]["priority"] == pytest.approx(2 / 3)  # "1" vs "2" ratio is 0
    assert out["by_language"] == pytest.approx({"ko": 1.0, "en": (0.70 + 0.85) / 2})
    assert out["by_scenario"] == pytest.approx({"plain": 0.85, "typo": 0.85})
    with pytest.raises(ValueError):
        aggregate_parsing([])


@st.composite
def recommendation(draw: st.DrawFn) -> dict[str, str | None]:
    return {
        "equipment": draw(st.sampled_from(["P", "V", None])),
        "failure_mode": draw(st.sampled_from(["L", "N"])),
        "resolution": draw(st.sampled_from(["replace seal", "교체 씰", "tighten bolt", ""])),
    }


@given(st.lists(recommendation(), max_size=6))
def test_diversity_bounds(recs: list[dict[str, str | None]]) -> None:
    value = diversity(recs)
    assert 0.0 <= value <= 1.0
    assert diversity(recs[:1]) == 0.0
    if recs:
        assert diversity([recs[0]] * 3) == 0.0


def test_diversity_examples() -> None:
    a = {"equipment": "P", "failure_mode": "L", "resolution": "Replace seal"}
    b = {"equipment": "P", "failure_mode": "N", "resolution": "replace bearing"}
    c = {"equipment": "V", "failure_mode": "X", "resolution": "펌프 교체"}
    # b vs a: failure mode differs, resolution Jaccard {replace}/{replace,seal,bearing} = 1/3.
    assert pair_dissimilarity(a, b) == pytest.approx((0 + 1 + 2 / 3) / 3)
    assert pair_dissimilarity(a, c) == 1.0
    assert diversity([a, b, c]) == pytest.approx(
        (pair_dissimilarity(a, b) + 1.0 + pair_dissimilarity(b, c)) / 3
    )


@given(st.lists(st.floats(-1, 1, allow_nan=False), min_size=1, max_size=40))
@settings(max_examples=30)
def test_permutation_identical_arrays_give_p_one(values: list[float]) -> None:
    diff, p = paired_permutation_test(values, values, n_resamples=500)
    assert diff == 0.0 and p == 1.0


@given(
    st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=30),
    st.lists(st.floats(0, 1, allow_nan=False), min_size=30, max_size=30),
)
@settings(max_examples=30)
def test_permutation_p_value_range_and_symmetry(a: list[float], b: list[float]) -> None:
    b = b[: len(a)]
    d1, p1 = paired_permutation_test(a, b, n_resamples=300, seed=3)
    d2, p2 = paired_permutation_test(b, a, n_resamples=300, seed=3)
    assert 0.0 < p1 <= 1.0
    assert d1 == pytest.approx(-d2)
    assert p1 == pytest.approx(p2)


def test_permutation_exact_and_detects_shift() -> None:
    # n = 3 all positive diffs: only the all-+ and all-- patterns are as extreme: p = 2/8.
    assert paired_permutation_test([1, 1, 1], [0, 0, 0]) == (1.0, 0.25)
    a = [0.8 + 0.01 * (i % 5) for i in range(60)]
    b = [x - 0.1 for x in a]
    diff, p = paired_permutation_test(a, b, n_resamples=2000, seed=1)
    assert diff == pytest.approx(0.1) and p < 0.01
    assert paired_permutation_test(a, b, n_resamples=2000, seed=1)[1] == p  # seeded
    with pytest.raises(ValueError):
        paired_permutation_test([1.0], [1.0, 2.0])
