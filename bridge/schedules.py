"""``schedule = "helpdesk"``: the business hours the team keeps in Zendesk or Freshdesk, one source of truth.

The worker reads the helpdesk's schedules at start and every ``[bridge] schedule_refresh_minutes`` (15 by
default) and keeps the last good copy in the store's settings (``helpdesk_schedules``, JSON). When a read
fails, the failure is kept beside it (``helpdesk_schedules_error``) and the last good copy goes on being
used; ``doctor`` and ``status`` say so. With no copy at all a helpdesk calendar is :class:`Unknown`:
callers must not guess (no acknowledgement is sent, a business-hours rule does not fire).

Zendesk schedules carry their holidays; Freshdesk's API gives a business calendar's hours and time zone
but not its holidays, so a Freshdesk calendar has only the ``holidays`` configured beside it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from bridge.calendarbook import CalendarConfig
from bridge.calendars import Calendar, CalendarError, Holiday, Interval, Unknown, calendar, check_overlaps
from bridge.config import Config
from bridge.errors import BridgeError
from bridge.promise import Promise, promise
from bridge.retry import RetryPolicy
from bridge.store import Store

log = logging.getLogger(__name__)

COPY = "helpdesk_schedules"
ERROR = "helpdesk_schedules_error"
DEFAULT_REFRESH_MINUTES = 15


@dataclass(frozen=True)
class HelpdeskSchedule:
    """One schedule as a helpdesk keeps it, its time zone already an IANA name."""

    name: str
    timezone: str
    intervals: tuple[Interval, ...]
    holidays: tuple[Holiday, ...] = ()
    default: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "timezone": self.timezone, "default": self.default,
                "hours": [str(i) for i in self.intervals], "holidays": [str(h) for h in self.holidays]}  # fmt: skip


@runtime_checkable
class BusinessSchedules(Protocol):
    """A helpdesk that can list its business-hours schedules."""

    def business_schedules(self) -> list[HelpdeskSchedule]:
        """Every schedule, checked (an unknown time zone or overlapping intervals raise CalendarError)."""
        ...


@dataclass(frozen=True)
class Copy:
    """What the store holds: the schedules last read, when, and the last failure since (if any)."""

    schedules: tuple[dict[str, Any], ...]
    read_at: datetime | None
    error: str | None = None
    error_at: datetime | None = None


def refresh(helpdesk: object, store: Store, now: datetime, policy: RetryPolicy | None = None) -> bool:
    """Read the helpdesk's schedules and keep them; on failure keep the last good copy and record why.
    With ``policy`` the read honours (and sets) the helpdesk's rate-limit pause, once: the next tick retries."""
    if not isinstance(helpdesk, BusinessSchedules):
        return _failed(store, now, "this helpdesk has no business-hours schedules")
    try:
        read = helpdesk.business_schedules
        found = read() if policy is None else policy.call(str(getattr(helpdesk, "name", "helpdesk")), read, attempts=1)
    except (BridgeError, CalendarError) as e:
        return _failed(store, now, str(e))
    except (KeyError, TypeError, ValueError) as e:  # an answer not shaped as documented: keep the last copy
        return _failed(store, now, f"unexpected answer from the helpdesk ({type(e).__name__}: {e})")
    body = {"read_at": now.isoformat(), "schedules": [s.as_json() for s in found]}
    store.set_setting(COPY, json.dumps(body))
    store.set_setting(ERROR, "")
    return True


def _failed(store: Store, now: datetime, reason: str) -> bool:
    log.warning("the helpdesk's business-hours schedule could not be read: %s", reason)
    store.set_setting(ERROR, json.dumps({"at": now.isoformat(), "error": reason}))
    return False


def stored(store: Store) -> Copy:
    """The copy in the store (no schedules and ``read_at`` None when it was never read)."""
    body = json.loads(store.setting(COPY) or "{}")
    failure = json.loads(store.setting(ERROR) or "{}")
    return Copy(
        schedules=tuple(body.get("schedules", ())),
        read_at=_when(body.get("read_at")),
        error=failure.get("error"),
        error_at=_when(failure.get("at")),
    )


def _when(text: str | None) -> datetime | None:
    return None if not text else datetime.fromisoformat(text)


def resolve(config: CalendarConfig, copy: Copy) -> Calendar | Unknown:
    """The calendar a ``[calendars.<name>]`` stands for: its own, or the helpdesk's from the stored copy."""
    if config.calendar is not None:
        return config.calendar
    if copy.read_at is None:
        why = f": {copy.error}" if copy.error else ""
        return Unknown(f"the helpdesk's schedule has never been read{why}")
    chosen = _chosen(copy.schedules, config.schedule_name)
    if chosen is None:
        return Unknown(f"the helpdesk has no schedule named {config.schedule_name!r}")
    built = calendar(config.name, chosen["timezone"], chosen["hours"], chosen["holidays"])
    return Calendar(built.name, built.zone, built.intervals, built.holidays + config.extra_holidays)


