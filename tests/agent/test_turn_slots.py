"""More concurrent turns than lock connections: they wait their turn, none reads as an outage."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from prometheus_client import REGISTRY

from adapters.settings import Settings
from agent.checkpointer import open_checkpointer
from agent.context import PMark
from agent.deps import AgentDeps
from agent.runner import Agent
from tests.conftest import service_url


def _retries() -> float:
    return REGISTRY.get_sample_value("pmark_database_retries_total", {"what": "turn"}) or 0.0


async def test_turns_beyond_the_lock_pool_wait_instead_of_timing_out(loaded_dir: Path) -> None:
    url = service_url("PMARK_TEST_CHECKPOINT_URL", "PostgreSQL")
    # A pool wait this short would time out the turns queued behind the first few.
    settings = Settings(data_dir=loaded_dir, postgres_url=url, db_connect_timeout=0.05)
    ctx = PMark(settings)
    deps = AgentDeps.from_context(ctx)
    async with open_checkpointer(settings, max_size=1) as checkpointing:
        assert checkpointing.lock_pool is not None and checkpointing.lock_pool.max_size == 2
        agent = Agent(deps, checkpointing, ctx.repo)
        before = _retries()
        threads = [f"test:slots-{uuid.uuid4().hex[:6]}-{i}" for i in range(12)]
        answers = await asyncio.gather(*(agent.turn(t, "부산공장 펌프 누유 긴급") for t in threads))
        await agent.settle()
    assert [a["kind"] for a in answers] == ["answer"] * len(threads)
    assert _retries() == before  # no turn took the pool's timeout for a lost connection
