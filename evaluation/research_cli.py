"""`pmark eval embeddings` and `pmark eval experiments` (registered on the eval sub-app)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from evaluation.configs import EvaluationError
from evaluation.datasets import DEFAULT_RETRIEVAL_GOLD, GoldFormatError
from evaluation.embedders import DEFAULT_MODELS
from evaluation.embedding_metrics import DEFAULT_SIMILARITY_GOLD, SPLITS
from evaluation.embedding_view import ENCODE_METRICS, SPLIT_METRICS, value_at
from evaluation.experiments import (
    DEFAULT_EXPERIMENT,
    comparison_table,
    list_experiments,
    record_experiment,
)

err = Console(stderr=True)


def _echo_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, default=str))


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())


def embeddings_cmd(
    models: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            help="use | tfidf | st | st:<model dir>; repeat for several (default: all three).",
        ),
    ] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="Retrieval cut-off.")] = 5,
    similarity_gold: Annotated[
        Path, typer.Option("--similarity-gold", exists=True, dir_okay=False)
    ] = DEFAULT_SIMILARITY_GOLD,
    retrieval_gold: Annotated[
        Path, typer.Option("--retrieval-gold", exists=True, dir_okay=False)
    ] = DEFAULT_RETRIEVAL_GOLD,
    seed: Annotated[int, typer.Option("--seed", help="Seed of samples and k-means.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    experiment: Annotated[
        str, typer.Option("--experiment", help="File the run under this experiment name.")
    ] = DEFAULT_EXPERIMENT,
    notes: Annotated[str, typer.Option("--notes", help="Why this run.")] = "",
) -> None:
    """Embedding models side by side on dev and test: similarity, retrieval, clustering,
    normalization, encode speed and memory (stored as a run, filed as an experiment)."""
    from agent.context import PMark
    from evaluation.embedding_eval import EmbeddingEvaluator

    ctx = PMark()
    try:
        evaluator = EmbeddingEvaluator(
            ctx, k=k, seed=seed, similarity_gold=similarity_gold, retrieval_gold=retrieval_gold
        )
        result = evaluator.run(models or list(DEFAULT_MODELS))
        filed = record_experiment(ctx.repo, result.run_id, experiment, notes)
    except (GoldFormatError, EvaluationError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    m = result.metrics
    if as_json:
        _echo_json({"run_id": result.run_id, **m, "experiment": filed})
        return
    names = list(m["models"])
    rows = []
    for split in SPLITS:
        for label, path in SPLIT_METRICS:
            label_k = label.replace("@k", f"@{k}")
            rows.append(
                [f"{label_k} ({split})"]
                + [_cell(value_at(m["models"][n].get(split), path)) for n in names]
            )
    for label, key in ENCODE_METRICS:
        rows.append([label] + [_cell(value_at(m["models"][n]["encode"], (key,))) for n in names])
    if names:
        _table(["metric", *names], rows)
    for spec, reason in m["unavailable"].items():
        typer.echo(f"{spec}: not evaluated ({reason})")
    typer.echo(f"stored as run {result.run_id}, experiment {filed['experiment']!r}")


def experiments_cmd(
    experiment: Annotated[
        str | None, typer.Option("--experiment", help="Only this experiment.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest filed runs to read.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
) -> None:
    """Experiments and their runs: configuration, headline metrics, code version, who, notes;
    each experiment's runs compared side by side."""
    from agent.context import PMark

    rows = list_experiments(PMark().repo, experiment, limit)
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        typer.echo("no experiment yet: run `pmark eval run --experiment NAME`")
        return
    by_name: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_name.setdefault(row["experiment"], []).append(row)
    for name, runs in by_name.items():
        typer.echo(f"experiment {name!r}: {len(runs)} run(s)")
        for r in sorted(runs, key=lambda r: r["run_id"]):
            mirror = f" mlflow={r['mlflow_run_id']}" if r.get("mlflow_run_id") else ""
            typer.echo(
                f"  run {r['run_id']} {r['kind']} {r['status']} {r['created_at']} "
                f"by {r['researcher']} at {r['code_version']}{mirror}"
                + (f" — {r['notes']}" if r["notes"] else "")
            )
        header, body = comparison_table(runs)
        if body:
            _table(header, body)
        typer.echo("")
