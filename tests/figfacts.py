"""Rows for the service figures written straight into a store (tests of bridge.figquery, report, badge)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from bridge.figmodel import EpisodeRow, MessageFact, Period, ReplyFact
from bridge.figquery import compute
from bridge.store import Store, deliveries, inbox


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """A migrated store on SQLite, then on PostgreSQL (a fresh schema)."""
    if request.param == "sqlite":
        return Store.from_url(f"sqlite:///{tmp_path}/store.db")
    return Store.from_url(str(request.getfixturevalue("pg_url")), migrate=True)


def store_facts(store: Store, messages: Sequence[MessageFact], replies: Sequence[ReplyFact] = ()) -> None:
    """Each fact as the worker would have left its row (a message done, a reply with its outcome)."""
    rows = [
        {"platform": m.platform, "account_id": "page", "message_id": f"m{i}", "channel": m.channel,
         "thread_key": m.thread_key, "kind": m.kind, "payload": "{}", "platform_ts": m.platform_ts,
         "received_at": m.received_at, "status": "done", "opens_episode": m.opens_episode, "sentiment": m.sentiment,
         "no_answer": m.no_answer, "solved_at": m.solved_at}
        for i, m in enumerate(messages)
    ]  # fmt: skip
    answers = [
        {"helpdesk": "zendesk", "comment_id": f"c{i}", "ticket_id": "1", "thread_key": r.thread_key,
         "status": r.status, "comment_created_at": r.comment_created_at, "delivered_at": r.delivered_at,
         "author_kind": r.author_kind, "error": r.error, "receipt": r.receipt, "created_at": r.comment_created_at,
         "updated_at": r.comment_created_at}
        for i, r in enumerate(replies)
    ]  # fmt: skip
    with store.begin() as conn:
        if rows:
            conn.execute(sa.insert(inbox), rows)
        if answers:
            conn.execute(sa.insert(deliveries), answers)


def stored_episodes(store: Store) -> list[EpisodeRow]:
    """The episodes of the store's messages (two months either side of today, UTC), as the figures see them."""
    today = datetime.now(UTC).date()
    period = Period(today - timedelta(days=60), today + timedelta(days=60), ZoneInfo("UTC"))
    return [e for e in compute(store, period).episodes if not e.continued]
