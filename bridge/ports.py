"""The protocols that connectors implement. The core only ever talks to these.

A connector raises errors from :mod:`bridge.errors` only (mapped from its vendor's errors in one
table), and never sleeps or retries by itself: :mod:`bridge.retry` decides.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bridge.events import AgentReply, Author, Delivery, NewTicket, ThreadState, TicketRef


class Helpdesk(Protocol):
    """Zendesk, Freshdesk...: where tickets live."""

    name: str

    def ensure_requester(self, *, platform: str, author: Author) -> str:
        """Find or create the end user for this social identity; return the helpdesk user id."""

    def find_ticket(self, external_id: str) -> TicketRef | None:
        """The ticket carrying this thread key, if any (crash recovery: never create a second one)."""

    def create_ticket(self, ticket: NewTicket) -> TicketRef:
        """Open a ticket whose first public comment is the customer's text, authored by the requester."""

    def add_customer_comment(self, ticket_id: str, *, requester_id: str, body: str) -> TicketRef:
        """Add the customer's follow-up as a public comment by the requester; reopen a solved ticket.

        Raises :class:`bridge.errors.TicketClosed` when the ticket can no longer be updated.
        """

    def add_internal_note(self, ticket_id: str, body: str) -> None:
        """A private note for agents (delivery failures, edits, CRM summaries). Never delivered."""

    def has_comment_containing(self, ticket_id: str, marker: str) -> bool:
        """Whether a comment on the ticket contains ``marker`` (recovery after a crash mid-write)."""

    def agent_replies(self, ticket_id: str) -> list[AgentReply]:
        """Public comments by agents (not the requester, not the bridge's own user), oldest first."""

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


class Crm(Protocol):
    """Salesforce: who the customer is. (Enrichment lands with the Salesforce issue.)"""

    def lookup(self, *, platform: str, author: Author) -> dict[str, str] | None:
        """The customer's record as flat fields, or None when nobody matches."""
