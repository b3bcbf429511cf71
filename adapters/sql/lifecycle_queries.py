"""SQL statements of the notification lifecycle and the CMMS outbox (SQLAlchemy Core).

Plain functions like adapters/sql/queries.py, so each one is compiled for every dialect in tests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Select, Update, func, insert, or_, select, update

from adapters.sql.models import CmmsOutboxRow, NotificationRow


def select_notification(itemno: str) -> Select[NotificationRow]:
    """One notification by number."""
    return select(NotificationRow).where(NotificationRow.itemno == itemno)


def select_by_status(status: str | None, limit: int) -> Select[NotificationRow]:
    """Notifications newest first, optionally of one status."""
    stmt = select(NotificationRow).order_by(
        NotificationRow.created_at.desc(), NotificationRow.itemno.desc()
    )
    if status is not None:
        stmt = stmt.where(NotificationRow.status == status)
    return stmt.limit(limit)


def select_open_on_equipment(
    equipment: str, location: str | None, tag: str | None, since: datetime
) -> Select[NotificationRow]:
    """Not-closed notifications on the same machine since a time, newest first.

    The same tag when the report names one (a tag is one machine); else the same equipment code
    at the same location.
    """
    stmt = select(NotificationRow).where(
        NotificationRow.status != "closed", NotificationRow.created_at >= since
    )
    if tag:
        stmt = stmt.where(func.upper(NotificationRow.equipment_tag) == tag.upper())
    else:
        stmt = stmt.where(NotificationRow.equipment == equipment)
        if location is None:
            stmt = stmt.where(NotificationRow.location.is_(None))
        else:
            stmt = stmt.where(NotificationRow.location == location)
    return stmt.order_by(NotificationRow.created_at.desc()).limit(5)


def select_open_in_thread(thread_id: str) -> Select[NotificationRow]:
    """The newest not-closed notification filed from (or added to in) a conversation."""
    return (
        select(NotificationRow)
        .where(NotificationRow.thread_id == thread_id, NotificationRow.status != "closed")
        .order_by(NotificationRow.created_at.desc())
        .limit(1)
    )


def select_by_answer(answer_id: str) -> Select[NotificationRow]:
    """The notification filed from one answer."""
    return select(NotificationRow).where(NotificationRow.answer_id == answer_id).limit(1)


def update_lifecycle(itemno: str, values: dict[str, Any]) -> Update:
    """Change lifecycle fields of one notification."""
    return update(NotificationRow).where(NotificationRow.itemno == itemno).values(**values)


def select_filed_since(since: datetime) -> Select[NotificationRow]:
    """Notifications filed through PMark since a time (for the digest)."""
    return select(NotificationRow).where(
        NotificationRow.filed_at.is_not(None), NotificationRow.filed_at >= since
    )


def select_closed_since(since: datetime) -> Select[NotificationRow]:
    """PMark-filed notifications closed since a time (for the digest)."""
    return select(NotificationRow).where(
        NotificationRow.filed_at.is_not(None), NotificationRow.closed_at >= since
    )


def insert_outbox() -> Insert:
    """Insert one outbox event."""
    return insert(CmmsOutboxRow)


def select_pending_outbox(limit: int) -> Select[CmmsOutboxRow]:
    """Undelivered events in the order they happened."""
    return (
        select(CmmsOutboxRow)
        .where(CmmsOutboxRow.delivered_at.is_(None))
        .order_by(CmmsOutboxRow.id)
        .limit(limit)
    )


def lease_outbox(row_id: int, now: datetime, until: datetime) -> Update:
    """Take an event for delivery unless another worker holds it."""
    return (
        update(CmmsOutboxRow)
        .where(
            CmmsOutboxRow.id == row_id,
            CmmsOutboxRow.delivered_at.is_(None),
            or_(CmmsOutboxRow.leased_until.is_(None), CmmsOutboxRow.leased_until < now),
        )
        .values(leased_until=until)
    )


def finish_outbox(row_id: int, values: dict[str, Any]) -> Update:
    """Record a delivery or a failed attempt."""
    return update(CmmsOutboxRow).where(CmmsOutboxRow.id == row_id).values(**values)


def select_outbox(itemno: str | None) -> Select[CmmsOutboxRow]:
    """Outbox events, optionally of one notification, in order."""
    stmt = select(CmmsOutboxRow).order_by(CmmsOutboxRow.id)
    if itemno is not None:
        stmt = stmt.where(CmmsOutboxRow.itemno == itemno)
    return stmt
