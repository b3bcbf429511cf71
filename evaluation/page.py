"""The /eval page: runs over time as inline SVG line charts, worst queries, feedback, latency.

`render_eval_page` is pure (data in, HTML out; no scripts, no external resources);
`eval_routes(ctx)` gives the aiohttp route, behind settings.admin_token (Bearer header or
?token=).
"""

from __future__ import annotations

import asyncio
import hmac
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from typing import TYPE_CHECKING, Any

from aiohttp import web

from adapters.sql.repository import utcnow
from evaluation.metrics import PARSE_FIELDS
from evaluation.perf import threshold_for
from evaluation.quantiles import live_node_latency
from evaluation.runs import full_runs, run_details, run_summaries, worst_queries

if TYPE_CHECKING:
    from pydantic import SecretStr

    from agent.context import PMark

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'"


@dataclass(frozen=True)
class PageData:
    """Everything the page shows; plain data."""

    runs: Sequence[Mapping[str, Any]]  # successful full runs, oldest first (no details)
    latest_details: Mapping[str, Any] = field(default_factory=dict)
    feedback_by_day: Sequence[tuple[str, int, int]] = ()  # (day, up, down)
    latency: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    failed: Sequence[Mapping[str, Any]] = ()
    comparisons: Sequence[Mapping[str, Any]] = ()
    generated_at: str = ""


def _fmt(value: float, percent: bool) -> str:
    return f"{value * 100:.1f}%" if percent else f"{value:,.1f}"


def _nice_max(values: Sequence[float]) -> float:
    top = max([v for v in values if math.isfinite(v)] or [1.0])
    if top <= 0:
        return 1.0
    magnitude = float(10.0 ** math.floor(math.log10(top)))
    for step in (1, 2, 2.5, 5, 10):
        if top <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def line_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    percent: bool = True,
    width: int = 640,
    height: int = 240,
) -> str:
    """An inline SVG line chart: one <path class="series"> per series, a point per value."""
    left, right, top, bottom = 56, 40, 12, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for vs in series.values() for v in vs if v is not None]
    y_max = 1.0 if percent else _nice_max(values)
    n = len(labels)

    def x(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else plot_w * i / (n - 1))

    def y(v: float) -> float:
        return top + plot_h * (1 - min(max(v / y_max, 0.0), 1.0))

    parts = [
        f'<svg class="chart" id="{escape(chart_id)}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}">'
    ]
    for step in range(5):
        v = y_max * step / 4
        gy = y(v)
        parts.append(
            f'<line class="grid" x1="{left}" y1="{gy:.1f}" x2="{width - right}" y2="{gy:.1f}" '
            'stroke="#ddd" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{gy + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#555">{escape(_fmt(v, percent))}</text>'
        )
    shown = max(1, math.ceil(n / 8))
    for i, lab in enumerate(labels):
        if i % shown == 0 or i == n - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                f'font-size="10" fill="#555">{escape(lab)}</text>'
            )
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        'stroke="#888"/>'
    )
    for s, (name, vs) in enumerate(series.items()):
        color = COLORS[s % len(COLORS)]
        points = [(x(i), y(v), v) for i, v in enumerate(vs[:n]) if v is not None]
        if not points:
            continue
        d = " ".join(
            f"{'M' if j == 0 else 'L'}{px:.1f},{py:.1f}" for j, (px, py, _) in enumerate(points)
        )
        parts.append(
            f'<path class="series" data-series="{escape(name)}" data-points="{len(points)}" '
            f'd="{d}" fill="none" stroke="{color}" stroke-width="2"/>'
        )
        for px, py, v in points:
            parts.append(
                f'<circle class="point" cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{color}">'
                f"<title>{escape(name)}: {escape(_fmt(v, percent))}</title></circle>"
            )
    parts.append("</svg>")
    legend = "".join(
        f'<span class="key"><i style="background:{COLORS[s % len(COLORS)]}"></i>'
        f"{escape(name)}</span>"
        for s, name in enumerate(series)
    )
    return (
        f"<figure><figcaption>{escape(title)}</figcaption>{''.join(parts)}"
        f'<div class="legend">{legend}</div></figure>'
    )


