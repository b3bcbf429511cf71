"""`pmark eval …`: gold-set evaluations, A/B comparisons and the digest (a typer sub-app)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

from evaluation.configs import EvaluationError, config_task
from evaluation.datasets import DEFAULT_PARSE_GOLD, DEFAULT_RETRIEVAL_GOLD, GoldFormatError
from evaluation.digest_delivery import build_digest, digest_payload, digest_targets, send_digest
from evaluation.experiments import DEFAULT_EXPERIMENT, record_experiment
from evaluation.quantiles import live_node_latency
from evaluation.runner import Evaluator
from evaluation.runs import RunResult
from evaluation.workers import ProgressFn

if TYPE_CHECKING:
    from agent.context import PMark

eval_app = typer.Typer(
    help="How good PMark is: gold sets, A/B comparisons, the digest.", no_args_is_help=True
)
err = Console(stderr=True)

GoldOpt = Annotated[
    Path, typer.Option("--gold", exists=True, dir_okay=False, help="Gold set (JSONL).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the metrics as one JSON object.")]
KOpt = Annotated[int, typer.Option("--k", min=1, max=100, help="Cut-off of the ranking metrics.")]
ExperimentOpt = Annotated[
    str, typer.Option("--experiment", help="File the run under this experiment name.")
]
NotesOpt = Annotated[str, typer.Option("--notes", help="Why this run: kept with the experiment.")]
WorkersOpt = Annotated[
    int,
    typer.Option("--workers", min=0, help="Parallel worker processes (0 = one per core, max 4)."),
]


def _context() -> PMark:
    from agent.context import PMark

    return PMark()


def _workers(requested: int) -> int:
    return requested if requested > 0 else max(1, min(4, os.cpu_count() or 1))


@contextmanager
def _progress() -> Iterator[ProgressFn]:
    """A rich progress bar per stage on stderr; silent when stderr is not a terminal."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not err.is_terminal,
    )
    tasks: dict[str, TaskID] = {}

    def step(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    with progress:
        yield step


def _evaluate(
    workers: int, action: str, experiment: str, notes: str, **kwargs: Any
) -> tuple[RunResult, dict[str, Any]]:
    """Run and store an evaluation, then file it as an experiment (evaluation/experiments.py)."""
    ctx = _context()
    try:
        with _progress() as step:
            evaluator = Evaluator(ctx, workers=_workers(workers), progress=step)
            if action == "compare":
                result = evaluator.compare(**kwargs)
            else:
                result = evaluator.run(**kwargs)
        return result, record_experiment(ctx.repo, result.run_id, experiment, notes)
    except (GoldFormatError, EvaluationError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None


def _filed(filed: dict[str, Any]) -> str:
    mirror = f", MLflow run {filed['mlflow_run_id']}" if filed.get("mlflow_run_id") else ""
    return f"experiment {filed['experiment']!r} ({filed['code_version']}{mirror})"


def _echo_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, default=str))


def _pct(value: Any) -> str:
    return f"{value * 100:.1f}%" if isinstance(value, int | float) else "–"


def _print_parsing(m: dict[str, Any], name: str = "parsing") -> None:
    fields = ", ".join(f"{f} {_pct(v)}" for f, v in m["field_accuracy"].items())
    split = f" [{m['split']}]" if m.get("split") else ""
    typer.echo(
        f"{name}{split}: {m['n']} sentences, weighted accuracy {_pct(m['weighted_accuracy'])}"
    )
    typer.echo(f"  exact match by field: {fields}")
    if m.get("by_language"):
        langs = ", ".join(f"{k} {_pct(v)}" for k, v in m["by_language"].items())
        typer.echo(f"  by language: {langs}")


def _print_splits(metrics: dict[str, Any]) -> None:
    """The held-out test splits and the corrections in use, after the dev split (issue 15)."""
    if "parsing_test" in metrics:
        _print_parsing(metrics["parsing_test"], "parsing")
    if "parsing_corrected" in metrics:
        c = metrics["parsing_corrected"]
        typer.echo(f"parsing [{c['scenario']}]: {c['n']} corrected fields, {_pct(c['accuracy'])}")
    if "retrieval_test" in metrics:
        _print_retrieval(metrics["retrieval_test"], "retrieval")


