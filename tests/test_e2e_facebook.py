"""End to end through real sockets: Graph API simulator → bridge (web + worker) → helpdesk simulator → back.

Every test runs against both helpdesks (Zendesk through the real zenpy, Freshdesk through requests),
with the bridge running as an operator would: config parsed, connectors from the registry, webhooks
over HTTP, the Huey consumer plus the dispatcher.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from bridge import inbound, outbound
from bridge.registry import Runtime
from bridge.store import pauses
from sandbox.base import Fault
from sandbox.stack import HELPDESKS, PAGE_ID, ZENDESK_EMAIL, ZENDESK_TOKEN, Stack
from tests.support import (
    REQUESTER_PATHS,
    WallClock,
    notes,
    one_ticket,
    reply_and_notify,
    requester_calls,
    settle,
    status_of,
    step_runtime,
    tickets,
)


@pytest.fixture(params=HELPDESKS)
def helpdesk(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def stack(tmp_path: Path, helpdesk: str) -> Iterator[Stack]:
    with Stack(tmp_path, helpdesk=helpdesk, bridge_options={"lease_seconds": 5, "redispatch_after": 2}) as running:
        yield running


# -- the two happy paths --------------------------------------------------------------------------------------


def test_comment_becomes_a_ticket_and_the_reply_lands_under_it(stack: Stack) -> None:
    post_id = stack.meta.add_post(PAGE_ID, "New mugs!")
    comment = stack.meta.customer_comment(PAGE_ID, post_id=post_id, text="Is the blue one dishwasher safe?",
                                          user_id="31337", user_name="Jane Roe")  # fmt: skip
    ticket = one_ticket(stack)
    requester = stack.helpdesk.user(ticket["requester_id"])
    assert requester["name"] == "Jane Roe" and requester["external_id"] == "facebook:31337"
    assert ticket["external_id"] == f"facebook:{PAGE_ID}:comment:{comment.comment_id}"
    assert set(ticket["tags"]) >= {"socialdesk", "facebook", "acme-facebook"}
    assert ticket["subject"].startswith("Facebook comment from Jane Roe")
    [first] = stack.helpdesk.comments(ticket["id"])
    assert first["author_id"] == ticket["requester_id"] and first["public"]
    assert first["body"].startswith("Is the blue one dishwasher safe?")
    assert post_id in first["body"]  # the link to the post

    reply_and_notify(stack, ticket["id"], "Yes, it is!")
    stack.wait_for(lambda: stack.meta.comment_replies)
    settle(stack)
    assert [(r["parent_id"], r["message"]) for r in stack.meta.comment_replies] == [(comment.comment_id, "Yes, it is!")]
    [delivery] = stack.store.rows("deliveries")
    assert delivery["status"] == "sent" and stack.meta.comment_replies[0]["id"] in delivery["message_ids"]


def test_messenger_conversation_both_ways(stack: Stack) -> None:
    message = stack.meta.customer_message(PAGE_ID, psid="424242", text="Where is my order?")
    ticket = one_ticket(stack)
    assert ticket["external_id"] == f"facebook:{PAGE_ID}:messenger:424242"
    assert "messenger" in ticket["tags"]
    assert stack.helpdesk.user(ticket["requester_id"])["external_id"] == "facebook:424242"
    reply_and_notify(stack, ticket["id"], "It left our warehouse today.", style="trigger")
    stack.wait_for(lambda: stack.meta.sent_messages)
    settle(stack)
    [sent] = stack.meta.sent_messages
    assert (sent["recipient"], sent["messaging_type"], sent["text"]) == (message.psid, "RESPONSE",
                                                                        "It left our warehouse today.")  # fmt: skip


def test_messenger_customers_get_their_profile_name_once(stack: Stack) -> None:
    stack.meta.set_profile(PAGE_ID, "5150", "Ada", "Lovelace")
    stack.meta.customer_message(PAGE_ID, psid="5150", text="Hi")
    ticket = one_ticket(stack)
    assert stack.helpdesk.user(ticket["requester_id"])["name"] == "Ada Lovelace"
    assert ticket["subject"].startswith("Messenger message from Ada Lovelace")
    stack.meta.customer_message(PAGE_ID, psid="5150", text="Still there?")
    stack.wait_for(lambda: len(stack.helpdesk.comments(ticket["id"])) == 2)
    lookups = [c for c in stack.meta.calls if c.method == "GET" and c.path.endswith("/5150")]
    assert len(lookups) == 1 and lookups[0].query.get("fields") == "first_name,last_name"


def test_a_refused_profile_lookup_still_opens_the_ticket(stack: Stack) -> None:
    stack.meta.customer_message(PAGE_ID, psid="5151", text="Hello")  # no profile access for this person
    ticket = one_ticket(stack)
    assert stack.helpdesk.user(ticket["requester_id"])["name"] == "user 5151"


def test_follow_ups_join_the_ticket_as_the_customers_words(stack: Stack) -> None:
    post_id = stack.meta.add_post(PAGE_ID, "Sale")
    first = stack.meta.customer_comment(PAGE_ID, post_id=post_id, text="Hello?", user_id="9", user_name="Kim")
    ticket = one_ticket(stack)
    settle(stack)
    lookups = requester_calls(stack)
    stack.meta.customer_comment(PAGE_ID, parent_id=first.comment_id, text="Anyone there?", user_id="9", user_name="Kim")
    stack.wait_for(lambda: len(stack.helpdesk.comments(ticket["id"])) == 2)
    settle(stack)
    assert len(tickets(stack)) == 1
    follow_up = stack.helpdesk.comments(ticket["id"])[1]
    assert follow_up["author_id"] == ticket["requester_id"] and follow_up["public"]
    assert follow_up["body"].startswith("Anyone there?")
    assert lookups and requester_calls(stack) == lookups  # the requester is cached: no lookup for a follow-up


def test_a_reply_on_a_ticket_replaced_by_a_follow_up_is_still_delivered(tmp_path: Path, helpdesk: str) -> None:
    """The agent answers and closes the ticket ("send and close"); Messenger throttles, so the reply waits;
    meanwhile the customer writes again and gets a follow-up ticket. The waiting reply must still reach the
    customer: it was marked "ignored" for good, since its ticket was no longer the thread's current one."""
    with Stack(tmp_path, helpdesk=helpdesk, start_worker=False) as stack:
        rt = step_runtime(stack)
        key = f"facebook:{PAGE_ID}:messenger:717"
        stack.meta.customer_message(PAGE_ID, psid="717", text="Refund done?")
        inbound.process_thread(rt, key, "worker-1")
        [first] = tickets(stack)
        stack.helpdesk.agent_comment(first["id"], "Yes, refunded this morning.", public=True)
        stack.helpdesk.set_status(first["id"], "closed")
        stack.helpdesk.fire_webhook(first["id"])
        stack.meta.throttle(times=1, regain_minutes=1)
        assert outbound.sync_ticket(rt, helpdesk, str(first["id"]), "worker-1") == 0  # postponed
        stack.meta.customer_message(PAGE_ID, psid="717", text="Hello??")
        inbound.process_thread(rt, key, "worker-1")
        assert len(tickets(stack)) == 2  # the follow-up is now the thread's ticket

        with stack.store.begin() as conn:  # a minute later: the page's request limit is back
            conn.execute(sa.delete(pauses))
        assert outbound.sync_ticket(rt, helpdesk, str(first["id"]), "worker-1") == 1  # the retry
        assert [m["text"] for m in stack.meta.sent_messages] == ["Yes, refunded this morning."]
        assert stack.store.counts("ticket_events") == {"done": 1}


