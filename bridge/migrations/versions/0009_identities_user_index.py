"""identities: an index on the helpdesk user, so that forgetting a user Zendesk merged or deleted (its user events,
webhooks/zendesk_users.py) finds its identities without reading the whole table

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 21:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_identities_user", "identities", ["helpdesk_user_id"])


def downgrade() -> None:
    op.drop_index("ix_identities_user", table_name="identities")
