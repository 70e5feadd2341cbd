"""approvals: why a thread's agent replies need approval (a triage rule's name); held replies are
deliveries rows with status held, a string column that needs no change

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("threads", sa.Column("approval", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("threads") as batch:
        batch.drop_column("approval")
