"""The plain data the core works with: what a platform told us, and what an agent wrote back.

Everything here is a frozen dataclass with JSON-safe fields, so that an event can be stored in the
inbox as JSON and rebuilt by a worker (:func:`SocialEvent.to_json` / :func:`SocialEvent.from_json`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

#: What an inbound event is. ``message`` and ``comment`` start or continue a conversation; ``edit`` and
#: ``remove`` are recorded on the ticket (an edit whose thread has no ticket yet is the customer's message);
#: ``status`` is a delivery receipt for one of our own replies (WhatsApp); ``notice`` is something the
#: agent should know about the thread (a handover, a reaction, a comment hidden by the page, a number
#: change): its ``text`` becomes an internal note on the thread's ticket, and with no ticket it is
#: ignored with the reason ``extra["notice"]`` (a short fixed phrase).
EventKind = Literal["message", "comment", "edit", "remove", "status", "notice"]


def utc_from_epoch(seconds: float) -> datetime:
    """A platform timestamp (epoch seconds, or milliseconds when it is that large) as aware UTC."""
    if seconds > 10_000_000_000:  # Messenger sends milliseconds
        seconds = seconds / 1000.0
    return datetime.fromtimestamp(seconds, tz=UTC)


def platform_time(value: Any) -> datetime:
    """A platform timestamp (seconds or milliseconds, number or string); now when it is missing or bad
    (garbage, or a year past 9999): a sender's bad clock must not cost the message, nor be a 500."""
    try:
        return utc_from_epoch(float(value)) if float(value) > 0 else utc_from_epoch(time.time())
    except (TypeError, ValueError, OverflowError, OSError):
        return utc_from_epoch(time.time())


@dataclass(frozen=True)
class Attachment:
    """A file the customer sent: kept as a link on the ticket at least."""

    url: str
    kind: str = "file"  # image | video | audio | file | fallback ...
    name: str | None = None


@dataclass(frozen=True)
class Author:
    """The customer as the platform describes them. ``id`` is platform-scoped (PSID, user id, wa_id...)."""

    id: str
    name: str | None = None
    handle: str | None = None
    email: str | None = None
    phone: str | None = None
    profile_url: str | None = None

    def display_name(self) -> str:
        return self.name or (f"@{self.handle}" if self.handle else f"user {self.id}")


