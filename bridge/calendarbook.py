"""``[calendars.<name>]`` in ``socialdesk.toml``: business-hours calendars that channels name.

::

    [calendars.support]
    timezone = "Europe/Berlin"
    hours = ["mon-fri 09:00-18:00", "sat 10:00-14:00"]   # interval strings (see bridge.calendars)
    holidays = ["12-25", "12-26", "2026-12-31..2027-01-01"]
    target = "2 business hours"                         # the promise: "we answer within ..."

    [calendars.helpdesk]
    schedule = "helpdesk"          # the schedule kept in Zendesk or Freshdesk, read by the worker
    schedule_name = "Support EU"   # which one (default: the helpdesk's default, else its first)
    holidays = ["12-24"]           # added to the helpdesk's own holidays (Freshdesk's API has none)
    target = "4 business hours"

    [[channels]]
    name = "acme-facebook"
    calendar = "support"

``hours`` is a list of interval strings rather than a table per weekday: one line says a whole week
("mon-fri 09:00-18:00"), and an interval across midnight reads as written ("fri 22:00-02:00"). A bad
calendar stops every command at start with one line naming the key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from bridge import messages
from bridge.calendars import Calendar, CalendarError, Holiday, calendar, parse_holidays
from bridge.errors import ConfigError

_TARGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s+business\s+(hours?|minutes?)\s*$")
T = TypeVar("T")
_KEYS = frozenset({"timezone", "hours", "holidays", "target", "schedule", "schedule_name"})


@dataclass(frozen=True)
class CalendarConfig:
    """One ``[calendars.<name>]``: a calendar of its own, or ``schedule = "helpdesk"`` (``calendar`` None:
    the worker reads it from the helpdesk, see :mod:`bridge.schedules`)."""

    name: str
    calendar: Calendar | None
    target: timedelta | None = None
    schedule_name: str | None = None
    extra_holidays: tuple[Holiday, ...] = ()

    @property
    def from_helpdesk(self) -> bool:
        return self.calendar is None


def parse_calendars(raw: object) -> dict[str, CalendarConfig]:
    """Every ``[calendars.<name>]`` table, checked."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise ConfigError("calendars: must be tables, [calendars.<name>]")
    return {str(name): _calendar(str(name), table) for name, table in raw.items()}


def _calendar(name: str, table: Mapping[str, Any]) -> CalendarConfig:
    where = f"calendars.{name}"
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key (use {', '.join(sorted(_KEYS))})")
    target = parse_target(table.get("target"), f"{where}.target")
    holidays = _strings(table, "holidays", where)
    if table.get("schedule") is not None:
        return _helpdesk(name, table, target, holidays)
    if "timezone" not in table or "hours" not in table:
        raise ConfigError(f"{where}.{'hours' if 'timezone' in table else 'timezone'}: required")
    return CalendarConfig(name, _built(name, table, holidays), target)


def _helpdesk(name: str, table: Mapping[str, Any], target: timedelta | None, holidays: list[str]) -> CalendarConfig:
    where = f"calendars.{name}"
    if table["schedule"] != "helpdesk":
        raise ConfigError(f"{where}.schedule: {table['schedule']!r} is not 'helpdesk'")
    for key in ("timezone", "hours"):
        if key in table:
            raise ConfigError(f"{where}.{key}: not with schedule = 'helpdesk' (the helpdesk's schedule has its own)")
    extra = _checked(lambda: parse_holidays(holidays), f"{where}.holidays")
    schedule_name = table.get("schedule_name")
    return CalendarConfig(name, None, target, None if schedule_name is None else str(schedule_name), extra)


def _built(name: str, table: Mapping[str, Any], holidays: list[str]) -> Calendar:
    where = f"calendars.{name}"
    zone = table["timezone"]
    _checked(lambda: calendar(name, str(zone), []), f"{where}.timezone")
    hours = _strings(table, "hours", where)
    if not hours:  # never open: every acknowledgement an away reply, for ever, and doctor said ✓ "never open"
        raise ConfigError(f"{where}.hours: {messages.NO_OPENING}")
    _checked(lambda: calendar(name, str(zone), hours), f"{where}.hours")
    return _checked(lambda: calendar(name, str(zone), hours, holidays), f"{where}.holidays")


def _checked(build: Callable[[], T], where: str) -> T:
    try:
        return build()
    except CalendarError as e:
        raise ConfigError(f"{where}: {e}") from None


def _strings(table: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}.{key}: must be a list of strings")
    return value


#: The longest promise: "9999999 business hours" was accepted, each acknowledgement then spent 15 s walking the
#: calendar to year 6285 and promised "by 23 November 18:00" (a date that far is said without its year).
MAX_TARGET = timedelta(hours=1000)


def parse_target(value: object, where: str) -> timedelta | None:
    """``"2 business hours"`` or ``"30 business minutes"`` → the business time promised."""
    if value is None:
        return None
    m = _TARGET.match(value) if isinstance(value, str) else None
    if m is None or float(m[1]) <= 0:
        raise ConfigError(f"{where}: {value!r} is not a promise like '2 business hours' or '30 business minutes'")
    unit = 3600 if m[2].startswith("hour") else 60
    if float(m[1]) * unit > MAX_TARGET.total_seconds():
        raise ConfigError(f"{where}: {value!r} is more than 1000 business hours: a promise that far names a date "
                          "without its year")  # fmt: skip
    return timedelta(seconds=float(m[1]) * unit)


def check_references(references: Sequence[tuple[str, object]], calendars: Mapping[str, CalendarConfig]) -> None:
    """Each ``calendar`` a channel or a rule names (key, name: ``channels[acme-facebook].calendar``,
    ``rules[vip].then.calendar``) must be a ``[calendars.<name>]``."""
    for key, name in references:
        if name is not None and name not in calendars:
            known = ", ".join(sorted(calendars)) or "none is configured"
            raise ConfigError(f"{key}: no calendar {name!r} ([calendars.<name>]: {known})")
