"""The service figures from the store: the rows of a period read in three queries, then :mod:`bridge.figbuild`.

:func:`compute` is what the dashboard, ``socialdesk report`` and the demo call; :func:`calendars_for` gives
each channel's business-hours calendar from the configuration (a helpdesk schedule as last read).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import sqlalchemy as sa

from bridge import schedules
from bridge.config import Config
from bridge.figbuild import Calendars, build
from bridge.figmodel import Figures, MessageFact, Period, ReplyFact
from bridge.store import Store, deliveries, inbox

_MESSAGE_COLUMNS = (inbox.c.thread_key, inbox.c.channel, inbox.c.platform, inbox.c.kind, inbox.c.platform_ts,
                    inbox.c.received_at, inbox.c.opens_episode, inbox.c.sentiment,
                    sa.func.coalesce(inbox.c.no_answer, sa.false()).label("no_answer"),
                    inbox.c.solved_at)  # in MessageFact's order: rows become facts positionally  # fmt: skip
_REPLY_COLUMNS = (deliveries.c.thread_key, deliveries.c.comment_created_at, deliveries.c.delivered_at,
                  deliveries.c.status, deliveries.c.author_kind, deliveries.c.error,
                  deliveries.c.receipt)  # in ReplyFact's order  # fmt: skip


def compute(store: Store, period: Period, channel: str | None = None, calendars: Calendars | None = None) -> Figures:
    """Every figure of ``period`` (local dates in its time zone), for one channel or all."""
    messages, replies, fences = load(store, period.since, period.until, channel)
    return build(messages, replies, period, channel=channel, fences=fences, calendars=calendars)


def load(
    store: Store, since: float, until: float, channel: str | None = None, *, channels: Sequence[str] = ()
) -> tuple[list[MessageFact], list[ReplyFact], dict[str, float]]:
    """The customer messages written to the helpdesk in [since, until) (platform time; of one channel, or
    of ``channels``, or all), every reply to their threads written since ``since``, and each thread's next
    episode start after ``until`` (its fence). Channels, not platforms: SQLite would read a platform's every
    message by the unique key's index rather than the period's by ``ix_inbox_platform_ts``."""
    where = [inbox.c.opens_episode.isnot(None), inbox.c.platform_ts >= since, inbox.c.platform_ts < until]
    if channel is not None:
        where.append(inbox.c.channel == channel)
    if channels:
        where.append(inbox.c.channel.in_(channels))
    keys = sa.select(inbox.c.thread_key).where(*where).distinct().scalar_subquery()
    replies = sa.select(*_REPLY_COLUMNS).where(
        deliveries.c.thread_key.in_(keys), deliveries.c.comment_created_at >= since
    )
    fences = (
        sa.select(inbox.c.thread_key, sa.func.min(inbox.c.platform_ts))
        .where(inbox.c.thread_key.in_(keys), inbox.c.opens_episode.is_(True), inbox.c.platform_ts >= until)
        .group_by(inbox.c.thread_key)
    )
    with store.begin() as conn:
        found = [
            MessageFact(*cast(tuple[Any, ...], r)) for r in conn.execute(sa.select(*_MESSAGE_COLUMNS).where(*where))
        ]
        answers = [ReplyFact(*r) for r in conn.execute(replies)]
        later = {str(k): float(at) for k, at in conn.execute(fences)}
    return found, answers, later


def calendars_for(config: Config, store: Store) -> Calendars:
    """Each configured channel's calendar (None: 24/7; Unknown: a helpdesk schedule never read)."""
    return {c.name: schedules.for_channel(config, store, c.name) for c in config.channels}
