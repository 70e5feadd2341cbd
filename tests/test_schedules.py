"""``schedule = "helpdesk"``: the simulators' business-hours endpoints against the vendors' shapes (plain
requests), the real connectors reading them over sockets, and the worker's stored copy (last good one
kept when a read fails; Unknown with none)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from click.testing import CliRunner

from bridge import cli, doctor, schedules, status, triage
from bridge import config as config_module
from bridge.calendarbook import CalendarConfig
from bridge.calendars import Calendar, Holiday, Interval, Unknown, parse_holidays
from bridge.errors import ConfigError
from bridge.events import Author, SocialEvent
from bridge.promise import Promise
from bridge.queue import Queue, Worker, make_huey
from bridge.registry import Runtime, build_runtime
from bridge.retry import RetryPolicy
from bridge.rulebook import parse_rules
from bridge.rules import EventFacts, ThreadFacts, explain
from bridge.store import Store
from connectors.freshdesk.helpdesk import FreshdeskHelpdesk
from connectors.zendesk import ZendeskHelpdesk
from sandbox.base import Fault
from sandbox.freshdesk import FreshdeskSimulator
from sandbox.stack import to_toml
from sandbox.zendesk import ZendeskSimulator
from tests.conftest import PAGE_ID, ZD_EMAIL, ZD_TOKEN, fixture_json, raw_config
from tests.support import socialdesk

FD_KEY = "fd-api-key-not-a-real-one"
BERLIN = ZoneInfo("Europe/Berlin")
#: Monday to Friday 09:00-18:00 in Zendesk's minutes since Sunday midnight.
WEEKDAYS = [(day * 1440 + 540, day * 1440 + 1080) for day in range(1, 6)]
NOW = datetime(2026, 12, 11, 22, 0, tzinfo=UTC)  # Friday 23:00 in Berlin


@pytest.fixture
def zendesk() -> Iterator[ZendeskSimulator]:
    with ZendeskSimulator(email=ZD_EMAIL, api_token=ZD_TOKEN) as sim:
        yield sim


@pytest.fixture
def freshdesk() -> Iterator[FreshdeskSimulator]:
    with FreshdeskSimulator(api_key=FD_KEY) as sim:
        yield sim


def zd_get(sim: ZendeskSimulator, path: str) -> requests.Response:
    return requests.get(f"{sim.url}{path}", auth=(f"{ZD_EMAIL}/token", ZD_TOKEN), timeout=5)


def fd_get(sim: FreshdeskSimulator, path: str) -> requests.Response:
    return requests.get(f"{sim.url}{path}", auth=(FD_KEY, "X"), timeout=5)


# -- the simulators, against the vendors' documented shapes -------------------------------------------------------


def test_zendesk_lists_schedules_and_holidays_as_documented(zendesk: ZendeskSimulator) -> None:
    schedule_id = zendesk.add_schedule("North America", "Pacific Time (US & Canada)", [(1980, 2460), (3420, 3900)],
                                       [("New Year's Day 2016", "2016-01-01", "2016-01-01")])  # fmt: skip
    listed = zd_get(zendesk, "/api/v2/business_hours/schedules.json")
    documented = fixture_json("zendesk/schedules_GET.response.json")
    assert listed.status_code == 200 and set(listed.json()) == set(documented)
    [schedule] = listed.json()["schedules"]
    assert set(schedule) == set(documented["schedules"][0])
    assert schedule["intervals"] == documented["schedules"][0]["intervals"] and schedule["id"] == schedule_id
    shown = zd_get(zendesk, f"/api/v2/business_hours/schedules/{schedule_id}")
    assert shown.json() == {"schedule": schedule}
    holidays = zd_get(zendesk, f"/api/v2/business_hours/schedules/{schedule_id}/holidays.json").json()
    expected = fixture_json("zendesk/schedule_holidays_GET.response.json")
    assert set(holidays) == set(expected) and set(holidays["holidays"][0]) == set(expected["holidays"][0])
    assert holidays["holidays"][0]["start_date"] == "2016-01-01"


def test_zendesk_refuses_an_unknown_schedule_and_an_agent(zendesk: ZendeskSimulator) -> None:
    missing = zd_get(zendesk, "/api/v2/business_hours/schedules/99/holidays.json")
    assert missing.status_code == 404 and missing.json() == fixture_json(
        "zendesk/error_404_RecordNotFound.response.json"
    )
    assert requests.get(f"{zendesk.url}/api/v2/business_hours/schedules.json", timeout=5).status_code == 401
    with ZendeskSimulator(email=ZD_EMAIL, api_token=ZD_TOKEN, api_user_role="agent") as agent_only:
        assert zd_get(agent_only, "/api/v2/business_hours/schedules.json").status_code == 403  # "Allowed for: Admins"
    with pytest.raises(ValueError, match="spans calendar days"):
        zendesk.add_schedule("Night", "UTC", [(1380, 1500)])  # Sunday 23:00 to Monday 01:00


def test_freshdesk_lists_business_calendars_as_documented(freshdesk: FreshdeskSimulator) -> None:
    documented = fixture_json("freshdesk/business_hours_list.response.json")[0]
    hours = {day: (v["start_time"], v["end_time"]) for day, v in documented["business_hours"].items()}
    added = freshdesk.add_business_hours("Americas", documented["time_zone"], hours)
    listed = fd_get(freshdesk, "/api/v2/business_hours")
    assert listed.status_code == 200 and isinstance(listed.json(), list)
    default, americas = listed.json()
    assert set(default) == set(documented) and default["is_default"] and not americas["is_default"]
    assert americas["business_hours"] == documented["business_hours"] and americas["id"] == added
    assert fd_get(freshdesk, f"/api/v2/business_hours/{added}").json() == americas
    assert fd_get(freshdesk, "/api/v2/business_hours/1").status_code == 404
    assert requests.get(f"{freshdesk.url}/api/v2/business_hours", timeout=5).status_code == 401


# -- the connectors, end to end ---------------------------------------------------------------------------------


def test_the_zendesk_connector_reads_schedules_with_their_holidays(zendesk: ZendeskSimulator) -> None:
    zendesk.add_schedule("Support EU", "Berlin", WEEKDAYS, [("Christmas", "2026-12-24", "2026-12-26")])
    zendesk.add_schedule("Nights", "Eastern Time (US & Canada)", [(1320, 1440), (1440, 1560)])  # Sun 22-24, Mon 0-2
    helpdesk = ZendeskHelpdesk(url=zendesk.url, email=ZD_EMAIL, api_token=ZD_TOKEN, timeout=5)
    eu, nights = helpdesk.business_schedules()
    assert (eu.name, eu.timezone) == ("Support EU", "Europe/Berlin")
    assert eu.intervals == tuple(Interval(day, 540, 1080) for day in range(5))
    assert eu.holidays == (Holiday(datetime(2026, 12, 24).date(), datetime(2026, 12, 26).date()),)
    assert (nights.timezone, nights.intervals) == ("America/New_York", (Interval(0, 0, 120), Interval(6, 1320, 1440)))


def test_the_freshdesk_connector_reads_business_calendars(freshdesk: FreshdeskSimulator) -> None:
    hours = {"monday": ("08:00:00 am", "11:59:59 pm"), "saturday": ("12:30:00 pm", "05:00:00 pm"),
             "sunday": ("06:00:00 pm", "12:00:00 am")}  # fmt: skip
    freshdesk.add_business_hours("EU", "Berlin", hours, default=True)
    helpdesk = FreshdeskHelpdesk(url=freshdesk.url, api_key=FD_KEY, timeout=5)
    first, eu = helpdesk.business_schedules()
    assert first.timezone == "America/New_York" and not first.default
    assert first.intervals == tuple(Interval(day, 480, 1020) for day in range(5))
    assert eu.default and eu.timezone == "Europe/Berlin" and eu.holidays == ()
    assert eu.intervals == (Interval(0, 480, 1440), Interval(5, 750, 1020), Interval(6, 1080, 1440))  # midnight


def test_an_unknown_helpdesk_time_zone_is_refused(zendesk: ZendeskSimulator) -> None:
    zendesk.add_schedule("Moon", "Sea of Tranquility", WEEKDAYS)
    store = Store.from_url("sqlite://")
    helpdesk = ZendeskHelpdesk(url=zendesk.url, email=ZD_EMAIL, api_token=ZD_TOKEN, timeout=5)
    assert not schedules.refresh(helpdesk, store, NOW)
    assert "'Sea of Tranquility' is not one socialdesk knows" in (schedules.stored(store).error or "")


# -- the stored copy: last good one kept, Unknown with none -------------------------------------------------------


def helpdesk_calendar(**changes: Any) -> CalendarConfig:
    return CalendarConfig(**{"name": "support", "calendar": None, "schedule_name": None, **changes})


def test_the_copy_is_kept_and_a_failed_read_falls_back_to_it(zendesk: ZendeskSimulator) -> None:
    store = Store.from_url("sqlite://")
    helpdesk = ZendeskHelpdesk(url=zendesk.url, email=ZD_EMAIL, api_token=ZD_TOKEN, timeout=5)
    config = helpdesk_calendar(extra_holidays=parse_holidays(["12-14"]))
    never = schedules.resolve(config, schedules.stored(store))
    assert isinstance(never, Unknown) and "never been read" in never.reason
    assert schedules.freshness(schedules.stored(store), NOW) == (
        False,
        "never read: business hours unknown, nothing is promised",
    )

    zendesk.add_schedule("Support EU", "Berlin", WEEKDAYS)
    assert schedules.refresh(helpdesk, store, NOW)
    calendar = schedules.resolve(config, schedules.stored(store))
    assert isinstance(calendar, Calendar) and calendar.zone == BERLIN
    # Friday 23:00 before Monday 14 December, a holiday configured beside the helpdesk's schedule
    assert calendar.next_open(NOW) == datetime(2026, 12, 15, 9, 0, tzinfo=BERLIN)

    zendesk.inject(Fault(503, method="GET", path_prefix="/api/v2/business_hours"))
    later = NOW + timedelta(minutes=15)
    assert not schedules.refresh(helpdesk, store, later)
    copy = schedules.stored(store)
    assert isinstance(schedules.resolve(config, copy), Calendar)  # the last good copy
    ok, line = schedules.freshness(copy, later + timedelta(minutes=1))
    assert (
        not ok
        and line.startswith("the last read failed 60 s ago (")
        and line.endswith("using the copy read 16 min ago (1 schedule(s))")
    )

    assert schedules.refresh(helpdesk, store, later + timedelta(minutes=15))
    assert schedules.freshness(schedules.stored(store), later + timedelta(minutes=15)) == (
        True,
        "read 0 s ago (1 schedule(s))",
    )


def test_a_schedule_is_chosen_by_name_else_the_default(freshdesk: FreshdeskSimulator) -> None:
    store = Store.from_url("sqlite://")
    freshdesk.add_business_hours("EU", "Berlin", {"monday": ("09:00:00 am", "05:00:00 pm")})
    assert schedules.refresh(FreshdeskHelpdesk(url=freshdesk.url, api_key=FD_KEY, timeout=5), store, NOW)
    copy = schedules.stored(store)
    default = schedules.resolve(helpdesk_calendar(), copy)
    named = schedules.resolve(helpdesk_calendar(schedule_name="EU"), copy)
    missing = schedules.resolve(helpdesk_calendar(schedule_name="APAC"), copy)
    assert isinstance(default, Calendar) and default.zone.key == "America/New_York"
    assert isinstance(named, Calendar) and named.zone == BERLIN
    assert missing == Unknown("the helpdesk has no schedule named 'APAC'")


def test_the_worker_reads_the_schedule_at_start_and_every_15_minutes(tmp_path: Path, zendesk: ZendeskSimulator) -> None:
    zendesk.add_schedule("Support EU", "Berlin", WEEKDAYS)
    raw = raw_config(
        zendesk_url=zendesk.url, database_url=f"sqlite:///{tmp_path}/s.db", queue_url=f"sqlite:///{tmp_path}/q.db"
    )
    raw["calendars"] = {"support": {"schedule": "helpdesk", "target": "2 business hours"}}
    runtime = build_runtime(config_module.parse(raw, env={}))
    queue = Queue(make_huey(runtime.config.queue_url), lambda: runtime)
    worker = Worker(runtime, queue)
    assert worker.calendars is not None and worker._options["periodic"]
    due = {t.name for t in queue.huey.read_periodic(datetime(2026, 12, 7, 10, 15))}
    assert "socialdesk.helpdesk_schedules" in due and not queue.huey.read_periodic(datetime(2026, 12, 7, 10, 16))
    worker.start()
    try:
        assert schedules.stored(runtime.store).read_at is not None  # read once at start
    finally:
        worker.stop()
    calendars = schedules.calendars(runtime.config.calendars, runtime.store)
    assert isinstance(calendars["support"], Calendar)

    assert Worker(build_runtime(config_module.parse(raw_config(), env={})), queue).calendars is None


@pytest.mark.parametrize("value", [0, 60, "15", True])
def test_a_bad_refresh_interval_stops_at_start(value: Any) -> None:
    raw = raw_config()
    raw["bridge"]["schedule_refresh_minutes"] = value
    with pytest.raises(ConfigError, match=r"bridge\.schedule_refresh_minutes: .* is not a whole number from 1 to 59"):
        config_module.parse(raw, env={})


# -- the triage rules' business-hours condition follows the channel's calendar -------------------------------------

HOURS_RULES = [
    {"name": "after-hours", "when": {"business_hours": "outside"}, "then": {"tags": ["after_hours"]}},
    {"name": "office", "when": {"business_hours": "inside"}, "then": {"tags": ["office"]}},
]


def message_at(at: datetime) -> SocialEvent:
    author = Author(id="psid-1", name="Jane Doe")
    return SocialEvent("facebook", "acme-facebook", PAGE_ID, "m1", "messenger:psid-1", "message", author,
                       "where is my order?", at, "psid-1")  # fmt: skip


def runtime_with(tmp_path: Path, calendar: dict[str, Any] | None) -> Runtime:
    raw = raw_config(database_url=f"sqlite:///{tmp_path}/s.db", queue_url=f"sqlite:///{tmp_path}/q.db")
    raw["rules"] = HOURS_RULES
    if calendar is not None:
        raw["calendars"] = {"support": calendar}
        raw["channels"][0]["calendar"] = "support"
    return build_runtime(config_module.parse(raw, env={}))


@pytest.mark.parametrize(
    ("calendar", "at", "tags"),
    [
        (None, NOW, ("office",)),  # no calendar: 24/7
        ({"timezone": "Europe/Berlin", "hours": ["mon-fri 09:00-18:00"]}, NOW, ("after_hours",)),  # Friday 23:00
        ({"timezone": "Europe/Berlin", "hours": ["mon-fri 09:00-18:00"]}, NOW - timedelta(hours=10), ("office",)),
        ({"schedule": "helpdesk"}, NOW, ()),  # never read: unknown, neither rule fires
    ],
)
def test_the_business_hours_rule_follows_the_channels_calendar(
    tmp_path: Path, calendar: dict[str, Any] | None, at: datetime, tags: tuple[str, ...]
) -> None:
    runtime = runtime_with(tmp_path, calendar)
    decision = triage.decide_for(runtime, message_at(at), first=True, customer=None)
    assert tuple(t for t in decision.tags if not t.startswith("rule_")) == tags


def test_rules_explain_says_the_business_hours_are_unknown() -> None:
    event = EventFacts("acme-facebook", "facebook", "where is my order?")
    verdicts = explain(
        event, ThreadFacts(), None, None, parse_rules(HOURS_RULES, helpdesk="zendesk"), inside_hours=None
    )
    assert [v.detail for v in verdicts] == ["no match: business hours: unknown"] * 2


# -- doctor and status report the calendars and the helpdesk schedule's freshness -----------------------------------


def checks_of(config: config_module.Config) -> dict[str, tuple[bool, str]]:
    return {c.what: (c.ok, c.detail) for c in doctor.run_checks(config) if "calendar" in c.what or "schedule" in c.what}


def test_doctor_and_status_report_calendars_and_the_schedules_freshness(
    tmp_path: Path, zendesk: ZendeskSimulator
) -> None:
    zendesk.add_schedule("Support EU", "Berlin", WEEKDAYS)
    raw = raw_config(
        zendesk_url=zendesk.url, database_url=f"sqlite:///{tmp_path}/s.db", queue_url=f"sqlite:///{tmp_path}/q.db"
    )
    raw["calendars"] = {
        "office": {"timezone": "Europe/Berlin", "hours": ["mon-sun 00:00-24:00"], "target": "2 business hours"},
        "eu": {"schedule": "helpdesk", "schedule_name": "Support EU"},
    }
    config = config_module.parse(raw, env={})
    store = Store.from_url(config.database_url)

    first = checks_of(config)
    assert first["calendar office"] == (True, "Europe/Berlin, mon 00:00-24:00, tue 00:00-24:00, wed 00:00-24:00, "
                                        "thu 00:00-24:00, fri 00:00-24:00, sat 00:00-24:00, sun 00:00-24:00, "
                                        "0 holiday(s); open now")  # fmt: skip
    assert first["calendar eu"] == (False, "business hours unknown (the helpdesk's schedule has never been read): "
                                    "nothing is promised")  # fmt: skip
    assert first["helpdesk schedule"] == (True, "readable now: 'Support EU'")

    helpdesk = ZendeskHelpdesk(url=zendesk.url, email=ZD_EMAIL, api_token=ZD_TOKEN, timeout=5)
    assert schedules.refresh(helpdesk, store, schedules.utcnow())
    ok, detail = checks_of(config)["calendar eu"]
    assert ok and detail.startswith("Europe/Berlin, mon 09:00-18:00") and "; helpdesk schedule read " in detail

    zendesk.inject(Fault(503, method="GET", path_prefix="/api/v2/business_hours", times=2))
    assert not schedules.refresh(helpdesk, store, schedules.utcnow())
    broken = checks_of(config)
    assert broken["helpdesk schedule"] == (False, "zendesk: Zendesk is unavailable (HTTP 503)")
    assert not broken["calendar eu"][0]
    assert broken["calendar eu"][1].startswith("helpdesk schedule: the last read failed ")
    assert "(zendesk: Zendesk is unavailable (HTTP 503)); using the copy read " in broken["calendar eu"][1]

    report = status.report(config, store)
    assert report["calendars"]["office"]["ok"] and not report["calendars"]["eu"]["ok"]
    lines = status.render(report)
    assert any(line.startswith("calendar       eu: ✗ helpdesk schedule: the last read failed") for line in lines)


@pytest.mark.parametrize(
    ("schedule_name", "detail"),
    [
        ("Support US", "calendars.eu.schedule_name: zendesk has no schedule named 'Support US' (it has 'Support EU')"),
        ("Support EU", "readable now: 'Support EU'"),
        (None, "readable now: 'Support EU'"),
    ],
)
def test_doctor_fails_a_calendar_naming_a_schedule_the_helpdesk_does_not_have(
    tmp_path: Path, zendesk: ZendeskSimulator, schedule_name: str | None, detail: str
) -> None:
    """Before, doctor said the schedule was 'readable now' and the calendar only 'never read' until the worker's
    first read: a misspelt schedule_name (or a helpdesk without schedules) was not named until then."""
    zendesk.add_schedule("Support EU", "Berlin", WEEKDAYS)
    raw = raw_config(zendesk_url=zendesk.url, database_url=f"sqlite:///{tmp_path}/s.db")
    raw["calendars"] = {"eu": {"schedule": "helpdesk", **({"schedule_name": schedule_name} if schedule_name else {})}}
    assert checks_of(config_module.parse(raw, env={}))["helpdesk schedule"] == (detail.startswith("readable"), detail)


def test_doctor_fails_helpdesk_calendars_when_the_helpdesk_keeps_no_schedule(
    tmp_path: Path, zendesk: ZendeskSimulator
) -> None:
    raw = raw_config(zendesk_url=zendesk.url, database_url=f"sqlite:///{tmp_path}/s.db")
    raw["calendars"] = {"eu": {"schedule": "helpdesk"}}
    checked = checks_of(config_module.parse(raw, env={}))["helpdesk schedule"]
    assert checked == (False, "calendars.eu: zendesk keeps no business-hours schedule")


def test_the_promise_for_a_channel(tmp_path: Path, zendesk: ZendeskSimulator) -> None:
    zendesk.add_schedule("Support EU", "Berlin", WEEKDAYS, [("Christmas", "2026-12-14", "2026-12-14")])
    raw = raw_config(zendesk_url=zendesk.url, database_url=f"sqlite:///{tmp_path}/s.db")
    raw["calendars"] = {"support": {"schedule": "helpdesk", "target": "2 business hours"}}
    raw["channels"][0]["calendar"] = "support"
    config = config_module.parse(raw, env={})
    store = Store.from_url(config.database_url)
    unknown = schedules.promise_for(config, store, "acme-facebook", NOW, "de")
    assert isinstance(unknown, Unknown) and "never been read" in unknown.reason  # nothing is promised
    helpdesk = ZendeskHelpdesk(url=zendesk.url, email=ZD_EMAIL, api_token=ZD_TOKEN, timeout=5)
    assert schedules.refresh(helpdesk, store, NOW)
    # Friday 23:00 before a holiday Monday: Tuesday 11:00
    made = schedules.promise_for(config, store, "acme-facebook", NOW, "de")
    assert made == Promise(datetime(2026, 12, 15, 11, 0, tzinfo=BERLIN), "bis Dienstag 11:00 Uhr")
    assert schedules.promise_for(config, store, "nowhere", NOW) == Unknown("channel nowhere has no calendar")


def test_a_rate_limited_read_pauses_the_helpdesk_and_the_next_one_waits(zendesk: ZendeskSimulator) -> None:
    store = Store.from_url("sqlite://")
    policy = RetryPolicy(store, sleep=lambda s: None)
    helpdesk = ZendeskHelpdesk(url=zendesk.url, email=ZD_EMAIL, api_token=ZD_TOKEN, timeout=5)
    zendesk.inject(Fault(429, method="GET", path_prefix="/api/v2/business_hours", headers={"Retry-After": "600"}))
    assert not schedules.refresh(helpdesk, store, NOW, policy)
    sent = len(zendesk.calls_to("GET", "/api/v2/business_hours"))
    assert not schedules.refresh(helpdesk, store, NOW, policy)  # paused: not asked again
    assert len(zendesk.calls_to("GET", "/api/v2/business_hours")) == sent == 1
    assert "paused by its rate limit" in (schedules.stored(store).error or "")


def test_rules_explain_answers_for_the_time_given(tmp_path: Path) -> None:
    raw = raw_config(database_url=f"sqlite:///{tmp_path}/s.db")
    raw["rules"] = HOURS_RULES
    raw["channels"][0]["calendar"] = "support"
    config = tmp_path / "socialdesk.toml"
    config.write_text(
        to_toml(raw) + '\n[calendars.support]\ntimezone = "Europe/Berlin"\nhours = ["mon-fri 09:00-18:00"]\n'
    )
    for at, fired in (("2026-12-11T23:00+01:00", "after-hours"), ("2026-12-11T10:00+01:00", "office")):
        run = socialdesk("rules", "explain", "--config", str(config), "--channel", "acme-facebook", "--at", at, "hi")
        assert run.returncode == 0, run.stderr
        assert f"✓ {fired}: rule {fired}:" in run.stdout and f"decision: tags {fired.replace('-', '_')}" in run.stdout


def test_rules_explain_at_without_an_offset_says_what_to_write(tmp_path: Path) -> None:
    """Before: "does not match the formats '%Y-%m-%dT%H:%M%z', '%Y-%m-%dT%H:%M:%S%z'" (strptime's words)."""
    config = tmp_path / "socialdesk.toml"
    config.write_text(to_toml(raw_config(database_url=f"sqlite:///{tmp_path}/s.db")))
    run = socialdesk("rules", "explain", "--config", str(config), "--channel", "acme-facebook",
                     "--at", "2026-12-24T23:00", "hi")  # fmt: skip
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1] == (
        "Error: Invalid value for '--at': '2026-12-24T23:00': write a date and time with its UTC offset, "
        "e.g. 2026-12-24T23:00+01:00 (Z for UTC)"
    )


