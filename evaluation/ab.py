"""A/B comparisons: two configurations on the same gold set, paired per item.

Per metric: the difference A − B of the means and a paired permutation test's p-value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evaluation.configs import EvaluationError, config_task
from evaluation.datasets import file_fingerprint, load_parse_gold, load_retrieval_gold
from evaluation.metrics import PARSE_FIELDS, field_match, paired_permutation_test
from evaluation.runs import RunResult, store_run

if TYPE_CHECKING:
    from evaluation.runner import Evaluator

# Compared metrics: name in the aggregate -> per-query key in the detail rows.
RETRIEVAL_PAIRS: Mapping[str, str] = {
    "precision_at_k": "precision",
    "recall_at_k": "recall",
    "mrr": "rr",
    "ndcg_at_k": "ndcg",
}


def _key(name: str) -> Callable[[Mapping[str, Any]], float]:
    return lambda row: float(row[name])


def _field_hit(field_name: str) -> Callable[[Mapping[str, Any]], float]:
    def get(row: Mapping[str, Any]) -> float:
        hit = field_match(row["expected"].get(field_name), row["predicted"].get(field_name))
        return 1.0 if hit else 0.0

    return get


def compare(
    evaluator: Evaluator,
    a: str,
    b: str,
    *,
    parse_gold: Path | None = None,
    retrieval_gold: Path | None = None,
    k: int = 5,
    n_resamples: int = 10000,
) -> RunResult:
    """A/B: two configurations on the same set, per-metric difference (A - B) and p-value."""
    task = config_task(a)
    if config_task(b) != task:
        raise EvaluationError(f"{a!r} and {b!r} do not evaluate the same thing")
    gold = parse_gold if task == "parsing" else retrieval_gold
    if gold is None:
        raise EvaluationError(f"a {task} comparison needs a {task} gold file")
    config = evaluator.run_config("compare", k, task=task, a=a, b=b, gold=file_fingerprint(gold))

    def work() -> tuple[dict[str, Any], dict[str, Any]]:
        if task == "parsing":
            examples = load_parse_gold(gold)
            first, second = evaluator.parsing(examples, a), evaluator.parsing(examples, b)
            pairs = {"weighted_accuracy": _key("score")} | {
                f"field_accuracy.{f}": _field_hit(f) for f in PARSE_FIELDS
            }
            rows_a, rows_b = first.rows, second.rows
        else:
            examples_r = load_retrieval_gold(gold)
            first = evaluator.retrieval(examples_r, k, a)
            second = evaluator.retrieval(examples_r, k, b)
            pairs = {m: _key(key) for m, key in RETRIEVAL_PAIRS.items()}
            keep = [i for i, r in enumerate(first.rows) if r["relevant"]]
            rows_a = [first.rows[i] for i in keep]
            rows_b = [second.rows[i] for i in keep]
        difference: dict[str, float] = {}
        p_value: dict[str, float] = {}
        for metric, get in pairs.items():
            diff, p = paired_permutation_test(
                [get(r) for r in rows_a], [get(r) for r in rows_b], n_resamples
            )
            difference[metric], p_value[metric] = diff, p
        metrics = {
            "task": task,
            "a": {"name": a, "metrics": first.metrics},
            "b": {"name": b, "metrics": second.metrics},
            "difference": difference,
            "p_value": p_value,
            "n_pairs": len(rows_a),
        }
        return metrics, {"a": first.rows, "b": second.rows}

    return store_run(evaluator.ctx.repo, config, work)
