"""The inbound pipeline: a thread's stored events → one helpdesk ticket, in the platform's order.

One worker at a time holds a thread (a lease in the store). It applies the thread's pending inbox
rows oldest first (by the platform's timestamp). Each event goes load → decide → act → record:

1. load: one read (:meth:`Store.load_thread_context`) gives whether the event is the echo of something we
   posted (dropped), the thread's row (typed, :class:`bridge.rows.ThreadRow`; None for a new thread), the
   author's helpdesk user and CRM record as cached, the helpdesk's and CRM's pauses (the retry policy
   answers from them for this event instead of asking the store before each call), the identity's last
   join to a CRM contact, the thread's latest acknowledgement and whether an agent is answering, and the bot's
   messages and the latest person's reply (:class:`bridge.rows.BotState`);
2. decide: the CRM is asked for a new thread's customer (unless the cache is fresh), the triage rules
   decide (:mod:`bridge.triage`), and :func:`bridge.plan.plan`, pure, turns event + thread + facts into a
   plan: ignored and why (recorded, no helpdesk call), or the ticket to create (tags, custom fields,
   routing: the rules' tags, priority, group... in the create call itself) or the comment's tags and
   routing, the rules' explanation for the first internal note, and "create started";
3. record before acting, in one write (:meth:`Store.start_event`): the thread claimed (unique key),
   "create started" and the CRM note owed, the inbox row marked attempted, the requester's user and the
   CRM's answer. The ticket carries the thread key as ``external_id`` (where the helpdesk has no place for
   it, its description's ``ref:`` line names the message): after a crash between "created" and "recorded",
   or a create whose answer was lost, the next attempt looks the ticket up first
   (:meth:`Helpdesk.find_created`) and never opens a second one; a follow-up marked attempted looks for its
   comment first, and an edit, a removal or a notice for its note (:func:`_note_change`);
4. act, through the retry policy: find or create the requester, create the ticket (then its CRM note,
   or the rules' note) or add the customer's words as a public comment (reopening it; a follow-up ticket
   when the old one is closed), the CRM write-back of the post, the channel's acknowledgement
   (:mod:`bridge.acks`) and quick answer (:mod:`bridge.bot`);
5. record the outcome in one write (:meth:`Store.finish_event`): the inbox row done or ignored, the
   thread's columns (:func:`bridge.plan.thread_changes`, the note written, the CRM post), the ticket link,
   the episode's acknowledgement, the bot's message sent or failed (its "sending" row is a write of its
   own, before the call);
6. then, best effort, the bot's internal note telling the agent what it said (:func:`bridge.bot.tell`): after
   the record, so that no helpdesk call stands between the bot's send and the record of it.

A first message costs six store transactions with or without Salesforce write-back (lease, pending
events, context, before, after, release; ``tests/test_transactions.py``, bench/RESULTS.md §12); one the bot
answers, seven (its "sending" row, before the send). A
retryable failure postpones the rest of the thread (order is kept); a permanent one dead-letters the
event with its reason, visible and replayable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from bridge import (
    acks,
    bot,
    enrich,
    figures,
    figures_facts,
    joins,
    messages,
    metrics,
    notes,
    plan,
    requesters,
    triage,
    writeback,
)
from bridge.enrich_fields import crm_profile, crm_ticket_fields, rules_note
from bridge.errors import (
    BridgeError,
    PermanentError,
    RequesterRefused,
    RetryableError,
    TicketClosed,
    TicketDeleted,
    Unavailable,
    UnknownOutcome,
    describe,
)
from bridge.events import AuthorKind, EventKind, Routing, SocialEvent, TicketRef
from bridge.registry import Runtime
from bridge.retry import backoff_for
from bridge.rows import ThreadContext, ThreadRow
from bridge.rules import Decision
from bridge.store import PendingEvent, Records, Written

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 25  # with the backoff cap of 10 minutes: about three hours of outage before a dead letter


def process_thread(rt: Runtime, thread_key: str, owner: str) -> int:
    """Apply every pending event of a thread; return how many were finished."""
    done = 0
    with rt.leases.hold(thread_key, owner):
        for pending in rt.store.pending_inbox(thread_key):
            if pending.due_at > rt.policy.clock():
                break  # an earlier event waits for its retry: the customer's newer words wait behind it
            if not _apply(rt, pending):
                break  # postponed: keep the thread's order
            done += 1
    return done


def _apply(rt: Runtime, pending: PendingEvent) -> bool:
    """Handle one event and record the outcome; False when it was postponed."""
    row_id, event, attempts = pending.id, pending.event, pending.attempts
    try:
        outcome = handle_event(rt, pending)
    except BridgeError as e:
        if e.retryable and attempts + 1 < MAX_ATTEMPTS:
            delay = backoff_for(attempts + 1, e)
            log.warning("inbox %d (%s) postponed %.0fs: %s", row_id, messages.key_shown(event.thread_key), delay, e)
            rt.store.postpone("inbox", [row_id], delay=delay, error=str(e))
            return False
        log.error("inbox %d (%s) dead-lettered: %s", row_id, messages.key_shown(event.thread_key), e)
        rt.store.dead_letter("inbox", [row_id], key=event.thread_key, error=str(e))
        return True
    except Exception as e:  # a bug must not wedge the thread: park the event, visibly
        error = f"unexpected error: {describe(e)}"
        # the traceback for a bug; a database error's own text would quote the row (customer data)
        log.error(
            "inbox %d (%s) failed: %s",
            row_id,
            messages.key_shown(event.thread_key),
            error,
            exc_info=not hasattr(e, "orig"),
        )
        rt.store.dead_letter("inbox", [row_id], key=event.thread_key, error=error)
        return True
    changes = outcome.thread_changes
    new_ticket = (rt.helpdesk.name, changes["ticket_id"]) if "ticket_id" in changes else None
    if outcome.ignored:
        log.info("inbox %d (%s) ignored: %s", row_id, messages.key_shown(event.thread_key), outcome.ignored)
    took = rt.store.finish_event(
        row_id,
        event.thread_key,
        ignored=outcome.ignored,
        new_ticket=new_ticket,
        written=outcome.written,
        records=outcome.records,
        **changes,
    )
    metrics.event_finished(event.platform, outcome.ignored)
    _after_record(rt, outcome, took)
    return True


def _after_record(rt: Runtime, outcome: Outcome, took: bool) -> None:
    """What waits for the event's record: the bot's note to the agent, under the pauses read with the thread's
    context (no store read per call). A crash here loses the note only: the send's outcome is recorded. A bug
    here (a helpdesk answer the connector cannot read) is logged, never raised: the event is recorded already,
    and raising would leave the thread's next messages waiting for the dispatcher's sweep."""
    if outcome.said is None:
        return
    try:
        with rt.policy.known_pauses(outcome.pauses):
            bot.tell(rt, outcome.said, took=took)
    except Exception as e:  # the traceback for a bug; a database error's own text would quote the row
        log.error("the bot's note for ticket %s failed: %s", outcome.said.ticket_id, describe(e),
                  exc_info=not hasattr(e, "orig"))  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    """What became of one inbox event: done, or ignored with the reason (a short fixed phrase, counted by
    ``socialdesk status``); and the thread's columns to change, written in the same transaction."""

    ignored: str | None = None
    thread_changes: dict[str, Any] = field(default_factory=dict)
    written: Written | None = None  # a customer message written to the helpdesk: when, and if it opened an episode
    records: Records | None = None  # rows learned on the way and not written yet (the thread's claim, the CRM's answer)
    said: bot.Answered | None = None  # the bot's message tried (recorded in ``records``): its note, after the record
    pauses: Mapping[str, float] | None = None  # read with the context: for the calls after the record