def _print_retrieval(m: dict[str, Any], name: str = "retrieval") -> None:
    k = m["k"]
    split = f" [{m['split']}]" if m.get("split") else ""
    typer.echo(
        f"{name}{split}: {m['n']} queries ({m['n_skipped']} without relevant items skipped): "
        f"P@{k} {_pct(m['precision_at_k'])}, Recall@{k} {_pct(m['recall_at_k'])}, "
        f"MRR@{k} {_pct(m['mrr'])}, nDCG@{k} {_pct(m['ndcg_at_k'])}, "
        f"hit rate {_pct(m['hit_rate'])}"
    )


def _print_feedback(m: dict[str, Any]) -> None:
    typer.echo(
        f"feedback: {m['up']} 👍 / {m['down']} 👎; {m['n_judged_queries']} of {m['n_queries']} "
        f"judged queries; judged precision {_pct(m['precision'])}, "
        f"coverage {_pct(m['coverage'])}"
    )


@eval_app.command("parsing")
def parsing_cmd(
    gold: GoldOpt,
    as_json: JsonOpt = False,
    config: Annotated[str, typer.Option("--config", help="vectors | novectors")] = "vectors",
    workers: WorkersOpt = 0,
    experiment: ExperimentOpt = DEFAULT_EXPERIMENT,
    notes: NotesOpt = "",
) -> None:
    """Parsing accuracy on a gold set (stored as a run)."""
    result, filed = _evaluate(
        workers,
        "run",
        experiment,
        notes,
        parse_gold=gold,
        retrieval_gold=None,
        kind="parsing",
        feedback=False,
        parse_config=config,
    )
    metrics = result.metrics["parsing"]
    if as_json:
        _echo_json({**metrics, "run_id": result.run_id, "config": config, "experiment": filed})
    else:
        _print_parsing(metrics)
        _print_splits(result.metrics)
        typer.echo(f"stored as run {result.run_id}, {_filed(filed)}")


@eval_app.command("retrieval")
def retrieval_cmd(
    gold: GoldOpt,
    k: KOpt = 5,
    as_json: JsonOpt = False,
    config: Annotated[
        str, typer.Option("--config", help="hybrid | bm25 | vector | prototype | alpha=X")
    ] = "hybrid",
    workers: WorkersOpt = 0,
    experiment: ExperimentOpt = DEFAULT_EXPERIMENT,
    notes: NotesOpt = "",
) -> None:
    """Precision/Recall@k, MRR and nDCG of what `pmark search` returns (stored as a run)."""
    result, filed = _evaluate(
        workers,
        "run",
        experiment,
        notes,
        parse_gold=None,
        retrieval_gold=gold,
        k=k,
        kind="retrieval",
        feedback=False,
        retrieval_config=config,
    )
    metrics = result.metrics["retrieval"]
    if as_json:
        _echo_json({**metrics, "run_id": result.run_id, "config": config, "experiment": filed})
    else:
        _print_retrieval(metrics)
        _print_splits(result.metrics)
        typer.echo(f"stored as run {result.run_id}, {_filed(filed)}")


@eval_app.command("run")
def run_cmd(
    parse_gold: Annotated[
        Path, typer.Option("--parse-gold", exists=True, dir_okay=False, help="Parse gold set.")
    ] = DEFAULT_PARSE_GOLD,
    retrieval_gold: Annotated[
        Path,
        typer.Option("--retrieval-gold", exists=True, dir_okay=False, help="Retrieval gold set."),
    ] = DEFAULT_RETRIEVAL_GOLD,
    k: KOpt = 5,
    as_json: JsonOpt = False,
    feedback: Annotated[
        bool, typer.Option("--feedback/--no-feedback", help="Also score supervisors' thumbs.")
    ] = True,
    workers: WorkersOpt = 0,
    experiment: ExperimentOpt = DEFAULT_EXPERIMENT,
    notes: NotesOpt = "",
) -> None:
    """Everything: parsing, retrieval and supervisors' thumbs; stored as a full run."""
    result, filed = _evaluate(
        workers,
        "run",
        experiment,
        notes,
        parse_gold=parse_gold,
        retrieval_gold=retrieval_gold,
        k=k,
        feedback=feedback,
    )
    if as_json:
        _echo_json({"run_id": result.run_id, **result.metrics, "experiment": filed})
        return
    _print_parsing(result.metrics["parsing"])
    _print_retrieval(result.metrics["retrieval"])
    _print_splits(result.metrics)
    if "feedback" in result.metrics:
        _print_feedback(result.metrics["feedback"])
    typer.echo(
        f"stored as run {result.run_id} ({result.metrics['duration_s']:.1f} s), {_filed(filed)}"
    )


