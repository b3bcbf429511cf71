"""Render the evaluation digest as a Teams Adaptive Card (1.5) or Slack Block Kit blocks. Pure.

Input is plain data (`Digest`): the metrics dicts produced by `evaluation.metrics`
(`{"retrieval": aggregate_retrieval(...), "parsing": aggregate_parsing(...)}`) for the latest run
and optionally the previous run and the run of 7 days ago, plus worst queries, feedback counts,
performance alerts and failed runs. All metrics here are "higher is better" rates in [0, 1]; they
are shown as percentages and deltas as percentage points (▲ up, ▼ down).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from evaluation.metrics import PARSE_FIELDS
from evaluation.perf import Alert

Language = Literal["ko", "en", "both"]
LANGUAGES: tuple[Language, ...] = ("ko", "en", "both")

RETRIEVAL_KEYS: tuple[str, ...] = ("precision_at_k", "recall_at_k", "mrr", "ndcg_at_k", "hit_rate")

# Slack Block Kit limits (https://api.slack.com/reference/block-kit/blocks).
SLACK_MAX_BLOCKS = 50
SLACK_HEADER_CHARS = 150
SLACK_SECTION_CHARS = 3000
SLACK_MAX_FIELDS = 10
SLACK_FIELD_CHARS = 2000
SLACK_MAX_CONTEXT_ELEMENTS = 10

_LABELS: Mapping[str, tuple[str, str]] = {
    "title": ("PMark 평가 요약", "PMark evaluation digest"),
    "retrieval": ("검색 품질", "Retrieval"),
    "parsing": ("입력 해석 정확도", "Parsing accuracy"),
    "precision_at_k": ("정밀도@{k}", "Precision@{k}"),
    "recall_at_k": ("재현율@{k}", "Recall@{k}"),
    "mrr": ("MRR@{k}", "MRR@{k}"),
    "ndcg_at_k": ("nDCG@{k}", "nDCG@{k}"),
    "hit_rate": ("적중률@{k}", "Hit rate@{k}"),
    "weighted_accuracy": ("가중 정확도", "Weighted accuracy"),
    "location": ("위치", "Location"),
    "equipment": ("설비", "Equipment"),
    "failure_mode": ("고장 유형", "Failure mode"),
    "priority": ("우선순위", "Priority"),
    "by_language": ("언어별", "By language"),
    "lang:ko": ("한국어", "Korean"),
    "lang:en": ("영어", "English"),
    "lang:mixed": ("혼용", "Mixed"),
    "worst_queries": ("결과가 나쁜 질의", "Worst queries"),
    "feedback": ("사용자 피드백", "User feedback"),
    "up": ("도움됨", "Helpful"),
    "down": ("도움 안 됨", "Not helpful"),
    "new_since_last": ("지난 요약 이후", "Since last digest"),
    "helpful_share": ("도움됨 비율", "Helpful share"),
    "perf_alerts": ("성능 경고", "Performance alerts"),
    "failed_runs": ("실패한 평가 실행", "Failed evaluation runs"),
    "vs_last": ("전회", "last"),
    "vs_week": ("7일", "7d"),
    "unit_pp": ("%p", "pp"),
    "queries": ("질의 {n}건", "{n} queries"),
    "samples": ("문장 {n}건", "{n} sentences"),
    "run": ("실행", "run"),
    "no_data": ("데이터 없음", "no data"),
    "baseline": ("기준", "baseline"),
    "limit": ("한도", "limit"),
    "more": ("외 {n}건", "{n} more"),
    "lifecycle": ("접수와 완료 (7일)", "Notifications (7 days)"),
    "lc_filed": ("접수", "Filed"),
    "lc_duplicates": ("중복 방지", "Duplicates caught"),
    "lc_closed": ("완료", "Closed"),
    "lc_median": ("완료까지 중앙값", "Median time to close"),
    "lc_fix": ("추천 조치 = 실제 조치", "Recommended fix = recorded fix"),
    "hours": ("{n}시간", "{n} h"),
}
_ICONS: Mapping[str, str] = {"up": "👍", "down": "👎", "perf_alerts": "⚠️", "failed_runs": "❌"}
# Words inside a line of text: in "both" mode these are joined tightly ("전회/last").
_INLINE = frozenset(
    {"vs_last", "vs_week", "queries", "samples", "run", "baseline", "limit", "more", "hours"}
)


def label(key: str, language: Language, **values: object) -> str:
    """A UI label in Korean, English, or both ("한국어 · English"; once when they are equal)."""
    ko, en = (text.format(**values) for text in _LABELS[key])
    if language == "ko":
        text = ko
    elif language == "en":
        text = en
    else:
        text = ko if ko == en else f"{ko}{'/' if key in _INLINE else ' · '}{en}"
    icon = _ICONS.get(key)
    return f"{icon} {text}" if icon else text


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending in "…" when cut."""
    if limit < 1:
        raise ValueError("limit must be >= 1")
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Digest:
    """Everything one digest shows; plain data, no database handles."""

    latest: Mapping[str, Any]
    previous: Mapping[str, Any] | None = None
    week_ago: Mapping[str, Any] | None = None
    worst_queries: Sequence[Mapping[str, Any]] = ()
    feedback: Mapping[str, int] = field(default_factory=dict)
    perf_alerts: Sequence[Alert | Mapping[str, Any]] = ()
    failed_runs: Sequence[Mapping[str, Any]] = ()
    language: Language = "both"
    generated_at: str | None = None
    run_id: str | None = None
    max_worst_queries: int = 5
    # evaluation.lifecycle_stats figures: filed, duplicates caught, time to close, fix match.
    lifecycle: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}, got {self.language!r}")
        if self.max_worst_queries < 0:
            raise ValueError("max_worst_queries must be >= 0")


