"""The CRM's answer in the calls the bridge makes anyway, end to end on both helpdesks (#18): Graph API →
bridge → Salesforce simulator + helpdesk simulator, real clients over sockets.

A new thread costs two helpdesk calls (the user's, with the CRM's notes and user fields; the ticket's,
with the mapped ticket fields and the rules' reasons), a follow-up one; counted in the simulator's log.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.base import Fault
from sandbox.stack import HELPDESKS, PAGE_ID, Stack, to_toml
from tests.support import notes, settle, socialdesk, tickets

#: CRM attribute → the label of the helpdesk field made for it (the simulators name or number it)
TICKET_FIELDS = {"account_name": "crm account", "owner_name": "crm owner", "account_type": "crm tier",
                 "open_cases": "crm open cases", "url": "crm record"}  # fmt: skip
FOLLOW_UP = {
    "zendesk": ["PUT /api/v2/tickets/1.json"],
    "freshdesk": ["GET /api/v2/tickets/1", "POST /api/v2/tickets/1/notes"],
}
RULES: list[dict[str, Any]] = [
    {"name": "vip-angry", "when": {"vip": True, "keywords": ["lawyer"]}, "then": {"priority": "urgent"}},
]


def crm_stack(tmp_path: Path, helpdesk: str, *, start_worker: bool = True, **options: Any) -> Stack:
    """A stack whose helpdesk has a field for each CRM attribute mapped, one user field, and one for the rules."""
    stack = Stack(tmp_path, helpdesk=helpdesk, salesforce={}, rules=RULES, start_worker=start_worker)
    sim = stack.helpdesk
    mapped = {source: sim.add_ticket_field(label) for source, label in TICKET_FIELDS.items()}
    stack.salesforce_options = {
        "vip_field": "account_type", "vip_values": ["Enterprise"], "ticket_fields": mapped,
        "user_fields": {"account_name": sim.add_user_field("crm_account")},
        "join_users": False,  # a social user per identity: the calls of a join are test_e2e_joins' (once per identity)
        **options,
    }  # fmt: skip
    stack.bridge_options = {"rules_field": sim.add_ticket_field("triage")}
    return stack


@pytest.fixture(params=HELPDESKS)
def stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    with crm_stack(tmp_path, request.param) as running:
        yield running


def known_customer(stack: Stack, psid: str) -> str:
    """A Contact at an Enterprise account with two open cases, owned by Lisa, linked to this PSID."""
    sf = stack.salesforce
    assert sf is not None
    account = sf.add_account("Globex", Type="Enterprise", Industry="Energy")
    contact = sf.add_contact("Hank Scorpio", Email="hank@globex.example", AccountId=account, Title="CEO")
    sf.add_case(contact_id=contact)
    sf.add_case(contact_id=contact)
    sf.add_persona(provider="Facebook", external_id=psid, parent_id=contact, name="hank")
    return contact


def field(stack: Stack, record: dict[str, Any], name: str) -> object:
    """A custom field's value on a ticket or user, by Zendesk id / key or Freshdesk name."""
    fields = record.get("custom_fields", record.get("user_fields"))
    if stack.helpdesk_name == "freshdesk" and "custom_fields" in record:
        return record["custom_fields"].get(name)
    if isinstance(fields, dict):
        return fields.get(name)
    return next((f["value"] for f in fields or [] if str(f["id"]) == name), None)


def helpdesk_calls(stack: Stack, since: int) -> list[str]:
    return [f"{c.method} {c.path}" for c in stack.helpdesk.calls[since:] if c.path.startswith("/api/v2/")]


def mapped(stack: Stack) -> dict[str, str]:
    assert stack.salesforce_options is not None
    return dict(stack.salesforce_options["ticket_fields"])


