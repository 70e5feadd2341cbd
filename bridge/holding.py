"""Approvals, the worker's side: the facts loaded once per ticket, the approver's answer recorded, held rows.

:func:`plan_for` loads what :func:`bridge.approvals.plan` needs (the ticket's delivery rows, the thread's
reason, the agents needing approval, resolved to ids once) and, when the ticket carries an approver's tag,
records the answer before anything is sent: the held rows become ``approved`` or ``rejected`` in one
transaction (with the time, on the thread), then the tag comes off the ticket. Until it is known to be off
(the helpdesk refused, or cannot), the tag answers only rows held before that time: never a reply the approver
has not seen. Should the worker stop after that, the rows still say
what the approver decided (an approved reply is sent by the next pass, tag or not; a rejection's note is
owed until written). :mod:`bridge.outbound` then carries out the steps in order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from bridge import messages, notes
from bridge.approvals import ApprovalSettings, Facts, Plan, Planned, Step, answer, folded_tags, plan
from bridge.errors import BridgeError, ConfigError
from bridge.events import AgentReply, DeliveryStatus, HelpdeskNames
from bridge.ports import Directory, Helpdesk, TagAuthors, TicketTags
from bridge.rows import ThreadRow
from bridge.store import Store, deliveries, insert_ignoring_duplicates, threads

if TYPE_CHECKING:
    from bridge.registry import Runtime

log = logging.getLogger(__name__)


class Approvers:
    """``[approvals] agents`` and ``approvers`` as helpdesk user ids: ids as written, emails and names looked up
    once."""

    def __init__(self, settings: ApprovalSettings) -> None:
        self.settings = settings
        self._ids: tuple[frozenset[str], frozenset[str]] | None = None
        self._lock = threading.Lock()

    def prepare(self, helpdesk: Helpdesk) -> str:
        """Resolve the users now (``socialdesk worker`` at start, ``doctor``): unknown ones are refused, and so
        are approvers on a helpdesk that cannot say who added a tag (they would be ignored, silently). Every
        problem is said in one run, one line each (as ``rules check`` says the rules' names)."""
        unheard = _unheard(self.settings, helpdesk)
        try:
            agents, approvers = self._both(helpdesk)
        except ConfigError as e:
            raise ConfigError("\n".join([*unheard, e.message])) from None
        except BridgeError as e:  # the helpdesk down: its users can wait, but its kind alone refuses the approvers
            if unheard:
                raise ConfigError("\n".join([*unheard, e.message])) from None
            raise
        if unheard:
            raise ConfigError("\n".join(unheard))
        return f"{len(agents)} agent(s) whose replies need approval, {len(approvers) or 'any'} approver(s)"

    def agent_ids(self, helpdesk: Helpdesk) -> frozenset[str]:
        return self._both(helpdesk)[0]

    def approver_ids(self, helpdesk: Helpdesk) -> frozenset[str]:
        return self._both(helpdesk)[1]

    def _both(self, helpdesk: Helpdesk) -> tuple[frozenset[str], frozenset[str]]:
        with self._lock:
            if self._ids is None:
                self._ids = _resolve(helpdesk, self.settings)
            return self._ids


def _unheard(settings: ApprovalSettings, helpdesk: Helpdesk) -> list[str]:
    """Approvers on a helpdesk that cannot say who added a tag: the line refusing them, if so."""
    if not settings.approvers or isinstance(helpdesk, TagAuthors):
        return []
    return [f"approvals.approvers: {helpdesk.name} cannot say who added a tag; leave it out "
            "(restrict who may apply the approval tags in the helpdesk instead)"]  # fmt: skip


def _resolve(helpdesk: Helpdesk, settings: ApprovalSettings) -> tuple[frozenset[str], frozenset[str]]:
    """Both lists as ids, the helpdesk's agents listed once; a :class:`ConfigError` names every user it does not
    know, in both lists (not only the first: one run of ``doctor`` or a start says all), one line a key."""
    wanted = {"agents": settings.agents, "approvers": settings.approvers}
    staff = _staff(helpdesk, [*settings.agents, *settings.approvers])
    problems = [line for key, users in wanted.items() for line in _problems(key, users, staff, helpdesk.name)]
    if problems:
        raise ConfigError("\n".join(problems))
    ids = _by_name(staff) if staff is not None else {}
    return _ids(settings.agents, ids), _ids(settings.approvers, ids)


def _staff(helpdesk: Helpdesk, wanted: Sequence[str]) -> HelpdeskNames | None:
    """The helpdesk's agents, when a user is given by name or email and the helpdesk can list them (else None)."""
    if all(a.isdigit() for a in wanted) or not isinstance(helpdesk, Directory):
        return None
    return helpdesk.names()


def _problems(key: str, wanted: Sequence[str], staff: HelpdeskNames | None, helpdesk: str) -> Iterator[str]:
    """What is wrong with ``[approvals] key``: each name several agents carry, then every unknown one in a line."""
    named = [a for a in wanted if not a.isdigit()]
    if not named:
        return
    if staff is None:  # names given, and a helpdesk that cannot list its agents
        yield f"approvals.{key}: {helpdesk} cannot list its agents; give their ids"
        return
    for shared in (a for a in named if a.casefold() in staff.ambiguous):
        yield f"approvals.{key}: {messages.ambiguous_agent(shared, helpdesk)}"
    known = _by_name(staff)
    unknown = [a for a in named if a.casefold() not in known and a.casefold() not in staff.ambiguous]
    if unknown:
        yield f"approvals.{key}: {messages.unknown_agents(unknown, helpdesk)}"


def _by_name(staff: HelpdeskNames) -> dict[str, str]:
    """Agents' ids by name and by email, compared case aside."""
    return {k.casefold(): v for k, v in staff.agents.items()}


def _ids(wanted: Sequence[str], by_name: dict[str, str]) -> frozenset[str]:
    return frozenset(a if a.isdigit() else by_name[a.casefold()] for a in wanted)


def plan_for(rt: Runtime, thread: ThreadRow, ticket_id: str, replies: Sequence[AgentReply]) -> Plan:
    """The pass's plan, with the approver's answer (if any) recorded and its tag taken off."""
    settings = rt.approvers.settings
    statuses, held_at = _statuses(rt.store, rt.helpdesk.name, [r.comment_id for r in replies])
    tags = folded_tags(replies[0].ticket_tags) if replies else frozenset()
    agents = rt.approvers.agent_ids(rt.helpdesk) if settings.agents else frozenset()
    facts = Facts(statuses, tags, thread.approval, agents, held_at=held_at, answered_at=thread.approval_answered_at)
    decided = plan(replies, _answerer(rt, ticket_id, facts), settings)
    answered = _record_answer(rt.store, rt.helpdesk.name, thread.key, decided.steps)
    off = _untag(rt, ticket_id, decided.clear_tags) if decided.clear_tags else answer(tags, settings) is None
    if off and (answered or thread.approval_answered_at is not None):
        _tag_off(rt.store, thread.key)  # off now (or taken off by hand): the next tag is a new answer
    if decided.refused:
        _note_refusal(rt, ticket_id, decided)
    return decided


def _answerer(rt: Runtime, ticket_id: str, facts: Facts) -> Facts:
    """The facts with who added the answer's tag, read from the ticket's history only when a tag is there
    and the helpdesk keeps that history."""
    verdict, settings, hd = answer(facts.tags, rt.approvers.settings), rt.approvers.settings, rt.helpdesk
    if verdict is None or not isinstance(hd, TagAuthors):
        return facts
    tag = settings.reject_tag if verdict is Step.REJECT else settings.approve_tag
    who = rt.policy.call(hd.name, lambda: hd.tag_author(ticket_id, tag))
    approvers = rt.approvers.approver_ids(hd) if settings.approvers else frozenset()
    return replace(facts, audited=True, answered_by=who, approvers=approvers)


def _note_refusal(rt: Runtime, ticket_id: str, decided: Plan) -> None:
    note = messages.approval_refused_note(", ".join(decided.clear_tags), decided.refused)
    log.warning("approver's answer on ticket %s ignored: %s", ticket_id, decided.refused)
    notes.write_once(rt, ticket_id, note, what="the approval refusal note")


def _statuses(store: Store, helpdesk: str, comment_ids: Sequence[str]) -> tuple[dict[str, str], dict[str, float]]:
    """The replies' delivery rows by comment id: their status and when each was written (the unique key's
    index: one look-up, however many rows)."""
    found: dict[str, str] = {}
    written: dict[str, float] = {}
    with store.begin() as conn:
        for at in range(0, len(comment_ids), 500):  # bound the statement's parameters on a long ticket
            rows = sa.select(deliveries.c.comment_id, deliveries.c.status, deliveries.c.created_at).where(
                deliveries.c.helpdesk == helpdesk, deliveries.c.comment_id.in_(comment_ids[at : at + 500])
            )
            for comment, status, created in conn.execute(rows):
                found[str(comment)], written[str(comment)] = str(status), float(created)
    return found, written


def _record_answer(store: Store, helpdesk: str, thread_key: str, steps: Iterable[Planned]) -> bool:
    """Held rows → approved or rejected (with the rejection's note owed), and when, in one transaction: until
    its tag is known to be off, the tag answers no reply held after this."""
    answered = [p for p in steps if p.step in (Step.RELEASE, Step.REJECT)]
    if not answered:
        return False
    held, now, changed = deliveries.c.status == DeliveryStatus.HELD, time.time(), 0
    with store.begin() as conn:
        for p in answered:
            where = sa.and_(deliveries.c.helpdesk == helpdesk, deliveries.c.comment_id == p.reply.comment_id, held)
            values: dict[str, Any] = {"status": DeliveryStatus.APPROVED, "updated_at": now}
            if p.step is Step.REJECT:
                note = messages.approval_rejected_note(p.reply)
                values.update(status=DeliveryStatus.REJECTED, error=note, noted=False)
            changed += conn.execute(sa.update(deliveries).where(where).values(**values)).rowcount
        if changed:
            conn.execute(sa.update(threads).where(threads.c.key == thread_key).values(approval_answered_at=now))
    return bool(changed)


def _tag_off(store: Store, thread_key: str) -> None:
    with store.begin() as conn:
        conn.execute(sa.update(threads).where(threads.c.key == thread_key).values(approval_answered_at=None))


def _untag(rt: Runtime, ticket_id: str, tags: Sequence[str]) -> bool:
    """Take the approver's tags off; False when the helpdesk cannot (the tag stays, answering nothing new)."""
    hd = rt.helpdesk
    if not isinstance(hd, TicketTags):
        log.warning("%s cannot take tags off a ticket: %s stays on ticket %s", hd.name, ", ".join(tags), ticket_id)
        return False
    rt.policy.call(hd.name, lambda: hd.remove_tags(ticket_id, tags))
    return True


def hold(rt: Runtime, thread: ThreadRow, planned: Planned) -> None:
    """Record a reply as held, its note owed (a row already there is left as it is)."""
    reply, now, settings = planned.reply, time.time(), rt.approvers.settings
    note = messages.approval_waiting_note(reply, planned.reason, settings.approve_tag, settings.reject_tag)
    row = {
        "helpdesk": rt.helpdesk.name, "comment_id": reply.comment_id, "ticket_id": reply.ticket_id,
        "thread_key": thread.key, "status": DeliveryStatus.HELD, "comment_created_at": reply.created_at.timestamp(),
        "error": note, "created_at": now,
        "updated_at": now,
    }  # fmt: skip
    log.info("comment %s of ticket %s held for approval: %s", reply.comment_id, reply.ticket_id, planned.reason)
    with rt.store.begin() as conn:
        insert_ignoring_duplicates(conn, deliveries, [row])


def claim_approved(store: Store, helpdesk: str, comment_id: str) -> bool:
    """An approved reply's row → ``sending`` before the platform is called; False when it is not approved."""
    where = sa.and_(
        deliveries.c.helpdesk == helpdesk,
        deliveries.c.comment_id == comment_id,
        deliveries.c.status == DeliveryStatus.APPROVED,
    )
    with store.begin() as conn:
        values = {"status": DeliveryStatus.SENDING, "error": None, "noted": False, "updated_at": time.time()}
        return bool(conn.execute(sa.update(deliveries).where(where).values(**values)).rowcount)


def waiting(store: Store) -> tuple[int, float | None]:
    """How many replies wait for an approver, and since when the oldest has (``socialdesk status``)."""
    held = sa.select(sa.func.count(), sa.func.min(deliveries.c.created_at)).where(
        deliveries.c.status == DeliveryStatus.HELD
    )
    with store.begin() as conn:
        count, oldest = conn.execute(held).one()
    return int(count), None if oldest is None else float(oldest)
