"""evaluation/embedding_metrics.py: the pure measures of an embedding model, and its gold set."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from adapters.domain import CatalogEntry
from evaluation.datasets import GoldFormatError
from evaluation.embedding_metrics import (
    PAIR_KINDS,
    PAIR_LANGS,
    catalog_forms,
    clustering_metrics,
    load_similarity_pairs,
    normalization_metrics,
    retrieval_splits,
    similarity_metrics,
    spearman,
    split_of,
)


def test_split_of_is_stable_and_uses_both_splits() -> None:
    keys = [f"key {i}" for i in range(200)]
    assert [split_of(k) for k in keys] == [split_of(k) for k in keys]
    counts = Counter(split_of(k) for k in keys)
    assert set(counts) == {"dev", "test"} and min(counts.values()) > 60


def test_spearman_ranks_with_ties_and_refuses_degenerate_input() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 100]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2, 2], [1, 2, 3, 4]) == pytest.approx(0.894, abs=0.001)
    assert spearman([1, 2, 3], [5, 5, 5]) == 0.0 and spearman([1, 2], [1, 2]) is None
    with pytest.raises(ValueError):
        spearman([1, 2, 3], [1, 2])


def test_shipped_similarity_pairs_cover_every_language_and_kind_in_disjoint_splits() -> None:
    pairs = load_similarity_pairs()
    for split in ("dev", "test"):
        cells = Counter((p.lang, p.kind) for p in pairs if p.split == split)
        assert {(lang, kind) for lang in PAIR_LANGS for kind in PAIR_KINDS} <= set(cells)
        assert min(cells.values()) >= 5
    dev = {frozenset((p.a, p.b)) for p in pairs if p.split == "dev"}
    test = {frozenset((p.a, p.b)) for p in pairs if p.split == "test"}
    assert not dev & test


def test_bad_similarity_line_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    good = {"a": "x", "b": "y", "score": 3, "kind": "related", "lang": "en", "split": "dev"}
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "score": 9}) + "\n")
    with pytest.raises(GoldFormatError, match="pairs.jsonl:2"):
        load_similarity_pairs(path)


def test_similarity_metrics_per_language_and_kind() -> None:
    pairs = [p for p in load_similarity_pairs() if p.split == "dev"]
    perfect = [p.score / 5 for p in pairs]
    metrics, rows = similarity_metrics(pairs, perfect)
    assert metrics["spearman"] == pytest.approx(1.0) and len(rows) == len(pairs)
    assert set(metrics["spearman_by_lang"]) == set(PAIR_LANGS)
    m = metrics["mean_cosine"]
    assert m["paraphrase"] > m["related"] > m["unrelated"]
    inverted, _ = similarity_metrics(pairs, [-c for c in perfect])
    assert inverted["spearman"] == pytest.approx(-1.0)


def test_clustering_finds_separated_groups_and_not_noise() -> None:
    rng = np.random.default_rng(0)
    centres = np.eye(4, 16, dtype=np.float32) * 10
    labels = [f"E{i % 4}" for i in range(80)]
    vectors = np.stack([centres[i % 4] + rng.normal(0, 0.1, 16) for i in range(80)]).astype(
        np.float32
    )
    shuffled = list(rng.permutation(labels))
    out = clustering_metrics(vectors, {"equipment": labels, "failure_mode": shuffled}, seed=0)
    assert out["ari_equipment"] == pytest.approx(1.0) and out["k_equipment"] == 4
    assert abs(out["ari_failure_mode"]) < 0.2
    assert clustering_metrics(vectors, {"equipment": ["A"] * 80})["ari_equipment"] is None


def test_normalization_leaves_each_form_out_and_respects_the_threshold() -> None:
    entries = [
        CatalogEntry("failure_mode", "LEK", "누설", "leak", ("누유",), None),
        CatalogEntry("failure_mode", "VIB", "진동", "vibration", (), None),
        CatalogEntry("priority", "1", "긴급", "emergency", ("1",), None),
    ]
    forms = catalog_forms(entries)
    assert ("priority", "1", "1") not in forms and len(forms) == 7
    # leak-forms point the same way, vibration-forms another; cos(leak forms) = 0.9.
    base = {"LEK": np.array([1.0, 0, 0]), "VIB": np.array([0, 1.0, 0]), "1": np.array([0, 0, 1.0])}
    vectors = []
    for i, (_, code, _) in enumerate(forms):
        v = base[code] + np.array([0, 0, 0.48 * (i % 2)]) * (code == "LEK")
        vectors.append(v / np.linalg.norm(v))
    matrix = np.array(vectors, dtype=np.float32)
    both = {s: normalization_metrics(forms, matrix, 0.5, s) for s in ("dev", "test")}
    scored = sum(m["n"] for m in both.values())
    assert scored == 7  # every form's code has another form
    assert sum((m["accuracy"] or 0) * m["n"] for m in both.values()) == pytest.approx(7)
    strict = [normalization_metrics(forms, matrix, 0.99, s) for s in ("dev", "test")]
    assert sum((m["coverage"] or 0) * m["n"] for m in strict) == pytest.approx(6)


def test_retrieval_splits_keep_an_explicit_split(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    rows = [{"query": f"q{i}", "relevant": ["N1"]} for i in range(20)]
    rows[0]["split"] = "test"
    rows[1]["split"] = "dev"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    splits = retrieval_splits(path)
    assert "q0" in {e.query for e in splits["test"]} and "q1" in {e.query for e in splits["dev"]}
    assert sum(len(v) for v in splits.values()) == 20
