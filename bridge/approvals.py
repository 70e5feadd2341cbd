"""Approvals, the pure part: which agent replies wait for an approver, and what an approver's tag does.

A reply needs approval when its thread does (a triage rule fired with ``then.approval = true`` on one of
the customer's messages: a VIP, a legal word, a comment on a crisis post; the thread keeps it) or when its
author is one of ``[approvals] agents`` (new agents). Such a reply is *held*: not delivered, a ``held``
delivery row and an internal note for the agent. An approver answers on the ticket with a tag (by hand or
with the macro ``socialdesk setup zendesk`` creates): ``socialdesk_approve`` releases every reply held on
the ticket, oldest first; ``socialdesk_reject`` rejects them (never sent, a note says so). Both at once
reject: no reply goes public on a contradiction. The bridge takes the tag off once it has acted, so that
it approves what the approver saw and never a reply written after it.

Who answered counts where the helpdesk says who added the tag (Zendesk's ticket audits): an agent never
approves their own reply, and with ``[approvals] approvers`` set only those users answer at all. A refused
answer changes nothing (the replies stay held), its tag comes off and a note says why (:func:`refusal`).

Order is kept: a reply written after a held one on the same ticket waits behind it (held too, and
released or rejected with it), so a thread never reads out of order. :func:`plan` takes the replies and
what the store and the ticket say about them (:class:`Facts`, loaded once) and returns a :class:`Plan`.
No clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from bridge.events import AgentReply, DeliveryStatus

APPROVE_TAG = "socialdesk_approve"
REJECT_TAG = "socialdesk_reject"
BEHIND = "it follows a reply that waits for approval"


@dataclass(frozen=True)
class ApprovalSettings:
    """``[approvals]``: the agents whose replies always need approval and the users who may answer (helpdesk
    ids, emails or names, resolved to ids at start), and the approver's two tags."""

    agents: tuple[str, ...] = ()
    approve_tag: str = APPROVE_TAG
    reject_tag: str = REJECT_TAG
    approvers: tuple[str, ...] = ()  # who may answer (ids, emails or names); empty: any agent but the author


class Step(StrEnum):
    """What becomes of one reply in this pass."""

    DELIVER = "deliver"  # the usual path: sent now, or already handled (its row says how)
    HOLD = "hold"  # held now: a row, a note, not sent
    WAIT = "wait"  # held before and still waiting
    RELEASE = "release"  # approved: sent now, in its turn
    REJECT = "reject"  # rejected: never sent, a note says so


@dataclass(frozen=True)
class Planned:
    reply: AgentReply
    step: Step
    reason: str = ""  # why it is held ("rule legal", "agent 123 needs approval", BEHIND)


@dataclass(frozen=True)
class Facts:
    """What :func:`plan` needs, loaded once per pass: the ticket's delivery rows (comment id → status, and
    when each was held), the ticket's tags, why the thread needs approval (None: it does not) and the agents
    that do; and, where the helpdesk says who added the answer's tag (``audited``), that user (None: not
    found) and the users allowed to answer (empty: anyone but the author); and when an answer was recorded
    whose tag may still be on the ticket (None: none; that tag answers only replies held before it)."""

    statuses: Mapping[str, str]
    tags: frozenset[str]
    thread_reason: str | None = None
    agents: frozenset[str] = frozenset()
    audited: bool = False
    answered_by: str | None = None
    approvers: frozenset[str] = frozenset()
    held_at: Mapping[str, float] = field(default_factory=dict)
    answered_at: float | None = None


@dataclass(frozen=True)
class Plan:
    steps: tuple[Planned, ...]
    clear_tags: tuple[str, ...] = ()  # the approver's tags to take off the ticket once the plan is carried out
    refused: str = ""  # why the answer on the ticket was not taken (the replies stay held), for a note

    @property
    def waiting(self) -> bool:
        """Whether any reply still waits for an approver after this pass."""
        return any(p.step in (Step.HOLD, Step.WAIT) for p in self.steps)


def plan(replies: Sequence[AgentReply], facts: Facts, settings: ApprovalSettings) -> Plan:
    """Each reply's step, in the replies' order (oldest first)."""
    verdict = answer(facts.tags, settings)
    refused = refusal(verdict, replies, facts) if verdict else None
    verdict = None if refused else verdict
    steps: list[Planned] = []
    behind = False  # a reply before this one still waits: this one waits behind it
    for reply in replies:
        step = _step(reply, facts, verdict, behind)
        behind = behind or step.step in (Step.HOLD, Step.WAIT)
        steps.append(step)
    used = tuple(t for t in (settings.approve_tag, settings.reject_tag) if t in facts.tags)
    return Plan(tuple(steps), clear_tags=used, refused=refused or "")


def refusal(verdict: Step, replies: Sequence[AgentReply], facts: Facts) -> str | None:
    """Why the answer on the ticket is not taken, or None: the tag's author unknown, not an approver, or (for
    an approval) the author of a reply it would release."""
    if not facts.audited:  # the helpdesk cannot say who added the tag (Freshdesk): the tag is the answer
        return None
    who = facts.answered_by
    if who is None:
        return "the ticket's history does not say who added the tag"
    if facts.approvers and who not in facts.approvers:
        return f"user {who} is not one of the approvers ([approvals] approvers)"
    held = {r.author_id for r in replies if facts.statuses.get(r.comment_id) == DeliveryStatus.HELD}
    if verdict is Step.RELEASE and who in held:
        return f"user {who} wrote a reply it would approve; another approver must answer"
    return None


def answer(tags: frozenset[str], settings: ApprovalSettings) -> Step | None:
    """The approver's answer on the ticket: REJECT (wins over an approval), RELEASE, or None."""
    if settings.reject_tag in tags:
        return Step.REJECT
    return Step.RELEASE if settings.approve_tag in tags else None


def _step(reply: AgentReply, facts: Facts, verdict: Step | None, behind: bool) -> Planned:
    status = facts.statuses.get(reply.comment_id)
    if status == DeliveryStatus.APPROVED:  # released earlier, its send refused: it goes on, in its turn
        return Planned(reply, Step.RELEASE)
    if status == DeliveryStatus.HELD:
        return Planned(reply, verdict if verdict and _seen(reply, facts) else Step.WAIT)
    if status is not None:
        return Planned(reply, Step.DELIVER)
    reason = needs_approval(reply, facts) or (BEHIND if behind else None)
    # a reply new in this pass waits for the next answer: the approver has not seen it
    return Planned(reply, Step.HOLD, reason) if reason else Planned(reply, Step.DELIVER)


def _seen(reply: AgentReply, facts: Facts) -> bool:
    """Whether the tag on the ticket can answer this held reply: no answer recorded since the tag could have
    come off, or the reply was held before it (a tag left on after an answer releases nothing new)."""
    return facts.answered_at is None or facts.held_at.get(reply.comment_id, facts.answered_at) < facts.answered_at


def needs_approval(reply: AgentReply, facts: Facts) -> str | None:
    """Why this reply needs approval, or None: the thread's rule first, then its author."""
    if facts.thread_reason:
        return facts.thread_reason
    if reply.author_id in facts.agents:
        return f"replies by {reply.author_name or 'agent ' + reply.author_id} need approval"
    return None


def folded_tags(tags: Sequence[str]) -> frozenset[str]:
    """A ticket's tags as :class:`Facts` compares them (Freshdesk keeps a tag's case; Zendesk lowers it)."""
    return frozenset(t.casefold() for t in tags)