def bar_rows(chart_id: str, rows: Sequence[tuple[str, float, float | None]]) -> str:
    """Horizontal bars of p95 (ms) per node, with the baseline x threshold marked."""
    width, row_h, left = 640, 26, 120
    top = max([max(p95, (b or 0) * threshold_for(n)) for n, p95, b in rows] or [1.0])
    scale = (width - left - 90) / (top or 1.0)
    height = row_h * len(rows) + 8
    parts = [
        f'<svg class="chart bars" id="{escape(chart_id)}" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
    ]
    for i, (node, p95, baseline) in enumerate(rows):
        ry = 4 + i * row_h
        slow = baseline is not None and p95 > threshold_for(node) * baseline
        color = "#d62728" if slow else "#1f77b4"
        parts.append(
            f'<text x="{left - 6}" y="{ry + 15}" text-anchor="end" font-size="12">'
            f"{escape(node)}</text>"
            f'<rect class="bar" x="{left}" y="{ry}" width="{max(p95 * scale, 1):.1f}" '
            f'height="{row_h - 8}" fill="{color}"><title>p95 {p95:,.1f} ms</title></rect>'
            f'<text x="{left + max(p95 * scale, 1) + 4:.1f}" y="{ry + 14}" font-size="11">'
            f"{p95:,.1f} ms</text>"
        )
        if baseline:
            limit = threshold_for(node) * baseline
            bx = left + limit * scale
            parts.append(
                f'<line class="limit" x1="{bx:.1f}" y1="{ry - 2}" x2="{bx:.1f}" '
                f'y2="{ry + row_h - 6}" stroke="#000" stroke-dasharray="3,2">'
                f"<title>limit {limit:,.1f} ms = {threshold_for(node)}× baseline "
                f"{baseline:,.1f} ms</title></line>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _get(metrics: Mapping[str, Any] | None, *path: str) -> float | None:
    node: Any = metrics
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    if isinstance(node, bool) or not isinstance(node, int | float):
        return None
    return float(node)


def _label(run: Mapping[str, Any]) -> str:
    started = run.get("started_at")
    return started.strftime("%m-%d %H:%M") if isinstance(started, datetime) else str(started)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], css: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def render_eval_page(data: PageData) -> str:
    """The whole /eval page as HTML (inline CSS and SVG only)."""
    runs = list(data.runs)
    labels = [_label(r) for r in runs]
    metrics = [r.get("metrics") or {} for r in runs]
    latest = metrics[-1] if metrics else {}
    k = int(_get(latest, "retrieval", "k") or 5)
    sections: list[str] = []

    if not runs:
        sections.append(
            '<p class="empty">No evaluation run yet: run <code>pmark eval run</code>.</p>'
        )
    else:
        run = runs[-1]
        summary = [
            ("run", f"#{run.get('id')} · {_label(run)} · v{run.get('version', '?')}"),
            (f"P@{k}", _pct(_get(latest, "retrieval", "precision_at_k"))),
            ("MRR", _pct(_get(latest, "retrieval", "mrr"))),
            (f"nDCG@{k}", _pct(_get(latest, "retrieval", "ndcg_at_k"))),
            ("parsing", _pct(_get(latest, "parsing", "weighted_accuracy"))),
            ("queries", str(int(_get(latest, "retrieval", "n") or 0))),
            ("sentences", str(int(_get(latest, "parsing", "n") or 0))),
        ]
        sections.append(
            '<div class="tiles">'
            + "".join(
                f'<div class="tile"><span>{escape(t)}</span><b>{escape(v)}</b></div>'
                for t, v in summary
            )
            + "</div>"
        )
        retrieval = {
            f"P@{k}": [_get(m, "retrieval", "precision_at_k") for m in metrics],
            f"Recall@{k}": [_get(m, "retrieval", "recall_at_k") for m in metrics],
            "MRR": [_get(m, "retrieval", "mrr") for m in metrics],
            f"nDCG@{k}": [_get(m, "retrieval", "ndcg_at_k") for m in metrics],
        }
        sections.append("<h2>Retrieval</h2>")
        sections.append(line_chart("chart-retrieval", "Retrieval over runs", labels, retrieval))
        judged = {
            "judged precision": [_get(m, "feedback", "precision") for m in metrics],
            "judgment coverage": [_get(m, "feedback", "coverage") for m in metrics],
        }
        if any(v is not None for vs in judged.values() for v in vs):
            sections.append(
                line_chart("chart-feedback-judged", "On supervisors' thumbs", labels, judged)
            )
        by_field = {"weighted": [_get(m, "parsing", "weighted_accuracy") for m in metrics]}
        by_field |= {
            f: [_get(m, "parsing", "field_accuracy", f) for m in metrics] for f in PARSE_FIELDS
        }
        languages = sorted(
            {lang for m in metrics for lang in ((m.get("parsing") or {}).get("by_language") or {})}
        )
        sections.append("<h2>Parsing</h2>")
        sections.append(line_chart("chart-parsing-fields", "Accuracy by field", labels, by_field))
        if languages:
            by_lang = {
                lang: [_get(m, "parsing", "by_language", lang) for m in metrics]
                for lang in languages
            }
            sections.append(
                line_chart(
                    "chart-parsing-languages", "Weighted accuracy by language", labels, by_lang
                )
            )

    worst = worst_queries(data.latest_details, 10)
    if worst:
        rows = []
        for w in worst:
            got = "<br>".join(
                f"{escape(str(i))} — {escape(str(t))}"
                for i, t in zip(
                    w["retrieved"], w["titles"] or [""] * len(w["retrieved"]), strict=False
                )
            )
            rows.append(
                [
                    escape(str(w["query"])),
                    _pct(w.get("precision")),
                    _pct(w.get("ndcg")),
                    got or "<i>nothing</i>",
                    escape(", ".join(w["relevant"])),
                ]
            )
        sections.append("<h2>Worst queries of the latest run</h2>")
        sections.append(_table(["query", f"P@{k}", "nDCG", "retrieved", "relevant"], rows, "worst"))

    sections.append("<h2>Feedback</h2>")
    if data.feedback_by_day:
        days = [d for d, _, _ in data.feedback_by_day]
        fb_series: dict[str, Sequence[float | None]] = {
            "thumbs up": [float(u) for _, u, _ in data.feedback_by_day],
            "thumbs down": [float(dn) for _, _, dn in data.feedback_by_day],
        }
        sections.append(
            line_chart("chart-feedback", "Thumbs per day (30 days)", days, fb_series, percent=False)
        )
    else:
        sections.append('<p class="empty">No thumbs yet.</p>')

    sections.append("<h2>Latency</h2>")
    stage_series = {
        f"{node} p95 (ms)": [_get(m, "perf", node, "p95_ms") for m in metrics]
        for node in ("parse", "retrieve")
    }
    if any(v is not None for vs in stage_series.values() for v in vs):
        sections.append(
            line_chart(
                "chart-eval-latency",
                "Evaluation runs: p95 per query",
                labels,
                stage_series,
                percent=False,
            )
        )
    if data.latency:
        nodes = sorted(data.latency.items())
        sections.append(
            bar_rows(
                "chart-node-latency",
                [(n, float(s["p95_ms"]), s.get("baseline_ms")) for n, s in nodes],
            )
        )
        rows = [
            [
                escape(n),
                str(int(s.get("count", 0))),
                f"{s['p50_ms']:,.1f}",
                f"{s['p95_ms']:,.1f}",
                f"{s['baseline_ms']:,.1f}" if s.get("baseline_ms") else "–",
                f"{threshold_for(n)}×",
            ]
            for n, s in nodes
        ]
        sections.append(
            _table(["node", "count", "p50 ms", "p95 ms", "baseline ms", "limit"], rows, "latency")
        )
    else:
        sections.append('<p class="empty">No live node timings in this process yet.</p>')

    if data.comparisons:
        rows = []
        for c in data.comparisons:
            m = c.get("metrics") or {}
            diffs = m.get("difference") or {}
            pvals = m.get("p_value") or {}
            cells = ", ".join(
                f"{escape(name)} {diffs[name] * 100:+.1f}pp (p={pvals.get(name, float('nan')):.3f})"
                for name in diffs
            )
            a, b = (m.get("a") or {}).get("name", "?"), (m.get("b") or {}).get("name", "?")
            rows.append([f"#{c.get('id')} {_label(c)}", escape(f"{a} vs {b}"), cells])
        sections.append("<h2>A/B comparisons</h2>")
        sections.append(_table(["run", "A vs B", "A − B"], rows, "compare"))

    if data.failed:
        rows = [
            [f"#{f.get('id')}", escape(_label(f)), escape(str(f.get("error", ""))[:300])]
            for f in data.failed
        ]
        sections.append("<h2>Failed runs</h2>")
        sections.append(_table(["run", "started", "error"], rows, "failed"))

    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>PMark evaluation</title>
