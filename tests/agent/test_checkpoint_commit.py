"""Checkpoint writes skip the WAL-flush wait unless configured, and keep the URL's own options."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import psycopg
import pytest

from adapters.settings import Settings
from agent.checkpointer import open_checkpointer
from agent.context import PMark
from agent.pgsaver import turn_connection
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
    settings = Settings(data_dir=loaded_dir, postgres_url=url, checkpoint_durability="async")
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
            # One per superstep (async durability): the input, understand, answer.
            assert len(history) >= 3
            assert (await agent.state(thread))["notification"]["location"]["code"] == "BUS"


async def test_by_default_a_turn_is_checkpointed_once_when_it_ends(loaded_dir: Path) -> None:
    url = service_url("PMARK_TEST_CHECKPOINT_URL", "PostgreSQL")
    async with open_agent(PMark(Settings(data_dir=loaded_dir, postgres_url=url))) as agent:
        thread = f"test:exit-{uuid.uuid4().hex[:6]}"
        assert (await agent.turn(thread, "펌프 누유"))["kind"] == "question"
        answer = await agent.turn(thread, "부산공장 긴급")
        assert answer["kind"] == "answer" and answer["recommendations"]
        config = {"configurable": {"thread_id": thread}}
        history = [c async for c in agent.checkpointing.saver.alist(config)]
        assert len(history) == 2  # the question's, then the answer's
        assert (await agent.state(thread))["notification"]["location"]["code"] == "BUS"


async def test_queued_checkpoint_writes_are_all_stored_and_a_lost_one_fails_the_turn(
    tmp_path: Path,
) -> None:
    """Writes queued during a turn are all stored when it ends; one the server never got makes
    the turn fail (so it is retried), instead of the lock being released over a gap."""
    url = service_url("PMARK_TEST_CHECKPOINT_URL", "PostgreSQL")
    settings = Settings(data_dir=tmp_path, postgres_url=url)
    async with open_checkpointer(settings) as checkpointing:
        saver, locks = checkpointing.saver, checkpointing.lock_pool
        assert locks is not None
        thread = f"test:queued-{uuid.uuid4().hex[:6]}"
        config = {"configurable": {"thread_id": thread, "checkpoint_ns": "", "checkpoint_id": "1"}}
        async with locks.connection() as conn, turn_connection(conn):
            for i in range(5):
                await saver.aput_writes(config, [("channel", {"n": i})], f"task-{i}")
        stored = await saver.aget_tuple(
            {"configurable": {"thread_id": thread, "checkpoint_id": "1"}}
        )
        assert stored is None  # writes without their checkpoint are not a checkpoint...
        async with locks.connection() as conn:
            rows = await (
                await conn.execute(
                    "select task_id from checkpoint_writes where thread_id = %s order by task_id",
                    (thread,),
                )
            ).fetchall()
        assert [r[0] for r in rows] == [f"task-{i}" for i in range(5)]  # ...but all are stored

        with pytest.raises(psycopg.OperationalError):
            async with locks.connection() as conn, turn_connection(conn):
                async with locks.connection() as other:
                    await other.execute("select pg_terminate_backend(%s)", (conn.info.backend_pid,))
                await saver.aput_writes(config, [("channel", {"n": 9})], "task-lost")


async def test_checkpoint_blobs_are_compressed_with_lz4(tmp_path: Path) -> None:
    url = service_url("PMARK_TEST_CHECKPOINT_URL", "PostgreSQL")
    async with open_checkpointer(Settings(data_dir=tmp_path, postgres_url=url)) as checkpointing:
        assert checkpointing.pool is not None
        async with checkpointing.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "select attcompression::text as c from pg_attribute where attname = 'blob'"
                    " and attrelid in ('checkpoint_blobs'::regclass, 'checkpoint_writes'::regclass)"
                )
            ).fetchall()
    assert [r["c"] for r in rows] == ["l", "l"]


async def test_a_turn_reads_its_latest_checkpoint_once_until_it_writes(loaded_dir: Path) -> None:
    url = service_url("PMARK_TEST_CHECKPOINT_URL", "PostgreSQL")
    async with open_agent(PMark(Settings(data_dir=loaded_dir, postgres_url=url))) as agent:
        thread = f"test:latest-{uuid.uuid4().hex[:6]}"
        await agent.turn(thread, "펌프 누유")  # a question: the conversation waits for more
        saver, locks = agent.checkpointing.saver, agent.checkpointing.lock_pool
        assert locks is not None
        config = {"configurable": {"thread_id": thread}}
        async with locks.connection() as conn, turn_connection(conn):
            first = await saver.aget_tuple(config)
            assert first is not None and await saver.aget_tuple(config) is first
            await saver.aput_writes(first.config, [("asked", ["x"])], "task-x")
            again = await saver.aget_tuple(config)
            assert again is not first and again is not None
            assert ("task-x", "asked", ["x"]) in again.pending_writes  # the write is seen
        outside = await saver.aget_tuple(config)
        assert outside is not None and outside is not again


@pytest.mark.parametrize("full", [False, True])
async def test_pools_open_full_only_when_set(tmp_path: Path, full: bool) -> None:
    """PMARK_DB_POOL_OPEN_FULL: every connection is open before the first turn, or one each."""
    url = service_url("PMARK_TEST_CHECKPOINT_URL", "PostgreSQL")
    settings = Settings(data_dir=tmp_path, postgres_url=url, db_pool_open_full=full)
    async with open_checkpointer(settings, max_size=4) as checkpointing:
        assert checkpointing.pool is not None and checkpointing.lock_pool is not None
        sizes = (
            checkpointing.pool.get_stats()["pool_size"],
            checkpointing.lock_pool.get_stats()["pool_size"],
        )
    assert sizes == ((4, 8) if full else (1, 1))


async def test_a_checkpoint_without_writes_is_read_without_a_thread_hop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row without pending writes (a turn that ended) is decoded in place, as the parent
    class would decode it; a row with writes goes the parent's way."""
    from langgraph.checkpoint.base import empty_checkpoint
    from langgraph.checkpoint.postgres import aio

    url = service_url("PMARK_TEST_CHECKPOINT_URL", "PostgreSQL")
    async with open_checkpointer(Settings(data_dir=tmp_path, postgres_url=url)) as checkpointing:
        saver = checkpointing.saver
        thread = f"test:hop-{uuid.uuid4().hex[:6]}"
        config = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {"reply": "펌프 누유 접수", "turns": 3}
        stored = await saver.aput(config, checkpoint, {"step": 1}, {"reply": "1", "turns": "1"})
        parent = await aio.AsyncPostgresSaver.aget_tuple(saver, config)
        hops: list[object] = []
        real = asyncio.to_thread

        async def counted(fn: object, *args: object) -> object:
            hops.append(fn)
            return await real(fn, *args)  # type: ignore[arg-type]

        monkeypatch.setattr(aio.asyncio, "to_thread", counted)
        ours = await saver.aget_tuple(config)
        assert ours is not None and ours == parent and ours.pending_writes == []
        assert ours.checkpoint["channel_values"] == {"reply": "펌프 누유 접수", "turns": 3}
        assert hops == []
        await saver.aput_writes(stored, [("asked", ["x"])], "task-x")
        written = await saver.aget_tuple(config)
        assert written is not None and ("task-x", "asked", ["x"]) in written.pending_writes
        assert len(hops) == 1
