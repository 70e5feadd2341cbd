"""Business-hours calendars: a time zone, weekly opening intervals and holidays. Pure: no I/O, no clock.

A calendar answers :meth:`Calendar.is_open`, :meth:`Calendar.next_open`, :meth:`Calendar.add_business_time`
("within 2 business hours" → the due time) and :meth:`Calendar.business_seconds_between`. Every instant
in and out is a timezone-aware ``datetime``; a naive one is refused (it would be read in the machine's
zone, which is nobody's business hours).

Intervals are wall-clock times in the calendar's zone, written ``"mon-fri 09:00-18:00"``, ``"sat
10:00-14:00"``, ``"sun,wed 08:00-12:00"``; an end at or before the start spans midnight (``"fri
22:00-02:00"`` is open Friday 22:00 to Saturday 02:00); ``24:00`` is the end of the day. Holidays are
dates (``"2026-12-24"``), ranges (``"2026-12-24..2027-01-02"``, both ends included) and yearly dates or
ranges (``"12-25"``, ``"12-24..01-02"`` across the year end). A holiday closes the whole local date,
including the part after midnight of an interval that started the evening before.

Daylight-saving changes, explicitly:

* Intervals are wall-clock times, so an interval that spans the change is an hour shorter (spring) or
  longer (autumn) in real time: ``sat 22:00-06:00`` in Berlin on the night of the spring change lasts
  7 hours. A ``09:00-18:00`` day is 9 hours on the change day too: the clocks change at 02:00 or 03:00.
* A wall time that does not exist (skipped forward: 02:30 in Berlin on the last Sunday of March) is the
  instant the clocks jump (03:00 CEST): an opening or closing "in the gap" happens when the gap ends.
* A wall time that happens twice (02:30 on the last Sunday of October) is its first occurrence, for
  openings and closings alike (``fold=0``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK = 7 * 24 * 60  # minutes
HORIZON_DAYS = 800  # a calendar closed for longer than this (two years and a bit) is "never open"
MERGE_LIMIT = timedelta(days=7)  # a 24/7 calendar is one endless opening: hand it out a week at a time
_INTERVAL = re.compile(r"^\s*([a-z,\- ]+?)\s+(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class CalendarError(ValueError):
    """A malformed calendar; the message names what is wrong, without the config key (the caller adds it)."""


@dataclass(frozen=True, slots=True)
class Interval:
    """One weekly opening: ``day`` 0 = Monday, ``start`` and ``end`` in minutes after that day's midnight
    (``end`` up to 48 h: past 24 h the opening runs into the next day)."""

    day: int
    start: int
    end: int

    @property
    def week_span(self) -> tuple[int, int]:
        """Start and end in minutes after Monday 00:00 (the end may pass the week's end)."""
        base = self.day * 24 * 60
        return base + self.start, base + self.end

    def __str__(self) -> str:
        return f"{DAYS[self.day]} {_clock(self.start)}-{_clock(self.end % (24 * 60) or 24 * 60)}"


@dataclass(frozen=True, slots=True)
class Holiday:
    """Dates closed all day: ``first``..``last`` included; ``yearly`` ones ignore the year (stored as 2000)."""

    first: date
    last: date
    yearly: bool = False

    def covers(self, day: date) -> bool:
        if not self.yearly:
            return self.first <= day <= self.last
        key = (day.month, day.day)
        lo, hi = (self.first.month, self.first.day), (self.last.month, self.last.day)
        return lo <= key <= hi if lo <= hi else key >= lo or key <= hi  # "12-24..01-02" wraps

    def __str__(self) -> str:
        fmt = "%m-%d" if self.yearly else "%Y-%m-%d"
        one = self.first.strftime(fmt)
        return one if self.first == self.last else f"{one}..{self.last.strftime(fmt)}"


@dataclass(frozen=True, slots=True)
class Unknown:
    """The business hours cannot be known (the helpdesk's schedule was never read): callers must not guess."""

    reason: str


@dataclass(frozen=True)
class Calendar:
    """A time zone, weekly intervals (no two overlapping) and holidays. Build one with :func:`calendar`."""

    name: str
    zone: ZoneInfo
    intervals: tuple[Interval, ...]
    holidays: tuple[Holiday, ...] = ()

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` falls inside an opening (start included, end excluded)."""
        _aware(at)
        span = next(self.spans(at), None)
        return span is not None and span[0] <= at

    def next_open(self, at: datetime) -> datetime | None:
        """``at`` itself when open, else the next opening; None when closed for the next two years."""
        _aware(at)
        span = next(self.spans(at), None)
        return None if span is None else max(span[0], at)

    def add_business_time(self, at: datetime, duration: timedelta) -> datetime | None:
        """The instant ``duration`` of open time after ``at`` ("within 2 business hours" → the due time).
        A closing is never the answer: business time used up exactly at a closing ends there."""
        _aware(at)
        left = duration
        for start, end in self.spans(at):
            start = max(start, at)
            if end - start >= left:
                return start + left
            left -= end - start
        return None

    def business_seconds_between(self, a: datetime, b: datetime) -> float:
        """Open time between two instants, in seconds (0 when ``b`` is not after ``a``)."""
        _aware(a)
        _aware(b)
        total = 0.0
        for start, end in self.spans(a):
            if start >= b:
                break
            total += (min(end, b) - max(start, a)).total_seconds()
        return max(total, 0.0)

    def spans(self, since: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The openings that end after ``since``, as UTC instants, in order, touching ones merged (up to a
        week: a 24/7 calendar never closes); stops after :data:`HORIZON_DAYS` local days without one."""
        pending: tuple[datetime, datetime] | None = None
        day = since.astimezone(self.zone).date() - timedelta(days=2)  # an opening of the day before may run on
        idle = 0
        while idle <= HORIZON_DAYS:
            found = False
            for start, end in self._day_spans(day):
                if end <= since:
                    continue
                found = True
                if pending is not None and start <= pending[1] and pending[1] - pending[0] < MERGE_LIMIT:
                    pending = (pending[0], max(pending[1], end))
                    continue
                if pending is not None:
                    yield pending
                pending = (start, end)
            idle = 0 if found else idle + 1
            day += timedelta(days=1)
        if pending is not None:
            yield pending

    def _day_spans(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """The openings that start on local date ``day``, cut at each midnight, holidays left out."""
        for interval in self.intervals:
            if interval.day != day.weekday():
                continue
            for piece_day, lo, hi in _by_date(day, interval.start, interval.end):
                start, end = self._instant(piece_day, lo), self._instant(piece_day, hi)
                if start < end and not any(h.covers(piece_day) for h in self.holidays):
                    yield start, end  # start == end: an interval wholly inside a skipped hour

    def _instant(self, day: date, minute: int) -> datetime:
        wall = datetime.combine(day, time()) + timedelta(minutes=minute)
        return instant(wall, self.zone)

    def describe(self) -> str:
        """One line: zone, intervals, holidays ("Europe/Berlin, mon 09:00-18:00 ..., 2 holiday(s)")."""
        hours = ", ".join(str(i) for i in self.intervals) or "never open"
        return f"{self.zone.key}, {hours}, {len(self.holidays)} holiday(s)"


def instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """A naive local wall time as a UTC instant: a skipped time is the end of the gap, a repeated time its
    first occurrence (see the module docstring)."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # In a gap: fold=1 reads the wall time with the offset after the change, fold=0 with the one before;
    # the change itself lies between the two. Find it to the second.
    lo, hi = wall.replace(tzinfo=zone, fold=1).astimezone(UTC), first
    before = lo.astimezone(zone).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        lo, hi = (mid, hi) if mid.astimezone(zone).utcoffset() == before else (lo, mid)
    return hi


def _by_date(day: date, start: int, end: int) -> Iterator[tuple[date, int, int]]:
    """An interval of ``day`` cut at midnight: (date, start, end) pieces, minutes after that date's midnight."""
    yield day, start, min(end, 24 * 60)
    if end > 24 * 60:
        yield day + timedelta(days=1), 0, end - 24 * 60


def _aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a naive datetime has no time zone: give an aware one")


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# -- parsing ------------------------------------------------------------------------------------------------------


def calendar(name: str, timezone: str, hours: Sequence[str], holidays: Sequence[str] = ()) -> Calendar:
    """A calendar from its config values; :class:`CalendarError` names the value that is wrong."""
    zone = zone_named(timezone)
    intervals = tuple(i for text in hours for i in parse_interval(text))
    check_overlaps(intervals)
    return Calendar(name, zone, tuple(sorted(intervals, key=lambda i: i.week_span)), parse_holidays(holidays))


def zone_named(name: str) -> ZoneInfo:
    """An IANA zone ("Europe/Berlin"); anything else is a :class:`CalendarError`."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(f"{name!r} is not a known time zone (use an IANA name such as Europe/Berlin)") from None


def parse_interval(text: str) -> list[Interval]:
    """``"mon-fri 09:00-18:00"`` → one :class:`Interval` per day."""
    m = _INTERVAL.match(text.lower()) if isinstance(text, str) else None
    if m is None:
        raise CalendarError(f"{text!r} is not an interval like 'mon-fri 09:00-18:00'")
    start, end = _minute(m[2], m[3], text), _minute(m[4], m[5], text)
    if start == 24 * 60 or start == end:
        raise CalendarError(f"{text!r}: an interval needs a start before 24:00 and an end other than its start")
    end = end if end > start else end + 24 * 60  # spans midnight
    return [Interval(day, start, end) for day in _days(m[1], text)]


def _minute(hour: str, minute: str, text: str) -> int:
    value = int(hour) * 60 + int(minute)
    if int(minute) > 59 or value > 24 * 60:
        raise CalendarError(f"{text!r}: {hour}:{minute} is not a time of day")
    return value


def _days(spec: str, text: str) -> list[int]:
    days: list[int] = []
    for part in (p.strip() for p in spec.split(",")):
        lo, _, hi = part.partition("-")
        if lo.strip() not in DAYS or (hi and hi.strip() not in DAYS):
            raise CalendarError(f"{text!r}: {part!r} is not a day or range of days (mon, tue, ... sun)")
        first, last = DAYS.index(lo.strip()), DAYS.index((hi or lo).strip())
        days += [(first + k) % 7 for k in range((last - first) % 7 + 1)]  # "sat-mon" wraps the week
    return days


def check_overlaps(intervals: tuple[Interval, ...]) -> None:
    """Refuse two intervals that share a minute (touching ones are fine: they merge)."""
    spans = sorted(((*i.week_span, i) for i in intervals), key=lambda span: span[:2])
    spans += [(s + WEEK, e + WEEK, i) for s, e, i in spans[:1]]  # Sunday night may run into Monday
    for (_, end, a), (start, _, b) in itertools.pairwise(spans):
        if start < end:
            raise CalendarError(f"'{a}' overlaps '{b}'")


def parse_holidays(values: Sequence[str]) -> tuple[Holiday, ...]:
    """Dates, ranges and yearly ones (see the module docstring)."""
    return tuple(_holiday(v) for v in values)


def _holiday(text: str) -> Holiday:
    lo, sep, hi = str(text).strip().partition("..")
    first, yearly = _date(lo, text)
    last, yearly_last = _date(hi, text) if sep else (first, yearly)
    if yearly != yearly_last:
        raise CalendarError(f"{text!r}: both ends must have a year, or neither")
    if not yearly and last < first:
        raise CalendarError(f"{text!r}: the range ends before it starts")
    return Holiday(first, last, yearly)


def _date(text: str, whole: str) -> tuple[date, bool]:
    text = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text), False
        if re.fullmatch(r"\d{2}-\d{2}", text):
            return date.fromisoformat(f"2000-{text}"), True  # 2000 is a leap year: 02-29 is allowed
    except ValueError:
        pass
    raise CalendarError(f"{whole!r} is not a holiday like '2026-12-24', '12-25' or '2026-12-24..2027-01-02'")
