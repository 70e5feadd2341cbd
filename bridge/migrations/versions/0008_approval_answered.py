"""approvals: when an approver's answer was recorded on a thread whose tag is not known to be off yet; a tag
left on the ticket answers only the replies held before it (bridge.approvals)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 16:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("threads", sa.Column("approval_answered_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("threads") as batch:
        batch.drop_column("approval_answered_at")
