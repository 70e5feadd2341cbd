"""A 5xx that may come after the write (a proxy's 502 once the platform posted the reply, a 504 after the gateway's
own timeout, Cloudflare's 52x, a 500 mid-write) is an unknown outcome for a write that is not safe to repeat: the
reply, the bot's message, the acknowledgement, the internal note is never written twice. The platform's own "not
now" (503) is retried in the call, as before. Over real sockets: the real clients against the simulators, whose
``lose_answer`` applies the request and then answers the status."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from bridge import acks, errors, inbound, messages, outbound
from bridge.registry import Runtime
from connectors.base import MAYBE_APPLIED, maybe_applied, raise_for_response
from connectors.meta import raise_for_graph
from sandbox.base import Fault
from sandbox.stack import HELPDESKS, IG_ID, PAGE_ID, TG_TOKEN, WA_PHONE_ID, Stack
from tests.support import WallClock, notes, one_ticket, reply_and_notify, step_runtime
from tests.test_e2e_acks import acking, work
from tests.test_outbound import opened, sync


@dataclass(frozen=True)
class Channel:
    """One platform as the test drives it: the customer's first message, where the reply goes, what went out."""

    platform: str
    writes: Callable[[Stack], Any]
    path: Callable[[Stack], str]
    sent: Callable[[Stack], list[str]]


def _x_posts(stack: Stack) -> list[str]:
    return [p.text for p in stack.x.posts.values() if p.author_id == stack.x.user_id]


CHANNELS = {
    "messenger": Channel(
        "facebook",
        lambda s: s.meta.customer_message(PAGE_ID, psid="901", text="Where is my order?"),
        lambda s: f"/{s.meta.version}/{PAGE_ID}/messages",
        lambda s: [m["text"] for m in s.meta.sent_messages],
    ),
    "instagram": Channel(
        "instagram",
        lambda s: s.meta.instagram_message(IG_ID, igsid="ig-901", text="Where is my order?"),
        lambda s: f"/{s.meta.version}/me/messages",
        lambda s: [m["text"] for m in s.meta.ig_sent_messages],
    ),
    "whatsapp": Channel(
        "whatsapp",
        lambda s: s.meta.whatsapp_message(WA_PHONE_ID, wa_id="15551230901", text="Where is my order?"),
        lambda s: f"/{s.meta.version}/{WA_PHONE_ID}/messages",
        lambda s: [m["text"] for m in s.meta.wa_sent_messages],
    ),
    "x-dm": Channel(
        "x",
        lambda s: s.x.customer_dm("Where is my order?", user_id="901", username="ann"),
        lambda s: "/2/dm_conversations/",
        lambda s: [m["text"] for m in s.x.sent_dms],
    ),
    "x-post": Channel(
        "x",
        lambda s: s.x.customer_post(f"@{s.x.username} where is my order?", user_id="902", username="bo"),
        lambda s: "/2/tweets",
        _x_posts,
    ),
    "telegram": Channel(
        "telegram",
        lambda s: s.telegram.customer_message("Where is my order?", user_id=901, first_name="Ann"),
        lambda s: f"/bot{TG_TOKEN}/sendMessage",
        lambda s: [m["text"] for m in s.telegram.sent],
    ),
}
REPLY = "It ships tomorrow."


@pytest.mark.parametrize("name", CHANNELS)
@pytest.mark.parametrize("status", [502, 504, 500, 522])
def test_a_reply_answered_with_a_gateways_5xx_after_it_was_posted_is_posted_once_and_the_agent_told(
    tmp_path: Path, name: str, status: int
) -> None:
    """Before: the policy retried the send within the call: posted twice (Messenger, Instagram, WhatsApp, Telegram),
    or on X refused the second time as duplicate content and the posted reply reported "not delivered"."""
    channel = CHANNELS[name]
    with Stack(tmp_path, start_worker=False, platforms=(channel.platform,)) as stack:
        rt = step_runtime(stack)
        channel.writes(stack)
        ticket = opened(stack, rt)
        reply_and_notify(stack, ticket, REPLY)
        stack_sim(stack, channel).lose_answer(channel.path(stack), "POST", status=status)
        sync(rt, ticket)
        stack.zendesk.fire_webhook(ticket)
        sync(rt, ticket)  # a later change of the ticket: neither sent again nor noted again
        assert channel.sent(stack) == [REPLY]
        [delivery] = stack.store.rows("deliveries")
        assert (delivery["status"], delivery["noted"]) == ("unknown", True)
        [note] = notes(stack, ticket)
        assert note.startswith("socialdesk does not know whether the reply above reached the customer")
        assert "may have been applied" in note
        assert stack.store.counts("ticket_events") == {"done": 2}


