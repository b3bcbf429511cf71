"""`pmark eval …` agrees with `pmark search --json` / `pmark parse --json`, computed apart."""

from __future__ import annotations

import json
import os
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

runner = CliRunner()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """A data dir with a small catalog and history loaded through the CLI, and gold files."""
    from bot.cli import app

    tmp = tmp_path_factory.mktemp("cli")
    saved = {k: os.environ.get(k) for k in ("PMARK_DATA_DIR", "PMARK_DATABASE_URL")}
    os.environ["PMARK_DATA_DIR"] = str(tmp / "data")
    os.environ.pop("PMARK_DATABASE_URL", None)
    get_settings.cache_clear()
    catalog = small_catalog()
    history = synthesize_history(catalog, 70, seed=11)
    catalog_csv = tmp / "catalog.csv"
    catalog_csv.write_text(
        "category,code,name_ko,name_en,synonyms,parent\n"
        + "".join(
            f"{e.category},{e.code},{e.name_ko},{e.name_en},"
            f"{'|'.join(e.synonyms)},{e.parent or ''}\n"
            for e in catalog
        ),
        encoding="utf-8",
    )
    history_csv = tmp / "history.csv"
    history_csv.write_text(
        "itemno,created_at,location,equipment,failure_mode,priority,title,details,resolution\n"
        + "".join(
            f"{n.itemno},{n.created_at.isoformat()},{n.location},{n.equipment},{n.failure_mode},"
            f'{n.priority},"{n.title}","{n.details}","{n.resolution}"\n'
            for n in history
        ),
        encoding="utf-8",
    )
    assert runner.invoke(app, ["catalog", "import", str(catalog_csv)]).exit_code == 0
    result = runner.invoke(app, ["notifications", "import", str(history_csv)])
    assert result.exit_code == 0, result.output
    paths = {
        "retrieval": write_jsonl(
            tmp / "retrieval.jsonl", retrieval_gold_from_history(history, 20, 2)
        ),
        "parse": write_jsonl(tmp / "parse.jsonl", synthesize_parse_gold(catalog, 25, 2)),
    }
    yield paths
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()


def _pmark(*args: str, stdin: str | None = None) -> Any:
    from bot.cli import app

    result = runner.invoke(app, list(args), input=stdin)
    assert result.exit_code == 0, result.output
    return result


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def test_eval_retrieval_precision_matches_pmark_search(env: dict[str, Path]) -> None:
    gold = _jsonl(env["retrieval"])
    metrics = json.loads(
        _pmark("eval", "retrieval", "--gold", str(env["retrieval"]), "--k", "5", "--json").stdout
    )
    assert {"n", "precision_at_k", "recall_at_k", "mrr", "ndcg_at_k"} <= metrics.keys()
    out = _pmark(
        "search", "-", "--k", "5", "--json", stdin="\n".join(g["query"] for g in gold) + "\n"
    ).stdout
    searched = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert [s["query"] for s in searched] == [g["query"] for g in gold]
    precisions = []
    for g, s in zip(gold, searched, strict=True):
        top = [r["itemno"] for r in s["results"]][:5]
        precisions.append(sum(1 for i in top if i in set(g["relevant"])) / 5)
    assert metrics["n"] == len(gold)
    assert metrics["precision_at_k"] == pytest.approx(sum(precisions) / len(precisions), abs=0.001)


def test_eval_parsing_matches_pmark_parse(env: dict[str, Path]) -> None:
    gold = _jsonl(env["parse"])
    metrics = json.loads(_pmark("eval", "parsing", "--gold", str(env["parse"]), "--json").stdout)
    assert {"n", "weighted_accuracy", "field_accuracy"} <= metrics.keys()
    out = _pmark("parse", "-", "--json", stdin="\n".join(g["text"] for g in gold) + "\n").stdout
    parsed = [json.loads(line) for line in out.splitlines() if line.strip()]
    fields = ("location", "equipment", "failure_mode", "priority")
    for f in fields:
        hits = sum(1 for g, p in zip(gold, parsed, strict=True) if g["expected"][f] == p[f])
        assert metrics["field_accuracy"][f] == pytest.approx(hits / len(gold), abs=0.001), f
    assert metrics["n"] == len(gold)


def test_eval_run_compare_and_digest(env: dict[str, Path]) -> None:
    full = json.loads(
        _pmark(
            "eval",
            "run",
            "--parse-gold",
            str(env["parse"]),
            "--retrieval-gold",
            str(env["retrieval"]),
            "--json",
        ).stdout
    )
    assert {"parsing", "retrieval", "feedback", "perf", "run_id"} <= full.keys()
    human = _pmark("eval", "compare", "hybrid", "bm25", "--gold", str(env["retrieval"])).stdout
    assert "hybrid (A) vs bm25 (B)" in human and "p=" in human
    cmp = json.loads(
        _pmark(
            "eval", "compare", "vectors", "novectors", "--gold", str(env["parse"]), "--json"
        ).stdout
    )
    assert cmp["task"] == "parsing" and "weighted_accuracy" in cmp["p_value"]
    payload = json.loads(_pmark("eval", "digest", "--dry-run", "--language", "en").stdout)
    assert payload["teams"]["type"] == "AdaptiveCard"
    assert payload["slack"][0]["type"] == "header"
    assert f"#{full['run_id']}" in json.dumps(payload["teams"], ensure_ascii=False)


def test_eval_errors_exit_2(env: dict[str, Path], tmp_path: Path) -> None:
    from bot.cli import app

    result = runner.invoke(
        app, ["eval", "compare", "hybrid", "nonsense", "--gold", str(env["retrieval"])]
    )
    assert result.exit_code == 2 and "unknown configuration" in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x"}\n', encoding="utf-8")
    result = runner.invoke(app, ["eval", "parsing", "--gold", str(bad)])
    assert result.exit_code == 2 and "bad.jsonl:1" in result.output
