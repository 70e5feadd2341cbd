"""The reply pipeline step by step: a stack without a worker, each step run by the test, so that a failure
lands exactly where the test puts it. What the agent is told when a step fails, and what is never posted
twice when a step is retried."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge import inbound, metrics, outbound
from bridge.inbound import MAX_ATTEMPTS
from bridge.registry import Runtime
from sandbox.base import Fault
from sandbox.stack import HELPDESKS, PAGE_ID, WA_PHONE_ID, Stack, channel_name
from tests.support import notes, one_ticket, recorded_first, reply_and_notify, step_runtime

NOTE_PATH = "/api/v2/tickets/"  # Zendesk writes an internal note with PUT /api/v2/tickets/{id}


def opened(stack: Stack, rt: Runtime) -> int:
    """The ticket the customer's stored message opens when the worker takes it."""
    [row] = stack.store.rows("inbox")
    inbound.process_thread(rt, row["thread_key"], "w-in")
    return int(one_ticket(stack)["id"])


def sync(rt: Runtime, ticket: int, times: int = 1) -> None:
    """The worker taking the ticket's pending "ticket changed" events, ``times`` times over (its retries)."""
    for attempt in range(times):
        outbound.sync_ticket(rt, "zendesk", str(ticket), f"w-out-{attempt}")


# -- a note owed to the agent --------------------------------------------------------------------------------------


def test_a_template_sent_instead_of_the_reply_is_told_even_when_the_first_note_fails(tmp_path: Path) -> None:
    options = {"reengagement_template": "hello_world"}
    with Stack(tmp_path, start_worker=False, platforms=("whatsapp",), channel_options=options) as stack:
        rt = step_runtime(stack)
        stack.meta.whatsapp_message(WA_PHONE_ID, wa_id="447700900123", text="Order 42?",
                                    timestamp=datetime.now(UTC) - timedelta(days=2))  # fmt: skip
        ticket = opened(stack, rt)
        reply_and_notify(stack, ticket, "It arrives tomorrow.")
        stack.zendesk.inject(Fault(503, times=rt.policy.attempts, method="PUT", path_prefix=NOTE_PATH))
        sync(rt, ticket)  # the template goes out, the note about it does not: the event waits
        assert notes(stack, ticket) == [] and stack.store.counts("ticket_events") == {"pending": 1}

        sync(rt, ticket)  # the retry owes the note
        stack.zendesk.fire_webhook(ticket)
        sync(rt, ticket)  # a later change of the ticket: the note is not written again
        assert [m["type"] for m in stack.meta.wa_sent_messages] == ["template"]
        [note] = notes(stack, ticket)
        assert "instead of this reply" in note
        [delivery] = stack.store.rows("deliveries")
        assert (delivery["status"], delivery["noted"]) == ("sent", True)
        assert stack.store.counts("ticket_events") == {"done": 2}


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_files_attached_to_a_reply_are_said_not_to_have_gone(tmp_path: Path, helpdesk: str) -> None:
    """The channels carry text only: a return label attached to the reply must not vanish without a word."""
    with Stack(tmp_path, helpdesk=helpdesk, start_worker=False) as stack:
        rt = step_runtime(stack)
        stack.meta.customer_message(PAGE_ID, psid="515", text="How do I return it?")
        ticket = opened(stack, rt)
        stack.helpdesk.agent_comment(ticket, "Here is your label.", attachments=("label.pdf", "steps.png"))
        stack.helpdesk.agent_comment(ticket, "", attachments=("invoice.pdf",))  # a file alone, no text
        stack.helpdesk.fire_webhook(ticket)
        outbound.sync_ticket(rt, helpdesk, str(ticket), "w-out")
        assert [m["text"] for m in stack.meta.sent_messages] == ["Here is your label."]
        sent, alone = notes(stack, ticket)
        assert '"label.pdf", "steps.png"' in sent and "did not go to the customer" in sent
        assert "nothing to send" in alone and '"invoice.pdf"' in alone
        assert [d["status"] for d in stack.store.rows("deliveries")] == ["sent", "failed"]


# -- never twice -----------------------------------------------------------------------------------------------------