def test_solved_ticket_is_reopened_and_closed_ticket_gets_a_follow_up(stack: Stack) -> None:
    stack.meta.customer_message(PAGE_ID, psid="77", text="first")
    ticket = one_ticket(stack)
    stack.helpdesk.set_status(ticket["id"], "solved")
    stack.meta.customer_message(PAGE_ID, psid="77", text="it broke again")
    stack.wait_for(lambda: status_of(stack, stack.helpdesk.tickets[0]) == "open")
    stack.helpdesk.set_status(ticket["id"], "closed")
    stack.meta.customer_message(PAGE_ID, psid="77", text="and again!")
    stack.wait_for(lambda: len(tickets(stack)) == 2)
    settle(stack)
    follow = tickets(stack)[1]
    if stack.helpdesk_name == "zendesk":
        assert follow["via"]["source"]["rel"] == "follow_up"
        assert follow["via"]["source"]["from"]["ticket_id"] == ticket["id"]
        assert tickets(stack)[0]["followup_ids"] == [follow["id"]]
    else:  # Freshdesk has no follow-up link: the new ticket names the old one
        assert str(ticket["id"]) in stack.helpdesk.comments(follow["id"])[0]["body"]
    assert "and again!" in stack.helpdesk.comments(follow["id"])[0]["body"]
    [thread] = stack.store.rows("threads")
    assert thread["ticket_id"] == str(follow["id"])  # replies now go through the new ticket
    reply_and_notify(stack, follow["id"], "Sorry! Sending a new one.")
    stack.wait_for(lambda: stack.meta.sent_messages)
    assert stack.meta.sent_messages[0]["recipient"] == "77"


def test_every_closed_ticket_makes_way_for_a_follow_up_with_the_customers_words(tmp_path: Path, helpdesk: str) -> None:
    """Three messages, each after the agent closed the thread's ticket: three tickets, each opened with its
    message. The third create must not take the first (closed) ticket, still carrying the thread key, for
    one an earlier attempt made: that would mark the message done with its words written nowhere."""
    with Stack(tmp_path, helpdesk=helpdesk, start_worker=False) as stack:
        rt, key = step_runtime(stack), f"facebook:{PAGE_ID}:messenger:718"
        for n, text in enumerate(["Order 1 is late", "Order 2 is late", "Order 3 is late"], start=1):
            stack.meta.customer_message(PAGE_ID, psid="718", text=text)
            assert inbound.process_thread(rt, key, "worker-1") == 1
            assert len(tickets(stack)) == n
            latest = tickets(stack)[-1]
            assert text in stack.helpdesk.comments(latest["id"])[0]["body"]
            assert stack.store.thread(key).ticket_id == str(latest["id"])  # type: ignore[union-attr]
            stack.helpdesk.set_status(latest["id"], "closed")
        assert stack.store.counts("inbox") == {"done": 3}