def test_a_known_customer_lands_with_the_crm_fields_in_two_calls_and_follows_up_in_one(stack: Stack) -> None:
    contact = known_customer(stack, "8201")
    settle(stack)
    mark = len(stack.helpdesk.calls)
    stack.meta.customer_message(PAGE_ID, psid="8201", text="Where is the doomsday device?")
    ticket = stack.wait_for(lambda: tickets(stack) and tickets(stack)[0])
    settle(stack)

    assert len(helpdesk_calls(stack, mark)) == 2, helpdesk_calls(stack, mark)  # the user, then the ticket
    ticket = tickets(stack)[0]
    fields = {source: field(stack, ticket, target) for source, target in mapped(stack).items()}
    assert fields["account_name"] == "Globex" and fields["account_type"] == "Enterprise"
    assert fields["open_cases"] == "2" and contact in str(fields["url"])
    assert notes(stack, ticket["id"]) == []  # no CRM note: it is in the fields
    user = stack.helpdesk.user(ticket["requester_id"])
    summary = user.get("notes") if stack.helpdesk_name == "zendesk" else user.get("description")
    assert "Hank Scorpio" in str(summary) and "Open cases: 2" in str(summary)
    assert field(stack, user, "crm_account") == "Globex"

    mark = len(stack.helpdesk.calls)
    stack.meta.customer_message(PAGE_ID, psid="8201", text="Hello??")
    stack.wait_for(lambda: len(stack.helpdesk.comments(ticket["id"])) >= 2)
    settle(stack)
    # no CRM call and no user call; Freshdesk reads the ticket first (a note cannot reopen it: a resolved or
    # closed ticket must be known before the note), Zendesk's one update does both
    assert helpdesk_calls(stack, mark) == FOLLOW_UP[stack.helpdesk_name]


def test_the_rules_reasons_go_in_their_field_and_a_stranger_gets_a_social_user(stack: Stack) -> None:
    known_customer(stack, "8202")
    settle(stack)
    mark = len(stack.helpdesk.calls)
    stack.meta.customer_message(PAGE_ID, psid="8202", text="My lawyer will call you")
    stack.meta.customer_message(PAGE_ID, psid="8203", text="hi, do you ship to Canada?")
    stack.wait_for(lambda: len(tickets(stack)) == 2)
    settle(stack)

    assert len(helpdesk_calls(stack, mark)) == 4, helpdesk_calls(stack, mark)  # two each, rules fired or not
    by_thread = {t["subject"]: t for t in tickets(stack)}
    angry = next(t for s, t in by_thread.items() if "lawyer" in s)
    stranger = next(t for s, t in by_thread.items() if "Canada" in s)
    assert stack.bridge_options is not None
    reasons = field(stack, angry, stack.bridge_options["rules_field"])
    assert reasons == "Triage rules that fired:\nrule vip-angry: VIP, matched words: lawyer"
    assert notes(stack, angry["id"]) == notes(stack, stranger["id"]) == []
    assert field(stack, stranger, mapped(stack)["account_name"]) is None
    user = stack.helpdesk.user(stranger["requester_id"])
    assert user["external_id"] == "facebook:8203"  # a social user of its own
    summary = user.get("notes") if stack.helpdesk_name == "zendesk" else user.get("description")
    assert summary == "Salesforce: no Contact, Lead or social persona matches this customer."


