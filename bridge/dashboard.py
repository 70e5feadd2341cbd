"""What the dashboard's JSON answers, shaped for the page (``webhooks/static/dashboard.js``):
``/dashboard/api/figures`` the service figures of a period and channel, their course per local day, the
Facebook badge estimate and the episodes waiting now; ``/dashboard/api/status`` the counts ``socialdesk status``
shows.

The request's parameters are read here (:func:`parse_query`), with the grammar of ``socialdesk report``
(:mod:`bridge.figmodel`): a malformed one is a :class:`BadParameter` naming it, which the web layer answers
with a 400. The figures are :func:`bridge.figquery.compute`'s, the path ``bench/`` times, and the badge is
:func:`bridge.badge.badges`'. No thread key, user id or message text is in the answer; the waiting episodes'
text only with ``[dashboard] show_text``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridge import badge, figjson, status, waiting
from bridge.config import Config
from bridge.figmodel import Period, PeriodError, period, timezone
from bridge.figquery import calendars_for, compute
from bridge.store import Store

DEFAULT_PERIOD = "7d"
ALL = "all"
WAITING_SHOWN = 10  # the longest-waiting episodes listed
FIRST_RESPONSE = "a first response is the first reply written by a person and delivered to the platform"


class BadParameter(ValueError):
    """A query parameter that cannot be read: ``name`` is the parameter, ``reason`` what is wrong."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name, self.reason = name, reason


@dataclass(frozen=True)
class Query:
    """A view: whole local days (``period``, as asked: ``text``), a channel name or :data:`ALL`."""

    text: str
    period: Period
    channel: str


def parse_query(args: Mapping[str, str], config: Config, now: float) -> Query:
    """The view a request asks for (``period``, ``channel``, ``tz``; each optional), or :class:`BadParameter`."""
    try:
        zone = timezone(args.get("tz") or config.dashboard.timezone)
    except PeriodError as e:
        raise BadParameter("tz", str(e)) from None
    text = args.get("period") or DEFAULT_PERIOD
    try:
        chosen = period(text, zone, datetime.fromtimestamp(now, zone).date())
    except PeriodError as e:
        raise BadParameter("period", str(e)) from None
    return Query(text, chosen, _channel(args.get("channel") or ALL, config))


def _channel(name: str, config: Config) -> str:
    if name != ALL and config.channel(name) is None:
        names = ", ".join(c.name for c in config.channels) or "none"
        raise BadParameter("channel", f"no channel of that name (configured: {names}, or {ALL})")
    return name


def view(store: Store, config: Config, query: Query, *, now: float | None = None) -> dict[str, Any]:
    """Everything the page shows for ``query``: the rows loaded once per figure, then shaped (JSON-ready)."""
    now = time.time() if now is None else now
    channel = None if query.channel == ALL else query.channel
    found = compute(store, query.period, channel, calendars_for(config, store))
    pages = [(c.name, c.platform) for c in config.channels if channel in (None, c.name)]
    figures = figjson.as_dict(found)
    return {
        "query": {"period": query.text, "first_day": query.period.start.isoformat(),
                  "last_day": query.period.days[-1].isoformat(), "label": figures["period"]["label"],
                  "channel": query.channel, "tz": figures["period"]["tz"]},
        "attribution": f"Figures count {found.attribution}; {FIRST_RESPONSE}.",
        "channels": [{"name": c.name, "platform": c.platform} for c in config.channels],
        "calendars": figures["calendars"],
        "total": figures["total"],
        "by_channel": list(figures["channels"].values()),
        "days": figures["days"],
        "badges": figjson.badges(badge.badges(store, pages, now)),
        "waiting": _waiting(store, config, query, now),
        "text_shown": config.dashboard.show_text,
    }  # fmt: skip


def operations(store: Store, config: Config, *, now: float | None = None) -> dict[str, Any]:
    """The counts of the state ``socialdesk status`` prints (queues, deliveries, pauses, dead letters, ignored by
    reason): the page asks for it beside the figures, in parallel (neither waits for the other) and without the
    filters. Only what the page shows: ``status`` also has the joins' identity keys and user ids and a queue's
    last error (which may quote a vendor's answer), for the operator's terminal, not for a browser."""
    state = status.report(config, store, now=now)
    shown: dict[str, Any] = {key: state[key] for key in _SHOWN if key in state}
    for table in status.QUEUES:
        shown[table] = {key: state[table][key] for key in _QUEUE_SHOWN}
    return shown


_SHOWN = ("deliveries", "dead_letters", "paused", "paused_unknown", "ignored")
_QUEUE_SHOWN = ("counts", "pending", "retrying", "oldest_pending_age_s")


def _waiting(store: Store, config: Config, query: Query, now: float) -> list[dict[str, Any]]:
    show = config.dashboard.show_text
    channel = None if query.channel == ALL else query.channel
    rows = store.waiting_episodes(channel, limit=WAITING_SHOWN, with_text=show)
    return waiting.shaped(rows, query.period.tz, now, show_text=show)
