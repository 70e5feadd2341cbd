"""What ``GET /dashboard/api/figures`` answers: the service figures of a period and channel, their course over
time, the operational state of ``socialdesk status``, shaped for the page (``webhooks/static/dashboard.js``).

The request's parameters are read here (:func:`parse_query`): a malformed one is a :class:`BadParameter`
naming it, which the web layer answers with a 400. The figures come from :mod:`bridge.figures` over the rows
the store loads once for the period (:meth:`bridge.store.Store.figure_rows`), the same path ``bench/`` times.
Customers' message text is never part of the answer unless ``[dashboard] show_text`` is set.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bridge import figures, status, timeline, waiting
from bridge.config import Config
from bridge.figures import Episode
from bridge.store import Store

DEFAULT_PERIOD = "7d"
ALL = "all"
MAX_DAYS = 366
WAITING_SHOWN = 10  # the longest-waiting episodes listed
_DAYS = re.compile(r"([1-9][0-9]{0,2})d")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})")
ATTRIBUTION = (
    "An episode counts on the date of its customer's first message, by the platform's clock, in {tz}; its "
    "first response is the first reply written by a person and delivered to the platform."
)


class BadParameter(ValueError):
    """A query parameter that cannot be read: ``name`` is the parameter, ``reason`` what is wrong."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name, self.reason = name, reason


@dataclass(frozen=True)
class Query:
    """A view: ``[start, end)`` (timestamps) named ``period``, a channel name or :data:`ALL`, a time zone."""

    period: str
    start: float
    end: float
    channel: str
    tz: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)


def parse_query(args: Mapping[str, str], config: Config, now: float) -> Query:
    """The view a request asks for (``period``, ``channel``, ``tz``; each optional), or :class:`BadParameter`."""
    tz = _zone(args.get("tz") or config.dashboard.timezone)
    period = args.get("period") or DEFAULT_PERIOD
    start, end = _period(period, ZoneInfo(tz), now)
    return Query(period, start, end, _channel(args.get("channel") or ALL, config), tz)


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadParameter("tz", "not a time zone name (like Europe/Lisbon or UTC)") from None
    return name


def _channel(name: str, config: Config) -> str:
    if name != ALL and config.channel(name) is None:
        raise BadParameter("channel", f"no channel of that name (configured: {', '.join(_names(config)) or 'none'})")
    return name


def _period(period: str, zone: ZoneInfo, now: float) -> tuple[float, float]:
    """``Nd`` (the last N days up to now), ``YYYY-MM`` (a calendar month) or ``YYYY-MM-DD..YYYY-MM-DD`` (whole
    days, both included), in the view's time zone."""
    if days := _DAYS.fullmatch(period):
        if int(days[1]) > MAX_DAYS:
            raise BadParameter("period", f"at most {MAX_DAYS} days")
        return now - int(days[1]) * 86400.0, now
    try:
        if month := _MONTH.fullmatch(period):
            first = date(int(month[1]), int(month[2]), 1)
            return _midnight(first, zone), _midnight((first + timedelta(days=31)).replace(day=1), zone)
        if span := _RANGE.fullmatch(period):
            first, last = date.fromisoformat(span[1]), date.fromisoformat(span[2])
            if not first <= last <= first + timedelta(days=MAX_DAYS - 1):
                raise BadParameter("period", f"the first day must come first, at most {MAX_DAYS} days apart")
            return _midnight(first, zone), _midnight(last + timedelta(days=1), zone)
    except ValueError as e:
        if isinstance(e, BadParameter):
            raise
        raise BadParameter("period", "not a date") from None
    raise BadParameter("period", "use 7d (the last 7 days), 2026-11 (a month) or 2026-11-01..2026-11-15")


def _midnight(day: date, zone: ZoneInfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()


def _names(config: Config) -> list[str]:
    return [c.name for c in config.channels]


def view(store: Store, config: Config, query: Query, *, now: float | None = None) -> dict[str, Any]:
    """Everything the page shows for ``query``: loaded once, then shaped (JSON-ready)."""
    now = time.time() if now is None else now
    messages, replies = store.figure_rows(query.start, query.end)
    found = figures.episodes(messages, replies)
    if query.channel != ALL:
        found = [e for e in found if e.channel == query.channel]
    return {
        "query": _described(query),
        "attribution": ATTRIBUTION.format(tz=query.tz),
        "channels": [{"name": c.name, "platform": c.platform} for c in config.channels],
        "totals": _totals(found),
        "by_channel": [asdict(f) for f in figures.figures(found).values()],
        "series": timeline.series(found, query.start, query.end, query.zone),
        "badge": None,  # the Facebook badge estimate: filled by bridge.figures' compute once it lands
        "waiting": _waiting(store, config, query, now),
        "status": status.report(config, store, now=now),
        "text_shown": config.dashboard.show_text,
    }


def _described(query: Query) -> dict[str, Any]:
    zone = query.zone
    iso = [datetime.fromtimestamp(t, zone).isoformat(timespec="minutes") for t in (query.start, query.end)]
    return {"period": query.period, "start": iso[0], "end": iso[1], "channel": query.channel, "tz": query.tz}


def _totals(found: Sequence[Episode]) -> dict[str, Any]:
    times = sorted(t for e in found if (t := e.first_response_seconds) is not None)
    return {
        "episodes": len(found),
        "messages": sum(e.messages for e in found),
        "answered": len(times),
        "response_rate": len(times) / len(found) if found else None,
        "median": timeline.median(times),
        "p90": figures.percentile(times, 0.9),
        "buckets": figures.buckets(times),
    }


def _waiting(store: Store, config: Config, query: Query, now: float) -> list[dict[str, Any]]:
    show = config.dashboard.show_text
    channel = None if query.channel == ALL else query.channel
    rows = store.waiting_episodes(channel, limit=WAITING_SHOWN, with_text=show)
    return waiting.shaped(rows, query.zone, now, show_text=show)
