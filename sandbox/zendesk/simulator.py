"""The Zendesk simulator itself: routes, the edge (auth, rate limit), tickets and comments, the agent's side."""

from __future__ import annotations

import base64
import hmac
import itertools
import json
import math
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

import requests
from flask import Response, has_request_context, request

from sandbox.base import json_response
from sandbox.zendesk.automation import AutomationMixin
from sandbox.zendesk.fields import FieldsMixin
from sandbox.zendesk.identities import IdentitiesMixin
from sandbox.zendesk.macros import MacrosMixin
from sandbox.zendesk.records import (
    BRAND_ID,
    COMMENT_EVENT_KEYS,
    CUSTOM_STATUS_IDS,
    FORM_ID,
    STATUSES,
    TICKET_CHANGEABLE,
    TICKET_KEYS,
)
from sandbox.zendesk.routing import RoutingMixin
from sandbox.zendesk.schedules import SchedulesMixin
from sandbox.zendesk.user_events import UserEventsMixin
from sandbox.zendesk.users import UsersMixin
from sandbox.zendesk.wire import (
    ApiError,
    as_id,
    html_of,
    normalise_tags,
    not_found,
    now_iso,
    payload,
    record_invalid,
    text_of,
)
from webhooks.signatures import sign_zendesk

#: Zendesk's documented static secret for test webhooks (base64 of "this_secret_is_for_testing_only").
TEST_WEBHOOK_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="
DEFAULT_RATE_LIMIT = 700  # requests per minute on the Suite Growth plan (what the fixture headers show)
#: Update Ticket's own limit, besides the account's per minute ("Endpoint rate limits",
#: https://developer.zendesk.com/api-reference/introduction/rate-limits): 30 updates per 10 minutes per
#: user per ticket.
TICKET_UPDATES, TICKET_UPDATE_WINDOW = 30, 600.0
#: Its 429. The rate-limits page promises only the status and ``Retry-After``; "Best practices for avoiding
#: rate limiting" (developer.zendesk.com/documentation/ticketing/using-the-zendesk-api/best-practices-for-
#: avoiding-rate-limiting, "Handling errors caused by rate limiting") shows the whole answer: ``Retry-After``
#: and this sentence as a ``text/html`` body (its ``Content-Length: 85`` is this text's), not Zendesk's JSON
#: error body. The account's ``X-Rate-Limit`` headers come with it like with every answer, budget left and all.
TICKET_UPDATES_EXCEEDED = "Rate limit for ticket updates exceeded, please wait before updating this ticket again"


