"""experiment runs (issue 18: evaluation runs filed under named experiments)

Revision ID: h18_experiment_runs
Revises: 0003_lifecycle_outbox
Create Date: 2026-12-04 16:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'h18_experiment_runs'
down_revision = '0003_lifecycle_outbox'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('experiment_runs',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('experiment', sa.String(length=200), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('code_version', sa.String(length=80), nullable=False),
    sa.Column('researcher', sa.String(length=200), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('mlflow_run_id', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('experiment_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_experiment_runs_experiment'), ['experiment'], unique=False)
        batch_op.create_index(batch_op.f('ix_experiment_runs_run_id'), ['run_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('experiment_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_experiment_runs_run_id'))
        batch_op.drop_index(batch_op.f('ix_experiment_runs_experiment'))

    op.drop_table('experiment_runs')
