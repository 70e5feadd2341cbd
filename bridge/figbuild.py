"""The service figures from rows loaded once (:mod:`bridge.figquery`): pure, no store and no clock.

A thread's messages in the period are cut into episodes where a message opened one (``opens_episode``,
decided by the worker, :func:`bridge.figures.opens_episode`); messages before the thread's first opening in
the period continue an episode that started earlier, and count in the volume only. A reply belongs to the
episode it was written in; the episode after the last one in the period starts at the thread's ``fence``
(its next opening message, if any), so a reply written then is not counted for an older episode.
Only a human reply delivered to the platform is a response; a failed, partly delivered or unknown one counts as a
failure, by reason.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeVar

from bridge import messages
from bridge.calendars import Calendar, Unknown
from bridge.events import AuthorKind, DeliveryStatus
from bridge.figmodel import (
    ATTRIBUTION,
    NO_CALENDAR,
    DayPoint,
    EpisodeRow,
    Figures,
    MessageFact,
    Period,
    ReplyFact,
    Slice,
    Stats,
)
from bridge.figures import BUCKETS, DELIVERED, MORE, buckets, percentile

UNCLASSIFIED = "unclassified"
UNKNOWN_OUTCOME = "outcome unknown (cut off mid-send)"
PERSON, BOT, NONE = "person", "bot", "none"
#: Replies the platform did not (certainly, wholly) take: each is a failure by reason, never a response. A
#: partial one is counted by /metrics' socialdesk_replies_failed_total too.
NOT_DELIVERED = frozenset({DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN, DeliveryStatus.PARTIAL})
#: A reply the platform accepted, then reported undelivered (a WhatsApp status "failed": the agent got a note).
FAILED_RECEIPT = "failed"
RECEIPT_FAILED = "sent, then the platform reported it failed (its reason is in the ticket's note)"
Fact = TypeVar("Fact", MessageFact, ReplyFact)
Between = Callable[[float, float], float | None]  # seconds between two instants in business time (None: unknown)
Calendars = Mapping[str, Calendar | Unknown | None]  # channel → its calendar (None: 24/7; Unknown: no business time)


@dataclass(frozen=True)
class MessageTimes:
    """One customer message's own figures, for the per-message statistics."""

    channel: str
    platform: str
    day: date
    response: float | None
    response_business: float | None
    ingest_lag: float


def stats(values: Iterable[float]) -> Stats:
    """Count, median, nearest-rank p90, mean and buckets of durations (seconds)."""
    ordered = sorted(values)
    if not ordered:
        return Stats(0, None, None, None, buckets(()))
    mean = sum(ordered) / len(ordered)
    return Stats(len(ordered), statistics.median(ordered), percentile(ordered, 0.9), mean, sorted_buckets(ordered))


def sorted_buckets(ordered: Sequence[float]) -> dict[str, int]:
    """:func:`bridge.figures.buckets` of sorted values, by bisection (bounds inclusive, as there)."""
    counts, below = {}, 0
    for bound, name in BUCKETS:
        upto = bisect.bisect_right(ordered, bound)
        counts[name], below = upto - below, upto
    counts[MORE] = len(ordered) - below
    return counts


def business_time(calendar: Calendar | Unknown | None) -> Between:
    """Seconds between two instants counted in ``calendar``'s open hours (every second without one: 24/7;
    None when the calendar cannot be known: no business time is shown rather than a guess)."""
    if calendar is None:
        return lambda a, b: max(0.0, b - a)
    if isinstance(calendar, Unknown):
        return lambda a, b: None
    return lambda a, b: calendar.business_seconds_between(_utc(a), _utc(b))


def calendar_label(calendar: Calendar | Unknown | None) -> str:
    if isinstance(calendar, Unknown):
        return f"unknown ({calendar.reason}): no business time"
    return NO_CALENDAR if calendar is None else calendar.name


def build(
    messages: Iterable[MessageFact], replies: Iterable[ReplyFact], period: Period, *, channel: str | None = None,
    fences: Mapping[str, float] | None = None, calendars: Calendars | None = None,
) -> Figures:  # fmt: skip
    """Every figure for the messages dated in ``period`` (of ``channel``, or all), see the module docstring."""
    chosen = [m for m in messages if period.since <= m.platform_ts < period.until and channel in (None, m.channel)]
    by_thread = _grouped(chosen, key=lambda m: m.platform_ts)
    answers = _grouped(replies, key=lambda r: r.comment_created_at)
    calendars = calendars or {}
    rows: list[EpisodeRow] = []
    times: list[MessageTimes] = []
    for key, thread in by_thread.items():
        between = business_time(calendars.get(thread[0].channel))
        for part, end in _parts(thread, (fences or {}).get(key)):
            row, found = _episode(part, _written_in(answers.get(key, []), part[0].platform_ts, end), period, between)
            rows.append(row)
            times += found
    rows.sort(key=lambda r: (r.started_at, r.thread_key))
    return _figures(period, channel, rows, times, calendars)


