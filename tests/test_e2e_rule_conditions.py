"""Every triage condition and every action, end to end on both helpdesks, in the call that makes the ticket.

Graph API → bridge → Salesforce simulator + helpdesk simulator, with the default classifier and a channel
calendar. One rule per condition (and one that must never fire beside it); each message's own calls are
read from the simulator's request log: the requester's call, then the ticket's create with the fired
rules' tags and, with ``[bridge] rules_field``, their reasons. A rule costs no call of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sandbox.base import Call
from sandbox.stack import HELPDESKS, PAGE_ID, Stack
from tests.support import settle, status_of, tickets
from tests.test_e2e_rules import ALL_ACTIONS as ACTIONS

FRIDAY_10 = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)  # inside the calendar below
SATURDAY_10 = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)  # outside
CALENDARS = {"office": {"timezone": "UTC", "hours": ["mon-fri 09:00-17:00"], "target": "2 business hours"}}
#: join_users off: joining a persona to its Contact's user costs calls of its own (tests/test_e2e_joins.py)
VIP = {"vip_field": "account_type", "vip_values": ["Enterprise"], "retry_seconds": 1, "join_users": False}


def rule(name: str, when: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "when": when, "then": {"tags": ["triaged"]}}


#: name → condition; every ticket carries rule_<name> for the rules that fired on its message
CONDITIONS: dict[str, dict[str, Any]] = {  # in the order the field lists them (what fits of them)
    "tier": {"crm": {"account_type": "enterprise"}},
    "owner": {"crm": {"owner_name": "Sam Seller"}},
    "cases": {"crm": {"open_cases": {"gte": 2}}},
    "keyword": {"keywords": ["rembourse"]},  # accents and case aside, whole words only
    "regex": {"regex": r"order\s*#?\d{5}"},
    "negative": {"sentiment": {"is": "negative", "min_score": 0.3}},
    "urgent": {"urgency": "high"},
    "vip": {"vip": True},
    "channel": {"channel": "ACME-Facebook"},
    "channel-no": {"channel": "acme-x"},
    "platform": {"platform": "facebook"},
    "platform-no": {"platform": ["x", "instagram"]},
    "public": {"public": True},
    "private": {"public": False},
    "first": {"first_message": True},
    "follow-up": {"first_message": False},
    "french": {"language": "fr"},
    "inside": {"business_hours": "inside"},
    "outside": {"business_hours": "outside"},
    "known": {"known_customer": True},
    "stranger": {"known_customer": False},
    "files": {"attachments": True},
    "author": {"author": ["@9102", "acme_staff"]},  # by platform id or handle
    "all": {"all": [{"public": False}, {"keywords": ["invoice"]}]},
    "any": {"any": [{"keywords": ["invoice"]}, {"regex": r"order\s*#?\d{5}"}]},
    "not": {"not": {"keywords": ["hello", "hi"]}},
}
ALWAYS = {"channel", "platform"}  # on every message of this Facebook page


@pytest.fixture(params=HELPDESKS)
def stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    rules = [rule(name, when) for name, when in CONDITIONS.items()]
    built = Stack(tmp_path, helpdesk=request.param, salesforce=VIP, rules=rules, calendars=CALENDARS,
                  platforms=("facebook", "x"),  # channel-no names acme-x: a rule may name configured channels only
                  channel_options={"calendar": "office"})  # fmt: skip
    built.bridge_options = {"rules_field": built.helpdesk.add_ticket_field("triage")}
    with built as running:
        yield running


def vip_customer(stack: Stack, psid: str) -> None:
    """An Enterprise account's contact (owned by the simulator's Sam Seller), two open cases, this PSID."""
    sf = stack.salesforce
    assert sf is not None
    contact = sf.add_contact("Hank Scorpio", AccountId=sf.add_account("Globex", Type="Enterprise"))
    sf.add_case(contact_id=contact)
    sf.add_case(contact_id=contact)
    sf.add_persona(provider="Facebook", external_id=psid, parent_id=contact, name="hank")


def calls_of(stack: Stack, send: Callable[[], object]) -> list[Call]:
    """The helpdesk calls one message cost, from its webhook until the bridge is idle again."""
    settle(stack)
    mark = len(stack.helpdesk.calls)
    send()
    stack.wait_for(lambda: stack.store.rows("inbox") and stack.idle(), timeout=40)
    settle(stack)
    return [c for c in stack.helpdesk.calls[mark:] if c.path.startswith("/api/v2/")]


def shape(calls: list[Call]) -> list[str]:
    """Calls as "METHOD what", ids left out."""
    return [f"{c.method} {'/'.join(p for p in c.path.split('/')[3:] if not p.split('.')[0].isdigit())}" for c in calls]


NEW_THREAD = {
    "zendesk": ["POST users/create_or_update.json", "POST tickets.json"],
    "freshdesk": ["POST contacts", "POST tickets"],
}
FOLLOW_UP = {"zendesk": ["PUT tickets"], "freshdesk": ["GET tickets", "PUT tickets", "POST tickets/notes"]}


def sent_tags(call: Call) -> set[str]:
    """The tags a create or update call carried (Zendesk: in "ticket"; Freshdesk: the body itself)."""
    body = call.json.get("ticket", call.json)
    return set(body.get("tags", ())) | set(body.get("additional_tags", ()))


def fired(tags: set[str]) -> set[str]:
    return {t.removeprefix("rule_") for t in tags if t.startswith("rule_")}


def sent_fields(stack: Stack, call: Call) -> dict[str, Any]:
    body = call.json.get("ticket", call.json)
    fields = body.get("custom_fields") or {}
    return dict(fields) if isinstance(fields, dict) else {str(f["id"]): f["value"] for f in fields}


def reasons(stack: Stack, call: Call) -> str:
    return str(sent_fields(stack, call)[str(stack.bridge_options["rules_field"])])


def named(explanation: str) -> set[str]:
    """The rules an explanation names: its lines', then those it left out for want of room."""
    *lines, last = explanation.split("\n")[1:]
    shown = {line.split(":")[0].removeprefix("rule ") for line in lines}
    if last.startswith("(and "):
        return shown | set(last.partition(": ")[2].rstrip(")").split(", "))
    return shown | {last.split(":")[0].removeprefix("rule ")}


