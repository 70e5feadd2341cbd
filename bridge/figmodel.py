"""The service figures' typed API: the rows read from the store, the period asked for, and every number
shown (dashboard, report, demo), computed by :mod:`bridge.figbuild` and loaded by :mod:`bridge.figquery`.

Durations are seconds. Each figure is attributed to the local date (in :attr:`Figures.tz`) of the customer's
message: an episode to the date of its first message, volume and per-message response times to each message's.
"""

from __future__ import annotations

import bisect
import calendar as calendar_module
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from bridge.calendars import CalendarError, zone_named
from bridge.events import AuthorKind

ATTRIBUTION = "by the date of the customer's message (an episode: its first message), in {tz}"
FB_WARNING = (
    "Estimate: Facebook also counts automated replies (acknowledgements, bots) as responses; socialdesk's "
    "figures leave them out, so the badge Facebook shows may be better than the figures for people."
)
NO_CALENDAR = "24/7"
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
_LAST = re.compile(r"^(\d{1,3})d$")
_MAX_DAYS = 366  # "at most a year", a leap year's too


class PeriodError(ValueError):
    """A malformed period or time zone; the message says what is accepted (callers add the option's name)."""


@dataclass(frozen=True)
class MessageFact:
    """A customer message written to the helpdesk (an ``inbox`` row with its thread's channel and platform)."""

    thread_key: str
    channel: str
    platform: str
    kind: str  # message | comment
    platform_ts: float
    received_at: float
    opens_episode: bool
    sentiment: str | None = None  # the classifier's label, when one classified it
    no_answer: bool = False  # a rule or tag said it needs no answer ([metrics] no_answer_rules / no_answer_tags)
    solved_at: float | None = None  # on an episode's first message: when the helpdesk showed the ticket solved


@dataclass(frozen=True)
class ReplyFact:
    """A reply to a thread (a ``deliveries`` row): written in the helpdesk, delivered (or failed, and why)."""

    thread_key: str
    comment_created_at: float
    delivered_at: float | None
    status: str  # sending | sent | failed | unknown
    author_kind: AuthorKind
    error: str | None = None
    receipt: str | None = None  # the platform's later word on a sent reply (WhatsApp's statuses): "failed" undoes it


@dataclass(frozen=True)
class Period:
    """Local dates [start, end) in a time zone."""

    start: date
    end: date
    tz: ZoneInfo

    @cached_property
    def since(self) -> float:
        return datetime.combine(self.start, time(), self.tz).timestamp()

    @cached_property
    def until(self) -> float:
        return datetime.combine(self.end, time(), self.tz).timestamp()

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days)]

    @cached_property
    def _midnights(self) -> list[float]:
        return [datetime.combine(d, time(), self.tz).timestamp() for d in self.days]

    def day_of(self, ts: float) -> date:
        """The local date of an instant: by the period's own midnights when inside it (a bisection, far
        cheaper than a time-zone conversion per message), else converted."""
        if not self.since <= ts < self.until:
            return datetime.fromtimestamp(ts, self.tz).date()
        return self.start + timedelta(days=bisect.bisect_right(self._midnights, ts) - 1)

    def label(self) -> str:
        last = self.end - timedelta(days=1)
        return f"{self.start.isoformat()} to {last.isoformat()} ({self.tz.key})"


def timezone(name: str) -> ZoneInfo:
    """An IANA zone; :class:`PeriodError` otherwise."""
    try:
        return zone_named(name)
    except CalendarError as e:
        raise PeriodError(str(e)) from None


def month(text: str, tz: ZoneInfo) -> Period:
    """``2026-11`` → November 2026 in ``tz``."""
    found = _MONTH.match(text.strip())
    if not found or not 1 <= int(found[2]) <= 12 or int(found[1]) < 1970:
        raise PeriodError(f"{text!r} is not a month (use YYYY-MM, e.g. 2026-11)")
    year, number = int(found[1]), int(found[2])
    last = calendar_module.monthrange(year, number)[1]
    return _bounded(date(year, number, 1), date(year, number, last), tz, text)