@pytest.mark.parametrize("name", CHANNELS)
def test_a_platforms_503_is_retried_in_the_call_and_the_reply_posted_once(tmp_path: Path, name: str) -> None:
    """503 is the platform saying "not now" before doing anything: still retried (guards the line drawn above)."""
    channel = CHANNELS[name]
    with Stack(tmp_path, start_worker=False, platforms=(channel.platform,)) as stack:
        rt = step_runtime(stack)
        channel.writes(stack)
        ticket = opened(stack, rt)
        reply_and_notify(stack, ticket, REPLY)
        stack_sim(stack, channel).inject(Fault(503, method="POST", path_prefix=channel.path(stack)))
        sync(rt, ticket)
        assert channel.sent(stack) == [REPLY] and notes(stack, ticket) == []
        assert [d["status"] for d in stack.store.rows("deliveries")] == ["sent"]


def stack_sim(stack: Stack, channel: Channel) -> Any:
    return {"x": stack.x, "telegram": stack.telegram}.get(channel.platform, stack.meta)


NOTE_WRITE = {"zendesk": ("/api/v2/tickets/", "PUT"), "freshdesk": ("/api/v2/tickets/", "POST")}


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_an_internal_note_answered_with_a_gateways_502_after_it_was_written_is_written_once(
    tmp_path: Path, helpdesk: str
) -> None:
    """The note telling the agent a reply failed: before, retried within the call (two notes); and had the retries
    failed, the row's owed note was written again by the next pass. Now taken as written, and marked noted."""
    with Stack(tmp_path, helpdesk=helpdesk, start_worker=False) as stack:
        rt = step_runtime(stack)
        CHANNELS["messenger"].writes(stack)
        ticket = opened(stack, rt)
        reply_and_notify(stack, ticket, REPLY)
        stack.meta.inject(Fault(400, method="POST", path_prefix=CHANNELS["messenger"].path(stack), body=_BLOCKED))
        path, method = NOTE_WRITE[helpdesk]
        stack.helpdesk.lose_answer(f"{path}{ticket}", method, status=502)
        outbound.sync_ticket(rt, helpdesk, str(ticket), "w-1")
        stack.helpdesk.fire_webhook(ticket)
        outbound.sync_ticket(rt, helpdesk, str(ticket), "w-2")
        [note] = notes(stack, ticket)
        assert note.startswith("socialdesk could not deliver the reply above")
        [delivery] = stack.store.rows("deliveries")
        assert (delivery["status"], delivery["noted"]) == ("failed", True)
        assert stack.store.counts("ticket_events") == {"done": 2} and stack.store.open_dead_letters() == []


@pytest.mark.parametrize("applied", [True, False], ids=["made-then-502", "502-before"])
def test_a_freshdesk_create_answered_502_without_a_thread_key_field_is_found_not_made_twice(
    tmp_path: Path, applied: bool
) -> None:
    """Freshdesk without ``thread_key_field`` (optional): a ticket create answered with a gateway's 502 was a dead
    letter, since nothing could find the ticket it may have made. Its next attempt now lists the requester's tickets
    with their descriptions and takes the one carrying the message's ``ref:`` line; when the 502 came before
    Freshdesk made it, there is none, and the ticket is made then: one ticket either way, the message on it."""
    with Stack(tmp_path, helpdesk="freshdesk", start_worker=False, freshdesk={"thread_key_field": None}) as stack:
        later = WallClock()
        rt = step_runtime(stack, clock=later)
        assert "thread_key_field" not in stack.raw_config()["freshdesk"]
        if applied:
            stack.freshdesk.lose_answer("/api/v2/tickets", "POST", status=502)
        else:
            stack.freshdesk.inject(Fault(502, method="POST", path_prefix="/api/v2/tickets"))
        stack.meta.customer_message(PAGE_ID, psid="9201", text="Where is my order?")
        [row] = stack.store.rows("inbox")
        inbound.process_thread(rt, row["thread_key"], "w-1")
        assert len(stack.freshdesk.tickets) == (1 if applied else 0)
        assert stack.store.counts("inbox") == {"pending": 1} and stack.store.open_dead_letters() == []
        later.advance(3600)  # the retry comes due
        inbound.process_thread(rt, row["thread_key"], "w-1")
        [ticket] = stack.freshdesk.tickets
        assert stack.freshdesk.comments(ticket["id"])[0]["body"].startswith("Where is my order?")
        assert stack.store.counts("inbox") == {"done": 1} and stack.store.open_dead_letters() == []
        assert stack.store.rows("threads")[0]["ticket_id"] == str(ticket["id"])
        [looked] = [c.query for c in stack.freshdesk.calls_to("GET", "/api/v2/tickets") if c.path == "/api/v2/tickets"]
        assert (looked["requester_id"], looked["include"]) == (str(ticket["requester_id"]), "description")