@dataclass(frozen=True)
class MetricLine:
    """One metric with its change since the previous run and since 7 days ago."""

    label: str
    value: float
    delta_last: float | None
    delta_week: float | None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _lookup(metrics: Mapping[str, Any] | None, path: Sequence[str]) -> float | None:
    node: Any = metrics
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return _number(node)


def _line(digest: Digest, text: str, path: Sequence[str]) -> MetricLine | None:
    value = _lookup(digest.latest, path)
    if value is None:
        return None
    last, week = _lookup(digest.previous, path), _lookup(digest.week_ago, path)
    return MetricLine(
        text,
        value,
        None if last is None else value - last,
        None if week is None else value - week,
    )


def _k(digest: Digest) -> str:
    k = _lookup(digest.latest, ("retrieval", "k"))
    return "k" if k is None else str(int(k))


def retrieval_lines(digest: Digest) -> list[MetricLine]:
    """Retrieval metrics present in the latest run, with deltas."""
    k = _k(digest)
    lines = [
        _line(digest, label(key, digest.language, k=k), ("retrieval", key))
        for key in RETRIEVAL_KEYS
    ]
    return [line for line in lines if line is not None]


def parsing_lines(digest: Digest) -> list[MetricLine]:
    """Weighted parsing accuracy, then the exact-match rate of each field, with deltas."""
    lang = digest.language
    lines = [_line(digest, label("weighted_accuracy", lang), ("parsing", "weighted_accuracy"))]
    lines += [_line(digest, label(f, lang), ("parsing", "field_accuracy", f)) for f in PARSE_FIELDS]
    return [line for line in lines if line is not None]


def language_lines(digest: Digest) -> list[MetricLine]:
    """Weighted parsing accuracy per input language, with deltas."""
    parsing = digest.latest.get("parsing")
    by_lang = parsing.get("by_language") if isinstance(parsing, Mapping) else None
    if not isinstance(by_lang, Mapping):
        return []
    lines = []
    for code in sorted(by_lang):
        name = label(f"lang:{code}", digest.language) if f"lang:{code}" in _LABELS else str(code)
        lines.append(_line(digest, name, ("parsing", "by_language", code)))
    return [line for line in lines if line is not None]


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def format_delta(delta: float | None, language: Language) -> str:
    """ "▲3.1pp" / "▼0.4%p" / "=0.0pp" for a change of a rate, "" when unknown."""
    if delta is None:
        return ""
    points = round(delta * 100, 1)
    unit = label("unit_pp", "en" if language == "both" else language)
    if points > 0:
        return f"▲{points:.1f}{unit}"
    if points < 0:
        return f"▼{-points:.1f}{unit}"
    return f"={0.0:.1f}{unit}"


def _deltas(line: MetricLine, language: Language) -> str:
    parts = []
    if line.delta_last is not None:
        parts.append(f"{label('vs_last', language)} {format_delta(line.delta_last, language)}")
    if line.delta_week is not None:
        parts.append(f"{label('vs_week', language)} {format_delta(line.delta_week, language)}")
    return " · ".join(parts)