def period(text: str, tz: ZoneInfo, today: date) -> Period:
    """``7d`` (the last 7 days, today included), ``2026-11`` (a month) or ``2026-11-01..2026-11-30`` (both
    ends included); :class:`PeriodError` names what is accepted."""
    text = text.strip()
    if last := _LAST.match(text):
        days = int(last[1])
        if 1 <= days <= _MAX_DAYS:
            return _bounded(today - timedelta(days=days - 1), today, tz, text)
    elif found := _RANGE.match(text):
        try:
            start, end = date.fromisoformat(found[1]), date.fromisoformat(found[2])
        except ValueError:
            start, end = date.max, date.min
        if start <= end and (end - start).days <= _MAX_DAYS:
            return _bounded(start, end, tz, text)
    elif _MONTH.match(text):
        return month(text, tz)
    raise PeriodError(f"{text!r} is not a period (use 7d, 2026-11 or 2026-11-01..2026-11-30, at most a year)")


def _bounded(first: date, last: date, tz: ZoneInfo, text: str) -> Period:
    """The local dates ``first`` to ``last`` (both included), or :class:`PeriodError` where the calendar ends
    (``9999-12-31`` has no next day; a date near it no instant in every zone)."""
    try:
        found = Period(first, last + timedelta(days=1), tz)
        found.since, found.until  # noqa: B018 -- computed here so that an overflow is the caller's 400, not a 500
    except (OverflowError, ValueError, OSError):
        raise PeriodError(f"{text!r} reaches past the calendar's last day (9999-12-31)") from None
    return found


@dataclass(frozen=True)
class Stats:
    """Durations: how many, median, nearest-rank p90, mean, and the buckets (every bucket named)."""

    count: int
    median: float | None
    p90: float | None
    mean: float | None
    buckets: dict[str, int]


@dataclass(frozen=True)
class Slice:
    """The figures of a set of episodes and messages (all of them, one channel, one platform)."""

    name: str
    messages: int  # volume: customer messages dated in the period
    episodes: int
    needing_answer: int
    answered: int  # by a person (a human reply delivered)
    response_rate: float | None  # answered (of those needing an answer) / needing an answer
    first_response: Stats
    first_response_business: Stats
    response: Stats  # per customer message answered: to the first human reply delivered after it
    response_business: Stats
    resolution: Stats  # episode start to solved in the helpdesk
    acknowledged: int  # episodes with an automatic acknowledgement delivered
    bot_answered: int  # episodes a bot answered (delivered)
    bot_only: int  # ... and no person did: unanswered by a person
    handed_off: int  # ... and then a person answered too
    sentiment: dict[str, int]  # customer messages by the classifier's label ("unclassified": none)
    failures: dict[str, int]  # replies that failed, went out in part or whose outcome is unknown, by reason
    ingest_lag: Stats  # platform time → stored (received), per message


@dataclass(frozen=True)
class DayPoint:
    """One local day of the period, for the charts."""

    day: date
    messages: int
    episodes: int
    answered: int
    median_first_response: float | None
    p90_first_response: float | None


@dataclass(frozen=True)
class EpisodeRow:
    """One episode (one CSV row). ``continued``: messages in the period of an episode that started before it
    (counted in the volume only). Response sums let the mean response be recomputed from the rows."""

    thread_key: str
    channel: str
    platform: str
    started_at: float
    day: date
    messages: int
    continued: bool
    needs_answer: bool
    first_response: float | None
    first_response_business: float | None
    answered_by: str  # person | bot | none
    acknowledged: bool
    handed_off: bool
    responses: int
    response_sum: float
    response_business_sum: float
    resolution: float | None
    sentiment: dict[str, int]
    failures: tuple[str, ...]  # reasons, one per failed reply
    ingest_lag_sum: float


@dataclass(frozen=True)
class Figures:
    """Everything shown for a period (and channel): totals, per channel, per platform, per day, per episode."""

    period: Period
    channel: str | None
    attribution: str
    calendars: dict[str, str]  # channel → the calendar business time is counted in ("24/7": none)
    total: Slice
    channels: dict[str, Slice]
    platforms: dict[str, Slice]
    days: list[DayPoint]
    episodes: list[EpisodeRow] = field(repr=False)


@dataclass(frozen=True)
class Badge:
    """Facebook's responsiveness badge, estimated for one page over the last 7 days by its rule (a message
    counts when it is the first after 24 hours of silence). ``*_with_automated``: counting automatic replies
    as Facebook does."""

    channel: str
    counted: int
    response_rate: float | None
    median_response: float | None
    response_rate_with_automated: float | None
    median_response_with_automated: float | None
    very_responsive: bool  # by people's replies: rate >= 90 % and median <= 15 minutes
    warning: str = FB_WARNING
