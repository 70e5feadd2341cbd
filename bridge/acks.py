"""Automatic acknowledgements in the worker: planned once per conversation episode, sent after a delay.

After a customer's message is on its ticket, :func:`plan` takes the facts (the episode and whether an agent
is already answering, read with the thread's context; calendar verdict and promise, classification), asks
:func:`bridge.replies.decide` and returns its answer as an ``auto_acks`` row, which the worker records with
the event's outcome: an ack due after the channel's ``delay``, or the reason for none (logged too). An
episode is the service figures' (:func:`bridge.figures.opens_episode`, one setting:
``[metrics] episode_quiet_hours``): it starts with a thread's first message, a message after that much
silence, or one that found the ticket solved (closed, or reopened by it); the row's unique (thread,
episode) key makes "at most once" a database fact.

When the delay is over the dispatcher claims the row and :func:`send` delivers it through the channel as a
reply would go, unless an agent answered first or the platform's window closed meanwhile. The ack is a
delivery like an agent's (comment id ``auto_ack:<id>``, so its echo is dropped and figures can tell it
apart) and an internal note on the ticket tells the agent what the customer was told. A send whose outcome
is unknown is never repeated: "sending" is set before the call and only a "due" row is ever sent; one cut
off mid-call (the worker died) becomes "unknown" after ``ACK_SEND_TIMEOUT`` and a note tells the agent; one
whose answer was lost (a timeout, a gateway's 5xx after the platform may have posted it) at once.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bridge import figures, messages, notes, outbound, schedules, triage
from bridge.calendars import Unknown
from bridge.errors import BridgeError, UnknownOutcome
from bridge.events import AuthorKind, Delivery, SocialEvent, TicketRef
from bridge.ports import SocialChannel
from bridge.registry import Runtime
from bridge.replies import AckFacts, AutoAck, NoAck, decide, first_name, is_public, send_blocker
from bridge.replyfrom import replying_channel
from bridge.rows import AckState, ThreadRow
from bridge.rules import NO_RULES, Classified, Decision
from bridge.store import ACK_COMMENT_PREFIX, ack_row

log = logging.getLogger(__name__)

NOTE_PREFIX = "Sent automatically:"
UNKNOWN_PREFIX = (
    "An automatic acknowledgement may not have reached the customer: the bridge stopped while sending it, or the"
    " platform's answer was lost, and it is not sent twice. It said:"
)
LIVE = ("due", "sending", "sent", "unknown", "unknown_noted")  # an episode with one of these has its acknowledgement


def plan(
    rt: Runtime, event: SocialEvent, thread: ThreadRow, ticket: TicketRef, *, opens_episode: bool,
    rules: Decision = NO_RULES, state: AckState | None = None,
) -> dict[str, Any] | None:  # fmt: skip
    """Decide the acknowledgement of one customer message (``thread``: its row before this message;
    ``opens_episode``: the message starts an episode, :func:`bridge.figures.opens_episode`; ``rules``: the
    triage rules' decision, which may turn the acknowledgement off, give its own templates or its calendar;
    ``state``: the thread's acks read with its context, else read here). Returns the episode's ``auto_acks``
    row for the caller to record with the event's outcome (None: the episode has its row already)."""
    config = rt.config.acks.get(event.channel)
    if config is None:
        return None
    latest = state.latest if state is not None else rt.store.latest_ack(event.thread_key)
    if not (opens_episode or latest is None or str(latest["ticket_id"]) != str(thread.ticket_id)):
        why = "already acknowledged in this episode" if latest["status"] in LIVE else "decided at the episode's start"
        log.info("no auto-ack for %s: %s", messages.key_shown(event.thread_key), why)
        return None
    restarted = figures.ticket_restarted(thread.ticket_id, ticket)
    facts = _facts(rt, event, ticket.id, restarted=restarted, calendar=rules.calendar, state=state)
    verdict = decide(replace(facts, rule_off=rules.no_ack), config.with_templates(rules.ack_templates))
    return _record(rt, event, ticket.id, verdict)


def _record(rt: Runtime, event: SocialEvent, ticket_id: str, verdict: AutoAck | NoAck) -> dict[str, Any]:
    at, public = event.created_at.timestamp(), is_public(event.platform, event.kind, event.reply_to)
    if isinstance(verdict, NoAck):
        log.info("no auto-ack for %s: %s", messages.key_shown(event.thread_key), verdict.reason)
        status, text, reason, due_at = "none", None, verdict.reason, None
    else:
        status, text, reason, due_at = "due", verdict.text, None, rt.policy.clock() + verdict.delay
        log.info(
            "auto-ack (%s) for %s due in %.0fs", verdict.template, messages.key_shown(event.thread_key), verdict.delay
        )
    return ack_row(thread_key=event.thread_key, episode_at=at, ticket_id=ticket_id, public=public,
                   status=status, text=text, reason=reason, due_at=due_at)  # fmt: skip


def _facts(
    rt: Runtime, event: SocialEvent, ticket_id: str, *, restarted: bool, calendar: str | None, state: AckState | None
) -> AckFacts:
    channel = rt.config.channel(event.channel)
    classified = triage.classified(rt, event)
    language = classified.language if classified else None
    open_, unknown, promised = _hours(rt, event, language, calendar)
    return AckFacts(
        platform=event.platform,
        public=is_public(event.platform, event.kind, event.reply_to),
        own_post=channel is not None and event.author.id == channel.account_id,
        ticket=ticket_id,
        first_name=first_name(event.author.name),
        language=language,
        sentiment=_sentiment(rt, event, classified),
        urgency=str(classified.urgency) if classified else None,
        open=open_,
        unknown_reason=unknown,
        promise=promised,
        agent_answering=not restarted and (state.agent_replied if state is not None else _answering(rt, event)),
    )


def answering_since(rt: Runtime, event: SocialEvent) -> float:
    """Since when a person's reply on the thread means they are in the conversation (the quiet period)."""
    return event.created_at.timestamp() - rt.config.metrics.quiet


def _answering(rt: Runtime, event: SocialEvent) -> bool:
    """An agent replied on the thread within the quiet period before this message (or after it): they are in
    the conversation, and the customer's answer to them ("yes, thanks!") wants no "we will answer by ...".
    Not when the message found the ticket solved: the agents had closed that conversation."""
    return rt.store.agent_replied_since(event.thread_key, answering_since(rt, event))


def _sentiment(rt: Runtime, event: SocialEvent, classified: Classified | None) -> str | None:
    """The classifier's sentiment; "unknown" when it should have answered and failed (never guessed cheerful)."""
    if classified is not None:
        return str(classified.sentiment)
    return "unknown" if rt.classify is not None and event.text else None


def _hours(
    rt: Runtime, event: SocialEvent, language: str | None, rule_calendar: str | None
) -> tuple[bool | None, str, str | None]:
    """Open or not at the time of the post (None: unknown, with why), and the promise in the customer's
    language (None without a calendar target), by the channel's calendar or the one a triage rule named. A
    channel without a calendar is open around the clock."""
    calendar = schedules.for_channel(rt.config, rt.store, event.channel, rule_calendar)
    if calendar is None:
        return True, "", None
    if isinstance(calendar, Unknown):
        return None, calendar.reason, None
    at, lang = event.created_at, language or "en"
    promised = schedules.promise_for(rt.config, rt.store, event.channel, at, lang, calendar=rule_calendar)
    return calendar.is_open(event.created_at), "", None if isinstance(promised, Unknown) else promised.text


# -- sending, when the delay is over ---------------------------------------------------------------------------


def send(rt: Runtime, ack_id: int, owner: str) -> int:
    """Send one due acknowledgement (1), or cancel it saying why (0)."""
    row = rt.store.ack(ack_id)
    if row is not None and row["status"] == "unknown":
        return _tell_unknown(rt, row)
    if row is None or row["status"] != "due":
        return 0
    with rt.leases.hold(str(row["thread_key"]), owner):
        return _send(rt, row)


def _send(rt: Runtime, row: dict[str, Any]) -> int:
    thread = rt.store.thread(str(row["thread_key"]))
    now = rt.policy.clock()
    blocker = _blocker(rt, row, thread, now)
    if blocker:
        log.info("auto-ack %d for %s cancelled: %s", row["id"], messages.key_shown(row["thread_key"]), blocker)
        rt.store.set_ack(int(row["id"]), status="cancelled", reason=blocker)
        return 0
    if thread is None or not rt.store.set_ack(int(row["id"]), status="sending"):
        return 0  # another worker took it
    return _deliver(rt, row, thread, rt.channels[_replying(rt, thread)], now)


def _tell_unknown(rt: Runtime, row: dict[str, Any]) -> int:
    """An ack cut off mid-send, or whose answer was lost: never sent again (it may have arrived), but the agent must
    know. A note the helpdesk refuses now leaves the row ``unknown``, claimed again later; one that may have been
    written is not written again (:mod:`bridge.notes`)."""
    note = f"{UNKNOWN_PREFIX} {row['text']}"
    try:
        notes.write_once(rt, str(row["ticket_id"]), note, what=f"the note on auto-ack {row['id']}")
    except BridgeError as e:
        log.warning("the note on auto-ack %d, whose send may not have gone out, is owed: %s", row["id"], e)
        return 0
    rt.store.set_ack(int(row["id"]), status="unknown_noted", when="unknown")
    log.warning(
        "auto-ack %d for %s may not have been sent; its ticket is told",
        row["id"],
        messages.key_shown(row["thread_key"]),
    )
    return 0


def _replying(rt: Runtime, thread: ThreadRow) -> str:
    """The channel that answers the thread: its own, or the one its public replies come from (reply_from)."""
    return replying_channel(rt.config.channels, thread.channel, thread.thread_id)


def _blocker(rt: Runtime, row: dict[str, Any], thread: ThreadRow | None, now: float) -> str | None:
    if thread is None or _replying(rt, thread) not in rt.channels:
        return "the thread's channel is not configured"
    if rt.store.agent_replied_since(str(row["thread_key"]), float(row["episode_at"])):
        return "an agent answered first"
    last = thread.last_inbound_at
    since = datetime.fromtimestamp(now, UTC) - datetime.fromtimestamp(last, UTC) if last else None
    channel = rt.config.channel(thread.channel)
    template = channel is not None and channel.get("reengagement_template") is not None
    return send_blocker(thread.platform, bool(row["public"]), since, template=template)


def _deliver(rt: Runtime, row: dict[str, Any], thread: ThreadRow, channel: SocialChannel, now: float) -> int:
    hd, comment_id, text = rt.helpdesk.name, f"{ACK_COMMENT_PREFIX}{row['id']}", str(row["text"])
    rt.store.start_delivery(helpdesk=hd, comment_id=comment_id, ticket_id=str(row["ticket_id"]),
                            thread_key=thread.key, at=now, author_kind=AuthorKind.AUTO_ACK)  # fmt: skip
    try:
        key = outbound.reply_key(hd, comment_id)
        delivery = rt.policy.call(channel.name, lambda: _sender(channel, thread, text, now, key))
    except UnknownOutcome as e:  # the platform may have it (its answer was lost): as one cut off mid-send
        log.warning("auto-ack %d for %s may have been sent: %s", row["id"], messages.key_shown(thread.key), e)
        rt.store.finish_delivery(hd, comment_id, status="unknown", platform=thread.platform, error=e.message)
        rt.store.set_ack(int(row["id"]), status="unknown", reason=e.message, when="sending")
        return _tell_unknown(rt, row)
    except BridgeError as e:  # an ack is worth one try: late, it would promise what is no longer true
        log.warning("auto-ack %d for %s not sent: %s", row["id"], messages.key_shown(thread.key), e)
        rt.store.finish_delivery(hd, comment_id, status="failed", platform=thread.platform, error=e.message)
        rt.store.set_ack(int(row["id"]), status="failed", reason=e.message, when="sending")
        return 0
    sent = delivery.message_ids
    rt.store.finish_delivery(hd, comment_id, status="sent", platform=thread.platform, message_ids=sent)
    rt.store.set_ack(int(row["id"]), status="sent", when="sending")
    _note(rt, str(row["ticket_id"]), text, _template(rt, thread) if delivery.note else None)
    log.info("auto-ack %d sent for %s", row["id"], messages.key_shown(thread.key))
    return 1


def _sender(channel: SocialChannel, thread: ThreadRow, text: str, now: float, key: str) -> Delivery:
    state, at = outbound.thread_state(thread), datetime.fromtimestamp(now, UTC)
    return outbound.send_text(channel, state, text, now=at, key=key)


def _template(rt: Runtime, thread: ThreadRow) -> str:
    channel = rt.config.channel(thread.channel)
    return str(channel.get("reengagement_template") if channel is not None else "?")


def _note(rt: Runtime, ticket_id: str, text: str, template: str | None = None) -> None:
    """What the customer was told, for the agent (``template``: the channel's approved template went instead of
    the text, the platform's window having closed). Best effort: the ack is sent and its delivery recorded."""
    note = f"{NOTE_PREFIX} {text}"
    if template is not None:
        note = f"{NOTE_PREFIX} the template {template!r} (outside the 24-hour window), instead of: {text}"
    notes.try_write(rt, ticket_id, note, what="the auto-ack note")
