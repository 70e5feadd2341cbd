"""The reply pipeline: "ticket T changed" → every undelivered public agent comment, posted once, in order.

The webhook only says that something changed; the truth is fetched from the helpdesk (placeholders
are not trusted). Each agent comment gets one ``deliveries`` row, written *before* the platform is
called ("sending") and updated after ("sent" with the platform's ids, "failed", or "unknown"):

* a row already there and finished → nothing to do (a repeated webhook never posts twice);
* a row still "sending" found by the lease holder → a previous worker died mid-call: the outcome is
  unknown, so the reply is *not* sent again; the ticket gets an internal note saying so (unless that worker,
  stalled rather than dead, recorded the outcome before the "unknown" was written: the row is then left as is);
* a refused request (429, 5xx answered) → the row is dropped and the work retried later;
* a reply that needs approval (:mod:`bridge.approvals`) → a ``held`` row and a note, nothing sent; once an
  approver tags the ticket, ``approved`` (then sent as above, in its turn) or ``rejected`` (never sent);
* a permanent failure (window closed, token expired, post deleted) → an internal note on the ticket;
* work given up (retries used up, or failing for good) → one note naming the replies never posted, then
  a dead letter.

A note owed to the agent (why a reply failed, or how it went out: a re-engagement template instead of
the text) is kept in the row with ``noted`` false until it is written: a retry writes it, once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from bridge import holding, inbound, messages, metrics, notes, writeback
from bridge.approvals import Planned, Step
from bridge.config import DEFAULT_PRIVATE_MARKER, DEFAULT_PRIVATE_NOTICE, DEFAULT_PRIVATE_TAG
from bridge.errors import BridgeError, PartiallyDelivered, UnknownOutcome
from bridge.events import AgentReply, AuthorKind, Delivery, ThreadState
from bridge.ports import KeyedReplies, PrivateReplies, SocialChannel, SolvedTickets
from bridge.registry import Runtime
from bridge.replyfrom import replying_channel
from bridge.retry import backoff_for
from bridge.rows import ThreadRow

log = logging.getLogger(__name__)


def sync_ticket(rt: Runtime, helpdesk: str, ticket_id: str, owner: str) -> int:
    """Deliver what is undelivered on one ticket; return how many replies were posted."""
    events = rt.store.pending_ticket_events(helpdesk, ticket_id)
    thread = rt.store.thread_for_ticket(helpdesk, ticket_id)
    if thread is None:
        log.info("ticket %s is not a socialdesk thread; ignoring its webhook", ticket_id)
        rt.store.finish("ticket_events", events, "ignored", error="the ticket is not a socialdesk thread")
        return 0
    with rt.leases.hold(thread.key, owner):
        replies: list[AgentReply] = []  # unknown until the helpdesk answers
        try:
            replies, solved = rt.policy.call(rt.helpdesk.name, lambda: _read(rt, ticket_id))
            posted = _deliver_all(rt, thread, ticket_id, replies)
        except BridgeError as e:
            _postpone(rt, ticket_id, events, e, replies)
            return 0
    # the figures' resolution time, once per episode, in the same write that finishes the events
    episode = thread.episode_started_at
    stamp = (thread.key, episode, solved) if solved is not None and episode is not None else None
    rt.store.finish_ticket_events(events, solved=stamp)
    return posted


def _read(rt: Runtime, ticket_id: str) -> tuple[list[AgentReply], float | None]:
    """The ticket's agent replies, and the helpdesk's time it was solved (None: not solved, or a helpdesk
    that cannot tell)."""
    if isinstance(rt.helpdesk, SolvedTickets):
        return rt.helpdesk.ticket_replies(ticket_id)
    return rt.helpdesk.agent_replies(ticket_id), None


def _postpone(rt: Runtime, ticket_id: str, event_ids: list[int], error: BridgeError, replies: list[AgentReply]) -> None:
    attempts = rt.store.max_attempts("ticket_events", event_ids) + 1
    if error.retryable and attempts < inbound.MAX_ATTEMPTS:
        rt.store.postpone("ticket_events", event_ids, delay=backoff_for(attempts, error), error=str(error))
    else:
        _tell_given_up(rt, ticket_id, replies, error.message)
        key = f"{rt.helpdesk.name}:{ticket_id}"
        rt.store.dead_letter("ticket_events", event_ids, key=key, error=str(error))


def _deliver_all(rt: Runtime, thread: ThreadRow, ticket_id: str, replies: list[AgentReply]) -> int:
    posted = 0
    for planned in holding.plan_for(rt, thread, ticket_id, replies).steps:
        posted += _carry_out(rt, thread, planned)
    return posted


def _carry_out(rt: Runtime, thread: ThreadRow, planned: Planned) -> int:
    """One reply's step (:mod:`bridge.approvals`); a held or rejected reply's row holds the note it owes."""
    if planned.step is Step.RELEASE:
        return _release(rt, thread, planned.reply)
    if planned.step is Step.HOLD:
        holding.hold(rt, thread, planned)
    return _deliver_one(rt, thread, planned.reply)


def _release(rt: Runtime, thread: ThreadRow, reply: AgentReply) -> int:
    """An approved reply, sent now; its row goes back to ``approved`` should the platform refuse it."""
    if not holding.claim_approved(rt.store, rt.helpdesk.name, reply.comment_id):
        return _deliver_one(rt, thread, reply)  # no longer approved: another pass has sent it
    return _send(rt, thread, reply, approved=True)


def _deliver_one(rt: Runtime, thread: ThreadRow, reply: AgentReply) -> int:
    hd = rt.helpdesk.name
    existing = rt.store.delivery(hd, reply.comment_id)
    if existing is not None:
        if existing["status"] == "sending":  # we hold the lease: whoever wrote this row died mid-call
            _settle(rt, thread, reply, "unknown", messages.delivery_unknown_note("the bridge stopped while sending it"))
        elif existing["error"] and not existing["noted"]:
            _tell_agent(rt, reply, str(existing["error"]))  # the note itself failed last time
        return 0
    if not rt.store.start_delivery(
        helpdesk=hd, comment_id=reply.comment_id, ticket_id=reply.ticket_id, thread_key=thread.key,
        at=reply.created_at.timestamp(),
    ):  # fmt: skip
        return 0
    return _send(rt, thread, reply)


def _send(rt: Runtime, thread: ThreadRow, reply: AgentReply, *, approved: bool = False) -> int:
    hd = rt.helpdesk.name
    name = replying_channel(rt.config.channels, thread.channel, thread.thread_id)
    channel = rt.channels.get(name)
    if channel is None:
        _settle(rt, thread, reply, "failed", messages.delivery_failed_note(f"channel {name} is not configured"))
        return 0
    state = thread_state(thread)
    text, private = private_intent(rt, thread.channel, reply)
    notice = _notice(rt, thread.channel)
    send = _sender(channel, state, text, private=private, notice=notice, key=reply_key(hd, reply.comment_id))
    try:
        delivery = rt.policy.call(channel.name, send)
    except UnknownOutcome as e:
        _settle(rt, thread, reply, "unknown", messages.delivery_unknown_note(e.message))
        return 0
    except PartiallyDelivered as e:
        _settle(rt, thread, reply, "partial", messages.partial_delivery_note(e.message), e.message_ids)
        return 0
    except BridgeError as e:
        if e.retryable:
            rt.store.forget_delivery(hd, reply.comment_id, approved=approved)  # refused: nothing was posted
            raise
        reason = e.message if name == thread.channel else f"{e.message} (sent from the {name} account: reply_from)"
        _settle(rt, thread, reply, "failed", messages.delivery_failed_note(reason))
        return 0
    # delivered, but the agent should know how (a re-engagement template, files left out): the note is kept
    # as owed, so that should writing it fail below, the retry writes it
    note = _with_attachments(_sent_from(delivery, thread, name), reply)
    first_response = _finish_sent(rt, thread, reply, delivery, channel.platform, note)
    metrics.reply_finished(thread.channel, "sent", first_response)
    writeback.record_reply(rt, state, reply, delivery)
    if note:
        _tell_agent(rt, reply, note)
    log.info(
        "delivered comment %s of ticket %s as %s",
        reply.comment_id,
        reply.ticket_id,
        ",".join(map(messages.key_shown, delivery.message_ids)),
    )
    return 1


def _finish_sent(
    rt: Runtime, thread: ThreadRow, reply: AgentReply, delivery: Delivery, platform: str, note: str | None
) -> float | None:
    """Record what went out by who wrote it: the bridge's own words (a hand-off's public notice) in a
    ``system`` row of their own, first, so that their echoes are known even should the worker stop here; a
    delivery all in the bridge's words (a template instead of the reply) makes the reply's row ``system``."""
    hd, system = rt.helpdesk.name, delivery.system_ids
    human = tuple(m for m in delivery.message_ids if m not in system)
    if human and system:
        comment = f"{AuthorKind.SYSTEM}:{reply.comment_id}"
        rt.store.start_delivery(helpdesk=hd, comment_id=comment, ticket_id=reply.ticket_id, thread_key=thread.key,
                                at=reply.created_at.timestamp(), author_kind=AuthorKind.SYSTEM)  # fmt: skip
        rt.store.finish_delivery(hd, comment, status="sent", platform=platform, message_ids=system)
    kind = AuthorKind.SYSTEM if system and not human else None
    finished = rt.store.finish_delivery(hd, reply.comment_id, status="sent", platform=platform,
                                        message_ids=human or system, error=note, author_kind=kind)  # fmt: skip
    return finished.first_response


def _sent_from(delivery: Delivery, thread: ThreadRow, name: str) -> str | None:
    """The delivery's own note, and which account posted it when that is another channel's (reply_from)."""
    if name == thread.channel:
        return delivery.note
    sent = messages.sent_from_note(name, thread.platform, delivery.message_ids)
    return "\n\n".join(n for n in (delivery.note, sent) if n)


def _settle(
    rt: Runtime, thread: ThreadRow, reply: AgentReply, status: str, note: str, sent: tuple[str, ...] = ()
) -> None:
    """Finish a delivery that did not (fully, certainly) happen, then tell the agent on the ticket. An "unknown"
    for a row found "sending" that the worker which sent it (stalled past its lease) recorded meanwhile does not
    take (:meth:`bridge.store.Store.finish_delivery`): that worker's record, note and metric stand, none here."""
    note = _with_attachments(note, reply) or note
    finished = rt.store.finish_delivery(
        rt.helpdesk.name, reply.comment_id, status=status, platform=thread.platform, message_ids=sent, error=note
    )
    if not finished.took:
        log.info("comment %s of ticket %s: recorded meanwhile by the worker that sent it, no note",
                 reply.comment_id, reply.ticket_id)  # fmt: skip
        return
    log.warning("comment %s of ticket %s: %s", reply.comment_id, reply.ticket_id, status)
    metrics.reply_finished(thread.channel, status, None)
    _tell_agent(rt, reply, note)


