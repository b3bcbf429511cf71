"""notification lifecycle (status, who filed, when, closing) and the CMMS outbox

Revision ID: 0003_lifecycle_outbox
Revises: 0002
Create Date: 2026-12-04 16:40:00

Columns are added only when missing: another change may add some of them (e.g. who filed a
notification, its source) before this one runs.
"""

from alembic import op
import sqlalchemy as sa


revision = "0003_lifecycle_outbox"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = (
    lambda: sa.Column("status", sa.String(length=16), nullable=False, server_default="closed"),
    lambda: sa.Column("equipment_tag", sa.String(length=64), nullable=True),
    lambda: sa.Column("filed_by", sa.String(length=128), nullable=True),
    lambda: sa.Column("filed_at", sa.DateTime(), nullable=True),
    lambda: sa.Column("closed_at", sa.DateTime(), nullable=True),
    lambda: sa.Column("closed_by", sa.String(length=128), nullable=True),
    lambda: sa.Column("thread_id", sa.String(length=400), nullable=True),
    lambda: sa.Column("answer_id", sa.String(length=128), nullable=True),
    lambda: sa.Column("reports", sa.Integer(), nullable=False, server_default="1"),
    lambda: sa.Column("recommended_itemno", sa.String(length=64), nullable=True),
    lambda: sa.Column("recommended_fix", sa.Text(), nullable=True),
)
_INDEXES = ("status", "thread_id", "answer_id")


def _existing() -> tuple[set[str], set[str]]:
    inspector = sa.inspect(op.get_bind())
    columns = {c["name"] for c in inspector.get_columns("notifications")}
    indexes = {str(i["name"]) for i in inspector.get_indexes("notifications")}
    return columns, indexes


def upgrade() -> None:
    columns, indexes = _existing()
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        if "source" not in columns:
            batch_op.add_column(
                sa.Column("source", sa.String(length=32), nullable=False, server_default="import")
            )
        for make in _COLUMNS:
            column = make()
            if column.name not in columns:
                batch_op.add_column(column)
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        for name in _INDEXES:
            index = f"ix_notifications_{name}"
            if index not in indexes:
                batch_op.create_index(index, [name], unique=False)

    op.create_table(
        "cmms_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_key", sa.String(length=64), nullable=False),
        sa.Column("itemno", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("leased_until", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("remote_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_key"),
    )
    with op.batch_alter_table("cmms_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_cmms_outbox_itemno", ["itemno"], unique=False)
        batch_op.create_index("ix_cmms_outbox_delivered_at", ["delivered_at"], unique=False)


def downgrade() -> None:
    op.drop_table("cmms_outbox")
    columns, indexes = _existing()
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        for name in _INDEXES:
            if f"ix_notifications_{name}" in indexes:
                batch_op.drop_index(f"ix_notifications_{name}")
        for make in reversed(_COLUMNS):
            name = make().name
            if name in columns:
                batch_op.drop_column(name)
