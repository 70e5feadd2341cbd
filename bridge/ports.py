"""The protocols that connectors implement. The core only ever talks to these.

A connector raises errors from :mod:`bridge.errors` only (mapped from its vendor's errors in one
table), and never sleeps or retries by itself: :mod:`bridge.retry` decides.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from bridge.events import (
    AgentReply,
    Author,
    ContactResult,
    ContactUpsert,
    Delivery,
    HelpdeskNames,
    NewTicket,
    Routing,
    SocialEvent,
    ThreadState,
    TicketRef,
    UserProfile,
)


class Helpdesk(Protocol):
    """Zendesk, Freshdesk...: where tickets live."""

    name: str

    def ensure_requester(self, *, platform: str, author: Author, profile: UserProfile | None = None) -> str:
        """Find or create the end user for this social identity; return the helpdesk user id. ``profile``:
        the CRM's notes and fields for the user, sent in the same call."""

    def find_created(self, ticket: NewTicket, *, since: datetime) -> TicketRef | None:
        """The newest ticket an earlier attempt at creating ``ticket`` may have made, if any (crash recovery, or a
        create whose answer was lost: never open a second one): by its thread key (``external_id``), or where the
        helpdesk has no place for it, by its requester and the line naming the customer's message
        (``reference``) among the tickets updated since ``since`` (no attempt started before it). A closed one
        may be answered (Freshdesk); it is never taken for the one a lost create made."""

    def create_ticket(self, ticket: NewTicket) -> TicketRef:
        """Open a ticket whose first public comment is the customer's text, authored by the requester."""

    def add_customer_comment(
        self, ticket_id: str, *, requester_id: str, body: str, tags: Sequence[str] = (), routing: Routing | None = None
    ) -> TicketRef:
        """Add the customer's follow-up as a public comment by the requester; reopen a solved ticket (and say
        so: ``TicketRef.reopened``, a new conversation episode). The rules' ``tags`` are added to the ticket's
        and ``routing`` applied, in the same update where the helpdesk allows it.

        Raises :class:`bridge.errors.TicketClosed` when the ticket can no longer be updated.
        """

    def add_internal_note(self, ticket_id: str, body: str) -> None:
        """A private note for agents (delivery failures, edits, CRM summaries). Never delivered."""

    def has_comment_containing(self, ticket_id: str, marker: str) -> bool:
        """Whether a comment on the ticket holds ``marker`` at the end of a line, never as the start of a longer
        one (:func:`bridge.messages.holds_mark`; recovery after a crash mid-write)."""

    def agent_replies(self, ticket_id: str) -> list[AgentReply]:
        """Public comments by agents (not the requester, not the bridge's own user), oldest first."""

    def upsert_contacts(self, contacts: Sequence[ContactUpsert]) -> list[ContactResult]:
        """Create or update helpdesk users keyed by ``external_id`` (a batch of at most 100); a contact
        marked ``update_only`` only updates an existing user, and is ``skipped`` when there is none."""

    def ping(self) -> str:
        """One cheap authenticated call; returns who we are authenticated as."""


class SocialChannel(Protocol):
    """One configured account on a platform (a Facebook page, a WhatsApp number...)."""

    platform: str
    name: str
    account_id: str

    def send_reply(self, thread: ThreadState, text: str, *, now: datetime) -> Delivery:
        """Post ``text`` into the thread, split to the platform's limits, inside its reply window.

        Raises :class:`bridge.errors.WindowClosed`, :class:`bridge.errors.PermanentError` or a
        retryable error; :class:`bridge.errors.UnknownOutcome` when the request may have been applied.
        """

    def ping(self) -> str:
        """One cheap authenticated call; returns the account's name or id."""


@runtime_checkable
class PrivateReplies(Protocol):
    """A channel with public threads that can hand a conversation off to a private one."""

    def send_private_reply(self, thread: ThreadState, text: str, *, now: datetime, notice: str) -> Delivery:
        """Answer privately (a Facebook private reply, an X direct message) and post ``notice`` publicly
        where the customer wrote; in a thread that is private already, just reply. Where the platform
        offers no private hand-off, raise :class:`bridge.errors.PermanentError`: never post it publicly."""


@runtime_checkable
class Buttons(Protocol):
    """A channel that can offer buttons under a message (Messenger and Instagram quick replies, WhatsApp reply
    buttons, Telegram inline keyboards): the bot's quick answers (:mod:`bridge.bot`)."""

    def send_buttons(
        self, thread: ThreadState, text: str, buttons: Sequence[tuple[str, str]], *, now: datetime
    ) -> Delivery:
        """Post ``text`` into a private thread with ``buttons`` (payload, title) the customer can press: a
        press comes back as a message whose ``extra["pressed"]`` is the payload. Raises as ``send_reply``."""


