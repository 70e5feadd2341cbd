"""Approvals end to end, on both helpdesks: a rule (or a new agent) holds an agent's reply until an approver
tags the ticket; then it goes out once, in order, or never. Messenger → bridge → helpdesk simulator → back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bridge import inbound, outbound, status
from bridge.ports import TicketTags
from bridge.registry import build_helpdesk
from connectors.zendesk import ZendeskHelpdesk
from connectors.zendesk_setup import APPROVE_MACRO, setup
from sandbox.base import Fault
from sandbox.stack import HELPDESKS, PAGE_ID, Stack
from tests.support import notes, one_ticket, reply_and_notify, settle, step_runtime, tickets

CRISIS_POST = f"{PAGE_ID}_4242"
RULES: list[dict[str, Any]] = [
    {"name": "legal", "when": {"keywords": ["lawyer"]}, "then": {"approval": True}},
    {"name": "crisis", "when": {"post": CRISIS_POST, "public": True}, "then": {"approval": True}},
]
NEW_AGENT = "nora.new@socialdesk.test"
APPROVER = "sam.supervisor@socialdesk.test"  # [approvals] approvers: the only one who may answer
WAITING = "waiting for approval (rule legal)"


@pytest.fixture(params=HELPDESKS)
def stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    # Freshdesk cannot say who added a tag: ``approvers`` is refused there, the tag is the answer
    approvers = {"approvers": [APPROVER]} if request.param == "zendesk" else {}
    stack = Stack(tmp_path, helpdesk=request.param, rules=RULES, approvals={"agents": [NEW_AGENT], **approvers})
    stack.helpdesk.add_agent("Nora New", NEW_AGENT)  # before the worker starts: it resolves the emails to ids
    stack.helpdesk.add_agent("Sam Supervisor", APPROVER)
    with stack as running:
        yield running


def ticket_for(stack: Stack, psid: str, text: str) -> int:
    stack.meta.customer_message(PAGE_ID, psid=psid, text=text)
    ticket = stack.wait_for(lambda: tickets(stack) and tickets(stack)[0])
    settle(stack)
    return int(ticket["id"])


def answer(stack: Stack, ticket_id: int, tag: str, by: int | None = None) -> None:
    """An approver (by default the configured one) tags the ticket; the helpdesk's rule calls the bridge."""
    stack.helpdesk.add_tags(ticket_id, tag, author_id=by or approver_id(stack) or None)
    stack.helpdesk.fire_webhook(ticket_id, style="trigger")
    settle(stack)


def new_agent_id(stack: Stack) -> int:
    """The new agent's helpdesk id, as the worker resolved it from the email in ``[approvals] agents``."""
    assert stack.runtime is not None
    [agent] = stack.runtime.approvers.agent_ids(stack.runtime.helpdesk)
    return int(agent)


def approver_id(stack: Stack) -> int:
    """The configured approver's helpdesk id (0: none configured, any agent answers)."""
    assert stack.runtime is not None
    approvers = stack.runtime.approvers.approver_ids(stack.runtime.helpdesk)
    return int(next(iter(approvers), 0))


def refusals(stack: Stack, ticket_id: int) -> list[str]:
    return [n for n in notes(stack, ticket_id) if n.startswith("socialdesk ignored the tag")]


def sent(stack: Stack) -> list[str]:
    return [m["text"] for m in stack.meta.sent_messages]


def deliveries(stack: Stack) -> list[str]:
    return [r["status"] for r in sorted(stack.store.rows("deliveries"), key=lambda r: r["id"])]


def test_a_held_reply_waits_with_a_note_then_goes_out_once_when_approved(stack: Stack) -> None:
    ticket = ticket_for(stack, "5001", "My lawyer will hear about this")
    reply_and_notify(stack, ticket, "We are sorry, let us fix it.")
    settle(stack)
    assert sent(stack) == [] and deliveries(stack) == ["held"]
    assert any(WAITING in n and "We are sorry" in n for n in notes(stack, ticket))
    report = status.report(stack.config, stack.store)
    assert report["approvals"]["waiting"] == 1 and report["approvals"]["oldest_wait_s"] is not None
    assert any(line.startswith("approvals      1 reply waiting, the oldest for ") for line in status.render(report))

    answer(stack, ticket, "socialdesk_approve")
    assert sent(stack) == ["We are sorry, let us fix it."] and deliveries(stack) == ["sent"]
    assert "socialdesk_approve" not in tickets(stack)[0]["tags"]  # taken off: it approved what the approver saw
    for _ in range(2):  # repeated webhooks post nothing twice
        stack.helpdesk.fire_webhook(ticket, style="trigger")
    settle(stack)
    assert sent(stack) == ["We are sorry, let us fix it."]
    assert status.report(stack.config, stack.store)["approvals"] == {"waiting": 0, "oldest_wait_s": None}


