"""`pmark eval embeddings` and `pmark eval experiments` end to end on a small generic catalog."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from adapters.settings import get_settings
from evaluation.datasets import (
    retrieval_gold_from_history,
    small_catalog,
    synthesize_history,
    synthesize_parse_gold,
    write_jsonl,
)
from evaluation.embedding_view import SPLIT_METRICS, value_at

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()
ENV_KEYS = ("PMARK_DATA_DIR", "PMARK_DATABASE_URL", "MLFLOW_TRACKING_URI", "PMARK_RESEARCHER")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """A data dir holding a small catalog and history, and gold files for them."""
    from agent.context import PMark

    tmp = tmp_path_factory.mktemp("research")
    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    os.environ["PMARK_DATA_DIR"] = str(tmp / "data")
    for key in ENV_KEYS[1:]:
        os.environ.pop(key, None)
    os.environ["PMARK_RESEARCHER"] = "ada"
    get_settings.cache_clear()
    catalog = small_catalog()
    history = synthesize_history(catalog, 60, seed=4)
    ctx = PMark()
    ctx.repo.upsert_catalog(catalog)
    ctx.repo.upsert_notifications(history)
    ctx.index_notifications(history)
    yield {
        "data": tmp / "data",
        "retrieval": write_jsonl(tmp / "r.jsonl", retrieval_gold_from_history(history, 24, 1)),
        "parse": write_jsonl(tmp / "p.jsonl", synthesize_parse_gold(catalog, 12, 1)),
    }
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()


def _pmark(*args: str) -> Any:
    from bot.cli import app

    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_embeddings_json_has_every_metric_for_use_and_tfidf_on_dev_and_test(
    env: dict[str, Path],
) -> None:
    out = json.loads(
        _pmark(
            "eval", "embeddings", "--json", "--retrieval-gold", str(env["retrieval"]),
            "--experiment", "embedders", "--notes", "baseline vs USE",
        ).stdout
    )  # fmt: skip
    models = out["models"]
    assert {"use", "tfidf"} <= models.keys()
    for name in ("use", "tfidf"):
        for split in ("dev", "test"):
            for label, path in SPLIT_METRICS:
                assert value_at(models[name][split], path) is not None, (name, split, label)
            assert models[name][split]["retrieval"]["n"] > 0
            assert models[name][split]["normalization"]["threshold"] > 0
        encode = models[name]["encode"]
        assert encode["texts_per_s"] > 0 and encode["dim"] > 0 and "rss_growth_mb" in encode
    # Multilingual USE knows 누수 and "leak" mean the same; character n-grams cannot.
    use_x = models["use"]["test"]["similarity"]["spearman_by_lang"]["ko-en"]
    tfidf_x = models["tfidf"]["test"]["similarity"]["spearman_by_lang"]["ko-en"]
    assert use_x > tfidf_x
    if importlib.util.find_spec("sentence_transformers") is None:
        assert "sentence-transformers" in out["unavailable"]["st"]
    else:
        assert "st" in models or "st" in out["unavailable"]
    assert out["experiment"]["experiment"] == "embedders"


def test_embeddings_table_and_unknown_model(env: dict[str, Path]) -> None:
    from bot.cli import app

    human = _pmark(
        "eval", "embeddings", "--model", "tfidf", "--retrieval-gold", str(env["retrieval"])
    ).stdout
    assert "Spearman ko↔en (test)" in human and "texts/s" in human and "tfidf" in human
    bad = runner.invoke(app, ["eval", "embeddings", "--model", "word2vec"])
    assert bad.exit_code == 2 and "unknown embedding model" in bad.output


def test_every_eval_run_is_an_experiment_with_provenance(env: dict[str, Path]) -> None:
    run = json.loads(
        _pmark(
            "eval", "run", "--parse-gold", str(env["parse"]), "--retrieval-gold",
            str(env["retrieval"]), "--no-feedback", "--json", "--experiment", "alpha-sweep",
            "--notes", "hybrid as configured",
        ).stdout
    )  # fmt: skip
    cmp = json.loads(
        _pmark(
            "eval", "compare", "hybrid", "bm25", "--gold", str(env["retrieval"]), "--json",
            "--experiment", "alpha-sweep",
        ).stdout
    )  # fmt: skip
    listed = json.loads(_pmark("eval", "experiments", "--json").stdout)
    mine = [r for r in listed if r["experiment"] == "alpha-sweep"]
    assert [r["run_id"] for r in mine] == [cmp["run_id"], run["run_id"]]
    sha = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    full = mine[1]
    assert full["kind"] == "full" and full["researcher"] == "ada"
    assert full["code_version"].startswith(sha) and full["notes"] == "hybrid as configured"
    assert full["headline"]["retrieval.precision_at_k"] == pytest.approx(
        run["retrieval"]["precision_at_k"]
    )
    assert full["config"]["retrieval_config"] == "hybrid"
    assert "difference.ndcg_at_k" in mine[0]["headline"]
    human = _pmark("eval", "experiments", "--experiment", "alpha-sweep").stdout
    assert "experiment 'alpha-sweep': 2 run(s)" in human and "by ada" in human
    assert f"run {run['run_id']}" in human and "retrieval.precision_at_k" in human