@dataclass(frozen=True)
class SocialEvent:
    """One thing a customer did on a social platform, normalised.

    ``thread_id`` identifies the conversation inside the account (``comment:<top comment id>``,
    ``messenger:<psid>``...); together with platform and account it makes the thread key that the
    ticket carries as ``external_id``. ``reply_to`` is the platform object an answer must target.
    """

    platform: str
    channel: str
    account_id: str
    message_id: str
    thread_id: str
    kind: EventKind
    author: Author
    text: str
    created_at: datetime
    reply_to: str
    url: str | None = None
    context: str | None = None  # where it happened, for the subject ("a comment on post 123")
    attachments: tuple[Attachment, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def thread_key(self) -> str:
        return thread_key(self.platform, self.account_id, self.thread_id)

    def to_json(self) -> str:
        """One line of JSON (built field by field: ``dataclasses.asdict`` deep-copies and costs 5× more on
        the webhook's request path)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["author"] = vars(self.author)
        data["attachments"] = [vars(a) for a in self.attachments]
        data["created_at"] = self.created_at.isoformat()
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> SocialEvent:
        data: dict[str, Any] = json.loads(raw)
        data["author"] = Author(**data["author"])
        data["attachments"] = tuple(Attachment(**a) for a in data.get("attachments", ()))
        data["created_at"] = datetime.fromisoformat(data["created_at"])
        return cls(**data)


@dataclass(frozen=True)
class Ignored:
    """Something a platform sent that no one needs to act on (a read receipt, a like, a service message)
    or that cannot be used: recorded in the inbox as ``ignored`` with its reason, never dropped unseen.

    ``reason`` is a short fixed phrase (``"messenger read receipt"``): ``socialdesk status`` counts the
    events by it, so it never holds an id or a customer's words. ``message_id`` is unique per real event
    and the same for a redelivery of it, like a :class:`SocialEvent`'s.
    """

    platform: str
    channel: str  # "" when no configured channel matches the account
    account_id: str
    message_id: str
    reason: str
    created_at: datetime

    kind: ClassVar[str] = "ignored"


def thread_key(platform: str, account_id: str, thread_id: str) -> str:
    """The one string that names a social thread everywhere (store, ticket ``external_id``, logs)."""
    return f"{platform}:{account_id}:{thread_id}"


@dataclass(frozen=True)
class ThreadState:
    """What the core knows about a thread when it has to answer in it."""

    key: str
    platform: str
    channel: str
    account_id: str
    thread_id: str
    reply_to: str
    last_inbound_at: datetime | None
    last_inbound_message_id: str | None
    ticket_id: str | None
    customer_id: str | None = None  # the platform id of the customer who wrote last in the thread


@dataclass(frozen=True)
class AgentReply:
    """A public comment an agent wrote on a ticket, to be delivered into the social thread."""

    ticket_id: str
    comment_id: str
    body: str
    author_id: str
    author_name: str | None
    created_at: datetime
    ticket_tags: tuple[str, ...] = ()  # the ticket's tags when it was read (a tag can ask for a private reply)
    attachments: tuple[str, ...] = ()  # the names of files attached to it: the channels send its text only


class AuthorKind(StrEnum):
    """Who wrote a reply delivered to a platform. Only a person's reply is a response in the service figures
    (:mod:`bridge.figures`); the automatic kinds are the first-response issue's (auto-acknowledgements, a
    bot's answers, system messages) and have their own figures."""

    HUMAN = "human"
    AUTO_ACK = "auto_ack"
    BOT = "bot"
    SYSTEM = "system"


class DeliveryStatus(StrEnum):
    """Where one agent reply's delivery stands (``deliveries.status``). ``held`` waits for an approver
    (:mod:`bridge.approvals`), ``approved`` is released and waits for its turn to be sent, ``rejected`` is
    never sent; the others are the send's own outcome (:mod:`bridge.outbound`)."""

    HELD = "held"
    APPROVED = "approved"
    REJECTED = "rejected"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"
    PARTIAL = "partial"


class Priority(StrEnum):
    """A ticket's priority in Zendesk's words; Freshdesk's 1-4 (low, medium, high, urgent) map onto them."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TicketStatus(StrEnum):
    """A status a rule may give a ticket. ``hold`` is Zendesk's only, ``closed`` Freshdesk's only (Zendesk
    closes solved tickets itself); ``solved`` is Freshdesk's ``resolved``."""

    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    HOLD = "hold"
    SOLVED = "solved"
    CLOSED = "closed"


@dataclass(frozen=True)
class Routing:
    """Where a ticket goes and how urgent it is: the triage rules' decision, ids resolved from names at start
    (:mod:`bridge.rules`). Sent in the call that creates or updates the ticket; None leaves the field alone."""

    priority: Priority | None = None
    type: str | None = None
    group_id: str | None = None
    assignee_id: str | None = None
    brand_id: str | None = None  # Zendesk only
    status: TicketStatus | None = None
    fields: dict[str, str] = field(default_factory=dict)  # helpdesk custom field (id or name) → value

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


@dataclass(frozen=True)
class UserProfile:
    """What the CRM says about a customer, written in the call that makes or updates their helpdesk user:
    ``notes`` (Zendesk's user notes, Freshdesk's contact description) and ``fields`` (user field key or
    contact field name → value). See :mod:`bridge.enrich_fields`."""

    notes: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NewTicket:
    """What the core asks a helpdesk to open for a new social thread."""

    external_id: str
    requester_id: str
    subject: str
    body: str
    tags: tuple[str, ...]
    created_at: datetime
    followup_of: str | None = None  # a closed ticket this one follows up
    fields: dict[str, str] = field(default_factory=dict)  # helpdesk custom field (id or name) → value
    routing: Routing = field(default_factory=Routing)  # what the triage rules decided
    #: the line of ``body`` naming the customer's message (:func:`bridge.messages.reference`): how a helpdesk with
    #: no place for the thread key finds the ticket a lost create made (:meth:`bridge.ports.Helpdesk.find_created`)
    reference: str = ""


@dataclass(frozen=True)
class HelpdeskNames:
    """The helpdesk's groups, agents and brands by name (agents by email too), for rules that name them.
    ``types``: the ticket types the helpdesk accepts, ``fields`` the ticket fields a rule may set, as its API
    names them (Zendesk's ids, Freshdesk's custom ``cf_`` names); None where any is accepted (or the connector
    cannot tell)."""

    groups: dict[str, str] = field(default_factory=dict)
    agents: dict[str, str] = field(default_factory=dict)
    brands: dict[str, str] = field(default_factory=dict)
    types: tuple[str, ...] | None = None
    fields: tuple[str, ...] | None = None
    #: names (casefolded) that several agents carry: left out of ``agents``, refused where configured (use the email)
    ambiguous: frozenset[str] = frozenset()


def staff_names(staff: list[tuple[str, str | None, str | None]]) -> tuple[dict[str, str], frozenset[str]]:
    """(id, name, email) of each agent → ``agents`` by name and by email, and the names two agents share.

    Helpdesks do not keep agents' names unique (two "Alex Agent"s): such a name would resolve to whichever
    came last, so a rule's assignee or an approver would silently be someone else. Emails are unique."""
    counts: dict[str, int] = {}
    for _, name, _ in staff:
        if name:
            counts[name.casefold()] = counts.get(name.casefold(), 0) + 1
    shared = frozenset(n for n, c in counts.items() if c > 1)
    agents: dict[str, str] = {}
    for agent_id, name, email in staff:
        agents |= {k: agent_id for k in (name, email) if k and k.casefold() not in shared}
    return agents, shared


@dataclass(frozen=True)
class TicketRef:
    id: str
    status: str
    #: the customer's message reopened a ticket the agents had solved (Zendesk ``solved``, Freshdesk
    #: ``resolved``): a new conversation episode, as a follow-up of a closed one is
    reopened: bool = False


@dataclass(frozen=True)
class Delivery:
    """The platform ids of what a channel posted for one agent reply (one per part when split)."""

    message_ids: tuple[str, ...]
    note: str | None = None  # something the agent should know although it was delivered
    # those of ``message_ids`` in the bridge's own words, not the agent's (a private hand-off's public notice, a
    # re-engagement template sent instead of the reply): recorded with author_kind ``system``
    system_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContactUpsert:
    """A CRM contact as the helpdesk should know it (``socialdesk sync-contacts``)."""

    external_id: str  # salesforce:<ContactId>
    name: str
    email: str | None = None
    phone: str | None = None
    suspended: bool = False  # deleted in the CRM, with ``on_delete = "suspend"``
    tags: tuple[str, ...] = ()
    update_only: bool = False  # a deleted contact: change the helpdesk user if there is one, never create it
    # a live contact: take these tags (an earlier deletion pass's) off its user, and lift a suspension made
    # for ``suspended`` (each connector marks those with its own tag, so an agent's suspension stays)
    undelete: tuple[str, ...] = ()
    #: the CRM's ``[salesforce] user_fields`` (user field key or contact field name → value): the sync owns them
    user_fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContactResult:
    external_id: str
    action: str  # created | updated | skipped (``update_only`` and no such user) | failed
    error: str | None = None
    user_id: str | None = None  # the helpdesk user made or updated, where the helpdesk says
    #: the user fields written without their value, which the helpdesk refused (a value the field does not take)
    left_out: tuple[str, ...] = ()