_BLOCKED = {"error": {"message": "(#551) This person isn't available right now.", "type": "OAuthException",
                      "code": 551, "fbtrace_id": "AbCdEf"}}  # fmt: skip


# -- a customer's edit, whose note's answer is lost -----------------------------------------------------------------


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_an_edits_note_answered_with_a_gateways_502_after_it_was_written_is_written_once_and_the_edit_done(
    tmp_path: Path, helpdesk: str
) -> None:
    """Before: the unknown outcome dead-lettered the edit (the customer's action: neither taken as written nor
    written twice), for a person to check the ticket and replay. Now the edit waits, and its next attempt finds
    its note by the note's own mark."""
    with Stack(tmp_path, helpdesk=helpdesk, start_worker=False) as stack:
        clock = WallClock()
        rt = step_runtime(stack, clock=clock)
        comment_id, ticket = _commented(stack, rt)
        path, method = NOTE_WRITE[helpdesk]
        stack.helpdesk.lose_answer(f"{path}{ticket}", method, status=502)
        assert _edited(stack, rt, clock, comment_id, "Is the soup vegan? I am allergic to milk.") == [0, 1]
        [note] = notes(stack, ticket)
        assert note.startswith("The customer edited their") and "allergic to milk" in note
        assert stack.store.counts("inbox") == {"done": 2} and stack.store.open_dead_letters() == []


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_an_edits_note_answered_with_a_gateways_502_before_it_was_written_is_written_by_the_next_attempt(
    tmp_path: Path, helpdesk: str
) -> None:
    """The 502 may come before the helpdesk wrote anything: the next attempt's look finds nothing of this edit,
    neither in the comment's own words (its reference names the comment) nor in an earlier edit's note of the same
    comment, and writes the note, once."""
    with Stack(tmp_path, helpdesk=helpdesk, start_worker=False) as stack:
        clock = WallClock()
        rt = step_runtime(stack, clock=clock)
        comment_id, ticket = _commented(stack, rt)
        assert _edited(stack, rt, clock, comment_id, "Is the soup vegan??") == [1, 0]
        path, method = NOTE_WRITE[helpdesk]
        stack.helpdesk.inject(Fault(502, method=method, path_prefix=f"{path}{ticket}"))  # answered, nothing written
        assert _edited(stack, rt, clock, comment_id, "Is the soup vegan? I am allergic to milk.") == [0, 1]
        first, second = notes(stack, ticket)
        assert "vegan??" in first and "allergic to milk" in second
        assert stack.store.counts("inbox") == {"done": 3} and stack.store.open_dead_letters() == []


def _commented(stack: Stack, rt: Runtime) -> tuple[str, int]:
    """A customer's comment on the page's post, on the ticket it opened: the comment's id, the ticket's."""
    post_id = stack.meta.add_post(PAGE_ID, "Spring menu")
    comment = stack.meta.customer_comment(PAGE_ID, post_id=post_id, text="Soup vegan?", user_id="951", user_name="Bea")
    return comment.comment_id, opened(stack, rt)


def _edited(stack: Stack, rt: Runtime, clock: WallClock, comment_id: str, text: str) -> list[int]:
    """The customer edits the comment; the worker takes the edit, then again once a retry is due: what each
    pass finished."""
    stack.meta.customer_edit_comment(comment_id, text)
    [row] = stack.store.rows("inbox", status="pending")
    done = [inbound.process_thread(rt, row["thread_key"], "w-1")]
    clock.advance(3600)
    return [*done, inbound.process_thread(rt, row["thread_key"], "w-2")]


# -- a customer's message, whose retry must not take a longer mark for its own ----------------------------------


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_a_retry_does_not_take_a_longer_ids_comment_for_its_own(tmp_path: Path, helpdesk: str) -> None:
    """An own channel's message 12, its comment answered 502 before anything was written, is retried (looking
    first) on a ticket that holds message 123's words: ``ref: generic/12`` is in ``ref: generic/123``, so the look
    found "its" comment and marked 12 written, its words nowhere. An own channel's ids are the site's own, in any
    order; Telegram's carry the update id (``<update_id>:<message_id>``), and Messenger's edits ``<mid>#edit1``."""
    with Stack(tmp_path, helpdesk=helpdesk, platforms=("generic",), start_worker=False) as stack:
        clock = WallClock()
        rt = step_runtime(stack, clock=clock)
        _own_message(stack, "123", "Where is my order?")
        ticket = opened(stack, rt)
        _own_message(stack, "12", "I paid it on Monday.")
        path, method = NOTE_WRITE[helpdesk]
        stack.helpdesk.inject(Fault(502, method=method, path_prefix=f"{path}{ticket}"))  # answered, nothing written
        [row] = stack.store.rows("inbox", status="pending")
        assert inbound.process_thread(rt, row["thread_key"], "w-1") == 0  # postponed, marked attempted
        clock.advance(3600)
        assert inbound.process_thread(rt, row["thread_key"], "w-2") == 1
        words = [c["body"] for c in stack.helpdesk.comments(ticket) if c["public"]]
        assert len(words) == 2 and "paid it on Monday" in words[1] and words[1].endswith("\nref: generic/12")
        assert stack.store.counts("inbox") == {"done": 2} and stack.store.open_dead_letters() == []


