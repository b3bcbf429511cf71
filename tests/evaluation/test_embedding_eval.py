"""The TF-IDF baseline embedder, the candidate loader, and EmbeddingEvaluator on a small plant."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from adapters.embeddings.base import Embedder
from adapters.embeddings.tfidf import TfidfEmbedder
from adapters.settings import Settings
from evaluation.configs import EvaluationError
from evaluation.datasets import (
    retrieval_gold_from_history,
    small_catalog,
    synthesize_history,
    write_jsonl,
)
from evaluation.embedders import Unavailable, load_embedder
from evaluation.embedding_eval import EmbeddingEvaluator

CORPUS = [
    "펌프 누설 발생", "pump leak found", "압축기 진동 심함", "compressor vibration",
    "모터 과열", "motor overheating", "밸브 소음", "valve noise",
]  # fmt: skip


def test_tfidf_is_an_embedder_with_unit_deterministic_rows() -> None:
    emb = TfidfEmbedder(CORPUS, dim=4)
    assert isinstance(emb, Embedder) and emb.dim == 4
    vectors = emb.encode(["pump leak", "모터 과열", "pump leak"])
    assert vectors.shape == (3, 4) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors[0], vectors[2])
    assert np.array_equal(TfidfEmbedder(CORPUS, dim=4).encode(["pump leak"])[0], vectors[0])
    assert emb.encode([]).shape == (0, 4)
    # Shared character n-grams make the same words near, other words far.
    near, far = emb.encode(["pump leak found", "motor overheating"]) @ vectors[0]
    assert near > far


def test_tfidf_name_fingerprints_its_fit_and_small_corpora_stay_sparse_sized() -> None:
    assert TfidfEmbedder(CORPUS).name != TfidfEmbedder(CORPUS[:-1]).name
    small = TfidfEmbedder(CORPUS, dim=10_000)
    assert small.dim < 10_000 and small.encode(["x"]).shape == (1, small.dim)
    with pytest.raises(ValueError):
        TfidfEmbedder(["only one"])


def test_unknown_and_unavailable_candidates() -> None:
    with pytest.raises(EvaluationError):
        load_embedder("word2vec", CORPUS)
    if importlib.util.find_spec("sentence_transformers") is None:
        with pytest.raises(Unavailable, match="sentence-transformers"):
            load_embedder("st", CORPUS)
    else:
        with pytest.raises(Unavailable):
            load_embedder("st:/nonexistent/model", CORPUS)


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from agent.context import PMark

    data = tmp_path_factory.mktemp("emb")
    ctx = PMark(Settings(data_dir=data, _env_file=None))  # type: ignore[call-arg]
    catalog = small_catalog()
    history = synthesize_history(catalog, 90, seed=7)
    ctx.repo.upsert_catalog(catalog)
    ctx.repo.upsert_notifications(history)
    gold = write_jsonl(data / "r.jsonl", retrieval_gold_from_history(history, 30, seed=2))
    return ctx, gold


def test_evaluator_stores_every_metric_per_split_and_lists_unavailable(plant: Any) -> None:
    ctx, gold = plant
    evaluator = EmbeddingEvaluator(ctx, k=5, retrieval_gold=gold, cluster_limit=40)
    result = evaluator.run(["tfidf", "st:/nonexistent/model"])
    tfidf = result.metrics["models"]["tfidf"]
    assert tfidf["name"].startswith("tfidf-char2-4")
    assert "st:/nonexistent/model" in result.metrics["unavailable"]
    for split in ("dev", "test"):
        m = tfidf[split]
        assert -1.0 <= m["similarity"]["spearman"] <= 1.0
        assert set(m["similarity"]["spearman_by_lang"]) == {"ko", "en", "ko-en"}
        assert m["retrieval"]["n"] > 0 and 0.0 <= m["retrieval"]["ndcg_at_k"] <= 1.0
        assert m["clustering"]["n"] <= 40 and m["clustering"]["ari_equipment"] is not None
        assert m["normalization"]["n"] > 0 and m["normalization"]["threshold"] == pytest.approx(
            ctx.settings.normalize_threshold
        )
    # Synthesized notifications are written from catalog names: their own codes cluster them.
    assert tfidf["test"]["clustering"]["ari_equipment"] > 0.2
    # The configured index is untouched by the candidate's own in-memory index.
    assert ctx.__dict__.get("index") is None or ctx.index.dim == ctx.embedder.dim
    row = {r["id"]: r for r in _runs(ctx)}[result.run_id]
    assert row["status"] == "ok" and row["config"]["kind"] == "embeddings"
    assert row["config"]["models"] == ["tfidf", "st:/nonexistent/model"]


def _runs(ctx: Any) -> list[dict[str, Any]]:
    from evaluation.runs import run_summaries

    return run_summaries(ctx.repo)


def test_retrieval_is_what_pmark_search_returns_for_the_configured_model(
    plant: Any, tmp_path: Path
) -> None:
    """For the configured embedder the evaluation searches the context itself."""
    ctx, gold = plant
    ctx.index_notifications([n for b in ctx.repo.iter_notifications() for n in b])
    evaluator = EmbeddingEvaluator(ctx, k=5, retrieval_gold=gold)
    assert evaluator._search_view(ctx.embedder) is ctx


def test_without_a_retrieval_gold_set_retrieval_is_reported_empty(plant: Any) -> None:
    ctx, _ = plant
    result = EmbeddingEvaluator(ctx, retrieval_gold=None, cluster_limit=20).run(["tfidf"])
    tfidf = result.metrics["models"]["tfidf"]
    assert tfidf["test"]["retrieval"] == {"k": 5, "n": 0}
    assert tfidf["test"]["similarity"]["n"] > 0
