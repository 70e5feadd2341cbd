"""Typed rows of the store, and what the worker loads about a thread before it decides.

Plain frozen dataclasses, no SQL: :mod:`bridge.store` builds them, the pipeline and the pure decisions read
them (``thread.ticket_id``, not ``thread["ticket_id"]``), and mypy checks every use.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from bridge.events import DeliveryStatus


class InboxStatus(StrEnum):
    """Where an inbox row stands: waiting for the worker, applied, recorded as ignored (with the reason), parked."""

    PENDING = "pending"
    DONE = "done"
    IGNORED = "ignored"
    DEAD = "dead"


class Enrichment(StrEnum):
    """The CRM note a thread's ticket is owed: recorded before the create, settled when written (or given up)."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class ThreadRow:
    """One row of ``threads``: a social thread and the ticket it has (see :mod:`bridge.store` for the contract)."""

    key: str
    platform: str
    channel: str
    account_id: str
    thread_id: str
    reply_to: str
    helpdesk: str
    ticket_id: str | None
    requester_id: str | None
    create_started_at: float | None  # a create call was (maybe) made: after a crash, look the ticket up first
    first_inbound_at: float | None
    last_inbound_at: float | None
    last_inbound_message_id: str | None
    customer_id: str | None
    enrichment: Enrichment | None
    enrichment_event: str | None
    enrichment_attempts: int
    enrichment_due_at: float | None
    crm_persona_id: str | None
    crm_last_post_id: str | None
    episode_started_at: float | None  # platform time of the current episode's first customer message
    episode_answered_at: float | None  # when its first human reply was delivered (None: not yet)
    approval: str | None  # why agents' replies here need approval ("rule legal"): bridge.approvals
    created_at: float
    updated_at: float
    approval_answered_at: float | None = None  # an approver's answer recorded, its tag not known to be off

    def episode_start(self, at: float, *, opens: bool) -> float:
        """When the episode of a customer message written at ``at`` (platform time) started: the message itself
        when it opens one, else the thread's current episode (0: not known, every earlier message counts)."""
        return at if opens else float(self.episode_started_at or 0.0)

    def earliest_episode_start(self, at: float) -> float:
        """The earlier of the two :meth:`episode_start` answers: what is read before the worker knows whether the
        message opens an episode (that waits for the helpdesk's answer) covers either."""
        return min(self.episode_start(at, opens=True), self.episode_start(at, opens=False))

    @classmethod
    def of(cls, row: Mapping[Any, Any]) -> ThreadRow:
        """The typed row of a ``threads`` row (columns it does not know are left out)."""
        values = {f.name: row[f.name] for f in fields(cls)}
        values["enrichment"] = Enrichment(values["enrichment"]) if values["enrichment"] else None
        values["enrichment_attempts"] = int(values["enrichment_attempts"] or 0)
        return cls(**values)


@dataclass(frozen=True)
class CrmCached:
    """The CRM's record of a social identity as the store holds it (``{}``: the CRM knew nobody)."""

    record: dict[str, str]
    fetched_at: float


@dataclass(frozen=True)
class LastJoin:
    """The identity's latest ``user_joins`` row as read with the context (``row`` None: it never had one)."""

    row: dict[str, Any] | None


@dataclass(frozen=True)
class AckState:
    """What :func:`bridge.acks.plan` reads about the thread, loaded with the context (a channel with acks)."""

    latest: dict[str, Any] | None  # the thread's latest episode row of ``auto_acks``
    agent_replied: bool  # a person's reply was written on the thread since the quiet period before the message


@dataclass(frozen=True)
class BotStep:
    """One of the bot's messages on the thread: its delivery's comment id (``bot:<step>:<answer>:<digest>``,
    :mod:`bridge.bot`), when the bot wrote it (the worker's clock, stored as the comment's time) and where its
    send stands (sending, sent, failed, unknown), with the platform's later word on it (WhatsApp's statuses)."""

    comment_id: str
    at: float
    status: DeliveryStatus
    receipt: str | None = None  # delivered, read, failed...: the latest status the platform reported

    def maybe_seen(self) -> bool:
        """The customer may have it: every outcome but a refused send (sending and unknown: perhaps), or a send
        WhatsApp took and then reported "failed" (not delivered: no WhatsApp on the number, the 24-hour window,
        Meta's engagement limit; docs.chatsyncs.com/meta-api/webhooks/status-webhooks). A "delivered" from
        another of the customer's devices may come after it (docs.ycloud.com, WhatsApp Message Updated Webhook
        Examples): the receipt kept is the latest."""
        return self.status != DeliveryStatus.FAILED and self.receipt != "failed"


@dataclass(frozen=True)
class BotState:
    """What :func:`bridge.bot.answer` reads about the thread, loaded with the context (a channel with quick answers).

    Read before the helpdesk call, it is what the bot would have read after it: the thread's deliveries are
    written under its lease, which the worker holds from before the read until the event is recorded."""

    steps: tuple[BotStep, ...]  # oldest first: since the earliest episode start, and any ending with ``mine``
    mine: str  # the comment id ending of this message's answer (":<digest>"), whenever it was written
    human_reply_at: float | None  # the latest person's reply the customer heard (None: none yet)

    def own(self) -> BotStep | None:
        """This message's answer, when it had one before: the event is applied again (after a crash)."""
        return next((s for s in self.steps if s.comment_id.endswith(self.mine)), None)

    def in_episode(self, started: float) -> list[BotStep]:
        """The bot's messages in the episode that started at ``started``, oldest first (compared in whole
        seconds, as the helpdesks date comments)."""
        return [s for s in self.steps if s.at >= math.floor(started)]

    def person_answering(self, started: float) -> bool:
        """A person's reply was written in the episode (to the second, :meth:`in_episode`)."""
        return self.human_reply_at is not None and self.human_reply_at >= math.floor(started)


@dataclass(frozen=True)
class ThreadContext:
    """What the worker needs about one event's thread, read in one transaction before anything is decided.

    ``paused_until``: the pause board's entries for the connectors the event may call, when the board is the
    store (None when it lives elsewhere, Redis, and is asked per call as before)."""

    echo: bool  # the event's id is one we posted: its echo, dropped
    thread: ThreadRow | None
    identity: str | None  # the helpdesk user of the author, when known
    crm: CrmCached | None  # the CRM's cached record of the author, however old
    paused_until: dict[str, float] | None = None
    last_join: LastJoin | None = None  # read when joining identities to CRM contacts is on (bridge.joins)
    acks: AckState | None = None  # read when the channel acknowledges (bridge.acks)
    bot: BotState | None = None  # read when the channel has quick answers (bridge.bot)