DONE = Outcome()


def handle_event(rt: Runtime, pending: PendingEvent) -> Outcome:
    """Apply one event to the helpdesk. Its outcome and the thread's changes are recorded in one
    transaction: a crash before it leaves both as they were, and the event is applied again, looking
    first (module docstring)."""
    event = pending.event
    acks_since = acks.answering_since(rt, event) if event.channel in rt.config.acks else None
    context = rt.store.load_thread_context(
        event, rt.helpdesk.name, pauses=_pauses_read(rt, event), joins=joins.enabled(rt), acks_since=acks_since,
        bot=bot.reads(rt, event),
    )  # fmt: skip
    with rt.policy.known_pauses(context.paused_until):
        return _handle(rt, pending, context)


def _pauses_read(rt: Runtime, event: SocialEvent) -> list[str] | None:
    """The connectors whose pauses are read with the thread's context, when the pause board is the store: the
    helpdesk's, the CRM's, and the channel's where the bot answers in it."""
    if rt.policy.pauses is not rt.store:
        return None
    crm = [rt.crm.name] if rt.crm is not None else []
    return [rt.helpdesk.name, *crm, *([event.channel] if event.channel in rt.config.quick else [])]


def _handle(rt: Runtime, pending: PendingEvent, context: ThreadContext) -> Outcome:
    event = pending.event
    if context.echo:
        log.info("dropping the echo of our own message %s on %s", messages.key_shown(event.message_id), event.channel)
        return Outcome(ignored="echo of our own message")
    if event.kind == "status":
        return _record_status(rt, event)
    if event.kind in ("edit", "remove", "notice"):
        recorded = _record_change(rt, pending, context.thread)
        if recorded is not None:
            return recorded
        pending = replace(pending, event=_edit_as_message(event))
    elif event.kind not in ("message", "comment"):
        return Outcome(ignored=f"unknown event kind {event.kind[:16]!r}")
    return _apply_message(rt, pending, context)


