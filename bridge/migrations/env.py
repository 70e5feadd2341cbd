"""Alembic environment: runs on the connection the bridge hands it (see :func:`bridge.store.upgrade`)."""

from __future__ import annotations

from alembic import context

from bridge.store import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - the bridge always passes one
    raise RuntimeError("run migrations through `socialdesk db upgrade`")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