def test_a_rejected_reply_is_noted_and_never_sent(stack: Stack) -> None:
    ticket = ticket_for(stack, "5002", "I am calling my lawyer")
    reply_and_notify(stack, ticket, "That is your problem.")
    settle(stack)
    answer(stack, ticket, "socialdesk_reject")
    assert deliveries(stack) == ["rejected"]
    assert any("rejected by an approver" in n and "That is your problem" in n for n in notes(stack, ticket))
    answer(stack, ticket, "socialdesk_approve")  # too late: a rejection is final
    assert sent(stack) == [] and deliveries(stack) == ["rejected"]


def test_held_replies_survive_a_restart_and_go_out_in_order(stack: Stack) -> None:
    ticket = ticket_for(stack, "5003", "Expect a letter from my lawyer")
    for text in ("First, sorry.", "Second, a refund is on its way."):
        reply_and_notify(stack, ticket, text)
        settle(stack)
    assert deliveries(stack) == ["held", "held"]
    stack.stop_worker()  # a new worker, a new runtime, the same store
    stack.start_worker_now()
    answer(stack, ticket, "socialdesk_approve")
    assert sent(stack) == ["First, sorry.", "Second, a refund is on its way."]


def test_a_new_agents_reply_is_held_and_a_later_one_waits_behind_it(stack: Stack) -> None:
    ticket = ticket_for(stack, "5004", "Where is my parcel?")  # no rule: the thread needs no approval
    reply_and_notify(stack, ticket, "Checking now.")  # an experienced agent: sent at once
    settle(stack)
    assert sent(stack) == ["Checking now."]
    nora = new_agent_id(stack)
    stack.helpdesk.agent_comment(ticket, "It is lost, sorry!!", public=True, author_id=nora)
    stack.helpdesk.agent_comment(ticket, "Found it: it arrives tomorrow.", public=True)
    stack.helpdesk.fire_webhook(ticket, style="trigger")
    settle(stack)
    assert sent(stack) == ["Checking now."] and deliveries(stack) == ["sent", "held", "held"]
    assert any("it follows a reply that waits for approval" in n for n in notes(stack, ticket))
    answer(stack, ticket, "socialdesk_approve")
    assert sent(stack) == ["Checking now.", "It is lost, sorry!!", "Found it: it arrives tomorrow."]


def test_a_public_reply_under_a_crisis_post_is_held(stack: Stack) -> None:
    stack.meta.add_post(PAGE_ID, "We are aware of the outage", post_id=CRISIS_POST)
    stack.meta.customer_comment(PAGE_ID, post_id=CRISIS_POST, text="Still down!", user_id="5005", user_name="Kim")
    ticket = stack.wait_for(lambda: tickets(stack) and tickets(stack)[0])["id"]
    settle(stack)
    reply_and_notify(stack, ticket, "We are on it.")
    settle(stack)
    assert stack.meta.comment_replies == [] and deliveries(stack) == ["held"]
    answer(stack, ticket, "socialdesk_approve")
    assert [r["message"] for r in stack.meta.comment_replies] == ["We are on it."]


def test_the_approve_macro_from_setup_releases_the_reply(tmp_path: Path) -> None:
    with Stack(tmp_path, rules=RULES) as stack:
        helpdesk = build_helpdesk(stack.config)
        assert isinstance(helpdesk, ZendeskHelpdesk)
        setup(helpdesk, f"{stack.url}/webhooks/zendesk", approvals=stack.config.approvals)
        ticket = ticket_for(stack, "5006", "I have a lawyer")
        reply_and_notify(stack, ticket, "Let us talk.")
        settle(stack)
        [macro] = [m for m in stack.zendesk.macros if m["title"] == APPROVE_MACRO]
        stack.zendesk.apply_macro(ticket, macro["id"])  # by Alex, who wrote the reply: refused
        stack.zendesk.fire_webhook(ticket, style="trigger")
        settle(stack)
        assert sent(stack) == [] and deliveries(stack) == ["held"]
        assert "socialdesk_approve" not in one_ticket(stack)["tags"]
        [refusal] = refusals(stack, ticket)
        assert f"user {stack.zendesk.agent_id} wrote a reply it would approve" in refusal
        sam = stack.zendesk.add_agent("Sam Supervisor", APPROVER)  # any other agent may approve
        stack.zendesk.apply_macro(ticket, macro["id"], author_id=sam)
        stack.zendesk.fire_webhook(ticket, style="trigger")
        settle(stack)
        assert sent(stack) == ["Let us talk."] and len(refusals(stack, ticket)) == 1