def _apply_message(rt: Runtime, pending: PendingEvent, context: ThreadContext) -> Outcome:
    """The customer's words: decide (:mod:`bridge.plan`), record what must be durable before the helpdesk
    write, then a new ticket for the thread, or a comment on its ticket."""
    event, hd = pending.event, rt.helpdesk
    thread = context.thread or plan.new_thread(event, hd.name, time.time())
    claim = None if context.thread else (event, hd.name)  # inserted with the first write
    customer = _customer(rt, event, thread, context)
    crm = (enrich.cache_key(event), enrich.to_cache(customer)) if customer and customer.fetched else None
    decision = triage.decide_for(rt, event, first=thread.ticket_id is None, customer=customer, cached=True)
    planned = plan.plan(_facts(rt, event, thread, customer, decision, create=thread.ticket_id is None), now=time.time())
    if planned.ignored:  # before any helpdesk call: an ignored author gets no helpdesk user either
        return Outcome(ignored=planned.ignored, records=Records(claim=claim, crm=crm))
    if not planned.create:
        customer = None  # a follow-up's ticket had its CRM note
    name, profile = enrich.known_name(customer), crm_profile(rt, customer)  # the CRM's answer, in the user call
    requester_id, event = requesters.requester_for(
        rt, event, context.identity, name, profile, customer=customer, last_join=context.last_join
    )
    identity = (requesters.identity_key(rt, event), requester_id) if requester_id != context.identity else None
    records = Records(claim=claim, identity=identity, crm=crm)
    attempted = None if pending.attempted else pending.id  # from here on the helpdesk may hold this message
    if attempted is not None or planned.start or records != Records():
        rt.store.start_event(attempted, event.thread_key, records, **planned.start)
    try:
        if planned.create:
            ticket, changes = _open_ticket(
                rt, event, thread, requester_id, planned, customer, followup_of=None, since=pending.received_at
            )
        else:
            ticket, changes = _follow_up(rt, pending, thread, requester_id, planned, decision)
    except RequesterRefused as e:  # a new ticket's, or a follow-up's
        raise _requester_refused(rt, pending, requester_id, e) from e
    return _written(rt, event, context, thread, ticket, requester_id, planned, decision, {
        **changes, **writeback.record_post(rt, event, thread, customer.fields if customer else _record(context)),
    })  # fmt: skip


