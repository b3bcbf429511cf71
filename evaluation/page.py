"""The /eval page: runs over time as inline SVG charts, worst queries, feedback, latency, and the
latest embedding-model comparison side by side.

`render_eval_page` is pure (data in, HTML out; no scripts, no external resources): it turns
`PageData` into a view model that the Jinja2 template evaluation/templates/eval.html renders with
autoescaping; the charts come from evaluation/svg.py. `eval_routes(ctx)` gives the aiohttp route,
behind settings.admin_token (Bearer header or ?token=).
"""

from __future__ import annotations

import asyncio
import hmac
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

import jinja2
from aiohttp import web
from markupsafe import Markup

from adapters.sql.repository import utcnow
from evaluation.embedding_view import embedding_section, latest_embedding_run, value_at
from evaluation.metrics import PARSE_FIELDS
from evaluation.perf import threshold_for
from evaluation.quantiles import live_node_latency
from evaluation.runs import full_runs, run_details, run_summaries, worst_queries
from evaluation.svg import bar_rows, line_chart

if TYPE_CHECKING:
    from pydantic import SecretStr

    from agent.context import PMark

__all__ = [
    "PageData",
    "authorized",
    "eval_routes",
    "feedback_by_day",
    "line_chart",
    "load_page_data",
    "render_eval_page",
]

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
    embeddings: Mapping[str, Any] | None = None  # the latest successful embeddings run


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("evaluation", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("eval.html")


def _get(metrics: Mapping[str, Any] | None, *path: str) -> float | None:
    return value_at(metrics, path)


def _label(run: Mapping[str, Any]) -> str:
    started = run.get("started_at")
    return started.strftime("%m-%d %H:%M") if isinstance(started, datetime) else str(started)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _has_values(series: Mapping[str, Sequence[float | None]]) -> bool:
    return any(v is not None for vs in series.values() for v in vs)


def _tiles(run: Mapping[str, Any], latest: Mapping[str, Any], k: int) -> list[tuple[str, str]]:
    return [
        ("run", f"#{run.get('id')} · {_label(run)} · v{run.get('version', '?')}"),
        (f"P@{k}", _pct(_get(latest, "retrieval", "precision_at_k"))),
        ("MRR", _pct(_get(latest, "retrieval", "mrr"))),
        (f"nDCG@{k}", _pct(_get(latest, "retrieval", "ndcg_at_k"))),
        ("parsing", _pct(_get(latest, "parsing", "weighted_accuracy"))),
        ("queries", str(int(_get(latest, "retrieval", "n") or 0))),
        ("sentences", str(int(_get(latest, "parsing", "n") or 0))),
    ]


def _retrieval_charts(labels: list[str], metrics: list[Any], k: int) -> list[Markup]:
    retrieval = {
        f"P@{k}": [_get(m, "retrieval", "precision_at_k") for m in metrics],
        f"Recall@{k}": [_get(m, "retrieval", "recall_at_k") for m in metrics],
        "MRR": [_get(m, "retrieval", "mrr") for m in metrics],
        f"nDCG@{k}": [_get(m, "retrieval", "ndcg_at_k") for m in metrics],
    }
    charts = [line_chart("chart-retrieval", "Retrieval over runs", labels, retrieval)]
    judged = {
        "judged precision": [_get(m, "feedback", "precision") for m in metrics],
        "judgment coverage": [_get(m, "feedback", "coverage") for m in metrics],
    }
    if _has_values(judged):
        charts.append(line_chart("chart-feedback-judged", "On supervisors' thumbs", labels, judged))
    return charts


def _parsing_charts(labels: list[str], metrics: list[Any]) -> list[Markup]:
    by_field = {"weighted": [_get(m, "parsing", "weighted_accuracy") for m in metrics]}
    by_field |= {
        f: [_get(m, "parsing", "field_accuracy", f) for m in metrics] for f in PARSE_FIELDS
    }
    charts = [line_chart("chart-parsing-fields", "Accuracy by field", labels, by_field)]
    languages = sorted(
        {lang for m in metrics for lang in ((m.get("parsing") or {}).get("by_language") or {})}
    )
    if languages:
        by_lang = {
            lang: [_get(m, "parsing", "by_language", lang) for m in metrics] for lang in languages
        }
        charts.append(
            line_chart("chart-parsing-languages", "Weighted accuracy by language", labels, by_lang)
        )
    return charts


def _worst(details: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "query": str(w["query"]),
            "precision": _pct(w.get("precision")),
            "ndcg": _pct(w.get("ndcg")),
            "retrieved": [
                (str(i), str(t))
                for i, t in zip(
                    w["retrieved"], w["titles"] or [""] * len(w["retrieved"]), strict=False
                )
            ],
            "relevant": ", ".join(w["relevant"]),
        }
        for w in worst_queries(details, 10)
    ]


