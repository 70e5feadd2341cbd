"""Zendesk Support through zenpy: the bridge's :class:`bridge.ports.Helpdesk`.

zenpy is given our own ``requests`` session, which changes three things zenpy would otherwise do:

* a 429 raises from the session's response hook, so zenpy never sleeps on ``Retry-After`` inside a
  call: :class:`bridge.errors.RateLimited` for the account's limit (the bridge's one retry policy pauses
  every worker), a plain retryable error for the limit on one ticket's updates (only that work waits);
* no hidden urllib3 retries (zenpy mounts ``Retry(total=3)`` on 413/503 only on a session it builds);
* requests go to the configured ``url`` (a simulator, a proxy) through a
  :class:`connectors.base.RebasedSession`, without environment variables or patches.

Every zenpy / requests failure is mapped onto :mod:`bridge.errors` by :func:`_translated` and
:func:`_error_for` (the one table), with ``raise ... from e``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment, Ticket, User
from zenpy.lib.exception import APIException, ZenpyException

from bridge import errors, messages
from bridge.events import (
    AgentReply,
    Author,
    ContactResult,
    ContactUpsert,
    HelpdeskNames,
    NewTicket,
    Routing,
    TicketRef,
    UserProfile,
    staff_names,
)
from bridge.schedules import HelpdeskSchedule
from connectors.base import (
    ApiUser,
    RebasedSession,
    RecentApiUser,
    answered,
    api_user_at,
    attachment_names,
    call,
    no_live_ticket,
    rate_limit_hook,
    retry_after_seconds,
    sees_every_ticket,
    ticket_not_found,
)
from connectors.business_hours import zendesk_schedule

log = logging.getLogger(__name__)

PLATFORM = "zendesk"
JOB_POLL, JOB_TIMEOUT = 0.2, 120.0  # a bulk job is polled, not retried: seconds between looks, at most
STAFF_ROLES = ("agent", "admin")
PAGE_SIZE = 100
SUSPENDED_TAG = "suspended_in_crm"  # set with every suspension this connector makes (ContactUpsert.suspended)
#: A host that can never resolve (RFC 2606), used as zenpy's nominal host when ``url`` is not a
#: ``*.zendesk.com`` URL: should a request ever escape rebasing, it fails instead of reaching a real account.
PLACEHOLDER_SUBDOMAIN, PLACEHOLDER_DOMAIN = "socialdesk", "zendesk.invalid"

#: The one table: HTTP status → (bridge error, message fit for an agent's eyes). 422 on a closed
#: ticket is told apart by its body in :func:`_error_for`; other 4xx are permanent; 5xx unavailable.
STATUS_ERRORS: dict[int, tuple[type[errors.BridgeError], str]] = {
    401: (
        errors.AuthError,
        "Zendesk refused the credentials (check zendesk.email, zendesk.api_token or oauth_token)",
    ),
    403: (errors.AuthError, "the Zendesk user is not allowed to do this"),
    404: (errors.NotFound, "not found in Zendesk"),
    429: (errors.RateLimited, "Zendesk rate limit reached"),
}
CLOSED = (errors.TicketClosed, "the ticket is closed and can no longer be updated")
REQUESTER = (errors.RequesterRefused, "Zendesk refused the ticket's requester (deleted, merged or suspended since)")
DELETED = "the ticket was deleted in Zendesk"
#: How an API user's view of tickets is narrower than every ticket, by its ``ticket_restriction`` (Users API, JSON
#: format, developer.zendesk.com/api-reference/ticketing/users/users: "Specifies which tickets the user has access
#: to. Possible values are: "organization", "groups", "assigned", "requested", null").
NARROWER_VIEWS = {
    "groups": "is an agent restricted to the tickets of its groups",
    "assigned": "is an agent restricted to the tickets assigned to it",
    "organization": "is an agent restricted to the tickets of its organization",
}
#: Where an admin widens it: on the role on Enterprise plans, on the agent's profile on the others (Zendesk,
#: "Why are some of my agents restricted?", support.zendesk.com/hc/en-us/articles/4803993367706).
WIDER_VIEW = (
    "make it an admin, or give it access to all tickets (Admin Center > People > Team > Roles on Enterprise "
    "plans, else the agent's profile: Access)"
)
#: Update Ticket's "30 updates per 10 minutes per user per ticket" (developer.zendesk.com/api-reference/
#: introduction/rate-limits, "Endpoint rate limits"): a 429 told apart by :func:`_one_ticket_limited`. It
#: holds back this ticket only, so it is retryable after ``Retry-After`` but not RateLimited: no pause.
ONE_TICKET = (
    errors.RetryableError,
    "this ticket had too many updates in a short time (Zendesk allows 30 in 10 minutes)",
)
#: That 429's body, a plain-text sentence ("Best practices for avoiding rate limiting", "Handling errors
#: caused by rate limiting"): "Rate limit for ticket updates exceeded, please wait before updating this ticket again".
TICKET_UPDATES_EXCEEDED = "rate limit for ticket updates exceeded"
UNAVAILABLE = (errors.Unavailable, "Zendesk is unavailable")
ME, EXAMPLE_URL = "/api/v2/users/me.json", "https://acme.zendesk.com"  # the API user's read; what zendesk.url is
REJECTED = (errors.PermanentError, "Zendesk rejected the request")


SOLVED_STATUSES = ("solved", "closed")


class ZendeskHelpdesk:
    """The helpdesk port on Zendesk Support. Thread-safe: each thread has its own zenpy client."""

    name = "zendesk"

    def __init__(
        self,
        *,
        url: str,
        email: str,
        api_token: str | None = None,
        oauth_token: str | None = None,
        session: requests.Session | None = None,
        timeout: float = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if bool(api_token) == bool(oauth_token):
            raise errors.ConfigError("zendesk: set exactly one of api_token or oauth_token", platform=PLATFORM)
        self.url, self.email, self.timeout = _base_url(url), email, timeout
        self._auth_kind = "api_token" if api_token else "oauth_token"
        subdomain, domain = _zenpy_host(self.url)
        self._nominal = f"https://{subdomain}.{domain}"
        self._session = _prepared(session, nominal=self._nominal, actual=self.url)
        self._new_zenpy = partial(
            Zenpy,
            subdomain=subdomain,
            domain=domain,
            email=email,
            token=api_token,
            oauth_token=oauth_token,
            session=self._session,
            timeout=timeout,
            disable_cache=True,
        )
        self._per_thread = threading.local()
        self._per_thread.zenpy = self._new_zenpy()  # now: zenpy puts the credentials on the shared session
        self._bulk_imports = True  # until Zendesk says the account has them off (its default)
        self._recent_user = RecentApiUser(self._api_user, clock=clock)  # what find_ticket finding nothing means

    @property
    def _zenpy(self) -> Zenpy:
        """This thread's zenpy client. zenpy is not thread-safe: an endpoint keeps the object being sent
        in ``_dirty_object`` between the request and the answer, so two threads sharing a client clear or
        iterate each other's (``TypeError``/``KeyError`` inside zenpy, seen with ``worker --concurrency``).
        The clients share one ``requests`` session."""
        zenpy: Zenpy | None = getattr(self._per_thread, "zenpy", None)
        if zenpy is None:
            zenpy = self._per_thread.zenpy = self._new_zenpy()
        return zenpy

    def __repr__(self) -> str:
        return f"ZendeskHelpdesk(url={self.url!r}, email={self.email!r}, auth={self._auth_kind!r})"

    # -- the port ----------------------------------------------------------------------------------------

    def ensure_requester(self, *, platform: str, author: Author, profile: UserProfile | None = None) -> str:
        """Create or update the end user whose external id is ``<platform>:<author id>``, with the CRM's
        ``profile`` as the user's ``notes`` and ``user_fields`` (Zendesk ignores keys it has no field for:
        ``socialdesk doctor`` checks them; a value a field does not take refuses the write, which is made again
        without that field, named in the log). The notes only for an author without an email: the user is then
        the one of this external id, made by the bridge, never one Zendesk matched by email.

        No ``role`` is sent: Zendesk makes new users end users, and an existing user matched by email
        keeps their role (sending ``end-user`` would demote an agent who wrote in as a customer). An email
        or phone Zendesk refuses (``RecordInvalid``: ``lee@gmail``) raises :class:`RefusedFields`.
        """
        user = User(external_id=f"{platform}:{author.id}", name=author.display_name())
        if author.email:
            user.email = author.email
        if author.phone:
            user.phone = author.phone
        if profile is not None and profile.notes is not None and not author.email:
            # with an email Zendesk may match a user it already has, whose notes an agent wrote: kept
            user.notes = profile.notes
        fields = dict(profile.fields) if profile is not None else {}
        if fields:
            user.user_fields = fields
        with _translated(idempotent=True):  # create_or_update is safe to repeat
            try:
                return str(self._zenpy.users.create_or_update(user).id)
            except APIException as e:
                refused = _refused_user_fields(e.response)
                if refused:
                    message = f"Zendesk refused the requester's {' and '.join(refused)}"
                    raise errors.RefusedFields(message, fields=refused, platform=PLATFORM, http_status=422) from e
                body = _json_or_empty(e.response) if e.response is not None else {}
                left_out = _refused_user_field_keys(body, fields)
                if not left_out:
                    raise
                log.warning("zendesk: user %s written without user field %s: zendesk refused the CRM's value",
                            messages.key_shown(str(user.external_id)), ", ".join(left_out))  # fmt: skip
                user.user_fields = _without(fields, left_out)  # the CRM's field must not cost the customer's message
                return str(self._zenpy.users.create_or_update(user).id)

    # -- one customer, one user (bridge.joins) ----------------------------------------------------------------

    merges_users = True  # PUT /users/{id}/merge: end users only; tickets and email identities go along

    def attach_identity(self, user_id: str, *, platform: str, author: Author) -> str | None:
        """A ``facebook`` (the page-scoped id), ``twitter`` (the handle) or ``phone_number`` (WhatsApp) identity.
        Other platforms have none the API creates (``any_channel``, ``foreign``, ``messaging`` are Zendesk's own
        channels'): None."""
        identity = zendesk_identity(platform, author)
        if identity is None:
            return None
        said = f"{identity['type']} identity"  # never the value: it is a phone number, a handle (user_joins, logs)
        try:
            identities = f"/api/v2/users/{_number(user_id)}/identities.json"  # a repeat: taken, found below
            self.api("POST", identities, {"identity": identity}, repeatable=True)
        except errors.NotFound:  # no such user (deleted or merged since it was remembered): nothing to look at
            raise
        except errors.PermanentError:  # taken: by this user already (an earlier attempt's, or another worker's)?
            if self._identity_id(user_id, identity) is None:
                raise
            return said
        return said

    def detach_identity(self, user_id: str, *, platform: str, author: Author) -> bool:
        """Delete the identity :meth:`attach_identity` gave the user, if it has it."""
        identity = zendesk_identity(platform, author)
        found = self._identity_id(user_id, identity) if identity else None
        if found is None:
            return False
        self.api("DELETE", f"/api/v2/users/{_number(user_id)}/identities/{found}.json", repeatable=True)
        return True

    def _identity_id(self, user_id: str, identity: dict[str, str]) -> int | None:
        """The id of the user's identity of this type and value (case aside), if it has one."""
        wanted = identity.get("type"), str(identity.get("value", "")).lower()
        for found in self.api_list(f"/api/v2/users/{_number(user_id)}/identities.json", "identities"):
            if (found.get("type"), str(found.get("value", "")).lower()) == wanted:
                return int(found["id"])
        return None

    def merge_user(self, source_id: str, target_id: str, *, made_as: str) -> None:
        """PUT /users/{id}/merge, for the user socialdesk made as ``made_as`` only: a merge cannot be undone."""
        source = self._get_json(f"{self._nominal}/api/v2/users/{_number(source_id)}.json", None).get("user") or {}
        if source.get("active") is False:  # deleted: merged by an earlier attempt whose answer was lost
            raise errors.NotFound(f"user {source_id} is merged or deleted already", platform=PLATFORM)
        if str(source.get("external_id") or "").casefold() != made_as.casefold():
            raise errors.PermanentError(
                f"user {source_id} is not socialdesk's user for the {made_as.partition(':')[0]} identity",
                platform=PLATFORM,
            )
        merge = {"user": {"id": _number(target_id)}}  # repeated, the source read above is merged: NotFound
        self.api("PUT", f"/api/v2/users/{_number(source_id)}/merge.json", merge, repeatable=True)

    def note_user(self, user_id: str, text: str) -> None:
        """Appended to the user's ``notes`` (what agents see on the profile)."""
        user = self._get_json(f"{self._nominal}/api/v2/users/{_number(user_id)}.json", None).get("user") or {}
        notes = "\n".join(n for n in (str(user.get("notes") or "").strip(), text) if n)
        self.api("PUT", f"/api/v2/users/{_number(user_id)}.json", {"user": {"notes": notes}})

    def find_created(self, ticket: NewTicket, *, since: datetime) -> TicketRef | None:
        """By ``external_id``, which every create carries (:meth:`find_ticket`): ``since`` is not needed."""
        return self.find_ticket(ticket.external_id)

    def find_ticket(self, external_id: str) -> TicketRef | None:
        """The newest ticket carrying this key that is neither closed nor deleted: a thread's closed tickets
        keep its key, and only a live one can be what a create whose answer was lost made."""
        # zenpy puts query values into the URL unescaped: a thread key with "&", "+" or "#" would break it.
        with _translated(idempotent=True):
            live = [
                ticket
                for ticket in self._zenpy.tickets(external_id=quote(external_id, safe=""))
                if ticket.external_id == external_id and ticket.status not in ("closed", "deleted")
            ]
        newest = max(live, key=lambda ticket: (str(ticket.created_at or ""), int(ticket.id)), default=None)
        if newest is None:
            no_live_ticket(self._recent_user(), platform=PLATFORM)  # a restricted agent's list leaves some out
            return None
        return TicketRef(id=str(newest.id), status=str(newest.status))

    def create_ticket(self, ticket: NewTicket) -> TicketRef:
        """Not idempotent: a timeout raises :class:`UnknownOutcome`; recover with :meth:`find_created`."""
        requester = _number(ticket.requester_id)
        new = Ticket(
            subject=ticket.subject,
            requester_id=requester,
            external_id=ticket.external_id,
            tags=list(ticket.tags),
            comment=Comment(body=ticket.body, author_id=requester, public=True),
        )
        if ticket.followup_of:
            new.via_followup_source_id = _number(ticket.followup_of)
        _route(new, ticket.routing, {**ticket.fields, **ticket.routing.fields})
        with _translated(idempotent=False):
            return _ref(self._zenpy.tickets.create(new).ticket)

    def add_customer_comment(
        self, ticket_id: str, *, requester_id: str, body: str, tags: Sequence[str] = (), routing: Routing | None = None
    ) -> TicketRef:
        """One update: the comment, status open (or the rules'), the rules' tags added (``additional_tags``
        keeps the agents' own) and their priority, group... set. The update's audit says whether the ticket
        was solved (``reopened``: the message starts a new conversation episode). A closed ticket raises
        :class:`TicketClosed`, a deleted one :class:`TicketDeleted` (Zendesk's 404)."""
        comment = Comment(body=body, author_id=_number(requester_id), public=True)
        update = Ticket(id=_number(ticket_id), comment=comment, status="open")
        if tags:
            update.additional_tags = list(tags)
        if routing:
            _route(update, routing, routing.fields)
        with self._deleted_if_not_found(ticket_id), _translated(idempotent=False):
            result = self._zenpy.tickets.update(update)
        return replace(_ref(result.ticket), reopened=_was_solved(result))

    def add_internal_note(self, ticket_id: str, body: str) -> None:
        self._update(Ticket(id=_number(ticket_id), comment=Comment(body=body, public=False)))

    def set_fields(self, ticket_id: str, fields: Mapping[str, str], *, note: str) -> None:
        """One update: the custom fields (by id) and a private comment saying why."""
        update = Ticket(id=_number(ticket_id), comment=Comment(body=note, public=False))
        update.custom_fields = [{"id": _number(k), "value": v} for k, v in fields.items()]
        self._update(update)

    def remove_tags(self, ticket_id: str, tags: Sequence[str]) -> None:
        """``remove_tags`` in one update (the others kept; Zendesk replaces the list given as ``tags``)."""
        update = Ticket(id=_number(ticket_id))
        update.remove_tags = list(tags)
        with _translated(idempotent=True):  # taking a tag off twice leaves the ticket as once
            self._zenpy.tickets.update(update)

    def tag_author(self, ticket_id: str, tag: str) -> str | None:
        """Who last added ``tag``: the ticket's audits (oldest first), read only when an approver's tag is there
        (implements ``TagAuthors``). A tag change is a ``Change`` event on ``tags`` with the whole lists."""
        url = f"{self._nominal}/api/v2/tickets/{_number(ticket_id)}/audits.json"
        author = None
        for page in self._pages(url, {"page[size]": PAGE_SIZE}):
            for audit in page.get("audits") or []:
                if any(_adds_tag(event, tag) for event in audit.get("events") or []):
                    author = audit.get("author_id")
        return None if author is None else str(author)

    def has_comment_containing(self, ticket_id: str, marker: str) -> bool:
        """Whether a comment's body holds ``marker`` (:func:`bridge.messages.holds_mark`, never as the start of a
        longer one). Raises :class:`TicketDeleted` for a deleted ticket: what was written there is gone with it."""
        with self._deleted_if_not_found(ticket_id):
            comments = self._comments_with_authors(ticket_id)
            return any(messages.holds_mark(str(c.get("body") or ""), marker) for c, _ in comments)

    def agent_replies(self, ticket_id: str) -> list[AgentReply]:
        return self.ticket_replies(ticket_id)[0]

    def ticket_replies(self, ticket_id: str) -> tuple[list[AgentReply], float | None]:
        """Public comments by agents and admins, oldest first, never the requester's; and, when the ticket
        is solved or closed, its ``updated_at`` (implements ``SolvedTickets``: the ticket has no solved time
        of its own; the trigger calls the bridge on the change to solved, so it is that change's time).

        The bridge's own API user is not excluded: the bridge writes only private notes and comments
        authored by the requester, and an admin whose token runs the bridge still answers customers
        from the agent interface. Calls: the ticket (requester, tags) and one per 100 comments,
        with the authors sideloaded (``include=users``; zenpy's ``tickets.comments`` cannot ask for it,
        so this read goes through zenpy's session directly).
        """
        with _translated(idempotent=True):
            ticket = self._zenpy.tickets(id=_number(ticket_id))
        requester, tags = int(ticket.requester_id), tuple(ticket.tags or ())
        replies = []
        for comment, author in self._comments_with_authors(ticket_id):
            if comment.get("public") and author.get("role") in STAFF_ROLES and author.get("id") != requester:
                replies.append(_reply(ticket_id, comment, author, tags))
        solved = ticket.status in SOLVED_STATUSES
        return replies, datetime.fromisoformat(str(ticket.updated_at)).timestamp() if solved else None

    def names(self) -> HelpdeskNames:
        """Groups (not deleted), agents and admins (by name and by email), brands: for rules naming them. And the
        ticket fields' ids, for a rule's ``then.fields``: Zendesk drops a value for an id it does not know without
        a word, so a mistyped id would leave every ticket the rule routes without it (refused at start instead)."""
        groups = {str(g["name"]): str(g["id"]) for g in self.api_list("/api/v2/groups.json", "groups")}
        users = self.api_list("/api/v2/users.json", "users", {"role[]": list(STAFF_ROLES)})
        staff, ambiguous = staff_names([(str(u["id"]), u.get("name"), u.get("email")) for u in users])
        brands = {str(b["name"]): str(b["id"]) for b in self.api_list("/api/v2/brands.json", "brands")}
        fields = tuple(sorted(self._ticket_field_ids()))
        return HelpdeskNames(groups=groups, agents=staff, brands=brands, fields=fields, ambiguous=ambiguous)

    def ping(self) -> str:
        """The API user's email. Raises :class:`AuthError` for one that cannot see every ticket (see
        :func:`_narrower_view`): ``doctor`` says so, and ``setup zendesk`` refuses to go on."""
        user = api_user_at(self._api_user, key="zendesk.url", base=self.url, path=ME, example=EXAMPLE_URL)
        return sees_every_ticket(user, WIDER_VIEW, platform=PLATFORM)

    def _api_user(self) -> ApiUser:
        """``GET /api/v2/users/me``: the API user, judged by ``role``, ``restricted_agent``, ``ticket_restriction``."""
        user = self._get_json(f"{self._nominal}{ME}", None).get("user")
        me = user if isinstance(user, dict) else {}
        return ApiUser(_who(me), _narrower_view(me))

    def upsert_contacts(self, contacts: Sequence[ContactUpsert]) -> list[ContactResult]:
        """One bulk job (``users/create_or_update_many``, 100 at most), or one ``users/create_or_update``
        per contact where the account has bulk imports off, as Zendesk accounts have by default.

        Zendesk answers 403 to the bulk endpoint then, but also to a user who may not manage end users,
        and documents no body that tells the two apart. Both endpoints are allowed for the same users,
        though: after a 403 the first contact goes to the one-user endpoint, where a permission problem
        is refused again (and raised as :class:`~bridge.errors.AuthError`). Accepted there, the imports
        are off, and this connector sends every contact on its own from then on.

        Both endpoints create missing users, so ``update_only`` contacts are first looked up
        (``users/show_many`` by external id): those without a user are ``skipped``, never sent; those
        with one get the deletion's tags added to the user's own (Zendesk replaces the list). The same
        look-up finds the users of ``undelete`` contacts that carry those tags: they are taken off, the
        others kept, and a suspension this connector made (:data:`SUSPENDED_TAG`, set with it) is lifted;
        one an agent made has no such tag and stays.
        """
        looked_up = [c.external_id for c in contacts if c.update_only or c.undelete]
        users = self._users_by_external_id(looked_up) if looked_up else {}
        kept = [c for c in contacts if not c.update_only or c.external_id.lower() in users]
        changes = {id(c): _tag_changes(c, users.get(c.external_id.lower())) for c in kept}
        results = dict(zip((id(c) for c in kept), self._upsert(kept, changes), strict=True))
        return [results.get(id(c)) or ContactResult(c.external_id, "skipped") for c in contacts]

    def _upsert(self, contacts: Sequence[ContactUpsert], changes: Mapping[int, dict[str, Any]]) -> list[ContactResult]:
        """Each contact sent (:meth:`_send`); one refused for its CRM user fields' values only (a value the field
        does not take: not among a dropdown's options, text in a number or date field) is sent once more without
        those, as the Freshdesk sync leaves a refused field out: a mapped field must not cost the Contact its user.
        Its result names them (``left_out``), for the sync to say once; safe to repeat: matched on external id."""
        items = self._send(contacts, changes)
        refused = [_refused_user_field_keys(item or {}, c.user_fields) for c, item in zip(contacts, items, strict=True)]
        again = [i for i, keys in enumerate(refused) if keys]
        if again:
            bare = [replace(contacts[i], user_fields=_without(contacts[i].user_fields, refused[i])) for i in again]
            moved = {id(b): changes.get(id(contacts[i]), {}) for b, i in zip(bare, again, strict=True)}
            for i, item in zip(again, self._send(bare, moved), strict=True):
                items[i] = item
        return [_contact_result(c, item, left) for c, item, left in zip(contacts, items, refused, strict=True)]

    def _resent_alone(
        self,
        contacts: Sequence[ContactUpsert],
        changes: Mapping[int, dict[str, Any]],
        items: list[dict[str, Any] | None],
    ) -> list[dict[str, Any] | None]:
        """A job's ``items``, where it failed a contact, that contact's answer to its own ``users/create_or_update``:
        a job's failed item gives the reason as text (``"details": "Email: ... is not properly formatted"``), which
        names no user field by key and quotes the value, while the one-user 422 ``RecordInvalid`` names each by
        key: the refused fields are left out as without bulk imports, and the reason told alike, never quoted.
        Contacts the job wrote are not sent again; a repeat is safe: matched on external id."""
        for i, item in enumerate(items):
            if item is not None and item.get("error"):
                items[i] = self._upsert_one(contacts[i], changes)
        return items

    def _send(
        self, contacts: Sequence[ContactUpsert], changes: Mapping[int, dict[str, Any]]
    ) -> list[dict[str, Any] | None]:
        """Each contact's answer as a bulk job's result item: from the job, or from its own request."""
        if self._bulk_imports and contacts:
            try:
                items = self._upsert_in_job(contacts, changes)
            except errors.AuthError as e:
                if e.http_status != 403:
                    raise
                first = self._upsert_one(contacts[0], changes)  # raises AuthError on a permission problem
                self._bulk_imports = False
                log.warning("zendesk: bulk user imports are off for this account; contacts go one request each")
                return [first, *(self._upsert_one(c, changes) for c in contacts[1:])]
            return self._resent_alone(contacts, changes, items)
        return [self._upsert_one(c, changes) for c in contacts]

    def _users_by_external_id(self, external_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The users of these external ids (100 at most), keyed lowercased: Zendesk matches them so."""
        params = {"external_ids": ",".join(external_ids)}
        found = self._get_json(f"{self._nominal}/api/v2/users/show_many.json", params).get("users") or []
        return {str(u["external_id"]).lower(): u for u in found if isinstance(u, dict) and u.get("external_id")}

    def _upsert_in_job(
        self, contacts: Sequence[ContactUpsert], changes: Mapping[int, dict[str, Any]]
    ) -> list[dict[str, Any] | None]:
        """``users/create_or_update_many``, then the job polled to its end: each contact's result item."""
        users = [_user_fields(c) | changes.get(id(c), {}) for c in contacts]
        many = "/api/v2/users/create_or_update_many.json"  # matched on external id: safe to repeat
        job = self.api("POST", many, {"users": users}, repeatable=True)["job_status"]
        deadline = time.monotonic() + JOB_TIMEOUT
        while job.get("status") in ("queued", "working"):
            if time.monotonic() > deadline:
                raise errors.Unavailable("the Zendesk bulk job did not finish in time", platform=PLATFORM)
            time.sleep(JOB_POLL)
            job = self.api("GET", f"/api/v2/job_statuses/{job['id']}.json")["job_status"]
        # this endpoint's results carry no ``index`` (users API example; sandbox/zendesk/users.py): read in order
        by_index = {int(r.get("index", i)): r for i, r in enumerate(job.get("results") or [])}
        return [by_index.get(i) for i in range(len(contacts))]

    def _upsert_one(self, contact: ContactUpsert, changes: Mapping[int, dict[str, Any]]) -> dict[str, Any]:
        """``users/create_or_update``, its answer read as the bulk job's result item for the contact."""
        url = f"{self._nominal}/api/v2/users/create_or_update.json"
        user = _user_fields(contact) | changes.get(id(contact), {})
        with _translated(idempotent=True):  # matched on external id: safe to repeat
            response = self._session.post(url, json={"user": user}, timeout=self.timeout)
        if response.status_code == 422:  # this contact's fields were refused, as a job reports per item
            return {"error": "RecordInvalid", **_json_or_empty(response)}
        if response.status_code >= 400:
            raise _error_for(response)
        user = _json_or_empty(response).get("user") or {}
        status = "Created" if response.status_code == 201 else "Updated"
        return {"status": status, "id": user.get("id") if isinstance(user, dict) else None}

    def business_schedules(self) -> list[HelpdeskSchedule]:
        """``GET /api/v2/business_hours/schedules`` and each schedule's holidays (Zendesk's Schedules API)."""
        schedules = self._get_json(f"{self._nominal}/api/v2/business_hours/schedules.json", None)
        return [self._schedule(s) for s in schedules.get("schedules") or [] if isinstance(s, dict)]

    def _schedule(self, schedule: dict[str, Any]) -> HelpdeskSchedule:
        url = f"{self._nominal}/api/v2/business_hours/schedules/{int(schedule['id'])}/holidays.json"
        holidays = self._get_json(url, None).get("holidays") or []
        return zendesk_schedule(schedule, [h for h in holidays if isinstance(h, dict)])

    def api(
        self, method: str, path: str, body: dict[str, Any] | None = None, *, repeatable: bool = False
    ) -> dict[str, Any]:
        """One JSON call to the Support API (``path`` like ``/api/v2/webhooks``), errors translated. A write is taken
        for one that must not be repeated blindly unless ``repeatable`` (its repeat does no harm, or its caller
        looks first)."""
        if method == "GET":
            return self._get_json(f"{self._nominal}{path}", None)
        with _translated(idempotent=repeatable):
            response = self._session.request(method, f"{self._nominal}{path}", json=body, timeout=self.timeout)
            if response.status_code >= 400:
                raise _error_for(response)
        return _json_or_empty(response)

    # -- helpers -------------------------------------------------------------------------------------------

    def _update(self, ticket: Any) -> TicketRef:
        """PUT a comment (and status): not idempotent, a timeout is an :class:`UnknownOutcome`; a deleted ticket
        is :class:`TicketDeleted`."""
        with self._deleted_if_not_found(str(ticket.id)), _translated(idempotent=False):
            return _ref(self._zenpy.tickets.update(ticket).ticket)

    @contextmanager
    def _deleted_if_not_found(self, ticket_id: str) -> Iterator[None]:
        """Zendesk's 404 ``RecordNotFound`` for a ticket the bridge made is a ticket an agent deleted: Delete Ticket
        keeps it 30 days in "Deleted tickets" (restorable: ``GET /api/v2/deleted_tickets``), and the Tickets API
        finds it no more (zenpy#259: a deleted ticket's comments raise ``RecordNotFoundException``). Any other
        404 (an unknown endpoint, ``InvalidEndpoint``) stays :class:`NotFound`.

        Unless the API user cannot see every ticket (``doctor`` refuses such a user, but a worker may run with
        one, or an admin may narrow the role later): Zendesk documents no status for a ticket outside a
        restricted agent's view, so :func:`ticket_not_found` makes it a dead letter; the users/me call is made
        on such a 404 only. A 403 is never read as deleted: it stays the table's :class:`AuthError`."""
        try:
            yield
        except errors.NotFound as e:
            if e.code != "RecordNotFound":
                raise
            raise ticket_not_found(e, ticket_id, self._api_user(), DELETED, platform=PLATFORM) from e

    def field_names(self) -> tuple[set[str], set[str]]:
        """For ``socialdesk doctor`` (implements ``CustomFields``): ticket field ids and user field keys."""
        user = {str(f.get("key")) for f in self.api_list("/api/v2/user_fields", "user_fields")}
        return self._ticket_field_ids(), user

    def _ticket_field_ids(self) -> set[str]:
        """``GET /api/v2/ticket_fields``: every ticket field's id, as a ticket's ``custom_fields`` names it."""
        return {str(f.get("id")) for f in self.api_list("/api/v2/ticket_fields", "ticket_fields")}

    def api_list(self, path: str, key: str, params: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint (``path`` like ``/api/v2/triggers.json``), page after page: an
        account may have hundreds of triggers, and the one looked for may be on any page."""
        for page in self._pages(f"{self._nominal}{path}", {**(params or {}), "page[size]": PAGE_SIZE}):
            yield from (item for item in page.get(key) or [] if isinstance(item, dict))

    def _comments_with_authors(self, ticket_id: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        url = f"{self._nominal}/api/v2/tickets/{_number(ticket_id)}/comments.json"
        for page in self._pages(url, {"include": "users", "page[size]": PAGE_SIZE, "sort": "created_at"}):
            users = {u.get("id"): u for u in page.get("users") or []}
            for comment in page.get("comments") or []:
                yield comment, users.get(comment.get("author_id"), {})

    def _pages(self, url: str | None, params: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
        """The pages of a cursor-paginated list, following ``links.next`` while ``meta.has_more``."""
        while url:
            page = self._get_json(url, params)
            yield page
            more = (page.get("meta") or {}).get("has_more")
            url, params = ((page.get("links") or {}).get("next") if more else None), None

    def _get_json(self, url: str, params: dict[str, Any] | None) -> dict[str, Any]:
        if not self._same_origin(url):  # the session carries our credentials: never follow a link elsewhere
            raise errors.PermanentError("Zendesk sent a pagination link to another host", platform=PLATFORM)
        with _translated(idempotent=True):
            response = self._session.get(url, params=params, timeout=self.timeout)
            if response.status_code >= 400:
                raise _error_for(response)
            body = response.json()
        if not isinstance(body, dict):
            raise errors.PermanentError("unexpected answer from Zendesk", platform=PLATFORM)
        return body

    def _same_origin(self, url: str) -> bool:
        return urlsplit(url).netloc in (urlsplit(self._nominal).netloc, urlsplit(self.url).netloc)


# -- the error table -----------------------------------------------------------------------------------------


@contextmanager
def _translated(*, idempotent: bool) -> Iterator[None]:
    """Turn whatever zenpy or requests raise inside the block into a bridge error; for a write that is not
    ``idempotent``, a timeout or a 5xx that may come after Zendesk applied it is an unknown outcome
    (:func:`connectors.base.answered`)."""
    with answered(idempotent=idempotent), _vendor_errors(idempotent=idempotent):
        yield


@contextmanager
def _vendor_errors(*, idempotent: bool) -> Iterator[None]:
    try:
        yield
    except errors.BridgeError:
        raise  # already ours (the rate-limit hook, a nested translation)
    except (APIException, requests.HTTPError) as e:
        if e.response is None:
            raise errors.PermanentError(REJECTED[1], platform=PLATFORM) from e
        raise _error_for(e.response) from e
    except (requests.ConnectionError, requests.Timeout) as e:
        call(_raiser(e), platform=PLATFORM, idempotent=idempotent)  # base.call owns the transport table
        raise errors.Unavailable("connection failed", platform=PLATFORM) from e
    except (ZenpyException, requests.RequestException, ValueError) as e:
        raise errors.PermanentError("unexpected answer from Zendesk", platform=PLATFORM) from e


def _error_for(response: requests.Response) -> errors.BridgeError:
    status = response.status_code
    body = _json_or_empty(response)
    kind, message = STATUS_ERRORS.get(status, UNAVAILABLE if status >= 500 else REJECTED)
    if status == 422 and _is_closed(body):
        kind, message = CLOSED
    if status == 422 and _refuses_requester(body):
        kind, message = REQUESTER
    if status == 429 and _one_ticket_limited(response):
        kind, message = ONE_TICKET
    if kind is REJECTED[0] and _invalid_fields(body):
        message = f"{message}: invalid {', '.join(_invalid_fields(body))}"
    code = body.get("error") if isinstance(body.get("error"), str) else None
    retry_after = retry_after_seconds(response.headers) if kind.retryable else None
    return kind(message, platform=PLATFORM, http_status=status, retry_after=retry_after, code=code)


def _refused_user_fields(response: requests.Response | None) -> tuple[str, ...]:
    """The optional user fields a 422 ``RecordInvalid`` names (``details: {"email": [...]}``), when it
    names only those; else ``()``."""
    body = _json_or_empty(response) if response is not None and response.status_code == 422 else {}
    details = body.get("details") if body.get("error") == "RecordInvalid" else None
    if not isinstance(details, dict) or not details or not set(details) <= {"email", "phone"}:
        return ()
    return tuple(sorted(details))


def _refused_user_field_keys(body: Mapping[str, Any], sent: Mapping[str, Any]) -> tuple[str, ...]:
    """The user fields sent that a ``RecordInvalid`` refusal names, when it names those only (and one at least);
    else ``()``. Zendesk names a custom field's invalid value in ``details.base`` with a ``field_key`` (shown for
    ticket fields; for user fields the key, as the simulator answers: sandbox/zendesk/fields.py); an entry under
    the field's own key, as standard attributes get, is taken as naming it too."""
    details = body.get("details") if body.get("error") == "RecordInvalid" else None
    if not isinstance(details, dict) or not details or not sent:
        return ()
    entries = [(k, e) for k, v in details.items() for e in (v if isinstance(v, list) else [v])]
    named = {str(e.get("field_key")) if k == "base" and isinstance(e, dict) else str(k) for k, e in entries}
    return tuple(sorted(named)) if named <= set(sent) else ()


def _without(fields: Mapping[str, str], keys: Sequence[str]) -> dict[str, str]:
    return {k: v for k, v in fields.items() if k not in keys}


def _invalid_fields(body: dict[str, Any]) -> tuple[str, ...]:
    """The fields a 422 ``RecordInvalid`` names (``"details": {"assignee": [{"description": "Assignee is not a
    member of the group"}]}``: a rule's assignee outside its group), so a dead letter says what to fix. The
    names only: a description can quote a customer's value ("Email: lee@gmail is not properly formatted")."""
    details = body.get("details") if body.get("error") == "RecordInvalid" else None
    return tuple(sorted(str(k) for k in details)[:5]) if isinstance(details, dict) else ()


def _invalid_details(details: dict[str, Any]) -> str:
    """``{"email": [{"description": "Email: lee@@x is not properly formatted", "error": "InvalidFormat"}]}`` as
    ``invalid email (InvalidFormat)``: what ``sync-contacts`` prints was this dict's repr, quoting the address."""
    codes = {str(k): sorted({str(e.get("error")) for e in v if isinstance(e, dict) and e.get("error")})
             for k, v in details.items() if isinstance(v, list)}  # fmt: skip
    return "; ".join(f"invalid {k}" + (f" ({', '.join(c)})" if c else "") for k, c in sorted(codes.items()))


def _refuses_requester(body: dict[str, Any]) -> bool:
    """Zendesk: ``{"error": "RecordInvalid", "details": {"requester": [{"description": "Requester: is invalid"}]}}``
    for a ``requester_id`` it has no user for (deleted since); "Requester: <name> is suspended." for a suspended one
    (zendesk/zendesk_api_client_rb#369). The simulator answers the first (sandbox/zendesk/simulator.py)."""
    details = body.get("details") if body.get("error") == "RecordInvalid" else None
    return isinstance(details, dict) and "requester" in details


def _is_closed(body: dict[str, Any]) -> bool:
    """Zendesk: ``{"error": "RecordInvalid", "details": {"status": [{"description": "Status: closed prevents
    ticket update"}]}}``."""
    details = body.get("details")
    entries = details.get("status") if isinstance(details, dict) else None
    if not isinstance(entries, list):
        return False
    return any("closed" in str(entry.get("description", "")) for entry in entries if isinstance(entry, dict))


def _one_ticket_limited(response: requests.Response) -> bool:
    """A 429 for one ticket's updates, not the account's: its documented body, while the account-wide header
    still shows budget left (Zendesk: "always check the account wide limits header first"; when both are
    spent, pause everything)."""
    limited = TICKET_UPDATES_EXCEEDED in response.text.lower()
    return limited and response.headers.get("X-Rate-Limit-Remaining") != "0"


def _json_or_empty(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _narrower_view(me: Mapping[str, Any]) -> str | None:
    """How ``users/me``'s user sees fewer than every ticket, or None for an admin or an unrestricted agent.
    ``restricted_agent`` is "false for admins and unrestricted agents, true for other agents" (Users API)."""
    role, restriction = me.get("role"), me.get("ticket_restriction")
    if role == "admin":
        return None
    if role != "agent":
        return f"is no agent (role {role!r})" if role != "end-user" else "is an end user"
    if restriction:
        return NARROWER_VIEWS.get(str(restriction), f"is an agent with ticket access {str(restriction)!r}")
    return "is a restricted agent" if me.get("restricted_agent") else None


def _who(me: Mapping[str, Any]) -> str:
    return str(me.get("email") or me.get("name") or me.get("id") or "the API user")


def _raiser(e: Exception) -> Callable[[], requests.Response]:
    def send() -> requests.Response:
        raise e

    return send


def _user_fields(contact: ContactUpsert) -> dict[str, Any]:
    fields: dict[str, Any] = {"external_id": contact.external_id, "name": contact.name}
    fields |= {k: v for k, v in (("email", contact.email), ("phone", contact.phone)) if v}
    if contact.user_fields:
        fields["user_fields"] = dict(contact.user_fields)  # the others the user has stay: Zendesk merges them
    if contact.suspended:
        fields["suspended"] = True
    tags = [*contact.tags, *([SUSPENDED_TAG] if contact.suspended else [])]
    if tags:
        fields["tags"] = tags
    return fields


def zendesk_identity(platform: str, author: Author) -> dict[str, str] | None:
    """The user identity Zendesk has for this social identity (Create Identity's types), if any."""
    if platform == "facebook":
        return {"type": "facebook", "value": author.id}
    if platform == "x" and author.handle:
        return {"type": "twitter", "value": author.handle.lstrip("@")}
    if platform == "whatsapp":
        return {"type": "phone_number", "value": author.phone or f"+{author.id.lstrip('+')}"}
    return None


def _tag_changes(contact: ContactUpsert, user: Mapping[str, Any] | None) -> dict[str, Any]:
    """How the existing ``user``'s tags change, the others kept (Zendesk replaces the whole list): the
    contact's tags added to them (a deletion's marks), or ``contact.undelete``'s marks taken off them."""
    if user is None:
        return {}
    tags = [str(t) for t in user.get("tags") or []]
    added = _user_fields(contact).get("tags") or []
    if added:
        return {"tags": list(dict.fromkeys([*tags, *added]))}
    marks = {*contact.undelete, SUSPENDED_TAG}
    if not contact.undelete or not marks & set(tags):
        return {}
    fields: dict[str, Any] = {"tags": [t for t in tags if t not in marks]}
    if SUSPENDED_TAG in tags and user.get("suspended"):
        fields["suspended"] = False  # this connector suspended the user: an agent's suspension has no tag
    return fields


def _contact_result(
    contact: ContactUpsert, result: dict[str, Any] | None, left_out: tuple[str, ...] = ()
) -> ContactResult:
    if result is None or result.get("error"):
        details = (result or {}).get("details")  # a job's text quotes the value (an email): its error code instead
        reason = _invalid_details(details) if isinstance(details, dict) else None
        return ContactResult(contact.external_id, "failed", str(reason or (result or {}).get("error") or
                                                                "no result in the job")[:300])  # fmt: skip
    status = str(result.get("status") or result.get("action") or "").lower()
    user_id = str(result["id"]) if result.get("id") is not None else None  # a job's results carry the user's id
    action = "created" if status.startswith("create") else "updated"
    return ContactResult(contact.external_id, action, user_id=user_id, left_out=left_out)


# -- small pure helpers ----------------------------------------------------------------------------------------


def _base_url(url: str) -> str:
    parts = urlsplit(url.strip().rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
        raise errors.ConfigError(f"zendesk.url must look like https://acme.zendesk.com, not {url!r}")
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def _zenpy_host(url: str) -> tuple[str, str]:
    """zenpy's (subdomain, domain): the real ones for ``https://<sub>.zendesk.com``, a placeholder otherwise."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and parts.port is None and host.endswith(".zendesk.com") and host.count(".") == 2:
        return host.split(".", 1)[0], "zendesk.com"
    return PLACEHOLDER_SUBDOMAIN, PLACEHOLDER_DOMAIN


def _prepared(session: requests.Session | None, *, nominal: str, actual: str) -> requests.Session:
    """The session zenpy will use (zenpy sets the auth on it): rebased, raising on 429, zenpy-readable."""
    session = session or RebasedSession(nominal=nominal, actual=actual)
    if nominal != actual and not isinstance(session, RebasedSession):
        raise errors.ConfigError("zendesk: a session for a non-zendesk.com url must be a RebasedSession")
    session.hooks["response"].extend([_nominal_url_hook(session, nominal), rate_limit_hook(PLATFORM, _error_for)])
    return session


def _nominal_url_hook(session: requests.Session, nominal: str) -> Callable[..., requests.Response]:
    """zenpy only parses answers whose ``response.request.url`` contains its own host name: after a
    :class:`RebasedSession` sent the request elsewhere, give the prepared request its nominal URL back."""
    actual = urlsplit(session.rebase(nominal) if isinstance(session, RebasedSession) else nominal)
    wanted = urlsplit(nominal)

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        sent = urlsplit(response.request.url or "")
        if sent.netloc == actual.netloc and actual.netloc != wanted.netloc:
            response.request.url = urlunsplit((wanted.scheme, wanted.netloc, sent.path, sent.query, sent.fragment))
        return response

    return hook


def _number(ticket_or_user_id: str) -> int:
    """Zendesk ids are numbers; anything else cannot exist there."""
    if not str(ticket_or_user_id).isdigit():
        raise errors.NotFound(f"{ticket_or_user_id!r} is not a Zendesk id", platform=PLATFORM)
    return int(ticket_or_user_id)


def _route(ticket: Any, routing: Routing, fields: Mapping[str, str]) -> None:
    """The rules' decision on a zenpy ticket: names as Zendesk spells them, ids as numbers."""
    for key in ("priority", "type", "status"):
        value = getattr(routing, key)
        if value is not None:
            setattr(ticket, key, str(value))
    for key in ("group_id", "assignee_id", "brand_id"):
        value = getattr(routing, key)
        if value is not None:
            setattr(ticket, key, _number(value))
    if fields:
        ticket.custom_fields = [{"id": _number(k), "value": v} for k, v in fields.items()]


def _ref(ticket: Any) -> TicketRef:
    return TicketRef(id=str(ticket.id), status=str(ticket.status))


def _was_solved(result: Any) -> bool:
    """Whether an update's audit changed the status from ``solved`` (Update Ticket answers with the audit:
    ``{"type": "Change", "field_name": "status", "previous_value": "solved", ...}``)."""
    events = getattr(getattr(result, "audit", None), "events", None) or []
    return any(
        isinstance(e, dict) and e.get("field_name") == "status" and e.get("previous_value") == "solved" for e in events
    )


def _reply(ticket_id: str, comment: dict[str, Any], author: dict[str, Any], tags: tuple[str, ...]) -> AgentReply:
    return AgentReply(
        ticket_id=ticket_id,
        comment_id=str(comment["id"]),
        body=str(comment.get("plain_body") or comment.get("body") or ""),
        author_id=str(author["id"]),
        author_name=author.get("name"),
        created_at=datetime.fromisoformat(str(comment["created_at"])),
        ticket_tags=tags,
        attachments=attachment_names(comment.get("attachments"), "file_name"),
    )


def _adds_tag(event: dict[str, Any], tag: str) -> bool:
    """Whether an audit event put ``tag`` on the ticket (a ``Change`` of ``tags`` or the ``Create`` that set it)."""
    if event.get("field_name") != "tags" or event.get("type") not in ("Change", "Create"):
        return False
    before = event.get("previous_value") or [] if event.get("type") == "Change" else []
    return tag in (event.get("value") or []) and tag not in before
