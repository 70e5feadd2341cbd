"""user_joins: each social identity joined to the helpdesk user of a CRM Contact, each merge, link and undo

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_joins",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("identity_key", sa.String(320), nullable=False),
        sa.Column("contact_id", sa.String(64), nullable=True),
        sa.Column("user_id", sa.String(64), nullable=True),
        sa.Column("other_user_id", sa.String(64), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
    )
    op.create_index("ix_user_joins_identity", "user_joins", ["identity_key", "id"])


def downgrade() -> None:
    op.drop_index("ix_user_joins_identity", table_name="user_joins")
    op.drop_table("user_joins")
