"""A thumb on an answer another worker showed, given while the database is down, is kept in the
spool and stored (after the same checks) once the database is back (bot/feedback.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.sql.repository import FeedbackRecord
from agent.outage import DatabaseUnavailable
from bot.feedback import UNCHECKED_KIND, FeedbackService
from bot.spool import Spool

ANSWER = {
    "answer_id": "a1",
    "query": "2공장 냉각수 펌프 누유",
    "notification": {},
    "recommendations": [{"itemno": "N1"}, {"itemno": "N2"}],
}


class Repo:
    """Records thumbs as the repository would."""

    def __init__(self) -> None:
        self.stored: list[FeedbackRecord] = []

    def record_feedback(self, record: FeedbackRecord) -> bool:
        self.stored.append(record)
        return True


class State:
    """The checkpointer's state lookup: down until `up` is set."""

    def __init__(self) -> None:
        self.up = False

    async def __call__(self, thread: str) -> dict[str, Any]:
        if not self.up:
            raise DatabaseUnavailable("checkpointer down")
        return {"last_answer": ANSWER if thread == "t1" else {}}


def worker(tmp_path: Path, repo: Repo, state: State) -> FeedbackService:
    """A worker that never showed the answer (its memory holds nothing of it)."""
    return FeedbackService(repo, [], state=state, spool=Spool(tmp_path / "spool.db", shared=True))


async def test_the_thumb_waits_for_the_database_then_is_stored(tmp_path: Path) -> None:
    repo, state = Repo(), State()
    feedback = worker(tmp_path, repo, state)
    data = {"answer_id": "a1", "itemno": "N2", "vote": -1, "thread": "t1"}
    result = await feedback.vote("teams", "u1", data)
    assert result.queued and not result.stored and result.error is None
    assert repo.stored == []
    [item] = feedback.spool.items()  # type: ignore[union-attr]
    assert item.kind == UNCHECKED_KIND
    with pytest.raises(DatabaseUnavailable):  # still down: the replayer keeps the entry
        await feedback.replay_unchecked(item)
    state.up = True
    await feedback.replay_unchecked(item)
    [record] = repo.stored
    assert (record.answer_id, record.itemno, record.user_id, record.vote) == ("a1", "N2", "u1", -1)


@pytest.mark.parametrize(
    "data",
    [
        {"answer_id": "a1", "itemno": "N9", "vote": 1, "thread": "t1"},  # not recommended
        {"answer_id": "forged", "itemno": "N1", "vote": 1, "thread": "t1"},  # not an answer
        {"answer_id": "a1", "itemno": "N1", "vote": 1, "thread": "other"},  # not that thread's
    ],
    ids=["item", "answer", "thread"],
)
async def test_a_kept_thumb_is_checked_before_it_is_stored(
    tmp_path: Path, data: dict[str, Any]
) -> None:
    repo, state = Repo(), State()
    feedback = worker(tmp_path, repo, state)
    assert (await feedback.vote("teams", "u1", data)).queued
    [item] = feedback.spool.items()  # type: ignore[union-attr]
    state.up = True
    await feedback.replay_unchecked(item)
    assert repo.stored == []


async def test_a_malformed_vote_is_refused_at_once(tmp_path: Path) -> None:
    repo, state = Repo(), State()
    feedback = worker(tmp_path, repo, state)
    result = await feedback.vote("teams", "u1", {"answer_id": "a1", "itemno": "N1", "vote": 7})
    assert result.error == "bad vote" and not result.queued
    assert feedback.spool.items() == []  # type: ignore[union-attr]
