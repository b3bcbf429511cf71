"""The graph's stages run their steps in order, as the graph's own edges would."""

from __future__ import annotations

from typing import Any

from agent.graph import _answer, _understand


def _step(name: str, calls: list[str], update: dict[str, Any] | None = None) -> Any:
    async def run(state: dict[str, Any]) -> dict[str, Any]:
        calls.append(name)
        out = dict(update(state) if callable(update) else (update or {}))
        out["timings"] = {name: 1.0}
        return out

    return run


async def test_understand_stops_after_validate_for_a_followup() -> None:
    calls: list[str] = []
    stage = _understand(
        _step("validate", calls, {"intent": "followup"}),
        _step("parse", calls),
        _step("normalize", calls),
    )
    out = await stage({"user_input": "2번"})
    assert calls == ["validate"] and out["intent"] == "followup"


async def test_understand_runs_all_three_for_a_report_and_merges_timings() -> None:
    calls: list[str] = []
    stage = _understand(
        _step("validate", calls, {"intent": "report"}),
        _step("parse", calls, {"parsed": {"equipment": "P"}}),
        _step("normalize", calls, lambda s: {"notification": dict(s["parsed"])}),
    )
    out = await stage({"timings": {"before": 2.0}})
    assert calls == ["validate", "parse", "normalize"]
    assert out["notification"] == {"equipment": "P"}  # each step sees the ones before it
    assert set(out["timings"]) == {"validate", "parse", "normalize"}


async def test_a_failed_step_ends_the_stage_with_its_error() -> None:
    calls: list[str] = []
    stage = _answer(
        _step("retrieve", calls, {"errors": ["retrieve: OSError"]}),
        _step("recommend", calls),
        _step("respond", calls),
        _step("quality_check", calls),
    )
    out = await stage({"errors": []})
    assert calls == ["retrieve"] and out["errors"] == ["retrieve: OSError"]


async def test_answer_loops_back_once_when_quality_asks() -> None:
    calls: list[str] = []

    def quality(state: dict[str, Any]) -> dict[str, Any]:
        retries = state.get("retries", 0)
        return {"retry": retries < 1, "retries": retries + (retries < 1)}

    stage = _answer(
        _step("retrieve", calls),
        _step("recommend", calls),
        _step("respond", calls),
        _step("quality_check", calls, quality),
    )
    out = await stage({})
    assert calls == ["retrieve", "recommend", "respond", "quality_check"] * 2
    assert out["retries"] == 1 and out["retry"] is False