def _grouped(items: Iterable[Fact], *, key: Callable[[Fact], float]) -> dict[str, list[Fact]]:
    groups: dict[str, list[Fact]] = defaultdict(list)
    for item in items:
        groups[item.thread_key].append(item)
    return {k: sorted(v, key=key) for k, v in groups.items()}


def _parts(thread: Sequence[MessageFact], fence: float | None) -> list[tuple[list[MessageFact], float]]:
    """The thread's messages cut where an episode opens, each part with the instant the next one starts."""
    starts = [0] + [i for i, m in enumerate(thread) if i > 0 and m.opens_episode]
    ends = [thread[i].platform_ts for i in starts[1:]] + [fence if fence is not None else float("inf")]
    bounds = [*starts[1:], len(thread)]
    return [(list(thread[s:e]), end) for s, e, end in zip(starts, bounds, ends, strict=True)]


def _written_in(replies: Sequence[ReplyFact], start: float, end: float) -> list[ReplyFact]:
    """The replies written from ``start`` to before ``end``, compared in whole seconds: a helpdesk stamps a
    comment to the second, so a reply in the same second as the customer's message is after it."""
    keys = [r.comment_created_at for r in replies]
    last = end if math.isinf(end) else math.floor(end)
    return list(replies[bisect.bisect_left(keys, math.floor(start)) : bisect.bisect_left(keys, last)])


def delivered(r: ReplyFact) -> bool:
    """A reply that reached the customer: sent, and not reported failed by the platform afterwards (a receipt)."""
    return r.status == DELIVERED and r.delivered_at is not None and r.receipt != FAILED_RECEIPT


def _delivered(replies: Iterable[ReplyFact], *kinds: AuthorKind) -> list[ReplyFact]:
    return [r for r in replies if r.author_kind in kinds and delivered(r)]


def _episode(
    part: list[MessageFact], replies: list[ReplyFact], period: Period, between: Between
) -> tuple[EpisodeRow, list[MessageTimes]]:
    """One episode's row (or the continued part of an earlier one) and its messages' own figures."""
    first, humans = part[0], _delivered(replies, AuthorKind.HUMAN)
    human_at = min((r.delivered_at for r in humans if r.delivered_at is not None), default=None)
    bot_at = min((r.delivered_at for r in _delivered(replies, AuthorKind.BOT) if r.delivered_at), default=None)
    times = [_message_times(m, humans, between, period) for m in part]
    answered = [t for t in times if t.response is not None]
    solved = first.solved_at if first.opens_episode else None
    row = EpisodeRow(
        thread_key=first.thread_key, channel=first.channel, platform=first.platform, started_at=first.platform_ts,
        day=period.day_of(first.platform_ts), messages=len(part), continued=not first.opens_episode,
        needs_answer=first.opens_episode and not all(m.no_answer for m in part),
        first_response=None if human_at is None else max(0.0, human_at - first.platform_ts),
        first_response_business=None if human_at is None else between(first.platform_ts, human_at),
        answered_by=PERSON if human_at is not None else BOT if bot_at is not None else NONE,
        acknowledged=bool(_delivered(replies, AuthorKind.AUTO_ACK)),
        handed_off=bot_at is not None and human_at is not None and human_at >= bot_at,
        responses=len(answered), response_sum=sum(t.response or 0.0 for t in answered),
        response_business_sum=sum(t.response_business or 0.0 for t in answered),
        resolution=None if solved is None else max(0.0, solved - first.platform_ts),
        sentiment=_labels(part),
        failures=tuple(failure_reason(r) for r in replies if r.status in NOT_DELIVERED or r.receipt == FAILED_RECEIPT),
        ingest_lag_sum=sum(t.ingest_lag for t in times),
    )  # fmt: skip
    return row, times


