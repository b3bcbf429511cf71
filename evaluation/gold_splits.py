"""Honest gold: every parse and retrieval gold set has a `dev` split (the file given, tuned on,
in-sample) and, when present beside it, a held-out `test` split (`<name>_test.jsonl`, written
without looking at the lexicon or ranker, never tuned on). Corrections made in use are a third
parse scenario, "corrected in use". Metrics of each are reported side by side."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from evaluation.datasets import load_parse_gold, load_retrieval_gold

if TYPE_CHECKING:
    from evaluation.runner import Evaluator

DEV_NOTE = "dev (in-sample: tuned on)"
TEST_NOTE = "test (held out: written blind, never tuned on)"


def test_split_of(path: Path) -> Path | None:
    """The held-out split beside a gold file, if there is one."""
    if path.stem.endswith("_test"):
        return None
    candidate = path.with_name(f"{path.stem}_test{path.suffix}")
    return candidate if candidate.exists() else None


def add_parse_splits(
    ev: Evaluator,
    gold: Path,
    config: str,
    metrics: dict[str, Any],
    details: dict[str, Any],
) -> None:
    """Score the test split and the corrections in use next to the dev split's parsing."""
    metrics["parsing"]["split"] = TEST_NOTE if gold.stem.endswith("_test") else DEV_NOTE
    test = test_split_of(gold)
    if test is not None:
        outcome = ev.parsing(load_parse_gold(test), config)
        metrics["parsing_test"] = {**outcome.metrics, "split": TEST_NOTE}
        details["parsing_test"] = outcome.rows
    corrected = corrected_in_use(ev, config)
    if corrected is not None:
        metrics["parsing_corrected"], details["parsing_corrected"] = corrected


def add_retrieval_splits(
    ev: Evaluator,
    gold: Path,
    k: int,
    config: str,
    metrics: dict[str, Any],
    details: dict[str, Any],
) -> None:
    """Score the resolution-judged test split next to the dev split's retrieval."""
    metrics["retrieval"]["split"] = TEST_NOTE if gold.stem.endswith("_test") else DEV_NOTE
    test = test_split_of(gold)
    if test is not None:
        outcome = ev.retrieval(load_retrieval_gold(test), k, config)
        metrics["retrieval_test"] = {**outcome.metrics, "split": TEST_NOTE}
        details["retrieval_test"] = outcome.rows


def corrected_in_use(
    ev: Evaluator, config: str
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """Accuracy on the fields people corrected in use (each row scores its corrected field)."""
    from agent.parsing.corrections import SCENARIO, corrected_gold

    try:
        gold = corrected_gold(ev.ctx)
    except Exception:  # no corrections table yet: nothing corrected
        return None
    if not gold:
        return None
    parsed = ev._map("parse", config, [g.text for g in gold], 0)
    rows = []
    for g, (predicted, _ms) in zip(gold, parsed, strict=True):
        got = predicted.get(g.category)
        rows.append(
            {
                "text": g.text,
                "scenario": SCENARIO,
                "field": g.category,
                "expected": g.code,
                "predicted": got,
                "hit": got == g.code,
            }
        )
    hits = sum(1 for r in rows if r["hit"])
    return {"n": len(rows), "accuracy": hits / len(rows), "scenario": SCENARIO}, rows
