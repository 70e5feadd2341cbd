"""The Freshdesk simulator itself: routes, the edge (auth, rate limit, lost answers), and the agent's side."""

from __future__ import annotations

import base64
import hmac
import itertools
import json
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import requests
from flask import Response, has_request_context, request

from sandbox.base import Simulator, json_response
from sandbox.freshdesk import listing, wire
from sandbox.freshdesk import records as rec
from sandbox.freshdesk.business_hours import WEEKDAYS, new_business_hours
from sandbox.freshdesk.wire import ApiError, error, invalid, json_body, not_found, now_iso

DEFAULT_RATE_LIMIT = 700  # X-Ratelimit-Total in fixtures/freshdesk/rate_limit_headers_200.txt
SECRET_HEADER = "X-Socialdesk-Secret"
STATUS_ALIASES = {"new": 2, "solved": 4}  # Zendesk's words, so one end-to-end suite can drive both simulators
SEARCH_FIELDS = {  # best effort: the reference lists more, these are what a bridge would ask for
    "tickets": ("status", "priority", "tag", "type", "agent_id", "group_id", "created_at", "updated_at"),
    "contacts": ("email", "phone", "mobile", "twitter_id", "name", "active", "company_id", "tag"),
}


class FreshdeskSimulator(Simulator):
    """Freshdesk on ``127.0.0.1`` (see :mod:`sandbox.freshdesk`). State lives in memory behind a lock."""

    name = "freshdesk"

    def __init__(
        self,
        *,
        api_key: str = "sim-freshdesk-api-key",
        webhook_secret: str = "sim-freshdesk-webhook-secret",  # noqa: S107 - a simulator's dummy secret
        rate_limit_per_minute: int | None = None,
        time_scale: float = 1.0,
        thread_key_field: str | None = "cf_socialdesk_thread",
        ticket_fields: Sequence[str] = ("cf_socialdesk_thread", "cf_social_channel"),
        search_lag: float = 0.0,
        api_agent_ticket_scope: Literal[1, 2, 3] = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``api_agent_ticket_scope``: the API key's agent sees every ticket (1), or fewer (:meth:`scope_api_agent`).
        ``thread_key_field``: the ticket field the bridge is configured to keep its thread key in (None: none is).
        ``clock`` (seconds) drives the rate-limit window and the search index's lag, so tests can move time."""
        super().__init__()
        self._clock = clock
        self.webhook_secret, self.thread_key_field, self.search_lag = webhook_secret, thread_key_field, search_lag
        self.webhook_target: str | None = None
        self._api_key, self._ticket_fields = api_key, tuple(ticket_fields)
        self._per_minute, self._window = rate_limit_per_minute, 60.0 * time_scale
        self._hits: deque[float] = deque()
        self._races: list[dict[str, Any]] = []
        self._user_ids, self._ticket_ids, self._conversation_ids = (
            itertools.count(1001),
            itertools.count(1),
            itertools.count(5001),
        )
        self._agents: dict[int, dict[str, Any]] = {}
        self._contacts: dict[int, dict[str, Any]] = {}
        self._contact_fields: list[str] = []  # custom contact fields' names (no ``cf_`` prefix, unlike tickets')
        self._tickets: dict[int, dict[str, Any]] = {}
        self._conversations: dict[int, list[dict[str, Any]]] = {}
        self._indexed_at: dict[tuple[str, int], float] = {}
        self.api_user_id: int = self._new_agent("Socialdesk Bridge", "bridge@socialdesk.test")
        self.scope_api_agent(api_agent_ticket_scope)
        self.agent_id: int = self._new_agent("Alex Agent", "alex.agent@socialdesk.test")
        self._group_ids = itertools.count(43000000001)
        self._groups: dict[int, dict[str, Any]] = {}
        self.add_group("Support")
        week = {day: ("08:00:00 am", "05:00:00 pm") for day in WEEKDAYS[:5]}  # every account has a default calendar
        default = new_business_hours("Default", "Eastern Time (US & Canada)", week, default=True,
                                     description="Default Business Calendar")  # fmt: skip
        self._business_hours: dict[int, dict[str, Any]] = {default["id"]: default}
        self.app.before_request(self._edge)
        self.app.after_request(self._after)
        self.app.register_error_handler(ApiError, lambda e: e.response)
        self.app.register_error_handler(404, wire.invalid_url)
        self.app.register_error_handler(405, wire.method_not_allowed)
        self._routes()

    # -- routing -----------------------------------------------------------------------------------------

    def _routes(self) -> None:
        r = self._route
        r("/api/v2/agents", self._list_agents, "GET")
        r("/api/v2/agents/me", self._me, "GET")
        r("/api/v2/groups", self._list_groups, "GET")
        r("/api/v2/business_hours", self._list_business_hours, "GET")
        r("/api/v2/business_hours/<int:calendar_id>", self._show_business_hours, "GET")
        r("/api/v2/agents/<int:agent_id>", self._show_agent, "GET")
        r("/api/v2/contacts", self._list_contacts, "GET")
        r("/api/v2/contacts", self._create_contact, "POST")
        r("/api/v2/contacts/<int:contact_id>", self._show_contact, "GET")
        r("/api/v2/contacts/<int:contact_id>", self._update_contact, "PUT")
        r("/api/v2/tickets", self._list_tickets, "GET")
        r("/api/v2/tickets", self._create_ticket, "POST")
        r("/api/v2/tickets/<int:ticket_id>", self._show_ticket, "GET")
        r("/api/v2/tickets/<int:ticket_id>", self._update_ticket, "PUT")
        r("/api/v2/tickets/<int:ticket_id>/conversations", self._list_conversations, "GET")
        r("/api/v2/tickets/<int:ticket_id>/reply", self._reply, "POST")
        r("/api/v2/tickets/<int:ticket_id>/notes", self._note, "POST")
        r("/api/v2/search/tickets", self._search_tickets, "GET")
        r("/api/v2/search/contacts", self._search_contacts, "GET")
        r("/api/v2/ticket_fields", self._list_ticket_fields, "GET")
        r("/api/v2/contact_fields", self._list_contact_fields, "GET")

    def _route(self, rule: str, view: Callable[..., Response], method: str) -> None:
        def locked(**kwargs: Any) -> Response:
            with self._lock:
                return view(**kwargs)

        self.app.add_url_rule(rule, f"{view.__name__}_{method}", locked, methods=[method])

    def _base(self) -> str:
        return request.host_url.rstrip("/") if has_request_context() else self.url

    # -- the edge: authentication, rate limits, lost answers ---------------------------------------------

    def _edge(self) -> Response | None:
        if not self._authenticated(request.headers.get("Authorization", "")):
            body = {"code": "invalid_credentials", "message": "You have to be logged in to perform this action."}
            return json_response(body, 401)
        return self._meter()

    def _authenticated(self, header: str) -> bool:
        """Basic auth with the API key as the user name; the password is not checked (``X`` by habit)."""
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[0]
        except ValueError:
            return False
        return hmac.compare_digest(user.encode(), self._api_key.encode())

    def _meter(self) -> Response | None:
        """A sliding window of ``60 s × time_scale``; over budget answers 429 with ``Retry-After``."""
        now = self._clock()
        with self._lock:
            while self._hits and self._hits[0] <= now - self._window:
                self._hits.popleft()
            if self._per_minute is None or len(self._hits) < self._per_minute:
                self._hits.append(now)
                return None
            wait = max(1, math.ceil(self._hits[0] + self._window - now))
        body = {"code": "rate_limit_exceeded", "message": "You have exceeded the limit of requests per minute"}
        return json_response(body, 429, {"Retry-After": str(wait)})  # the body is best effort

    def _after(self, response: Response) -> Response:
        if response.status_code != 429:  # the documented 429 carries Retry-After only
            with self._lock:
                limit = self._per_minute or DEFAULT_RATE_LIMIT
                remaining = max(0, limit - len(self._hits))
            response.headers.setdefault("X-Ratelimit-Total", str(limit))
            response.headers.setdefault("X-Ratelimit-Remaining", str(remaining))
            response.headers.setdefault("X-Ratelimit-Used-CurrentRequest", "1")
            response.headers.setdefault("X-Freshdesk-Api-Version", "latest=v2; requested=v2")
        return response

    # -- agents and contacts ----------------------------------------------------------------------------------

    def _new_agent(self, name: str, email: str) -> int:
        agent = rec.new_agent(next(self._user_ids), name, email)
        self._agents[agent["id"]] = agent
        return int(agent["id"])

    def add_ticket_field(self, label: str) -> str:
        """A custom single-line text ticket field; its name (``cf_<label>``, what the bridge's config names)."""
        name = "cf_" + label.lower().replace(" ", "_")
        self._ticket_fields = (*self._ticket_fields, name)
        return name

    def add_user_field(self, name: str) -> str:
        """A custom single-line text contact field; its name."""
        self._contact_fields.append(name)
        return name

    def add_group(self, name: str, *, agents: tuple[int, ...] | None = None) -> int:
        """A group of agents (default: the simulator's agent and the API key's); its id."""
        with self._lock:
            members = list(agents if agents is not None else (self.agent_id, self.api_user_id))
            group = rec.new_group(next(self._group_ids), name, members)
            self._groups[group["id"]] = group
            for agent_id in members:
                self._agents[agent_id]["group_ids"].append(group["id"])
            return int(group["id"])

    @property
    def groups(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(g) for g in self._groups.values()]

    def add_business_hours(
        self, name: str, time_zone: str, hours: Mapping[str, tuple[str, str]], *, default: bool = False
    ) -> int:
        """A business calendar (``hours``: weekday → (start, end) as Freshdesk writes them, "08:00:00 am");
        ``default`` takes the flag from the current default, as the admin page does. Its id."""
        calendar = new_business_hours(name, time_zone, hours, default=default)
        with self._lock:
            if default:
                for other in self._business_hours.values():
                    other["is_default"] = False
            self._business_hours[calendar["id"]] = calendar
        return int(calendar["id"])

    def _list_business_hours(self) -> Response:
        wire.check_query_args(())
        return wire.paged([dict(c) for c in self._business_hours.values()], self._base())

    def _show_business_hours(self, calendar_id: int) -> Response:
        calendar = self._business_hours.get(calendar_id)
        if calendar is None:
            raise wire.not_found()
        return json_response(dict(calendar))

    def _list_groups(self) -> Response:
        wire.check_query_args(())
        return wire.paged(list(self._groups.values()), self._base())

    def _list_agents(self) -> Response:
        """``GET /api/v2/agents``, filtered by ``email`` (the reference's filters: email, mobile, phone, state)."""
        wire.check_query_args(("email", "mobile", "phone", "state"))
        wanted = request.args.get("email")
        agents = [a for a in self._agents.values() if wanted is None or a["contact"]["email"] == wanted]
        return wire.paged(agents, self._base())

    def _routing_errors(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        """group_id and responder_id must name a group and an agent (best-effort wording, as for requester_id)."""
        errors = []
        if data.get("group_id") is not None and data["group_id"] not in self._groups:
            errors.append(error("group_id", "There is no group matching the given group_id", "invalid_value"))
        if data.get("responder_id") is not None and data["responder_id"] not in self._agents:
            errors.append(error("responder_id", "There is no agent matching the given responder_id", "invalid_value"))
        return errors

    def scope_api_agent(self, scope: int) -> None:
        """What an admin sets on the API key's agent (Admin > Agents > Edit > Scope), as ``agents/me`` then tells in
        ``ticket_scope`` (:data:`~sandbox.freshdesk.records.TICKET_SCOPES`). Which status Freshdesk answers that agent
        about a ticket outside its scope is not documented (its agent UI says "The ticket is either not there or you
        don't have permission": "Understanding ticket scope and agent role", support.freshdesk.com/en/support/
        solutions/articles/97079): the simulator does not guess, and serves it every ticket still."""
        if scope not in rec.TICKET_SCOPES or isinstance(scope, bool):
            raise ValueError(f"an agent's ticket_scope is one of {tuple(rec.TICKET_SCOPES)}, not {scope!r}")
        with self._lock:
            self._agents[self.api_user_id]["ticket_scope"] = scope

    def _me(self) -> Response:
        return json_response(self._agents[self.api_user_id])

    def _show_agent(self, agent_id: int) -> Response:
        if agent_id not in self._agents:
            raise not_found()
        return json_response(self._agents[agent_id])

    def _list_contacts(self) -> Response:
        filters = ("email", "phone", "mobile", "unique_external_id", "company_id")
        wire.check_query_args(filters)
        wanted = {k: v for k, v in request.args.items() if k in filters}
        found = [c for c in self._contacts.values() if all(str(c.get(k)) == v for k, v in wanted.items())]
        return wire.paged([c for c in found if not c["deleted"]], self._base())

    def _show_contact(self, contact_id: int) -> Response:
        if contact_id not in self._contacts:
            raise not_found()
        return json_response(self._contacts[contact_id])

    def _update_contact(self, contact_id: int) -> Response:
        """``PUT /api/v2/contacts/[id]``: the fields sent replace the contact's (``tags`` too, whole)."""
        if contact_id not in self._contacts:
            raise not_found()
        data = json_body()
        errors = rec.contact_update_errors(data, self._contacts[contact_id])
        errors += rec.custom_field_errors(data.get("custom_fields", {}), self._contact_fields)
        if errors:
            raise invalid(errors)
        taken = [
            (k, owner) for k in rec.UNIQUE_CONTACT_FIELDS if (owner := self._owner(k, data)) not in (None, contact_id)
        ]
        if taken:
            raise invalid([rec.duplicate(k, owner) for k, owner in taken], 409)
        contact = self._contacts[contact_id]
        custom = {**contact["custom_fields"], **data.pop("custom_fields", {})}
        contact.update(data, custom_fields=custom, updated_at=now_iso())
        return json_response(self._contacts[contact_id])

    def _create_contact(self) -> Response:
        data = json_body()
        for fields in self._races:  # another client got there first (see race_next_contact)
            self._new_contact(fields)
        self._races.clear()
        return json_response(self._new_contact(data), 201)

    def _new_contact(self, data: dict[str, Any]) -> dict[str, Any]:
        errors = rec.contact_errors(data) + rec.custom_field_errors(data.get("custom_fields", {}), self._contact_fields)
        if errors:
            raise invalid(errors)
        duplicates = [rec.duplicate(k, owner) for k in rec.UNIQUE_CONTACT_FIELDS if (owner := self._owner(k, data))]
        if duplicates:
            raise invalid(duplicates, 409)
        contact = rec.new_contact(next(self._user_ids), data, self._contact_fields)
        self._contacts[contact["id"]] = contact
        self._indexed_at[("contacts", contact["id"])] = self._clock() + self.search_lag
        return contact

    def _owner(self, field: str, data: dict[str, Any]) -> int | None:
        """The contact that already holds ``data[field]`` (unique fields compare case-insensitively; an email is
        one contact's, as its address or among its ``other_emails``)."""
        wanted = {str(data[field]).lower()} if data.get(field) else set()
        if field == "email":
            wanted |= {str(e).lower() for e in data.get("other_emails") or [] if isinstance(e, str)}
        return next((c["id"] for c in self._contacts.values() if wanted & _held(c, field)), None)

    # -- tickets -----------------------------------------------------------------------------------------------

    def _ticket_or_404(self, ticket_id: int) -> dict[str, Any]:
        if ticket_id not in self._tickets:
            raise not_found()
        return self._tickets[ticket_id]

    def _live_tickets(self) -> list[dict[str, Any]]:
        return [t for t in self._tickets.values() if not t["deleted"] and not t["spam"]]

    def _list_ticket_fields(self) -> Response:
        """The default fields the bridge writes (``source`` as in the fixture), then the custom ones."""
        fields = [
            {"id": i, "name": name, "label": name.capitalize(), "type": f"default_{name}", "default": True}
            for i, name in enumerate(
                ("requester", "subject", "ticket_type", "source", "status", "priority", "description"), 1
            )
        ]
        source = next(f for f in fields if f["name"] == "source")
        source["choices"] = rec.SOURCE_CHOICES
        next(f for f in fields if f["name"] == "ticket_type")["choices"] = list(rec.TICKET_TYPES)
        for i, name in enumerate(self._ticket_fields, 100):
            label = name.removeprefix("cf_").replace("_", " ").capitalize()
            fields.append({"id": i, "name": name, "label": label, "type": "custom_text", "default": False})
        return json_response(fields)

    def _list_contact_fields(self) -> Response:
        """A plain array like ``ticket_fields``: the default fields the bridge writes, then the custom ones."""
        return json_response(rec.contact_fields(self._contact_fields))

    def _list_tickets(self) -> Response:
        """``GET /api/v2/tickets``: the documented filters, sort and embeds (:mod:`sandbox.freshdesk.listing`)."""
        wire.check_query_args(listing.ARGS)
        listing.check_combination(request.args)
        listed = listing.selector(request.args, self._contacts, self.api_user_id)
        (key, descending), wanted = listing.order(request.args), listing.includes(request.args)
        found = sorted((t for t in self._tickets.values() if listed(t)), key=lambda t: (t[key], t["id"]),
                       reverse=descending)  # fmt: skip
        items = [listing.embedded(rec.render_ticket(t, full=False), t, wanted, self._contacts) for t in found]
        return wire.paged(items, self._base())

    def _show_ticket(self, ticket_id: int) -> Response:
        return json_response(rec.render_ticket(self._ticket_or_404(ticket_id)))

    def _create_ticket(self) -> Response:
        data = json_body()
        errors = rec.ticket_errors(data, self._ticket_fields, creating=True) + self._routing_errors(data)
        requester = self._requester_of(data, errors)
        if errors or requester is None:
            raise invalid(errors)
        ticket = rec.new_ticket(next(self._ticket_ids), data, requester, self._ticket_fields)
        self._tickets[ticket["id"]] = ticket
        self._indexed_at[("tickets", ticket["id"])] = self._clock() + self.search_lag
        location = {"Location": f"{self._base()}/api/v2/tickets/{ticket['id']}"}
        return json_response(rec.render_ticket(ticket), 201, location)

    def _requester_of(self, data: dict[str, Any], errors: list[dict[str, Any]]) -> dict[str, Any] | None:
        """``requester_id``, else the contact with the given email, phone... (created when missing, except by
        ``facebook_id``; see :func:`~sandbox.freshdesk.records.requester_errors`). With ``requester_id`` and another
        requester field, or two of them, the first wins: what Freshdesk does then is not documented."""
        if "requester_id" in data:
            requester = data["requester_id"]
            contact = self._contacts.get(requester) if isinstance(requester, int) else None
            if contact is None:
                message = "There is no contact matching the given requester_id"
                errors.append(error("requester_id", message, "invalid_value"))
            return contact
        given = next((k for k in rec.REQUESTER_FIELDS[1:] if data.get(k)), None)
        if given is None:
            message = (
                "Please fill at least 1 of requester_id, email, facebook_id, phone, twitter_id, unique_external_id"
            )
            errors.append(error("requester_id", message, "missing_field"))
            return None
        found = next((c for c in self._contacts.values() if c.get(given) == data[given]), None)
        errors += rec.requester_errors(data, given, found)
        if found is None and not errors:
            found = self._new_contact({"name": data.get("name") or str(data[given]), given: data[given]})
        return found

    def _update_ticket(self, ticket_id: int) -> Response:
        ticket = self._ticket_or_404(ticket_id)
        data = json_body()
        errors = rec.ticket_errors(data, self._ticket_fields, creating=False) + self._routing_errors(data)
        if errors:
            raise invalid(errors)
        ticket.update({k: v for k, v in data.items() if k in rec.TICKET_UPDATE_FIELDS})
        ticket["custom_fields"].update(data.get("custom_fields") or {})
        if "description" in data:
            ticket["description_text"] = wire.text_of(data["description"])
        ticket["updated_at"] = now_iso()
        return json_response(rec.render_ticket(ticket))

    # -- conversations -----------------------------------------------------------------------------------------

    def _list_conversations(self, ticket_id: int) -> Response:
        self._ticket_or_404(ticket_id)
        wire.check_query_args(())
        entries = self._conversations.get(ticket_id, [])
        return wire.paged([rec.pick(c, rec.CONVERSATION_KEYS) for c in entries], self._base())

    def _reply(self, ticket_id: int) -> Response:
        data = self._conversation_input(ticket_id, rec.REPLY_FIELDS, agents_only=True)
        entry = self._add(ticket_id, data["body"], data["user_id"], source=rec.REPLY, private=False, incoming=False)
        return json_response(rec.pick(entry, rec.REPLY_KEYS), 201)

    def _note(self, ticket_id: int) -> Response:
        data = self._conversation_input(ticket_id, rec.NOTE_FIELDS, agents_only=False)
        private, incoming = data.get("private", True), data.get("incoming", False)
        entry = self._add(ticket_id, data["body"], data["user_id"], source=rec.NOTE, private=private, incoming=incoming)
        entry["notified_to"] = list(data.get("notify_emails") or [])
        return json_response(rec.pick(entry, rec.NOTE_KEYS), 201)

    def _conversation_input(self, ticket_id: int, allowed: Sequence[str], *, agents_only: bool) -> dict[str, Any]:
        if self._ticket_or_404(ticket_id)["deleted"]:
            raise not_found()
        data = json_body()
        errors = rec.conversation_errors(data, allowed)
        user_id = data.get("user_id", self.api_user_id)
        if user_id not in self._agents and (agents_only or user_id not in self._contacts):
            errors.append(error("user_id", "There is no agent or contact matching the given user_id", "invalid_value"))
        if errors:
            raise invalid(errors)
        return {**data, "user_id": user_id}

    def _add(self, ticket_id: int, body: str, user_id: int, **flags: Any) -> dict[str, Any]:
        ticket = self._tickets[ticket_id]
        fields = {"body": body, "user_id": user_id, **flags}
        entry = rec.new_conversation(
            next(self._conversation_ids), ticket, self._contacts[ticket["requester_id"]], fields
        )
        self._conversations.setdefault(ticket_id, []).append(entry)
        ticket["updated_at"] = entry["created_at"]
        return entry

    # -- search (its index lags ``search_lag`` seconds behind) -------------------------------------------------

    def _search_tickets(self) -> Response:
        return self._search("tickets", self._live_tickets(), lambda t: rec.render_ticket(t, full=False))

    def _search_contacts(self) -> Response:
        return self._search("contacts", [c for c in self._contacts.values() if not c["deleted"]], dict)

    def _search(
        self, kind: str, records: list[dict[str, Any]], render: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> Response:
        wire.check_query_args(("query",))
        page = wire.page_args(wire.SEARCH_MAX_PAGE)[1]
        query = wire.parse_query(request.args.get("query", ""), SEARCH_FIELDS[kind])
        now = self._clock()
        found = [r for r in records if self._indexed_at[(kind, r["id"])] <= now and wire.matches(r, query)]
        chunk = found[(page - 1) * wire.SEARCH_PAGE : page * wire.SEARCH_PAGE]
        return json_response({"results": [render(r) for r in chunk], "total": len(found)})

    # -- playing the agent ---------------------------------------------------------------------------------------

    def agent_comment(
        self,
        ticket_id: int | str,
        body: str,
        *,
        public: bool = True,
        author_id: int | None = None,
        attachments: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """An agent replies (``public``: a reply, source 0) or writes a private note, as from the agent UI,
        with files attached by name (``attachments``)."""
        with self._lock:
            self._ticket_or_404(int(ticket_id))
            flags = {"source": rec.REPLY if public else rec.NOTE, "private": not public, "incoming": False}
            entry = self._add(int(ticket_id), wire.html_of(body), author_id or self.agent_id, **flags)
            entry["attachments"] = [rec.attachment(next(self._conversation_ids), name) for name in attachments]
            return _view(entry)

    def fire_webhook(
        self,
        ticket_id: int | str,
        *,
        style: Literal["simple", "custom", "event", "trigger"] = "simple",
        comment: dict[str, Any] | None = None,
        secret: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> requests.Response:
        """POST what an automation rule's "Trigger webhook" action sends after an agent replied.

        ``simple``: ``{"freshdesk_webhook": {...}}`` with the selected ticket placeholders rendered (the
        simple content mode); ``custom``: an advanced JSON body ``{"ticket_id": "...", ...}``. Zendesk's
        ``event`` and ``trigger`` are accepted as aliases of these. ``comment`` (default: the latest
        public one) is the ``latest_public_comment``. The shared secret travels in the custom header
        configured on the action; ``secret`` overrides it, ``body`` replaces the body.
        """
        with self._lock:
            simple = style in ("simple", "event")
            body = body or self._webhook_body(self._tickets[int(ticket_id)], simple, comment)
        if not self.webhook_target:
            raise ValueError("set webhook_target first")
        headers = {"Content-Type": "application/json", SECRET_HEADER: self.webhook_secret if secret is None else secret}
        return requests.post(self.webhook_target, data=json.dumps(body).encode(), headers=headers, timeout=10)

    def _webhook_body(self, ticket: dict[str, Any], simple: bool, comment: dict[str, Any] | None) -> dict[str, Any]:
        public = [c for c in self._conversations.get(ticket["id"], []) if not c["private"]]
        latest = public[-1]["body_text"] if public else ticket["description_text"]
        latest = str(comment["body"]) if comment else latest
        if not simple:
            return {"ticket_id": str(ticket["id"]), "latest_public_comment": latest}
        status = next((n for n, v in rec.STATUSES.items() if v == ticket["status"]), str(ticket["status"]))
        fields = {
            "ticket_id": ticket["id"],
            "ticket_subject": ticket["subject"],
            "ticket_status": status.capitalize(),
            "ticket_url": f"{self.url}/a/tickets/{ticket['id']}",
            "ticket_latest_public_comment": latest,
            "triggered_event": "{ticket_action:reply_sent}",
        }
        return {"freshdesk_webhook": fields}

    def race_next_contact(self, **fields: Any) -> None:
        """Another client creates this contact just before the next ``POST /contacts`` is applied."""
        with self._lock:
            self._races.append(fields)

    # -- helpers for tests ----------------------------------------------------------------------------------------

    def add_agent(self, name: str, email: str) -> int:
        """Another agent joins the helpdesk (a new hire, whose replies may need approval)."""
        with self._lock:
            return self._new_agent(name, email)

    def add_tags(self, ticket_id: int | str, *tags: str, author_id: int | None = None) -> None:
        """An agent tags the ticket in the agent interface (``author_id`` is not kept: Freshdesk's API v2 has no
        history saying who added a tag)."""
        with self._lock:
            ticket = self._tickets[int(ticket_id)]
            ticket.update(tags=list(dict.fromkeys([*ticket["tags"], *tags])), updated_at=now_iso())

    def backdate(self, ticket_id: int | str, at: datetime) -> None:
        """The ticket was made ``at`` and left alone since (an old ticket, outside the list's default window)."""
        with self._lock:
            when = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            self._tickets[int(ticket_id)].update(created_at=when, updated_at=when)

    def set_status(self, ticket_id: int | str, status: str, *, at: datetime | None = None) -> None:
        """Force a status by name (open, pending, resolved, closed; new/solved as aliases) or ``deleted``,
        now or ``at``."""
        with self._lock:
            ticket = self._tickets[int(ticket_id)]
            if status == "deleted":
                ticket["deleted"] = True
            elif status in rec.STATUSES or status in STATUS_ALIASES:
                ticket["status"] = rec.STATUSES.get(status) or STATUS_ALIASES[status]
            else:
                raise ValueError(f"unknown status {status!r}")
            ticket["updated_at"] = now_iso() if at is None else at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def tickets(self) -> list[dict[str, Any]]:
        """Every ticket as ``GET /tickets/{id}`` shows it, plus ``external_id``: the thread-key field."""
        with self._lock:
            return [
                {**rec.render_ticket(t), "external_id": t["custom_fields"].get(self.thread_key_field or "")}
                for t in self._tickets.values()
            ]

    def comments(self, ticket_id: int | str) -> list[dict[str, Any]]:
        """The description (its id is the ticket's: it has none), then every conversation, in order."""
        with self._lock:
            ticket = self._tickets[int(ticket_id)]
            first = {
                "id": ticket["id"],
                "body": ticket["description_text"],
                "html_body": ticket["description"],
                "public": True,
                "private": False,
                "incoming": True,
                "author_id": ticket["requester_id"],
                "source": None,
                "created_at": ticket["created_at"],
            }
            return [first, *(_view(c) for c in self._conversations.get(ticket["id"], []))]

    def user(self, user_id: int | str) -> dict[str, Any]:
        """A contact as the API shows it, plus ``external_id`` (= ``unique_external_id``, Zendesk's name)."""
        with self._lock:
            contact = self._contacts[int(user_id)]
            return {**contact, "external_id": contact["unique_external_id"]}

    def delete_contact_permanently(self, contact_id: int | str) -> None:
        """What an agent does with Hard Delete Contact (``DELETE /api/v2/contacts/[id]/hard_delete``, "permanently
        delete a contact": developers.freshdesk.com/api/#hard_delete_contact): the contact is gone, and a ticket
        create naming its id is refused (400 ``requester_id`` ``invalid_value``, see :meth:`_requester_of`). Its
        tickets stay (the simulator keeps their ``requester_id``)."""
        with self._lock:
            del self._contacts[int(contact_id)]

    def agent_edits_user(self, user_id: int | str, **fields: Any) -> None:
        """An agent changes a contact in Freshdesk's UI (``tags=[...]``...)."""
        with self._lock:
            self._contacts[int(user_id)].update(fields)

    @property
    def users(self) -> list[dict[str, Any]]:
        """The contacts, as :meth:`user` shows them (the agents, :attr:`api_user_id` and :attr:`agent_id`,
        are served by ``/agents``)."""
        with self._lock:
            return [{**c, "external_id": c["unique_external_id"]} for c in self._contacts.values()]


def _view(c: dict[str, Any]) -> dict[str, Any]:
    """A conversation as tests compare it (the same keys as :meth:`FreshdeskSimulator.comments`' first)."""
    keys = ("id", "private", "incoming", "source", "created_at")
    return {
        **rec.pick(c, keys),
        "body": c["body_text"],
        "html_body": c["body"],
        "public": not c["private"],
        "author_id": c["user_id"],
    }


def _held(contact: dict[str, Any], field: str) -> set[str]:
    extra = contact.get("other_emails") or [] if field == "email" else []
    return {str(v).lower() for v in [contact.get(field), *extra] if v}
