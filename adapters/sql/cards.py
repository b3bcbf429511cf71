"""The latest card of each conversation thread, in the application database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapters.sql.engine import autocommit
from adapters.sql.models import ThreadCardRow
from adapters.sql.repository import utcnow

# The statements of every answer and thumb, built once with their values as parameters:
# SQLAlchemy then builds and keys each one once per process, not once per call (building them
# cost more CPU than PostgreSQL spent running them).
_old = (
    select(
        ThreadCardRow.thread_id,
        ThreadCardRow.answer_id,
        ThreadCardRow.message_id,
        ThreadCardRow.response,
    )
    .where(ThreadCardRow.thread_id == bindparam("thread"))
    .with_for_update()
    .subquery("old")
)
_SWAP = (
    update(ThreadCardRow)
    .where(ThreadCardRow.thread_id == _old.c.thread_id)
    .values(
        answer_id=bindparam("new_answer"),
        message_id=bindparam("new_message"),
        response=bindparam("new_response"),
        updated_at=bindparam("now"),
    )
    .returning(_old.c.answer_id, _old.c.message_id, _old.c.response)
)
_POSTED = (
    update(ThreadCardRow)
    .where(
        ThreadCardRow.thread_id == bindparam("thread"),
        ThreadCardRow.answer_id == bindparam("answer"),
    )
    .values(message_id=bindparam("message"))
)
_LATEST = select(ThreadCardRow.answer_id, ThreadCardRow.message_id, ThreadCardRow.response).where(
    ThreadCardRow.thread_id == bindparam("thread")
)


@dataclass(frozen=True)
class StoredCard:
    """A card as stored: its answer id, its message (Teams activity id, Slack ts), its answer."""

    answer_id: str
    message_id: str
    response: str


class CardStore:
    """The thread_cards table: one row per thread, replaced by each new card."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def swap(self, thread: str, card: StoredCard) -> StoredCard | None:
        """Make `card` the thread's latest; the card it replaced, if any.

        The row is locked while it is read and replaced, so two processes sending cards in one
        thread at once each get the card before their own, never the same one twice.
        """
        if self.engine.dialect.name == "postgresql":
            replaced = self._swap_in_one_statement(thread, card)
            if replaced is not None:
                return replaced
        for _ in range(2):
            with Session(self.engine) as s, s.begin():
                # A write first takes the row's (SQLite: the database's) write lock before the
                # read: a SELECT ... FOR UPDATE is a plain read in SQLite, where two processes
                # would then both read the same previous card.
                s.execute(
                    update(ThreadCardRow)
                    .where(ThreadCardRow.thread_id == thread)
                    .values(updated_at=ThreadCardRow.updated_at)
                )
                row = s.execute(
                    select(ThreadCardRow).where(ThreadCardRow.thread_id == thread).with_for_update()
                ).scalar_one_or_none()
                if row is not None:
                    previous = StoredCard(row.answer_id, row.message_id, row.response)
                    row.answer_id, row.message_id = card.answer_id, card.message_id
                    row.response, row.updated_at = card.response, utcnow()
                    return previous
            try:
                with Session(self.engine) as s, s.begin():
                    s.add(
                        ThreadCardRow(
                            thread_id=thread,
                            answer_id=card.answer_id,
                            message_id=card.message_id,
                            response=card.response,
                            updated_at=utcnow(),
                        )
                    )
                return None
            except IntegrityError:
                continue  # another process stored the thread's first card meanwhile: replace it
        raise RuntimeError(f"could not record the card of {thread}")

    def _swap_in_one_statement(self, thread: str, card: StoredCard) -> StoredCard | None:
        """PostgreSQL: replace the row and return the one replaced, in one statement; None
        when the thread has no card yet. The sub-select's FOR UPDATE makes a concurrent swap
        wait, then read the card this one stored (not the one both saw first)."""
        values = {
            "thread": thread,
            "new_answer": card.answer_id,
            "new_message": card.message_id,
            "new_response": card.response,
            "now": utcnow(),
        }
        with autocommit(self.engine) as connection:
            row = connection.execute(_SWAP, values).first()
        return None if row is None else StoredCard(row[0], row[1], row[2])

    def posted(self, thread: str, answer_id: str, message_id: str) -> bool:
        """The message the thread's current card was posted as; False when another card
        replaced it meanwhile (then nobody knew its message to close it)."""
        with autocommit(self.engine) as connection:
            result = connection.execute(
                _POSTED, {"thread": thread, "answer": answer_id, "message": message_id}
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def latest(self, thread: str) -> StoredCard | None:
        """The thread's latest card."""
        with autocommit(self.engine) as connection:
            row = connection.execute(_LATEST, {"thread": thread}).first()
            return None if row is None else StoredCard(row[0], row[1], row[2])

    def forget_before(self, cutoff: datetime) -> int:
        """Drop the cards of threads quiet since before `cutoff`."""
        with Session(self.engine) as s, s.begin():
            result = s.execute(delete(ThreadCardRow).where(ThreadCardRow.updated_at < cutoff))
            return int(getattr(result, "rowcount", 0) or 0)
