"""The real app on loopback, a stub of the Teams/Slack services, one small plant per session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from adapters.channels.botframework import BotFrameworkEndpoints
from adapters.settings import Settings
from agent.context import PMark
from bot.app import build_app
from tests.bot.support import (
    APP_ID,
    APP_PASSWORD,
    BOT_TOKEN,
    ISSUER,
    SIGNING_SECRET,
    Stub,
    write_plant,
)

SUPERVISOR_AAD = "aad-supervisor"
SUPERVISOR_SLACK = "USUPERVISOR"


def make_settings(data_dir: Path, stub: Stub, **overrides: Any) -> Settings:
    """Settings isolated from the environment: embedded index, SQLite, no LLM."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": None,
        "postgres_url": None,
        "weaviate_url": None,
        "llm_url": None,
        "microsoft_app_id": APP_ID,
        "microsoft_app_password": SecretStr(APP_PASSWORD),
        "microsoft_app_type": "MultiTenant",
        "slack_bot_token": SecretStr(BOT_TOKEN),
        "slack_signing_secret": SecretStr(SIGNING_SECRET),
        "slack_api_url": f"{stub.base}/api/",
        "supervisors": [SUPERVISOR_AAD, SUPERVISOR_SLACK],
        "rate_limit_per_minute": 1000,
        "max_body_bytes": 1_000_000,
    }
    values.update(overrides)
    return Settings(**values)


def endpoints_for(stub: Stub) -> BotFrameworkEndpoints:
    """Bot Framework endpoints served by the stub."""
    return BotFrameworkEndpoints(
        openid_metadata_url=f"{stub.base}/openid",
        token_issuer=ISSUER,
        login_url=f"{stub.base}/botframework.com",
        oauth_scope="https://api.botframework.com",
    )


@dataclass
class Running:
    """A started app: its base URL, the app object and the stub it talks to."""

    base: str
    app: web.Application
    stub: Stub
    http: aiohttp.ClientSession

    @property
    def service_url(self) -> str:
        return self.stub.base + "/"

    async def post_activity(
        self, activity: dict[str, Any], token: str | None = "valid"
    ) -> aiohttp.ClientResponse:
        headers = {"Content-Type": "application/json"}
        if token == "valid":
            token = self.stub.channel_token(activity.get("serviceUrl", self.service_url))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.http.post(
            f"{self.base}/api/messages", json=activity, headers=headers
        ) as resp:
            await resp.read()
            return resp


@pytest.fixture(scope="session")
async def stub() -> AsyncIterator[Stub]:
    s = Stub()
    await s.start()
    yield s
    await s.stop()


@pytest.fixture(scope="session")
def plant_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("plant")


@pytest.fixture(scope="session")
def plant(plant_dir: Path, stub: Stub) -> PMark:
    """The session's PMark context: a generated catalog and history, embedder loaded once."""
    catalog, history = write_plant(plant_dir / "csv")
    ctx = PMark(make_settings(plant_dir / "data", stub))
    ctx.import_catalog(catalog, replace=True)
    ctx.import_notifications(history)
    return ctx


async def start(app: web.Application, stub: Stub) -> tuple[web.AppRunner, Running]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    http = aiohttp.ClientSession()
    return runner, Running(f"http://127.0.0.1:{port}", app, stub, http)


@pytest.fixture(scope="module")
async def served(plant: PMark, stub: Stub) -> AsyncIterator[Running]:
    """The app with Teams (JWT auth against the stub) and Slack configured."""
    app = build_app(plant.settings, ctx=plant, endpoints=endpoints_for(stub))
    runner, running = await start(app, stub)
    yield running
    await running.http.close()
    await runner.cleanup()