def _labels(part: Sequence[MessageFact]) -> dict[str, int]:
    labels: dict[str, int] = {}
    for m in part:
        label = m.sentiment or UNCLASSIFIED
        labels[label] = labels.get(label, 0) + 1
    return labels


def _message_times(m: MessageFact, humans: Sequence[ReplyFact], between: Between, period: Period) -> MessageTimes:
    """A message's response: the earliest delivery of a human reply written at or after it."""
    since = math.floor(m.platform_ts)  # whole seconds, as the helpdesk stamps (see _written_in)
    at = min((r.delivered_at for r in humans if r.comment_created_at >= since and r.delivered_at), default=None)
    response = None if at is None else max(0.0, at - m.platform_ts)
    business = None if at is None else between(m.platform_ts, at)
    lag = max(0.0, m.received_at - m.platform_ts)
    return MessageTimes(m.channel, m.platform, period.day_of(m.platform_ts), response, business, lag)


def failure_reason(r: ReplyFact) -> str:
    """A failed reply's reason: the reason in what the agent was told (short), or that it is unknown."""
    if r.status == "unknown":
        return UNKNOWN_OUTCOME
    if r.receipt == FAILED_RECEIPT:
        return RECEIPT_FAILED
    return (messages.note_reason(r.error or "") or "no reason recorded")[:80].replace("|", "/")  # CSV joins on |


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _figures(
    period: Period, channel: str | None, rows: list[EpisodeRow], times: list[MessageTimes],
    calendars: Calendars,
) -> Figures:  # fmt: skip
    channels = sorted({r.channel for r in rows})
    platforms = sorted({r.platform for r in rows})
    return Figures(
        period=period, channel=channel, attribution=ATTRIBUTION.format(tz=period.tz.key),
        calendars={c: calendar_label(calendars.get(c)) for c in channels},
        total=slice_of("all", rows, times),
        channels={c: slice_of(c, [r for r in rows if r.channel == c], [t for t in times if t.channel == c])
                  for c in channels},
        platforms={p: slice_of(p, [r for r in rows if r.platform == p], [t for t in times if t.platform == p])
                   for p in platforms},
        days=day_points(period, rows, times),
        episodes=rows,
    )  # fmt: skip


def slice_of(name: str, rows: Sequence[EpisodeRow], times: Sequence[MessageTimes]) -> Slice:
    """The figures of some episode rows and their messages' own figures."""
    eps = [r for r in rows if not r.continued]
    needing = [r for r in eps if r.needs_answer]
    answered = sum(1 for r in needing if r.answered_by == PERSON)
    bots = [r for r in eps if r.answered_by == BOT or r.handed_off]
    return Slice(
        name=name, messages=sum(r.messages for r in rows), episodes=len(eps), needing_answer=len(needing),
        answered=answered, response_rate=answered / len(needing) if needing else None,
        first_response=stats(r.first_response for r in eps if r.first_response is not None),
        first_response_business=stats(r.first_response_business for r in eps if r.first_response_business is not None),
        response=stats(t.response for t in times if t.response is not None),
        response_business=stats(t.response_business for t in times if t.response_business is not None),
        resolution=stats(r.resolution for r in eps if r.resolution is not None),
        acknowledged=sum(r.acknowledged for r in eps), bot_answered=len(bots),
        bot_only=sum(r.answered_by == BOT for r in eps), handed_off=sum(r.handed_off for r in eps),
        sentiment=_sentiments(rows),
        failures=dict(Counter(f for r in rows for f in r.failures).most_common()),
        ingest_lag=stats(t.ingest_lag for t in times),
    )  # fmt: skip


def _sentiments(rows: Sequence[EpisodeRow]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for r in rows:
        total.update(r.sentiment)
    return dict(total)


def day_points(period: Period, rows: Sequence[EpisodeRow], times: Sequence[MessageTimes]) -> list[DayPoint]:
    """Per local day: customer messages (each by its own date), episodes started, answered by a person,
    median and p90 first response."""
    volume = Counter(t.day for t in times)
    by_day: dict[date, list[EpisodeRow]] = defaultdict(list)
    for r in rows:
        if not r.continued:
            by_day[r.day].append(r)
    points = []
    for day in period.days:
        eps = by_day.get(day, [])
        frt = stats(r.first_response for r in eps if r.first_response is not None)
        answered = sum(1 for r in eps if r.needs_answer and r.answered_by == PERSON)
        points.append(DayPoint(day, volume.get(day, 0), len(eps), answered, frt.median, frt.p90))
    return points
