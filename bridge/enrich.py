"""Who the customer is: the CRM's record on every new ticket, never holding the ticket back.

* One lookup per social identity per TTL (``[salesforce] cache_ttl``, default 1 h), cached in the store,
  so a chatty customer costs one Salesforce call, and follow-ups none.
* Past the configured share of the org's daily API limit the CRM is not called at all: the cache
  answers, and the log says so (``socialdesk doctor`` too).
* The CRM down or over budget: the ticket is created anyway, and the thread is marked for a later
  enrichment, which the dispatcher retries with backoff and which adds the note when it succeeds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge import messages
from bridge.config import DEFAULT_CACHE_TTL
from bridge.errors import BridgeError, UnknownOutcome
from bridge.events import SocialEvent
from bridge.ports import TicketFields
from bridge.registry import Runtime
from bridge.rows import CrmCached, Enrichment, ThreadRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lookup:
    """``found`` with fields, ``none`` (the CRM knows nobody), or ``unavailable`` (try again later)."""

    outcome: str
    fields: dict[str, str]
    reason: str = ""
    fetched: bool = False  # the CRM answered just now: the store's cache is to be written (:func:`to_cache`)


def look_up(rt: Runtime, event: SocialEvent) -> Lookup | None:
    """The customer's CRM record for a new thread; None when no CRM is configured."""
    if rt.crm is None:
        return None
    key = cache_key(event)
    lookup = look_up_from(rt, event, rt.store.crm_cached(key, max_age=_ttl(rt)))
    if lookup is not None and lookup.fetched:
        rt.store.cache_crm(key, to_cache(lookup))
    return lookup


def cache_key(event: SocialEvent) -> str:
    """The ``crm_cache`` key of the event's author: platform, author id."""
    return f"{event.platform}:{event.author.id}"


def to_cache(lookup: Lookup) -> dict[str, str] | None:
    """What the store caches of a lookup the CRM answered (None: it knew nobody)."""
    return lookup.fields if lookup.outcome == "found" else None


def look_up_from(rt: Runtime, event: SocialEvent, cached: dict[str, str] | None) -> Lookup | None:
    """:func:`look_up`, the store's fresh record (``cached``: ``{}`` when the CRM knew nobody) read already; the
    CRM's answer is for the caller to cache (``fetched``), with the rest of what it records."""
    if rt.crm is None:
        return None
    crm, key = rt.crm, cache_key(event)
    if cached is not None:
        return Lookup("found", cached) if cached else Lookup("none", {})
    if crm.over_budget():
        log.warning("salesforce: daily API usage %s is past the budget; enrichment from the cache only", crm.usage())
        return Lookup("unavailable", {}, "the org's daily API budget for socialdesk is used up")
    try:
        # one attempt: the ticket must not wait for the CRM, and a later enrichment is owed anyway
        record = rt.policy.call(crm.name, lambda: crm.lookup(platform=event.platform, author=event.author), attempts=1)
    except BridgeError as e:
        log.warning("salesforce lookup for %s failed: %s", messages.key_shown(key), e)
        return Lookup("unavailable", {}, e.message)
    if record is None:
        return Lookup("none", {}, fetched=True)
    return Lookup("found", record.as_fields(), fetched=True)


def fresh(rt: Runtime, cached: CrmCached | None) -> dict[str, str] | None:
    """The cached record if younger than ``[salesforce] cache_ttl`` (default 1 h), else None."""
    if cached is None or cached.fetched_at < time.time() - _ttl(rt):
        return None
    return cached.record


def cached_lookup(rt: Runtime, cached: CrmCached | None) -> Lookup | None:
    """The cached record as a lookup, however old (what rules on a follow-up read: no CRM call)."""
    if rt.crm is None or cached is None:
        return None
    return Lookup("found", cached.record) if cached.record else Lookup("none", {})


def _ttl(rt: Runtime) -> float:
    return float(rt.config.salesforce.get("cache_ttl")) if rt.config.salesforce else DEFAULT_CACHE_TTL


