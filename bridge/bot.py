"""Quick answers in the worker: after a customer's message is on its ticket, what the bot says, sent at once.

:func:`answer` takes what the worker read with the thread's context (:class:`bridge.rows.BotState`: the bot's
earlier messages, whose episode's give a hand-off or a question asked; when a person last replied), adds the
classifier's verdict and a pressed button, asks :func:`bridge.quick.decide`, and carries out its answer: the
ticket field first when the customer gave what was asked (so the agent has it even if the platform then fails),
then the message, through the channel as a reply goes, with buttons where the platform has them. Each bot
message is a delivery with ``author_kind = bot`` and comment id ``bot:<step>:<answer>:<digest of the customer's
message>``, recorded "sending" before the call; its outcome (sent with its platform ids, which go in
``sent_messages`` so the echo is dropped, or failed) is returned for the event's last write. An event applied
again after a crash finds its answer by the digest, whatever it would decide now, and sends nothing twice; an
answer it finds still "sending" (cut off before its outcome was recorded) is then "unknown", and the agent is
told to check (:func:`_again`). The
service figures leave it out (:mod:`bridge.figures` counts people only) and ``socialdesk_bot_messages_total``
counts it. An internal note tells the agent what the customer was told (:func:`tell`), written after the
event's last write: nothing but that write stands between the send and its record (a crash in the note's
helpdesk call, with its retries, would leave the delivery "sending" and its platform ids unknown: a receipt or
an echo of it not recognised as ours). A crash after the record and before the note loses the note only. A bot
message is worth one try: a failure is logged and noted, never retried (late, it would answer a conversation
that moved on); a send whose answer was lost is "unknown", and the note asks the agent to check before
repeating it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from bridge import messages, metrics, notes, outbound, triage
from bridge.errors import BridgeError, UnknownOutcome
from bridge.events import AuthorKind, Delivery, DeliveryStatus, SocialEvent, ThreadState, utc_from_epoch
from bridge.ports import Buttons, SocialChannel, TicketFields
from bridge.quick import BotReply, NoReply, QuickFacts, Step, decide
from bridge.registry import Runtime
from bridge.replies import is_public
from bridge.rows import BotState, BotStep, ThreadRow
from bridge.store import DeliveryOutcome

log = logging.getLogger(__name__)

PREFIX = "bot:"
NOTE_PREFIX = "The bot answered:"
HANDOFF_NOTE = "The customer asked for a person: the bot answers no more in this episode. "
FAILED_PREFIX = "The bot's answer could not be sent"


@dataclass(frozen=True)
class Answered:
    """A bot message tried: its outcome, for the event's last write, and the note that then tells the agent what
    the customer was told (:func:`tell`, after that write)."""

    delivery: DeliveryOutcome
    ticket_id: str
    note: str
    again_on: str | None = None  # the channel of an "unknown" found re-applying (:func:`_again`): counted by tell


def answer(
    rt: Runtime, event: SocialEvent, thread: ThreadRow, ticket_id: str, *, opens_episode: bool, state: BotState
) -> Answered | None:
    """Answer one customer message of a channel with quick answers (``thread``: its row before this message;
    ``state``: the bot's messages and the latest person's reply, read with the thread's context for this event,
    :func:`reads`). Returns the message tried, for the worker to record with the event's
    (:class:`bridge.store.Records`) and then to note (:func:`tell`); None when nothing was sent."""
    config = rt.config.quick.get(event.channel)
    if config is None:
        return None
    own = state.own()
    if own is not None:  # the event applied again: its answer is out, whatever it would decide now
        return _again(rt, event, ticket_id, own)
    started = thread.episode_start(event.created_at.timestamp(), opens=opens_episode)
    facts = replace(_facts(rt, event, state, started, opens_episode), approval=thread.approval)
    verdict = decide(facts, config)
    if isinstance(verdict, NoReply):
        log.info("no bot answer for %s: %s", messages.key_shown(event.thread_key), verdict.reason)
        return None
    return _send(rt, event, thread, ticket_id, verdict)


def tell(rt: Runtime, answered: Answered, *, took: bool) -> None:
    """The agent's note, once the send's outcome is recorded. Best effort: the message is sent and recorded, and
    the agent sees the customer's side anyway; a crash before it loses this note only. An outcome the record did
    not take (``took`` False: a re-applied event's "unknown", :func:`_again`, for a row the stalled worker that
    sent it recorded meanwhile) is neither noted nor counted: the row, that worker's note and metric stand."""
    if not took:
        log.info("bot %s on ticket %s: recorded meanwhile by the worker that sent it, no note",
                 what(answered.delivery.comment_id), answered.ticket_id)  # fmt: skip
        return
    if answered.again_on is not None:
        metrics.bot_message(answered.again_on, _step(answered.delivery.comment_id)[0], "unknown")
    _note(rt, answered.ticket_id, answered.note)


def reads(rt: Runtime, event: SocialEvent) -> str | None:
    """What :meth:`bridge.store.Store.load_thread_context` is asked for the bot (its ``bot``): the ending of this
    message's answer's comment id, on a channel with quick answers; None elsewhere (nothing read)."""
    return ":" + _digest(event) if event.channel in rt.config.quick else None