def test_a_follow_up_whose_create_died_before_its_call_opens_a_new_ticket(tmp_path: Path, helpdesk: str) -> None:
    """A worker died after recording "create started" for the thread's third ticket, before its call. The
    next attempt looks first and must not take one of the thread's earlier tickets for the lost one: not the
    closed first one, nor (Freshdesk, where agents may reopen a closed ticket) that one reopened."""
    with Stack(tmp_path, helpdesk=helpdesk, start_worker=False) as stack:
        rt, key = step_runtime(stack), f"facebook:{PAGE_ID}:messenger:719"
        for text in ("Order 1 is late", "Order 2 is late"):
            stack.meta.customer_message(PAGE_ID, psid="719", text=text)
            inbound.process_thread(rt, key, "worker-1")
            stack.helpdesk.set_status(tickets(stack)[-1]["id"], "closed")
        first, second = (t["id"] for t in tickets(stack))
        if helpdesk == "freshdesk":  # an agent reopens the first (closed is final on Zendesk) and deletes the second
            stack.helpdesk.set_status(first, "open")
            stack.helpdesk.set_status(second, "deleted")
        stack.store.update_thread(key, create_started_at=time.time())  # the dead worker's record
        stack.meta.customer_message(PAGE_ID, psid="719", text="Order 3 is late")
        assert inbound.process_thread(rt, key, "worker-1") == 1
        third = tickets(stack)[-1]
        assert third["id"] not in (first, second)
        assert "Order 3 is late" in stack.helpdesk.comments(third["id"])[0]["body"]
        assert stack.store.thread(key).ticket_id == str(third["id"])  # type: ignore[union-attr]


def delete_ticket(stack: Stack, ticket_id: int) -> None:
    """An agent deletes the ticket: on Zendesk through Delete Ticket (204; then 404 on every call about it),
    on Freshdesk as its simulator plays a soft delete (``deleted: true``, refused for notes)."""
    if stack.helpdesk_name == "freshdesk":
        stack.helpdesk.set_status(ticket_id, "deleted")
        return
    url = f"{stack.zendesk.url}/api/v2/tickets/{ticket_id}.json"
    assert requests.delete(url, auth=(f"{ZENDESK_EMAIL}/token", ZENDESK_TOKEN), timeout=10).status_code == 204


def test_a_deleted_ticket_makes_way_for_a_new_ticket_with_the_customers_words(stack: Stack) -> None:
    """An agent deleted the thread's ticket, then the customer wrote again: on Zendesk, which answers 404 for a
    deleted ticket, the message was dead-lettered. It opens a new ticket (tagged as a new thread's, no follow-up
    link: Zendesk links closed tickets only) with a note naming the deleted one, and the answer reaches them."""
    stack.meta.customer_message(PAGE_ID, psid="79", text="Where is order 5?")
    first = one_ticket(stack)
    settle(stack)
    delete_ticket(stack, first["id"])
    stack.meta.customer_message(PAGE_ID, psid="79", text="Hello?? Order 5!")
    new = stack.wait_for(lambda: len(tickets(stack)) == 2 and tickets(stack)[1])
    settle(stack)
    assert stack.store.rows("dead_letters") == [] and stack.store.counts("inbox") == {"done": 2}
    assert "Hello?? Order 5!" in stack.helpdesk.comments(new["id"])[0]["body"]
    assert sorted(new["tags"]) == sorted(first["tags"]) and "messenger" in new["tags"]
    assert [n for n in notes(stack, new["id"]) if f"#{first['id']}" in n and "deleted" in n]
    if stack.helpdesk_name == "zendesk":
        assert new["via"]["source"]["rel"] is None
    assert stack.store.rows("threads")[0]["ticket_id"] == str(new["id"])
    reply_and_notify(stack, new["id"], "Order 5 ships today.")
    stack.wait_for(lambda: stack.meta.sent_messages)
    assert [(m["recipient"], m["text"]) for m in stack.meta.sent_messages] == [("79", "Order 5 ships today.")]


def test_an_edit_after_the_ticket_was_deleted_opens_a_new_ticket_and_an_unsend_is_ignored(stack: Stack) -> None:
    """An edit's new text on a deleted ticket was dead-lettered (Zendesk's 404 to its note): it is the customer's
    message, in a new ticket. An unsend there has nothing left to note: ignored, with the reason."""
    post_id = stack.meta.add_post(PAGE_ID, "Spring menu")
    comment = stack.meta.customer_comment(PAGE_ID, post_id=post_id, text="Soup vegan?", user_id="4501", user_name="Bea")
    first = one_ticket(stack)
    settle(stack)
    delete_ticket(stack, first["id"])
    stack.meta.customer_edit_comment(comment.comment_id, "Is the soup vegan? I am allergic to milk.")
    new = stack.wait_for(lambda: len(tickets(stack)) == 2 and tickets(stack)[1])
    message = stack.meta.customer_message(PAGE_ID, psid="4502", text="my card number is 4111...")
    unsent = stack.wait_for(lambda: len(tickets(stack)) == 3 and tickets(stack)[2])
    settle(stack)
    assert stack.helpdesk.comments(new["id"])[0]["body"].startswith("[edited] Is the soup vegan? I am allergic")
    assert [n for n in notes(stack, new["id"]) if f"#{first['id']}" in n]
    delete_ticket(stack, unsent["id"])
    stack.meta.customer_unsend(PAGE_ID, psid="4502", mid=message.mid)
    stack.wait_for(lambda: "remove on a deleted ticket" in [r["last_error"] for r in stack.store.rows("inbox")])
    settle(stack)
    assert stack.store.rows("dead_letters") == [] and len(tickets(stack)) == 3


