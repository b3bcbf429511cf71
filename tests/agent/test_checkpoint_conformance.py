"""LangGraph's published checkpointer conformance suite against the savers PMark runs on.

`langgraph-checkpoint-conformance` is LangGraph's own spec of what a saver must do (put, writes,
reads, listing, deletes, copies, pruning). Ours must pass all of it: the PostgreSQL saver both
outside a turn (pool connections) and inside one (the turn's connection and write queue), and
the SQLite saver.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.conformance import checkpointer_test, validate

from adapters.settings import Settings
from agent.checkpointer import open_checkpointer
from agent.pgsaver import TurnScopedPostgresSaver, turn_connection
from tests.conftest import fresh_schema, service_url


@pytest.fixture
def checkpoint_schema_url() -> Iterator[str]:
    """The checkpoint database with a schema of its own (listing tests see every thread)."""
    with fresh_schema(service_url("PMARK_TEST_CHECKPOINT_URL", "PostgreSQL"), "conf") as url:
        yield url


def _assert_conforms(report: Any, tests: int) -> None:
    """Nothing failed, and all `tests` of the pinned suite (0.0.2) ran for this saver."""
    failures = {
        name: [str(f) for f in result.failures]
        for name, result in report.results.items()
        if result.passed is False
    }
    assert not failures, failures
    ran = sum(result.tests_passed for result in report.results.values())
    assert ran == tests, f"{ran} conformance tests passed: {report.to_dict()}"
    assert report.passed_all_base()


@pytest.mark.parametrize("inside_turn", [False, True], ids=["pool", "turn"])
async def test_postgres_saver_conforms(
    checkpoint_schema_url: str, tmp_path: Path, inside_turn: bool
) -> None:
    settings = Settings(data_dir=tmp_path, postgres_url=checkpoint_schema_url)

    async with AsyncExitStack() as stack:
        checkpointing = await stack.enter_async_context(open_checkpointer(settings))
        saver = checkpointing.saver
        assert isinstance(saver, TurnScopedPostgresSaver)

        @checkpointer_test(name=f"TurnScopedPostgresSaver[{'turn' if inside_turn else 'pool'}]")
        async def factory() -> AsyncIterator[BaseCheckpointSaver[Any]]:
            yield saver

        if inside_turn:
            assert checkpointing.lock_pool is not None
            conn = await stack.enter_async_context(checkpointing.lock_pool.connection())
            await stack.enter_async_context(turn_connection(conn))
        report = await validate(factory)
    # The base capabilities and, of the extended ones, prune (LangGraph's PostgreSQL saver has
    # neither delete_for_runs nor copy_thread).
    detected = {name for name, result in report.results.items() if result.detected}
    assert detected == {"put", "put_writes", "get_tuple", "list", "delete_thread", "prune"}
    _assert_conforms(report, 66)


async def test_sqlite_saver_conforms(tmp_path: Path) -> None:
    counter = iter(range(100))

    @checkpointer_test(name="AsyncSqliteSaver")
    async def factory() -> AsyncIterator[BaseCheckpointSaver[Any]]:
        settings = Settings(data_dir=tmp_path / f"suite-{next(counter)}", postgres_url=None)
        async with open_checkpointer(settings) as checkpointing:
            yield checkpointing.saver

    # The base capabilities: LangGraph's SQLite saver has none of the extended ones.
    _assert_conforms(await validate(factory), 58)
