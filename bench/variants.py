"""Variants of the web app for evidence only: the same app with one storage setting changed.

Used by ``bench.ingest --targets ...,postgres-nopreping,sqlite-sync-normal`` to show what a setting in
bridge/store.py costs on the request path. They are not recommendations by themselves: see RESULTS.md.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from flask import Flask

from bridge import config as config_module
from bridge.events import Ignored, SocialEvent
from bridge.store import Store, ingest_row
from webhooks.app import create_app


def no_pre_ping_app() -> Flask:
    """PostgreSQL without ``pool_pre_ping`` (which costs a ``SELECT 1`` round trip per checkout)."""
    config = config_module.load()
    engine = sa.create_engine(config.database_url, pool_size=10, max_overflow=10)
    return create_app(config, store=Store(engine))


def sync_normal_app() -> Flask:
    """SQLite in WAL with ``synchronous=NORMAL``: no fsync per commit (durable across a crash of the
    process, not across a power loss)."""
    config = config_module.load()
    engine = sa.create_engine(config.database_url, connect_args={"timeout": 30, "check_same_thread": False})
    sa.event.listen(engine, "connect", normal_pragmas)
    return create_app(config, store=Store(engine))


def normal_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class OneCommitPerWebhook(Store):
    """The store without group commit: every webhook its own transaction and commit, as before."""

    def ingest(self, events: Iterable[SocialEvent | Ignored]) -> int:
        now = time.time()
        rows = [ingest_row(e, now) for e in events]
        return self.ingest_batch([rows])[0] if rows else 0


def no_group_commit_app() -> Flask:
    """One commit per webhook even with threaded workers (what group commit saves)."""
    config = config_module.load()
    return create_app(config, store=OneCommitPerWebhook(Store.from_url(config.database_url).engine))