def _requester_refused(rt: Runtime, pending: PendingEvent, requester_id: str, e: RequesterRefused) -> BridgeError:
    """The helpdesk refused the ticket's requester: the user the store remembered was deleted (or merged) since,
    and Zendesk's user-events webhook, which forgets such users, was not set up or its event was lost. Forgotten
    as that webhook forgets it, and the event retried: the next attempt finds or makes a live user. Refused again
    on that attempt (a suspended user, found again), it is a dead letter saying so, never a loop."""
    if pending.last_error is not None and messages.REQUESTER_FORGOTTEN in pending.last_error:
        return PermanentError(messages.requester_refused_twice(e.message), platform=e.platform,
                              http_status=e.http_status)  # fmt: skip
    forgotten = rt.store.forget_helpdesk_user(rt.helpdesk.name, requester_id)
    log.warning("%s refused requester %s for %s: %d remembered identities of it forgotten", rt.helpdesk.name,
                requester_id, messages.key_shown(pending.event.thread_key), forgotten)  # fmt: skip
    return RetryableError(f"{e.message}; {messages.REQUESTER_FORGOTTEN}", platform=e.platform)


def _customer(rt: Runtime, event: SocialEvent, thread: ThreadRow, context: ThreadContext) -> enrich.Lookup | None:
    """The CRM's record: asked for a new ticket (unless fresh in the cache), the cached one for a follow-up."""
    if thread.ticket_id is None:
        return enrich.look_up_from(rt, event, enrich.fresh(rt, context.crm))
    return enrich.cached_lookup(rt, context.crm)


def _record(context: ThreadContext) -> dict[str, str]:
    return context.crm.record if context.crm is not None else {}


def _facts(
    rt: Runtime, event: SocialEvent, thread: ThreadRow, customer: enrich.Lookup | None, decision: Decision,
    *, create: bool,
) -> plan.Facts:  # fmt: skip
    """What :func:`bridge.plan.plan` needs, from the runtime's configuration and resolved names."""
    if not create:
        return plan.Facts(event, thread, decision, rt.triage.routing(decision, rt.helpdesk), create=False)
    return plan.Facts(
        event, thread, decision, rt.triage.routing(decision, rt.helpdesk), create=True,
        crm_tags=enrich.tags(rt, customer), fields=crm_ticket_fields(rt, customer),
        explanation=rules_note(rt, decision), owed=enrich.owed(rt, event, customer),
    )  # fmt: skip


def _written(
    rt: Runtime, event: SocialEvent, context: ThreadContext, thread: ThreadRow, ticket: TicketRef, requester_id: str,
    planned: plan.Plan, decision: Decision, changes: dict[str, Any],
) -> Outcome:  # fmt: skip
    """The message is on its ticket: the acknowledgement and the bot's answer, then what the event records."""
    at, quiet = event.created_at.timestamp(), rt.config.metrics.quiet
    replaced = figures.ticket_restarted(thread.ticket_id, ticket)  # closed or solved: a new episode
    opens = figures.opens_episode(thread.last_inbound_at, at, quiet=quiet, ticket_replaced=replaced)
    ack = acks.plan(rt, event, thread, ticket, opens_episode=opens, rules=decision, state=context.acks)
    sentiment, no_answer = figures_facts.of_message(rt, event, decision)
    recorded = plan.thread_changes(thread, event, ticket_id=ticket.id, requester_id=requester_id, opens=opens)
    written = Written(ticket_at=time.time(), opens_episode=opens, sentiment=sentiment, no_answer=no_answer)
    sent = _bot_answer(rt, event, context, replace(thread, approval=thread.approval or planned.approval), ticket, opens)
    delivery = sent.delivery if sent is not None else None
    return Outcome(
        written=written,
        thread_changes={**changes, **recorded},
        records=Records(ack=ack, delivery=delivery) if ack is not None or delivery is not None else None,
        said=sent,
        pauses=context.paused_until,
    )


def _bot_answer(
    rt: Runtime, event: SocialEvent, context: ThreadContext, thread: ThreadRow, ticket: TicketRef, opens: bool
) -> bot.Answered | None:
    """The bot's answer, last: once it is sent, nothing but the record of the event's outcome, which records the
    send's too (:mod:`bridge.bot`), stands between it and the record; its note to the agent waits for the record
    (:func:`_after_record`)."""
    if context.bot is None:
        return None
    return bot.answer(rt, event, thread, ticket.id, opens_episode=opens, state=context.bot)


