"""Corrections become knowledge: stored with who made them, taught at once, scored nightly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters.settings import Settings
from agent.parsing.corrections import (
    SCENARIO,
    CorrectionError,
    corrected_gold,
    learn_new_corrections,
    record_correction,
)
from tests.parsing.test_history import ENTRIES

TEXT = "pump blorked up again"


def _ctx(data: Path) -> Any:
    from agent.context import PMark

    return PMark(Settings(data_dir=data, _env_file=None))  # type: ignore[call-arg]


@pytest.fixture
def ctx(tmp_path: Path) -> Any:
    pm = _ctx(tmp_path)
    pm.repo.upsert_catalog(ENTRIES)
    return pm


def test_a_correction_changes_the_next_parse_now_and_after_a_restart(
    ctx: Any, tmp_path: Path
) -> None:
    before = ctx.parser.parse(TEXT).code("failure_mode")
    assert before != "F-PLG"
    record_correction(ctx, "supervisor-7", "failure_mode", TEXT, before, "F-PLG")
    assert ctx.parser.parse(TEXT).code("failure_mode") == "F-PLG"
    stored = ctx.corrections.all()
    assert [(c.user_id, c.category, c.old_code, c.new_code) for c in stored] == [
        ("supervisor-7", "failure_mode", before, "F-PLG")
    ]
    restarted = _ctx(tmp_path)
    assert restarted.parser.parse(TEXT).code("failure_mode") == "F-PLG"


def test_a_correction_to_a_code_outside_the_catalog_is_refused(ctx: Any) -> None:
    with pytest.raises(CorrectionError):
        record_correction(ctx, "u", "failure_mode", TEXT, None, "NOPE")
    with pytest.raises(CorrectionError):
        record_correction(ctx, "u", "colour", TEXT, None, "F-PLG")
    assert ctx.corrections.all() == []


def test_corrections_join_the_next_evaluations_parse_gold(ctx: Any, tmp_path: Path) -> None:
    from evaluation.runner import Evaluator

    record_correction(ctx, "sup", "equipment", TEXT, "E-PMP", "E-TNK")
    record_correction(ctx, "sup", "equipment", TEXT, "E-TNK", "E-VLV")  # the later one counts
    assert [(g.text, g.category, g.code) for g in corrected_gold(ctx)] == [
        (TEXT, "equipment", "E-VLV")
    ]
    gold = tmp_path / "parse_gold.jsonl"
    gold.write_text(
        json.dumps({"text": "펌프 과열", "expected": {"equipment": "E-PMP"}}) + "\n",
        encoding="utf-8",
    )
    result = Evaluator(ctx).run(gold, None, feedback=False, parse_config="novectors")
    corrected = result.metrics["parsing_corrected"]
    assert corrected["n"] == 1 and corrected["scenario"] == SCENARIO
    assert corrected["accuracy"] == 1.0
    row = result.details["parsing_corrected"][0]
    assert (row["text"], row["field"], row["expected"]) == (TEXT, "equipment", "E-VLV")
    assert result.metrics["parsing"]["split"].startswith("dev")


def test_a_correction_made_through_another_worker_reaches_this_parser_once(
    ctx: Any, tmp_path: Path
) -> None:
    """Two workers on one database: each has its own parser, built before the correction."""
    other = _ctx(tmp_path)
    before = ctx.parser.parse(TEXT).code("failure_mode")
    assert other.parser.parse(TEXT).code("failure_mode") == before != "F-PLG"
    assert learn_new_corrections(ctx) == 0
    record_correction(other, "supervisor-7", "failure_mode", TEXT, before, "F-PLG")
    assert ctx.parser.parse(TEXT).code("failure_mode") == before  # not seen yet
    assert learn_new_corrections(ctx) == 1
    assert ctx.parser.parse(TEXT).code("failure_mode") == "F-PLG"
    # Read again (the tail is re-read on every sync) or by the worker that made it: no repeat.
    examples = ctx.parser.history.examples
    assert learn_new_corrections(ctx) == 0
    assert learn_new_corrections(other) == 0
    assert ctx.parser.history.examples == examples
