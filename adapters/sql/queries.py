"""Every SQL statement the repository runs, built with SQLAlchemy Core.

Kept as plain functions so the test suite can compile each one for every dialect we support
(SQLite, PostgreSQL, and Azure SQL through mssql+pyodbc, which cannot run here).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Delete, Insert, Select, Update, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from adapters.sql.models import (
    CatalogRow,
    ConversationRefRow,
    EvaluationRunRow,
    FeedbackRow,
    NormalizationLogRow,
    NotificationRow,
    ProcessedEventRow,
    ThreadActivityRow,
)


def select_catalog() -> Select[CatalogRow]:
    """All catalog rows in a stable order."""
    return select(CatalogRow).order_by(CatalogRow.category, CatalogRow.code)


def select_catalog_keys() -> Select[int, str, str]:
    """Ids with their (category, code) keys."""
    return select(CatalogRow.id, CatalogRow.category, CatalogRow.code)


def insert_catalog() -> Insert:
    """Insert catalog rows (executemany)."""
    return insert(CatalogRow)


def update_catalog_row(row_id: int, values: dict[str, Any]) -> Update:
    """Update one catalog row."""
    return update(CatalogRow).where(CatalogRow.id == row_id).values(**values)


def delete_catalog() -> Delete:
    """Delete the whole catalog (for --replace)."""
    return delete(CatalogRow)


def count_catalog() -> Select[int]:
    """Number of catalog rows."""
    return select(func.count()).select_from(CatalogRow)


def select_notifications_by_itemno(itemnos: Sequence[str]) -> Select[NotificationRow]:
    """Notifications with the given itemnos."""
    return select(NotificationRow).where(NotificationRow.itemno.in_(itemnos))


def select_notifications_page(after: str, limit: int) -> Select[NotificationRow]:
    """A keyset page of notifications ordered by itemno."""
    return (
        select(NotificationRow)
        .where(NotificationRow.itemno > after)
        .order_by(NotificationRow.itemno)
        .limit(limit)
    )


def insert_notifications() -> Insert:
    """Insert notifications (executemany)."""
    return insert(NotificationRow)


def update_notification(itemno: str, values: dict[str, Any]) -> Update:
    """Update one notification."""
    return update(NotificationRow).where(NotificationRow.itemno == itemno).values(**values)


def delete_notifications() -> Delete:
    """Delete every notification (for --replace)."""
    return delete(NotificationRow)


def count_notifications() -> Select[int]:
    """Number of notifications."""
    return select(func.count()).select_from(NotificationRow)


def max_itemno_with_prefix(prefix: str) -> Select[str | None]:
    """Highest itemno starting with a prefix (to number new notifications)."""
    return select(func.max(NotificationRow.itemno)).where(NotificationRow.itemno.like(f"{prefix}%"))


def insert_feedback() -> Insert:
    """Insert one feedback row."""
    return insert(FeedbackRow)


def _upserting(dialect: str) -> Any:
    """The dialect's INSERT with ON CONFLICT (PostgreSQL, SQLite); None for other databases."""
    module = {"postgresql": postgresql, "sqlite": sqlite}.get(dialect)
    return None if module is None else module.insert


@functools.cache
def upsert_feedback(dialect: str) -> Insert | None:
    """Store a thumb, or change its vote, in one statement returning the row's id only when it
    was stored or changed (PostgreSQL and SQLite); None for other databases. Executed with the
    row as parameters: one statement object per dialect, so SQLAlchemy builds and keys it once
    (per thumb, building it cost more than the database's work)."""
    insert_ = _upserting(dialect)
    if insert_ is None:
        return None
    statement = insert_(FeedbackRow)
    upsert: Insert = statement.on_conflict_do_update(
        index_elements=[FeedbackRow.answer_id, FeedbackRow.itemno, FeedbackRow.user_id],
        set_={"vote": statement.excluded.vote, "comment": statement.excluded.comment},
        where=FeedbackRow.vote != statement.excluded.vote,
    ).returning(FeedbackRow.id)
    return upsert


def select_feedback_key(answer_id: str, itemno: str, user_id: str) -> Select[FeedbackRow]:
    """The feedback row of one user on one recommendation of one answer."""
    return select(FeedbackRow).where(
        FeedbackRow.answer_id == answer_id,
        FeedbackRow.itemno == itemno,
        FeedbackRow.user_id == user_id,
    )


def update_feedback_vote(row_id: int, vote: int, comment: str) -> Update:
    """Change a vote (a user who changed their mind)."""
    return update(FeedbackRow).where(FeedbackRow.id == row_id).values(vote=vote, comment=comment)


def select_feedback_since(since: datetime | None) -> Select[FeedbackRow]:
    """Feedback rows, optionally only those newer than a time."""
    stmt = select(FeedbackRow).order_by(FeedbackRow.id)
    if since is not None:
        stmt = stmt.where(FeedbackRow.created_at >= since)
    return stmt