GOOD_CALENDAR = {"timezone": "Europe/Berlin", "hours": ["mon-fri 09:00-18:00"]}
BAD_SETTINGS = [  # (calendars, the channel's options, rules) → the one line doctor prints
    ({"support": GOOD_CALENDAR}, {"calendar": "support", "ack": {"away": "Hi {nom}"}}, [],
     "channels[acme-facebook].ack.away.default: unknown placeholder {nom} (use {first_name}, {promise}, {ticket})"),
    ({"support": {**GOOD_CALENDAR, "hours": ["mon-fri 9-18"]}}, {}, [],
     "calendars.support.hours: 'mon-fri 9-18' is not an interval like 'mon-fri 09:00-18:00'"),
    ({"support": {**GOOD_CALENDAR, "timezone": "Europe/Atlantis"}}, {}, [],
     "calendars.support.timezone: 'Europe/Atlantis' is not a known time zone (use an IANA name such as Europe/Berlin)"),
    ({"support": GOOD_CALENDAR}, {"calendar": "suport"}, [],
     "channels[acme-facebook].calendar: no calendar 'suport' ([calendars.<name>]: support)"),
    ({"support": GOOD_CALENDAR}, {}, [{"name": "vip", "then": {"calendar": "vip"}}],
     "rules[vip].then.calendar: no calendar 'vip' ([calendars.<name>]: support)"),
    ({}, {}, [{"name": "vip", "then": {"ack": {"instant": "Hi {first_name!z}"}}}],
     "rules[vip].then.ack.instant.default: Unknown conversion specifier z"),
]  # fmt: skip


