"""``socialdesk doctor``: is everything this bridge depends on reachable and authorised? One line each.

Each check makes at most one cheap call. The result is a list of (ok, what, detail); the CLI prints it
as ✓/✗ and exits non-zero when anything failed, so it can run in a deploy pipeline or at 3 a.m.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from functools import partial
from typing import cast

import requests

from bridge import enrich_fields, logs, revocations, schedules, transport
from bridge.calendarbook import CalendarConfig
from bridge.config import ChannelConfig, Config
from bridge.errors import BridgeError
from bridge.holding import Approvers
from bridge.ports import CustomFields, Helpdesk, SetupCheck
from bridge.queue import make_huey, waiting
from bridge.registry import build_channel, build_crm, build_helpdesk
from bridge.routing import Triage
from bridge.setup import ZENDESK_SECRET_SETTING, ZENDESK_USER_SECRET_SETTING, zendesk_setup_state
from bridge.store import Store, migrates_itself


@dataclass(frozen=True)
class Check:
    ok: bool
    what: str
    detail: str
    skipped: bool = False  # not run, for want of a setting the detail names: no failure, but not silent either

    @property
    def mark(self) -> str:
        return "-" if self.skipped else "✓" if self.ok else "✗"


def run_checks(config: Config) -> list[Check]:
    return list(_checks(config))


def _checks(config: Config) -> Iterator[Check]:
    yield Check(True, "configuration", f"{config.source}: {len(config.channels)} channel(s), {config.helpdesk}")
    store = yield from _database(config)  # None when down or outdated: the checks that need no store still run
    yield _check("queue", lambda: _queue(config.queue_url))
    yield from _helpdesk(config)
    yield from _calendars(config, store)
    if config.helpdesk == "zendesk":
        if store is not None:
            yield _check("zendesk webhook secret", lambda: _zendesk_secret(config, store))
        if config.public_url:
            yield _check("zendesk setup", lambda: zendesk_setup_state(config))
    for channel in config.channels:
        yield _check(f"channel {channel.name} ({channel.platform})", _channel_probe(channel, store))
    if config.salesforce is not None:
        yield _check("salesforce", lambda: _salesforce(config))
    if config.public_url:
        yield _check("webhooks reachable", lambda: _reachable(config.public_url or ""))
    else:
        yield _without_public_url(config)
    if store is not None:
        yield _check("dead letters", lambda: _dead_letters(store))


def _without_public_url(config: Config) -> Check:
    """The checks that need the bridge's public address, named as left out: without this line a doctor with
    nothing but ✓ read as "the helpdesk's webhooks are in place and reach the bridge", which it never checked."""
    left_out = ["zendesk setup"] if config.helpdesk == "zendesk" else []
    names = " and ".join([*left_out, "webhooks reachable"])
    detail = f"not set, so {names} not checked: set bridge.public_url to the https address platforms reach"
    return Check(True, "bridge.public_url", detail, skipped=True)


def _database(config: Config) -> Generator[Check, None, Store | None]:
    """Reach the database; the embedded store migrates itself here as ``serve`` and ``worker`` do (a fresh
    install has no tables yet), while at scale an outdated schema is reported with the command to run."""
    opened = _try("database", lambda: _open(config.database_url))
    if isinstance(opened, Check):
        yield opened
        return None
    store, detail = cast(tuple[Store, str], opened)
    yield Check(True, "database", detail)
    schema = _check("database schema", lambda: _schema(store))
    yield schema
    return store if schema.ok else None


def _open(url: str) -> tuple[Store, str]:
    store = Store.from_url(url, migrate=False)
    where, before = logs.masked_url(store.engine.url), store.revision()
    if migrates_itself(url) and before is None:
        store.upgrade()
        return store, f"{where} (new: schema created)"
    return store, where


def _helpdesk(config: Config) -> Iterator[Check]:
    built = _try(f"{config.helpdesk} credentials", lambda: build_helpdesk(config))
    if isinstance(built, Check):
        yield built
        return
    helpdesk = cast(Helpdesk, built)
    yield _check(f"{config.helpdesk} credentials", lambda: f"authenticated as {helpdesk.ping()}")
    if isinstance(helpdesk, SetupCheck):
        yield _check(f"{config.helpdesk} setup", helpdesk.check_setup)
    if isinstance(helpdesk, CustomFields) and enrich_fields.wanted(config):  # the CRM's, rules', quick answers' fields
        yield _check("mapped fields", lambda: enrich_fields.check_mapping(config, *helpdesk.field_names()))
    if config.rules:  # their groups, assignees and brands exist in the helpdesk
        yield _check("rules", lambda: Triage(config.rules).prepare(helpdesk))
    if config.approvals.agents or config.approvals.approvers:  # the agents and approvers exist in the helpdesk
        yield _check("approvals", lambda: Approvers(config.approvals).prepare(helpdesk))


def _calendars(config: Config, store: Store | None) -> Iterator[Check]:
    """Each calendar's hours and whether it is open now; for ``schedule = "helpdesk"``, the worker's copy
    (how old; the last read failed?) and whether the helpdesk answers now."""
    if not config.calendars:
        return
    now = schedules.utcnow()
    copy = schedules.stored(store) if store is not None else schedules.Copy((), None)
    for name, calendar in config.calendars.items():
        yield _check(f"calendar {name}", partial(schedules.report, calendar, copy, now))
    if any(c.from_helpdesk for c in config.calendars.values()):
        yield _check("helpdesk schedule", lambda: _schedules_now(config))


def _schedules_now(config: Config) -> str:
    helpdesk = build_helpdesk(config)
    if not isinstance(helpdesk, schedules.BusinessSchedules):
        raise BridgeError(f"{config.helpdesk} has no business-hours schedules")
    found = [s.name for s in helpdesk.business_schedules()]
    for name, calendar in config.calendars.items():
        missing = _missing_schedule(calendar, found, config.helpdesk) if calendar.from_helpdesk else None
        if missing:
            raise BridgeError(f"calendars.{name}{missing}")
    return f"readable now: {', '.join(map(repr, found))}"


def _missing_schedule(calendar: CalendarConfig, found: list[str], helpdesk: str) -> str | None:
    """Why the worker's read would find no schedule for ``calendar``: said now, not only after that read."""
    if not found:
        return f": {helpdesk} keeps no business-hours schedule"
    if calendar.schedule_name is not None and calendar.schedule_name not in found:
        has = ", ".join(map(repr, found))
        return f".schedule_name: {helpdesk} has no schedule named {calendar.schedule_name!r} (it has {has})"
    return None