def test_an_own_channel_reply_whose_answer_was_lost_is_sent_again_under_the_same_key(tmp_path: Path) -> None:
    with Stack(tmp_path, start_worker=False, platforms=("generic",)) as stack:
        rt = step_runtime(stack)
        stack.web.customer_message("Invoice?", thread_id="t-1", author_id="u-9", author_name="Lee")
        ticket = opened(stack, rt)
        reply_and_notify(stack, ticket, "Under Billing.")
        stack.web.lose_answer("/callback", "POST", times=rt.policy.attempts)  # stored, then a proxy's 502
        sync(rt, ticket)  # retried within the call, then postponed
        assert stack.store.counts("ticket_events") == {"pending": 1}
        sync(rt, ticket)  # the queue's retry
        [comment_id] = [d["comment_id"] for d in stack.store.rows("deliveries", status="sent")]
        calls = stack.web.calls_to("POST", "/callback")
        assert len(calls) == rt.policy.attempts + 1
        assert {c.headers["Idempotency-Key"] for c in calls} == {outbound.reply_key("zendesk", comment_id)}
        assert [r["text"] for r in stack.web.received] == ["Under Billing."]


def test_a_reply_found_sending_but_recorded_meanwhile_gets_no_unknown_note_or_metric(tmp_path: Path) -> None:
    """A worker that finds an agent's reply "sending" takes it for cut off and records it "unknown". Should the
    worker that sent it have stalled past its lease and then recorded "sent" between that read and that write,
    the row keeps "sent" (the store's update takes "sending" only), but the "does not know whether" note and the
    "unknown" count followed all the same: the agent told to check a reply the customer has."""
    with Stack(tmp_path, start_worker=False) as stack:
        rt = step_runtime(stack)
        stack.meta.customer_message(PAGE_ID, psid="618", text="Where is my parcel?")
        ticket = opened(stack, rt)
        reply_and_notify(stack, ticket, "It left the depot today.")
        [comment] = [c for c in stack.zendesk.comments(ticket) if c["body"] == "It left the depot today."]
        stack.store.start_delivery(helpdesk="zendesk", comment_id=str(comment["id"]), ticket_id=str(ticket),
                                   thread_key=one_ticket(stack)["external_id"], at=1.0)  # fmt: skip
        unknown = _replies_failed("unknown")
        with recorded_first(stack, "UPDATE deliveries SET status = 'sent', message_ids = '[\"m.1\"]'"):
            sync(rt, ticket)
        assert [(d["status"], d["message_ids"]) for d in stack.store.rows("deliveries")] == [("sent", '["m.1"]')]
        assert (notes(stack, ticket), _replies_failed("unknown")) == ([], unknown)
        assert stack.meta.sent_messages == [] and stack.store.counts("ticket_events") == {"done": 1}


def _replies_failed(status: str) -> float:
    labels = {"channel": channel_name("facebook"), "status": status}
    return metrics.SERIES.get_sample_value("socialdesk_replies_failed_total", labels) or 0.0


# -- work given up ----------------------------------------------------------------------------------------------------


def test_replies_given_up_are_named_in_one_note_before_the_dead_letter(tmp_path: Path) -> None:
    with Stack(tmp_path, start_worker=False) as stack:
        rt = step_runtime(stack)
        stack.meta.customer_message(PAGE_ID, psid="616", text="Hello?")
        ticket = opened(stack, rt)
        stack.zendesk.agent_comment(ticket, "Hi! How can we help?")
        reply_and_notify(stack, ticket, "Are you still there?")
        stack.meta.throttle(times=100, regain_minutes=60)
        sync(rt, ticket, times=MAX_ATTEMPTS)
        assert stack.store.counts("ticket_events") == {"dead": 1} and stack.meta.sent_messages == []
        [note] = notes(stack, ticket)
        assert note.startswith("socialdesk gave up delivering these replies to the customer:")
        assert '"Hi! How can we help?"' in note and '"Are you still there?"' in note
        assert "Reason: acme-facebook is paused by its rate limit" in note
        assert len(stack.store.open_dead_letters()) == 1


def test_a_note_that_cannot_be_written_does_not_keep_the_work_from_its_dead_letter(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Stack(tmp_path, start_worker=False) as stack:
        rt = step_runtime(stack)
        stack.meta.customer_message(PAGE_ID, psid="617", text="Hello?")
        ticket = opened(stack, rt)
        reply_and_notify(stack, ticket, "Hi!")
        stack.meta.throttle(times=100, regain_minutes=60)
        sync(rt, ticket, times=MAX_ATTEMPTS - 1)
        stack.zendesk.inject(Fault(503, times=rt.policy.attempts, method="PUT", path_prefix=NOTE_PATH))
        sync(rt, ticket)
        assert notes(stack, ticket) == [] and len(stack.store.open_dead_letters()) == 1
        assert f"ticket {ticket}: could not tell the agent which replies were given up" in caplog.text