def _value_text(line: MetricLine, language: Language) -> str:
    deltas = _deltas(line, language)
    return f"{_pct(line.value)}  {deltas}" if deltas else _pct(line.value)


def _alert_fields(alert: Alert | Mapping[str, Any]) -> tuple[str, float, float, float]:
    data: Mapping[str, Any] = alert.as_dict() if isinstance(alert, Alert) else alert
    p95 = _number(data.get("p95_ms")) or 0.0
    baseline = _number(data.get("baseline_ms")) or 0.0
    threshold = _number(data.get("threshold")) or 0.0
    return clip(str(data.get("node", "?")), 80), p95, baseline, threshold


def alert_text(alert: Alert | Mapping[str, Any], language: Language) -> str:
    """ "retrieve: p95 950 ms = 2.1× baseline 450 ms (limit 1.8×)"."""
    node, p95, baseline, threshold = _alert_fields(alert)
    ratio = f" = {p95 / baseline:.1f}×" if baseline > 0 else ""
    return (
        f"{node}: p95 {p95:,.0f} ms{ratio} {label('baseline', language)} {baseline:,.0f} ms "
        f"({label('limit', language)} {threshold:.1f}×)"
    )


def failed_run_text(run: Mapping[str, Any], language: Language) -> str:
    """ "run 42 · 2024-05-01T03:00 · error text" with whichever parts are present."""
    parts = []
    if run.get("run_id") is not None:
        parts.append(f"{label('run', language)} {run['run_id']}")
    for key in ("kind", "started_at"):
        if run.get(key):
            parts.append(str(run[key]))
    if run.get("error"):
        parts.append(clip(" ".join(str(run["error"]).split()), 300))
    return " · ".join(parts) or "?"


def _worst(digest: Digest) -> list[tuple[str, str]]:
    """(query, details) of the worst queries, capped at `max_worst_queries`."""
    k = _k(digest)
    out = []
    for row in digest.worst_queries[: digest.max_worst_queries]:
        query = clip(" ".join(str(row.get("query", "")).split()) or "?", 200)
        details = []
        precision = _number(row.get("precision"))
        if precision is not None:
            details.append(f"P@{k} {_pct(precision)}")
        retrieved = [str(x) for x in row.get("retrieved") or ()]
        if retrieved:
            shown = ", ".join(retrieved[:5])
            details.append(shown + (", …" if len(retrieved) > 5 else ""))
        out.append((query, " · ".join(details)))
    return out


def _counts_line(digest: Digest) -> str:
    lang = digest.language
    parts = []
    n_queries = _lookup(digest.latest, ("retrieval", "n"))
    if n_queries is not None:
        parts.append(label("queries", lang, n=int(n_queries)))
    n_samples = _lookup(digest.latest, ("parsing", "n"))
    if n_samples is not None:
        parts.append(label("samples", lang, n=int(n_samples)))
    return " · ".join(parts)


def _subtitle(digest: Digest) -> str:
    parts = [p for p in (digest.generated_at, digest.run_id and f"#{digest.run_id}") if p]
    counts = _counts_line(digest)
    if counts:
        parts.append(counts)
    return clip(" · ".join(parts), 300)


def _feedback_lines(digest: Digest) -> list[tuple[str, str]]:
    lang = digest.language
    fb = digest.feedback
    lines = [(label(key, lang), str(int(fb[key]))) for key in ("up", "down") if key in fb]
    up, down = int(fb.get("up", 0)), int(fb.get("down", 0))
    if up + down > 0:
        lines.append((label("helpful_share", lang), _pct(up / (up + down))))
    if "new_since_last" in fb:
        lines.append((label("new_since_last", lang), f"+{int(fb['new_since_last'])}"))
    return lines


def lifecycle_lines(digest: Digest) -> list[tuple[str, str]]:
    """(label, value) of the lifecycle figures; none without any."""
    lang, lc = digest.language, digest.lifecycle
    if not lc or not (lc.get("filed") or lc.get("closed")):
        return []
    lines = [
        (label("lc_filed", lang), str(int(lc.get("filed") or 0))),
        (label("lc_duplicates", lang), str(int(lc.get("duplicates_caught") or 0))),
        (label("lc_closed", lang), str(int(lc.get("closed") or 0))),
    ]
    median = _number(lc.get("median_hours_to_close"))
    if median is not None:
        lines.append((label("lc_median", lang), label("hours", lang, n=f"{median:.1f}")))
    rate = _number(lc.get("fix_match_rate"))
    if rate is not None:
        judged = int(lc.get("fix_judged") or 0)
        lines.append(
            (label("lc_fix", lang), f"{_pct(rate)} ({int(lc.get('fix_matched') or 0)}/{judged})")
        )
    return lines