def _with_attachments(note: str | None, reply: AgentReply) -> str | None:
    """``note`` followed by what became of the reply's attached files, if it had any."""
    return "\n\n".join(n for n in (note, messages.attachments_not_sent(reply.attachments)) if n) or None


def _tell_agent(rt: Runtime, reply: AgentReply, note: str) -> None:
    """The note the reply's row owes; a retry writes it should it fail, unless it may have been written."""
    notes.write_once(rt, reply.ticket_id, note, what=f"the note on comment {reply.comment_id}")
    rt.store.mark_noted(rt.helpdesk.name, reply.comment_id)


def _tell_given_up(rt: Runtime, ticket_id: str, replies: list[AgentReply], reason: str) -> None:
    """Before the work is parked: one note naming the replies never posted (those without a delivery row;
    the others have a note of their own). Should the note fail too, the dead letter still tells an operator."""
    hd = rt.helpdesk
    undelivered = [r for r in replies if rt.store.delivery(hd.name, r.comment_id) is None]
    if not undelivered:
        return
    note = messages.delivery_given_up_note(reason, undelivered)
    try:
        rt.policy.call(hd.name, lambda: hd.add_internal_note(ticket_id, note))
    except BridgeError as e:
        log.error("ticket %s: could not tell the agent which replies were given up: %s", ticket_id, e)


