"""Stability warnings per run, and polled power samples.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch_op:
        batch_op.add_column(sa.Column("warnings", sa.JSON(), nullable=True))
    op.create_table(
        "power_samples",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("t_s", sa.Float(), nullable=False),
        sa.Column("watts", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "idx"),
    )


def downgrade() -> None:
    op.drop_table("power_samples")
    with op.batch_alter_table("runs") as batch_op:
        batch_op.drop_column("warnings")