def tags(rt: Runtime, lookup: Lookup | None) -> tuple[str, ...]:
    """``vip`` when the configured field of the record has one of the configured values."""
    section = rt.config.salesforce
    if lookup is None or section is None or lookup.outcome != "found":
        return ()
    field = str(section.get("vip_field"))
    values = {str(v).lower() for v in section.get("vip_values")}
    return ("vip",) if values and lookup.fields.get(field, "").lower() in values else ()


def known_name(lookup: Lookup | None) -> str | None:
    """The CRM's name for the customer, for a requester the platform only knows by an id."""
    return lookup.fields.get("name") if lookup is not None and lookup.outcome == "found" else None


def note(lookup: Lookup) -> str:
    """The internal note that tells the agent who this is (or that nobody matched)."""
    if lookup.outcome == "none":
        return "Salesforce: no Contact, Lead or social persona matches this customer."
    f = lookup.fields
    who = f.get("name") or f.get("id", "?")
    lines = [f"Salesforce {f.get('object_type', 'record')}: {who}" + (f" — {f['title']}" if f.get("title") else "")]
    if f.get("account_name"):
        details = ", ".join(f[k] for k in ("account_type", "account_industry") if f.get(k))
        lines.append(f"Account: {f['account_name']}" + (f" ({details})" if details else ""))
    if f.get("account_annual_revenue"):
        lines.append(f"Annual revenue: {f['account_annual_revenue']}")
    for label, key in (("Email", "email"), ("Phone", "phone"), ("Owner", "owner_name")):
        if f.get(key):
            lines.append(f"{label}: {f[key]}")
    lines.append(f"Open cases: {f.get('open_cases', '0')}")
    lines.append(f"Matched by {f.get('matched_by', '?')}. Open in Salesforce: {f.get('url', '')}")
    return "\n".join(lines)


def retry_base(rt: Runtime) -> float:
    """Seconds before the first later enrichment (``[salesforce] retry_seconds``, default 60); doubles after."""
    return float(rt.config.salesforce.get("retry_seconds")) if rt.config.salesforce else 60.0


def notes_tickets(rt: Runtime, lookup: Lookup | None) -> bool:
    """Whether the new ticket gets the CRM's note: with ``[salesforce] crm_note = true`` once the CRM answered
    (otherwise its answer is in the create call's fields and the user's, :mod:`bridge.enrich_fields`)."""
    section = rt.config.salesforce
    answered = lookup is not None and lookup.outcome != "unavailable"
    return answered and section is not None and bool(section.get("crm_note"))


def owed(rt: Runtime, event: SocialEvent, lookup: Lookup | None) -> dict[str, Any]:
    """The thread's columns saying that the ticket about to be created is owed its CRM note: with
    ``crm_note = true``, or when the CRM could not answer in time (none without a CRM). Recorded before the
    create and settled by :func:`write_note`, so that neither the CRM down, nor the helpdesk refusing the
    note, nor a crash between the ticket and its note loses it."""
    if lookup is None or (lookup.outcome != "unavailable" and not notes_tickets(rt, lookup)):
        return {}
    return {
        "enrichment": Enrichment.PENDING,
        "enrichment_event": event.to_json(),
        "enrichment_attempts": 0,
        "enrichment_due_at": time.time() + retry_base(rt),
    }


def write_note(
    rt: Runtime, thread_key: str, ticket_id: str, lookup: Lookup, *, also: str = "", late: bool = False
) -> None:
    """The CRM's note on the ticket (followed by ``also``: the rules that fired); the thread owes nothing more.
    ``late``: the ticket was created before the CRM answered, so its mapped fields are set with the note
    (one Zendesk update; a Freshdesk PUT, then the note)."""
    rt.store.update_thread(thread_key, **send_note(rt, ticket_id, lookup, also=also, late=late))