@eval_app.command("compare")
def compare_cmd(
    a: Annotated[str, typer.Argument(help="Configuration A (e.g. hybrid, vectors).")],
    b: Annotated[str, typer.Argument(help="Configuration B (e.g. bm25, novectors, prototype).")],
    gold: Annotated[
        Path | None,
        typer.Option("--gold", exists=True, dir_okay=False, help="Gold set (default per task)."),
    ] = None,
    k: KOpt = 5,
    as_json: JsonOpt = False,
    workers: WorkersOpt = 0,
    experiment: ExperimentOpt = DEFAULT_EXPERIMENT,
    notes: NotesOpt = "",
) -> None:
    """A/B: two configurations on the same set, difference A − B and a paired permutation test."""
    try:
        task = config_task(a)
    except EvaluationError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    default = DEFAULT_PARSE_GOLD if task == "parsing" else DEFAULT_RETRIEVAL_GOLD
    path = gold or default
    kwargs: dict[str, Any] = {"k": k}
    kwargs["parse_gold" if task == "parsing" else "retrieval_gold"] = path
    result, filed = _evaluate(workers, "compare", experiment, notes, a=a, b=b, **kwargs)
    m = result.metrics
    if as_json:
        _echo_json({"run_id": result.run_id, **m, "experiment": filed})
        return
    typer.echo(f"{task}: {a} (A) vs {b} (B) on {m['n_pairs']} paired items")
    for name, diff in m["difference"].items():
        va = _lookup(m["a"]["metrics"], name)
        vb = _lookup(m["b"]["metrics"], name)
        p = m["p_value"][name]
        mark = " *" if p < 0.05 else ""
        typer.echo(
            f"  {name:<28} A {_pct(va):>7}  B {_pct(vb):>7}  A−B {diff * 100:+6.1f}pp  "
            f"p={p:.4f}{mark}"
        )
    typer.echo(f"stored as run {result.run_id}, {_filed(filed)}  (* p < 0.05)")


def _lookup(metrics: dict[str, Any], dotted: str) -> Any:
    node: Any = metrics
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


@eval_app.command("digest")
def digest_cmd(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print {teams, slack} JSON instead of posting.")
    ] = False,
    language: Annotated[str, typer.Option("--language", help="ko | en | both")] = "both",
) -> None:
    """The evaluation digest from the stored runs, posted to Teams/Slack (or printed)."""
    if language not in ("ko", "en", "both"):
        err.print("[red]error:[/] --language must be ko, en or both")
        raise typer.Exit(2)
    ctx = _context()
    digest = build_digest(ctx.repo, language=language, latency=live_node_latency())  # type: ignore[arg-type]
    if dry_run:
        typer.echo(json.dumps(digest_payload(digest), ensure_ascii=False, indent=2))
        return
    if not digest_targets(ctx.settings):
        err.print(
            "[red]error:[/] no digest target configured "
            "(PMARK_DIGEST_TEAMS_CONVERSATIONS / PMARK_DIGEST_SLACK_CHANNELS); use --dry-run"
        )
        raise typer.Exit(1)
    posted, targets = asyncio.run(send_digest(ctx, digest))
    typer.echo(f"digest posted to {posted} of {targets} targets")
    if posted < targets:
        raise typer.Exit(1)


# Research commands (evaluation/research_cli.py): embedding models and experiments.
from evaluation.research_cli import embeddings_cmd, experiments_cmd  # noqa: E402

eval_app.command("embeddings")(embeddings_cmd)
eval_app.command("experiments")(experiments_cmd)
