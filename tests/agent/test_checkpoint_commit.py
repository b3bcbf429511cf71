"""Checkpoint writes skip the WAL-flush wait unless configured, and keep the URL's own options."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from adapters.settings import Settings
from agent.checkpointer import open_checkpointer
from agent.context import PMark
from agent.service import open_agent
from tests.conftest import service_url


async def _show(settings: Settings, name: str) -> str:
    async with open_checkpointer(settings) as checkpointing:
        assert checkpointing.pool is not None
        async with checkpointing.pool.connection() as conn:
            row = await (await conn.execute(f"show {name}")).fetchone()
    assert row is not None
    return str(row[name])


@pytest.mark.parametrize(("wait", "expected"), [(False, "off"), (True, "on")])
async def test_synchronous_commit_follows_the_setting(
    tmp_path: Path, wait: bool, expected: str
) -> None:
    url = service_url("PMARK_TEST_CHECKPOINT_URL", "PostgreSQL")
    settings = Settings(data_dir=tmp_path, postgres_url=url, checkpoint_synchronous_commit=wait)
    assert await _show(settings, "synchronous_commit") == expected


async def test_options_given_in_the_url_are_kept(tmp_path: Path) -> None:
    url = service_url("PMARK_TEST_CHECKPOINT_URL", "PostgreSQL")
    separator = "&" if "?" in url else "?"
    settings = Settings(
        data_dir=tmp_path,
        postgres_url=f"{url}{separator}options=-c%20application_name%3Dpmark-test-opts",
    )
    assert await _show(settings, "application_name") == "pmark-test-opts"
    assert await _show(settings, "synchronous_commit") == "off"


async def test_a_turn_writes_its_checkpoints_on_its_lock_connection(
    loaded_dir: Path,
) -> None:
    """No pool checkout per checkpoint statement, and two conversations write side by side."""
    url = service_url("PMARK_TEST_CHECKPOINT_URL", "PostgreSQL")
    settings = Settings(data_dir=loaded_dir, postgres_url=url)
    async with open_agent(PMark(settings)) as agent:
        pool = agent.checkpointing.pool
        assert pool is not None
        await agent.turn(f"test:warm-{uuid.uuid4().hex[:6]}", "펌프 누유")
        before = pool.get_stats().get("requests_num", 0)
        threads = [f"test:scoped-{uuid.uuid4().hex[:6]}" for _ in range(2)]
        answers = await asyncio.gather(*(agent.turn(t, "부산공장 펌프 누유 긴급") for t in threads))
        assert pool.get_stats().get("requests_num", 0) == before
        for thread, answer in zip(threads, answers, strict=True):
            assert answer["kind"] == "answer" and answer["recommendations"]
            history = [
                c
                async for c in agent.checkpointing.saver.alist(
                    {"configurable": {"thread_id": thread}}
                )
            ]
            assert len(history) > 5  # one per node: crash-resumable between nodes
            assert (await agent.state(thread))["notification"]["location"]["code"] == "BUS"