class ZendeskSimulator(
    UsersMixin,
    IdentitiesMixin,
    AutomationMixin,
    MacrosMixin,
    RoutingMixin,
    SchedulesMixin,
    FieldsMixin,
    UserEventsMixin,
):
    """Zendesk Support on ``127.0.0.1``: see :mod:`sandbox.zendesk`. State lives in memory behind a lock."""

    name = "zendesk"

    def __init__(
        self,
        *,
        email: str = "bridge@socialdesk.test",
        api_token: str = "sim-api-token",  # noqa: S107 - a simulator's dummy credential
        oauth_token: str | None = None,
        webhook_secret: str = TEST_WEBHOOK_SECRET,
        account_id: int = 12345678,
        data_imports: bool = False,
        api_user_role: Literal["admin", "agent"] = "admin",
        api_user_ticket_restriction: Literal["groups", "assigned", "organization"] | None = None,
        rate_limit_per_minute: int | None = None,
        ticket_updates_per_window: int | None = TICKET_UPDATES,
        time_scale: float = 1.0,
        ticket_field_ids: tuple[int, ...] = (360000000777, 360000000778),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``data_imports``: bulk user imports enabled (Zendesk Support turns them on on request only).
        ``api_user_role``: the role of the user the credentials belong to; an ``agent`` may not manage users.
        ``api_user_ticket_restriction``: that agent sees only these tickets (:meth:`restrict_api_user`).
        Rate limits: ``rate_limit_per_minute`` requests per ``60 s × time_scale`` for the account (None:
        unlimited), ``ticket_updates_per_window`` updates of one ticket per ``600 s × time_scale`` (None:
        unlimited). ``clock`` (seconds) drives both windows, so tests can move time."""
        super().__init__()
        self.ticket_field_ids, self.data_imports = ticket_field_ids, data_imports
        self.email, self.webhook_secret, self.account_id = email, webhook_secret, account_id
        self.webhook_target: str | None = None
        self._api_token, self._oauth_token = api_token, oauth_token
        self._clock = clock
        self._per_minute, self._window = rate_limit_per_minute, 60.0 * time_scale
        self._hits: deque[float] = deque()
        self._per_ticket, self._ticket_window = ticket_updates_per_window, TICKET_UPDATE_WINDOW * time_scale
        self._ticket_updates: defaultdict[tuple[int, int], deque[float]] = defaultdict(deque)
        self._ids = itertools.count(44000000001)
        self._user_ids = itertools.count(900000000001)
        self._ticket_ids = itertools.count(1)
        self._invocations = itertools.count(8350205582)
        self._users: dict[int, dict[str, Any]] = {}
        self._tickets: dict[int, dict[str, Any]] = {}
        self._comments: dict[int, list[dict[str, Any]]] = {}
        self._audits: dict[int, list[dict[str, Any]]] = {}  # every update's audit, as List Audits for a Ticket reads
        self._jobs: dict[str, dict[str, Any]] = {}
        self._webhooks: dict[str, dict[str, Any]] = {}
        self._webhook_secrets: dict[str, str] = {}
        self._triggers: dict[int, dict[str, Any]] = {}
        self._macros: dict[int, dict[str, Any]] = {}
        agent = {"name": "Alex Agent", "email": "alex.agent@socialdesk.test", "role": "agent"}
        bridge = {"name": "Socialdesk Bridge", "email": email, "role": api_user_role}
        self._init_fields()  # before the first user: users keep their user fields
        self.api_user_id: int = self._new_user(bridge)["id"]
        self.restrict_api_user(api_user_ticket_restriction)
        self.agent_id: int = self._new_user(agent)["id"]
        self._init_routing()
        self._init_identities(self._route)
        self._init_user_events(self._route)
        self._init_schedules()
        self.app.before_request(self._edge)
        self.app.after_request(self._after)
        self.app.register_error_handler(ApiError, self._api_error)
        for status in (404, 405):
            self.app.register_error_handler(status, self._invalid_endpoint)
        self._routes()

    # -- routing -----------------------------------------------------------------------------------------

    def _routes(self) -> None:
        r = self._route
        r("/api/v2/users", self._list_users, "GET")
        r("/api/v2/users/me", self._me, "GET")
        r("/api/v2/groups", self._list_groups, "GET")
        r("/api/v2/brands", self._list_brands, "GET")
        r("/api/v2/ticket_fields", self._list_ticket_fields, "GET")
        r("/api/v2/user_fields", self._list_user_fields, "GET")
        r("/api/v2/business_hours/schedules", self._list_schedules, "GET")
        r("/api/v2/business_hours/schedules/<int:schedule_id>", self._show_schedule, "GET")
        r("/api/v2/business_hours/schedules/<int:schedule_id>/holidays", self._list_holidays, "GET")
        r("/api/v2/users/<int:user_id>", self._show_user, "GET")
        r("/api/v2/users/show_many", self._show_many_users, "GET")
        r("/api/v2/users/create_or_update", self._create_or_update_user, "POST")
        r("/api/v2/users/create_or_update_many", self._create_or_update_many, "POST")
        r("/api/v2/job_statuses/<job_id>", self._show_job, "GET")
        r("/api/v2/tickets", self._list_tickets, "GET")
        r("/api/v2/tickets", self._create_ticket, "POST")
        r("/api/v2/tickets/<int:ticket_id>", self._show_ticket, "GET")
        r("/api/v2/tickets/<int:ticket_id>", self._update_ticket, "PUT")
        r("/api/v2/tickets/<int:ticket_id>", self._delete_ticket, "DELETE")
        r("/api/v2/tickets/<int:ticket_id>/comments", self._list_comments, "GET")
        r("/api/v2/tickets/<int:ticket_id>/audits", self._list_audits, "GET")
        r("/api/v2/triggers", self._list_triggers, "GET")
        r("/api/v2/triggers", self._create_trigger, "POST")
        r("/api/v2/triggers/<int:trigger_id>", self._show_trigger, "GET")
        r("/api/v2/triggers/<int:trigger_id>", self._update_trigger, "PUT")
        r("/api/v2/macros", self._list_macros, "GET")
        r("/api/v2/macros", self._create_macro, "POST")
        r("/api/v2/macros/<int:macro_id>", self._show_macro, "GET")
        r("/api/v2/macros/<int:macro_id>", self._update_macro, "PUT")
        r("/api/v2/webhooks", self._list_webhooks, "GET", suffix=False)
        r("/api/v2/webhooks", self._create_webhook, "POST", suffix=False)
        r("/api/v2/webhooks/<webhook_id>", self._show_webhook, "GET", suffix=False)
        r("/api/v2/webhooks/<webhook_id>", self._patch_webhook, "PATCH", "PUT", suffix=False)
        r("/api/v2/webhooks/<webhook_id>", self._delete_webhook, "DELETE", suffix=False)
        r("/api/v2/webhooks/<webhook_id>/signing_secret", self._signing_secret, "GET", suffix=False)

    def _route(self, rule: str, view: Callable[..., Response], *methods: str, suffix: bool = True) -> None:
        """Serve ``rule`` (and ``rule.json``, as Zendesk does) with the state lock held."""

        def locked(**kwargs: Any) -> Response:
            with self._lock:
                return view(**kwargs)

        endpoint = view.__name__
        self.app.add_url_rule(rule, endpoint, locked, methods=list(methods))
        if suffix:
            self.app.add_url_rule(rule + ".json", endpoint + "_json", locked, methods=list(methods))

    def _api_error(self, e: ApiError) -> Response:
        return e.response

    def _invalid_endpoint(self, e: Exception) -> Response:
        return json_response({"error": "InvalidEndpoint", "description": "Not found"}, 404)

    # -- the edge: authentication, rate limits, lost answers ---------------------------------------------

    def _edge(self) -> Response | None:
        if not self._authenticated(request.headers.get("Authorization", "")):
            return json_response({"error": "Couldn't authenticate you"}, 401)
        return self._meter()

    def _authenticated(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return bool(self._oauth_token) and hmac.compare_digest(value.strip(), self._oauth_token or "")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, secret = base64.b64decode(value.strip()).decode("utf-8").partition(":")
        except ValueError:
            return False
        expected_user = f"{self.email}/token".lower()
        return hmac.compare_digest(user.lower(), expected_user) and hmac.compare_digest(secret, self._api_token)

    def _meter(self) -> Response | None:
        """A sliding window of ``60 s × time_scale``; over budget answers 429 with ``Retry-After``."""
        with self._lock:
            wait = _admit(self._hits, self._per_minute, self._window, self._clock())
        if wait is None:
            return None
        body = {"error": "APIRateLimitExceeded", "description": "Number of allowed API requests per minute exceeded"}
        return json_response(body, 429, {"Retry-After": str(wait)})

    def _after(self, response: Response) -> Response:
        with self._lock:
            limit = self._per_minute or DEFAULT_RATE_LIMIT
            remaining = max(0, limit - len(self._hits))
        for name, value in (("X-Rate-Limit", limit), ("X-Rate-Limit-Remaining", remaining)):
            response.headers.setdefault(name, str(value))
        response.headers.setdefault("X-Zendesk-API-Version", "v2")
        return response

    # -- tickets -----------------------------------------------------------------------------------------------

    def _render_ticket(self, ticket: dict[str, Any]) -> dict[str, Any]:
        return {**ticket, "url": f"{self._base()}/api/v2/tickets/{ticket['id']}.json"}

    def _ticket_or_404(self, ticket_id: int) -> dict[str, Any]:
        """The ticket, or Zendesk's 404 ``RecordNotFound``: also for a deleted one, which sits in the agents'
        "Deleted tickets" view for 30 days but is not found by the Tickets API (reads, updates, comments)."""
        ticket = self._tickets.get(ticket_id)
        if ticket is None or ticket["status"] == "deleted":
            raise not_found()
        return ticket

    def _list_tickets(self) -> Response:
        wanted = request.args.get("external_id")
        found = [
            self._render_ticket(t)
            for t in self._tickets.values()
            if t["status"] != "deleted" and (wanted is None or t["external_id"] == wanted)
        ]
        return self._page("tickets", found)

    def _show_ticket(self, ticket_id: int) -> Response:
        return json_response({"ticket": self._render_ticket(self._ticket_or_404(ticket_id))})

    def _create_ticket(self) -> Response:
        data = payload("ticket")
        requester_id = self._requester_of(data)
        comment_in = self._first_comment_of(data)
        author_id = self._author_of(comment_in, default=as_id(data.get("submitter_id")) or requester_id)
        source = self._followup_source(data.get("via_followup_source_id"))
        self._check_routing(data)
        ticket = self._new_ticket(data, requester_id, author_id)
        audit = self._new_audit(ticket, self.api_user_id)
        comment = self._add_comment(ticket, comment_in, author_id, audit["id"], public=comment_in.get("public", True))
        ticket["description"], ticket["is_public"] = comment["plain_body"], comment["public"]
        if source is not None:
            source["followup_ids"].append(ticket["id"])
            ticket["tags"] = ticket["tags"] if data.get("tags") is not None else list(source["tags"])
            ticket["via"]["source"] = {
                "from": {"ticket_id": source["id"], "subject": source["subject"]},
                "to": {},
                "rel": "follow_up",
            }
        self._tickets[ticket["id"]] = ticket
        audit["events"] = [_comment_event(comment), *self._create_events(ticket)]
        location = f"{self._base()}/api/v2/tickets/{ticket['id']}.json"
        return json_response({"ticket": self._render_ticket(ticket), "audit": audit}, 201, {"Location": location})

    def _requester_of(self, data: dict[str, Any]) -> int:
        """``requester_id``, else find-or-create ``requester``, else the authenticated user (as Zendesk does)."""
        if isinstance(data.get("requester"), dict):
            return int(self._upsert_user(data["requester"])[0]["id"])
        requester_id = as_id(data.get("requester_id", self.api_user_id))
        if requester_id is None or requester_id not in self._users:
            raise record_invalid("requester", "Requester: is invalid")
        return requester_id

    def _first_comment_of(self, data: dict[str, Any]) -> dict[str, Any]:
        given = data.get("comment")
        comment: dict[str, Any] = dict(given) if isinstance(given, dict) else {}
        if data.get("description") and not (comment.get("body") or comment.get("html_body")):
            comment = {**comment, "body": str(data["description"])}
        if not (comment.get("body") or comment.get("html_body")):
            raise record_invalid("base", "Description: cannot be blank", "BlankValue")
        return comment

    def _author_of(self, comment: dict[str, Any], *, default: int) -> int:
        author_id = as_id(comment.get("author_id", default))
        if author_id is None or author_id not in self._users:
            raise record_invalid("author_id", "Author: is invalid")
        return author_id

    def _followup_source(self, source_id: Any) -> dict[str, Any] | None:
        """The closed ticket a create follows up. "Creating a follow-up ticket" (developer.zendesk.com/documentation/
        ticketing/managing-tickets/creating-and-updating-tickets): "The parameter only works with closed tickets. It
        has no effect with other tickets", and the follow-up inherits the closed ticket's tags unless the request
        gives its own. An id naming no ticket is refused (best effort: the page does not say)."""
        if source_id is None:
            return None
        source = self._tickets.get(as_id(source_id) or 0)
        if source is None:
            raise record_invalid("via_followup_source_id", "Follow-up source: is invalid")
        return source if source["status"] == "closed" else None

    def _new_ticket(self, data: dict[str, Any], requester_id: int, submitter_id: int) -> dict[str, Any]:
        status = data.get("status") or ("open" if data.get("assignee_id") else "new")
        if status not in STATUSES[:-1]:
            raise record_invalid("status", f"Status: {status} is not valid")
        now, subject = now_iso(), data.get("subject")
        ticket: dict[str, Any] = dict.fromkeys(TICKET_KEYS)
        ticket.update(
            id=next(self._ticket_ids),
            external_id=data.get("external_id"),
            created_at=now,
            updated_at=now,
            via={"channel": "api", "source": {"from": {}, "to": {}, "rel": None}},
            type=data.get("type"),
            subject=subject,
            raw_subject=subject,
            priority=data.get("priority"),
            status=status,
            requester_id=requester_id,
            submitter_id=submitter_id,
            assignee_id=as_id(data.get("assignee_id")),
            organization_id=self._users[requester_id]["organization_id"],
            group_id=as_id(data.get("group_id")),
            collaborator_ids=[],
            follower_ids=[],
            email_cc_ids=[],
            has_incidents=False,
            is_public=True,
            tags=normalise_tags(data.get("tags")),
            custom_fields=self._custom_fields(data.get("custom_fields")),
            sharing_agreement_ids=[],
            custom_status_id=CUSTOM_STATUS_IDS[status],
            fields=self._custom_fields(data.get("custom_fields")),
            followup_ids=[],
            ticket_form_id=FORM_ID,
            brand_id=as_id(data.get("brand_id")) or BRAND_ID,
            allow_channelback=False,
            allow_attachments=True,
            from_messaging_channel=False,
        )
        return ticket

    def _custom_fields(self, given: Any) -> list[dict[str, Any]]:
        """Every ticket field of the account with its value (null when unset); unknown ids are ignored, as
        Zendesk does."""
        values = {as_id(f.get("id")): f.get("value") for f in given or [] if isinstance(f, dict)}
        return [{"id": field_id, "value": values.get(field_id)} for field_id in self.ticket_field_ids]

    def _new_audit(self, ticket: dict[str, Any], author_id: int, channel: str = "api") -> dict[str, Any]:
        """An update's audit, kept for List Audits (its events are filled in by the caller)."""
        audit = {
            "id": next(self._ids),
            "ticket_id": ticket["id"],
            "created_at": now_iso(),
            "author_id": author_id,
            "metadata": {"system": _system_metadata(), "custom": {}},
            "events": [],
            "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}},
        }
        self._audits.setdefault(ticket["id"], []).append(audit)
        return audit

    def _list_audits(self, ticket_id: int) -> Response:
        """List Audits for a Ticket: oldest first (``sort_order=desc`` reverses), cursor or offset paginated."""
        self._ticket_or_404(ticket_id)
        audits = list(self._audits.get(ticket_id, []))
        if request.args.get("sort_order") == "desc":
            audits.reverse()
        return self._page("audits", audits)

    def _tag_audit(self, ticket: dict[str, Any], tags: list[str], author_id: int | None) -> dict[str, Any]:
        """An agent's change of the ticket's tags in the agent interface: its audit, a ``Change`` of ``tags``."""
        audit = self._new_audit(ticket, author_id or self.agent_id, channel="web")
        if tags != ticket["tags"]:
            change = {"id": next(self._ids), "type": "Change", "field_name": "tags", "value": tags,
                      "previous_value": list(ticket["tags"])}  # fmt: skip
            audit["events"].append(change)
        ticket.update(tags=tags, updated_at=now_iso())
        return audit

    def _add_comment(
        self,
        ticket: dict[str, Any],
        given: dict[str, Any],
        author_id: int,
        audit_id: int,
        *,
        public: Any,
        channel: str = "api",
    ) -> dict[str, Any]:
        body = str(given.get("body") or "") or text_of(str(given.get("html_body") or ""))
        comment = {
            "id": next(self._ids),
            "type": "Comment",
            "author_id": author_id,
            "body": body,
            "html_body": str(given.get("html_body") or html_of(body)),
            "plain_body": body,
            "public": bool(public),
            "attachments": [],
            "audit_id": audit_id,
            "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": now_iso(),
            "metadata": {"system": _system_metadata(), "custom": {}},
        }
        self._comments.setdefault(ticket["id"], []).append(comment)
        ticket["updated_at"] = comment["created_at"]
        return comment

    def _create_events(self, ticket: dict[str, Any]) -> list[dict[str, Any]]:
        fields = (
            "subject",
            "requester_id",
            "priority",
            "type",
            "status",
            "organization_id",
            "brand_id",
            "ticket_form_id",
            "custom_status_id",
        )
        as_text = ("subject", "priority", "type", "status")
        return [
            {
                "id": next(self._ids),
                "type": "Create",
                "field_name": f,
                "value": ticket[f] if f in as_text else _str_or_none(ticket[f]),
            }
            for f in fields
        ]

    def _update_ticket(self, ticket_id: int) -> Response:
        ticket = self._ticket_or_404(ticket_id)
        refused = self._ticket_update_limit(ticket_id)
        if refused is not None:
            return refused
        if ticket["status"] == "closed":
            raise record_invalid("status", "Status: closed prevents ticket update")
        data = payload("ticket")
        self._check_changes(ticket, data)  # all or nothing: a refused change (422) saves no comment either
        audit = self._new_audit(ticket, self.api_user_id)
        if "comment" in data:
            audit["events"].append(_comment_event(self._update_comment(ticket, data["comment"], audit["id"])))
        audit["events"] += self._apply_changes(ticket, data)
        ticket["updated_at"] = now_iso()
        return json_response({"ticket": self._render_ticket(ticket), "audit": audit})

    def _delete_ticket(self, ticket_id: int) -> Response:
        """Delete Ticket (``DELETE /api/v2/tickets/{ticket_id}``): 204 No Content, for a ticket in any status
        (tickets-openapi DeleteTicket: "Admins, Agents with permission to delete tickets"; the simulated API user
        has that permission whatever its role). A soft delete: the ticket is kept as ``deleted`` (restorable for
        30 days), found by no Tickets API call afterwards, a second delete included (404)."""
        ticket = self._ticket_or_404(ticket_id)
        ticket.update(status="deleted", custom_status_id=CUSTOM_STATUS_IDS["deleted"], updated_at=now_iso())
        return Response(status=204)

    def _ticket_update_limit(self, ticket_id: int) -> Response | None:
        """Update Ticket's per-ticket limit: a sliding window of ``600 s × time_scale`` per (user, ticket), the
        user being the authenticated one (the simulator authenticates one). Every update let through counts,
        as every request counts in the account's window; over it, the documented 429 (``TICKET_UPDATES_EXCEEDED``)
        with ``Retry-After`` the seconds until the window frees a slot."""
        window = self._ticket_updates[(self.api_user_id, ticket_id)]
        wait = _admit(window, self._per_ticket, self._ticket_window, self._clock())
        if wait is None:
            return None
        headers = {"Retry-After": str(wait)}
        return Response(TICKET_UPDATES_EXCEEDED, 429, headers, content_type="text/html; charset=utf-8")

    def _update_comment(self, ticket: dict[str, Any], given: Any, audit_id: int) -> dict[str, Any]:
        if not isinstance(given, dict) or not (given.get("body") or given.get("html_body")):
            raise record_invalid("comment", "Comment: cannot be blank", "BlankValue")
        author_id = self._author_of(given, default=self.api_user_id)
        return self._add_comment(ticket, given, author_id, audit_id, public=given.get("public", True))

    def _check_changes(self, ticket: dict[str, Any], data: dict[str, Any]) -> None:
        """An update's values Zendesk validates before it saves anything: a 422 ``RecordInvalid`` leaves the ticket
        as it was, the update's comment unwritten (the ticket and its new comment are saved as one record)."""
        if "status" in data and data["status"] not in STATUSES:
            raise record_invalid("status", f"Status: {data['status']} is not valid")
        if "requester_id" in data and as_id(data["requester_id"]) not in self._users:
            raise record_invalid("requester", "Requester: is invalid")
        self._check_routing(data, ticket)

    def _apply_changes(self, ticket: dict[str, Any], data: dict[str, Any]) -> list[dict[str, Any]]:
        self._check_changes(ticket, data)
        tags = normalise_tags(data["tags"]) if "tags" in data else list(ticket["tags"])
        removed = set(normalise_tags(data.get("remove_tags")))
        tags = [t for t in dict.fromkeys(tags + normalise_tags(data.get("additional_tags"))) if t not in removed]
        changes = {k: data[k] for k in TICKET_CHANGEABLE if k in data and data[k] != ticket[k]}
        if tags != ticket["tags"]:
            changes["tags"] = tags
        events = [
            {"id": next(self._ids), "type": "Change", "value": v, "field_name": k, "previous_value": ticket[k]}
            for k, v in changes.items()
        ]
        ticket.update(changes)
        ticket["raw_subject"], ticket["custom_status_id"] = ticket["subject"], CUSTOM_STATUS_IDS[ticket["status"]]
        return events + self._change_fields(ticket, data.get("custom_fields"))

    def _change_fields(self, ticket: dict[str, Any], given: Any) -> list[dict[str, Any]]:
        """An update's ``custom_fields``: the values of the account's fields it names change, the others stay
        (unknown ids are ignored, as on create); each change is an audit event named by the field's id."""
        values = {as_id(f.get("id")): f.get("value") for f in given or [] if isinstance(f, dict)}
        events = []
        for field in ticket["custom_fields"]:
            if field["id"] in values and values[field["id"]] != field["value"]:
                events.append({"id": next(self._ids), "type": "Change", "value": values[field["id"]],
                               "field_name": str(field["id"]), "previous_value": field["value"]})  # fmt: skip
                field["value"] = values[field["id"]]
        ticket["fields"] = [dict(f) for f in ticket["custom_fields"]]
        return events

    def _list_comments(self, ticket_id: int) -> Response:
        self._ticket_or_404(ticket_id)
        comments = list(self._comments.get(ticket_id, []))
        if request.args.get("sort_order") == "desc" or request.args.get("sort") == "-created_at":
            comments.reverse()
        wants_users = "users" in request.args.get("include", "").split(",")
        return self._page("comments", comments, self._sideload_users if wants_users else None)

    def _sideload_users(self, comments: list[dict[str, Any]]) -> dict[str, Any]:
        ids = dict.fromkeys(c["author_id"] for c in comments)
        return {"users": [self._render_user(self._users[i]) for i in ids if i in self._users]}

    # -- playing the agent -----------------------------------------------------------------------------------------

    def agent_comment(
        self,
        ticket_id: int | str,
        body: str,
        *,
        public: bool = True,
        author_id: int | None = None,
        attachments: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """An agent replies (``public``) or writes an internal note on the ticket, as from the agent UI,
        with files attached by name (``attachments``)."""
        with self._lock:
            ticket = self._tickets[int(ticket_id)]
            if ticket["status"] in ("closed", "deleted"):
                raise ValueError(f"ticket {ticket_id} is {ticket['status']}")
            author = self._users[author_id or self.agent_id]
            audit = self._new_audit(ticket, author["id"], channel="web")
            comment = self._add_comment(ticket, {"body": body}, author["id"], audit["id"], public=public, channel="web")
            comment["attachments"] = [self._attachment(name) for name in attachments]
            if ticket["status"] == "new":
                ticket["status"], ticket["custom_status_id"] = "open", CUSTOM_STATUS_IDS["open"]
            return dict(comment)

    def _attachment(self, name: str) -> dict[str, Any]:
        """An Attachment object as comments list them (Zendesk's Attachments API reference)."""
        attachment_id = next(self._ids)
        content = f"{self.url}/attachments/token/{uuid.uuid4().hex}/?name={name}"
        return {
            "id": attachment_id, "url": f"{self.url}/api/v2/attachments/{attachment_id}.json", "file_name": name,
            "content_url": content, "mapped_content_url": content, "content_type": "application/octet-stream",
            "size": 1024, "width": None, "height": None, "inline": False, "deleted": False,
            "malware_access_override": False, "malware_scan_result": "malware_not_found", "thumbnails": [],
        }  # fmt: skip

    def fire_webhook(
        self,
        ticket_id: int | str,
        *,
        style: Literal["event", "trigger"] = "event",
        comment: dict[str, Any] | None = None,
    ) -> requests.Response:
        """POST the signed webhook Zendesk sends when ``comment`` (default: the latest one) was added."""
        with self._lock:
            ticket = self._tickets[int(ticket_id)]
            comment = comment or self._comments[ticket["id"]][-1]
            body = self._event_body(ticket, comment) if style == "event" else self._trigger_body(ticket, comment)
            webhook = next((w for w in self._webhooks.values() if w["status"] == "active" and
                            "conditional_ticket_events" in (w.get("subscriptions") or [])), None)  # fmt: skip
        target = self.webhook_target or (webhook["endpoint"] if webhook else None)
        if not target:
            raise ValueError("set webhook_target (or create an active webhook) first")
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        return requests.post(target, data=raw, headers=self._webhook_headers(raw, webhook), timeout=10)

    def _webhook_headers(self, raw: bytes, webhook: dict[str, Any] | None) -> dict[str, str]:
        timestamp = now_iso()
        return {
            "Content-Type": "application/json",
            "User-Agent": "Zendesk Webhook",
            "X-Zendesk-Account-Id": str(self.account_id),
            "X-Zendesk-Webhook-Id": webhook["id"] if webhook else "01F1KRFQ6BG29CNWFR60NK5FNY",
            "X-Zendesk-Webhook-Invocation-Id": str(next(self._invocations)),
            "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
            "X-Zendesk-Webhook-Signature": sign_zendesk(
                raw, timestamp, self.secret_of(webhook["id"] if webhook else None)
            ),
        }

    def _event_body(self, ticket: dict[str, Any], comment: dict[str, Any]) -> dict[str, Any]:
        """The ``zen:event-type:ticket.comment_added`` envelope: string ids, UPPER-CASE enums."""
        author = self._users[comment["author_id"]]
        upper = {k: (str(ticket[k]).upper() if ticket[k] else None) for k in ("priority", "type")}
        nanos = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
        return {
            "account_id": self.account_id,
            "detail": {
                "actor_id": str(author["id"]),
                "assignee_id": _str_or_none(ticket["assignee_id"]),
                "brand_id": str(ticket["brand_id"]),
                "created_at": ticket["created_at"],
                "custom_status": str(ticket["custom_status_id"]),
                "description": ticket["description"],
                "external_id": ticket["external_id"],
                "form_id": str(ticket["ticket_form_id"]),
                "group_id": _str_or_none(ticket["group_id"]),
                "id": str(ticket["id"]),
                "is_public": ticket["is_public"],
                "organization_id": _str_or_none(ticket["organization_id"]),
                "priority": upper["priority"],
                "requester_id": str(ticket["requester_id"]),
                "status": ticket["status"].upper(),
                "subject": ticket["subject"],
                "submitter_id": str(ticket["submitter_id"]),
                "tags": list(ticket["tags"]),
                "type": upper["type"],
                "updated_at": ticket["updated_at"],
                "via": {"channel": ticket["via"]["channel"]},
            },
            "event": {
                "comment": {
                    "id": str(comment["id"]),
                    "body": comment["body"],
                    "is_public": comment["public"],
                    "author": {
                        "id": str(author["id"]),
                        "is_staff": author["role"] != "end-user",
                        "name": author["name"],
                    },
                }
            },
            "id": str(uuid.uuid4()),
            "subject": f"zen:ticket:{ticket['id']}",
            "time": nanos,
            "type": "zen:event-type:ticket.comment_added",
            "zendesk_event_version": "2022-11-06",
        }

    def _trigger_body(self, ticket: dict[str, Any], comment: dict[str, Any]) -> dict[str, Any]:
        """A trigger's JSON body (fixtures/zendesk/webhooks/trigger_webhook_body.TEMPLATE.json) rendered."""
        author, requester = self._users[comment["author_id"]], self._users[ticket["requester_id"]]
        when = datetime.strptime(comment["created_at"], "%Y-%m-%dT%H:%M:%SZ").strftime("%b %d, %Y, %H:%M")
        return {
            "ticket_id": str(ticket["id"]),
            "external_id": ticket["external_id"] or "",
            "requester_external_id": requester["external_id"] or "",
            "status": ticket["status"].capitalize(),
            "tags": " ".join(ticket["tags"]),
            "agent_name": author["name"],
            "agent_id": str(author["id"]),
            "latest_public_comment": f"{author['name']}, {when}\n\n{comment['body']}",
        }

    # -- helpers for tests ----------------------------------------------------------------------------------------

    def add_agent(self, name: str, email: str) -> int:
        """Another agent joins the account (a new hire, whose replies may need approval)."""
        with self._lock:
            return int(self._new_user({"name": name, "email": email, "role": "agent"})["id"])

    def add_tags(self, ticket_id: int | str, *tags: str, author_id: int | None = None) -> None:
        """An agent (by default Alex Agent) tags the ticket in the agent interface; the audit says who."""
        with self._lock:
            ticket = self._tickets[int(ticket_id)]
            self._tag_audit(ticket, list(dict.fromkeys([*ticket["tags"], *tags])), author_id)

    def set_status(self, ticket_id: int | str, status: str, *, at: datetime | None = None) -> None:
        """Force a status, bypassing validation (``closed`` after the 28 days, ``deleted``...), now or ``at``."""
        if status not in (*STATUSES, "deleted"):
            raise ValueError(f"unknown status {status!r}")
        when = now_iso() if at is None else at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._lock:
            ticket = self._tickets[int(ticket_id)]
            ticket.update(status=status, custom_status_id=CUSTOM_STATUS_IDS[status], updated_at=when)

    @property
    def tickets(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._render_ticket(t) for t in self._tickets.values()]

    def comments(self, ticket_id: int | str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(c) for c in self._comments.get(int(ticket_id), [])]

    def user(self, user_id: int | str) -> dict[str, Any]:
        with self._lock:
            return self._render_user(self._users[int(user_id)])

    def agent_edits_user(self, user_id: int | str, **fields: Any) -> None:
        """An agent changes a user in Zendesk's UI (``suspended=True``, ``tags=[...]``...)."""
        with self._lock:
            self._apply_user(self._users[int(user_id)], fields)

    @property
    def users(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._render_user(u) for u in self._users.values()]

    @property
    def webhooks(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(w) for w in self._webhooks.values()]

    @property
    def triggers(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._render_trigger(t) for t in self._triggers.values()]


def _admit(hits: deque[float], limit: int | None, window: float, now: float) -> int | None:
    """Count a request in a sliding ``window`` (seconds) of at most ``limit`` requests and return None; when
    the window is full, count nothing and return the seconds until its oldest request leaves it."""
    while hits and hits[0] <= now - window:
        hits.popleft()
    if limit is None or len(hits) < limit:
        hits.append(now)
        return None
    return max(1, math.ceil(hits[0] + window - now))


def _comment_event(comment: dict[str, Any]) -> dict[str, Any]:
    return {k: comment[k] for k in COMMENT_EVENT_KEYS}


def _system_metadata() -> dict[str, Any]:
    client = request.headers.get("User-Agent", "") if has_request_context() else "Zendesk Agent Workspace"
    address = (request.remote_addr if has_request_context() else None) or "127.0.0.1"
    return {"client": client, "ip_address": address, "location": "Loopback", "latitude": 0.0, "longitude": 0.0}


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
