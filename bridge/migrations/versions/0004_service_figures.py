"""service_figures: when a message reached its ticket and whether it opened an episode; when a reply was
delivered and who wrote it; the thread's current episode

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

AUTHOR_KINDS = ("human", "auto_ack", "bot", "system")


def upgrade() -> None:
    op.add_column("inbox", sa.Column("ticket_at", sa.Float(), nullable=True))
    op.add_column("inbox", sa.Column("opens_episode", sa.Boolean(), nullable=True))
    op.add_column("deliveries", sa.Column("delivered_at", sa.Float(), nullable=True))
    kind = sa.Enum(*AUTHOR_KINDS, name="author_kind", native_enum=False, length=16)
    # every reply delivered before this revision was an agent's, but for the acknowledgements (below)
    op.add_column("deliveries", sa.Column("author_kind", kind, nullable=False, server_default="human"))
    op.add_column("threads", sa.Column("episode_started_at", sa.Float(), nullable=True))
    op.add_column("threads", sa.Column("episode_answered_at", sa.Float(), nullable=True))
    # a reply sent before: delivered when its row was last updated (the closest time the store has)
    op.execute("UPDATE deliveries SET delivered_at = updated_at WHERE status = 'sent'")
    # the automatic acknowledgements of 0003 (bridge.acks): their comment id is auto_ack:<auto_acks.id>
    op.execute("UPDATE deliveries SET author_kind = 'auto_ack' WHERE comment_id LIKE 'auto_ack:%'")


def downgrade() -> None:
    with op.batch_alter_table("threads") as batch:
        batch.drop_column("episode_answered_at")
        batch.drop_column("episode_started_at")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("author_kind")
        batch.drop_column("delivered_at")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("opens_episode")
        batch.drop_column("ticket_at")