def test_a_not_found_for_a_freshdesk_agent_without_global_scope_is_a_dead_letter_not_a_second_ticket(
    tmp_path: Path,
) -> None:
    """An agent with group scope may get "not found" about a live ticket outside its scope (Freshdesk documents no
    status for it): the worker must not take it for a deleted ticket and open a duplicate. The message is a dead
    letter saying why (replayable once the agent has global access), and the thread keeps its ticket."""
    with Stack(tmp_path, helpdesk="freshdesk", freshdesk={"api_agent_ticket_scope": 2}) as stack:
        stack.meta.customer_message(PAGE_ID, psid="81", text="Where is order 8?")
        first = one_ticket(stack)
        settle(stack)
        stack.freshdesk.inject(Fault(404, method="GET", path_prefix=f"/api/v2/tickets/{first['id']}"))
        stack.meta.customer_message(PAGE_ID, psid="81", text="Hello?? Order 8!")
        [dead] = stack.wait_for(lambda: stack.store.rows("dead_letters"))
        settle(stack)
        assert len(tickets(stack)) == 1 and stack.store.rows("threads")[0]["ticket_id"] == str(first["id"])
        assert f"ticket {first['id']} was not found" in dead["error"] and "deleted, or hidden from it?" in dead["error"]


def impatient_runtime(stack: Stack) -> tuple[Runtime, WallClock]:
    """A step-by-step worker whose helpdesk calls time out after 0.5 s, and the clock its retries wait by."""
    section = stack.config.helpdesk_section
    impatient = replace(stack.config, helpdesk_section=replace(section, values={**section.values, "timeout": 0.5}))
    later = WallClock()
    return step_runtime(stack, clock=later, config=impatient), later


def test_a_new_ticket_for_a_deleted_one_is_made_once_when_its_answer_is_lost(tmp_path: Path, helpdesk: str) -> None:
    """The create that replaces a deleted ticket times out after the helpdesk made it: the retry looks first
    (the thread's row still names the deleted ticket, which Zendesk no longer finds) and makes no second one."""
    with Stack(tmp_path, helpdesk=helpdesk, start_worker=False) as stack:
        rt, later = impatient_runtime(stack)
        key = f"facebook:{PAGE_ID}:messenger:63"
        stack.meta.customer_message(PAGE_ID, psid="63", text="first words")
        inbound.process_thread(rt, key, "worker-1")
        delete_ticket(stack, tickets(stack)[0]["id"])
        stack.helpdesk.slow_after_commit("/api/v2/tickets", "POST", seconds=2)
        stack.meta.customer_message(PAGE_ID, psid="63", text="second words")
        inbound.process_thread(rt, key, "worker-1")
        assert len(tickets(stack)) == 2 and stack.store.counts("inbox") == {"done": 1, "pending": 1}
        later.advance(3600)
        inbound.process_thread(rt, key, "worker-1")  # the retry, once it is due
        assert stack.store.counts("inbox") == {"done": 2} and stack.store.rows("dead_letters") == []
        new = tickets(stack)[-1]
        assert len(tickets(stack)) == 2 and "second words" in stack.helpdesk.comments(new["id"])[0]["body"]
        assert stack.store.rows("threads")[0]["ticket_id"] == str(new["id"])


def test_words_written_before_the_ticket_was_deleted_go_to_a_new_ticket(tmp_path: Path, helpdesk: str) -> None:
    """The customer's follow-up reached the ticket, but its answer was lost (timeout); before the retry an agent
    deleted the ticket. The retry's look-first must not call the message written: its words are on a deleted
    ticket no agent works. Zendesk's 404 there already gave a new ticket; Freshdesk found the words in the
    trash and marked the message done."""
    with Stack(tmp_path, helpdesk=helpdesk, start_worker=False) as stack:
        rt, later = impatient_runtime(stack)
        key = f"facebook:{PAGE_ID}:messenger:64"
        stack.meta.customer_message(PAGE_ID, psid="64", text="first words")
        inbound.process_thread(rt, key, "worker-1")
        first = tickets(stack)[0]["id"]
        stack.helpdesk.slow_after_commit("/api/v2/tickets", "PUT" if helpdesk == "zendesk" else "POST", seconds=2)
        stack.meta.customer_message(PAGE_ID, psid="64", text="second words")
        inbound.process_thread(rt, key, "worker-1")  # written, its answer lost: postponed, marked attempted
        assert stack.store.counts("inbox") == {"done": 1, "pending": 1}
        delete_ticket(stack, first)
        later.advance(3600)
        inbound.process_thread(rt, key, "worker-1")
        assert stack.store.counts("inbox") == {"done": 2} and stack.store.rows("dead_letters") == []
        new = tickets(stack)[-1]
        assert new["id"] != first and "second words" in stack.helpdesk.comments(new["id"])[0]["body"]
        assert stack.store.thread(key).ticket_id == str(new["id"])  # type: ignore[union-attr]


