"""Every channel end to end through a running bridge and the Zendesk simulator:
customer post → ticket → agent reply → the platform API called with the right target; echoes dropped;
a closed window or a failed delivery told to the agent. No change in ``bridge/`` was needed per channel.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bridge.figbuild import RECEIPT_FAILED
from sandbox.stack import IG_ID, PAGE_ID, PLATFORMS, WA_PHONE_ID, X_USER, Stack
from tests.figfacts import stored_episodes
from tests.support import notes, one_ticket, reply_and_notify, settle, tickets


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with Stack(tmp_path, platforms=PLATFORMS, bridge_options={"redispatch_after": 2}) as running:
        yield running


def answer(stack: Stack, body: str) -> dict[str, Any]:
    ticket = one_ticket(stack)
    reply_and_notify(stack, ticket["id"], body)
    return ticket


def written_by(stack: Stack) -> dict[str, list[str]]:
    """The message ids delivered, by who wrote them (deliveries.author_kind), every row sent."""
    rows = stack.store.rows("deliveries")
    assert {r["status"] for r in rows} == {"sent"}
    return {r["author_kind"]: json.loads(r["message_ids"]) for r in sorted(rows, key=lambda r: r["id"])}


def test_instagram_comment_and_direct_message(stack: Stack) -> None:
    comment = stack.meta.instagram_comment(IG_ID, text="Is this in stock?", user_id="ig-user-1", username="jo")
    ticket = answer(stack, "Yes, in all sizes!")
    assert ticket["external_id"].startswith(f"instagram:{IG_ID}:comment:")
    stack.wait_for(lambda: stack.meta.ig_comment_replies)
    assert stack.meta.ig_comment_replies[0]["parent_id"] == comment.comment_id

    dm = stack.meta.instagram_message(IG_ID, igsid="ig-sid-7", text="Hi there", timestamp=datetime.now(UTC))
    stack.wait_for(lambda: len(tickets(stack)) == 2)
    dm_ticket = tickets(stack)[1]
    reply_and_notify(stack, dm_ticket["id"], "Hello! How can we help?")
    stack.wait_for(lambda: stack.meta.ig_sent_messages)
    settle(stack)
    [sent] = stack.meta.ig_sent_messages
    assert (sent["recipient"], sent["messaging_type"]) == (dm.igsid, "RESPONSE")
    assert len(tickets(stack)) == 2  # the echoes of both replies made nothing


def test_instagram_reply_window_closed_is_told_to_the_agent(stack: Stack) -> None:
    stack.meta.instagram_message(IG_ID, igsid="ig-sid-8", text="old", timestamp=datetime.now(UTC) - timedelta(days=9))
    ticket = answer(stack, "Sorry for the wait")
    stack.wait_for(lambda: notes(stack, ticket["id"]))
    assert "window" in notes(stack, ticket["id"])[0]
    assert stack.meta.ig_sent_messages == []


def test_whatsapp_message_reply_quotes_the_customer_and_a_failed_status_is_told(stack: Stack) -> None:
    message = stack.meta.whatsapp_message(WA_PHONE_ID, wa_id="447700900123", name="Priya", text="Order 42?")
    ticket = answer(stack, "It arrives tomorrow.")
    assert stack.helpdesk.user(ticket["requester_id"])["name"] == "Priya"
    stack.wait_for(lambda: stack.meta.wa_sent_messages)
    [sent] = stack.meta.wa_sent_messages
    assert sent["to"] == "447700900123" and sent["context"] == message.message_id
    stack.meta.whatsapp_status(WA_PHONE_ID, message_id=sent["message_id"], recipient="447700900123", status="failed",
                               error_code=131026)  # fmt: skip
    stack.wait_for(lambda: notes(stack, ticket["id"]))
    assert "131026" in notes(stack, ticket["id"])[0]
    assert stack.store.rows("deliveries")[0]["receipt"] == "failed"
    [episode] = stored_episodes(stack.store)  # the customer never saw it: no response, a failure
    assert stack.store.rows("threads")[0]["episode_answered_at"] is None  # waiting again, on the dashboard too
    assert (episode.answered_by, episode.first_response, episode.failures) == ("none", None, (RECEIPT_FAILED,))


def test_x_mention_is_answered_in_thread_and_our_echo_dropped(stack: Stack) -> None:
    stack.x.echoes = True
    mention = stack.x.customer_post(f"@{stack.x.username} my order is late", user_id="42", username="sam")
    ticket = answer(stack, "Sorry Sam, checking now.")
    assert ticket["external_id"].startswith(f"x:{X_USER}:conversation:")
    stack.wait_for(lambda: any(p.author_id == X_USER for p in stack.x.posts.values()))
    ours = next(p for p in stack.x.posts.values() if p.author_id == X_USER)
    assert ours.in_reply_to == mention.id and ours.text == "Sorry Sam, checking now."
    stack.x.wait_for_webhooks()
    settle(stack)
    assert len(tickets(stack)) == 1 and len(stack.helpdesk.comments(ticket["id"])) == 2


def test_x_direct_message(stack: Stack) -> None:
    stack.x.customer_dm("can you DM me the tracking link?", user_id="43", username="kim")
    answer(stack, "Here it is: https://track.example.com/abc")
    stack.wait_for(lambda: stack.x.sent_dms)
    [sent] = stack.x.sent_dms
    assert (sent["participant_id"], sent["text"]) == ("43", "Here it is: https://track.example.com/abc")


def test_x_direct_message_over_10000_characters_goes_in_parts_x_accepts(stack: Stack) -> None:
    """X takes up to 10,000 characters per direct message, and the simulator refuses more."""
    stack.x.customer_dm("can you send me the whole setup guide?", user_id="44", username="lee")
    step = "unscrew the back panel, check the fuse, then put the panel back. "
    guide = "\n\n".join(f"Step {i}: {step * 8}" for i in range(1, 51))  # about 26,000 characters
    ticket = answer(stack, guide)
    stack.wait_for(lambda: len(stack.x.sent_dms) >= 3 or notes(stack, ticket["id"]))
    settle(stack)
    sent = stack.x.sent_dms
    assert len(guide) > 25_000 and len(sent) == 3
    assert all(dm["participant_id"] == "44" and len(dm["text"]) <= 10_000 for dm in sent)
    assert " ".join(dm["text"] for dm in sent).split() == guide.split()  # all of it, in order
    assert notes(stack, ticket["id"]) == []  # delivered: nothing to tell the agent


def test_telegram_chat_and_edit(stack: Stack) -> None:
    update = stack.telegram.customer_message("Hello bot", user_id=5551, first_name="Ana")
    ticket = answer(stack, "Hi Ana!")
    stack.wait_for(lambda: stack.telegram.sent)
    [sent] = stack.telegram.sent
    assert str(sent["chat_id"]) == str(update.chat_id) and sent["text"] == "Hi Ana!"
    stack.telegram.customer_edit(update, "Hello bot (edited)")
    stack.wait_for(lambda: notes(stack, ticket["id"]))
    assert "edited" in notes(stack, ticket["id"])[0]
    assert len(tickets(stack)) == 1


def test_telegram_forum_topics_are_tickets_of_their_own_answered_in_their_topic(stack: Stack) -> None:
    forum = {"id": -1001700000001, "title": "Acme support", "type": "supergroup", "is_forum": True}
    billing = stack.telegram.customer_message("I was charged twice", user_id=4242, first_name="Ana", chat=forum,
                                              topic=11)  # fmt: skip
    stack.telegram.customer_message("My grinder is broken", user_id=4343, first_name="Bo", chat=forum, topic=12)
    stack.wait_for(lambda: len(tickets(stack)) == 2)
    by_topic = {t["external_id"].rsplit(":", 1)[1]: t for t in tickets(stack)}
    assert sorted(by_topic) == ["11", "12"]
    reply_and_notify(stack, by_topic["11"]["id"], "Refunded, Ana.")
    stack.wait_for(lambda: stack.telegram.sent)
    settle(stack)
    [sent] = stack.telegram.sent
    assert (sent["chat_id"], sent["message_thread_id"], sent["text"]) == (forum["id"], 11, "Refunded, Ana.")
    assert sent["reply_parameters"]["message_id"] == billing.message_id


def test_own_channel_reply_is_signed_and_delivered_to_the_callback(stack: Stack) -> None:
    stack.web.customer_message("Where do I find my invoice?", thread_id="t-1", author_id="u-9", author_name="Lee",
                               email="lee@example.com")  # fmt: skip
    answer(stack, "In Settings → Billing.")
    stack.wait_for(lambda: stack.web.received)
    [received] = stack.web.received  # the simulator refuses anything whose signature does not verify
    assert received["thread_id"] == "t-1" and received["text"] == "In Settings → Billing."


# -- public → private hand-off ---------------------------------------------------------------------------------


def test_private_marker_answers_a_facebook_comment_privately_and_says_so_publicly(stack: Stack) -> None:
    post_id = stack.meta.add_post(PAGE_ID, "Winter sale")
    comment = stack.meta.customer_comment(PAGE_ID, post_id=post_id, text="I was charged twice!", user_id="7007",
                                          user_name="Mo")  # fmt: skip
    ticket = answer(stack, "#private Sorry Mo, your refund code is R-2291.")
    stack.wait_for(lambda: stack.meta.sent_messages and stack.meta.comment_replies)
    settle(stack)
    [private] = stack.meta.sent_messages
    assert (private["recipient"], private["text"]) == ("7007", "Sorry Mo, your refund code is R-2291.")
    [public] = stack.meta.comment_replies
    assert public["parent_id"] == comment.comment_id and public["message"] == "We've sent you a private message."
    assert "R-2291" not in public["message"]
    assert written_by(stack) == {"human": [private["message_id"]], "system": [public["id"]]}  # echoes: dropped
    assert notes(stack, ticket["id"]) == [] and len(tickets(stack)) == 1
    [episode] = stored_episodes(stack.store)  # the agent's private reply answered, the notice is no person's
    assert (episode.answered_by, episode.responses) == ("person", 1)


def test_private_marker_on_x_sends_a_dm_and_a_public_notice(stack: Stack) -> None:
    mention = stack.x.customer_post(f"@{stack.x.username} my account is locked", user_id="4545", username="ria")
    answer(stack, "#private Ria, reset it here: https://acme.example/reset?t=123")
    stack.wait_for(lambda: stack.x.sent_dms and any(p.author_id == X_USER for p in stack.x.posts.values()))
    [dm] = stack.x.sent_dms
    assert dm["participant_id"] == "4545" and "reset?t=123" in dm["text"]
    ours = [p for p in stack.x.posts.values() if p.author_id == X_USER]
    assert [(p.in_reply_to, p.text) for p in ours] == [(mention.id, "We've sent you a private message.")]
    settle(stack)
    assert written_by(stack) == {"human": [dm["id"]], "system": [ours[0].id]}


def test_private_marker_answers_an_instagram_comment_with_a_direct_message(stack: Stack) -> None:
    comment = stack.meta.instagram_comment(IG_ID, text="What's my order status?", user_id="ig-9", username="lu")
    answer(stack, "#private Order 7781 ships Monday.")
    stack.wait_for(lambda: stack.meta.ig_sent_messages and stack.meta.ig_comment_replies)
    settle(stack)
    [private] = stack.meta.ig_sent_messages
    assert (private["recipient"], private["text"]) == ("ig-9", "Order 7781 ships Monday.")
    [public] = stack.meta.ig_comment_replies
    assert public["parent_id"] == comment.comment_id and "7781" not in public["message"]
    assert written_by(stack) == {"human": [private["message_id"]], "system": [public["id"]]}


def test_private_marker_where_no_hand_off_exists_is_refused_not_posted(stack: Stack) -> None:
    stack.meta.instagram_mention(IG_ID)  # a mention in someone else's comment: Instagram has no private reply to it
    ticket = answer(stack, "#private Order 7781 ships Monday.")
    stack.wait_for(lambda: notes(stack, ticket["id"]))
    assert "privately" in notes(stack, ticket["id"])[0]
    assert stack.meta.ig_mention_replies == [] and stack.meta.ig_sent_messages == []


def test_x_a_reply_too_long_for_a_few_posts_is_refused_with_a_note(stack: Stack) -> None:
    """A 12,000-character reply went out as a chain of 88 posts: now nothing is posted and the agent is told
    why on the ticket; a reply of 285 characters is two full posts (was four, the first holding "285")."""
    stack.x.customer_post(f"@{stack.x.username} how do I reset it?", user_id="45", username="max")
    essay = " ".join(f"Step {i}: hold the button for ten seconds, then wait." for i in range(1, 230))
    ticket = answer(stack, essay)
    stack.wait_for(lambda: notes(stack, ticket["id"]))
    [note] = notes(stack, ticket["id"])
    assert len(essay) > 12_000 and "too long" in note and "at most 5" in note and "Nothing was posted" in note
    assert not [p for p in stack.x.posts.values() if p.author_id == X_USER]

    short = "285 " + "characters-without-a-single-space-" * 8 + "x" * 9
    reply_and_notify(stack, ticket["id"], short)
    stack.wait_for(lambda: len([p for p in stack.x.posts.values() if p.author_id == X_USER]) >= 2)
    settle(stack)
    ours = [p.text for p in stack.x.posts.values() if p.author_id == X_USER]
    assert len(short) == 285 and len(ours) == 2
    assert ours[0].startswith("285 characters") and ours[0].endswith(" (1/2)") and len(ours[0]) >= 270
    assert "".join(t.removesuffix(f" ({i}/2)") for i, t in enumerate(ours, 1)).replace(" ", "") == short.replace(
        " ", ""
    )


def test_a_template_sent_instead_of_the_reply_is_the_bridges_words_not_a_response(tmp_path: Path) -> None:
    with Stack(tmp_path, platforms=("whatsapp",), channel_options={"reengagement_template": "hello_world"}) as stack:
        stack.meta.whatsapp_message(WA_PHONE_ID, wa_id="447700900124", text="Order 43?",
                                    timestamp=datetime.now(UTC) - timedelta(days=2))  # fmt: skip
        stack.wait_for(lambda: tickets(stack))
        settle(stack)
        answer(stack, "It arrives tomorrow.")  # outside the 24 hours: the template goes instead, the reply does not
        stack.wait_for(lambda: stack.meta.wa_sent_messages)
        settle(stack)
        [template] = stack.meta.wa_sent_messages
        assert template["type"] == "template" and written_by(stack) == {"system": [template["message_id"]]}
        [episode] = stored_episodes(stack.store)  # the customer got no person's answer
        assert (episode.answered_by, episode.first_response, episode.responses) == ("none", None, 0)
