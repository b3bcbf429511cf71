"""The normalization review log: batched beside the turns, nothing lost at settle, bounded."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from adapters.sql.repository import NormalizationDecision
from agent.review_log import ReviewLog
from agent.runner import Agent


def _decision(term: str) -> NormalizationDecision:
    return NormalizationDecision("equipment", term, "PUMP", 0.9, "catalog")


async def test_many_turns_share_one_write() -> None:
    writes: list[list[str]] = []
    log = ReviewLog(lambda batch: writes.append([d.term for d in batch]), delay=0.05)
    for i in range(20):
        log.add([_decision(f"t{i}")])
    await asyncio.sleep(0.3)
    assert writes == [[f"t{i}" for i in range(20)]]


async def test_flush_writes_what_waits_without_the_delay() -> None:
    writes: list[Sequence[NormalizationDecision]] = []
    log = ReviewLog(writes.append, delay=60)
    log.add([_decision("a"), _decision("b")])
    await log.flush()
    assert [d.term for batch in writes for d in batch] == ["a", "b"]


async def test_a_failing_database_loses_only_that_batch_and_the_next_is_written() -> None:
    calls: list[list[str]] = []

    def write(batch: Sequence[NormalizationDecision]) -> None:
        calls.append([d.term for d in batch])
        if len(calls) == 1:
            raise OSError("database down")

    log = ReviewLog(write, delay=60)
    log.add([_decision("lost")])
    await log.flush()
    log.add([_decision("kept")])
    await log.flush()
    assert calls == [["lost"], ["kept"]]


async def test_what_waits_is_bounded_and_the_oldest_go_first() -> None:
    writes: list[Sequence[NormalizationDecision]] = []
    log = ReviewLog(writes.append, delay=60, limit=3)
    for term in "abcde":
        log.add([_decision(term)])
    await log.flush()
    assert [d.term for batch in writes for d in batch] == ["c", "d", "e"]
    assert log.dropped == 2


async def test_a_turns_normalizations_reach_the_database_by_settle(agent: Agent) -> None:
    before = len(agent.repo.normalization_log(10_000)) if agent.repo else 0
    await agent.turn(f"test:{uuid.uuid4().hex}", "2공장 냉각수 펌프 누유, 긴급")
    await agent.settle()
    assert agent.repo is not None
    logged = agent.repo.normalization_log(10_000)
    assert len(logged) > before
    assert {d.category for d in logged[: len(logged) - before]} & {"equipment", "location"}