def summary_text(digest: Digest) -> str:
    """One-line plain-text summary (notification text and card fallback)."""
    lang = digest.language
    parts = [label("title", lang)]
    for lines in (retrieval_lines(digest)[:1], parsing_lines(digest)[:1]):
        for line in lines:
            delta = format_delta(line.delta_last, lang)
            parts.append(f"{line.label} {_pct(line.value)}" + (f" ({delta})" if delta else ""))
    if digest.perf_alerts:
        parts.append(f"{label('perf_alerts', lang)}: {len(digest.perf_alerts)}")
    if digest.failed_runs:
        parts.append(f"{label('failed_runs', lang)}: {len(digest.failed_runs)}")
    return " | ".join(parts)


# Teams ---------------------------------------------------------------------------------------


def _text(text: str, **props: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **props}


def _heading(text: str) -> dict[str, Any]:
    return _text(text, weight="Bolder", size="Medium", spacing="Large", separator=True)


def _fact_set(lines: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in lines]}


def _delta_color(delta: float | None) -> str:
    if delta is None or round(delta * 100, 1) == 0:
        return "Default"
    return "Good" if delta > 0 else "Attention"


def _headline_column(line: MetricLine, language: Language) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        _text(line.label, isSubtle=True, size="Small"),
        _text(_pct(line.value), size="ExtraLarge", weight="Bolder", spacing="None"),
    ]
    for key, delta in (("vs_last", line.delta_last), ("vs_week", line.delta_week)):
        if delta is not None:
            text = f"{label(key, language)} {format_delta(delta, language)}"
            items.append(_text(text, size="Small", color=_delta_color(delta), spacing="None"))
    return {"type": "Column", "width": "stretch", "items": items}


def teams_card(digest: Digest) -> dict[str, Any]:
    """The digest as an Adaptive Card 1.5: TextBlocks, FactSets and one ColumnSet (phone-sized)."""
    lang = digest.language
    body: list[dict[str, Any]] = [_text(label("title", lang), size="Large", weight="Bolder")]
    subtitle = _subtitle(digest)
    if subtitle:
        body.append(_text(subtitle, isSubtle=True, size="Small", spacing="None"))

    retrieval, parsing = retrieval_lines(digest), parsing_lines(digest)
    headline = retrieval[:1] + parsing[:1]
    if headline:
        columns = [_headline_column(line, lang) for line in headline]
        body.append({"type": "ColumnSet", "columns": columns, "spacing": "Medium"})
    if not retrieval and not parsing:
        body.append(_text(label("no_data", lang), color="Warning"))
    for key, lines in (("retrieval", retrieval), ("parsing", parsing)):
        if lines:
            body.append(_heading(label(key, lang)))
            body.append(_fact_set([(ln.label, _value_text(ln, lang)) for ln in lines]))
    languages = language_lines(digest)
    if languages:
        body.append(_text(label("by_language", lang), weight="Bolder", spacing="Medium"))
        body.append(_fact_set([(ln.label, _value_text(ln, lang)) for ln in languages]))

    worst = _worst(digest)
    if worst:
        body.append(_heading(label("worst_queries", lang)))
        for i, (query, details) in enumerate(worst, start=1):
            body.append(_text(f"{i}. {query}", spacing="Small"))
            if details:
                body.append(_text(details, isSubtle=True, size="Small", spacing="None"))

    feedback = _feedback_lines(digest)
    if feedback:
        body.append(_heading(label("feedback", lang)))
        body.append(_fact_set(feedback))

    lifecycle = lifecycle_lines(digest)
    if lifecycle:
        body.append(_heading(label("lifecycle", lang)))
        body.append(_fact_set(lifecycle))

    if digest.perf_alerts:
        body.append(_heading(label("perf_alerts", lang)))
        body += [_text(alert_text(a, lang), color="Attention") for a in digest.perf_alerts[:10]]
        if len(digest.perf_alerts) > 10:
            body.append(_text(label("more", lang, n=len(digest.perf_alerts) - 10), isSubtle=True))
    if digest.failed_runs:
        body.append(_heading(label("failed_runs", lang)))
        body += [
            _text(failed_run_text(r, lang), color="Attention") for r in digest.failed_runs[:10]
        ]
        if len(digest.failed_runs) > 10:
            body.append(_text(label("more", lang, n=len(digest.failed_runs) - 10), isSubtle=True))

    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.5",
        "fallbackText": clip(summary_text(digest), 1000),
        "msteams": {"width": "Full"},
        "body": body,
    }


