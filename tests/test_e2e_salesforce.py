"""Salesforce enrichment end to end: Graph API → bridge → Salesforce simulator + helpdesk simulator.

Runs against both helpdesks, with the real simple-salesforce over sockets.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.base import Fault
from sandbox.stack import HELPDESKS, PAGE_ID, Stack
from tests.support import notes, reply_and_notify, settle, tickets

VIP = {"vip_field": "account_type", "vip_values": ["Enterprise"], "retry_seconds": 1}
ACCOUNT_FIELD = {"zendesk": "360000000777", "freshdesk": "cf_social_channel"}  # a ticket field in each simulator


@pytest.fixture(params=HELPDESKS)
def stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    # crm_note: the CRM's answer as a note too, as before there were fields (test_e2e_crm_fields: without)
    options = {**VIP, "crm_note": True, "ticket_fields": {"account_name": ACCOUNT_FIELD[request.param]}}
    with Stack(tmp_path, helpdesk=request.param, salesforce=options, bridge_options={"redispatch_after": 2}) as running:
        yield running


def field_value(stack: Stack, ticket: dict[str, Any], field: str) -> object:
    fields = ticket["custom_fields"]
    if isinstance(fields, dict):  # Freshdesk: by name
        return fields.get(field)
    return next((f["value"] for f in fields if str(f["id"]) == field), None)


def salesforce_calls(stack: Stack) -> int:
    assert stack.salesforce is not None
    return len([c for c in stack.salesforce.calls if "/services/data/" in c.path])


def enrichment(stack: Stack, thread_key: str) -> str | None:
    """The thread's enrichment state (None before the thread exists)."""
    rows = stack.store.rows("threads", key=thread_key)
    return rows[0]["enrichment"] if rows else None


def known_customer(stack: Stack, psid: str) -> str:
    """A Contact at an Enterprise account with two open cases, linked to this PSID by a SocialPersona."""
    sf = stack.salesforce
    assert sf is not None
    account = sf.add_account("Globex", Type="Enterprise", Industry="Energy", AnnualRevenue=5_000_000)
    contact = sf.add_contact("Hank Scorpio", Email="hank@globex.example", AccountId=account, Title="CEO")
    sf.add_case(contact_id=contact)
    sf.add_case(contact_id=contact)
    sf.add_case(contact_id=contact, status="Closed")
    sf.add_persona(provider="Facebook", external_id=psid, parent_id=contact, name="hank")
    return contact


def test_known_customer_is_on_the_ticket_and_costs_one_lookup(stack: Stack) -> None:
    contact = known_customer(stack, "8001")
    stack.meta.customer_message(PAGE_ID, psid="8001", text="The doomsday device is late")
    ticket = stack.wait_for(lambda: tickets(stack) and notes(stack, tickets(stack)[0]["id"]) and tickets(stack)[0])
    [note] = notes(stack, ticket["id"])
    assert "Hank Scorpio" in note and "CEO" in note and "Globex" in note and "Enterprise" in note
    assert "Open cases: 2" in note and contact in note  # the link to the record
    assert "vip" in ticket["tags"]
    assert field_value(stack, ticket, ACCOUNT_FIELD[stack.helpdesk_name]) == "Globex"  # a mapped ticket field
    assert stack.helpdesk.user(ticket["requester_id"])["name"] == "Hank Scorpio"  # Messenger gives no name
    calls = salesforce_calls(stack)
    assert 1 <= calls <= 2

    stack.meta.customer_message(PAGE_ID, psid="8001", text="Hello??")  # a follow-up: no CRM call at all
    stack.wait_for(lambda: len(stack.helpdesk.comments(ticket["id"])) >= 3)
    settle(stack)
    assert salesforce_calls(stack) == calls


def test_nobody_found_is_said_in_one_line(stack: Stack) -> None:
    stack.meta.customer_message(PAGE_ID, psid="8002", text="hi")
    ticket = stack.wait_for(lambda: tickets(stack) and notes(stack, tickets(stack)[0]["id"]) and tickets(stack)[0])
    assert notes(stack, ticket["id"]) == ["Salesforce: no Contact, Lead or social persona matches this customer."]
    assert "vip" not in ticket["tags"]