def test_an_approved_reply_the_platform_refuses_keeps_its_approval(tmp_path: Path) -> None:
    with Stack(tmp_path, rules=RULES, start_worker=False) as stack:
        rt = step_runtime(stack)
        stack.meta.customer_message(PAGE_ID, psid="5007", text="lawyer!")
        [row] = stack.store.rows("inbox")
        inbound.process_thread(rt, row["thread_key"], "w-in")
        ticket = int(one_ticket(stack)["id"])
        reply_and_notify(stack, ticket, "Sorry.")
        outbound.sync_ticket(rt, "zendesk", str(ticket), "w-1")
        stack.zendesk.add_tags(ticket, "socialdesk_approve", author_id=stack.zendesk.add_agent("Sam", APPROVER))
        stack.zendesk.fire_webhook(ticket, style="trigger")
        stack.meta.inject(Fault(503, times=rt.policy.attempts, method="POST", path_prefix="/v21.0/"))
        outbound.sync_ticket(rt, "zendesk", str(ticket), "w-2")  # approved, the tag off, the send refused
        assert sent(stack) == [] and deliveries(stack) == ["approved"]
        assert "socialdesk_approve" not in one_ticket(stack)["tags"]
        outbound.sync_ticket(rt, "zendesk", str(ticket), "w-3")  # the retry: no tag needed any more
        assert sent(stack) == ["Sorry."] and deliveries(stack) == ["sent"]


def test_only_the_configured_approvers_answer_on_zendesk(tmp_path: Path) -> None:
    stack = Stack(tmp_path, rules=RULES, approvals={"agents": [NEW_AGENT], "approvers": [APPROVER]})
    nora, _ = stack.zendesk.add_agent("Nora New", NEW_AGENT), stack.zendesk.add_agent("Sam Supervisor", APPROVER)
    with stack:
        ticket = ticket_for(stack, "5008", "Where is my parcel?")
        stack.zendesk.agent_comment(ticket, "Lost, sorry!!", public=True, author_id=nora)
        stack.zendesk.fire_webhook(ticket, style="trigger")
        settle(stack)
        audits = f"/api/v2/tickets/{ticket}/audits"
        assert stack.zendesk.calls_to("GET", audits) == []  # read only when an approver's tag is on the ticket
        for tag in ("socialdesk_approve", "socialdesk_reject"):  # Alex is an agent, not an approver
            answer(stack, ticket, tag, by=stack.zendesk.agent_id)
        assert sent(stack) == [] and deliveries(stack) == ["held"]
        assert len(refusals(stack, ticket)) == 2 and "is not one of the approvers" in refusals(stack, ticket)[0]
        answer(stack, ticket, "socialdesk_approve")
        assert sent(stack) == ["Lost, sorry!!"] and len(stack.zendesk.calls_to("GET", audits)) == 3  # once an answer


class KeepsTags:
    """The real Freshdesk port with ``remove_tags`` hidden: a helpdesk that cannot take a tag off (no
    ``TicketTags``), so an approver's tag stays on the ticket after its answer is recorded."""

    def __init__(self, inner: object) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name == "remove_tags":
            raise AttributeError(name)
        return getattr(self._inner, name)


def test_a_tag_left_on_the_ticket_never_releases_a_reply_held_after_its_answer(tmp_path: Path) -> None:
    with Stack(tmp_path, helpdesk="freshdesk", rules=RULES, start_worker=False) as stack:
        real = step_runtime(stack)
        rt = replace(real, helpdesk=KeepsTags(real.helpdesk))

        def sync() -> None:
            outbound.sync_ticket(rt, "freshdesk", str(ticket), "w")

        stack.meta.customer_message(PAGE_ID, psid="5010", text="lawyer!")
        inbound.process_thread(rt, stack.store.rows("inbox")[0]["thread_key"], "w-in")
        ticket = int(one_ticket(stack)["id"])
        reply_and_notify(stack, ticket, "Sorry.")
        sync()
        stack.freshdesk.add_tags(ticket, "socialdesk_approve")
        sync()  # approved and sent; the tag stays on the ticket
        reply_and_notify(stack, ticket, "Here is what we will do.")
        sync()  # new: held
        sync()  # the tag left on the ticket answered "Sorry." only: the approver has not seen this one
        assert sent(stack) == ["Sorry."] and deliveries(stack) == ["sent", "held"]

        assert isinstance(real.helpdesk, TicketTags)
        real.helpdesk.remove_tags(str(ticket), ["socialdesk_approve"])  # by hand: the next tag is a new answer
        sync()
        stack.freshdesk.add_tags(ticket, "socialdesk_approve")
        sync()
        assert sent(stack) == ["Sorry.", "Here is what we will do."] and deliveries(stack) == ["sent", "sent"]