def _open_ticket(
    rt: Runtime, event: SocialEvent, thread: ThreadRow, requester_id: str, planned: plan.Plan,
    customer: enrich.Lookup | None, *, followup_of: str | None, since: float,
) -> tuple[TicketRef, dict[str, Any]]:  # fmt: skip
    """The planned ticket ("create started" is durable already: ``planned.start``), or the one an earlier
    attempt created, found by its ``external_id`` or its requester and message (:meth:`Helpdesk.find_created`;
    ``since``: when the bridge received the message, before any attempt); with the thread's columns its notes
    settled."""
    hd = rt.helpdesk
    new = plan.ticket(planned, event, requester_id, followup_of=followup_of)
    if thread.create_started_at is not None:  # an earlier attempt may have created it: look first
        found = rt.policy.call(hd.name, lambda: hd.find_created(new, since=datetime.fromtimestamp(since, UTC)))
        if found is not None and _made_by_this_create(rt, thread, found, thread.create_started_at, followup_of):
            log.info("recovered ticket %s for %s", found.id, messages.key_shown(event.thread_key))
            # an agent may have answered it while it was linked to nothing: its webhook found no thread
            rt.store.link_ticket(hd.name, found.id, event.thread_key)
            rt.store.record_ticket_event(hd.name, found.id, f"recovered:{found.id}")
            return found, {"create_started_at": None}
    try:
        ticket = _routed_to_people(rt, lambda routing: hd.create_ticket(replace(new, routing=routing)), new.routing)
    except UnknownOutcome as e:  # "create started" is recorded: the next attempt looks for the ticket first
        raise _look_first_next_time(e) from e
    log.info("opened ticket %s for %s", ticket.id, messages.key_shown(event.thread_key))
    return ticket, {**_introduce_customer(rt, ticket, customer, planned.explanation), "create_started_at": None}


def _made_by_this_create(
    rt: Runtime, thread: ThreadRow, found: TicketRef, started_at: float, followup_of: str | None
) -> bool:
    """Whether the thread's ticket ``find_created`` found can be the one an earlier attempt of this create made:
    never a closed one, nor one the thread had before (they all carry its key), else the customer's message
    would be marked done with its words written nowhere. ``started_at``: when the last attempt started
    (each attempt records its own start; the one that made the ticket linked it after)."""
    if found.status in ("closed", "deleted") or found.id == followup_of:
        return False
    return found.id not in rt.store.tickets_linked_before(rt.helpdesk.name, thread.key, started_at)


def _introduce_customer(
    rt: Runtime, ticket: TicketRef, customer: enrich.Lookup | None, explanation: str
) -> dict[str, Any]:
    """With ``crm_note = true``, the CRM's summary as an internal note on the new ticket, with the rules that
    fired and why; returns the thread's columns saying it is written. The CRM down, or the helpdesk refusing
    the note, leaves it owed (``enrich.owed``, recorded before the create): the customer's message is not
    held back for it, and ``enrich.retry_thread`` writes it later. Without a CRM note to carry them, the
    rules' reasons are a note of their own, unless ``[bridge] rules_field`` took them into the create call."""
    if not enrich.notes_tickets(rt, customer) or customer is None:
        if explanation:
            notes.try_write(rt, ticket.id, explanation, what="the triage note")
        return {}
    try:
        return enrich.send_note(rt, ticket.id, customer, also=explanation)
    except BridgeError as e:
        log.warning("the CRM note for ticket %s is owed, to be written later: %s", ticket.id, e)
        return {}