# -- nothing doubled -------------------------------------------------------------------------------------------


def test_fifty_redeliveries_make_one_ticket_and_one_comment(stack: Stack) -> None:
    event = stack.meta.customer_message(PAGE_ID, psid="55", text="Refund please", send=False)
    responses = stack.meta.deliver(event.payload, times=50)
    assert {r.status_code for r in responses} == {200}
    ticket = one_ticket(stack)
    settle(stack)
    time.sleep(0.5)
    assert len(tickets(stack)) == 1
    assert len(stack.helpdesk.comments(ticket["id"])) == 1


def test_two_concurrent_first_messages_make_one_ticket_in_platform_order(stack: Stack) -> None:
    now = datetime.now(UTC)
    early = stack.meta.customer_message(PAGE_ID, psid="66", text="part one", timestamp=now - timedelta(seconds=2),
                                        send=False)  # fmt: skip
    late = stack.meta.customer_message(PAGE_ID, psid="66", text="part two", timestamp=now, send=False)
    barrier = threading.Barrier(2)

    def send(payload: dict[str, Any]) -> None:
        barrier.wait()
        stack.meta.deliver(payload)

    threads = [threading.Thread(target=send, args=(e.payload,)) for e in (late, early)]  # late arrives first
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ticket = stack.wait_for(lambda: tickets(stack) and len(stack.helpdesk.comments(tickets(stack)[0]["id"])) == 2
                            and tickets(stack)[0])  # fmt: skip
    settle(stack)
    assert len(tickets(stack)) == 1
    bodies = [c["body"].split("\n")[0] for c in stack.helpdesk.comments(ticket["id"])]
    assert bodies in (["part one", "part two"], ["part two", "part one"])
    if stack.store.rows("threads")[0]["last_inbound_message_id"] != late.mid:
        pytest.fail("the thread's latest message must be the one with the latest platform timestamp")


def test_repeated_webhooks_never_post_a_reply_twice(stack: Stack) -> None:
    stack.meta.customer_message(PAGE_ID, psid="88", text="hi")
    ticket = one_ticket(stack)
    reply_and_notify(stack, ticket["id"], "Hello!")
    for _ in range(5):
        stack.helpdesk.fire_webhook(ticket["id"], style="trigger")
    stack.wait_for(lambda: stack.meta.sent_messages)
    settle(stack)
    time.sleep(0.5)
    assert [s["text"] for s in stack.meta.sent_messages] == ["Hello!"]


# -- no loops, no leaks -----------------------------------------------------------------------------------------


def test_echoes_of_our_own_replies_are_dropped(stack: Stack) -> None:
    stack.meta.echoes = True
    post_id = stack.meta.add_post(PAGE_ID, "x")
    stack.meta.customer_comment(PAGE_ID, post_id=post_id, text="help", user_id="12", user_name="Al")
    stack.meta.customer_message(PAGE_ID, psid="13", text="help too")
    stack.wait_for(lambda: len(tickets(stack)) == 2)
    for ticket in tickets(stack):
        reply_and_notify(stack, ticket["id"], "On it.")
    stack.wait_for(lambda: stack.meta.comment_replies and stack.meta.sent_messages)
    settle(stack)
    echoes = [status for _, status in stack.meta.deliveries[2:]]
    assert echoes == [200, 200]  # the echoes were delivered and acknowledged...
    # ...and produced nothing but their record as ignored
    assert sorted(r["status"] for r in stack.store.rows("inbox")) == ["done", "done", "ignored", "ignored"]
    assert len(tickets(stack)) == 2
    assert all(len(stack.helpdesk.comments(t["id"])) == 2 for t in tickets(stack))


def test_internal_notes_are_never_posted(stack: Stack) -> None:
    stack.meta.customer_message(PAGE_ID, psid="21", text="hi")
    ticket = one_ticket(stack)
    stack.helpdesk.agent_comment(ticket["id"], "INTERNAL: fraud suspected", public=False)
    stack.helpdesk.fire_webhook(ticket["id"])
    settle(stack)
    time.sleep(0.3)
    assert stack.meta.sent_messages == [] and stack.meta.comment_replies == []
    reply_and_notify(stack, ticket["id"], "Public answer")
    stack.wait_for(lambda: stack.meta.sent_messages)
    settle(stack)
    assert [s["text"] for s in stack.meta.sent_messages] == ["Public answer"]