def _chosen(schedules: tuple[dict[str, Any], ...], name: str | None) -> dict[str, Any] | None:
    """By name when one is configured, else the helpdesk's default, else its first."""
    if name is not None:
        return next((s for s in schedules if s["name"] == name), None)
    return next((s for s in schedules if s["default"]), schedules[0] if schedules else None)


def calendars(configs: Mapping[str, CalendarConfig], store: Store) -> dict[str, Calendar | Unknown]:
    """Every configured calendar, the helpdesk's read from the store once."""
    copy = stored(store) if any(c.from_helpdesk for c in configs.values()) else Copy((), None)
    return {name: resolve(c, copy) for name, c in configs.items()}


def for_channel(config: Config, store: Store, channel: str, calendar: str | None = None) -> Calendar | Unknown | None:
    """The calendar a channel keeps (None: it names none, open 24/7); Unknown when it cannot be known.
    ``calendar``: the one a triage rule named for this message (``then.calendar``), instead."""
    name = calendar or _calendar_of(config, channel)
    return None if name is None else _resolved(config.calendars[name], store)


def promise_for(
    config: Config, store: Store, channel: str, now: datetime, language: str = "en", *, calendar: str | None = None
) -> Promise | Unknown:
    """ "When will someone answer" on ``channel``: its calendar's ``target`` from ``now``, in ``language``.
    Unknown when the channel has no calendar or target, or its calendar cannot be known: promise nothing.
    ``calendar``: a triage rule's, instead of the channel's."""
    name = calendar or _calendar_of(config, channel)
    if name is None:
        return Unknown(f"channel {channel} has no calendar")
    target = config.calendars[name].target
    if target is None:
        return Unknown(f"calendar {name} has no target")
    return promise(_resolved(config.calendars[name], store), now, target, language)


def _calendar_of(config: Config, channel: str) -> str | None:
    found = config.channel(channel)
    name = found.get("calendar") if found is not None else None
    return None if name is None else str(name)


def _resolved(config: CalendarConfig, store: Store) -> Calendar | Unknown:
    """A configured calendar costs no store read; a helpdesk one reads the stored copy."""
    return resolve(config, stored(store) if config.from_helpdesk else Copy((), None))


def freshness(copy: Copy, now: datetime) -> tuple[bool, str]:
    """For ``doctor`` and ``status``: whether the copy is good, and one line saying how old and why."""
    if copy.read_at is None:
        why = f" ({copy.error})" if copy.error else ""
        return False, f"never read{why}: business hours unknown, nothing is promised"
    age = f"read {_ago(now - copy.read_at)} ago ({len(copy.schedules)} schedule(s))"
    if copy.error and copy.error_at is not None and copy.error_at > copy.read_at:
        return False, f"the last read failed {_ago(now - copy.error_at)} ago ({copy.error}); using the copy {age}"
    return True, age


def _ago(delta: Any) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    return f"{seconds // 60} min" if seconds < 7200 else f"{seconds // 3600} h"


def report(config: CalendarConfig, copy: Copy, now: datetime) -> str:
    """One line on a calendar for ``doctor`` and ``status``: its hours, open now or when it opens, and for a
    helpdesk schedule how old the copy is. Raises :class:`BridgeError` when it is unknown or stale."""
    calendar = resolve(config, copy)
    if isinstance(calendar, Unknown):
        raise BridgeError(f"business hours unknown ({calendar.reason}): nothing is promised")
    line = f"{calendar.describe()}; {_open_line(calendar, now)}"
    if not config.from_helpdesk:
        return line
    fresh, age = freshness(copy, now)
    if not fresh:
        raise BridgeError(f"helpdesk schedule: {age}")
    return f"{line}; helpdesk schedule {age}"


def _open_line(calendar: Calendar, now: datetime) -> str:
    if calendar.is_open(now):
        return "open now"
    opens = calendar.next_open(now)
    return "closed, never opens" if opens is None else f"closed, opens {opens.astimezone(calendar.zone):%a %d %b %H:%M}"


def intervals_checked(intervals: list[Interval]) -> tuple[Interval, ...]:
    """A helpdesk's intervals, sorted, refused when two overlap (CalendarError)."""
    ordered = tuple(sorted(intervals, key=lambda i: i.week_span))
    check_overlaps(ordered)
    return ordered


def refresh_minutes(config: Config) -> int:
    """How often the worker reads the helpdesk's schedules: 0 when no calendar comes from the helpdesk."""
    if not any(c.from_helpdesk for c in config.calendars.values()):
        return 0
    return int(config.bridge.get("schedule_refresh_minutes", DEFAULT_REFRESH_MINUTES))


def utcnow() -> datetime:
    return datetime.now(UTC)
