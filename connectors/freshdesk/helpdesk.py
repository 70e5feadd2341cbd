"""The bridge's :class:`bridge.ports.Helpdesk` on Freshdesk (see :mod:`connectors.freshdesk` for the mapping)."""

from __future__ import annotations

import hashlib
import html
import itertools
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import requests

from bridge import errors, messages
from bridge.events import (
    AgentReply,
    Author,
    ContactResult,
    ContactUpsert,
    HelpdeskNames,
    NewTicket,
    Priority,
    Routing,
    TicketRef,
    TicketStatus,
    UserProfile,
    staff_names,
)
from bridge.ports import JoinedUser
from bridge.schedules import HelpdeskSchedule
from connectors.base import (
    ApiUser,
    RecentApiUser,
    api_user_at,
    attachment_names,
    no_live_ticket,
    sees_every_ticket,
    ticket_not_found,
)
from connectors.business_hours import freshdesk_schedule
from connectors.freshdesk.client import PLATFORM, FreshdeskApiError, FreshdeskClient
from connectors.freshdesk.joins import join_contact_user as _join_in_place

log = logging.getLogger(__name__)

_T = TypeVar("_T")

STATUS_NAMES = {2: "open", 3: "pending", 4: "resolved", 5: "closed"}
OPEN, PENDING, RESOLVED, CLOSED = 2, 3, 4, 5
PRIORITY_LOW = 1  # Freshdesk's own default
PRIORITIES = {Priority.LOW: 1, Priority.NORMAL: 2, Priority.HIGH: 3, Priority.URGENT: 4}  # 2 is "Medium"
STATUSES = {TicketStatus.OPEN: 2, TicketStatus.PENDING: 3, TicketStatus.SOLVED: 4, TicketStatus.CLOSED: 5}
#: Sources documented as accepted on create: 1 Email, 2 Portal, 3 Phone, 7 Chat, 9 Feedback widget,
#: 10 Outbound email. Twitter (5) and Facebook (6) are choices of the field, kept for Freshdesk's own
#: social integrations and not documented on create. A social conversation is closest to Chat.
SOURCE_CHAT = 7
#: Conversation sources (fixtures/freshdesk/conversation_source_values.excerpt.txt): replies (0) and
#: notes (2) are what agents write; a forward (8) goes to a third party, never to the customer.
DELIVERABLE_SOURCES = (0, 2)
PAGE_SIZE = 100
ME, EXAMPLE_URL = "/api/v2/agents/me", "https://acme.freshdesk.com"  # the API user's read; what freshdesk.url is
SUSPENDED_TAG = "suspended_in_crm"  # ContactUpsert.suspended: Freshdesk contacts cannot be suspended
SEARCH_PAGE_SIZE, SEARCH_MAX_PAGES = 30, 10  # fixed by Freshdesk's search API
RECENT_SCAN = timedelta(hours=1)  # crash recovery also scans this much of the (current) ticket list
RECENT_SCAN_PAGES = 10
#: how far the bridge's clock may be ahead of Freshdesk's: a ticket found by its requester is looked for this much
#: earlier than the message was received (more of that requester's tickets are read, none is missed)
CLOCK_SKEW = timedelta(hours=1)
FIELD_MAX = 255  # subject, single-line text fields
TAG_MAX = 32  # best effort: a longer tag is cut rather than risk a refused ticket
REQUIRED_CONTACT_FIELDS = frozenset({"name", "unique_external_id"})
_SEARCHABLE = re.compile(r"[A-Za-z0-9:_.@+/=#-]{1,255}")  # nothing the search syntax could misread
_FIELD_NAME = re.compile(r"cf_[a-z0-9_]+")
#: ``agents/me``'s ``ticket_scope``: "Ticket permission of the agent (1 -> Global Access, 2 -> Group Access,
#: 3 -> Restricted Access)" (Freshdesk API v2, Agents: developers.freshdesk.com/api/#agents). Only Global sees every
#: ticket; Groups sees its groups' tickets and those assigned to it, Restricted those assigned to it only
#: (support.freshdesk.com/support/solutions/articles/196886).
GLOBAL_SCOPE = 1
NARROWER_SCOPES = {
    2: "has group access (the tickets of its groups and those assigned to it)",
    3: "has restricted access (only the tickets assigned to it)",
}
#: Where an admin widens it ("The scope settings can be viewed for an agent under the Admin > Agents > Edit > Scope
#: section. These settings can only be edited by the admins": support.freshdesk.com/support/solutions/articles/
#: 50000002804); newer accounts call Global access "All tickets" (support.freshdesk.com/.../articles/97079).
WIDER_SCOPE = (
    "an admin can give it global access (Admin > Agents > the agent > Edit > Scope: Global access, or All tickets)"
)


