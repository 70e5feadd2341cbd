"""ticket_links: every ticket a thread has had, so that a reply on a replaced ticket finds its thread

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 20:20:00
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticket_links",
        sa.Column("helpdesk", sa.String(length=32), nullable=False),
        sa.Column("ticket_id", sa.String(length=64), nullable=False),
        sa.Column("thread_key", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("helpdesk", "ticket_id"),
    )
    # the threads' current tickets: the only links known before this table
    op.execute(
        sa.text(
            "INSERT INTO ticket_links (helpdesk, ticket_id, thread_key, created_at) "
            "SELECT helpdesk, ticket_id, MIN(key), :now FROM threads WHERE ticket_id IS NOT NULL "
            "GROUP BY helpdesk, ticket_id"
        ).bindparams(now=time.time())
    )


def downgrade() -> None:
    op.drop_table("ticket_links")