def test_a_tagged_ticket_is_answered_privately(stack: Stack) -> None:
    # The agent tags the ticket instead of typing the marker: every reply of that ticket goes privately.
    post_id = stack.meta.add_post(PAGE_ID, "Sale")
    comment = stack.meta.customer_comment(PAGE_ID, post_id=post_id, text="My card was charged twice", user_id="808",
                                          user_name="Ola")  # fmt: skip
    ticket = one_ticket(stack)
    stack.helpdesk.add_tags(ticket["id"], "socialdesk_private")
    reply_and_notify(stack, ticket["id"], "Refund R-77 is on its way.")
    stack.wait_for(lambda: stack.meta.sent_messages and stack.meta.comment_replies)
    settle(stack)
    [private] = stack.meta.sent_messages
    assert (private["recipient"], private["text"]) == ("808", "Refund R-77 is on its way.")
    [public] = stack.meta.comment_replies
    assert public["parent_id"] == comment.comment_id and "R-77" not in public["message"]


# -- telling the agent -----------------------------------------------------------------------------------------


def test_closed_window_expired_token_and_deleted_post_become_notes(stack: Stack) -> None:
    old = datetime.now(UTC) - timedelta(days=8)
    stack.meta.customer_message(PAGE_ID, psid="31", text="old question", timestamp=old)
    post_id = stack.meta.add_post(PAGE_ID, "p")
    comment = stack.meta.customer_comment(PAGE_ID, post_id=post_id, text="q", user_id="32", user_name="Bo")
    stack.wait_for(lambda: len(tickets(stack)) == 2)
    by_key = {t["external_id"].split(":")[2]: t for t in tickets(stack)}
    stack.meta.delete_comment(comment.comment_id, send=False)
    reply_and_notify(stack, by_key["messenger"]["id"], "Late answer")
    reply_and_notify(stack, by_key["comment"]["id"], "Answer to a deleted comment")
    stack.wait_for(lambda: notes(stack, by_key["messenger"]["id"]) and notes(stack, by_key["comment"]["id"]))
    settle(stack)
    assert "reply window has closed" in notes(stack, by_key["messenger"]["id"])[0]
    assert "deleted" in notes(stack, by_key["comment"]["id"])[0]
    assert stack.meta.sent_messages == [] and stack.meta.comment_replies == []
    assert {d["status"] for d in stack.store.rows("deliveries")} == {"failed"}

    stack.meta.customer_message(PAGE_ID, psid="33", text="new")
    stack.wait_for(lambda: len(tickets(stack)) == 3)
    stack.meta.expire_token(PAGE_ID)
    reply_and_notify(stack, tickets(stack)[2]["id"], "hi")
    stack.wait_for(lambda: notes(stack, tickets(stack)[2]["id"]))
    assert "expired" in notes(stack, tickets(stack)[2]["id"])[0]


def test_unknown_outcome_is_flagged_not_resent(tmp_path: Path, helpdesk: str) -> None:
    options = {"redispatch_after": 2}
    with Stack(tmp_path, helpdesk=helpdesk, channel_options={"timeout": 1}, bridge_options=options) as stack:
        unknown_outcome(stack)


def unknown_outcome(stack: Stack) -> None:
    stack.meta.customer_message(PAGE_ID, psid="41", text="hello")
    ticket = one_ticket(stack)
    stack.meta.slow_down(3)  # longer than the connector's read timeout: it was posted, we never hear back
    reply_and_notify(stack, ticket["id"], "Here you go")
    stack.wait_for(lambda: notes(stack, ticket["id"]), timeout=20)
    stack.helpdesk.fire_webhook(ticket["id"])  # the agent nudges it: still not resent
    settle(stack)
    assert len(stack.meta.sent_messages) == 1
    assert "does not know whether the reply" in notes(stack, ticket["id"])[0]
    assert stack.store.rows("deliveries")[0]["status"] == "unknown"


# -- rate limits and crashes --------------------------------------------------------------------------------------


def test_a_429_storm_from_zendesk_delays_but_delivers_everything(stack: Stack) -> None:
    stack.helpdesk.inject(Fault(429, times=8, path_prefix="/api/v2/", headers={"Retry-After": "1"},
                               body={"error": "APIRateLimitExceeded"}))  # fmt: skip
    stack.helpdesk.inject(Fault(503, times=2, path_prefix="/api/v2/tickets"))
    for i in range(5):
        stack.meta.customer_message(PAGE_ID, psid=f"50{i}", text=f"message {i}")
    stack.wait_for(lambda: len(tickets(stack)) == 5, timeout=60)
    settle(stack, timeout=60)
    for ticket in tickets(stack):
        reply_and_notify(stack, ticket["id"], f"reply to {ticket['id']}")
    stack.wait_for(lambda: len(stack.meta.sent_messages) == 5, timeout=60)
    assert stack.store.counts("inbox") == {"done": 5}
    assert sorted(s["recipient"] for s in stack.meta.sent_messages) == [f"50{i}" for i in range(5)]