<style>
body{{font-family:system-ui,"Noto Sans CJK KR",sans-serif;margin:24px;color:#222;max-width:1000px}}
h1{{font-size:22px}} h2{{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}}
figure{{margin:12px 0}} figcaption{{font-weight:600;margin-bottom:4px}}
.legend .key{{margin-right:14px;font-size:13px}}
.legend i{{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}}
.tiles{{display:flex;flex-wrap:wrap;gap:8px}}
.tile{{border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:90px}}
.tile span{{display:block;font-size:12px;color:#666}} .tile b{{font-size:18px}}
table{{border-collapse:collapse;font-size:13px;margin:8px 0}}
td,th{{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}}
.empty{{color:#777}}
</style></head>
<body><h1>PMark evaluation</h1>
<p class="empty">generated {escape(data.generated_at)}</p>
{"".join(sections)}
</body></html>
"""


# Data and route --------------------------------------------------------------------------------


def feedback_by_day(
    rows: Sequence[Mapping[str, Any]], now: datetime, days: int = 30
) -> list[tuple[str, int, int]]:
    """(day, 👍, 👎) for each of the last `days` days, oldest first."""
    start = (now - timedelta(days=days - 1)).date()
    up: Counter[str] = Counter()
    down: Counter[str] = Counter()
    for row in rows:
        created = row.get("created_at")
        if not isinstance(created, datetime) or created.date() < start:
            continue
        day = created.date().isoformat()
        if row.get("vote", 0) > 0:
            up[day] += 1
        elif row.get("vote", 0) < 0:
            down[day] += 1
    out = []
    for i in range(days):
        day = (start + timedelta(days=i)).isoformat()
        out.append((day[5:], up[day], down[day]))
    return out if (sum(up.values()) + sum(down.values())) else []


def load_page_data(ctx: PMark, limit: int = 120) -> PageData:
    """Read the runs, the latest run's details and the feedback from the database."""
    repo = ctx.repo
    runs = run_summaries(repo, limit=limit)
    full = full_runs(runs)
    now = utcnow()
    return PageData(
        runs=list(reversed(full)),
        latest_details=run_details(repo, int(full[0]["id"])) if full else {},
        feedback_by_day=feedback_by_day(repo.feedback(since=now - timedelta(days=31)), now),
        latency=live_node_latency(),
        failed=[r for r in runs if r.get("status") == "failed"][:10],
        comparisons=[
            r
            for r in runs
            if r.get("status") == "ok" and (r.get("config") or {}).get("kind") == "compare"
        ][:10],
        generated_at=now.isoformat(timespec="seconds") + "Z",
    )


def authorized(request: web.Request, token: SecretStr | None) -> bool:
    """Bearer header or ?token= equal to the admin token (never when no token is configured)."""
    if token is None or not token.get_secret_value():
        return False
    expected = token.get_secret_value().encode()
    header = request.headers.get("Authorization", "")
    given = header[7:].strip() if header.lower().startswith("bearer ") else ""
    given = given or request.query.get("token", "")
    return hmac.compare_digest(given.encode(), expected)


def eval_routes(ctx: PMark) -> list[web.RouteDef]:
    """GET /eval (HTML), behind settings.admin_token; mount with app.add_routes(...)."""

    async def eval_page(request: web.Request) -> web.Response:
        if not authorized(request, ctx.settings.admin_token):
            return web.Response(
                status=401,
                text="401: admin token required (Authorization: Bearer … or ?token=…)\n",
                headers={"WWW-Authenticate": 'Bearer realm="pmark-eval"'},
            )
        # Reading and rendering (SVG charts, tables) both off the event loop.
        page = await asyncio.to_thread(lambda: render_eval_page(load_page_data(ctx)))
        return web.Response(
            text=page,
            content_type="text/html",
            charset="utf-8",
            headers={
                "Content-Security-Policy": _CSP,
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
            },
        )

    return [web.get("/eval", eval_page)]