def teams_attachment(card: Mapping[str, Any]) -> dict[str, Any]:
    """Bot Framework attachment wrapping an Adaptive Card."""
    return {"contentType": "application/vnd.microsoft.card.adaptive", "content": dict(card)}


# Slack ---------------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    """Escape the three characters Slack mrkdwn reserves (&, <, >)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str, limit: int) -> dict[str, str]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def _section_text(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text, SLACK_SECTION_CHARS)}


def _field_sections(title: str, lines: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """Sections of at most 10 fields each; the first carries the title."""
    blocks = []
    for start in range(0, len(lines), SLACK_MAX_FIELDS):
        chunk = lines[start : start + SLACK_MAX_FIELDS]
        block: dict[str, Any] = {
            "type": "section",
            "fields": [
                _mrkdwn(f"*{slack_escape(t)}*\n{slack_escape(v)}", SLACK_FIELD_CHARS)
                for t, v in chunk
            ],
        }
        if start == 0:
            block["text"] = _mrkdwn(f"*{slack_escape(title)}*", SLACK_SECTION_CHARS)
        blocks.append(block)
    return blocks


def _bullets(title: str, items: Sequence[str], prefix: str = "•") -> dict[str, Any]:
    text = f"*{slack_escape(title)}*\n" + "\n".join(f"{prefix} {slack_escape(i)}" for i in items)
    return _section_text(text)


def slack_blocks(digest: Digest) -> list[dict[str, Any]]:
    """The digest as Slack Block Kit blocks, clipped to Block Kit's size limits."""
    lang = digest.language
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": clip(label("title", lang), SLACK_HEADER_CHARS),
                "emoji": True,
            },
        }
    ]
    subtitle = _subtitle(digest)
    if subtitle:
        elements = [_mrkdwn(slack_escape(subtitle), SLACK_FIELD_CHARS)]
        blocks.append({"type": "context", "elements": elements[:SLACK_MAX_CONTEXT_ELEMENTS]})

    retrieval, parsing = retrieval_lines(digest), parsing_lines(digest)
    if not retrieval and not parsing:
        blocks.append(_section_text(slack_escape(label("no_data", lang))))
    for key, lines in (("retrieval", retrieval), ("parsing", parsing)):
        if lines:
            facts = [(ln.label, _value_text(ln, lang)) for ln in lines]
            blocks += _field_sections(label(key, lang), facts)
    languages = language_lines(digest)
    if languages:
        facts = [(ln.label, _value_text(ln, lang)) for ln in languages]
        blocks += _field_sections(label("by_language", lang), facts)

    worst = _worst(digest)
    if worst:
        blocks.append({"type": "divider"})
        items = [f"{q}\n    _{d}_" if d else q for q, d in worst]
        blocks.append(_bullets(label("worst_queries", lang), items))

    feedback = _feedback_lines(digest)
    if feedback:
        blocks.append({"type": "divider"})
        blocks += _field_sections(label("feedback", lang), feedback)

    lifecycle = lifecycle_lines(digest)
    if lifecycle:
        blocks.append({"type": "divider"})
        blocks += _field_sections(label("lifecycle", lang), lifecycle)

    if digest.perf_alerts:
        blocks.append({"type": "divider"})
        blocks.append(
            _bullets(label("perf_alerts", lang), [alert_text(a, lang) for a in digest.perf_alerts])
        )
    if digest.failed_runs:
        blocks.append({"type": "divider"})
        blocks.append(
            _bullets(
                label("failed_runs", lang), [failed_run_text(r, lang) for r in digest.failed_runs]
            )
        )

    if len(blocks) > SLACK_MAX_BLOCKS:
        more = label("more", lang, n=len(blocks) - SLACK_MAX_BLOCKS + 1)
        blocks = blocks[: SLACK_MAX_BLOCKS - 1]
        blocks.append({"type": "context", "elements": [_mrkdwn(more, SLACK_FIELD_CHARS)]})
    return blocks