def test_a_chatty_customer_over_zendesks_ticket_limit_holds_back_only_their_own_thread(tmp_path: Path) -> None:
    """Zendesk allows 30 updates per 10 minutes per ticket. A customer who writes more sees the rest wait,
    in order, until the window frees up; that 429 used to pause Zendesk for every worker, so no other
    customer's message reached its ticket for those minutes."""
    clock = WallClock()  # the simulator's and the worker's: ten minutes pass when the test says so
    with Stack(tmp_path, start_worker=False, zendesk={"clock": clock}) as stack:
        rt = step_runtime(stack, clock=clock)
        chatty, quiet = f"facebook:{PAGE_ID}:messenger:3030", f"facebook:{PAGE_ID}:messenger:4040"
        start = time.time() - 60
        stack.meta.customer_message(PAGE_ID, psid="4040", text="hello", timestamp=start)
        inbound.process_thread(rt, quiet, "worker-1")
        texts = [f"chatty {i}" for i in range(34)]  # a new ticket, 30 updates, and 3 more over the limit
        for i, text in enumerate(texts):
            stack.meta.customer_message(PAGE_ID, psid="3030", text=text, timestamp=start + 1 + i)
        inbound.process_thread(rt, chatty, "worker-1")
        assert stack.store.counts("inbox") == {"done": 32, "pending": 3}

        stack.meta.customer_message(PAGE_ID, psid="4040", text="any news?", timestamp=start + 50)
        inbound.process_thread(rt, quiet, "worker-1")
        assert stack.store.counts("inbox") == {"done": 33, "pending": 3}
        by_key = {t["external_id"]: t["id"] for t in tickets(stack)}
        assert stack.helpdesk.comments(by_key[quiet])[-1]["body"].startswith("any news?")

        clock.advance(600)  # the ticket's window frees up, and the waiting message is due
        inbound.process_thread(rt, chatty, "worker-1")
        assert stack.store.counts("inbox") == {"done": 36}
        bodies = [c["body"] for c in stack.helpdesk.comments(by_key[chatty])]
        assert [b.split("\n")[0] for b in bodies] == texts
        assert stack.store.rows("dead_letters") == []


def test_newer_messages_wait_behind_a_postponed_one_without_trying_it_early(tmp_path: Path, helpdesk: str) -> None:
    """Each message a waiting customer adds wakes the thread; the postponed message used to be tried again at
    once every time, one failing call and one attempt each, until 25 attempts dead-lettered it."""
    later = WallClock()
    with Stack(tmp_path, helpdesk=helpdesk, start_worker=False) as stack:
        rt = step_runtime(stack, clock=later)
        key = f"facebook:{PAGE_ID}:messenger:88"
        busy = Fault(503, path_prefix=REQUESTER_PATHS[helpdesk], headers={"Retry-After": "600"})
        stack.helpdesk.inject(busy)  # back in ten minutes: the message is postponed that long
        stack.meta.customer_message(PAGE_ID, psid="88", text="first")
        inbound.process_thread(rt, key, "worker-1")  # postponed
        calls = len(stack.helpdesk.calls)
        for n in range(30):
            stack.meta.customer_message(PAGE_ID, psid="88", text=f"more {n}")
            inbound.process_thread(rt, key, "worker-1")  # the dispatcher takes each new message
        assert len(stack.helpdesk.calls) == calls and stack.store.counts("inbox") == {"pending": 31}
        assert {r["attempts"] for r in stack.store.rows("inbox")} == {0, 1}

        later.advance(3600)
        inbound.process_thread(rt, key, "worker-1")
        assert stack.store.counts("inbox") == {"done": 31}
        [ticket] = tickets(stack)
        assert len(stack.helpdesk.comments(ticket["id"])) == 31


def test_a_call_slower_than_the_lease_keeps_the_thread_to_one_worker(tmp_path: Path, helpdesk: str) -> None:
    # The requester call hangs for three lease lengths, then fails and is retried. Meanwhile the dispatcher
    # hands the thread out again and another worker asks for it: the lease, kept alive, must refuse it.
    options = {"lease_seconds": 2, "redispatch_after": 1}
    with Stack(tmp_path, helpdesk=helpdesk, bridge_options=options) as stack:
        stack.helpdesk.inject(Fault(503, path_prefix=REQUESTER_PATHS[helpdesk], delay=6))
        stack.meta.customer_message(PAGE_ID, psid="77", text="first")
        stack.wait_for(lambda: stack.store.counts("inbox") == {"done": 1}, timeout=60)
        stack.stop_worker()  # waits for every running task, the slow one included: both have had their say
        assert len(tickets(stack)) == 1
        assert stack.store.rows("threads")[0]["ticket_id"] == str(tickets(stack)[0]["id"])