@runtime_checkable
class KeyedReplies(Protocol):
    """A channel whose receiver deduplicates replies on a key the bridge gives each one (own channels)."""

    def send_keyed_reply(self, thread: ThreadState, text: str, *, now: datetime, key: str) -> Delivery:
        """As :meth:`SocialChannel.send_reply`, carrying ``key``: the same on every attempt at one agent reply,
        so a receiver that stored it but whose answer was lost takes the retry for what it is, not a new reply."""


@runtime_checkable
class TicketFields(Protocol):
    """A helpdesk that can set a ticket's custom fields with a note saying why (the bot's questions)."""

    def set_fields(self, ticket_id: str, fields: Mapping[str, str], *, note: str) -> None:
        """Set ``fields`` (Zendesk: field id → value; Freshdesk: ``cf_`` name → value) and add ``note`` as an
        internal note, in one update where the helpdesk allows it."""


@runtime_checkable
class SolvedTickets(Protocol):
    """A helpdesk connector that tells, from the reads :meth:`Helpdesk.agent_replies` makes anyway, whether
    the ticket is solved (or closed), and since when: the service figures' resolution time, at no extra call."""

    def ticket_replies(self, ticket_id: str) -> tuple[list[AgentReply], float | None]:
        """:meth:`Helpdesk.agent_replies`, and, when the ticket is solved or closed, the helpdesk's own time
        for it (epoch seconds; the ticket's ``updated_at``, since neither helpdesk has a solved time on the
        ticket itself), else None."""


@runtime_checkable
class SetupCheck(Protocol):
    """A helpdesk connector that can tell whether the helpdesk is set up for the bridge (``doctor``)."""

    def check_setup(self) -> str:
        """One line on what is in place; raises :class:`bridge.errors.BridgeError` saying what is missing."""

    def check_fields(self, names: set[str] | None = None) -> str:
        """The part of :meth:`check_setup` every ticket write needs (the worker's start checks it): the custom
        ticket fields the connector writes exist. ``names``: the custom ticket fields when already read
        (:meth:`CustomFields.field_names`). Raises :class:`bridge.errors.PermanentError` naming each key."""


@runtime_checkable
class Directory(Protocol):
    """A helpdesk that can list its groups, agents and brands (rules name them; ids are sent)."""

    def names(self) -> HelpdeskNames:
        """Every group, agent and brand by name: one list call each (all pages)."""


@runtime_checkable
class TicketTags(Protocol):
    """A helpdesk that can take tags off a ticket (an approver's answer, once the bridge has acted on it)."""

    def remove_tags(self, ticket_id: str, tags: Sequence[str]) -> None:
        """Take ``tags`` off the ticket, the others kept."""


@runtime_checkable
class TagAuthors(Protocol):
    """A helpdesk whose ticket history says who added a tag (Zendesk's ticket audits; Freshdesk's API has none)."""

    def tag_author(self, ticket_id: str, tag: str) -> str | None:
        """The user who last added ``tag`` to the ticket, or None when the history does not show it."""


@runtime_checkable
class CustomFields(Protocol):
    """A helpdesk that can list its custom fields (``doctor`` checks the configured mappings against them)."""

    def field_names(self) -> tuple[set[str], set[str]]:
        """The custom ticket fields (Zendesk ids, Freshdesk names) and user fields (Zendesk keys, Freshdesk
        contact field names)."""


@runtime_checkable
class Profiles(Protocol):
    """A channel that can name a customer its webhooks leave nameless (Messenger's User Profile API)."""

    def display_name(self, author_id: str) -> str | None:
        """The customer's name as the platform shows it to the page, or None where it may not tell
        (no permission, or the person restricts it). Raises only :class:`bridge.errors.BridgeError`."""


@runtime_checkable
class UserJoins(Protocol):
    """A helpdesk that can give a CRM Contact's user a social identity, and merge or link a second user of the
    same customer (:mod:`bridge.joins`)."""

    #: whether :meth:`merge_user` merges (Zendesk); where it cannot, the two users are linked and noted instead
    merges_users: bool

    def attach_identity(self, user_id: str, *, platform: str, author: Author) -> str | None:
        """Give the user this social identity where the helpdesk has a place for it; say what was attached (for
        the record), or return None when it has none. Raises :class:`bridge.errors.PermanentError` when
        another user holds it."""

    def detach_identity(self, user_id: str, *, platform: str, author: Author) -> bool:
        """Take back what :meth:`attach_identity` gave the user (a join undone); False when it has nothing."""

    def merge_user(self, source_id: str, target_id: str, *, made_as: str) -> None:
        """Merge ``source_id`` into ``target_id`` (its tickets go along), if it is the user socialdesk made with the
        external id ``made_as`` (``<platform>:<author id>``). Raises :class:`bridge.errors.NotFound` when it was
        merged already, :class:`bridge.errors.PermanentError` when it is another user (one the helpdesk had,
        matched by email) or the helpdesk refuses (an agent, say): then the users are linked instead."""

    def note_user(self, user_id: str, text: str) -> None:
        """Add a line to the user's notes, visible to agents on the profile (kept with what was there)."""


