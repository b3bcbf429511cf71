"""An agent over the small test catalog, on SQLite or the real PostgreSQL checkpointer."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.settings import Settings
from agent.context import PMark
from agent.runner import Agent
from agent.service import open_agent
from tests.conftest import service_url
from tests.sample_data import write_catalog, write_history


@pytest.fixture(scope="module")
def loaded_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with the test catalog and history imported."""
    data = tmp_path_factory.mktemp("agent-data")
    ctx = PMark(Settings(data_dir=data))
    ctx.import_catalog(write_catalog(data / "catalog.csv"))
    ctx.import_notifications(write_history(data / "history.csv"))
    ctx.repo.close()
    return data


@pytest.fixture(params=["sqlite", "postgres"])
def checkpoint_url(request: pytest.FixtureRequest) -> str | None:
    """None for SQLite checkpoints, else the test PostgreSQL URL."""
    if request.param == "sqlite":
        return None
    return service_url("PMARK_TEST_CHECKPOINT_URL", "PostgreSQL")


@pytest.fixture
async def agent(loaded_dir: Path, checkpoint_url: str | None) -> AsyncIterator[Agent]:
    """An Agent on the loaded data dir."""
    settings = Settings(data_dir=loaded_dir, postgres_url=checkpoint_url)
    async with open_agent(PMark(settings)) as a:
        yield a


def env_for(data_dir: Path, checkpoint_url: str | None) -> dict[str, str]:
    """Environment of a `pmark` subprocess on the loaded data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PMARK_")}
    env["PMARK_DATA_DIR"] = str(data_dir)
    if checkpoint_url:
        env["PMARK_POSTGRES_URL"] = checkpoint_url
    return env