def _facts(rt: Runtime, event: SocialEvent, state: BotState, started: float, opens: bool) -> QuickFacts:
    """The facts of this message; the bot's earlier messages are the episode's (never this one's: a retry that
    read its own question would answer it, :func:`answer`). What the customer was told counts only if they may
    have it: a question whose send failed was never asked (a number in the next message is no answer to it, and
    gets no thanks), a failed first message never said the bot is automated (the next one says it). A hand-off
    counts failed or not: the customer asked for a person, and the agent was told (:func:`_failed`)."""
    classified = triage.classified(rt, event)
    episode = state.in_episode(started)
    steps, seen = [_step(s.comment_id) for s in episode], [_step(s.comment_id) for s in episode if s.maybe_seen()]
    last_step, last_name = seen[-1] if seen else ("", "")
    return QuickFacts(
        platform=event.platform,
        channel=event.channel,
        text=event.text,
        pressed=event.extra.get("pressed"),
        public=is_public(event.platform, event.kind, event.reply_to),
        language=classified.language if classified else None,
        sentiment=str(classified.sentiment) if classified else ("unknown" if rt.classify and event.text else None),
        urgency=str(classified.urgency) if classified else None,
        handed_off=any(step == Step.HANDOFF for step, _ in steps),
        person_answering=state.person_answering(started),
        asking=last_name if last_step == Step.ASK else None,
        first_in_episode=opens,
        bot_spoke=bool(seen),
    )


def _again(rt: Runtime, event: SocialEvent, ticket_id: str, own: BotStep) -> Answered | None:
    """This message had its answer before (the event is applied again after a crash): nothing is sent. One still
    "sending" was cut off between its "sending" row and the record of its outcome (the worker held the thread's
    lease, as this one does now): the customer may or may not have it, so it is "unknown" and the agent is told
    to check, as an agent's reply found so is (:mod:`bridge.outbound`); it stayed "sending" for ever. The note
    and the metric wait for the record (:func:`tell`): a stalled holder may have recorded it meanwhile."""
    if own.status != DeliveryStatus.SENDING:
        log.info("no bot answer for %s: this message had its answer before", messages.key_shown(event.thread_key))
        return None
    step, _ = _step(own.comment_id)
    log.warning("bot %s for %s: cut off while sending, not known whether it was sent", step,
                messages.key_shown(event.thread_key))  # fmt: skip
    reason = "the bridge stopped while sending it"
    unknown = DeliveryOutcome(rt.helpdesk.name, own.comment_id, DeliveryStatus.UNKNOWN, event.platform, error=reason)
    return Answered(unknown, ticket_id, messages.bot_stopped_note(what(own.comment_id)), again_on=event.channel)


def what(comment: str) -> str:
    """A bot message named for the agent by its delivery's comment id, its text not kept: "ask order", "menu"."""
    step, name = _step(comment)
    return f"{step} {name}" if name else step


def comment_id(step: Step, name: str, event: SocialEvent) -> str:
    """The delivery's comment id (at most 64 characters: the answer's name is at most 24)."""
    return f"{PREFIX}{step}:{name}:{_digest(event)}"


def _digest(event: SocialEvent) -> str:
    """The message's part of the comment id: whatever the bot decided, its answer ends with it."""
    return hashlib.sha256(f"{event.thread_key}\n{event.message_id}".encode()).hexdigest()[:16]


def _step(comment: str) -> tuple[str, str]:
    step, _, rest = comment.removeprefix(PREFIX).partition(":")
    return step, rest.rpartition(":")[0]


# -- carrying it out ----------------------------------------------------------------------------------------------


def _send(rt: Runtime, event: SocialEvent, thread: ThreadRow, ticket_id: str, reply: BotReply) -> Answered | None:
    """The field first (if the answer fills one), then "sending" recorded, then the one try; returns the send's
    outcome for the worker to record (None: nothing was sent)."""
    channel = rt.channels.get(event.channel)
    if channel is None:
        log.warning("no bot answer for %s: the channel is not configured", messages.key_shown(event.thread_key))
        return None
    if reply.fields and not _fields_set(rt, ticket_id, reply, event):
        return None
    hd, comment, now = rt.helpdesk.name, comment_id(reply.step, reply.name, event), rt.policy.clock()
    if not rt.store.start_delivery(helpdesk=hd, comment_id=comment, ticket_id=ticket_id, thread_key=event.thread_key,
                                   at=now, author_kind=AuthorKind.BOT):  # fmt: skip
        log.info(
            "bot %s for %s was sent before (the event is applied again)",
            reply.step,
            messages.key_shown(event.thread_key),
        )
        return None
    state, key, at = _state(thread, event, ticket_id), outbound.reply_key(hd, comment), utc_from_epoch(now)
    return _sent(rt, event, ticket_id, reply, lambda: _deliver(channel, state, reply, at, key))


