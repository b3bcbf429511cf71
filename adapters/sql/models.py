"""SQLAlchemy tables of the application database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of every PMark table."""


class CatalogRow(Base):
    """A catalog code of one category."""

    __tablename__ = "catalog_entries"
    __table_args__ = (UniqueConstraint("category", "code", name="uq_catalog_category_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name_ko: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    synonyms: Mapped[str] = mapped_column(Text, default="")
    parent: Mapped[str | None] = mapped_column(String(64), nullable=True)


class NotificationRow(Base):
    """A maintenance notification, past or filed through PMark."""

    __tablename__ = "notifications"

    itemno: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    location: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    equipment: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    failure_mode: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    priority: Mapped[str | None] = mapped_column(String(16), nullable=True)
    title: Mapped[str] = mapped_column(String(500))
    details: Mapped[str] = mapped_column(Text, default="")
    resolution: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(32), default="import")
    # Lifecycle (migration 0003_lifecycle_outbox): imported history counts as closed.
    status: Mapped[str] = mapped_column(
        String(16), default="closed", server_default="closed", index=True
    )
    equipment_tag: Mapped[str | None] = mapped_column(String(64), nullable=True)
    filed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    filed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    thread_id: Mapped[str | None] = mapped_column(String(400), nullable=True, index=True)
    answer_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    reports: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    recommended_itemno: Mapped[str | None] = mapped_column(String(64), nullable=True)
    recommended_fix: Mapped[str | None] = mapped_column(Text, nullable=True)


class FeedbackRow(Base):
    """One thumb on one recommendation of one answer; idempotent on its key."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("answer_id", "itemno", "user_id", name="uq_feedback_answer_item_user"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    answer_id: Mapped[str] = mapped_column(String(128), index=True)
    itemno: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16))
    vote: Mapped[int] = mapped_column(Integer)
    is_supervisor: Mapped[bool] = mapped_column(default=False)
    query: Mapped[str] = mapped_column(Text, default="")
    equipment: Mapped[str | None] = mapped_column(String(64), nullable=True)
    failure_mode: Mapped[str | None] = mapped_column(String(64), nullable=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)


class EvaluationRunRow(Base):
    """One evaluation run with its metrics and per-query details."""

    __tablename__ = "evaluation_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="running")
    version: Mapped[str] = mapped_column(String(32))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")


class ExperimentRunRow(Base):
    """An evaluation run filed under a named experiment: who ran it, on which code, and why."""

    __tablename__ = "experiment_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment: Mapped[str] = mapped_column(String(200), index=True)
    run_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    code_version: Mapped[str] = mapped_column(String(80))
    researcher: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")
    mlflow_run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ConversationRefRow(Base):
    """A channel conversation PMark may post to proactively."""

    __tablename__ = "conversation_refs"
    __table_args__ = (UniqueConstraint("channel", "conversation_id", name="uq_convref"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))
    conversation_id: Mapped[str] = mapped_column(String(400))
    reference: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class NormalizationLogRow(Base):
    """One normalization decision (term -> code) kept for review."""

    __tablename__ = "normalization_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    category: Mapped[str] = mapped_column(String(32))
    term: Mapped[str] = mapped_column(String(400))
    code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    score: Mapped[float] = mapped_column(Float)
    method: Mapped[str] = mapped_column(String(32))


class FieldCorrectionRow(Base):
    """A person's correction of one parsed field: who, the text, the old and the new code."""

    __tablename__ = "field_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    user_id: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    old_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    new_code: Mapped[str] = mapped_column(String(64))


class ProcessedEventRow(Base):
    """Ids of channel deliveries already accepted, so redeliveries are processed once."""

    __tablename__ = "processed_events"

    event_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class ThreadActivityRow(Base):
    """When each conversation last had a turn, for checkpoint retention and pruning."""

    __tablename__ = "thread_activity"

    thread_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    last_active: Mapped[datetime] = mapped_column(DateTime, index=True)
    pruned_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class CmmsOutboxRow(Base):
    """One lifecycle event waiting for (or done with) delivery to the plant's CMMS."""

    __tablename__ = "cmms_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_key: Mapped[str] = mapped_column(String(64), unique=True)
    itemno: Mapped[str] = mapped_column(String(64), index=True)
    event: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    leased_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    # The CMMS's own key of the notification (SAP's MaintenanceNotification), once created.
    remote_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ThreadCardRow(Base):
    """The latest card of each conversation thread, shared by every worker and replica: a
    press on an older card is explained, and the card a new one replaces is closed."""

    __tablename__ = "thread_cards"

    thread_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    answer_id: Mapped[str] = mapped_column(String(200))
    message_id: Mapped[str] = mapped_column(String(400))
    # The card's answer (packed JSON), so whichever process closes it can draw it again.
    response: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime, index=True)