class FreshdeskHelpdesk:
    """The helpdesk port on Freshdesk. Thread-safe: one instance serves every worker thread."""

    name = "freshdesk"

    def __init__(
        self,
        *,
        url: str,
        api_key: str,
        session: requests.Session | None = None,
        timeout: float = 30,
        thread_key_field: str | None = None,
        custom_fields: Mapping[str, Any] | None = None,
        rate_limit_reserve: int = 2,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.thread_key_field = _field_name(thread_key_field, "freshdesk.thread_key_field")
        self.custom_fields = {
            _field_name(k, "freshdesk.custom_fields") or k: v for k, v in (custom_fields or {}).items()
        }
        self._api = FreshdeskClient(
            url=url,
            api_key=api_key,
            session=session,
            timeout=timeout,
            rate_limit_reserve=rate_limit_reserve,
            clock=clock,
        )
        self.url = self._api.url
        self._recent_user = RecentApiUser(self._api_user, clock=clock)  # what find_ticket finding nothing means

    def __repr__(self) -> str:
        return f"FreshdeskHelpdesk(url={self.url!r}, api_key='***', thread_key_field={self.thread_key_field!r})"

    # -- the port ----------------------------------------------------------------------------------------

    def ensure_requester(self, *, platform: str, author: Author, profile: UserProfile | None = None) -> str:
        """The contact whose ``unique_external_id`` is ``<platform>:<author id>``, created when missing.

        Two workers may create the same contact at once: the loser gets 409 ``duplicate_value`` and
        resolves it to the winner's contact, never a second one. A conflict on another unique field
        (an email or X handle that a contact already has) means that person is already known: their
        contact is used. A refused email, phone or X handle (a malformed email, say) raises :class:`RefusedFields`, so
        that the bridge makes the contact without it and keeps the value on the ticket; another refused
        optional field is dropped here.
        """
        external_id = f"{platform}:{author.id}"
        fields = _contact_fields(platform, author, external_id) | _profile_fields(profile)
        try:  # created first: one call for a new customer; a known one's 409 names the field, then looked up
            return self._create_contact(fields)
        except errors.PermanentError as e:
            found = self._recover_contact(e, external_id, fields)
            if _was_duplicate(e) and profile is not None and profile.fields:  # as Zendesk's create_or_update does;
                self._update_contact_fields(
                    found, {"custom_fields": dict(profile.fields)}
                )  # an agent's description stays
            return found

    # -- one customer, one contact (bridge.joins) ------------------------------------------------------------

    #: ``POST /api/v2/contacts/merge`` exists, but deletes the secondary contacts for good and asks which of
    #: the conflicting unique values to keep: a join the CRM later contradicts could not be undone. Linked instead.
    merges_users = False

    def attach_identity(self, user_id: str, *, platform: str, author: Author) -> str | None:
        """``facebook_id`` (Facebook), ``twitter_id`` (X) or ``mobile`` (WhatsApp), where the contact has none:
        each holds one value (``unique_external_id`` is the Contact's own). Other platforms: None."""
        field, value = freshdesk_identity(platform, author) or ("", "")
        contact = self._api.json("GET", f"/api/v2/contacts/{_number(user_id)}", "could not read the contact")
        if not field or str(contact.get(field) or "").lower() not in ("", value.lower()):
            return None
        self._update_contact_fields(user_id, {field: value})
        return f"{field} {value}"

    def join_contact_user(
        self, contact: Author, profile: UserProfile | None, *, platform: str, author: Author
    ) -> JoinedUser | None:
        """The synced Contact's contact, its CRM fields and the identity in one PUT (see :mod:`.joins`); a Contact
        not synced yet is created with them (None where that is refused: then made as :meth:`ensure_requester`)."""
        key, identity = f"salesforce:{contact.id}", freshdesk_identity(platform, author)
        found = self._contact_record(key)
        if found is not None:
            return _join_in_place(self._api, found, profile, identity)
        fields = (
            _contact_fields("salesforce", contact, key)
            | _profile_fields(profile)
            | dict([identity] if identity else [])
        )
        try:
            return JoinedUser(self._create_contact(fields), identity[0] if identity else None)
        except errors.PermanentError as e:  # a race, a malformed CRM email, the identity held: the usual way
            if e.retryable:
                raise
            return None

    def detach_identity(self, user_id: str, *, platform: str, author: Author) -> bool:
        field, value = freshdesk_identity(platform, author) or ("", "")
        contact = self._api.json("GET", f"/api/v2/contacts/{_number(user_id)}", "could not read the contact")
        if not field or str(contact.get(field) or "").lower() != value.lower():
            return False
        self._update_contact_fields(user_id, {field: None})
        return True

    def _update_contact_fields(self, user_id: str, fields: dict[str, Any]) -> None:
        self._api.json("PUT", f"/api/v2/contacts/{_number(user_id)}", "could not update the contact", json=fields)

    def merge_user(self, source_id: str, target_id: str, *, made_as: str) -> None:
        raise errors.PermanentError("Freshdesk contacts are linked by socialdesk, not merged", platform=PLATFORM)

    def note_user(self, user_id: str, text: str) -> None:
        """Appended to the contact's ``description`` (shown on the contact's page)."""
        path = f"/api/v2/contacts/{_number(user_id)}"
        contact = self._api.json("GET", path, "could not read the contact")
        description = "\n".join(d for d in (str(contact.get("description") or "").strip(), text) if d)
        # not repeatable: a retry of this method reads the line written and appends it again (UnknownOutcome instead)
        self._api.json("PUT", path, "could not update the contact", repeatable=False, json={"description": description})

    def find_created(self, ticket: NewTicket, *, since: datetime) -> TicketRef | None:
        """By the thread-key field where one is configured (:meth:`find_ticket`). Without it, among the requester's
        tickets created since ``since`` (less :data:`CLOCK_SKEW`), the newest whose description has the line naming
        the customer's message (``ticket.reference``: :meth:`create_ticket` writes ``ticket.body``, which ends with
        it). One list call a hundred tickets (3 API credits: ``include=description`` costs 2), made only after a
        create whose answer was lost; the list is always current, unlike the search index."""
        if self.thread_key_field is not None:
            return self.find_ticket(ticket.external_id)
        if not ticket.reference:
            raise errors.PermanentError("no reference line to find the ticket by", platform=PLATFORM)
        listed = self._requester_tickets(ticket.requester_id, since)
        made = [t for t in listed if _holds(t, "description_text", "description", ticket.reference)]
        found = _ref(_newest(made)) if made else None
        if found is None or found.status in ("closed", "deleted"):
            no_live_ticket(self._recent_user(), platform=PLATFORM)  # a narrower agent's list leaves some out
        return found

    def find_ticket(self, external_id: str) -> TicketRef | None:
        """The newest live ticket whose thread-key field holds this key; None without such a field.

        The search API is tried first. Its index lags behind by seconds to minutes, and recovery runs
        right after a crash, so when the search finds nothing, or only a closed or deleted ticket (whose
        follow-up may be the one not indexed yet), the tickets updated in the last hour are also scanned
        through the (always current) ticket list.
        """
        if self.thread_key_field is None:
            return None
        value = thread_key_value(external_id)
        matches = {int(t["id"]): t for t in self._search_tickets(value) if self._carries(t, value)}
        if not matches or _ref(_newest(matches.values())).status in ("closed", "deleted"):
            matches |= {int(t["id"]): t for t in self._recent_tickets() if self._carries(t, value)}
        found = _ref(_newest(matches.values())) if matches else None
        if found is None or found.status in ("closed", "deleted"):
            no_live_ticket(self._recent_user(), platform=PLATFORM)  # a narrower agent's search leaves some out
        return found

    def create_ticket(self, ticket: NewTicket) -> TicketRef:
        """Not idempotent: a timeout raises :class:`UnknownOutcome`; recover with :meth:`find_created`."""
        body: dict[str, Any] = {
            "requester_id": _number(ticket.requester_id),
            "subject": ticket.subject[:FIELD_MAX],
            "description": self._description(ticket),
            "status": OPEN,
            "priority": PRIORITY_LOW,
            "source": SOURCE_CHAT,
            "tags": list(dict.fromkeys(tag[:TAG_MAX] for tag in ticket.tags)),
            **_routed(ticket.routing),
        }
        fields = {**self.custom_fields, **ticket.fields, **ticket.routing.fields}
        if self.thread_key_field:
            fields[self.thread_key_field] = thread_key_value(ticket.external_id)
        if fields:
            body["custom_fields"] = fields
        try:
            created = _ref(self._api.json("POST", "/api/v2/tickets", "could not create the ticket", json=body))
        except errors.PermanentError as e:
            if not _refuses_requester(e):
                raise
            raise errors.RequesterRefused(e.message, platform=PLATFORM, http_status=e.http_status, code=e.code) from e
        if ticket.followup_of:
            self._point_to_follow_up(ticket.followup_of, created.id)
        return created

    def add_customer_comment(
        self, ticket_id: str, *, requester_id: str, body: str, tags: Sequence[str] = (), routing: Routing | None = None
    ) -> TicketRef:
        """The customer's follow-up as a public note with ``incoming: true``, authored by the contact.

        Why a note and not ``/reply``: a reply is the agent's outgoing answer (emailed to the requester,
        counted as the agents' response). An incoming public note by the contact is how Freshdesk records
        a customer's message: agents see it on the customer's side of the conversation, it notifies
        nobody, and ``incoming`` tells it apart from agents' replies.

        A pending or resolved ticket is reopened first (a status change is safe to repeat, a note is
        not); a closed one raises :class:`TicketClosed` so that a follow-up is opened, a deleted one
        :class:`TicketDeleted` so that a new ticket is. The rules' ``tags`` (added to the ticket's: a PUT
        replaces the list) and ``routing`` go in that same PUT; on an open ticket they cost one PUT, since
        Freshdesk's notes cannot change the ticket. A resolved ticket's ref says so (``reopened``: the
        message starts a new conversation episode).
        """
        path = _ticket_path(ticket_id)
        ticket = self._ticket_or_closed(ticket_id)
        status = before = int(ticket.get("status") or OPEN)
        changes = {**_routed(routing or Routing()), **_more_tags(ticket, tags)}
        if routing is not None and routing.fields:
            changes["custom_fields"] = dict(routing.fields)
        if status in (PENDING, RESOLVED) and "status" not in changes:
            changes["status"] = OPEN
        if changes:
            self._api.json("PUT", path, "could not update the ticket", json=changes)
            status = int(changes.get("status", status))
        note = {"body": to_html(body), "incoming": True, "private": False, "user_id": _number(requester_id)}
        self._api.json("POST", f"{path}/notes", "could not add the customer's message", json=note)
        return TicketRef(id=str(ticket_id), status=STATUS_NAMES.get(status, str(status)), reopened=before == RESOLVED)

    def add_internal_note(self, ticket_id: str, body: str) -> None:
        """A private note by the API key's agent (Freshdesk accepts notes on closed tickets too, not on deleted
        ones: :class:`TicketDeleted`)."""
        note, path = {"body": to_html(body), "private": True}, f"{_ticket_path(ticket_id)}/notes"
        with self._deleted_if_not_found(ticket_id, "the ticket is deleted or gone"):
            self._api.json("POST", path, "could not add the note", json=note)

    def set_fields(self, ticket_id: str, fields: Mapping[str, str], *, note: str) -> None:
        """The custom fields (by ``cf_`` name) in a PUT (Freshdesk's notes cannot change the ticket), then the
        private note saying why."""
        self._api.json("PUT", _ticket_path(ticket_id), "could not set the ticket's fields",
                       json={"custom_fields": dict(fields)})  # fmt: skip
        self.add_internal_note(ticket_id, note)

    def remove_tags(self, ticket_id: str, tags: Sequence[str]) -> None:
        """The ticket's tags without ``tags`` (case aside), in one PUT: Freshdesk replaces the whole list."""
        path = _ticket_path(ticket_id)
        had = [str(t) for t in self._api.json("GET", path, "could not read the ticket").get("tags") or []]
        gone = {t.casefold() for t in tags}
        kept = [t for t in had if t.casefold() not in gone]
        if len(kept) < len(had):
            self._api.json("PUT", path, "could not update the ticket's tags", json={"tags": kept})

    def has_comment_containing(self, ticket_id: str, marker: str) -> bool:
        """Whether the description or a conversation's plain text holds ``marker`` (crash recovery;
        :func:`bridge.messages.holds_mark`, never as the start of a longer one). A ticket
        in the trash or gone raises :class:`TicketDeleted`, as Zendesk's 404 does: words written there before
        an agent deleted it are out of every agent's sight, so they go to a new ticket, never marked written."""
        ticket = self._live_ticket(ticket_id)
        if _holds(ticket, "description_text", "description", marker):
            return True
        return any(_holds(c, "body_text", "body", marker) for c in self._conversations(ticket_id))

    def agent_replies(self, ticket_id: str) -> list[AgentReply]:
        return self.ticket_replies(ticket_id)[0]

    def ticket_replies(self, ticket_id: str) -> tuple[list[AgentReply], float | None]:
        """Public, outgoing replies and notes by agents, oldest first, never the customer's; and, when the
        ticket is resolved or closed, its ``updated_at`` (implements ``SolvedTickets``: ``stats.resolved_at``
        would cost ``include=stats``, an extra API credit per read; the rule calls the bridge on the change
        to Resolved, so ``updated_at`` is that change's time).

        The API key's own agent is not excluded: the bridge writes only private notes and incoming notes
        by the contact, and Freshdesk API keys belong to real agents, who also answer from the agent UI.
        Calls: the ticket (requester, tags), one per 100 conversations.
        """
        ticket = self._api.json("GET", _ticket_path(ticket_id), "could not read the ticket")
        requester, tags = ticket.get("requester_id"), tuple(str(t) for t in ticket.get("tags") or ())
        replies = [
            _reply(ticket_id, c, tags)
            for c in self._conversations(ticket_id)
            if not c.get("private")
            and not c.get("incoming")
            and c.get("source", 0) in DELIVERABLE_SOURCES
            and c.get("user_id") != requester
        ]
        solved = ticket.get("status") in (STATUSES[TicketStatus.SOLVED], STATUSES[TicketStatus.CLOSED])
        at = datetime.fromisoformat(str(ticket["updated_at"])).timestamp() if solved else None
        return sorted(replies, key=lambda r: (r.created_at, int(r.comment_id))), at

    def field_names(self) -> tuple[set[str], set[str]]:
        """For ``socialdesk doctor`` (implements ``CustomFields``): custom ticket and contact field names."""
        return self._custom_names("/api/v2/ticket_fields"), self._custom_names("/api/v2/contact_fields")

    def _custom_names(self, path: str) -> set[str]:
        fields = self._api.items(path, "could not list the custom fields", {}, max_pages=1)
        return {str(f.get("name")) for f in fields if not f.get("default")}

    def check_setup(self) -> str:
        """For ``socialdesk doctor`` (implements ``SetupCheck``): :meth:`check_fields`. ``thread_key_field`` is
        optional: without it, the ticket of a create whose answer was lost is found by its requester and the line
        naming the customer's message (:meth:`find_created`); the line says which way."""
        present = self.check_fields()
        if self.thread_key_field is None:
            return f"{present}; a lost ticket create is found by its requester and message (no thread_key_field)"
        return present

    def check_fields(self, names: set[str] | None = None) -> str:
        """The custom ticket fields every create writes exist: a missing one makes every create fail with a 400.
        ``names``: the custom ticket fields when :meth:`field_names` read them already, else one GET. Raises
        naming each missing field's config key."""
        written = self._written_fields()
        if not written:
            return "no custom ticket field written"
        if names is None:
            names = self._custom_names("/api/v2/ticket_fields")
        missing = [f"{key}: Freshdesk has no ticket field {name!r}" for key, name in written if name not in names]
        if missing:
            fix = "create it in Admin → Ticket Fields as single-line text, or correct the setting"
            raise errors.PermanentError(f"{'; '.join(missing)} ({fix})")
        return f"ticket fields present: {', '.join(name for _, name in written)}"

    def _written_fields(self) -> list[tuple[str, str]]:
        """(config key, ticket field) for the custom fields each create writes."""
        keyed = [("freshdesk.thread_key_field", self.thread_key_field)] if self.thread_key_field else []
        return keyed + [(f"freshdesk.custom_fields.{name}", name) for name in self.custom_fields]

    def names(self) -> HelpdeskNames:
        """Groups, agents (by name and by email) and the ticket types of the ``ticket_type`` field's choices."""
        groups = {str(g["name"]): str(g["id"]) for g in self._api.items("/api/v2/groups", "could not list the groups",
                                                                         {"per_page": PAGE_SIZE})}  # fmt: skip
        listed = self._api.items("/api/v2/agents", "could not list the agents", {"per_page": PAGE_SIZE})
        contacts = [(str(a["id"]), _dict(a.get("contact"))) for a in listed]
        agents, ambiguous = staff_names([(i, c.get("name"), c.get("email")) for i, c in contacts])
        fields = list(self._api.items("/api/v2/ticket_fields", "could not list the ticket fields", {}, max_pages=1))
        kinds = next((f.get("choices") for f in fields if f.get("name") == "ticket_type"), None)
        types = tuple(str(t) for t in kinds) if isinstance(kinds, list) else None
        custom = tuple(str(f.get("name")) for f in fields if not f.get("default"))
        return HelpdeskNames(groups=groups, agents=agents, types=types, fields=custom, ambiguous=ambiguous)

    def business_schedules(self) -> list[HelpdeskSchedule]:
        """``GET /api/v2/business_hours``: every business calendar (hours and time zone; the API has no holidays)."""
        calendars = self._api.items("/api/v2/business_hours", "could not read the business hours", {})
        return [freshdesk_schedule(c) for c in calendars]

    def ping(self) -> str:
        """The email (or name) of the agent the API key belongs to. Raises :class:`AuthError` for one whose ticket
        scope is not global (:func:`_narrower_scope`): ``doctor`` says so, and ``setup freshdesk`` refuses to go on."""
        agent = api_user_at(self._api_user, key="freshdesk.url", base=self.url, path=ME, example=EXAMPLE_URL)
        return sees_every_ticket(agent, WIDER_SCOPE, platform=PLATFORM)

    def _api_user(self) -> ApiUser:
        """``GET /api/v2/agents/me``: the API key's agent, named by its ``contact``, judged by its ``ticket_scope``."""
        me = self._api.json("GET", ME, "could not read the API key's agent")
        return ApiUser(_who(me), _narrower_scope(me))

    def upsert_contacts(self, contacts: Sequence[ContactUpsert]) -> list[ContactResult]:
        """One by one (Freshdesk has no bulk contact API), each within the rate-limit budget."""
        return [self._upsert_contact(c) for c in contacts]

    def _upsert_contact(self, contact: ContactUpsert) -> ContactResult:
        fields: dict[str, Any] = {"name": contact.name}
        fields |= {k: v for k, v in (("email", contact.email), ("phone", contact.phone)) if v}
        if contact.user_fields:
            fields["custom_fields"] = dict(contact.user_fields)  # the contact's other fields stay (Update Contact)
        tags = list(contact.tags) + ([SUSPENDED_TAG] if contact.suspended else [])
        if tags:
            fields["tags"] = tags
        try:
            found = self._contact_record(contact.external_id)
            if found is None and contact.update_only:
                return ContactResult(contact.external_id, "skipped")
            if found is None:
                create = {**fields, "unique_external_id": contact.external_id}
                made = self._without_refused_fields(create, contact.external_id, self._create_contact)
                return ContactResult(contact.external_id, "created", user_id=made)
            had = [str(t) for t in found.get("tags") or []]
            marks = {*contact.undelete, SUSPENDED_TAG}  # Freshdesk has no suspension: the tag is all there is
            if tags:  # a deletion's marks join the contact's own tags (a PUT replaces the list)
                fields["tags"] = list(dict.fromkeys([*had, *tags]))
            elif contact.undelete and marks & set(had):  # restored: the deletion pass's tags come off, others stay
                fields["tags"] = [t for t in had if t not in marks]
            user_id = str(found["id"])
            self._without_refused_fields(fields, contact.external_id, lambda f: self._update_contact_fields(user_id, f))
            return ContactResult(contact.external_id, "updated", user_id=user_id)
        except errors.PermanentError as e:  # one bad contact must not stop the sync: reported in the summary
            return ContactResult(contact.external_id, "failed", e.message)

    @staticmethod
    def _without_refused_fields(fields: dict[str, Any], external_id: str, write: Callable[[dict[str, Any]], _T]) -> _T:
        """``write(fields)``; refused for the CRM's custom fields only (a contact field deleted since it was mapped,
        a value it does not take), written again without those, as a join's create leaves them out: a mapped field
        must not cost the Contact its user. Logged by field name, never by value."""
        try:
            return write(fields)
        except errors.PermanentError as e:
            custom = dict(fields.get("custom_fields") or {})
            refused = _refused_custom_fields(e, custom)
            if not refused:
                raise
            log.warning("freshdesk: contact %s written without %s: refused", messages.key_shown(external_id),
                        ", ".join(sorted(refused)))  # fmt: skip
            kept = {k: v for k, v in custom.items() if k not in refused}
            return write(
                {k: v for k, v in fields.items() if k != "custom_fields"} | ({"custom_fields": kept} if kept else {})
            )

    # -- contacts --------------------------------------------------------------------------------------------

    def _contact_by_external_id(self, external_id: str) -> str | None:
        found = self._contact_record(external_id)
        return str(found["id"]) if found is not None else None

    def _contact_record(self, external_id: str) -> dict[str, Any] | None:
        found = self._api.items(
            "/api/v2/contacts", "could not look up the contact", {"unique_external_id": external_id}
        )
        return next((c for c in found if c.get("unique_external_id") == external_id), None)

    def _create_contact(self, fields: dict[str, Any]) -> str:
        """Safe to repeat: every create carries ``unique_external_id``, so a repeat of one whose answer was lost is
        Freshdesk's 409 ``duplicate_value``, which :meth:`_recover_contact` resolves to the contact it made."""
        path, action = "/api/v2/contacts", "could not create the contact"
        return str(self._api.json("POST", path, action, repeatable=True, json=fields)["id"])

    def _recover_contact(self, error: errors.PermanentError, external_id: str, fields: dict[str, Any]) -> str:
        """After a refused create: the existing contact, or one more try without the refused extras."""
        api = error.__cause__ if isinstance(error.__cause__, FreshdeskApiError) else None
        duplicate = api.duplicate() if api else None
        if duplicate and duplicate[0] == "unique_external_id":  # lost a race: the winner's contact is the one
            found = self._contact_by_external_id(external_id)
            if found is not None or duplicate[1] is not None:
                return found or str(duplicate[1])
            raise error
        if duplicate and duplicate[1] is not None:
            log.info(
                "freshdesk: contact %s already has this %s; using it for %s",
                duplicate[1],
                duplicate[0],
                messages.key_shown(external_id),
            )
            return str(duplicate[1])
        custom = set(fields.get("custom_fields") or {})  # a refused custom field: the CRM's, left out as a whole
        named = {str(item.get("field")) for item in (api.items if api else [])}
        refused = {"custom_fields" if f in custom else f for f in named}
        if not refused or not refused <= set(fields) - REQUIRED_CONTACT_FIELDS:
            raise error
        if not duplicate and refused <= set(AUTHOR_FIELDS):  # the customer's details, malformed: kept by the bridge
            names = tuple(sorted({AUTHOR_FIELDS[f] for f in refused}))
            message = f"Freshdesk refused the requester's {' and '.join(names)}"
            raise errors.RefusedFields(
                message, fields=names, platform=PLATFORM, http_status=error.http_status
            ) from error
        log.warning(
            "freshdesk: creating contact %s without %s", messages.key_shown(external_id), ", ".join(sorted(refused))
        )
        return self._create_contact({k: v for k, v in fields.items() if k not in refused})

    # -- tickets ----------------------------------------------------------------------------------------------

    def _description(self, ticket: NewTicket) -> str:
        text = to_html(ticket.body)
        if not ticket.followup_of:
            return text
        old = _number(ticket.followup_of)
        return (
            f'<div>Follow-up of closed ticket <a href="{html.escape(self.url)}/a/tickets/{old}">#{old}</a>.</div>{text}'
        )

    def _point_to_follow_up(self, old_id: str, new_id: str) -> None:
        """A note on the closed ticket naming its follow-up. The new ticket exists already: a failure
        here is logged, never raised (raising would make the bridge open the follow-up again)."""
        try:
            self.add_internal_note(
                old_id, f"The customer wrote again in this social thread: continued in ticket #{new_id}."
            )
        except errors.BridgeError as e:
            log.warning("freshdesk: could not link closed ticket %s to its follow-up %s: %s", old_id, new_id, e)

    def _live_ticket(self, ticket_id: str) -> dict[str, Any]:
        """The ticket, unless deleted (in the trash, ``deleted: true``) or gone for good (404, the trash emptied):
        :class:`TicketDeleted`, a new ticket is opened, as for Zendesk's deleted tickets (a malformed id stays
        :class:`NotFound`)."""
        path = _ticket_path(ticket_id)
        with self._deleted_if_not_found(ticket_id, "the ticket no longer exists"):
            ticket = self._api.json("GET", path, "could not read the ticket")
        if ticket.get("deleted"):  # seen in the trash: deleted, whatever the agent's scope
            raise errors.TicketDeleted("the ticket is deleted: a new ticket is needed", platform=PLATFORM)
        return ticket

    @contextmanager
    def _deleted_if_not_found(self, ticket_id: str, deleted: str) -> Iterator[None]:
        """A 404 about a ticket the bridge made is a ticket deleted for good (the trash emptied):
        :class:`TicketDeleted` (``deleted`` says so), and the bridge opens a new ticket.

        Unless the API key's agent does not see every ticket (``doctor`` refuses such a key, but a worker may run
        with one, or an admin may narrow the scope later): Freshdesk documents no status for a ticket outside its
        scope (its agent UI says "either not there or you don't have permission"), so :func:`ticket_not_found`
        makes it a dead letter; the ``agents/me`` call is made on such a 404 only. A 403 is never read as
        deleted: it stays the table's :class:`AuthError`."""
        try:
            yield
        except errors.NotFound as e:
            raise ticket_not_found(e, ticket_id, self._api_user(), deleted, platform=PLATFORM) from e

    def _ticket_or_closed(self, ticket_id: str) -> dict[str, Any]:
        """The live ticket (:meth:`_live_ticket`), unless closed: :class:`TicketClosed`, a follow-up is opened."""
        ticket = self._live_ticket(ticket_id)
        if ticket.get("status") == CLOSED:
            raise errors.TicketClosed("the ticket is closed: a follow-up ticket is needed", platform=PLATFORM)
        return ticket

    def _carries(self, ticket: dict[str, Any], value: str) -> bool:
        live = not (ticket.get("deleted") or ticket.get("spam"))
        return live and _dict(ticket.get("custom_fields")).get(self.thread_key_field or "") == value

    def _search_tickets(self, value: str) -> Iterator[dict[str, Any]]:
        query = f"\"{self.thread_key_field}:'{value}'\""
        for page in range(1, SEARCH_MAX_PAGES + 1):
            params = {"query": query, "page": page}
            body = self._api.json("GET", "/api/v2/search/tickets", "could not search tickets", params=params)
            results = [r for r in body.get("results") or [] if isinstance(r, dict)]
            yield from results
            if len(results) < SEARCH_PAGE_SIZE:
                return

    def _requester_tickets(self, requester_id: str, since: datetime) -> Iterator[dict[str, Any]]:
        """The requester's tickets created since ``since`` (less :data:`CLOCK_SKEW`), newest first, with their
        descriptions. List All Tickets (developers.freshdesk.com/api/#list_all_tickets) filters by ``requester_id``
        and ``updated_since`` ("By default, only tickets that have been created within the past 30 days will be
        returned. For older tickets, use the updated_since filter"), sorts by ``order_by=created_at`` and
        ``order_type=desc``, and needs ``include=description`` for ``description`` and ``description_text``
        ("For accounts created after 2018-11-30, you will have to use include to get description"; "Each include
        will consume an additional 2 credits"). A ticket created since then was updated since then too; the pages
        stop at the first one created before."""
        start = since - CLOCK_SKEW
        params = {"requester_id": str(_number(requester_id)), "updated_since": _iso(start), "order_by": "created_at",
                  "order_type": "desc", "include": "description", "per_page": str(PAGE_SIZE)}  # fmt: skip
        listed = self._api.items("/api/v2/tickets", "could not list the requester's tickets", params)
        yield from itertools.takewhile(lambda t: _created_at(t) >= start, listed)

    def _recent_tickets(self) -> Iterator[dict[str, Any]]:
        since = datetime.fromtimestamp(self._api.now(), UTC) - RECENT_SCAN
        params = {"updated_since": _iso(since), "order_by": "created_at", "order_type": "desc"}
        params["per_page"] = str(PAGE_SIZE)
        yield from self._api.items("/api/v2/tickets", "could not list tickets", params, max_pages=RECENT_SCAN_PAGES)

    def _conversations(self, ticket_id: str) -> Iterator[dict[str, Any]]:
        path = f"{_ticket_path(ticket_id)}/conversations"
        yield from self._api.items(path, "could not read the conversations", {"per_page": PAGE_SIZE})


# -- small pure helpers ------------------------------------------------------------------------------------------


def _routed(routing: Routing) -> dict[str, Any]:
    """The rules' decision as Freshdesk's ticket fields: priority 1-4, status 2-5, ids as numbers."""
    body: dict[str, Any] = {}
    if routing.priority is not None:
        body["priority"] = PRIORITIES[routing.priority]
    if routing.status is not None:
        body["status"] = STATUSES[routing.status]
    if routing.type is not None:
        body["type"] = routing.type
    for key, value in (("group_id", routing.group_id), ("responder_id", routing.assignee_id)):
        if value is not None:
            body[key] = _number(value)
    return body


def _more_tags(ticket: Mapping[str, Any], tags: Sequence[str]) -> dict[str, Any]:
    """``{"tags": [...]}`` with ``tags`` added to the ticket's own, or nothing when it has them all."""
    had = [str(t) for t in ticket.get("tags") or []]
    wanted = list(dict.fromkeys([*had, *(t[:TAG_MAX] for t in tags)]))
    return {"tags": wanted} if len(wanted) > len(had) else {}


def to_html(text: str) -> str:
    """Customer or bridge text as Freshdesk HTML: escaped (never interpreted), one ``<div>`` per line."""
    lines = text.replace("\r\n", "\n").split("\n")
    return "".join(f"<div>{html.escape(line) if line else '<br>'}</div>" for line in lines)


def thread_key_value(key: str) -> str:
    """What the thread-key field holds: the key itself when the search syntax can carry it verbatim
    (the usual ``facebook:123:comment:456``), else ``sha256:<hex>`` of it, which always can."""
    if _SEARCHABLE.fullmatch(key):
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


#: Contact fields made from the author's optional details (see :func:`_contact_fields`), by Author attribute.
AUTHOR_FIELDS = {"email": "email", "phone": "phone", "twitter_id": "handle"}


def _refused_custom_fields(error: errors.PermanentError, custom: Mapping[str, Any]) -> set[str]:
    """The custom fields a refused write names, when it names those only (and at least one); else empty."""
    api = error.__cause__
    named = {str(item.get("field")) for item in api.items} if isinstance(api, FreshdeskApiError) else set()
    return named if named and named <= set(custom) else set()


def _was_duplicate(error: errors.PermanentError) -> bool:
    """Whether a refused create named a contact that already holds one of its unique values."""
    api = error.__cause__
    return isinstance(api, FreshdeskApiError) and api.duplicate() is not None


def _profile_fields(profile: UserProfile | None) -> dict[str, Any]:
    """The CRM's summary as the contact's description, its mapped values as the contact's custom fields."""
    fields: dict[str, Any] = {}
    if profile is not None and profile.notes is not None:
        fields["description"] = profile.notes
    if profile is not None and profile.fields:
        fields["custom_fields"] = dict(profile.fields)
    return fields


def _contact_fields(platform: str, author: Author, external_id: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": author.display_name(), "unique_external_id": external_id}
    if author.email:
        fields["email"] = author.email
    if author.phone:
        fields["phone"] = author.phone
    if platform == "x" and author.handle:
        fields["twitter_id"] = author.handle
    if platform == "facebook":
        fields["facebook_id"] = author.id
    return fields


def freshdesk_identity(platform: str, author: Author) -> tuple[str, str] | None:
    """The contact field that holds this social identity, and its value, if Freshdesk has one."""
    if platform == "facebook":
        return "facebook_id", author.id
    if platform == "x" and author.handle:
        return "twitter_id", author.handle.lstrip("@")
    if platform == "whatsapp":
        return "mobile", author.phone or f"+{author.id.lstrip('+')}"
    return None


def _plain(conversation: dict[str, Any]) -> str:
    """``body_text``, or the text of ``body`` when Freshdesk left it out."""
    text = conversation.get("body_text")
    return text if isinstance(text, str) else _text_of(str(conversation.get("body") or ""))


def _reply(ticket_id: str, conversation: dict[str, Any], tags: tuple[str, ...]) -> AgentReply:
    return AgentReply(
        ticket_id=str(ticket_id),
        comment_id=str(conversation["id"]),
        body=_plain(conversation).strip(),
        author_id=str(conversation.get("user_id")),
        author_name=None,  # conversations carry no names; one more call per author is not worth it
        created_at=datetime.fromisoformat(str(conversation["created_at"])),
        ticket_tags=tags,
        attachments=attachment_names(conversation.get("attachments"), "name"),
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _narrower_scope(me: Mapping[str, Any]) -> str | None:
    """How ``agents/me``'s agent sees fewer than every ticket, or None for global access (``ticket_scope`` 1).
    The scope is the agent's own, whatever its role ("A user can be given access only to assigned tickets, while
    still having administrative permissions through their role": support.freshdesk.com/.../articles/97079)."""
    scope = me.get("ticket_scope")
    if scope == GLOBAL_SCOPE and not isinstance(scope, bool):
        return None
    known = NARROWER_SCOPES.get(scope) if isinstance(scope, int) else None
    return known or f"has ticket scope {scope!r}, not global access"


def _who(me: Mapping[str, Any]) -> str:
    contact = _dict(me.get("contact"))
    return str(contact.get("email") or contact.get("name") or me.get("id") or "the API key's agent")


def _text_of(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"</(div|p)>|<br\s*/?>", "\n", markup)))


def _holds(item: Mapping[str, Any], text_key: str, html_key: str, marker: str) -> bool:
    """Whether ``marker`` ends a line of the item's plain text or of its HTML as :func:`to_html` wrote it (one
    ``<div>`` per line): Freshdesk documents no rule for how ``body_text`` joins the lines, and a mark followed by
    the next line's words on the same line would not count (:func:`bridge.messages.holds_mark`)."""
    texts = (item.get(text_key), _text_of(str(item.get(html_key) or "")))
    return any(isinstance(text, str) and messages.holds_mark(text, marker) for text in texts)


def _created_at(ticket: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(ticket["created_at"]))


def _iso(at: datetime) -> str:
    """A time as Freshdesk's filters take it: ``2015-01-19T02:00:00Z`` (UTC, no fraction)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _newest(tickets: Iterable[Mapping[str, Any]]) -> Mapping[str, Any]:
    return max(tickets, key=lambda t: (str(t.get("created_at") or ""), int(t["id"])))


def _ref(ticket: Mapping[str, Any]) -> TicketRef:
    status = ticket.get("status")
    name = STATUS_NAMES.get(status, str(status)) if isinstance(status, int) else str(status)
    return TicketRef(id=str(ticket["id"]), status="deleted" if ticket.get("deleted") else name)


def _number(value: str) -> int:
    """Freshdesk ids are numbers; anything else cannot exist there."""
    if not str(value).isdigit():
        raise errors.NotFound(f"{str(value)[:40]!r} is not a Freshdesk id", platform=PLATFORM)
    return int(value)


def _ticket_path(ticket_id: str) -> str:
    return f"/api/v2/tickets/{_number(ticket_id)}"


def _field_name(name: str | None, key: str) -> str | None:
    if name is not None and not _FIELD_NAME.fullmatch(name):
        raise errors.ConfigError(f"{key}: {name!r} is not a Freshdesk custom field name (cf_...)", platform=PLATFORM)
    return name


def _refuses_requester(error: errors.PermanentError) -> bool:
    """A create refused for its ``requester_id``: Freshdesk's 400 ``{"field": "requester_id", "message": "There is
    no contact matching the given requester_id", "code": "invalid_value"}`` (the contact was deleted since; the
    simulator's wording, sandbox/freshdesk/simulator.py). Told apart here, not in the status table: a list's
    ``requester_id`` filter is refused the same way, and there the contact is not the create's."""
    api = error.__cause__ if isinstance(error.__cause__, FreshdeskApiError) else None
    items = api.items if api is not None and api.status == 400 else []
    return any(i.get("field") == "requester_id" and i.get("code") == "invalid_value" for i in items)