def private_intent(rt: Runtime, channel: str, reply: AgentReply) -> tuple[str, bool]:
    """A reply meant for the customer's eyes only, so that a public thread is answered privately: it starts
    with the channel's ``private_marker`` (default ``#private``, removed from the text), or its ticket
    carries the channel's ``private_tag`` (default ``socialdesk_private``; every reply of that ticket)."""
    section = rt.config.channel(channel)
    marker = str(section.get("private_marker") if section else DEFAULT_PRIVATE_MARKER)  # defaults: bridge.config
    tag = str(section.get("private_tag") if section else DEFAULT_PRIVATE_TAG)
    stripped = reply.body.lstrip()
    if marker and stripped.lower().startswith(marker.lower()):
        return stripped[len(marker) :].lstrip(" :\n"), True
    return reply.body, bool(tag) and tag.lower() in (t.lower() for t in reply.ticket_tags)


def _notice(rt: Runtime, channel: str) -> str:
    section = rt.config.channel(channel)
    return str(section.get("private_notice") if section else DEFAULT_PRIVATE_NOTICE)


def _sender(
    channel: SocialChannel, state: ThreadState, text: str, *, private: bool, notice: str, key: str
) -> Callable[[], Delivery]:
    """The call that delivers: a private hand-off where asked and the channel has public threads; the
    reply's key where the channel's receiver deduplicates on one."""
    if private and isinstance(channel, PrivateReplies):
        return lambda: channel.send_private_reply(state, text, now=datetime.now(UTC), notice=notice)
    return lambda: send_text(channel, state, text, now=datetime.now(UTC), key=key)


