"""The figures' course over time, for the dashboard's charts: per local day (per hour for a view of two days
or less), in the view's time zone, each episode on the date of its customer's first message.

Days are cut at local midnight, so across a change of daylight-saving time a day has 23 or 25 hours, as on
the calendar the team works by.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bridge.figures import Episode, percentile

HOURLY_UP_TO = 2 * 86400.0  # a view this short is drawn per hour


def series(found: Iterable[Episode], start: float, end: float, zone: ZoneInfo) -> dict[str, Any]:
    """Per step of ``[start, end)``: messages, episodes, answered, median and p90 first response (seconds)."""
    step = "hour" if end - start <= HOURLY_UP_TO else "day"
    by_slot: dict[float, list[Episode]] = defaultdict(list)  # by timestamp: local times repeat at a DST change
    for e in found:
        by_slot[_slot(e.started_at, zone, step).timestamp()].append(e)
    points = [_point(slot, step, by_slot.get(slot.timestamp(), [])) for slot in _slots(start, end, zone, step)]
    return {"step": step, "tz": zone.key, "points": points}


def _slot(at: float, zone: ZoneInfo, step: str) -> datetime:
    """The local start of the day or hour ``at`` falls in (an hour by the clock: at a DST change, the UTC hour)."""
    local = datetime.fromtimestamp(at, zone)
    if step == "day":
        return datetime(local.year, local.month, local.day, tzinfo=zone)
    return local.replace(minute=0, second=0, microsecond=0)


def _slots(start: float, end: float, zone: ZoneInfo, step: str) -> list[datetime]:
    """Every slot from the one ``start`` falls in to the one before ``end``: local days, or real hours."""
    first = _slot(start, zone, step)
    if step == "hour":
        count = int((end - first.timestamp() + 3599) // 3600)
        return [datetime.fromtimestamp(first.timestamp() + 3600 * i, zone) for i in range(count)]
    slots, day = [], first.date()
    while (slot := datetime(day.year, day.month, day.day, tzinfo=zone)).timestamp() < end:
        slots.append(slot)
        day += timedelta(days=1)
    return slots


def _point(slot: datetime, step: str, eps: Sequence[Episode]) -> dict[str, Any]:
    times = sorted(t for e in eps if (t := e.first_response_seconds) is not None)
    label = slot.strftime("%Y-%m-%d") if step == "day" else slot.strftime("%m-%d %H:%M")
    return {
        "label": label,
        "start": slot.isoformat(timespec="minutes"),
        "messages": sum(e.messages for e in eps),
        "episodes": len(eps),
        "answered": len(times),
        "median": median(times),
        "p90": percentile(times, 0.9),
    }


def median(ordered: Sequence[float]) -> float | None:
    return statistics.median(ordered) if ordered else None