@pytest.mark.parametrize(("calendars", "options", "rules", "line"), BAD_SETTINGS)
def test_a_bad_calendar_template_or_reference_fails_doctor_with_one_line_naming_the_key(
    tmp_path: Path, calendars: dict[str, Any], options: dict[str, Any], rules: list[dict[str, Any]], line: str
) -> None:
    raw = raw_config(database_url=f"sqlite:///{tmp_path}/s.db")
    raw["channels"][0].update(options)
    raw.update({"calendars": calendars, "rules": rules})
    (tmp_path / "socialdesk.toml").write_text(to_toml(raw))
    run = CliRunner().invoke(cli.main, ["doctor", "--config", str(tmp_path / "socialdesk.toml")])  # in-process: fast
    assert (run.exit_code, run.stdout, run.stderr) == (cli.EX_CONFIG, "", f"Error: configuration: {line}\n")


def test_a_bad_calendar_stops_doctor_and_the_worker_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "socialdesk.toml"
    bad = '\n[calendars.support]\ntimezone = "Europe/Berlin"\nhours = ["mon-fri 09:00-18:00", "fri 17:00-20:00"]\n'
    config.write_text(to_toml(raw_config(database_url=f"sqlite:///{tmp_path}/s.db")) + bad)
    for command in ("doctor", "worker"):
        run = socialdesk(command, "--config", str(config), timeout=30)
        assert run.returncode == cli.EX_CONFIG and run.stdout == ""
        assert (
            run.stderr
            == "Error: configuration: calendars.support.hours: 'fri 09:00-18:00' overlaps 'fri 17:00-20:00'\n"
        )


def test_an_answer_not_shaped_as_documented_keeps_the_last_copy(zendesk: ZendeskSimulator) -> None:
    store = Store.from_url("sqlite://")
    helpdesk = ZendeskHelpdesk(url=zendesk.url, email=ZD_EMAIL, api_token=ZD_TOKEN, timeout=5)
    zendesk.add_schedule("Support EU", "Berlin", WEEKDAYS)
    assert schedules.refresh(helpdesk, store, NOW)
    zendesk.inject(Fault(200, method="GET", path_prefix="/api/v2/business_hours", body={"schedules": [{"name": "x"}]}))
    assert not schedules.refresh(helpdesk, store, NOW + timedelta(minutes=15))
    copy = schedules.stored(store)
    assert copy.error == "unexpected answer from the helpdesk (KeyError: 'id')" and copy.read_at == NOW
