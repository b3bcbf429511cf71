"""GET /: what is running and where to go, with no secret, host or user name in it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from adapters.settings import Settings
from bot.health import READY
from bot.home import home_routes, render_home, status_of
from tests.bot.support import APP_ID, APP_PASSWORD, BOT_TOKEN, SIGNING_SECRET
from tests.fake_secrets import ADMIN_TOKEN, LLM_API_KEY

PG_PASSWORD = "pg-home-Wq8rT3"
WEAVIATE_KEY = "weaviate-home-Kd4nP7"


def _settings(tmp_path: Path, **values: Any) -> Settings:
    base: dict[str, Any] = {
        "data_dir": tmp_path,
        "database_url": None,
        "postgres_url": None,
        "weaviate_url": None,
        "llm_url": None,
        "microsoft_app_id": None,
        "microsoft_app_password": None,
        "slack_bot_token": None,
        "slack_signing_secret": None,
        "playground_url": None,
    }
    base.update(values)
    return Settings(_env_file=None, **base)  # type: ignore[call-arg]


def _configured(tmp_path: Path) -> Settings:
    return _settings(
        tmp_path,
        database_url=f"postgresql+psycopg://pmark:{PG_PASSWORD}@db.plant.internal:5432/pmark",
        postgres_url=f"postgresql://pmark:{PG_PASSWORD}@db.plant.internal:5432/pmark",
        weaviate_url="http://weaviate.plant.internal:8080",
        weaviate_api_key=SecretStr(WEAVIATE_KEY),
        llm_url="http://llm.plant.internal:8000/v1",
        llm_api_key=SecretStr(LLM_API_KEY),
        microsoft_app_id=APP_ID,
        microsoft_app_password=SecretStr(APP_PASSWORD),
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        admin_token=SecretStr(ADMIN_TOKEN),
        supervisors=["aad-supervisor-home"],
    )


def test_embedded_defaults_are_named_and_the_emulator_mode_is_flagged(tmp_path: Path) -> None:
    page = render_home(status_of(_settings(tmp_path)), ready=True)
    assert "<h1>PMark is running</h1>" in page
    assert "SQLite (embedded)" in page and "embedded hybrid index" in page
    assert "<th>Language model</th><td>no (templated answers)</td>" in page
    assert "emulator mode" in page and "<th>Slack</th><td>not configured</td>" in page
    assert "<th>State</th><td>ready</td>" in page
    for link in ("/eval", "/healthz", "/readyz"):
        assert f'href="{link}"' in page
    assert "Agents Playground</a>" not in page


def test_configured_backends_are_named_without_secrets_hosts_or_ids(tmp_path: Path) -> None:
    settings = _configured(tmp_path)
    page = render_home(status_of(settings), ready=False)
    assert "<th>Database</th><td>PostgreSQL</td>" in page
    assert "<th>Conversation state</th><td>PostgreSQL</td>" in page
    assert "Weaviate" in page and "<th>Language model</th><td>yes</td>" in page
    assert "Azure Bot (authenticated)" in page and "<th>Slack</th><td>configured</td>" in page
    assert "<th>State</th><td>starting</td>" in page
    for secret in (
        PG_PASSWORD,
        WEAVIATE_KEY,
        LLM_API_KEY,
        APP_PASSWORD,
        APP_ID,
        BOT_TOKEN,
        SIGNING_SECRET,
        ADMIN_TOKEN,
        "plant.internal",
        "aad-supervisor-home",
        str(tmp_path),
    ):
        assert secret not in page, secret


def test_the_playground_is_linked_when_started_and_only_as_an_http_url(tmp_path: Path) -> None:
    page = render_home(
        status_of(_settings(tmp_path, playground_url="http://127.0.0.1:56150")), True
    )
    assert '<a href="http://127.0.0.1:56150">Agents Playground</a>' in page
    for bad in ("javascript:alert(1)", '"><script>x</script>'):
        page = render_home(status_of(_settings(tmp_path, playground_url=bad)), True)
        assert "Agents Playground</a>" not in page and "<script>" not in page


async def test_get_root_serves_the_page_and_follows_readiness(tmp_path: Path) -> None:
    app = web.Application()
    app[READY] = asyncio.Event()
    app.add_routes(home_routes(_configured(tmp_path)))
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        resp = await client.get("/")
        assert resp.status == 200 and resp.content_type == "text/html"
        assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
        assert "<td>starting</td>" in await resp.text()
        app[READY].set()
        body = await (await client.get("/")).text()
        assert "<td>ready</td>" in body and APP_PASSWORD not in body