def test_salesforce_down_never_holds_the_ticket_back(stack: Stack) -> None:
    assert stack.salesforce is not None
    known_customer(stack, "8003")
    stack.salesforce.inject(Fault(503, times=1000, path_prefix="/services/"))
    stack.meta.customer_message(PAGE_ID, psid="8003", text="urgent!")
    ticket = stack.wait_for(lambda: tickets(stack) and tickets(stack)[0])
    settle(stack)
    assert notes(stack, ticket["id"]) == []  # created at once, without the CRM
    stack.salesforce.clear_faults()  # Salesforce is back: the enrichment owed to the ticket arrives
    stack.wait_for(lambda: notes(stack, ticket["id"]), timeout=30)
    assert "Hank Scorpio" in notes(stack, ticket["id"])[0]
    stack.wait_for(lambda: stack.store.rows("threads")[0]["enrichment"] == "done")
    assert len(notes(stack, ticket["id"])) == 1


NOTE_CALL = {
    "zendesk": Fault(503, times=1000, method="PUT", path_prefix="/api/v2/tickets/"),
    "freshdesk": Fault(503, times=1000, method="POST", path_prefix="/api/v2/tickets/"),
}


def test_a_note_that_fails_after_the_ticket_is_created_still_arrives(stack: Stack) -> None:
    """The ticket is created, then the helpdesk refuses the note for a while: the customer's message is not
    held back, and the CRM's note is owed to the ticket, not forgotten (it was lost when the retried event
    found its ticket by ``external_id`` and skipped the note)."""
    known_customer(stack, "8006")
    stack.helpdesk.inject(NOTE_CALL[stack.helpdesk_name])
    stack.meta.customer_message(PAGE_ID, psid="8006", text="where is my order?")
    ticket = stack.wait_for(lambda: tickets(stack) and tickets(stack)[0])
    key = f"facebook:{PAGE_ID}:messenger:8006"
    stack.wait_for(lambda: [t for t in stack.store.rows("threads", key=key) if t["ticket_id"] is not None])
    assert notes(stack, ticket["id"]) == []
    stack.helpdesk.clear_faults()
    stack.wait_for(lambda: notes(stack, ticket["id"]), timeout=30)
    assert "Hank Scorpio" in notes(stack, ticket["id"])[0]
    stack.wait_for(lambda: enrichment(stack, key) == "done")
    settle(stack)
    assert len(notes(stack, ticket["id"])) == 1 and len(tickets(stack)) == 1


def test_an_owed_note_answered_with_a_gateways_502_after_it_was_written_is_found_not_given_up(stack: Stack) -> None:
    """The owed CRM note's later write is answered 502 once the helpdesk wrote it: unknown, so the next try looks
    for it first and finds it (it was retried within the call: two notes; and a timeout there gave the thread
    up as "failed" with its note on the ticket)."""
    known_customer(stack, "8009")
    stack.helpdesk.inject(NOTE_CALL[stack.helpdesk_name])
    stack.meta.customer_message(PAGE_ID, psid="8009", text="where is my order?")
    ticket = stack.wait_for(lambda: tickets(stack) and tickets(stack)[0])
    key = f"facebook:{PAGE_ID}:messenger:8009"
    stack.wait_for(lambda: [t for t in stack.store.rows("threads", key=key) if t["ticket_id"] is not None])
    settle(stack)
    stack.helpdesk.clear_faults()
    stack.helpdesk.lose_answer(f"/api/v2/tickets/{ticket['id']}", NOTE_CALL[stack.helpdesk_name].method or "")
    stack.wait_for(lambda: enrichment(stack, key) in ("done", "failed"), timeout=60)
    assert enrichment(stack, key) == "done"
    assert len(notes(stack, ticket["id"])) == 1 and "Hank Scorpio" in notes(stack, ticket["id"])[0]


