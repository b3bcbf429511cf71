"""Repository part of the notification lifecycle: filing, adding to, closing, and the CMMS outbox.

Every change of a notification writes its outbox event in the same transaction, so an event
exists exactly when its change was committed.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapters.domain import Notification
from adapters.sql import lifecycle_queries as lq
from adapters.sql import queries as q
from adapters.sql.engine import read_session
from adapters.sql.models import CmmsOutboxRow, NotificationRow

STATUSES = ("open", "in_progress", "closed")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class NewNotification:
    """A draft to file: catalog codes, text, and who filed it from where."""

    location: str | None
    equipment: str | None
    failure_mode: str | None
    priority: str | None
    title: str
    details: str
    source: str
    filed_by: str
    equipment_tag: str | None = None
    thread_id: str | None = None
    answer_id: str | None = None
    recommended_itemno: str | None = None
    recommended_fix: str | None = None


@dataclass(frozen=True)
class NotificationRecord:
    """A notification with its lifecycle fields."""

    itemno: str
    status: str
    created_at: datetime
    location: str | None
    equipment: str | None
    failure_mode: str | None
    priority: str | None
    title: str
    details: str
    resolution: str
    source: str
    equipment_tag: str | None
    filed_by: str | None
    filed_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None
    thread_id: str | None
    answer_id: str | None
    reports: int
    recommended_itemno: str | None
    recommended_fix: str | None

    def notification(self) -> Notification:
        """The plain notification (what the search index holds)."""
        return Notification(
            self.itemno,
            self.created_at,
            self.location,
            self.equipment,
            self.failure_mode,
            self.priority,
            self.title,
            self.details,
            self.resolution,
        )

    def event_payload(self) -> dict[str, Any]:
        """A JSON-safe snapshot, as the CMMS targets receive it."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, datetime):
                out[key] = value.isoformat()
        return out


@dataclass(frozen=True)
class OutboxEvent:
    """One event of the outbox."""

    id: int
    event_key: str
    itemno: str
    event: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int
    next_attempt_at: datetime
    leased_until: datetime | None
    delivered_at: datetime | None
    last_error: str
    remote_id: str | None = None


def _record(r: NotificationRow) -> NotificationRecord:
    return NotificationRecord(
        itemno=r.itemno,
        status=r.status or "closed",
        created_at=r.created_at,
        location=r.location,
        equipment=r.equipment,
        failure_mode=r.failure_mode,
        priority=r.priority,
        title=r.title,
        details=r.details or "",
        resolution=r.resolution or "",
        source=r.source or "import",
        equipment_tag=r.equipment_tag,
        filed_by=r.filed_by,
        filed_at=r.filed_at,
        closed_at=r.closed_at,
        closed_by=r.closed_by,
        thread_id=r.thread_id,
        answer_id=r.answer_id,
        reports=int(r.reports or 1),
        recommended_itemno=r.recommended_itemno,
        recommended_fix=r.recommended_fix,
    )


def _event(r: CmmsOutboxRow) -> OutboxEvent:
    return OutboxEvent(
        r.id,
        r.event_key,
        r.itemno,
        r.event,
        dict(r.payload or {}),
        r.created_at,
        int(r.attempts or 0),
        r.next_attempt_at,
        r.leased_until,
        r.delivered_at,
        r.last_error or "",
        r.remote_id,
    )


