"""thread cards (issue 16: the latest card of a conversation, shared by workers and replicas)

Revision ID: h16_thread_cards
Revises: h15_field_corrections
Create Date: 2026-12-05 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "h16_thread_cards"
down_revision = "h15_field_corrections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "thread_cards",
        sa.Column("thread_id", sa.String(length=400), nullable=False),
        sa.Column("answer_id", sa.String(length=200), nullable=False),
        sa.Column("message_id", sa.String(length=400), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("thread_id"),
    )
    with op.batch_alter_table("thread_cards", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_thread_cards_updated_at"), ["updated_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("thread_cards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_thread_cards_updated_at"))
    op.drop_table("thread_cards")