def test_a_note_already_on_the_ticket_is_not_written_twice(stack: Stack) -> None:
    """A worker that died after writing the note and before recording it leaves the note owed: the later
    enrichment finds it on the ticket and settles without writing a second one."""
    known_customer(stack, "8007")
    stack.meta.customer_message(PAGE_ID, psid="8007", text="hello")
    key = f"facebook:{PAGE_ID}:messenger:8007"
    stack.wait_for(lambda: enrichment(stack, key) == "done")
    [ticket] = tickets(stack)
    assert len(notes(stack, ticket["id"])) == 1
    event = stack.store.rows("inbox", thread_key=key)[0]["payload"]
    stack.store.update_thread(key, enrichment="pending", enrichment_event=event, enrichment_due_at=0.0)  # the crash
    stack.wait_for(lambda: enrichment(stack, key) == "done")
    settle(stack)
    assert len(notes(stack, ticket["id"])) == 1


def test_a_note_the_helpdesk_refuses_for_good_is_given_up_visibly(stack: Stack) -> None:
    """A permanent refusal (here: the ticket is gone) is not retried for ever: the thread says "failed"."""
    known_customer(stack, "8008")
    gone = Fault(404, times=1000, method=NOTE_CALL[stack.helpdesk_name].method, path_prefix="/api/v2/tickets/")
    stack.helpdesk.inject(gone)
    stack.meta.customer_message(PAGE_ID, psid="8008", text="hello")
    key = f"facebook:{PAGE_ID}:messenger:8008"
    stack.wait_for(lambda: enrichment(stack, key) == "failed", timeout=30)
    assert tickets(stack) and notes(stack, tickets(stack)[0]["id"]) == []
    assert stack.store.rows("inbox", thread_key=key)[0]["status"] == "done"  # the message itself was applied


def test_over_budget_the_crm_is_not_called(stack: Stack) -> None:
    assert stack.salesforce is not None
    stack.salesforce.api_usage(95_000, 100_000)
    stack.meta.customer_message(PAGE_ID, psid="8004", text="first")  # the first lookup learns the usage
    stack.wait_for(lambda: tickets(stack) and notes(stack, tickets(stack)[0]["id"]))
    calls = salesforce_calls(stack)
    stack.meta.customer_message(PAGE_ID, psid="8005", text="second customer")
    stack.wait_for(lambda: len(tickets(stack)) == 2)
    settle(stack)
    assert salesforce_calls(stack) == calls  # 95 % used, past the 80 % budget: cache only
    assert stack.store.rows("threads", key=f"facebook:{PAGE_ID}:messenger:8005")[0]["enrichment"] == "pending"


@pytest.fixture
def writing(tmp_path: Path) -> Iterator[Stack]:
    with Stack(tmp_path, salesforce={**VIP, "write_back": True}) as running:
        yield running


def test_write_back_records_posts_and_the_delivered_reply(writing: Stack) -> None:
    stack, sf = writing, writing.salesforce
    assert sf is not None
    contact = known_customer(stack, "8101")
    message = stack.meta.customer_message(PAGE_ID, psid="8101", text="Where is my order?")
    ticket = stack.wait_for(lambda: tickets(stack) and tickets(stack)[0])
    stack.wait_for(lambda: sf.records("SocialPost"))
    settle(stack)
    [inbound] = sf.records("SocialPost")
    assert inbound["Content"] == "Where is my order?" and inbound["Provider"] == "Facebook"
    assert inbound["WhoId"] == contact and message.mid in inbound["R6PostId"]
    persona = inbound["PersonaId"]
    reply_and_notify(stack, ticket["id"], "It ships today.")
    stack.wait_for(lambda: len(sf.records("SocialPost")) == 2)
    outbound = next(p for p in sf.records("SocialPost") if p["IsOutbound"])
    assert outbound["Content"] == "It ships today." and outbound["ReplyToId"] == inbound["Id"]
    assert outbound["PersonaId"] == persona


def test_write_back_without_social_objects_stays_off_and_tickets_flow(writing: Stack) -> None:
    assert writing.salesforce is not None
    writing.salesforce.social_enabled = False
    writing.meta.customer_message(PAGE_ID, psid="8102", text="hello")
    ticket = writing.wait_for(lambda: tickets(writing) and tickets(writing)[0])
    reply_and_notify(writing, ticket["id"], "hi!")
    writing.wait_for(lambda: writing.meta.sent_messages)
    settle(writing)
    assert writing.salesforce.records("SocialPost") == []
    assert writing.store.counts("inbox") == {"done": 1}
