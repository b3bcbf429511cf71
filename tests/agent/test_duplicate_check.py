"""The duplicate check after a drafted answer: best effort, and quiet about an outage."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy.exc

from adapters.settings import Settings
from agent.context import PMark
from agent.service import open_agent

REPORT = "2공장 냉각수 펌프 누유, 긴급"


def _lost_connection() -> sqlalchemy.exc.OperationalError:
    # What SQLAlchemy raises when pg_terminate_backend ends the connection under a statement.
    cause = psycopg.errors.AdminShutdown("terminating connection due to administrator command")
    error = sqlalchemy.exc.OperationalError("SELECT ...", {}, cause)
    error.connection_invalidated = True
    return error


async def _answer(loaded_dir: Path, annotate: Any) -> dict[str, Any]:
    async with open_agent(PMark(Settings(data_dir=loaded_dir))) as agent:
        assert agent.lifecycle is not None
        agent.lifecycle.annotate = annotate  # type: ignore[method-assign]
        return await agent.turn(f"test:dup-{uuid.uuid4().hex[:6]}", REPORT)


async def test_a_connection_lost_under_the_check_is_retried_once(
    loaded_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def flaky(response: dict[str, Any]) -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 1:
            raise _lost_connection()
        response["duplicates"] = [{"number": "PM1"}]
        return response

    response = await _answer(loaded_dir, flaky)
    assert len(calls) == 2 and response["duplicates"] == [{"number": "PM1"}]
    assert not [r for r in caplog.records if r.exc_info]


async def test_an_outage_skips_the_check_without_a_traceback(
    loaded_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def down(response: dict[str, Any]) -> dict[str, Any]:
        raise _lost_connection()

    with caplog.at_level(logging.WARNING):
        response = await _answer(loaded_dir, down)
    assert "duplicates" not in response
    skipped = [r for r in caplog.records if "duplicate check skipped" in r.getMessage()]
    assert len(skipped) == 1 and not skipped[0].exc_info


async def test_a_bug_in_the_check_is_logged_with_its_traceback(
    loaded_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def broken(response: dict[str, Any]) -> dict[str, Any]:
        calls.append(1)
        raise KeyError("equipment")

    with caplog.at_level(logging.WARNING):
        response = await _answer(loaded_dir, broken)
    assert response["kind"] and len(calls) == 1
    assert [r for r in caplog.records if "duplicate check failed" in r.getMessage()][0].exc_info
