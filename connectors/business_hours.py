"""Zendesk's and Freshdesk's business-hours shapes turned into :class:`bridge.schedules.HelpdeskSchedule`.

Zendesk (Schedules API, developer.zendesk.com/api-reference/ticketing/ticket-management/schedules):
``intervals`` of ``start_time``/``end_time`` in minutes since Sunday midnight, each within one day;
holidays with ``start_date`` and ``end_date`` (both included). Freshdesk (``GET /api/v2/business_hours``):
``business_hours`` keyed by weekday name, each ``start_time``/``end_time`` like ``"08:00:00 am"``; a day
that ends at ``"11:59:59 pm"`` is open to midnight. Both name time zones the Rails way ("Eastern Time
(US & Canada)"): :mod:`bridge.railszones` maps them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from bridge.calendars import CalendarError, Holiday, Interval
from bridge.railszones import iana
from bridge.schedules import HelpdeskSchedule, intervals_checked

DAY = 24 * 60
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([ap]m)\s*$", re.IGNORECASE)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def zendesk_schedule(schedule: Mapping[str, Any], holidays: list[Mapping[str, Any]]) -> HelpdeskSchedule:
    """One Zendesk schedule and its holidays."""
    intervals = [_zendesk_interval(i) for i in schedule.get("intervals") or []]
    return HelpdeskSchedule(
        name=str(schedule.get("name", "")),
        timezone=iana(str(schedule.get("time_zone"))).key,
        intervals=intervals_checked(intervals),
        holidays=tuple(_zendesk_holiday(h) for h in holidays),
    )


def _zendesk_interval(interval: Mapping[str, Any]) -> Interval:
    start, end = int(interval["start_time"]), int(interval["end_time"])
    sunday_based = start // DAY
    if not 0 <= start < end <= (sunday_based + 1) * DAY or sunday_based > 6:
        raise CalendarError(f"Zendesk interval {start}-{end} is not within one day of the week")
    return Interval((sunday_based + 6) % 7, start - sunday_based * DAY, end - sunday_based * DAY)


def _zendesk_holiday(holiday: Mapping[str, Any]) -> Holiday:
    try:
        first, last = date.fromisoformat(str(holiday["start_date"])), date.fromisoformat(str(holiday["end_date"]))
    except (KeyError, ValueError):
        raise CalendarError(f"Zendesk holiday {holiday.get('name')!r} has no readable dates") from None
    return Holiday(first, max(first, last))


def freshdesk_schedule(calendar: Mapping[str, Any]) -> HelpdeskSchedule:
    """One Freshdesk business calendar (its API lists no holidays)."""
    days = calendar.get("business_hours") or {}
    intervals = [_freshdesk_day(day, days[day]) for day in WEEKDAYS if isinstance(days.get(day), dict)]
    return HelpdeskSchedule(
        name=str(calendar.get("name", "")),
        timezone=iana(str(calendar.get("time_zone"))).key,
        intervals=intervals_checked(intervals),
        default=bool(calendar.get("is_default")),
    )


def _freshdesk_day(day: str, hours: Mapping[str, Any]) -> Interval:
    start, end = _clock(hours.get("start_time")), _clock(hours.get("end_time"))
    end = DAY if end == 0 or end >= DAY - 1 else end  # "11:59:59 pm" (or "12:00:00 am") at the end: midnight
    if end <= start:
        raise CalendarError(f"Freshdesk {day} hours end before they start")
    return Interval(WEEKDAYS.index(day), start, end)


def _clock(text: object) -> int:
    """``"08:00:00 am"`` → minutes after midnight (seconds rounded up: 11:59:59 pm is 1440 - 0)."""
    m = _CLOCK.match(str(text))
    if m is None or not 1 <= int(m[1]) <= 12:
        raise CalendarError(f"Freshdesk time {text!r} is not like '08:00:00 am'")
    hour = int(m[1]) % 12 + (12 if m[4].lower() == "pm" else 0)
    return hour * 60 + int(m[2]) + (1 if int(m[3] or 0) else 0)
