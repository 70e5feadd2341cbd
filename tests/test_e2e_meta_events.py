"""End to end through real sockets: what a Meta customer (or the page) does besides writing, from the Graph API
simulator through the bridge (web + worker) to the Zendesk simulator: a tapped button, an unsend, a reaction,
a handover, a hidden, edited or removed comment, a WhatsApp user id change in the same POST as a customer's text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.stack import PAGE_ID, WA_PHONE_ID, Stack
from tests.support import notes, one_ticket, reply_and_notify, settle, status_of, tickets, unmarked


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    options = {"lease_seconds": 5, "redispatch_after": 2}
    with Stack(tmp_path, platforms=("facebook", "whatsapp"), bridge_options=options) as running:
        yield running


def ignored(stack: Stack) -> list[str]:
    return [r["last_error"] for r in stack.store.rows("inbox") if r["status"] == "ignored"]


def test_a_tapped_button_reaches_the_ticket_as_the_customers_words(stack: Stack) -> None:
    stack.meta.customer_message(PAGE_ID, psid="4100", text="Where is my parcel?")
    ticket = one_ticket(stack)
    stack.meta.customer_postback(PAGE_ID, psid="4100", title="Track my order", payload="TRACK_ORDER")
    stack.wait_for(lambda: len(stack.helpdesk.comments(ticket["id"])) == 2)
    settle(stack)
    tap = stack.helpdesk.comments(ticket["id"])[1]
    assert tap["public"] and tap["author_id"] == ticket["requester_id"]
    assert tap["body"].startswith("[button tapped] Track my order (payload: TRACK_ORDER)")


def test_a_chat_plugin_guest_gets_a_ticket_and_the_reply(stack: Stack) -> None:
    """A Customer Chat Plugin guest has a ``user_ref``, no PSID: their own thread, answered to that user_ref."""
    stack.meta.customer_postback(PAGE_ID, user_ref="guest-7f3a", title="Talk to us", payload="START")
    ticket = one_ticket(stack)
    assert ticket["external_id"] == f"facebook:{PAGE_ID}:messenger-guest:guest-7f3a"
    assert stack.helpdesk.user(ticket["requester_id"])["external_id"] == "facebook:user_ref:guest-7f3a"
    reply_and_notify(stack, ticket["id"], "Hello! How can we help?")
    stack.wait_for(lambda: stack.meta.sent_messages)
    settle(stack)
    [sent] = stack.meta.sent_messages
    assert (sent["recipient"], sent["text"]) == ("user_ref:guest-7f3a", "Hello! How can we help?")
    assert notes(stack, ticket["id"]) == []  # delivered: nothing to tell the agent


def test_an_unsend_is_a_note_and_reopens_nothing(stack: Stack) -> None:
    message = stack.meta.customer_message(PAGE_ID, psid="4200", text="my card number is 4111...")
    ticket = one_ticket(stack)
    stack.helpdesk.set_status(ticket["id"], "solved")
    stack.meta.customer_unsend(PAGE_ID, psid="4200", mid=message.mid)
    stack.wait_for(lambda: notes(stack, ticket["id"]))
    settle(stack)
    [note] = notes(stack, ticket["id"])
    assert unmarked(note) == f"The customer removed their Messenger message ({message.mid}#deleted) on acme-facebook."
    assert [c["public"] for c in stack.helpdesk.comments(ticket["id"])] == [True, False]  # no "(no text)"
    assert status_of(stack, tickets(stack)[0]) == "solved" and len(tickets(stack)) == 1


def test_reactions_and_handovers_are_notes_and_receipts_are_counted(stack: Stack) -> None:
    message = stack.meta.customer_message(PAGE_ID, psid="4300", text="Thanks for the quick answer")
    ticket = one_ticket(stack)
    stack.meta.customer_reaction(PAGE_ID, psid="4300", mid=message.mid)
    stack.meta.handover(PAGE_ID, psid="4300", control="take_thread_control", metadata="agent took over")
    stack.wait_for(lambda: len(notes(stack, ticket["id"])) == 2)
    settle(stack)
    reaction, handover = map(unmarked, notes(stack, ticket["id"]))
    assert reaction == f"The customer reacted ❤ to a message ({message.mid}) on Messenger."
    assert handover.startswith("Messenger handover: control of this conversation was taken from app 263902037430900")
    stack.meta.customer_reaction(PAGE_ID, psid="4399", mid="m_unknown")  # a thread with no ticket
    stack.wait_for(lambda: "messenger reaction in a thread without a ticket" in ignored(stack))


def test_a_comment_hidden_by_the_page_is_said_to_be_hidden_by_the_page(stack: Stack) -> None:
    post_id = stack.meta.add_post(PAGE_ID, "Our new store")
    comment = stack.meta.customer_comment(PAGE_ID, post_id=post_id, text="Scam!!!", user_id="4400", user_name="Al")
    ticket = one_ticket(stack)
    stack.meta.hide_comment(comment.comment_id)
    stack.wait_for(lambda: notes(stack, ticket["id"]))
    settle(stack)
    [note] = notes(stack, ticket["id"])
    assert unmarked(note) == f"The page hid the Facebook comment {comment.comment_id}. The customer did not remove it."


def test_a_comments_edit_and_removal_are_notes_naming_a_comment(stack: Stack) -> None:
    """The edit's note called the comment a "Facebook message" (its kind is "edit", not "comment"), and so did the
    removal's; an unsend stays a "Messenger message" (test_an_unsend_is_a_note_and_reopens_nothing)."""
    post_id = stack.meta.add_post(PAGE_ID, "Spring menu")
    comment = stack.meta.customer_comment(PAGE_ID, post_id=post_id, text="Soup vegan?", user_id="4600", user_name="Cy")
    ticket = one_ticket(stack)
    stack.meta.customer_edit_comment(comment.comment_id, "Is the soup vegan?")
    stack.wait_for(lambda: notes(stack, ticket["id"]))
    stack.meta.delete_comment(comment.comment_id)
    stack.wait_for(lambda: len(notes(stack, ticket["id"])) == 2)
    settle(stack)
    edited, removed = (unmarked(note) for note in notes(stack, ticket["id"]))
    assert edited.startswith(f"The customer edited their Facebook comment ({comment.comment_id}#edited:")
    assert edited.endswith("). New text:\n\nIs the soup vegan?")
    assert removed.startswith(f"The customer removed their Facebook comment ({comment.comment_id}#remove:")
    assert removed.endswith(") on acme-facebook.")