class LifecycleMixin:
    """Lifecycle reads and writes of the Repository."""

    engine: Engine

    def _reread(self, conn: Session, itemno: str) -> NotificationRecord:
        row = conn.execute(lq.select_notification(itemno)).scalar_one()
        conn.refresh(row)
        return _record(row)

    def _outbox(self, conn: Session, record: NotificationRecord, event: str) -> None:
        now = _now()
        conn.execute(
            lq.insert_outbox(),
            {
                "event_key": uuid.uuid4().hex,
                "itemno": record.itemno,
                "event": event,
                "payload": record.event_payload(),
                "created_at": now,
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": "",
            },
        )

    def file_new(
        self, new: NewNotification, outbox: bool = True, prefix: str = "PM"
    ) -> NotificationRecord:
        """File a draft as a new open notification with the next number of the day."""
        for _ in range(20):
            now = _now()
            stamp = f"{prefix}{now:%Y%m%d}"
            try:
                with Session(self.engine) as conn, conn.begin():
                    top = conn.execute(q.max_itemno_with_prefix(stamp)).scalar_one()
                    itemno = f"{stamp}{(int(top[-4:]) + 1 if top else 1):04d}"
                    conn.execute(
                        q.insert_notifications(),
                        {
                            "itemno": itemno,
                            "created_at": now,
                            "filed_at": now,
                            "status": "open",
                            "resolution": "",
                            "reports": 1,
                            **asdict(new),
                        },
                    )
                    record = self._reread(conn, itemno)
                    if outbox:
                        self._outbox(conn, record, "filed")
                return record
            except IntegrityError:
                continue  # another filing took the number: take the next one
        raise RuntimeError("could not number a new notification")

    def lifecycle_record(self, itemno: str) -> NotificationRecord | None:
        """One notification with its lifecycle fields."""
        with read_session(self.engine) as conn:
            row = conn.execute(lq.select_notification(itemno)).scalar()
            return _record(row) if row is not None else None

    def open_duplicates(
        self, equipment: str | None, location: str | None, tag: str | None, since: datetime
    ) -> list[NotificationRecord]:
        """Not-closed notifications on the same machine filed since a time, newest first."""
        if not tag and not equipment:
            return []
        with read_session(self.engine) as conn:
            rows = conn.execute(
                lq.select_open_on_equipment(equipment or "", location, tag, since)
            ).scalars()
            return [_record(r) for r in rows]

    def open_in_thread(self, thread_id: str) -> NotificationRecord | None:
        """The newest not-closed notification of a conversation."""
        with read_session(self.engine) as conn:
            row = conn.execute(lq.select_open_in_thread(thread_id)).scalar()
            return _record(row) if row is not None else None

    def filed_for_answer(self, answer_id: str) -> NotificationRecord | None:
        """The notification filed from an answer, if any."""
        with read_session(self.engine) as conn:
            row = conn.execute(lq.select_by_answer(answer_id)).scalar()
            return _record(row) if row is not None else None

    def append_report(
        self, itemno: str, text: str, by: str, outbox: bool = True
    ) -> NotificationRecord | None:
        """Add a further report to a not-closed notification (None when closed or unknown)."""
        with Session(self.engine) as conn, conn.begin():
            row = conn.execute(lq.select_notification(itemno).with_for_update()).scalar()
            if row is None or row.status == "closed":
                return None
            note = f"[{_now():%Y-%m-%d %H:%M}] {by}: {text.strip()}"
            details = f"{row.details}\n{note}" if row.details else note
            conn.execute(
                lq.update_lifecycle(
                    itemno, {"details": details, "reports": int(row.reports or 1) + 1}
                )
            )
            record = self._reread(conn, itemno)
            if outbox:
                self._outbox(conn, record, "updated")
            return record

    def set_in_progress(self, itemno: str, outbox: bool = True) -> NotificationRecord | None:
        """Mark an open notification as being worked on (None when closed or unknown)."""
        with Session(self.engine) as conn, conn.begin():
            row = conn.execute(lq.select_notification(itemno).with_for_update()).scalar()
            if row is None or row.status == "closed":
                return None
            if row.status == "in_progress":
                return _record(row)
            conn.execute(lq.update_lifecycle(itemno, {"status": "in_progress"}))
            record = self._reread(conn, itemno)
            if outbox:
                self._outbox(conn, record, "updated")
            return record

    def close_notification(
        self, itemno: str, resolution: str, by: str, outbox: bool = True
    ) -> tuple[NotificationRecord | None, bool]:
        """Close with a resolution: (the record, whether this call closed it)."""
        with Session(self.engine) as conn, conn.begin():
            row = conn.execute(lq.select_notification(itemno).with_for_update()).scalar()
            if row is None:
                return None, False
            if row.status == "closed":
                return _record(row), False
            values = {
                "status": "closed",
                "resolution": resolution.strip(),
                "closed_at": _now(),
                "closed_by": by,
            }
            conn.execute(lq.update_lifecycle(itemno, values))
            record = self._reread(conn, itemno)
            if outbox:
                self._outbox(conn, record, "closed")
            return record, True

    def list_notifications(
        self, status: str | None = None, limit: int = 100_000
    ) -> list[NotificationRecord]:
        """Notifications newest first, optionally of one status."""
        with Session(self.engine) as conn:
            return [_record(r) for r in conn.execute(lq.select_by_status(status, limit)).scalars()]

    def filed_since(self, since: datetime) -> list[NotificationRecord]:
        """Notifications filed through PMark since a time."""
        with Session(self.engine) as conn:
            return [_record(r) for r in conn.execute(lq.select_filed_since(since)).scalars()]

    def closed_since(self, since: datetime) -> list[NotificationRecord]:
        """PMark-filed notifications closed since a time."""
        with Session(self.engine) as conn:
            return [_record(r) for r in conn.execute(lq.select_closed_since(since)).scalars()]

    # Outbox --------------------------------------------------------------------------------

    def pending_outbox(self, limit: int = 100) -> list[OutboxEvent]:
        """Undelivered events, oldest first."""
        with Session(self.engine) as conn:
            return [_event(r) for r in conn.execute(lq.select_pending_outbox(limit)).scalars()]

    def lease_outbox(self, event_id: int, now: datetime, until: datetime) -> bool:
        """Take an event for delivery; False when another worker holds it or it is done."""
        with Session(self.engine) as conn, conn.begin():
            result = conn.execute(lq.lease_outbox(event_id, now, until))
            return bool(getattr(result, "rowcount", 0) == 1)

    def outbox_delivered(self, event_id: int, attempts: int, remote_id: str | None = None) -> None:
        """Mark an event delivered (with the CMMS's key of the notification, if it gave one)."""
        with Session(self.engine) as conn, conn.begin():
            conn.execute(
                lq.finish_outbox(
                    event_id,
                    {
                        "delivered_at": _now(),
                        "attempts": attempts,
                        "leased_until": None,
                        "last_error": "",
                        "remote_id": remote_id,
                    },
                )
            )

    def outbox_remote_id(self, itemno: str) -> str | None:
        """The CMMS's key of a notification, from its delivered events."""
        for event in self.outbox_events(itemno):
            if event.delivered_at is not None and event.remote_id:
                return event.remote_id
        return None

    def outbox_failed(
        self, event_id: int, attempts: int, error: str, next_attempt_at: datetime
    ) -> None:
        """Record a failed attempt and when to try again."""
        with Session(self.engine) as conn, conn.begin():
            conn.execute(
                lq.finish_outbox(
                    event_id,
                    {
                        "attempts": attempts,
                        "last_error": error[:2000],
                        "next_attempt_at": next_attempt_at,
                        "leased_until": None,
                    },
                )
            )

    def outbox_events(self, itemno: str | None = None) -> list[OutboxEvent]:
        """Every outbox event (optionally of one notification), in order."""
        with Session(self.engine) as conn:
            return [_event(r) for r in conn.execute(lq.select_outbox(itemno)).scalars()]