def _follow_up(
    rt: Runtime, pending: PendingEvent, thread: ThreadRow, requester_id: str, planned: plan.Plan, decision: Decision
) -> tuple[TicketRef, dict[str, Any]]:
    """The customer's words on the thread's ticket; a new ticket when it is closed (a follow-up of it) or was
    deleted (its first note names the deleted one): the message is never dropped for want of a ticket."""
    event, ticket_id = pending.event, str(thread.ticket_id)
    try:
        return _comment(rt, pending, ticket_id, requester_id, planned), {}
    except TicketDeleted:
        log.info("ticket %s was deleted; opening a new ticket for %s", ticket_id, messages.key_shown(event.thread_key))
        return _reopen_as_new(rt, pending, thread, requester_id, decision, deleted=ticket_id)
    except TicketClosed:
        log.info("ticket %s is closed; opening a follow-up for %s", ticket_id, messages.key_shown(event.thread_key))
        return _reopen_as_new(rt, pending, thread, requester_id, decision, followup_of=ticket_id)


def _comment(rt: Runtime, pending: PendingEvent, ticket_id: str, requester_id: str, planned: plan.Plan) -> TicketRef:
    """The customer's words as a public comment, unless an attempt that crashed wrote them already (looked up
    first once marked attempted: a deleted ticket raises :class:`TicketDeleted` there too)."""
    hd, event = rt.helpdesk, pending.event
    if pending.attempted and rt.policy.call(
        hd.name, lambda: hd.has_comment_containing(ticket_id, messages.reference(event))
    ):
        log.info("inbox %d was already written to ticket %s before a crash", pending.id, ticket_id)
        return TicketRef(id=ticket_id, status="open")
    body = messages.customer_body(event)
    try:
        return _routed_to_people(
            rt,
            lambda routing: hd.add_customer_comment(
                ticket_id, requester_id=requester_id, body=body, tags=planned.tags, routing=routing
            ),
            planned.routing,
        )
    except UnknownOutcome as e:  # marked attempted before: the next attempt looks for the comment first
        raise _look_first_next_time(e) from e


def _routed_to_people(rt: Runtime, write: Callable[[Routing], TicketRef], routing: Routing) -> TicketRef:
    """``write`` with the rules' routing; refused as invalid (a plain :class:`PermanentError`: Zendesk's 422
    for an assignee outside the group, an agent or group removed since the worker started), written again
    without the group, assignee and brand, and a note on the ticket says why. The refusal wrote nothing, so
    the second write cannot double it; without this the customer's message was a dead letter until someone
    fixed the rule and replayed it."""
    hd = rt.helpdesk
    try:
        return rt.policy.call(hd.name, lambda: write(routing))
    except PermanentError as e:
        if not _refused_as_invalid(e) or not (routing.group_id or routing.assignee_id or routing.brand_id):
            raise
        log.warning("%s refused the rules' routing (%s): written without group, assignee and brand", hd.name, e)
        unrouted = replace(routing, group_id=None, assignee_id=None, brand_id=None)
        ticket = rt.policy.call(hd.name, lambda: write(unrouted))
        notes.try_write(rt, ticket.id, messages.routing_refused_note(e.message), what="the routing note")
        return ticket


def _refused_as_invalid(e: PermanentError) -> bool:
    """The helpdesk answered a 4xx refusing the write (nothing was written), as opposed to a plain error without
    an answer: Zendesk's "unexpected answer" is one it made but whose answer could not be read (a 201 with no JSON),
    and writing again would open a second ticket."""
    return type(e) is PermanentError and e.http_status is not None and 400 <= e.http_status < 500


def _reopen_as_new(
    rt: Runtime, pending: PendingEvent, thread: ThreadRow, requester_id: str, decision: Decision,
    *, followup_of: str | None = None, deleted: str | None = None,
) -> tuple[TicketRef, dict[str, Any]]:  # fmt: skip
    """A new ticket for a thread whose ticket is closed (``followup_of``) or was deleted (``deleted``): planned
    as a new thread's (tags, routing, CRM fields), "create started" recorded first."""
    event = pending.event
    customer = enrich.look_up(rt, event)
    facts = replace(_facts(rt, event, thread, customer, decision, create=True), deleted_ticket=deleted)
    created = plan.plan(facts, now=time.time())
    rt.store.update_thread(event.thread_key, **created.start)
    return _open_ticket(
        rt, event, thread, requester_id, created, customer, followup_of=followup_of, since=pending.received_at
    )