def test_a_write_whose_answer_is_lost_is_tried_again_looking_first(tmp_path: Path, helpdesk: str) -> None:
    """A timeout after the helpdesk applied the write (a new ticket, a follow-up): the message was dead-lettered,
    so one slow minute of the helpdesk meant replaying messages by hand. It now waits like an outage, and the
    next attempt finds what was written instead of writing it twice."""
    with Stack(tmp_path, helpdesk=helpdesk, start_worker=False) as stack:
        section = stack.config.helpdesk_section
        impatient = replace(stack.config, helpdesk_section=replace(section, values={**section.values, "timeout": 0.5}))
        later = WallClock()
        rt = step_runtime(stack, clock=later, config=impatient)
        stack.helpdesk.slow_after_commit("/api/v2/tickets", "POST", seconds=2)
        stack.meta.customer_message(PAGE_ID, psid="62", text="hello?")
        key = f"facebook:{PAGE_ID}:messenger:62"
        inbound.process_thread(rt, key, "worker-1")
        assert len(tickets(stack)) == 1 and stack.store.counts("inbox") == {"pending": 1}
        assert stack.store.rows("dead_letters") == []
        later.advance(3600)
        inbound.process_thread(rt, key, "worker-1")  # the retry, once it is due
        assert stack.store.counts("inbox") == {"done": 1}
        assert len(tickets(stack)) == 1
        assert stack.store.rows("threads")[0]["ticket_id"] == str(tickets(stack)[0]["id"])

        ticket_id = tickets(stack)[0]["id"]  # the same for the customer's next message
        stack.helpdesk.slow_after_commit(COMMENT_PATHS[helpdesk].format(ticket_id), COMMENT_METHODS[helpdesk], 2)
        stack.meta.customer_message(PAGE_ID, psid="62", text="anyone?")
        inbound.process_thread(rt, key, "worker-1")
        assert stack.store.counts("inbox") == {"done": 1, "pending": 1} and stack.store.rows("dead_letters") == []
        later.advance(3600)
        inbound.process_thread(rt, key, "worker-1")
        assert stack.store.counts("inbox") == {"done": 2}
        assert [c["body"].count("anyone?") for c in stack.helpdesk.comments(ticket_id)][1:] == [1]


COMMENT_PATHS = {"zendesk": "/api/v2/tickets/{}", "freshdesk": "/api/v2/tickets/{}/notes"}
COMMENT_METHODS = {"zendesk": "PUT", "freshdesk": "POST"}


def test_worker_killed_between_create_and_record_makes_no_second_ticket(tmp_path: Path, helpdesk: str) -> None:
    """And a reply the agent wrote while the ticket was linked to no thread is delivered once it is."""
    options = {"lease_seconds": 3, "redispatch_after": 2}
    with Stack(tmp_path, helpdesk=helpdesk, start_worker=False, bridge_options=options) as stack:
        config = stack.write_config(tmp_path / "socialdesk.toml")
        stack.freshdesk.search_lag = 600  # Freshdesk's search index lags: recovery must not depend on it
        stack.helpdesk.slow_after_commit("/api/v2/tickets", "POST", seconds=30)
        env = {**os.environ, "SOCIALDESK_CONFIG": str(config)}
        worker = subprocess.Popen([sys.executable, "-m", "bridge.cli", "worker", "--concurrency", "1"], env=env,
                                  stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        try:
            stack.meta.customer_message(PAGE_ID, psid="61", text="my parcel is lost")
            stack.wait_for(lambda: len(tickets(stack)) == 1, timeout=30)  # created; the answer never comes
            assert stack.store.rows("threads")[0]["ticket_id"] is None  # ...so it was never recorded
        finally:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        reply_and_notify(stack, tickets(stack)[0]["id"], "We are looking for it.")
        stack.start_worker_now()
        stack.wait_for(lambda: stack.store.rows("threads")[0]["ticket_id"], timeout=30)
        stack.wait_for(lambda: stack.meta.sent_messages, timeout=30)
        settle(stack)
        assert [m["text"] for m in stack.meta.sent_messages] == ["We are looking for it."]
        assert len(tickets(stack)) == 1
        assert stack.store.rows("threads")[0]["ticket_id"] == str(tickets(stack)[0]["id"])
        lookups = [c for c in stack.helpdesk.calls if c.method == "GET" and "tickets" in c.path]
        assert lookups  # recovered by looking the ticket up by its thread key


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_a_gateways_502_after_the_helpdesk_wrote_the_message_does_not_write_it_twice(
    tmp_path: Path, helpdesk: str
) -> None:
    """A proxy's 502 (or a 504 after its timeout) may come after the helpdesk applied the write. The retry policy
    took it for an outage and wrote again in the same call: two tickets for one thread, the customer's follow-up
    twice on its ticket. Now such an answer is an unknown outcome: the event waits, and its next attempt looks for
    the ticket (external_id, the thread-key field) or the comment first."""
    with Stack(tmp_path, helpdesk=helpdesk) as stack:
        stack.helpdesk.lose_answer("/api/v2/tickets", "POST", status=502)  # the create: made, then a 502
        stack.meta.customer_message(PAGE_ID, psid="9103", text="hello there")
        settle(stack)
        [ticket] = tickets(stack)
        comment = "PUT" if helpdesk == "zendesk" else "POST"  # Zendesk: an update; Freshdesk: a note
        stack.helpdesk.lose_answer(f"/api/v2/tickets/{ticket['id']}", comment, status=504)
        stack.meta.customer_message(PAGE_ID, psid="9103", text="second words")
        settle(stack)
        assert [t["id"] for t in tickets(stack)] == [ticket["id"]]
        said = [c["body"] for c in stack.helpdesk.comments(ticket["id"]) if "second words" in c["body"]]
        assert len(said) == 1
        assert stack.store.counts("inbox") == {"done": 2} and stack.store.open_dead_letters() == []
