"""figure_facts: a customer message's sentiment and whether it needs an answer, an episode's solved time;
indexes for the figures' period queries

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("inbox", sa.Column("sentiment", sa.String(length=16), nullable=True))
    op.add_column("inbox", sa.Column("no_answer", sa.Boolean(), nullable=True))
    op.add_column("inbox", sa.Column("solved_at", sa.Float(), nullable=True))
    # a period's messages (platform time) and each thread's replies: the figures' two reads (bench/figures.py)
    op.create_index("ix_inbox_platform_ts", "inbox", ["platform_ts"])
    op.create_index("ix_deliveries_thread", "deliveries", ["thread_key", "comment_created_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_thread", table_name="deliveries")
    op.drop_index("ix_inbox_platform_ts", table_name="inbox")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("solved_at")
        batch.drop_column("no_answer")
        batch.drop_column("sentiment")
