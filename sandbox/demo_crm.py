"""The demo's Salesforce step: ``sync-contacts``, then a known customer's message lands on their synced user
with the CRM's fields filled and their Messenger identity attached (:mod:`bridge.joins`); a stranger gets a
social user.

The Salesforce simulator runs beside the helpdesk's; the helpdesk simulator gets the custom fields the
``[salesforce]`` table maps (:data:`TICKET_FIELDS`, :data:`USER_FIELDS`) before the bridge starts. A new
thread costs two helpdesk calls (the user's, the ticket's); a join costs two on Zendesk (the identity on the user
the sync made and remembered, with the CRM's user fields written by the sync; the ticket) and three on Freshdesk
(the read of the synced contact, one write, the ticket), once per identity (:data:`JOINED_CALLS`), counted in the
simulator's log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge import sync
from bridge.registry import build_runtime
from sandbox.stack import PAGE_ID, Stack

Echo = Callable[[str], None]
Check = tuple[bool, str]

#: CRM attribute → label of the helpdesk field made for it (Zendesk numbers it, Freshdesk names it cf_...).
TICKET_FIELDS = {"account_name": "crm account", "owner_name": "crm owner", "account_type": "crm tier",
                 "open_cases": "crm open cases", "url": "crm record"}  # fmt: skip
USER_FIELDS = {"account_name": "crm_account"}
#: a joined customer's first message: Zendesk, the identity on the synced user, the ticket; Freshdesk, the synced
#: contact read by its key, one write with the CRM's fields and the identity, the ticket
JOINED_CALLS = {"zendesk": 2, "freshdesk": 3}
KNOWN_PSID, KNOWN_TEXT = "7700456", "My espresso machine order is late again."
STRANGER_PSID, STRANGER_TEXT = "7700789", "Hello, do you sell gift cards?"


def prepare(stack: Stack) -> dict[str, Any]:
    """The ``[salesforce]`` options, with the helpdesk fields made for them (before the stack starts)."""
    sim = stack.helpdesk
    return {
        "vip_field": "account_type",
        "vip_values": ["Enterprise"],
        "ticket_fields": {source: sim.add_ticket_field(label) for source, label in TICKET_FIELDS.items()},
        "user_fields": {source: sim.add_user_field(key) for source, key in USER_FIELDS.items()},
    }


def play(stack: Stack, echo: Echo, step: int) -> list[Check]:
    """A known customer's message and a stranger's; the checks the summary shows."""
    sf = stack.salesforce
    assert sf is not None
    echo(f"\n{step}. Salesforce: the CRM's answer on the ticket and the user, in the calls the bridge makes anyway")
    account = sf.add_account("Initech", Type="Enterprise", Industry="Software")
    contact = sf.add_contact("Peter Gibbons", Email="peter@initech.example", AccountId=account, Title="Engineer")
    sf.add_case(contact_id=contact)
    sf.add_persona(provider="Facebook", external_id=KNOWN_PSID, parent_id=contact, name="peter")
    echo(f"   Salesforce knows Peter Gibbons (Contact {contact}, Initech, Enterprise) by his Messenger id")
    summary = sync.sync_contacts(build_runtime(stack.config, store=stack.store))
    synced = next((u for u in stack.helpdesk.users if u.get("external_id") == f"salesforce:{contact}"), {})
    echo(f"   socialdesk sync-contacts: {summary.created} user(s) created; Peter is user {synced.get('id')}")
    checks = [_known(stack, *_new_thread(stack, KNOWN_PSID, KNOWN_TEXT, echo), echo, synced.get("id"))]
    return [*checks, _stranger(stack, *_new_thread(stack, STRANGER_PSID, STRANGER_TEXT, echo), echo)]


def _new_thread(stack: Stack, psid: str, text: str, echo: Echo) -> tuple[dict[str, Any] | None, list[str]]:
    """The ticket a Messenger message opened, and the helpdesk calls it cost."""
    stack.wait_for(stack.idle, timeout=20)
    known, mark = {t["id"] for t in stack.helpdesk.tickets}, len(stack.helpdesk.calls)
    stack.meta.customer_message(PAGE_ID, psid=psid, text=text)
    echo(f"   Messenger user {psid} writes: {text!r}")
    try:
        ticket = stack.wait_for(lambda: next((t for t in stack.helpdesk.tickets if t["id"] not in known), None))
        stack.wait_for(stack.idle, timeout=20)
    except TimeoutError:
        return None, []
    return ticket, [f"{c.method} {c.path}" for c in stack.helpdesk.calls[mark:] if c.path.startswith("/api/v2/")]


def _known(stack: Stack, ticket: dict[str, Any] | None, calls: list[str], echo: Echo, synced: object) -> Check:
    if ticket is None:
        return False, "Salesforce: the known customer's ticket did not arrive within 30 s"
    values = {source: field_value(ticket, stack, target) for source, target in _mapped(stack, "ticket_fields").items()}
    user = stack.helpdesk.user(ticket["requester_id"])
    summary = str(user.get("notes" if stack.helpdesk_name == "zendesk" else "description") or "")
    echo(f"   ticket #{ticket['id']} ({len(calls)} helpdesk calls: {', '.join(calls)})")
    echo("      fields: " + ", ".join(f"{k} = {v}" for k, v in values.items() if v))
    echo(f"      requester {user.get('name')}, notes: {summary.splitlines()[0] if summary else '-'}")
    joined = ticket["requester_id"] == synced
    echo(f"      the synced user {synced}{' (Messenger identity attached)' if joined else ': NOT the requester'}")
    noted = [c for c in stack.helpdesk.comments(ticket["id"]) if not c["public"]]
    crm_account = _user_field(stack, user, _mapped(stack, "user_fields")["account_name"])
    echo(f"      user field crm_account = {crm_account}")
    ok = values.get("account_name") == "Initech" and crm_account == "Initech" and not noted and joined
    ok = ok and len(calls) <= JOINED_CALLS[stack.helpdesk_name]
    return ok, "Salesforce: the known customer's message lands on their synced user, the CRM fields filled, no note"


def _stranger(stack: Stack, ticket: dict[str, Any] | None, calls: list[str], echo: Echo) -> Check:
    if ticket is None:
        return False, "Salesforce: the stranger's ticket did not arrive within 30 s"
    user = stack.helpdesk.user(ticket["requester_id"])
    echo(f"   ticket #{ticket['id']} ({len(calls)} helpdesk calls): requester {user.get('external_id')}, no CRM fields")
    ok = user.get("external_id") == f"facebook:{STRANGER_PSID}" and len(calls) <= 2
    return ok, "Salesforce: a customer the CRM does not know gets a social user of their own"


def _user_field(stack: Stack, user: dict[str, Any], name: str) -> object:
    fields = user.get("user_fields") if stack.helpdesk_name == "zendesk" else user.get("custom_fields")
    return (fields or {}).get(name) if isinstance(fields, dict) else None


def _mapped(stack: Stack, table: str) -> dict[str, str]:
    return dict((stack.salesforce_options or {}).get(table) or {})


def field_value(record: dict[str, Any], stack: Stack, name: str) -> object:
    """A custom field's value on a ticket, by Zendesk id or Freshdesk name."""
    fields = record.get("custom_fields")
    if isinstance(fields, dict):
        return fields.get(name)
    return next((f["value"] for f in fields or [] if str(f["id"]) == name), None)