def _look_first_next_time(e: UnknownOutcome) -> Unavailable:
    """A write whose answer was lost (a timeout, a gateway's 5xx after the helpdesk may have applied it): retried
    later like an outage, since every retry of the customer's message, or of the note for their edit or removal or
    a notice, looks for what it wrote first (module docstring)."""
    return Unavailable(f"{e.message}; the next attempt looks for it first", platform=e.platform)


def _record_change(rt: Runtime, pending: PendingEvent, thread: ThreadRow | None) -> Outcome | None:
    """An edit, a removal or a notice: a note on the thread's ticket, never a new ticket. In a thread with no
    ticket, or whose ticket was deleted, an edit with text is the customer's message (its original never
    reached us, or went with the ticket): None, to apply it as one; anything else is ignored with the reason."""
    event = pending.event
    if thread is None or thread.ticket_id is None:
        if event.kind == "edit" and event.text:
            return None
        what = event.extra.get("notice") if event.kind == "notice" else f"{event.kind} of a message"
        return Outcome(ignored=f"{what or 'notice'} in a thread without a ticket")
    try:
        _note_change(rt, pending, str(thread.ticket_id))
    except TicketDeleted:  # an edit's new text is the customer's words: a message, which opens a new ticket
        return None if event.kind == "edit" and event.text else Outcome(ignored=f"{event.kind} on a deleted ticket")
    return DONE


def _note_change(rt: Runtime, pending: PendingEvent, ticket_id: str) -> None:
    """The change's note, once, as a customer's comment is written (:func:`_comment`): the row marked attempted
    before the write, and an attempt after that looks for the note's own mark first (found: written). A lost
    answer is retried later, never taken as written: the customer's action must reach the ticket."""
    hd, event = rt.helpdesk, pending.event
    mark = messages.change_reference(event)
    if pending.attempted and rt.policy.call(hd.name, lambda: hd.has_comment_containing(ticket_id, mark)):
        log.info("inbox %d was already noted on ticket %s by an earlier attempt", pending.id, ticket_id)
        return
    if not pending.attempted:
        rt.store.start_event(pending.id, event.thread_key, Records())
    try:
        rt.policy.call(hd.name, lambda: hd.add_internal_note(ticket_id, messages.change_note(event)))
    except UnknownOutcome as e:  # marked attempted before: the next attempt looks for the note first
        raise _look_first_next_time(e) from e


def _edit_as_message(event: SocialEvent) -> SocialEvent:
    """An edit whose original was never seen, as the message it is now, marked as edited."""
    kind: EventKind = "comment" if event.extra.get("edited_kind") == "comment" else "message"
    return replace(event, kind=kind, extra={**event.extra, "edited": "1"})


def _record_status(rt: Runtime, event: SocialEvent) -> Outcome:
    """A platform's receipt for one of our replies (WhatsApp): update its delivery; a failure tells the agent."""
    status, target = event.extra.get("status", ""), event.extra.get("target_id", "")
    delivery = rt.store.delivery_for_message(event.platform, target)
    if delivery is None:  # not one of ours, or sent before this bridge kept records
        return Outcome(ignored="receipt for a message the bridge did not send")
    rt.store.set_delivery_receipt(int(delivery["id"]), status)
    if status != "failed":
        return DONE
    reason = f"{event.extra.get('error_title') or 'no reason given'} (code {event.extra.get('error_code') or '?'})"
    ticket_id = str(delivery["ticket_id"])
    note = _receipt_failed_note(delivery, f"{messages.PLATFORM_NAMES.get(event.platform)} reported it failed: {reason}")
    notes.write_once(rt, ticket_id, note, what="the failed receipt's note")
    return DONE


def _receipt_failed_note(delivery: Mapping[str, Any], reason: str) -> str:
    """An agent's reply is the public comment above the note; the bot's message is no comment: it is named."""
    if delivery["author_kind"] == AuthorKind.BOT:
        return messages.bot_receipt_failed_note(bot.what(str(delivery["comment_id"])), reason)
    return messages.delivery_failed_note(reason)