def _sent(
    rt: Runtime, event: SocialEvent, ticket_id: str, reply: BotReply, deliver: Callable[[], Delivery]
) -> Answered:
    """Send once (a retried send whose answer was lost posts twice: buttons carry no key to deduplicate on) and
    return the outcome, which the worker records in the event's own last write (:meth:`Store.finish_event`)
    rather than one of its own, and the agent's note, written after that write (:func:`tell`). What a crash
    before that write leaves is what a crash right after the send always left: the row "sending" (never resent:
    the event applied again finds it by its digest, :func:`_again`)."""
    comment = comment_id(reply.step, reply.name, event)
    try:
        delivery = rt.policy.call(event.channel, deliver, attempts=1)
    except UnknownOutcome as e:
        return _unknown(rt, event, ticket_id, comment, reply, e)
    except BridgeError as e:
        return _failed(rt, event, ticket_id, comment, reply, e)
    metrics.bot_message(event.channel, str(reply.step), "sent")
    log.info("bot %s (%s) sent for %s", reply.step, reply.name or "-", messages.key_shown(event.thread_key))
    note = f"{HANDOFF_NOTE if reply.step == Step.HANDOFF else ''}{NOTE_PREFIX} {_shown(reply)}"
    sent = DeliveryOutcome(rt.helpdesk.name, comment, DeliveryStatus.SENT, event.platform, tuple(delivery.message_ids))
    return Answered(sent, ticket_id, note)


def _fields_set(rt: Runtime, ticket_id: str, reply: BotReply, event: SocialEvent) -> bool:
    """The customer's answer into the ticket field, with a note, before the thanks; False (no thanks) when it is
    not set. The customer's message is on its ticket already, so a refusal, or a failure the policy's retries did
    not overcome, never fails the event (a dead letter would lose the thread's changes, a new thread's ticket
    link; a postponed one would write its ticket again): a note gives the agent the value instead."""
    hd = rt.helpdesk
    if not isinstance(hd, TicketFields):
        log.warning("bot for %s: the helpdesk %s cannot set fields", messages.key_shown(event.thread_key), hd.name)
        return False
    fields = dict(reply.fields)
    try:
        rt.policy.call(hd.name, lambda: hd.set_fields(ticket_id, fields, note=messages.bot_field_note(fields)))
    except BridgeError as e:
        log.warning(
            "bot for %s: the ticket field could not be set, no thanks sent: %s", messages.key_shown(event.thread_key), e
        )
        _note(rt, ticket_id, messages.bot_field_failed_note(fields, e.message))
        return False
    return True


def _deliver(channel: SocialChannel, state: ThreadState, reply: BotReply, at: datetime, key: str) -> Delivery:
    buttons = [(b.payload, b.title) for b in reply.buttons]
    if buttons and isinstance(channel, Buttons):
        return channel.send_buttons(state, reply.text, buttons, now=at)
    return outbound.send_text(channel, state, reply.text, now=at, key=key)


def _state(thread: ThreadRow, event: SocialEvent, ticket_id: str) -> ThreadState:
    """The thread as it is with this message: the window runs from it, and a quote quotes it."""
    state = outbound.thread_state(replace(thread, ticket_id=ticket_id))
    original = event.extra.get("original_id") or event.message_id
    return replace(state, last_inbound_at=event.created_at, last_inbound_message_id=original,
                   reply_to=state.reply_to or event.reply_to, customer_id=event.author.id)  # fmt: skip


def _failed(rt: Runtime, event: SocialEvent, ticket_id: str, comment: str, reply: BotReply, e: BridgeError) -> Answered:
    log.warning("bot %s for %s not sent: %s", reply.step, messages.key_shown(event.thread_key), e)
    metrics.bot_message(event.channel, str(reply.step), "failed")
    failed = DeliveryOutcome(rt.helpdesk.name, comment, DeliveryStatus.FAILED, event.platform, error=e.message)
    return Answered(failed, ticket_id, f"{FAILED_PREFIX} ({e.message}). It said: {_shown(reply)}")


def _unknown(
    rt: Runtime, event: SocialEvent, ticket_id: str, comment: str, reply: BotReply, e: UnknownOutcome
) -> Answered:
    """The platform may have the message (its answer was lost): "unknown", as an agent's reply is then
    (:mod:`bridge.outbound`), and the agent told to check before sending it again by hand, never "not sent"."""
    log.warning("bot %s for %s: not known whether it was sent: %s", reply.step, messages.key_shown(event.thread_key), e)
    metrics.bot_message(event.channel, str(reply.step), "unknown")
    unknown = DeliveryOutcome(rt.helpdesk.name, comment, DeliveryStatus.UNKNOWN, event.platform, error=e.message)
    return Answered(unknown, ticket_id, messages.bot_unknown_note(e.message, _shown(reply)))


def _shown(reply: BotReply) -> str:
    buttons = f" [buttons: {' | '.join(b.title for b in reply.buttons)}]" if reply.buttons else ""
    return f"{reply.text}{buttons}"


def _note(rt: Runtime, ticket_id: str, note: str) -> None:
    """Best effort: worth the policy's tries, never the event (a refusal is logged)."""
    notes.try_write(rt, ticket_id, note, what="the bot's note")
