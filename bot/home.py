"""GET /: what this `pmark serve` runs (version, backends, channels) and where to go from here.

Public like the probes, so it names kinds of backends only: never a URL, host, user or secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from importlib import metadata

from aiohttp import web

from adapters.settings import Settings
from bot.health import READY

_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


@dataclass(frozen=True)
class Status:
    """What the home page shows; built from the settings alone."""

    version: str
    database: str
    checkpoints: str
    search: str
    llm: bool
    teams: str
    slack: bool
    playground: str | None


def _version() -> str:
    try:
        return metadata.version("pmark")
    except metadata.PackageNotFoundError:
        return "unknown"


def status_of(settings: Settings) -> Status:
    """The kinds of backends and channels these settings configure."""
    scheme = settings.sqlalchemy_url().split(":", 1)[0].split("+", 1)[0]
    database = {"sqlite": "SQLite (embedded)", "postgresql": "PostgreSQL"}.get(scheme, scheme)
    if settings.microsoft_app_id:
        teams = "Azure Bot (authenticated)"
    else:
        teams = "emulator mode: unauthenticated, for the Agents Playground only"
    return Status(
        version=_version(),
        database=database,
        checkpoints="PostgreSQL" if settings.postgres_url else "SQLite (embedded)",
        search=(
            "Weaviate, embedded index as fallback"
            if settings.weaviate_url
            else "embedded hybrid index (BM25 + vectors)"
        ),
        llm=bool(settings.llm_url),
        teams=teams,
        slack=bool(settings.slack_bot_token and settings.slack_signing_secret),
        playground=_http_url(settings.playground_url),
    )


def _http_url(url: str | None) -> str | None:
    """Only an http(s) URL becomes a link (the setting comes from the environment)."""
    if url and url.startswith(("http://", "https://")):
        return url
    return None


def render_home(status: Status, ready: bool) -> str:
    """The page: a short table and links; no scripts, no external resources."""

    def yes(flag: bool) -> str:
        return "yes" if flag else "no"

    rows = [
        ("Version", status.version),
        ("State", "ready" if ready else "starting"),
        ("Database", status.database),
        ("Conversation state", status.checkpoints),
        ("Search", status.search),
        ("Language model", yes(status.llm) + ("" if status.llm else " (templated answers)")),
        ("Teams", status.teams),
        ("Slack", "configured" if status.slack else "not configured"),
    ]
    table = "\n".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    links = []
    if status.playground:
        links.append(
            f'<li><a href="{escape(status.playground)}">Agents Playground</a>: chat with PMark '
            "as in Teams</li>"
        )
    links += [
        '<li><a href="/eval">/eval</a>: evaluation runs (admin token)</li>',
        '<li><a href="/healthz">/healthz</a>: the process answers</li>',
        '<li><a href="/readyz">/readyz</a>: its dependencies answer</li>',
        '<li><a href="/metrics">/metrics</a>: Prometheus metrics</li>',
    ]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>PMark</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:46rem}}
th{{text-align:left;padding-right:1.5rem;font-weight:600}}td,th{{padding:.2rem 0}}</style>
</head><body>
<h1>PMark is running</h1>
<p>Maintenance notifications from what technicians write, in Teams and Slack.
Messages arrive at <code>/api/messages</code> (Teams) and <code>/slack/*</code> (Slack).</p>
<table id="status">
{table}
</table>
<h2>Links</h2>
<ul id="links">
{chr(10).join(links)}
</ul>
</body></html>
"""


def home_routes(settings: Settings) -> list[web.RouteDef]:
    """GET / (HTML)."""
    status = status_of(settings)

    async def home(request: web.Request) -> web.Response:
        ready = request.app.get(READY)
        return web.Response(
            text=render_home(status, ready is not None and ready.is_set()),
            content_type="text/html",
            charset="utf-8",
            headers={"Content-Security-Policy": _CSP, "Cache-Control": "no-store"},
        )

    return [web.get("/", home)]