def _channel_probe(channel: ChannelConfig, store: Store | None) -> Callable[[], str]:
    def probe() -> str:
        built = build_channel(channel)
        # the platform told us (X's user_event); unknown while the store is down
        when = revocations.revoked_at(store, channel, built.account_id) if store is not None else None
        if when is not None:
            raise BridgeError(f"the user revoked the app's access at {when}; it can no longer reply")
        return built.ping()

    return probe


def _check(what: str, probe: Callable[[], str]) -> Check:
    result = _try(what, probe)
    return result if isinstance(result, Check) else Check(True, what, str(result))


def _try(what: str, probe: Callable[[], object]) -> object:
    try:
        return probe()
    except BridgeError as e:
        return Check(False, what, str(e))
    except Exception as e:  # doctor reports; it must not crash on the thing it diagnoses
        return Check(False, what, f"{type(e).__name__}: {str(e)[:200]}")


def _schema(store: Store) -> str:
    store.require_current()
    return f"revision {store.revision()}"


def _queue(url: str) -> str:
    huey = make_huey(url)
    return f"{type(huey).__name__}, {waiting(huey)} task(s) waiting"


def _zendesk_secret(config: Config, store: Store) -> str:
    """The ticket webhook's secret (configured or stored) and the user-events webhook's, which only ``setup``
    stores: without it every user event is refused 401, and a merged or deleted user keeps taking tickets."""
    stored = store.settings_of((ZENDESK_SECRET_SETTING, ZENDESK_USER_SECRET_SETTING))
    if not (config.helpdesk_section.secret("webhook_secret") or ZENDESK_SECRET_SETTING in stored):
        raise BridgeError("missing: set zendesk.webhook_secret or run `socialdesk setup zendesk`")
    if ZENDESK_USER_SECRET_SETTING not in stored:
        raise BridgeError("the user-events webhook's is missing (its user events are refused 401): run "
                          "`socialdesk setup zendesk`")  # fmt: skip
    return "present (not shown)"


def _salesforce(config: Config) -> str:
    crm = build_crm(config)
    assert crm is not None
    who = crm.ping()
    usage = crm.usage()
    if crm.over_budget():
        raise BridgeError(f"daily API usage {usage} is past the budget: enrichment runs from the cache only")
    return f"{who}; API usage {usage[0]}/{usage[1]}" if usage else who


def _reachable(public_url: str) -> str:
    url = public_url.rstrip("/") + "/healthz"
    try:
        response = requests.get(url, timeout=10)
    except requests.RequestException as e:
        raise BridgeError(f"GET {url}: {transport.cause(e)}") from e
    if response.status_code != 200:
        raise BridgeError(f"{url} answered {response.status_code}")
    return f"{public_url} answers"


def _dead_letters(store: Store) -> str:
    count = len(store.open_dead_letters())
    if count:
        raise BridgeError(f"{count} event(s) failed for good: `socialdesk dead-letters`, then `socialdesk replay`")
    return "none"
