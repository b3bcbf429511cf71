"""Digest rendering: cards checked by Microsoft's `adaptivecards` library; Slack limits."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.digest import (
    SLACK_FIELD_CHARS,
    SLACK_HEADER_CHARS,
    SLACK_MAX_BLOCKS,
    SLACK_MAX_CONTEXT_ELEMENTS,
    SLACK_MAX_FIELDS,
    SLACK_SECTION_CHARS,
    Digest,
    format_delta,
    label,
    slack_blocks,
    summary_text,
    teams_attachment,
    teams_card,
)
from evaluation.metrics import PARSE_FIELDS
from evaluation.perf import Alert

REPO = Path(__file__).resolve().parents[2]
VALIDATOR = REPO / "scripts" / "validate_card.js"


def metrics(p: float, w: float, langs: dict[str, float] | None = None) -> dict[str, Any]:
    return {
        "retrieval": {
            "n": 40,
            "k": 5,
            "precision_at_k": p,
            "recall_at_k": 0.7,
            "mrr": 0.8,
            "ndcg_at_k": 0.75,
            "hit_rate": 0.9,
        },
        "parsing": {
            "n": 120,
            "weighted_accuracy": w,
            "field_accuracy": dict.fromkeys(PARSE_FIELDS, w),
            "field_score": dict.fromkeys(PARSE_FIELDS, w),
            "by_language": langs if langs is not None else {"ko": w, "en": w - 0.1, "mixed": 0.5},
            "by_scenario": {"plain": w},
        },
    }


def full_digest(language: str = "both", **overrides: Any) -> Digest:
    values: dict[str, Any] = {
        "latest": metrics(0.62, 0.81),
        "previous": metrics(0.60, 0.83),
        "week_ago": metrics(0.62, 0.70),
        "worst_queries": [
            {"query": "2호기 펌프 누수 <긴급> & 소음", "precision": 0.0, "retrieved": ["N1", "N2"]},
            {"query": "conveyor belt slipping", "precision": 0.2, "retrieved": []},
        ],
        "feedback": {"up": 12, "down": 4, "new_since_last": 5},
        "perf_alerts": [
            Alert("retrieve", 950.0, 450.0, 1.8, 120),
            {"node": "turn", "p95_ms": 4100.0, "baseline_ms": 1800.0, "threshold": 2.0},
        ],
        "failed_runs": [{"run_id": 41, "started_at": "2025-01-02T03:00Z", "error": "timeout\nx"}],
        "language": language,
        "generated_at": "2025-01-03 09:00",
        "run_id": "42",
    }
    values.update(overrides)
    return Digest(**values)


def extreme_digest() -> Digest:
    long = "펌프 " * 3000
    return full_digest(
        latest=metrics(1.0, 0.0, {f"l{i}": i / 30 for i in range(30)}),
        previous=metrics(0.0, 1.0, {}),
        worst_queries=[
            {"query": long, "precision": 0.0, "retrieved": [f"N{j}" for j in range(50)]}
            for _ in range(40)
        ],
        max_worst_queries=40,
        perf_alerts=[Alert(f"node{i}" * 50, 1e6, 1.0, 1.5, 1) for i in range(300)],
        failed_runs=[{"run_id": i, "error": long} for i in range(80)],
        generated_at="x" * 500,
    )


EMPTY = Digest(latest={})


# Adaptive Card validation -------------------------------------------------------------------


@pytest.fixture(scope="session")
def validate_cards() -> Any:
    """Validate cards with scripts/validate_card.js; skip if node/adaptivecards are missing."""
    default = Path.home() / ".cache" / "pmark" / "npm" / "node_modules" / "adaptivecards"
    package = Path(os.environ.get("PMARK_ADAPTIVECARDS_DIR", default))
    node = shutil.which("node")
    if node is None or not (package / "dist" / "adaptivecards.js").is_file():
        message = "node or adaptivecards missing: run scripts/install_card_tools.sh"
        if os.environ.get("PMARK_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)

    def run(cards: list[dict[str, Any]]) -> list[list[dict[str, str]]]:
        proc = subprocess.run(
            [node, str(VALIDATOR)],
            input=json.dumps(cards),
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PMARK_ADAPTIVECARDS_DIR": str(package)},
        )
        assert proc.returncode in (0, 1), proc.stderr
        return [r["errors"] for r in json.loads(proc.stdout)]

    return run


def test_validator_reports_errors_for_a_broken_card(validate_cards: Any) -> None:
    bad = {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [{"type": "TextBlock", "text": "x", "size": "Huge"}, {"type": "Bogus"}],
    }
    good = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "x"}]}
    too_new = {**good, "version": "1.6"}
    bad_errors, good_errors, new_errors = validate_cards([bad, good, too_new])
    assert {e["event"] for e in bad_errors} == {"InvalidPropertyValue", "UnknownElementType"}
    assert good_errors == []
    assert [e["event"] for e in new_errors] == ["UnsupportedCardVersion"]


def all_digests() -> list[Digest]:
    digests = [full_digest(lang) for lang in ("ko", "en", "both")]
    digests += [extreme_digest(), EMPTY, Digest(latest=metrics(0.5, 0.5), language="ko")]
    digests.append(Digest(latest={"retrieval": {"k": 3, "mrr": 0.4}}, feedback={"up": 0}))
    return digests


def test_every_card_validates_cleanly(validate_cards: Any) -> None:
    cards = [teams_card(d) for d in all_digests()]
    for card, errors in zip(cards, validate_cards(cards), strict=True):
        assert errors == [], (errors, card["body"][:3])


# Card content -------------------------------------------------------------------------------


def card_texts(card: dict[str, Any]) -> list[str]:
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock":
                out.append(node["text"])
            if node.get("type") == "FactSet":
                out.extend(f"{f['title']}={f['value']}" for f in node["facts"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return out


def test_card_shows_headline_metrics_with_deltas_and_arrows() -> None:
    card = teams_card(full_digest("en"))
    assert card["version"] == "1.5" and card["type"] == "AdaptiveCard"
    texts = card_texts(card)
    assert "Precision@5=62.0%  last ▲2.0pp · 7d =0.0pp" in texts
    assert "Weighted accuracy=81.0%  last ▼2.0pp · 7d ▲11.0pp" in texts
    headline = next(b for b in card["body"] if b["type"] == "ColumnSet")
    colors = [i.get("color") for c in headline["columns"] for i in c["items"] if "color" in i]
    assert colors == ["Good", "Default", "Attention", "Good"]
    assert "Korean=81.0%  last ▼2.0pp · 7d ▲11.0pp" in texts
    assert any("retrieve: p95 950 ms = 2.1× baseline 450 ms (limit 1.8×)" in t for t in texts)
    assert any(t.startswith("1. 2호기 펌프 누수 <긴급> & 소음") for t in texts)
    assert "P@5 0.0% · N1, N2" in texts
    assert "👍 Helpful=12" in texts and "Helpful share=75.0%" in texts
    assert any("run 41 · 2025-01-02T03:00Z · timeout x" in t for t in texts)


def test_card_labels_follow_the_language() -> None:
    ko = card_texts(teams_card(full_digest("ko")))
    both = card_texts(teams_card(full_digest("both")))
    assert "정밀도@5=62.0%  전회 ▲2.0%p · 7일 =0.0%p" in ko
    assert not any("Precision" in t for t in ko)
    assert any(t.startswith("정밀도@5 · Precision@5=") for t in both)
    assert "정밀도@5 · Precision@5=62.0%  전회/last ▲2.0pp · 7일/7d =0.0pp" in both
    assert "👍 도움됨 · Helpful=12" in both
    assert label("mrr", "both", k=5) == "MRR@5"


def test_every_textblock_wraps_for_phones() -> None:
    card = teams_card(extreme_digest())
    blocks: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TextBlock":
                blocks.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    assert blocks and all(b["wrap"] is True for b in blocks)
    assert max(len(b["text"]) for b in blocks) <= 400


def test_empty_digest_says_no_data() -> None:
    assert any("no data" in t for t in card_texts(teams_card(EMPTY)))
    assert teams_attachment(teams_card(EMPTY))["contentType"] == (
        "application/vnd.microsoft.card.adaptive"
    )


def test_format_delta() -> None:
    assert format_delta(0.031, "en") == "▲3.1pp"
    assert format_delta(-0.004, "ko") == "▼0.4%p"
    assert format_delta(0.0001, "both") == "=0.0pp"
    assert format_delta(None, "en") == ""


def test_summary_text() -> None:
    text = summary_text(full_digest("en"))
    assert text.startswith("PMark evaluation digest | Precision@5 62.0% (▲2.0pp)")
    assert "Performance alerts: 2" in text and "Failed evaluation runs: 1" in text


def test_bad_language_is_rejected() -> None:
    with pytest.raises(ValueError):
        Digest(latest={}, language="fr")  # type: ignore[arg-type]


# Slack --------------------------------------------------------------------------------------


def assert_slack_limits(blocks: list[dict[str, Any]]) -> None:
    assert 1 <= len(blocks) <= SLACK_MAX_BLOCKS
    for block in blocks:
        kind = block["type"]
        assert kind in {"header", "section", "context", "divider"}
        if kind == "header":
            assert block["text"]["type"] == "plain_text"
            assert 1 <= len(block["text"]["text"]) <= SLACK_HEADER_CHARS
        if kind == "section":
            assert "text" in block or "fields" in block
            if "text" in block:
                assert 1 <= len(block["text"]["text"]) <= SLACK_SECTION_CHARS
            fields = block.get("fields", [])
            assert len(fields) <= SLACK_MAX_FIELDS
            assert all(1 <= len(f["text"]) <= SLACK_FIELD_CHARS for f in fields)
        if kind == "context":
            assert 1 <= len(block["elements"]) <= SLACK_MAX_CONTEXT_ELEMENTS
            assert all(1 <= len(e["text"]) <= SLACK_FIELD_CHARS for e in block["elements"])


@pytest.mark.parametrize("digest", all_digests(), ids=lambda d: f"{d.language}")
def test_slack_blocks_respect_limits(digest: Digest) -> None:
    assert_slack_limits(slack_blocks(digest))


def test_slack_blocks_content_and_escaping() -> None:
    blocks = slack_blocks(full_digest("en"))
    dumped = json.dumps(blocks, ensure_ascii=False)
    assert blocks[0]["text"]["text"] == "PMark evaluation digest"
    assert "2호기 펌프 누수 &lt;긴급&gt; &amp; 소음" in dumped
    assert "<긴급>" not in dumped
    assert "*Precision@5*\\n62.0%  last ▲2.0pp · 7d =0.0pp" in dumped
    assert "Performance alerts" in dumped


def test_slack_truncates_to_fifty_blocks_and_says_so() -> None:
    many = {f"l{i}": 0.5 for i in range(600)}  # 60 sections of language fields
    blocks = slack_blocks(Digest(latest=metrics(0.5, 0.5, many), language="en"))
    assert len(blocks) == SLACK_MAX_BLOCKS
    assert blocks[-1]["type"] == "context" and "more" in blocks[-1]["elements"][0]["text"]
    assert_slack_limits(blocks)


rates = st.floats(0, 1, allow_nan=False)
free_text = st.text(min_size=0, max_size=400)


@st.composite
def random_digest(draw: st.DrawFn) -> Digest:
    def run() -> dict[str, Any]:
        langs = draw(st.dictionaries(st.text(min_size=1, max_size=30), rates, max_size=25))
        return metrics(draw(rates), draw(rates), langs)

    return Digest(
        latest=run(),
        previous=draw(st.one_of(st.none(), st.builds(run))),
        worst_queries=draw(
            st.lists(
                st.fixed_dictionaries(
                    {"query": free_text, "precision": rates, "retrieved": st.lists(free_text)}
                ),
                max_size=12,
            )
        ),
        feedback=draw(st.dictionaries(st.sampled_from(["up", "down"]), st.integers(0, 10**6))),
        failed_runs=draw(st.lists(st.fixed_dictionaries({"error": free_text}), max_size=60)),
        language=draw(st.sampled_from(["ko", "en", "both"])),
        generated_at=draw(st.one_of(st.none(), free_text)),
        max_worst_queries=draw(st.integers(0, 12)),
    )


@given(random_digest())
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
def test_slack_limits_hold_for_any_digest(digest: Digest) -> None:
    assert_slack_limits(slack_blocks(digest))
    card = teams_card(digest)
    json.dumps(card)
    assert card["body"][0]["text"]