def test_an_edit_whose_original_was_never_seen_is_the_message_marked_edited(stack: Stack) -> None:
    post_id = stack.meta.add_post(PAGE_ID, "Spring menu")
    comment = stack.meta.customer_comment(PAGE_ID, post_id=post_id, text="(lost)", user_id="4500", user_name="Bea",
                                          send=False)  # its webhook never arrived  # fmt: skip
    stack.meta.customer_edit_comment(comment.comment_id, "Is the soup vegan?")
    ticket = one_ticket(stack)
    assert ticket["external_id"] == f"facebook:{PAGE_ID}:comment:{comment.comment_id}"
    [first] = stack.helpdesk.comments(ticket["id"])
    assert first["public"] and first["body"].startswith("[edited] Is the soup vegan?")
    reply_and_notify(stack, ticket["id"], "It is!")
    stack.wait_for(lambda: stack.meta.comment_replies)
    assert stack.meta.comment_replies[0]["parent_id"] == comment.comment_id


def test_a_whatsapp_user_id_change_and_a_text_in_one_post(stack: Stack) -> None:
    """The system message has no ``from``: the whole POST was a 400, the other customer's text refused with it."""
    stack.meta.whatsapp_message(WA_PHONE_ID, wa_id="US.1001", name="Ana", text="Hi, order 17?")
    ana = one_ticket(stack)
    change = stack.meta.whatsapp_system(WA_PHONE_ID, user_id="US.2002", previous_user_id="US.1001", send=False)
    text = stack.meta.whatsapp_message(WA_PHONE_ID, wa_id="447700900777", name="Ben", text="Do you ship to Leeds?",
                                       send=False)  # fmt: skip
    response = stack.meta.batch([change.payload, text.payload])
    assert response.status_code == 200 and response.json()["stored"] == 2
    stack.wait_for(lambda: len(tickets(stack)) == 2 and notes(stack, ana["id"]))
    settle(stack)
    ben = tickets(stack)[1]
    assert stack.helpdesk.comments(ben["id"])[0]["body"].startswith("Do you ship to Leeds?")
    [note] = notes(stack, ana["id"])
    assert note.startswith("WhatsApp: User's user id changed.") and "new ticket" in note