def test_a_user_field_value_zendesk_refuses_costs_the_requester_that_field_not_the_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The requester's user is written with the CRM's user fields; a value one does not take (the account's Type
    "Enterprise" where the dropdown's options are tags) refused that write, 422 RecordInvalid, and with it the
    customer's message (a dead letter). The user is written again without that field, named in the log; the
    ticket lands with every CRM field, and the user with its other user field."""
    stack = crm_stack(tmp_path, "zendesk")
    assert stack.salesforce_options is not None
    tier = stack.zendesk.add_user_field("crm_tier", "dropdown", options=["enterprise", "smb"])
    stack.salesforce_options["user_fields"] = {**stack.salesforce_options["user_fields"], "account_type": tier}
    with stack:
        known_customer(stack, "8206")
        mark = len(stack.helpdesk.calls)
        stack.meta.customer_message(PAGE_ID, psid="8206", text="Where is the doomsday device?")
        ticket = stack.wait_for(lambda: tickets(stack) and tickets(stack)[0])
        settle(stack)
        calls, user = helpdesk_calls(stack, mark), stack.helpdesk.user(ticket["requester_id"])
    assert calls == ["POST /api/v2/users/create_or_update.json"] * 2 + ["POST /api/v2/tickets.json"], calls
    assert user["user_fields"] == {"crm_account": "Globex", "crm_tier": None}
    assert "Hank Scorpio" in str(user["notes"]) and field(stack, ticket, mapped(stack)["account_type"]) == "Enterprise"
    [said] = [r.getMessage() for r in caplog.records if "crm_tier" in r.getMessage()]
    assert said.endswith(" written without user field crm_tier: zendesk refused the CRM's value"), said


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_crm_note_true_keeps_the_note(tmp_path: Path, helpdesk: str) -> None:
    with crm_stack(tmp_path, helpdesk, crm_note=True) as stack:
        known_customer(stack, "8204")
        stack.meta.customer_message(PAGE_ID, psid="8204", text="hello")
        ticket = stack.wait_for(lambda: tickets(stack) and notes(stack, tickets(stack)[0]["id"]) and tickets(stack)[0])
        [note] = notes(stack, ticket["id"])
        assert note.startswith("Salesforce Contact: Hank Scorpio — CEO") and "Open cases: 2" in note
        assert field(stack, ticket, mapped(stack)["account_name"]) == "Globex"  # the fields as well


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_doctor_refuses_a_mapping_to_a_field_the_helpdesk_lacks(tmp_path: Path, helpdesk: str) -> None:
    with crm_stack(tmp_path, helpdesk, start_worker=False) as stack:
        raw = stack.raw_config()
        path = tmp_path / "socialdesk.toml"
        path.write_text(to_toml(raw))
        good = socialdesk("doctor", "--config", str(path))
        assert "✓ mapped fields: 7 mapped field(s) present" in good.stdout, good.stdout + good.stderr

        raw["salesforce"]["user_fields"] = {"account_name": "no_such_field", "owner_name": "nor_this_one"}
        path.write_text(to_toml(raw))
        bad = socialdesk("doctor", "--config", str(path))
        assert bad.returncode == 1
        said = [line for line in bad.stdout.splitlines() if line.startswith("✗ mapped fields: ")]
        assert said == [  # every one, one line each (it named the first only)
            "✗ mapped fields: salesforce.user_fields.account_name: the helpdesk has no user field 'no_such_field'",
            "✗ mapped fields: salesforce.user_fields.owner_name: the helpdesk has no user field 'nor_this_one'",
        ], bad.stdout


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_a_crm_that_answers_late_fills_the_fields_with_its_note(tmp_path: Path, helpdesk: str) -> None:
    with crm_stack(tmp_path, helpdesk, retry_seconds=1) as stack:
        assert stack.salesforce is not None
        known_customer(stack, "8205")
        stack.salesforce.inject(Fault(503, times=1000, path_prefix="/services/"))
        stack.meta.customer_message(PAGE_ID, psid="8205", text="urgent!")
        ticket = stack.wait_for(lambda: tickets(stack) and tickets(stack)[0])
        settle(stack)
        assert notes(stack, ticket["id"]) == [] and field(stack, ticket, mapped(stack)["account_name"]) is None
        stack.salesforce.clear_faults()  # the enrichment owed to the ticket arrives: its fields, and a note
        stack.wait_for(lambda: notes(stack, ticket["id"]), timeout=30)
        ticket = tickets(stack)[0]
        assert field(stack, ticket, mapped(stack)["account_name"]) == "Globex"
        assert notes(stack, ticket["id"])[0].startswith("Salesforce Contact: Hank Scorpio")