#: The thread's columns once its ticket has its CRM note
NOTE_WRITTEN: dict[str, Any] = {"enrichment": Enrichment.DONE, "enrichment_event": None}


def send_note(rt: Runtime, ticket_id: str, lookup: Lookup, *, also: str = "", late: bool = False) -> dict[str, Any]:
    """:func:`write_note`'s helpdesk call; returns the thread's columns to record (:data:`NOTE_WRITTEN`), for the
    caller's own transaction (a crash before it: :func:`retry_thread` finds the note and records it)."""
    body, hd = note(lookup) + (f"\n\n{also}" if also else ""), rt.helpdesk
    fields = mapped(rt, lookup, "ticket_fields") if late else {}
    if fields and isinstance(hd, TicketFields):
        rt.policy.call(hd.name, lambda: hd.set_fields(ticket_id, fields, note=body))
    else:
        rt.policy.call(hd.name, lambda: hd.add_internal_note(ticket_id, body))
    return NOTE_WRITTEN


FIELD_MAX = 255  # a single-line text field's length (Freshdesk refuses a longer value; Zendesk's is alike)


def mapped(rt: Runtime, lookup: Lookup | None, table: str) -> dict[str, str]:
    """``[salesforce] <table>`` (CRM attribute → helpdesk field) filled from a found record; empty ones left out."""
    section = rt.config.salesforce
    if lookup is None or section is None or lookup.outcome != "found":
        return {}
    return filled(section.get(table) or {}, lookup.fields)


def filled(mapping: Mapping[str, str], values: Mapping[str, str]) -> dict[str, str]:
    """A mapping (CRM attribute → helpdesk field) filled from a record's ``values``; empty ones left out."""
    return {str(target): clip(values[source]) for source, target in mapping.items() if values.get(source)}


def clip(value: str) -> str:
    """A value cut to a single-line text field's length."""
    return value if len(value) <= FIELD_MAX else value[: FIELD_MAX - 1] + "…"


def retry_thread(rt: Runtime, thread_key: str) -> bool:
    """A later enrichment for a thread whose ticket was created without its note; True when settled."""
    thread = rt.store.thread(thread_key)
    if thread is None or thread.ticket_id is None or thread.enrichment != Enrichment.PENDING:
        return True
    if thread.enrichment_event is None:  # never so: the event is recorded with "pending"
        return True
    ticket_id = str(thread.ticket_id)
    lookup = look_up(rt, SocialEvent.from_json(thread.enrichment_event))
    if lookup is None:  # the CRM was taken out of the configuration since
        rt.store.update_thread(thread_key, enrichment=None, enrichment_event=None)
        return True
    if lookup.outcome == "unavailable":
        return _later(rt, thread, lookup.reason)
    hd, first_line = rt.helpdesk, note(lookup).splitlines()[0]
    try:
        if rt.policy.call(hd.name, lambda: hd.has_comment_containing(ticket_id, first_line)):
            rt.store.update_thread(
                thread_key, enrichment=Enrichment.DONE, enrichment_event=None
            )  # a worker died after it
        else:
            write_note(rt, thread_key, ticket_id, lookup, late=True)
    except BridgeError as e:
        if e.retryable or isinstance(e, UnknownOutcome):  # maybe written: the next try looks for it first, above
            return _later(rt, thread, str(e))
        log.error("the CRM note for ticket %s cannot be written: %s", ticket_id, e)
        rt.store.update_thread(thread_key, enrichment=Enrichment.FAILED, enrichment_event=None)
    return True


def _later(rt: Runtime, thread: ThreadRow, reason: str) -> bool:
    attempts = thread.enrichment_attempts + 1
    delay = min(3600.0, retry_base(rt) * 2 ** min(attempts, 6))
    log.info("the CRM note for ticket %s is still owed (next try in %.0fs): %s", thread.ticket_id, delay, reason)
    rt.store.update_thread(thread.key, enrichment_attempts=attempts, enrichment_due_at=time.time() + delay)
    return False