def test_each_condition_fires_in_the_create_call_with_its_reasons(stack: Stack) -> None:
    vip_customer(stack, "9101")
    image = [{"type": "image", "payload": {"url": "https://cdn.example/receipt.jpg"}}]
    text = "C'est inadmissible, je veux être REMBOURSÉ, sinon mon avocat s'en occupe"
    vip = calls_of(stack, lambda: stack.meta.customer_message(PAGE_ID, psid="9101", text=text, timestamp=FRIDAY_10,
                                                               attachments=image))  # fmt: skip
    assert shape(vip) == NEW_THREAD[stack.helpdesk_name]
    fired_here = ALWAYS | {"private", "first", "french", "keyword", "negative", "urgent", "vip", "tier", "owner",
                           "cases", "inside", "known", "files", "not"}  # fmt: skip
    assert fired(sent_tags(vip[1])) == fired_here
    lines = reasons(stack, vip[1]).split("\n")
    assert lines[:4] == ["Triage rules that fired:", "rule tier: CRM account_type = Enterprise",
                         "rule owner: CRM owner_name = Sam Seller", "rule cases: CRM open_cases = 2"]  # fmt: skip
    shown = [line.split(":")[0].removeprefix("rule ") for line in lines[1:-1]]
    # a single-line field holds 255 characters: whole lines, then the rules left out, by name
    rest = [name for name in CONDITIONS if name in fired_here and name not in shown]
    assert lines[-1] == f"(and {len(rest)} more: {', '.join(rest)})" and len(shown) + len(rest) == len(fired_here)

    comment = "Hello, I need the invoice for ORDER #12345 please"
    meta = stack.meta
    public = calls_of(stack, lambda: meta.customer_comment(PAGE_ID, text=comment, user_id="9102", user_name="Ann",
                                                           created_time=SATURDAY_10))  # fmt: skip
    assert shape(public) == NEW_THREAD[stack.helpdesk_name]
    assert fired(sent_tags(public[1])) == ALWAYS | {"public", "first", "regex", "outside", "stranger", "any", "author"}
    assert "rule regex: matched /order\\s*#?\\d{5}/: 'ORDER #12345'" in reasons(stack, public[1])


def test_a_follow_up_fires_its_conditions_in_the_update_call(stack: Stack) -> None:
    first = calls_of(stack, lambda: stack.meta.customer_message(PAGE_ID, psid="9103", text="hi", timestamp=FRIDAY_10))
    assert fired(sent_tags(first[1])) == ALWAYS | {"private", "first", "inside", "stranger"}
    later = datetime(2026, 12, 4, 10, 5, tzinfo=UTC)
    text = "Où en est mon remboursement de la facture? the invoice"  # "remboursement" is not the word "rembourse"
    update = calls_of(stack, lambda: stack.meta.customer_message(PAGE_ID, psid="9103", text=text, timestamp=later))
    assert shape(update) == FOLLOW_UP[stack.helpdesk_name]
    put = next(c for c in update if c.method == "PUT")
    assert fired(sent_tags(put)) >= ALWAYS | {"private", "follow-up", "inside", "stranger", "all", "any", "not"}
    assert fired(set(tickets(stack)[0]["tags"])) == fired(sent_tags(first[1])) | fired(sent_tags(put))
    assert fired(sent_tags(put)) - fired(sent_tags(first[1])) >= {"follow-up", "all", "any", "not"}
    assert "keyword" not in fired(set(tickets(stack)[0]["tags"]))
    # the field says why the ticket is where it is now: the rules of the latest message that fired any
    assert named(reasons(stack, put)) == fired(sent_tags(put)) - fired(sent_tags(first[1])) | ALWAYS | {
        "private", "inside", "stranger"}  # fmt: skip