@dataclass(frozen=True)
class JoinedUser:
    """What :meth:`JoinsInPlace.join_contact_user` did: the Contact's user, the identity attached to it (as
    :meth:`UserJoins.attach_identity` says it, None without a place for it), or why the helpdesk refused it."""

    user_id: str
    attached: str | None = None
    refused: str | None = None


@runtime_checkable
class JoinsInPlace(Protocol):
    """A helpdesk that writes a synced Contact's user and its new social identity in the same call (Freshdesk:
    one ``PUT /contacts/{id}`` carries the custom fields and ``facebook_id``), rather than a user call and an
    identity call."""

    def join_contact_user(
        self, contact: Author, profile: UserProfile | None, *, platform: str, author: Author
    ) -> JoinedUser | None:
        """The user keyed ``salesforce:<contact.id>`` with the CRM's ``profile`` fields and the social identity
        where it has none; None when the helpdesk has no such user yet (then made as :meth:`Helpdesk.ensure_requester`
        would, and the identity attached on its own)."""


#: The names :meth:`CustomerRecord.as_fields` may carry, which ``[salesforce] vip_field``, ``ticket_fields`` and
#: ``user_fields`` and a rule's ``crm`` condition name; any other field the CRM fetched is ``field:<path>``
#: (``field:Account.Industry``). Checked at start: a name outside them (``acount_type``) never matched, silently.
CRM_FIELDS = (
    "id", "object_type", "url", "matched_by", "name", "email", "phone", "title", "owner_name", "account_id",
    "account_name", "account_type", "account_industry", "account_annual_revenue", "open_cases", "persona_id",
    "also_matched",
)  # fmt: skip
CRM_EXTRA_PREFIX = "field:"


class CustomerRecord(Protocol):
    """What a CRM knows about a customer, flattened to strings for the ticket and the cache."""

    def as_fields(self) -> dict[str, str]:
        """``name``, ``email``, ``url``, ``matched_by``, ``account_name``, ``open_cases``... (empty ones left out)."""


class SyncContact(Protocol):
    """One CRM contact for ``socialdesk sync-contacts``."""

    id: str
    name: str | None
    email: str | None
    phone: str | None
    modstamp: datetime
    deleted: bool
    #: what a look-up of the Contact would say (:data:`CRM_FIELDS` names): ``[salesforce] user_fields`` maps them
    fields: Mapping[str, str]

    @property
    def external_id(self) -> str:
        """The helpdesk user's stable external id, such as ``salesforce:<ContactId>``."""


class Crm(Protocol):
    """Salesforce: who the customer is, and the contacts the helpdesk should know."""

    name: str

    def lookup(self, *, platform: str, author: Author) -> CustomerRecord | None:
        """The customer behind a social identity, or None when nobody matches."""

    def usage(self) -> tuple[int, int] | None:
        """(used, limit) of the org's daily API requests, as last reported."""

    def over_budget(self) -> bool:
        """True once the configured share of the daily API limit is used: enrich from the cache only."""

    def contacts_since(self, cursor: datetime | None, *, batch_size: int = 200) -> Iterator[list[SyncContact]]:
        """Contacts changed at or after ``cursor`` (inclusive, with overlap), oldest first, in batches."""

    def deleted_contacts_since(self, cursor: datetime | None, *, batch_size: int = 200) -> Iterator[list[SyncContact]]:
        """Contacts deleted at or after ``cursor``, in batches."""

    def ensure_persona(self, *, platform: str, author: Author, parent_id: str | None) -> str | None:
        """The social identity's persona record (created under ``parent_id`` when missing), if any."""

    def record_post(self, event: SocialEvent, *, persona_id: str | None = None, who_id: str | None = None) -> str:
        """Record the customer's post, idempotently; the CRM's id for it."""

    def record_reply(
        self,
        reply: AgentReply,
        *,
        thread: ThreadState,
        message_id: str,
        reply_to_id: str | None = None,
        persona_id: str | None = None,
        who_id: str | None = None,
        url: str | None = None,
    ) -> str:
        """Record the agent's delivered reply as an outbound post answering ``reply_to_id``."""

    def ping(self) -> str:
        """One cheap authenticated call; who we are logged in as."""