def _comparison_rows(comparisons: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    rows = []
    for c in comparisons:
        m = c.get("metrics") or {}
        diffs = m.get("difference") or {}
        pvals = m.get("p_value") or {}
        cells = ", ".join(
            f"{name} {diffs[name] * 100:+.1f}pp (p={pvals.get(name, float('nan')):.3f})"
            for name in diffs
        )
        a, b = (m.get("a") or {}).get("name", "?"), (m.get("b") or {}).get("name", "?")
        rows.append([f"#{c.get('id')} {_label(c)}", f"{a} vs {b}", cells])
    return rows


def render_eval_page(data: PageData) -> str:
    """The whole /eval page as HTML (inline CSS and SVG only)."""
    runs = list(data.runs)
    labels = [_label(r) for r in runs]
    metrics = [r.get("metrics") or {} for r in runs]
    latest = metrics[-1] if metrics else {}
    k = int(_get(latest, "retrieval", "k") or 5)
    view: dict[str, Any] = {
        "generated_at": data.generated_at,
        "k": k,
        "tiles": _tiles(runs[-1], latest, k) if runs else [],
        "retrieval_charts": _retrieval_charts(labels, metrics, k) if runs else [],
        "parsing_charts": _parsing_charts(labels, metrics) if runs else [],
        "worst": _worst(data.latest_details),
        "feedback_chart": None,
        "eval_latency_chart": None,
        "node_bars": None,
        "node_rows": [],
        "embeddings": embedding_section(data.embeddings) if data.embeddings else None,
        "comparisons": _comparison_rows(data.comparisons),
        "failed": [
            [f"#{f.get('id')}", _label(f), str(f.get("error", ""))[:300]] for f in data.failed
        ],
    }
    if data.feedback_by_day:
        days = [d for d, _, _ in data.feedback_by_day]
        fb_series: dict[str, Sequence[float | None]] = {
            "thumbs up": [float(u) for _, u, _ in data.feedback_by_day],
            "thumbs down": [float(dn) for _, _, dn in data.feedback_by_day],
        }
        view["feedback_chart"] = line_chart(
            "chart-feedback", "Thumbs per day (30 days)", days, fb_series, percent=False
        )
    stage_series = {
        f"{node} p95 (ms)": [_get(m, "perf", node, "p95_ms") for m in metrics]
        for node in ("parse", "retrieve")
    }
    if _has_values(stage_series):
        view["eval_latency_chart"] = line_chart(
            "chart-eval-latency",
            "Evaluation runs: p95 per query",
            labels,
            stage_series,
            percent=False,
        )
    if data.latency:
        nodes = sorted(data.latency.items())
        view["node_bars"] = bar_rows(
            "chart-node-latency",
            [(n, float(s["p95_ms"]), s.get("baseline_ms")) for n, s in nodes],
            [threshold_for(n) for n, _ in nodes],
        )
        view["node_rows"] = [
            [
                n,
                str(int(s.get("count", 0))),
                f"{s['p50_ms']:,.1f}",
                f"{s['p95_ms']:,.1f}",
                f"{s['baseline_ms']:,.1f}" if s.get("baseline_ms") else "–",
                f"{threshold_for(n)}×",
            ]
            for n, s in nodes
        ]
    return _template().render(view)


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
        embeddings=latest_embedding_run(runs),
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