# -- every action, in the create call and in the update call ------------------------------------------------------

ASSIGNEE = {"zendesk": "assignee_id", "freshdesk": "responder_id"}


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_every_action_rides_on_the_create_and_the_update_call(tmp_path: Path, helpdesk: str) -> None:
    rules: list[dict[str, Any]] = [
        {"name": "route", "when": {"first_message": True}, "then": ACTIONS[helpdesk]},
        {"name": "chase", "when": {"first_message": False}, "then": {"escalate": "Escalations", "tags": ["chased"]}},
    ]
    built = Stack(tmp_path, helpdesk=helpdesk, rules=rules)
    built.bridge_options = {"rules_field": built.helpdesk.add_ticket_field("triage")}
    with built as stack:
        billing, escalations = stack.helpdesk.add_group("Billing"), stack.helpdesk.add_group("Escalations")
        brand = stack.zendesk.add_brand("Acme Travel")
        assert stack.runtime is not None  # names looked up once, as `socialdesk worker` does at start
        assert "found in" in stack.runtime.triage.prepare(stack.runtime.helpdesk)
        made = calls_of(stack, lambda: stack.meta.customer_message(PAGE_ID, psid="9105", text="hi"))
        assert shape(made) == NEW_THREAD[helpdesk]
        ticket = tickets(stack)[0]
        assert {"routed", "rule_route"} <= sent_tags(made[1])
        assert ticket["priority"] == {"zendesk": "low", "freshdesk": 1}[helpdesk]
        assert (ticket["type"], ticket["group_id"]) == (ACTIONS[helpdesk]["type"], billing)
        assert ticket[ASSIGNEE[helpdesk]] == stack.helpdesk.agent_id
        assert status_of(stack, ticket) == "pending"
        assert "from a rule" in sent_fields(stack, made[1]).values()
        assert reasons(stack, made[1]) == "Triage rules that fired:\nrule route: first message"
        if helpdesk == "zendesk":
            assert ticket["brand_id"] == brand

        update = calls_of(stack, lambda: stack.meta.customer_message(PAGE_ID, psid="9105", text="hello??"))
        assert shape(update) == FOLLOW_UP[helpdesk]  # escalated in the update the message makes anyway
        after = tickets(stack)[0]
        assert after["priority"] == {"zendesk": "urgent", "freshdesk": 4}[helpdesk]
        assert after["group_id"] == escalations
        assert {"escalated", "chased", "rule_chase", "routed"} <= set(after["tags"])
        put = next(c for c in update if c.method == "PUT")  # why it went to Escalations, in that same call
        assert reasons(stack, put) == "Triage rules that fired:\nrule chase: follow-up"


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_an_ignored_message_costs_no_helpdesk_call_and_names_the_rule(tmp_path: Path, helpdesk: str) -> None:
    rules = [
        {"name": "staff", "when": {"author": ["9106"]}, "then": {"ignore": True}},  # the brand's own staff
        {"name": "noise", "when": {"regex": r"^\[test\]"}, "then": {"ignore": True}},
    ]
    with Stack(tmp_path, helpdesk=helpdesk, rules=rules) as stack:
        staff = calls_of(stack, lambda: stack.meta.customer_message(PAGE_ID, psid="9106", text="checking the page"))
        noise = calls_of(stack, lambda: stack.meta.customer_message(PAGE_ID, psid="9108", text="[TEST] hello"))
        assert staff == noise == []
        rows = {row["thread_key"][-4:]: (row["status"], row["last_error"]) for row in stack.store.rows("inbox")}
        assert rows == {"9106": ("ignored", "rule staff"), "9108": ("ignored", "rule noise")}


def test_the_rules_run_in_the_worker_never_in_the_webhook(tmp_path: Path) -> None:
    """The webhook stores the message and answers; only the worker decides (an ignore rule shows when)."""
    rules = [{"name": "noise", "when": {"keywords": ["giveaway"]}, "then": {"ignore": True}}]
    with Stack(tmp_path, rules=rules, start_worker=False) as stack:
        sent = stack.meta.customer_message(PAGE_ID, psid="9107", text="Giveaway!! click here")
        assert sent.response is not None and sent.response.status_code == 200
        [row] = stack.store.rows("inbox")
        assert (row["status"], row["last_error"]) == ("pending", None)  # stored as is, nothing decided yet
        stack.start_worker_now()
        settle(stack)
        [row] = stack.store.rows("inbox")
        assert (row["status"], row["last_error"]) == ("ignored", "rule noise")
