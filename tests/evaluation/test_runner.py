"""The evaluation runner on a small generated catalog and history (SQLite, embedded index)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.settings import Settings
from adapters.sql.repository import FeedbackRecord, utcnow
from evaluation.datasets import (
    GoldFormatError,
    RetrievalExample,
    load_parse_gold,
    load_retrieval_gold,
    retrieval_gold_from_history,
    small_catalog,
    synthesize_history,
    synthesize_parse_gold,
    write_jsonl,
)
from evaluation.metrics import aggregate_parsing, aggregate_retrieval
from evaluation.runner import (
    EvaluationError,
    Evaluator,
    build_digest,
    histogram_quantile,
    run_perf_alerts,
    worst_queries,
)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from agent.context import PMark

    data = tmp_path_factory.mktemp("pmark")
    pm = PMark(Settings(data_dir=data, _env_file=None))  # type: ignore[call-arg]
    catalog = small_catalog()
    pm.repo.upsert_catalog(catalog)
    history = synthesize_history(catalog, 80, seed=3)
    pm.repo.upsert_notifications(history)
    pm.index_notifications(history)
    pm.history = history  # type: ignore[attr-defined]
    return pm


@pytest.fixture(scope="module")
def gold(ctx: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("gold")
    parse = synthesize_parse_gold(ctx.catalog(), 30, seed=5)
    retrieval = retrieval_gold_from_history(ctx.history, 25, seed=5)
    retrieval.append(RetrievalExample("nothing relevant here", ()))
    return {
        "parse": write_jsonl(out / "parse_gold.jsonl", parse),
        "retrieval": write_jsonl(out / "retrieval_gold.jsonl", retrieval),
    }


def test_retrieval_is_what_search_returns(ctx: Any, gold: dict[str, Path]) -> None:
    from agent.recommend.service import search_texts

    examples = load_retrieval_gold(gold["retrieval"])
    outcome = Evaluator(ctx).retrieval(examples, k=5)
    searched = {
        q: [r.itemno for r in recs] for q, recs in search_texts(ctx, [e.query for e in examples], 5)
    }
    expected = aggregate_retrieval(((searched[e.query], e.relevant) for e in examples), 5)
    for key in ("n", "n_skipped", "precision_at_k", "recall_at_k", "mrr", "ndcg_at_k"):
        assert outcome.metrics[key] == pytest.approx(expected[key], abs=1e-9), key
    assert outcome.metrics["n_skipped"] == 1
    assert [r["retrieved"] for r in outcome.rows] == [searched[e.query] for e in examples]
    assert outcome.metrics["precision_at_k"] > 0.2


def test_bm25_configuration_is_search_with_alpha_zero(ctx: Any, gold: dict[str, Path]) -> None:
    from agent.context import PMark
    from agent.recommend.service import search_texts

    examples = load_retrieval_gold(gold["retrieval"])[:8]
    outcome = Evaluator(ctx).retrieval(examples, k=5, config="bm25")
    other = PMark(ctx.settings.model_copy(update={"search_alpha": 0.0}))
    searched = [
        [r.itemno for r in recs] for _, recs in search_texts(other, [e.query for e in examples], 5)
    ]
    assert [r["retrieved"] for r in outcome.rows] == searched


def test_parsing_is_what_parse_returns(ctx: Any, gold: dict[str, Path]) -> None:
    from agent.parsing.service import parse_texts

    examples = load_parse_gold(gold["parse"])
    outcome = Evaluator(ctx).parsing(examples)
    parsed = list(parse_texts(ctx, [e.text for e in examples]))
    expected = aggregate_parsing(
        (e.expected, p, e.lang, e.scenario) for e, p in zip(examples, parsed, strict=True)
    )
    assert outcome.metrics["weighted_accuracy"] == pytest.approx(expected["weighted_accuracy"])
    assert outcome.metrics["field_accuracy"] == pytest.approx(expected["field_accuracy"])
    assert outcome.metrics["by_language"].keys() == {"ko", "en"}


def test_forked_workers_give_the_same_results(ctx: Any, gold: dict[str, Path]) -> None:
    examples = load_retrieval_gold(gold["retrieval"])
    one = Evaluator(ctx, workers=1).retrieval(examples, 5)
    two = Evaluator(ctx, workers=2).retrieval(examples, 5)
    assert [r["retrieved"] for r in one.rows] == [r["retrieved"] for r in two.rows]
    parse = load_parse_gold(gold["parse"])
    assert [r["predicted"] for r in Evaluator(ctx, workers=1).parsing(parse).rows] == [
        r["predicted"] for r in Evaluator(ctx, workers=2).parsing(parse).rows
    ]


def test_full_run_is_stored_with_config_metrics_and_details(
    ctx: Any, gold: dict[str, Path]
) -> None:
    seen: list[tuple[str, int, int]] = []
    result = Evaluator(ctx, progress=lambda s, d, t: seen.append((s, d, t))).run(
        gold["parse"], gold["retrieval"], k=5
    )
    row = next(r for r in ctx.repo.runs(10) if r["id"] == result.run_id)
    assert row["status"] == "ok" and row["finished_at"] is not None and row["version"]
    assert row["config"]["kind"] == "full" and row["config"]["k"] == 5
    assert len(row["config"]["retrieval_gold"]["sha256"]) == 64
    assert row["metrics"]["retrieval"]["n"] == 25
    assert row["metrics"]["parsing"]["n"] == 30
    assert set(row["metrics"]["perf"]) == {"parse", "retrieve"}
    assert len(row["details"]["retrieval"]) == 26 and len(row["details"]["parsing"]) == 30
    json.dumps(row["metrics"]), json.dumps(row["details"])
    assert ("search hybrid", 26, 26) in seen and ("parse vectors", 30, 30) in seen


def test_failing_run_is_stored_as_failed(ctx: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "pump leak", "relevant": ["S0000001"]}\nnot json\n', encoding="utf-8")
    with pytest.raises(GoldFormatError, match=r"bad.jsonl:2"):
        Evaluator(ctx).run(None, bad, k=5, feedback=False)
    row = ctx.repo.runs(1)[0]
    assert row["status"] == "failed" and "bad.jsonl:2" in row["error"]


def test_supervisor_thumbs_are_judgments_and_unjudged_is_coverage(ctx: Any) -> None:
    query = ctx.history[0].title
    retrieved = Evaluator(ctx).search([query], 5)[0]
    assert len(retrieved) == 5
    good, bad, other = retrieved[0], retrieved[1], retrieved[2]
    for itemno, vote, supervisor in ((good, 1, True), (bad, -1, True), (other, 1, False)):
        ctx.repo.record_feedback(
            FeedbackRecord(
                "ans-1", itemno, f"user-{itemno}-{supervisor}", "teams", vote, supervisor, query
            )
        )
    outcome = Evaluator(ctx).feedback(k=5)
    row = next(r for r in outcome.rows if r["query"] == query)
    assert row["positive"] == [good] and row["negative"] == [bad]
    # Two of five judged: precision over the judged two, the other three are not misses.
    assert row["n_judged"] == 2 and row["coverage"] == pytest.approx(0.4)
    assert row["precision"] == pytest.approx(0.5) and row["rr"] == 1.0
    assert outcome.metrics["up"] >= 2 and outcome.metrics["supervisor_up"] >= 1


def test_compare_retrieval_reports_difference_and_p_value(ctx: Any, gold: dict[str, Path]) -> None:
    result = Evaluator(ctx).compare("hybrid", "prototype", retrieval_gold=gold["retrieval"], k=5)
    m = result.metrics
    assert m["task"] == "retrieval" and m["n_pairs"] == 25
    for name in ("precision_at_k", "recall_at_k", "mrr", "ndcg_at_k"):
        assert m["difference"][name] == pytest.approx(
            m["a"]["metrics"][name] - m["b"]["metrics"][name]
        )
        assert 0.0 < m["p_value"][name] <= 1.0
    # The hybrid search beats the seed's SQL scoring on its own data.
    assert m["difference"]["ndcg_at_k"] > 0 and m["p_value"]["ndcg_at_k"] < 0.05
    stored = next(r for r in ctx.repo.runs(5) if r["id"] == result.run_id)
    assert stored["config"]["kind"] == "compare" and stored["config"]["a"] == "hybrid"


def test_compare_parsing_and_bad_configurations(ctx: Any, gold: dict[str, Path]) -> None:
    result = Evaluator(ctx).compare("vectors", "novectors", parse_gold=gold["parse"])
    assert set(result.metrics["difference"]) == {
        "weighted_accuracy",
        "field_accuracy.location",
        "field_accuracy.equipment",
        "field_accuracy.failure_mode",
        "field_accuracy.priority",
    }
    with pytest.raises(EvaluationError):
        Evaluator(ctx).compare(
            "hybrid", "novectors", parse_gold=gold["parse"], retrieval_gold=gold["retrieval"]
        )
    with pytest.raises(EvaluationError):
        Evaluator(ctx).compare("hybrid", "alpha=2", retrieval_gold=gold["retrieval"])


def test_digest_from_stored_runs(ctx: Any, gold: dict[str, Path]) -> None:
    first = Evaluator(ctx).run(gold["parse"], gold["retrieval"], k=5)
    second = Evaluator(ctx).run(gold["parse"], gold["retrieval"], k=5)
    failed_id = ctx.repo.start_run("test", {"kind": "full"})
    ctx.repo.fail_run(failed_id, "RuntimeError: boom")
    digest = build_digest(ctx.repo, language="en", now=utcnow() + timedelta(minutes=1))
    assert digest.run_id == str(second.run_id)
    assert digest.latest["retrieval"]["n"] == 25 and digest.previous is not None
    assert digest.previous["retrieval"] == first.metrics["retrieval"]
    assert [f["run_id"] for f in digest.failed_runs] == [failed_id]
    assert digest.feedback["up"] >= 1
    worst = worst_queries(second.details, 5)
    assert list(digest.worst_queries) == worst
    assert worst[0]["ndcg"] <= worst[-1]["ndcg"]


def test_perf_alert_when_p95_exceeds_threshold_times_baseline() -> None:
    def run(p95: float, run_id: int) -> dict[str, Any]:
        return {
            "id": run_id,
            "status": "ok",
            "config": {"kind": "full"},
            "metrics": {"perf": {"retrieve": {"p95_ms": p95}, "parse": {"p95_ms": 1.0}}},
        }

    runs = [run(100.0, 9), run(50.0, 8), run(52.0, 7), run(48.0, 6)]
    alerts = run_perf_alerts(runs)
    assert [a.node for a in alerts] == ["retrieve"] and alerts[0].baseline_ms == 50.0
    assert run_perf_alerts([run(80.0, 9), *runs[1:]]) == []  # 1.6x < 1.8x for search


def test_histogram_quantile_interpolates_like_prometheus() -> None:
    buckets = [(0.1, 50.0), (0.2, 90.0), (0.5, 100.0), (float("inf"), 100.0)]
    assert histogram_quantile(buckets, 0.5) == pytest.approx(0.1)
    assert histogram_quantile(buckets, 0.95) == pytest.approx(0.35)
    assert histogram_quantile([(float("inf"), 0.0)], 0.5) is None


async def test_digest_is_posted_to_the_configured_targets(ctx: Any) -> None:
    import copy

    import httpx

    from adapters.channels.slack import SlackChannel
    from evaluation.runner import send_digest

    seen: list[dict[str, Any]] = []

    def slack_api(request: httpx.Request) -> httpx.Response:
        seen.append({"url": str(request.url), **json.loads(request.content)})
        if seen[-1]["channel"] == "C-broken":
            return httpx.Response(200, json={"ok": False, "error": "channel_not_found"})
        return httpx.Response(200, json={"ok": True, "ts": "1.2"})

    view = copy.copy(ctx)
    view.settings = ctx.settings.model_copy(
        update={"digest_slack_channels": ["C1", "C-broken"], "digest_teams_conversations": ["19:x"]}
    )
    client = httpx.AsyncClient(transport=httpx.MockTransport(slack_api))
    channels = {"slack": SlackChannel("xoxb-test", "https://slack.test/api/", client=client)}
    digest = build_digest(ctx.repo, language="en")
    posted, targets = await send_digest(view, digest, channels)  # type: ignore[arg-type]
    await client.aclose()
    assert (posted, targets) == (1, 3)  # no Teams channel given, one Slack channel refused
    assert [s["channel"] for s in seen] == ["C1", "C-broken"]
    assert seen[0]["url"].endswith("/chat.postMessage")
    assert seen[0]["blocks"][0]["type"] == "header" and "PMark" in seen[0]["text"]