def send_text(channel: SocialChannel, state: ThreadState, text: str, *, now: datetime, key: str) -> Delivery:
    """One text into the thread, carrying ``key`` where the channel's receiver deduplicates on one (agents'
    replies, acknowledgements and the bot's answers all go out this way)."""
    if isinstance(channel, KeyedReplies):
        return channel.send_keyed_reply(state, text, now=now, key=key)
    return channel.send_reply(state, text, now=now)


REPLY_KEYS = uuid.UUID("5d0c1a52-7f3e-4d0b-9a57-2f1c8e6b4a10")  # the namespace of reply keys: never change it


def reply_key(helpdesk: str, comment_id: str) -> str:
    """The idempotency key of one agent reply, made from its helpdesk comment before any attempt: every
    retry of it, in the call or from the queue, carries the same key."""
    return uuid.uuid5(REPLY_KEYS, f"{helpdesk}:{comment_id}").hex


def thread_state(thread: ThreadRow) -> ThreadState:
    last = thread.last_inbound_at
    return ThreadState(
        key=thread.key,
        platform=thread.platform,
        channel=thread.channel,
        account_id=thread.account_id,
        thread_id=thread.thread_id,
        reply_to=thread.reply_to,
        last_inbound_at=datetime.fromtimestamp(last, tz=UTC) if last else None,
        last_inbound_message_id=thread.last_inbound_message_id,
        ticket_id=thread.ticket_id,
        customer_id=thread.customer_id,
    )
