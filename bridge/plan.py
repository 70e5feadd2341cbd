"""What the worker does with one customer message, decided before any call: pure functions, no I/O.

The worker loads what it needs about the thread once (:meth:`bridge.store.Store.load_thread_context`),
gathers the facts (the CRM's answer, the rules' decision with names resolved), and :func:`plan` turns them
into a :class:`Plan`: ignored and why, or the ticket to create (subject, body, tags, custom fields, routing)
or the comment's tags and routing, the rules' explanation for the first internal note, and the thread's
columns to record before the helpdesk write (``create_started_at``, the CRM note owed, the rule's
``approval``: an agent's reply written while the event is still being worked on is held then). After the
write, :func:`thread_changes` says what the thread records with the event's outcome. :mod:`bridge.inbound`
carries the plan out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bridge import messages
from bridge.events import NewTicket, Routing, SocialEvent
from bridge.rows import ThreadRow
from bridge.rules import Decision


@dataclass(frozen=True)
class Facts:
    """What a plan is made from: the event, its thread's row, and what the worker learned about them."""

    event: SocialEvent
    thread: ThreadRow
    decision: Decision  # the triage rules' (NO_RULES without rules)
    routing: Routing  # the decision's group, assignee and brand resolved to ids
    create: bool  # the thread has no ticket (or its ticket is closed): a new one
    crm_tags: tuple[str, ...] = ()  # ``vip`` from the CRM's record
    fields: dict[str, str] = field(default_factory=dict)  # the create call's custom fields (CRM's, rules' reasons)
    explanation: str = ""  # the rules that fired and why, for a note ("" when none, or in a field)
    owed: dict[str, Any] = field(default_factory=dict)  # the thread's columns saying a CRM note is owed
    deleted_ticket: str | None = None  # the thread's ticket an agent deleted, which the new one replaces


@dataclass(frozen=True)
class Plan:
    """What to do with one customer message (see the module docstring)."""

    ignored: str | None = None
    create: bool = False
    tags: tuple[str, ...] = ()  # on the create: the channel's, the CRM's, the rules'; on a comment: the rules'
    fields: dict[str, str] = field(default_factory=dict)
    routing: Routing = field(default_factory=Routing)
    explanation: str = ""
    approval: str | None = None  # replies on this thread need approval (the rule's reason)
    start: dict[str, Any] = field(default_factory=dict)  # thread columns durable before the helpdesk write


def plan(facts: Facts, *, now: float) -> Plan:
    """The plan for one customer message; ``now``: when "create started" is recorded."""
    decision = facts.decision
    if decision.ignored:
        return Plan(ignored=decision.ignored)
    approval = decision.approval if decision.approval and not facts.thread.approval else None
    # durable before the helpdesk write: a reply to the ticket, however early, must find the thread held
    held = {"approval": approval} if approval else {}
    if not facts.create:
        return Plan(tags=decision.tags, routing=facts.routing, approval=approval, start=held)
    tags = tuple(dict.fromkeys(channel_tags(facts.event) + facts.crm_tags + decision.tags))
    return Plan(create=True, tags=tags, fields=facts.fields, routing=facts.routing, explanation=_explanation(facts),
                approval=approval, start={"create_started_at": now, **facts.owed, **held})  # fmt: skip


def _explanation(facts: Facts) -> str:
    """The new ticket's first note: the rules' reasons, after a line naming the deleted ticket it replaces (the
    agents' only way from it to the thread's history: a follow-up link can name a closed ticket only)."""
    deleted = messages.deleted_ticket_note(facts.deleted_ticket) if facts.deleted_ticket else ""
    return "\n\n".join(part for part in (deleted, facts.explanation) if part)


def ticket(planned: Plan, event: SocialEvent, requester_id: str, *, followup_of: str | None) -> NewTicket:
    """The create call of a planned ticket, carrying the thread key as ``external_id`` (found again after a crash)."""
    return NewTicket(
        external_id=event.thread_key,
        requester_id=requester_id,
        subject=messages.ticket_subject(event),
        body=messages.customer_body(event),
        tags=planned.tags,
        created_at=event.created_at,
        followup_of=followup_of,
        fields=planned.fields,
        routing=planned.routing,
        reference=messages.reference(event),
    )


def thread_changes(
    thread: ThreadRow, event: SocialEvent, *, ticket_id: str, requester_id: str, opens: bool
) -> dict[str, Any]:
    """The thread's columns once the message is on ``ticket_id`` (``opens``: it starts a new episode)."""
    at = event.created_at.timestamp()
    return {
        **({"episode_started_at": at, "episode_answered_at": None} if opens else {}),
        **({"ticket_id": ticket_id} if ticket_id != thread.ticket_id else {}),
        "requester_id": requester_id,
        "last_inbound_at": max(thread.last_inbound_at or 0.0, at),
        "last_inbound_message_id": event.extra.get("original_id") or event.message_id,
        "customer_id": event.author.id,
        "first_inbound_at": thread.first_inbound_at or at,
    }


def new_thread(event: SocialEvent, helpdesk: str, now: float) -> ThreadRow:
    """The row a thread's first event claims (:meth:`bridge.store.Store.start_event` inserts it)."""
    return ThreadRow(
        key=event.thread_key, platform=event.platform, channel=event.channel, account_id=event.account_id,
        thread_id=event.thread_id, reply_to=event.reply_to, helpdesk=helpdesk, ticket_id=None, requester_id=None,
        create_started_at=None, first_inbound_at=None, last_inbound_at=None, last_inbound_message_id=None,
        customer_id=None, enrichment=None, enrichment_event=None, enrichment_attempts=0, enrichment_due_at=None,
        crm_persona_id=None, crm_last_post_id=None, episode_started_at=None, episode_answered_at=None, approval=None,
        created_at=now, updated_at=now,
    )  # fmt: skip


def channel_tags(event: SocialEvent) -> tuple[str, ...]:
    """Every ticket's tags: socialdesk, the platform, the channel (and ``messenger`` for Messenger threads)."""
    channel_tag = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in event.channel.lower())
    tags = ["socialdesk", event.platform, channel_tag]
    if event.thread_id.startswith(("messenger:", "messenger-guest:")):
        tags.append("messenger")
    return tuple(dict.fromkeys(tags))