def _own_message(stack: Stack, message_id: str, text: str) -> None:
    stack.web.customer_message(text, thread_id="order-7", author_id="u-7", author_name="Lee", message_id=message_id)


# -- the rule, at the connectors' depth ----------------------------------------------------------------------------


def _answer(status: int, body: dict[str, Any] | None = None, method: str = "POST") -> requests.Response:
    response = requests.Response()
    response.status_code, response.url = status, "https://graph.example/v21.0/1/messages"
    response._content = requests.compat.json.dumps(body or {}).encode()  # type: ignore[attr-defined]
    response.request = requests.Request(method, response.url).prepare()
    return response


@pytest.mark.parametrize("status", [500, 502, 503, 504, 520, 527, 429])
@pytest.mark.parametrize("idempotent", [True, False])
def test_which_answers_are_unknown_outcomes(status: int, idempotent: bool) -> None:
    with pytest.raises(errors.BridgeError) as raised:
        raise_for_response(_answer(status), platform="p", idempotent=idempotent, message="could not post")
    unknown = not idempotent and status in MAYBE_APPLIED
    assert isinstance(raised.value, errors.UnknownOutcome) is unknown
    assert raised.value.retryable is not unknown and raised.value.http_status == status
    assert raised.value.message.startswith("could not post")


def test_an_error_that_is_not_retryable_stays_as_it_is() -> None:
    refused = errors.PermanentError("refused", http_status=500)
    assert maybe_applied(refused, idempotent=False) is refused


@pytest.mark.parametrize(
    ("code", "unknown"),
    [(2, False), (1200, False), (131000, False), (1, True), (9999, True)],  # meta.NOT_APPLIED
)
def test_graphs_own_errors_that_say_the_send_was_not_carried_out_are_retried(code: int, unknown: bool) -> None:
    body = {"error": {"message": "An unexpected error has occurred.", "code": code, "is_transient": True,
                      "fbtrace_id": "Xy"}}  # fmt: skip
    with pytest.raises(errors.BridgeError) as raised:
        raise_for_graph(_answer(500, body), "could not send", idempotent=False)
    assert isinstance(raised.value, errors.UnknownOutcome) is unknown
    assert f"[Graph error {code}" in raised.value.message
    with pytest.raises(errors.Unavailable):
        raise_for_graph(_answer(500, body, "GET"), "could not read", idempotent=True)


def test_the_unknown_note_names_what_the_vendor_said() -> None:
    e = maybe_applied(errors.Unavailable("could not send the Messenger message", http_status=502), idempotent=False)
    assert messages.delivery_unknown_note(e.message).startswith(
        "socialdesk does not know whether the reply above reached the customer: could not send the Messenger message"
    )


def test_an_ack_answered_with_a_gateways_502_after_it_was_posted_is_posted_once_and_the_agent_told(
    tmp_path: Path,
) -> None:
    """Before: the ack was retried within the call (posted twice), and recorded "failed"."""
    with acking(tmp_path, "zendesk") as (stack, rt, clock):
        stack.meta.customer_message(PAGE_ID, psid="907", text="Do you sell gift cards?")
        work(stack, rt)
        clock.advance(61)
        stack.meta.lose_answer(CHANNELS["messenger"].path(stack), "POST", status=502)
        assert work(stack, rt) == 0
        clock.advance(3 * 3600)
        work(stack, rt)
        [ack] = stack.store.rows("auto_acks")
        assert [m["text"] for m in stack.meta.sent_messages] == [ack["text"]]
        [delivery] = stack.store.rows("deliveries")
        assert (ack["status"], delivery["status"]) == ("unknown_noted", "unknown")
        assert "may have been applied" in delivery["error"]
        assert notes(stack, one_ticket(stack)["id"]) == [f"{acks.UNKNOWN_PREFIX} {ack['text']}"]
