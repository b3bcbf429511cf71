"""Checkpoint storage stays bounded: pruning keeps the latest checkpoint, idle threads expire."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from adapters.sql.models import ThreadActivityRow
from adapters.sql.repository import utcnow
from agent.runner import Agent


def _age(agent: Agent, thread: str, days: int) -> None:
    """Make a conversation look idle for `days`."""
    assert agent.repo is not None
    with Session(agent.repo.engine) as s, s.begin():
        s.execute(
            update(ThreadActivityRow)
            .where(ThreadActivityRow.thread_id == thread)
            .values(last_active=utcnow() - timedelta(days=days))
        )


async def _count(agent: Agent, thread: str) -> int:
    saver = agent.checkpointing.saver
    return len([c async for c in saver.alist({"configurable": {"thread_id": thread}})])


async def test_prune_keeps_only_the_latest_checkpoint(agent: Agent) -> None:
    thread = f"test:prune-{uuid.uuid4().hex[:8]}"
    await agent.turn(thread, "펌프 누유")
    await agent.turn(thread, "부산 긴급")
    before = await _count(agent, thread)
    assert before >= 2  # a checkpoint per turn at least
    assert await agent.prune() >= 1
    assert await _count(agent, thread) == 1
    state = await agent.state(thread)
    assert state["notification"]["location"]["code"] == "BUS"
    follow = await agent.turn(thread, "첫 번째 건 자세히")
    assert follow["kind"] == "detail"


async def test_idle_conversations_are_deleted(agent: Agent) -> None:
    old, fresh = (f"test:idle-{uuid.uuid4().hex[:8]}" for _ in range(2))
    await agent.turn(old, "부산 펌프 누유 긴급")
    await agent.turn(fresh, "서울 모터 과열 보통")
    assert agent.repo is not None
    await agent.settle()  # the turns' activity records are written after their answers
    _age(agent, old, days=40)
    assert await agent.expire(30) >= 1
    assert await _count(agent, old) == 0
    assert await agent.state(old) == {}
    assert await _count(agent, fresh) > 0
    again = await agent.turn(old, "부산 펌프 누유 긴급")
    assert again["kind"] == "answer"


async def test_activity_is_recorded_once_a_minute_and_again_after_expiry(agent: Agent) -> None:
    assert agent.repo is not None
    thread = f"test:touch-{uuid.uuid4().hex[:8]}"
    touched: list[str] = []
    real = agent.repo.touch_thread

    def spy(thread_id: str) -> None:
        touched.append(thread_id)
        real(thread_id)

    agent.repo.touch_thread = spy  # type: ignore[method-assign]
    try:
        await agent.turn(thread, "부산 펌프 누유 긴급")
        await agent.turn(thread, "서울")
        await agent.settle()
        assert touched == [thread]  # the second turn, a moment later, wrote nothing
        _age(agent, thread, days=40)
        assert await agent.expire(30) >= 1
        await agent.turn(thread, "부산 펌프 누유 긴급")
        await agent.settle()
        assert touched == [thread, thread]  # expired, then recorded again at once
    finally:
        del agent.repo.touch_thread
