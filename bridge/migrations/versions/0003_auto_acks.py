"""auto_acks: one row per conversation episode, the acknowledgement planned or why none

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 12:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auto_acks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("thread_key", sa.String(length=320), nullable=False),
        sa.Column("episode_at", sa.Float(), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text()),
        sa.Column("reason", sa.Text()),
        sa.Column("due_at", sa.Float()),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.UniqueConstraint("thread_key", "episode_at", name="uq_auto_ack_episode"),
    )
    op.create_index("ix_auto_acks_due", "auto_acks", ["status", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_auto_acks_due", table_name="auto_acks")
    op.drop_table("auto_acks")
