"""bridge.plan: what the worker does with one customer message, decided from values alone (no store, no helpdesk)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from bridge import plan
from bridge.events import Author, Priority, Routing, SocialEvent
from bridge.rows import ThreadRow
from bridge.rules import NO_RULES, Decision

AT = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
EVENT = SocialEvent(platform="facebook", channel="Acme FB", account_id="1", message_id="m1",
                    thread_id="messenger:42", kind="message", author=Author(id="42"), text="refund please",
                    created_at=AT, reply_to="")  # fmt: skip
NEW = plan.new_thread(EVENT, "zendesk", 100.0)
RULED = Decision(tags=("billing",), priority=Priority.HIGH, approval="rule legal")
URGENT = Routing(priority=Priority.HIGH)


def facts(decision: Decision = NO_RULES, *, thread: ThreadRow = NEW, create: bool = True) -> plan.Facts:
    return plan.Facts(EVENT, thread, decision, URGENT, create=create, crm_tags=("vip",), fields={"account": "Globex"},
                      explanation="Triage rules that fired: ...", owed={"enrichment": "pending"})  # fmt: skip


def test_a_first_message_plans_the_ticket_and_makes_create_started_durable_first() -> None:
    planned = plan.plan(facts(RULED), now=123.0)
    assert planned.create and planned.ignored is None
    assert planned.tags == ("socialdesk", "facebook", "acme_fb", "messenger", "vip", "billing")
    assert (planned.fields, planned.routing, planned.approval) == ({"account": "Globex"}, URGENT, "rule legal")
    assert planned.start == {"create_started_at": 123.0, "enrichment": "pending", "approval": "rule legal"}
    ticket = plan.ticket(planned, EVENT, "u7", followup_of=None)
    assert (ticket.external_id, ticket.requester_id, ticket.tags) == (EVENT.thread_key, "u7", planned.tags)
    assert ticket.body and ticket.subject and ticket.routing == URGENT


def test_a_ticket_replacing_a_deleted_one_is_a_new_threads_whose_first_note_names_it() -> None:
    thread = replace(NEW, ticket_id="9")
    planned = plan.plan(replace(facts(RULED, thread=thread), deleted_ticket="9"), now=123.0)
    assert planned == replace(plan.plan(facts(RULED, thread=thread), now=123.0), explanation=planned.explanation)
    assert planned.explanation.startswith("This social thread's previous ticket #9 was deleted")
    assert planned.explanation.endswith("\n\nTriage rules that fired: ...")
    alone = plan.plan(replace(facts(thread=thread), explanation="", deleted_ticket="9"), now=1.0).explanation
    assert alone.startswith("This social thread's previous ticket #9 was deleted") and "\n" not in alone


def test_a_follow_up_carries_only_the_rules_and_records_nothing_before() -> None:
    thread = replace(NEW, ticket_id="9", approval="rule legal")
    planned = plan.plan(facts(RULED, thread=thread, create=False), now=123.0)
    assert (planned.create, planned.tags, planned.start, planned.explanation) == (False, ("billing",), {}, "")
    assert planned.approval is None  # the thread's replies need approval already


def test_a_follow_up_that_needs_approval_records_it_before_the_helpdesk_write() -> None:
    # saved with the outcome instead, a reply written while a later step (acks, the bot, the CRM write-back)
    # postpones the event would find the thread without it, and go out unapproved
    planned = plan.plan(facts(RULED, thread=replace(NEW, ticket_id="9"), create=False), now=123.0)
    assert (planned.start, planned.approval) == ({"approval": "rule legal"}, "rule legal")


def test_an_ignored_message_plans_nothing_else() -> None:
    planned = plan.plan(facts(Decision(ignored="rule spam", tags=("x",))), now=1.0)
    assert planned == plan.Plan(ignored="rule spam")


def test_the_thread_records_the_ticket_the_requester_and_the_episode() -> None:
    at = AT.timestamp()
    changes = plan.thread_changes(NEW, EVENT, ticket_id="9", requester_id="u7", opens=True)
    assert changes == {"episode_started_at": at, "episode_answered_at": None, "ticket_id": "9",
                       "requester_id": "u7", "last_inbound_at": at, "last_inbound_message_id": "m1",
                       "customer_id": "42", "first_inbound_at": at}  # fmt: skip
    later = replace(NEW, ticket_id="9", first_inbound_at=at - 60, last_inbound_at=at + 5)  # an older message, late
    changes = plan.thread_changes(later, EVENT, ticket_id="9", requester_id="u7", opens=False)
    assert "ticket_id" not in changes and "episode_started_at" not in changes and "approval" not in changes
    assert (changes["first_inbound_at"], changes["last_inbound_at"]) == (at - 60, at + 5)
