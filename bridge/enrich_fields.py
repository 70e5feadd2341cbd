"""The CRM's answer where the helpdesk shows it, in the calls the bridge makes anyway (no note of its own).

A new thread costs two helpdesk calls, the user's and the ticket's, and the CRM's answer rides on both:

* ``[salesforce] ticket_fields``: CRM attribute → ticket field (Zendesk id, Freshdesk ``cf_`` name), in the
  create call: the account, its owner, its tier, the open cases, the record's URL;
* ``[salesforce] user_fields``: CRM attribute → user field (Zendesk key, Freshdesk contact field name), and
  ``user_notes`` (default on): the CRM's summary in the user's notes (Zendesk) or the contact's description
  (Freshdesk), in the call that makes or updates the requester;
* ``[bridge] rules_field``: the triage rules' explanation in a ticket field instead of a note, carried by
  the ticket's routing (:class:`bridge.routing.Triage`) in the create call and in each update a rule fired on.

``[salesforce] crm_note = true`` adds today's internal note with the summary (one more call per new
thread). A CRM that could not answer in time leaves the ticket owed a note, written when it answers
(:func:`bridge.enrich.retry_thread`), with the mapped ticket fields set in the same update where the
helpdesk allows it; the user's notes and fields are not rewritten then.
"""

from __future__ import annotations

from typing import Literal

from bridge import enrich, triage
from bridge.config import Config
from bridge.errors import BridgeError
from bridge.events import UserProfile
from bridge.ports import CustomFields, Helpdesk, SetupCheck
from bridge.registry import Runtime
from bridge.rules import Decision


def crm_profile(rt: Runtime, lookup: enrich.Lookup | None) -> UserProfile | None:
    """The CRM's notes and fields for the requester's user call; None when there is nothing to write."""
    section = rt.config.salesforce
    if lookup is None or section is None or lookup.outcome == "unavailable":
        return None
    notes = enrich.note(lookup) if section.get("user_notes") else None
    fields = enrich.mapped(rt, lookup, "user_fields")
    return UserProfile(notes=notes, fields=fields) if notes or fields else None


def crm_ticket_fields(rt: Runtime, lookup: enrich.Lookup | None) -> dict[str, str]:
    """The create call's CRM fields (``[salesforce] ticket_fields``); the rules' reasons ride on the ticket's
    routing (:class:`bridge.routing.Triage`), in the create and in every update a rule fired on."""
    return enrich.mapped(rt, lookup, "ticket_fields")


def rules_field(config: Config) -> str | None:
    """``[bridge] rules_field``: where the rules' explanation goes (None: in a note, as before)."""
    value = config.bridge.get("rules_field")
    return str(value) if value else None


def rules_note(rt: Runtime, decision: Decision) -> str:
    """The rules' explanation for a note: "" when none fired or when it went in the ticket's field."""
    return "" if rules_field(rt.config) else triage.note(decision)


# -- socialdesk doctor ---------------------------------------------------------------------------------------------


def check_mapping(config: Config, ticket: set[str] | None, user: set[str] | None) -> str:
    """``doctor``: every mapped field exists in the helpdesk (``ticket``/``user``: its custom fields' ids or
    names; None where it cannot tell). Raises naming every config key whose field is missing, one line each (as
    the rules' check does, so that one run says all; the worker's start joins the lines)."""
    fields, known = wanted(config), {"ticket": ticket, "user": user}
    missing = [f"{key}: the helpdesk has no {kind} field {target!r}" for key, target, kind in fields
               if (names := known[kind]) is not None and target not in names]  # fmt: skip
    if missing:
        raise BridgeError("\n".join(missing))
    return f"{len(fields)} mapped field(s) present: {', '.join(target for _, target, _ in fields)}"


def check_writes(config: Config, helpdesk: Helpdesk) -> str:
    """The worker's start: the fields a ticket or user write carries exist, by the checks ``doctor`` runs (the
    connector's own, like Freshdesk's ``thread_key_field``, and the mapped ones) in one or two GETs. A missing one
    is a mistake in the config, refused at start as a rule's unknown group is: Freshdesk answers every write that
    carries it with a 400 (each new ticket a dead letter), Zendesk drops the value without a word (the CRM's or
    the rules' field empty on every ticket). Raises naming the config key of each missing field."""
    ticket: set[str] | None = None
    said = []
    if isinstance(helpdesk, CustomFields) and wanted(config):
        ticket, user = helpdesk.field_names()
        said.append(check_mapping(config, ticket, user))
    if isinstance(helpdesk, SetupCheck):
        said.insert(0, helpdesk.check_fields(ticket))
    return "; ".join(said) or "no custom field written"


FieldKind = Literal["ticket", "user"]


def wanted(config: Config) -> list[tuple[str, str, FieldKind]]:
    """(config key, helpdesk field, its kind) for every mapped field: the CRM's, the rules', the quick answers'."""
    section = config.salesforce
    wanted: list[tuple[str, str, FieldKind]] = [("bridge.rules_field", f, "ticket") for f in [rules_field(config)] if f]
    tables: tuple[tuple[str, FieldKind], ...] = (("ticket_fields", "ticket"), ("user_fields", "user"))
    for table, kind in tables:
        mapping = section.get(table) if section is not None else {}
        wanted += [(f"salesforce.{table}.{source}", str(target), kind) for source, target in mapping.items()]
    for channel, quick in config.quick.items():  # what a quick answer asks for goes in a ticket field
        asks = [(a.name, a.ask.field) for a in quick.answers if a.ask is not None]
        wanted += [(f"channels[{channel}].quick.answers[{name}].ask.field", f, "ticket") for name, f in asks]
    return wanted
