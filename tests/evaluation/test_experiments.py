"""evaluation/experiments.py: PMark's own experiment records, and the MLflow mirror."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.settings import Settings
from evaluation.configs import EvaluationError
from evaluation.experiments import (
    comparison_table,
    flatten,
    headline,
    list_experiments,
    record_experiment,
)


@pytest.fixture
def ctx(tmp_path: Path) -> Any:
    from agent.context import PMark

    return PMark(Settings(data_dir=tmp_path / "data", _env_file=None))  # type: ignore[call-arg]


def _stored(ctx: Any, metrics: dict[str, Any], kind: str = "full") -> int:
    run_id = int(ctx.repo.start_run("0.1.0", {"kind": kind, "k": 5, "search_alpha": 0.6}))
    ctx.repo.finish_run(run_id, metrics, {})
    return run_id


def test_flatten_and_headline_pick_numbers_by_path() -> None:
    metrics = {"retrieval": {"precision_at_k": 0.5, "n": 3, "ok": True, "x": None}, "d": 1.5}
    assert flatten(metrics) == {"retrieval.precision_at_k": 0.5, "retrieval.n": 3.0, "d": 1.5}
    assert headline("full", metrics) == {"retrieval.precision_at_k": 0.5}
    emb = {"models": {"use": {"test": {"similarity": {"spearman": 0.8}}, "dev": {}}}}
    assert headline("embeddings", emb) == {"models.use.test.similarity.spearman": 0.8}
    assert headline("mystery", {"a": {"b": 2}}) == {"a.b": 2.0}


def test_records_list_and_compare(ctx: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("PMARK_RESEARCHER", "grace")
    monkeypatch.setenv("PMARK_CODE_VERSION", "abc123")
    first = _stored(ctx, {"retrieval": {"precision_at_k": 0.4}})
    second = _stored(ctx, {"retrieval": {"precision_at_k": 0.6}})
    other = _stored(ctx, {"parsing": {"weighted_accuracy": 0.9}}, kind="parsing")
    record_experiment(ctx.repo, first, "alpha", "first try")
    filed = record_experiment(ctx.repo, second, "alpha")
    record_experiment(ctx.repo, other, "parser")
    assert filed["mlflow_run_id"] is None and filed["code_version"] == "abc123"
    rows = list_experiments(ctx.repo, "alpha")
    assert [r["run_id"] for r in rows] == [second, first]
    assert rows[1]["notes"] == "first try" and rows[1]["researcher"] == "grace"
    assert rows[0]["config"]["search_alpha"] == 0.6 and rows[0]["status"] == "ok"
    header, body = comparison_table(rows)
    assert header == ["metric", f"run {first}", f"run {second}"]
    assert body == [["retrieval.precision_at_k", "0.4000", "0.6000"]]
    assert len(list_experiments(ctx.repo)) == 3
    with pytest.raises(EvaluationError):
        record_experiment(ctx.repo, 9999, "alpha")
    with pytest.raises(EvaluationError):
        record_experiment(ctx.repo, first, "   ")


def test_logged_to_a_local_mlflow_store(
    ctx: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mlflow = pytest.importorskip("mlflow")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("PMARK_RESEARCHER", "grace")
    run_id = _stored(ctx, {"retrieval": {"precision_at_k": 0.7, "ndcg_at_k": 0.65}})
    filed = record_experiment(ctx.repo, run_id, "mlflow-check", "offline store")
    assert filed["mlflow_run_id"]
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    logged = client.get_run(filed["mlflow_run_id"])
    assert logged.data.metrics["retrieval.precision_at_k"] == pytest.approx(0.7)
    assert logged.data.params["search_alpha"] == "0.6"
    assert logged.data.tags["pmark.researcher"] == "grace"
    assert logged.data.tags["pmark.run_id"] == str(run_id)
    experiment = client.get_experiment_by_name("mlflow-check")
    assert experiment is not None and logged.info.experiment_id == experiment.experiment_id
    assert list_experiments(ctx.repo, "mlflow-check")[0]["mlflow_run_id"] == filed["mlflow_run_id"]
