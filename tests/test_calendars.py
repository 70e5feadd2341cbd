"""Business-hours calendars (bridge.calendars) with fixed clocks: DST in Berlin and New York, midnight-spanning
intervals, holidays (dates, ranges across the year end, yearly ones), and refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bridge import config as config_module
from bridge.calendars import Calendar, CalendarError, Unknown, calendar
from bridge.errors import ConfigError
from bridge.promise import Promise, phrase, promise
from tests.conftest import raw_config

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def ny(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NEW_YORK)


def office(zone: str = "Europe/Berlin", holidays: list[str] | None = None) -> Calendar:
    return calendar("support", zone, ["mon-fri 09:00-18:00", "sat 10:00-14:00"], holidays or [])


# -- is_open -----------------------------------------------------------------------------------------------------

OPEN_CASES = [
    # (hours, holidays, local time in Berlin, open?)
    (["mon-fri 09:00-18:00"], [], "2026-12-07 09:00", True),  # a Monday, at the opening
    (["mon-fri 09:00-18:00"], [], "2026-12-07 08:59", False),
    (["mon-fri 09:00-18:00"], [], "2026-12-07 18:00", False),  # the end is excluded
    (["mon-fri 09:00-18:00"], [], "2026-12-12 12:00", False),  # Saturday
    (["fri 22:00-02:00"], [], "2026-12-11 23:30", True),  # Friday night
    (["fri 22:00-02:00"], [], "2026-12-12 01:59", True),  # Saturday, after midnight
    (["fri 22:00-02:00"], [], "2026-12-12 02:00", False),
    (["fri 22:00-02:00"], [], "2026-12-11 01:00", False),  # Friday early morning is Thursday night's
    (["sun 22:00-02:00"], [], "2026-12-07 01:00", True),  # Sunday night runs into Monday across the week's end
    (["mon 00:00-24:00"], [], "2026-12-07 23:59", True),
    (["fri 22:00-02:00"], ["2026-12-12"], "2026-12-12 01:00", False),  # the holiday closes its whole date
    (["fri 22:00-02:00"], ["2026-12-12"], "2026-12-11 23:00", True),  # ...not the evening before
    (["mon-fri 09:00-18:00"], ["12-25"], "2026-12-25 10:00", False),  # yearly
    (["mon-fri 09:00-18:00"], ["12-25"], "2029-12-25 10:00", False),
    (["mon-fri 09:00-18:00"], ["12-25"], "2026-12-24 10:00", True),
    (["mon-fri 09:00-18:00"], ["2026-12-24..2027-01-01"], "2026-12-31 10:00", False),  # range across year end
    (["mon-fri 09:00-18:00"], ["2026-12-24..2027-01-01"], "2027-01-01 10:00", False),  # both ends included
    (["mon-fri 09:00-18:00"], ["2026-12-24..2027-01-01"], "2027-01-04 10:00", True),
    (["mon-fri 09:00-18:00"], ["12-24..01-02"], "2027-01-01 10:00", False),  # yearly range across year end
    (["mon-fri 09:00-18:00"], ["12-24..01-02"], "2028-01-03 10:00", True),
    (["mon-fri 09:00-18:00"], ["12-24..01-02"], "2027-12-23 10:00", True),
    (["sat-mon 10:00-12:00"], [], "2026-12-07 11:00", True),  # a day range wrapping the week: sat, sun, mon
    (["sat-mon 10:00-12:00"], [], "2026-12-08 11:00", False),
]


@pytest.mark.parametrize(("hours", "holidays", "local", "expected"), OPEN_CASES)
def test_is_open(hours: list[str], holidays: list[str], local: str, expected: bool) -> None:
    assert calendar("c", "Europe/Berlin", hours, holidays).is_open(berlin(local)) is expected


def test_an_instant_in_another_zone_is_the_same_instant() -> None:
    # 08:30 UTC on a Monday in December is 09:30 in Berlin (open) and 03:30 in New York (closed)
    at = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)
    assert office("Europe/Berlin").is_open(at) and not office("America/New_York").is_open(at)


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        office().is_open(datetime(2026, 12, 7, 10, 0))


# -- next_open ---------------------------------------------------------------------------------------------------

NEXT_CASES = [
    # (holidays, local now, local next opening)
    ([], "2026-12-07 10:00", "2026-12-07 10:00"),  # open: now
    ([], "2026-12-07 07:00", "2026-12-07 09:00"),
    ([], "2026-12-11 23:00", "2026-12-12 10:00"),  # Friday night → Saturday 10:00
    ([], "2026-12-12 15:00", "2026-12-14 09:00"),  # Saturday afternoon → Monday
    (["2026-12-14"], "2026-12-11 23:00", "2026-12-12 10:00"),
    (["2026-12-12", "2026-12-14"], "2026-12-11 23:00", "2026-12-15 09:00"),  # Friday 23:00 before a holiday Monday
    (["12-24..01-01"], "2026-12-23 19:00", "2027-01-02 10:00"),  # Christmas week closed; 2 Jan 2027 is a Saturday
]


@pytest.mark.parametrize(("holidays", "now", "expected"), NEXT_CASES)
def test_next_open(holidays: list[str], now: str, expected: str) -> None:
    assert office(holidays=holidays).next_open(berlin(now)) == berlin(expected)


def test_a_calendar_that_never_opens_has_no_next_opening() -> None:
    assert calendar("c", "UTC", [], []).next_open(datetime(2026, 1, 1, tzinfo=UTC)) is None
    assert (
        calendar("c", "UTC", ["mon 09:00-10:00"], ["01-01..12-31"]).next_open(datetime(2026, 1, 1, tzinfo=UTC)) is None
    )


# -- add_business_time -------------------------------------------------------------------------------------------

ADD_CASES = [
    # (holidays, local start, business hours, local due)
    ([], "2026-12-07 10:00", 2, "2026-12-07 12:00"),
    ([], "2026-12-07 17:00", 2, "2026-12-08 10:00"),  # one hour today, one tomorrow
    ([], "2026-12-07 18:00", 2, "2026-12-08 11:00"),
    ([], "2026-12-11 23:00", 2, "2026-12-12 12:00"),  # Friday 23:00 → Saturday's short day
    ([], "2026-12-12 13:00", 2, "2026-12-14 10:00"),  # one Saturday hour, then Monday
    (["2026-12-12", "2026-12-14"], "2026-12-11 23:00", 2, "2026-12-15 11:00"),  # holiday Monday: Tuesday
    ([], "2026-12-07 09:00", 9, "2026-12-07 18:00"),  # used up exactly at a closing: the closing
    ([], "2026-12-07 09:00", 13, "2026-12-08 13:00"),
]


@pytest.mark.parametrize(("holidays", "start", "hours", "due"), ADD_CASES)
def test_add_business_time(holidays: list[str], start: str, hours: int, due: str) -> None:
    assert office(holidays=holidays).add_business_time(berlin(start), timedelta(hours=hours)) == berlin(due)


def test_business_time_across_a_midnight_spanning_interval() -> None:
    night = calendar("night", "Europe/Berlin", ["fri 22:00-02:00"], [])
    assert night.add_business_time(berlin("2026-12-11 23:00"), timedelta(hours=2)) == berlin("2026-12-12 01:00")
    assert night.add_business_time(berlin("2026-12-12 01:30"), timedelta(hours=1)) == berlin("2026-12-18 22:30")


def test_a_calendar_open_around_the_clock() -> None:
    always = calendar("c", "Europe/Berlin", ["mon-sun 00:00-24:00"], [])
    assert always.is_open(berlin("2026-03-29 02:30")) and always.next_open(berlin("2026-12-07 03:00")) == berlin(
        "2026-12-07 03:00"
    )
    assert always.add_business_time(berlin("2026-12-07 03:00"), timedelta(days=20)) == berlin("2026-12-27 03:00")
    assert always.business_seconds_between(berlin("2026-12-01 00:00"), berlin("2027-01-01 00:00")) == 31 * 86400


def test_touching_intervals_merge_into_one_opening() -> None:
    split = calendar("c", "UTC", ["mon 09:00-12:00", "mon 12:00-18:00"], [])
    at = datetime(2026, 12, 7, 11, tzinfo=UTC)
    assert next(split.spans(at)) == (datetime(2026, 12, 7, 9, tzinfo=UTC), datetime(2026, 12, 7, 18, tzinfo=UTC))


# -- business_seconds_between ------------------------------------------------------------------------------------

BETWEEN_CASES = [
    ("2026-12-07 10:00", "2026-12-07 11:30", 1.5),
    ("2026-12-07 07:00", "2026-12-07 20:00", 9),
    ("2026-12-11 17:00", "2026-12-14 10:00", 1 + 4 + 1),  # Friday hour, Saturday's 4, Monday hour
    ("2026-12-14 10:00", "2026-12-11 17:00", 0),  # backwards
    ("2026-12-13 00:00", "2026-12-13 23:59", 0),  # Sunday
]


@pytest.mark.parametrize(("a", "b", "hours"), BETWEEN_CASES)
def test_business_seconds_between(a: str, b: str, hours: float) -> None:
    assert office().business_seconds_between(berlin(a), berlin(b)) == hours * 3600


# -- daylight saving time ----------------------------------------------------------------------------------------

DST_CASES = [
    # (zone, hours, local start, local end, real hours open between them)
    # Berlin springs forward on Sun 29 Mar 2026 at 02:00 → 03:00, falls back on Sun 25 Oct 2026 at 03:00 → 02:00.
    ("Europe/Berlin", ["sat 22:00-06:00"], "2026-03-28 20:00", "2026-03-29 12:00", 7),
    ("Europe/Berlin", ["sat 22:00-06:00"], "2026-10-24 20:00", "2026-10-25 12:00", 9),
    ("Europe/Berlin", ["sun 09:00-18:00"], "2026-03-29 00:00", "2026-03-29 23:00", 9),  # the change is at night
    ("Europe/Berlin", ["sun 00:00-24:00"], "2026-03-28 00:00", "2026-03-30 00:00", 23),
    ("Europe/Berlin", ["sun 00:00-24:00"], "2026-10-24 00:00", "2026-10-26 00:00", 25),
    # New York springs forward on Sun 8 Mar 2026 at 02:00, falls back on Sun 1 Nov 2026 at 02:00.
    ("America/New_York", ["sat 20:00-08:00"], "2026-03-07 12:00", "2026-03-08 12:00", 11),
    ("America/New_York", ["sat 20:00-08:00"], "2026-10-31 12:00", "2026-11-01 12:00", 13),
    ("America/New_York", ["sun 00:00-24:00"], "2026-03-08 00:00", "2026-03-09 00:00", 23),
]


@pytest.mark.parametrize(("zone", "hours", "a", "b", "expected"), DST_CASES)
def test_intervals_are_wall_clock_times_across_dst(zone: str, hours: list[str], a: str, b: str, expected: int) -> None:
    tz = ZoneInfo(zone)
    cal = calendar("c", zone, hours, [])
    start, end = datetime.fromisoformat(a).replace(tzinfo=tz), datetime.fromisoformat(b).replace(tzinfo=tz)
    assert cal.business_seconds_between(start, end) == expected * 3600


def test_an_opening_in_the_skipped_hour_is_when_the_clocks_jump() -> None:
    cal = calendar("c", "Europe/Berlin", ["sun 02:30-04:00"], [])
    opening = cal.next_open(berlin("2026-03-29 00:00"))
    assert opening == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST, the end of the gap
    assert cal.business_seconds_between(berlin("2026-03-29 00:00"), berlin("2026-03-29 12:00")) == 3600


def test_an_interval_wholly_in_the_skipped_hour_never_opens_that_day() -> None:
    cal = calendar("c", "America/New_York", ["sun 02:00-02:45"], [])
    assert cal.next_open(ny("2026-03-08 00:00")) == ny("2026-03-15 02:00")


def test_a_repeated_wall_time_is_its_first_occurrence() -> None:
    cal = calendar("c", "America/New_York", ["sun 01:30-03:00"], [])
    # 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST): the opening is the first
    assert cal.next_open(ny("2026-11-01 00:00")) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    # 01:30 EDT → 03:00 EST is two and a half real hours
    assert cal.business_seconds_between(ny("2026-11-01 00:00"), ny("2026-11-01 12:00")) == 2.5 * 3600


def test_business_time_added_across_the_spring_change() -> None:
    cal = calendar("c", "Europe/Berlin", ["sat 22:00-06:00"], [])
    # 22:00 CET + 5 business hours: 22, 23, 00, 01, then 03:00 CEST (02:00 does not exist) → 04:00 CEST
    assert cal.add_business_time(berlin("2026-03-28 22:00"), timedelta(hours=5)) == berlin("2026-03-29 04:00")


# -- refusals ----------------------------------------------------------------------------------------------------

BAD = [
    (["mon-fri 09:00-18:00", "fri 17:00-19:00"], [], "'fri 09:00-18:00' overlaps 'fri 17:00-19:00'"),
    (["thu 22:00-02:00", "fri 01:00-03:00"], [], "'thu 22:00-02:00' overlaps 'fri 01:00-03:00'"),
    (["sun 22:00-02:00", "mon 01:00-03:00"], [], "overlaps"),  # across the week's end
    (["mon 9-17"], [], "'mon 9-17' is not an interval"),
    (["mon 09:00-25:00"], [], "25:00 is not a time of day"),
    (["mon 09:61-10:00"], [], "09:61 is not a time of day"),
    (["mon 09:00-09:00"], [], "an end other than its start"),
    (["monday 09:00-10:00"], [], "'monday' is not a day"),
    (["mon 09:00-10:00", "mon 09:00-10:00"], [], "overlaps"),
    ([], ["2026-13-01"], "is not a holiday"),
    ([], ["2026-12-31..2026-01-01"], "ends before it starts"),
    ([], ["12-24..2027-01-02"], "both ends must have a year"),
]


@pytest.mark.parametrize(("hours", "holidays", "message"), BAD)
def test_refused(hours: list[str], holidays: list[str], message: str) -> None:
    with pytest.raises(CalendarError, match=message.replace("(", r"\(")):
        calendar("c", "Europe/Berlin", hours, holidays)


def test_unknown_time_zone() -> None:
    with pytest.raises(CalendarError, match="'Europe/Atlantis' is not a known time zone"):
        calendar("c", "Europe/Atlantis", [], [])


# -- [calendars.<name>] in socialdesk.toml -------------------------------------------------------------------------


def with_calendars(calendars: dict[str, Any], channel_calendar: str | None = "support") -> dict[str, Any]:
    raw = raw_config()
    raw["calendars"] = calendars
    if channel_calendar is not None:
        raw["channels"][0]["calendar"] = channel_calendar
    return raw


SUPPORT = {
    "timezone": "Europe/Berlin",
    "hours": ["mon-fri 09:00-18:00"],
    "holidays": ["12-25"],
    "target": "2 business hours",
}


def test_a_configured_calendar_and_its_promise() -> None:
    support = config_module.parse(with_calendars({"support": SUPPORT}), env={}).calendars["support"]
    assert support.calendar is not None and support.target == timedelta(hours=2)
    assert not support.calendar.is_open(berlin("2026-12-25 10:00"))
    assert support.calendar.is_open(berlin("2026-12-24 10:00"))


def test_a_helpdesk_schedule_is_read_later() -> None:
    table = {"schedule": "helpdesk", "schedule_name": "EU", "holidays": ["12-24"], "target": "30 business minutes"}
    helpdesk = config_module.parse(with_calendars({"support": table}), env={}).calendars["support"]
    assert helpdesk.from_helpdesk and helpdesk.schedule_name == "EU"
    assert helpdesk.target == timedelta(minutes=30) and len(helpdesk.extra_holidays) == 1


def support(**changes: Any) -> dict[str, Any]:
    return {"support": {**SUPPORT, **changes}}


CONFIG_REFUSALS = [
    (support(hours=["mon-fri 09:00-18:00", "mon 17:00-19:00"]), "support",
     "calendars.support.hours: 'mon 09:00-18:00' overlaps 'mon 17:00-19:00'"),
    (support(hours=["weekdays 9-5"]), "support", "calendars.support.hours: 'weekdays 9-5' is not an interval"),
    (support(timezone="Mars/X"), "support", "calendars.support.timezone: 'Mars/X' is not a known time zone"),
    (support(holidays=["christmas"]), "support", "calendars.support.holidays: 'christmas' is not a holiday"),
    (support(target="soon"), "support", "calendars.support.target: 'soon' is not a promise"),
    (support(target="9999999 business hours"), "support",  # 15 s per acknowledgement, a date in the year 6285
     "calendars.support.target: '9999999 business hours' is more than 1000 business hours"),
    (support(hours="mon-fri 09:00-18:00"), "support", "calendars.support.hours: must be a list of strings"),
    (support(hours=[]), "support",  # never open: every acknowledgement an away reply; doctor said ✓ "never open"
     'calendars.support.hours: at least one opening; for a channel answered around the clock use '
     '["mon-sun 00:00-24:00"], or give the channel no calendar'),
    ({"support": {"hours": ["mon 09:00-10:00"]}}, "support", "calendars.support.timezone: required"),
    (support(opening=[]), "support", "calendars.support.opening: unknown key"),
    ({"support": {"schedule": "zendesk"}}, "support", "calendars.support.schedule: 'zendesk' is not 'helpdesk'"),
    ({"support": {"schedule": "helpdesk", "timezone": "UTC"}}, "support",
     "calendars.support.timezone: not with schedule"),
    (support(), "suport", "channels[acme-facebook].calendar: no calendar 'suport' ([calendars.<name>]: support)"),
    ({}, "support", "channels[acme-facebook].calendar: no calendar 'support' ([calendars.<name>]: none is configured)"),
]  # fmt: skip


def test_a_rule_naming_a_calendar_that_does_not_exist_is_refused() -> None:
    raw = {**with_calendars(support()), "rules": [{"name": "vip", "then": {"calendar": "vip-hours"}}]}
    with pytest.raises(ConfigError) as refused:
        config_module.parse(raw, env={})
    assert str(refused.value) == "rules[vip].then.calendar: no calendar 'vip-hours' ([calendars.<name>]: support)"
    raw["calendars"]["vip-hours"] = {"timezone": "UTC", "hours": ["mon-sun 00:00-24:00"]}
    assert config_module.parse(raw, env={}).rules[0].then.calendar == "vip-hours"


@pytest.mark.parametrize(("calendars", "channel", "message"), CONFIG_REFUSALS)
def test_a_bad_calendar_is_refused_naming_the_key(calendars: dict[str, Any], channel: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        config_module.parse(with_calendars(calendars, channel), env={})
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


# -- "when will someone answer" ----------------------------------------------------------------------------------

PROMISES = [
    # (local now in Berlin, language, phrase) with mon-fri 09:00-18:00, sat 10:00-14:00 and a 2-hour target
    ("2026-12-07 10:00", "en", "by 12:00 today"),
    ("2026-12-07 17:30", "en", "by 10:30 tomorrow"),
    ("2026-12-07 22:00", "en", "by 11:00 tomorrow"),
    ("2026-12-11 23:00", "en", "by 12:00 tomorrow"),  # Friday night → Saturday's short day
    ("2026-12-12 13:00", "en", "by Monday 10:00"),
    ("2026-12-12 13:00", "fr", "lundi avant 10:00"),
    ("2026-12-12 13:00", "de", "bis Montag 10:00 Uhr"),
    ("2026-12-12 13:00", "es", "el lunes antes de las 10:00"),
    ("2026-12-12 13:00", "it", "lunedì entro le 10:00"),
    ("2026-12-12 13:00", "pt-BR", "segunda-feira até às 10:00"),
    ("2026-12-12 13:00", "sl", "by Monday 10:00"),  # no table: English
    ("2026-12-07 17:30", "de", "bis morgen 10:30 Uhr"),
    ("2026-12-07 10:00", "fr", "aujourd'hui avant 12:00"),
]


@pytest.mark.parametrize(("now", "language", "expected"), PROMISES)
def test_the_promise_in_the_customers_language(now: str, language: str, expected: str) -> None:
    made = promise(office(), berlin(now), timedelta(hours=2), language)
    assert isinstance(made, Promise) and made.text == expected


def test_a_friday_night_before_a_holiday_monday() -> None:
    cal = calendar("c", "Europe/Berlin", ["mon-fri 09:00-18:00"], ["2026-12-14"])
    made = promise(cal, berlin("2026-12-11 23:00"), timedelta(hours=2))
    assert isinstance(made, Promise) and (made.due, made.text) == (berlin("2026-12-15 11:00"), "by Tuesday 11:00")


def test_within_the_hour_and_far_away_dates() -> None:
    assert phrase(berlin("2026-12-07 10:45"), berlin("2026-12-07 10:00"), office(), "en") == "within the hour"
    assert phrase(berlin("2026-12-07 10:45"), berlin("2026-12-07 10:00"), office(), "es") == "en menos de una hora"
    far = berlin("2027-01-05 09:00")
    assert phrase(far, berlin("2026-12-23 19:00"), office(), "en") == "by 5 January 9:00"
    assert phrase(far, berlin("2026-12-23 19:00"), office(), "de") == "bis 5. Januar 9:00 Uhr"
    assert phrase(berlin("2026-12-08 01:00"), berlin("2026-12-07 20:00"), office(), "es") == "mañana antes de la 1:00"
    assert phrase(berlin("2026-12-08 01:00"), berlin("2026-12-07 20:00"), office(), "it") == "domani entro l'1:00"


def test_the_phrase_is_in_the_calendars_zone() -> None:
    # 16:00 UTC on a Monday is 17:00 in Berlin: two business hours later is 10:00 Tuesday, Berlin time
    made = promise(office(), datetime(2026, 12, 7, 16, tzinfo=UTC), timedelta(hours=2))
    assert isinstance(made, Promise) and made.text == "by 10:00 tomorrow"


def test_nothing_is_promised_on_an_unknown_calendar() -> None:
    unknown = Unknown("the helpdesk schedule was never read")
    assert promise(unknown, berlin("2026-12-07 10:00"), timedelta(hours=2)) == unknown
    never = calendar("c", "UTC", [], [])
    assert isinstance(promise(never, berlin("2026-12-07 10:00"), timedelta(hours=2)), Unknown)


def test_a_calendar_open_around_the_clock_is_open() -> None:
    """Every day 00:00-24:00: one opening that never closes (merging it ran to year 9999: OverflowError)."""
    always = calendar("always", "Europe/Berlin", ["mon-sun 00:00-24:00"])
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert always.is_open(now)
    assert always.next_open(now) == now
