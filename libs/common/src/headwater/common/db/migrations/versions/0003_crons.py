"""crons

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "crons",
        sa.Column("cron_id", sa.String(length=36), nullable=False),
        sa.Column("assistant_id", sa.String(length=36), nullable=False),
        sa.Column("thread_id", sa.String(length=36), nullable=True),
        sa.Column("schedule", sa.String(length=255), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_run_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("on_run_completed", sa.String(length=16), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("auth_user", JSON, nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("cron_id"),
    )
    with op.batch_alter_table("crons", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crons_assistant_id"), ["assistant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_crons_thread_id"), ["thread_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_crons_next_run_date"), ["next_run_date"], unique=False)
        batch_op.create_index(batch_op.f("ix_crons_owner"), ["owner"], unique=False)
        batch_op.create_index(batch_op.f("ix_crons_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("crons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crons_created_at"))
        batch_op.drop_index(batch_op.f("ix_crons_owner"))
        batch_op.drop_index(batch_op.f("ix_crons_next_run_date"))
        batch_op.drop_index(batch_op.f("ix_crons_thread_id"))
        batch_op.drop_index(batch_op.f("ix_crons_assistant_id"))

    op.drop_table("crons")
