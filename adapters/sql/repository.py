"""The application database behind one repository class (SQLite, PostgreSQL, Azure SQL)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from adapters.domain import CatalogEntry, Notification
from adapters.sql import queries as q
from adapters.sql.engine import autocommit, make_engine
from adapters.sql.lifecycle import LifecycleMixin
from adapters.sql.models import Base, EvaluationRunRow, NotificationRow

_NOTIFICATION_FIELDS = (
    "created_at",
    "location",
    "equipment",
    "failure_mode",
    "priority",
    "title",
    "details",
    "resolution",
)


def utcnow() -> datetime:
    """Naive UTC now, as stored in the database."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class UpsertCounts:
    """What an import did."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class FeedbackRecord:
    """One thumb as the channels report it."""

    answer_id: str
    itemno: str
    user_id: str
    channel: str
    vote: int
    is_supervisor: bool
    query: str = ""
    equipment: str | None = None
    failure_mode: str | None = None
    comment: str = ""


@dataclass(frozen=True)
class NormalizationDecision:
    """One term mapped (or not) to a catalog code."""

    category: str
    term: str
    code: str | None
    score: float
    method: str


class _ThreadsMixin:
    engine: Engine

    def touch_thread(self, thread_id: str) -> None:
        """Record a turn on a conversation."""
        now = utcnow()
        upsert = q.upsert_thread_active(self.engine.dialect.name, thread_id, now)
        if upsert is not None:
            with autocommit(self.engine) as connection:
                connection.execute(upsert)
            return
        with Session(self.engine) as conn, conn.begin():
            if conn.execute(q.select_thread(thread_id)).scalar() is not None:
                conn.execute(q.update_thread_active(thread_id, now))
                return
        try:
            with Session(self.engine) as conn, conn.begin():
                conn.execute(q.insert_thread(), {"thread_id": thread_id, "last_active": now})
        except IntegrityError:
            pass

    def idle_threads(self, cutoff: datetime, limit: int = 1000) -> list[str]:
        """Conversations without a turn since `cutoff`."""
        with Session(self.engine) as conn:
            return list(conn.execute(q.select_idle_threads(cutoff, limit)).scalars())

    def threads_to_prune(self, limit: int = 1000) -> list[str]:
        """Conversations with turns since their last pruning."""
        with Session(self.engine) as conn:
            return list(conn.execute(q.select_threads_to_prune(limit)).scalars())

    def mark_pruned(self, thread_ids: Sequence[str]) -> None:
        """Remember that conversations were pruned now."""
        if thread_ids:
            with Session(self.engine) as conn, conn.begin():
                conn.execute(q.mark_threads_pruned(list(thread_ids), utcnow()))

    def forget_threads(self, thread_ids: Sequence[str]) -> None:
        """Drop the activity rows of deleted conversations."""
        if thread_ids:
            with Session(self.engine) as conn, conn.begin():
                conn.execute(q.delete_threads(list(thread_ids)))


class Repository(_ThreadsMixin, LifecycleMixin):
    """All reads and writes of PMark's application data."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(
        cls, url: str, pool_size: int = 5, max_overflow: int = 10, recycle: int = 1800
    ) -> Repository:
        """Open the database at a SQLAlchemy URL."""
        return cls(make_engine(url, pool_size, max_overflow, recycle))

    def create_schema(self) -> None:
        """Create missing tables (Alembic migrations do the same for managed databases)."""
        Base.metadata.create_all(self.engine)

    def has_schema(self) -> bool:
        """Whether the tables exist."""
        return inspect(self.engine).has_table("notifications")

    def ping(self) -> bool:
        """Whether the database answers."""
        try:
            with Session(self.engine) as conn:
                conn.execute(q.count_catalog())
            return True
        except Exception:
            return False

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    # Catalog -------------------------------------------------------------------------------

    def catalog(self) -> list[CatalogEntry]:
        """The whole catalog."""
        with Session(self.engine) as conn:
            rows = conn.execute(q.select_catalog()).scalars().all()
        return [
            CatalogEntry(
                category=r.category,
                code=r.code,
                name_ko=r.name_ko,
                name_en=r.name_en,
                synonyms=tuple(s for s in (r.synonyms or "").split("|") if s),
                parent=r.parent or None,
            )
            for r in rows
        ]

    def catalog_count(self) -> int:
        """Number of catalog codes."""
        with Session(self.engine) as conn:
            return int(conn.execute(q.count_catalog()).scalar_one())

    def upsert_catalog(
        self, entries: Sequence[CatalogEntry], replace: bool = False
    ) -> UpsertCounts:
        """Insert new codes, update changed ones; `replace` makes the catalog exactly `entries`."""
        inserted = updated = unchanged = 0
        with Session(self.engine) as conn, conn.begin():
            if replace:
                conn.execute(q.delete_catalog())
                existing: dict[tuple[str, str], int] = {}
                current: dict[int, CatalogEntry] = {}
            else:
                existing = {
                    (r.category, r.code): r.id for r in conn.execute(q.select_catalog_keys())
                }
                current = {}
                if existing:
                    for r in conn.execute(q.select_catalog()).scalars().all():
                        current[r.id] = CatalogEntry(
                            r.category,
                            r.code,
                            r.name_ko,
                            r.name_en,
                            tuple(s for s in (r.synonyms or "").split("|") if s),
                            r.parent or None,
                        )
            new_rows: list[dict[str, Any]] = []
            for e in entries:
                values = _catalog_values(e)
                row_id = existing.get((e.category, e.code))
                if row_id is None:
                    new_rows.append(values)
                    existing[(e.category, e.code)] = -1
                    inserted += 1
                elif row_id > 0 and current.get(row_id) != e:
                    conn.execute(q.update_catalog_row(row_id, values))
                    updated += 1
                else:
                    unchanged += 1
            if new_rows:
                conn.execute(q.insert_catalog(), new_rows)
        return UpsertCounts(inserted, updated, unchanged)

    # Notifications -------------------------------------------------------------------------

    def upsert_notifications(
        self, items: Sequence[Notification], replace: bool = False
    ) -> UpsertCounts:
        """Insert new notifications and update changed ones; importing twice changes nothing."""
        inserted = updated = unchanged = 0
        with Session(self.engine) as conn, conn.begin():
            if replace:
                conn.execute(q.delete_notifications())
            for start in range(0, len(items), 500):
                chunk = items[start : start + 500]
                found = {
                    r.itemno: r
                    for r in conn.execute(
                        q.select_notifications_by_itemno([n.itemno for n in chunk])
                    ).scalars()
                }
                new_rows: list[dict[str, Any]] = []
                for n in chunk:
                    values = _notification_values(n)
                    old = found.get(n.itemno)
                    if old is None:
                        new_rows.append({"itemno": n.itemno, **values})
                        found[n.itemno] = NotificationRow(itemno=n.itemno, **values)
                        inserted += 1
                    elif any(getattr(old, k) != v for k, v in values.items()):
                        conn.execute(q.update_notification(n.itemno, values))
                        updated += 1
                    else:
                        unchanged += 1
                if new_rows:
                    conn.execute(q.insert_notifications(), new_rows)
        return UpsertCounts(inserted, updated, unchanged)

    def notifications(self, itemnos: Sequence[str]) -> dict[str, Notification]:
        """Notifications by itemno (missing ones are absent)."""
        out: dict[str, Notification] = {}
        with Session(self.engine) as conn:
            for start in range(0, len(itemnos), 500):
                for r in conn.execute(
                    q.select_notifications_by_itemno(list(itemnos[start : start + 500]))
                ).scalars():
                    out[r.itemno] = _to_notification(r)
        return out

    def iter_notifications(self, batch: int = 2000) -> Iterator[list[Notification]]:
        """Every notification, in itemno order, a batch at a time."""
        after = ""
        while True:
            with Session(self.engine) as conn:
                rows = conn.execute(q.select_notifications_page(after, batch)).scalars().all()
            if not rows:
                return
            yield [_to_notification(r) for r in rows]
            after = rows[-1].itemno

    def notification_count(self) -> int:
        """Number of notifications."""
        with Session(self.engine) as conn:
            return int(conn.execute(q.count_notifications()).scalar_one())

    def next_itemno(self, prefix: str = "PM") -> str:
        """A fresh itemno for a notification filed through PMark."""
        stamp = utcnow().strftime("%Y%m%d")
        with Session(self.engine) as conn:
            top = conn.execute(q.max_itemno_with_prefix(f"{prefix}{stamp}")).scalar_one()
        seq = int(top[-4:]) + 1 if top else 1
        return f"{prefix}{stamp}{seq:04d}"

    # Feedback ------------------------------------------------------------------------------

    def record_feedback(self, fb: FeedbackRecord) -> bool:
        """Store a thumb once (a repeated vote changes nothing); True when stored or changed."""
        row = {
            "answer_id": fb.answer_id,
            "itemno": fb.itemno,
            "user_id": fb.user_id,
            "channel": fb.channel,
            "vote": fb.vote,
            "is_supervisor": fb.is_supervisor,
            "query": fb.query,
            "equipment": fb.equipment,
            "failure_mode": fb.failure_mode,
            "comment": fb.comment,
            "created_at": utcnow(),
        }
        upsert = q.upsert_feedback(self.engine.dialect.name)
        if upsert is not None:
            with autocommit(self.engine) as connection:
                return connection.execute(upsert, row).first() is not None
        with Session(self.engine) as conn, conn.begin():
            known = conn.execute(
                q.select_feedback_key(fb.answer_id, fb.itemno, fb.user_id)
            ).scalar()
            if known is not None:
                if known.vote == fb.vote:
                    return False
                conn.execute(q.update_feedback_vote(known.id, fb.vote, fb.comment))
                return True
        try:
            with Session(self.engine) as conn, conn.begin():
                conn.execute(q.insert_feedback(), row)
            return True
        except IntegrityError:
            # A concurrent redelivery won the race: the thumb is stored once.
            return False

    def feedback(self, since: datetime | None = None) -> list[dict[str, Any]]:
        """Feedback rows as dicts."""
        with Session(self.engine) as conn:
            rows = conn.execute(q.select_feedback_since(since)).scalars().all()
        return [
            {
                "answer_id": r.answer_id,
                "itemno": r.itemno,
                "user_id": r.user_id,
                "channel": r.channel,
                "vote": r.vote,
                "is_supervisor": r.is_supervisor,
                "query": r.query,
                "equipment": r.equipment,
                "failure_mode": r.failure_mode,
                "comment": r.comment,
                "created_at": r.created_at,
            }
            for r in rows
        ]

    def feedback_count(self) -> int:
        """Number of stored thumbs."""
        with Session(self.engine) as conn:
            return int(conn.execute(q.count_feedback()).scalar_one())

    def supervisor_votes(self) -> dict[tuple[str | None, str | None, str], int]:
        """Net supervisor votes per (equipment, failure mode, itemno)."""
        with Session(self.engine) as conn:
            return {(e, f, i): int(v or 0) for e, f, i, v in conn.execute(q.supervisor_votes())}

    # Evaluation runs -----------------------------------------------------------------------

    def start_run(self, version: str, config: dict[str, Any]) -> int:
        """Record a run as started and return its id."""
        with Session(self.engine) as conn, conn.begin():
            result = conn.execute(
                q.insert_run().returning(EvaluationRunRow.id),
                {
                    "started_at": utcnow(),
                    "status": "running",
                    "version": version,
                    "config": config,
                    "metrics": {},
                    "details": {},
                    "error": "",
                },
            )
            return int(result.scalar_one())

    def finish_run(self, run_id: int, metrics: dict[str, Any], details: dict[str, Any]) -> None:
        """Store a run's results."""
        with Session(self.engine) as conn, conn.begin():
            conn.execute(
                q.update_run(
                    run_id,
                    {
                        "finished_at": utcnow(),
                        "status": "ok",
                        "metrics": metrics,
                        "details": details,
                    },
                )
            )

    def fail_run(self, run_id: int, error: str) -> None:
        """Mark a run as failed."""
        with Session(self.engine) as conn, conn.begin():
            conn.execute(
                q.update_run(run_id, {"finished_at": utcnow(), "status": "failed", "error": error})
            )

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        """Newest runs first, as dicts."""
        with Session(self.engine) as conn:
            rows = conn.execute(q.select_runs(limit)).scalars().all()
        return [
            {
                "id": r.id,
                "started_at": r.started_at,
                "finished_at": r.finished_at,
                "status": r.status,
                "version": r.version,
                "config": r.config,
                "metrics": r.metrics,
                "details": r.details,
                "error": r.error,
            }
            for r in rows
        ]

    # Conversation references ---------------------------------------------------------------

    def save_conversation_ref(
        self, channel: str, conversation_id: str, reference: dict[str, Any]
    ) -> None:
        """Store or refresh where PMark can post proactively."""
        now = utcnow()
        with Session(self.engine) as conn, conn.begin():
            row = conn.execute(q.select_convref(channel, conversation_id)).scalar()
            if row is not None:
                if row.reference != reference:
                    conn.execute(q.update_convref(row.id, reference, now))
                return
        try:
            with Session(self.engine) as conn, conn.begin():
                conn.execute(
                    q.insert_convref(),
                    {
                        "channel": channel,
                        "conversation_id": conversation_id,
                        "reference": reference,
                        "updated_at": now,
                    },
                )
        except IntegrityError:
            pass

    def conversation_refs(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Stored conversation references."""
        with Session(self.engine) as conn:
            rows = conn.execute(q.select_convrefs(channel)).scalars().all()
        return [
            {"channel": r.channel, "conversation_id": r.conversation_id, "reference": r.reference}
            for r in rows
        ]

    # Normalization log and delivery ids ----------------------------------------------------

    def log_normalizations(self, decisions: Sequence[NormalizationDecision]) -> None:
        """Keep normalization decisions for later review."""
        if not decisions:
            return
        now = utcnow()
        with Session(self.engine) as conn, conn.begin():
            conn.execute(
                q.insert_normalization_log(),
                [
                    {
                        "created_at": now,
                        "category": d.category,
                        "term": d.term[:400],
                        "code": d.code,
                        "score": float(d.score),
                        "method": d.method,
                    }
                    for d in decisions
                ],
            )

    def normalization_log(self, limit: int = 100) -> list[NormalizationDecision]:
        """Newest normalization decisions."""
        with Session(self.engine) as conn:
            rows = conn.execute(q.select_normalization_log(limit)).scalars().all()
        return [NormalizationDecision(r.category, r.term, r.code, r.score, r.method) for r in rows]

    def claim_event(self, key: str) -> bool:
        """True the first time a delivery key is seen, False for a redelivery."""
        try:
            with autocommit(self.engine) as connection:
                connection.execute(
                    q.insert_processed_event(), {"event_key": key[:300], "created_at": utcnow()}
                )
            return True
        except IntegrityError:
            return False

    def forget_events_before(self, cutoff: datetime) -> None:
        """Drop delivery ids older than the redelivery window."""
        with Session(self.engine) as conn, conn.begin():
            conn.execute(q.delete_processed_events_before(cutoff))


def _catalog_values(e: CatalogEntry) -> dict[str, Any]:
    return {
        "category": e.category,
        "code": e.code,
        "name_ko": e.name_ko,
        "name_en": e.name_en,
        "synonyms": "|".join(e.synonyms),
        "parent": e.parent,
    }


def _notification_values(n: Notification) -> dict[str, Any]:
    values = {k: getattr(n, k) for k in _NOTIFICATION_FIELDS}
    if n.extra.get("source"):
        # Filed through a channel ('teams', 'slack', 'chat'); imports keep the default.
        values["source"] = n.extra["source"][:32]
    return values


def _to_notification(r: NotificationRow) -> Notification:
    return Notification(
        itemno=r.itemno,
        created_at=r.created_at,
        location=r.location,
        equipment=r.equipment,
        failure_mode=r.failure_mode,
        priority=r.priority,
        title=r.title,
        details=r.details or "",
        resolution=r.resolution or "",
    )
