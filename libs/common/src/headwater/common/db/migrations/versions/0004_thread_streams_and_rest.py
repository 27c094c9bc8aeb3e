"""threads: events_after (where a reused id's stream starts), settled_status, ttl, deleting

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("threads", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("events_after", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("settled_status", sa.String(length=16), nullable=False, server_default="idle")
        )
        batch_op.add_column(sa.Column("ttl_minutes", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("ttl_strategy", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("deleting", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.create_index(batch_op.f("ix_threads_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("threads", schema=None) as batch_op:
        batch_op.drop_column("deleting")
        batch_op.drop_index(batch_op.f("ix_threads_expires_at"))
        batch_op.drop_column("expires_at")
        batch_op.drop_column("ttl_strategy")
        batch_op.drop_column("ttl_minutes")
        batch_op.drop_column("settled_status")
        batch_op.drop_column("events_after")