def supervisor_votes() -> Select[str | None, str | None, str, int]:
    """Summed supervisor votes per (equipment, failure mode, itemno)."""
    return (
        select(
            FeedbackRow.equipment,
            FeedbackRow.failure_mode,
            FeedbackRow.itemno,
            func.sum(FeedbackRow.vote),
        )
        .where(FeedbackRow.is_supervisor.is_(True))
        .group_by(FeedbackRow.equipment, FeedbackRow.failure_mode, FeedbackRow.itemno)
    )


def count_feedback() -> Select[int]:
    """Number of feedback rows."""
    return select(func.count()).select_from(FeedbackRow)


def insert_run() -> Insert:
    """Insert an evaluation run."""
    return insert(EvaluationRunRow)


def update_run(run_id: int, values: dict[str, Any]) -> Update:
    """Update an evaluation run."""
    return update(EvaluationRunRow).where(EvaluationRunRow.id == run_id).values(**values)


def select_runs(limit: int) -> Select[EvaluationRunRow]:
    """The newest evaluation runs first."""
    return select(EvaluationRunRow).order_by(EvaluationRunRow.id.desc()).limit(limit)


def select_convref(channel: str, conversation_id: str) -> Select[ConversationRefRow]:
    """One stored conversation reference."""
    return select(ConversationRefRow).where(
        ConversationRefRow.channel == channel,
        ConversationRefRow.conversation_id == conversation_id,
    )


def insert_convref() -> Insert:
    """Insert a conversation reference."""
    return insert(ConversationRefRow)


def update_convref(row_id: int, reference: dict[str, Any], now: datetime) -> Update:
    """Refresh a conversation reference."""
    return (
        update(ConversationRefRow)
        .where(ConversationRefRow.id == row_id)
        .values(reference=reference, updated_at=now)
    )


def select_convrefs(channel: str | None) -> Select[ConversationRefRow]:
    """Stored conversation references, optionally of one channel."""
    stmt = select(ConversationRefRow).order_by(ConversationRefRow.id)
    if channel is not None:
        stmt = stmt.where(ConversationRefRow.channel == channel)
    return stmt


def insert_normalization_log() -> Insert:
    """Insert normalization decisions (executemany)."""
    return insert(NormalizationLogRow)


def select_normalization_log(limit: int) -> Select[NormalizationLogRow]:
    """Newest normalization decisions."""
    return select(NormalizationLogRow).order_by(NormalizationLogRow.id.desc()).limit(limit)


def insert_processed_event() -> Insert:
    """Claim a delivery id."""
    return insert(ProcessedEventRow)


def delete_processed_events_before(cutoff: datetime) -> Delete:
    """Forget delivery ids older than the redelivery window."""
    return delete(ProcessedEventRow).where(ProcessedEventRow.created_at < cutoff)


def select_thread(thread_id: str) -> Select[ThreadActivityRow]:
    """One conversation's activity row."""
    return select(ThreadActivityRow).where(ThreadActivityRow.thread_id == thread_id)


def insert_thread() -> Insert:
    """Record a new conversation."""
    return insert(ThreadActivityRow)


def upsert_thread_active(dialect: str, thread_id: str, now: datetime) -> Insert | None:
    """Record a turn on a conversation in one statement (PostgreSQL and SQLite); None for a
    database without INSERT ... ON CONFLICT."""
    insert_ = _upserting(dialect)
    if insert_ is None:
        return None
    statement = insert_(ThreadActivityRow).values(thread_id=thread_id, last_active=now)
    upsert: Insert = statement.on_conflict_do_update(
        index_elements=[ThreadActivityRow.thread_id], set_={"last_active": now}
    )
    return upsert


def update_thread_active(thread_id: str, now: datetime) -> Update:
    """Mark a conversation active now."""
    return (
        update(ThreadActivityRow)
        .where(ThreadActivityRow.thread_id == thread_id)
        .values(last_active=now)
    )


def select_idle_threads(cutoff: datetime, limit: int) -> Select[str]:
    """Conversations idle since before a time."""
    return (
        select(ThreadActivityRow.thread_id)
        .where(ThreadActivityRow.last_active < cutoff)
        .order_by(ThreadActivityRow.last_active)
        .limit(limit)
    )


def select_threads_to_prune(limit: int) -> Select[str]:
    """Conversations with turns since they were last pruned."""
    return (
        select(ThreadActivityRow.thread_id)
        .where(
            (ThreadActivityRow.pruned_at.is_(None))
            | (ThreadActivityRow.pruned_at < ThreadActivityRow.last_active)
        )
        .limit(limit)
    )


def mark_threads_pruned(thread_ids: Sequence[str], now: datetime) -> Update:
    """Remember when conversations were pruned."""
    return (
        update(ThreadActivityRow)
        .where(ThreadActivityRow.thread_id.in_(thread_ids))
        .values(pruned_at=now)
    )


def delete_threads(thread_ids: Sequence[str]) -> Delete:
    """Forget conversations (after their checkpoints were deleted)."""
    return delete(ThreadActivityRow).where(ThreadActivityRow.thread_id.in_(thread_ids))
