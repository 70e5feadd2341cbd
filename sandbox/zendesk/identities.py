"""User identities, user updates and user merges of the Zendesk simulator (``tests/fixtures/specs/zendesk_oas_split/
users-openapi-original.yml``: CreateUserIdentity, ListUserIdentities, DeleteUserIdentity, UpdateUser, MergeEndUsers).

* An identity is created with one of the types the reference lists for Create Identity (``email``, ``twitter``,
  ``facebook``, ``google``, ``agent_forwarding``, ``phone_number``); ``any_channel``, ``foreign``, ``sdk`` and
  ``messaging`` identities exist, but are made by Zendesk's own channels, not by this endpoint: refused (422).
* A value is one user's: another identity with the same type and value, or an email another user has as
  their address, is refused as Zendesk refuses a taken email (``DuplicateValue``).
* A user has at most one ``facebook`` identity ("you can only add one Facebook account", Managing end users);
  a second is refused (422, wording best effort).
* A merge takes end users only ("Agents, admins, and users with more than 10,000 requested tickets cannot be
  merged"). The merged user's requested tickets and email identities move to the other user; its other
  identities, its external id and the rest of its data are lost ("Merging a user's duplicate account": "the
  merging user will lose all data, except for tickets and email identities"), and it is deleted (inactive).
  The reference gives no body for a refused merge: best effort, a ``RecordInvalid`` naming the reason.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from typing import Any

from flask import Response

from sandbox.base import json_response
from sandbox.zendesk.wire import Paging, as_id, not_found, now_iso, payload, record_invalid

CREATABLE = ("email", "twitter", "facebook", "google", "agent_forwarding", "phone_number")
#: "You can also add multiple phone numbers, Google accounts, and X (formerly Twitter) accounts. Note that you can
#: only add one Facebook account." (Zendesk help, "Managing end users", support.zendesk.com/hc/en-us/articles/
#: 4408822763546)
ONE_PER_USER = ("facebook",)
MAX_MERGED_TICKETS = 10_000
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class IdentitiesMixin(Paging):
    """``/api/v2/users/{id}/identities``, ``PUT /api/v2/users/{id}``, ``PUT /api/v2/users/{id}/merge``."""

    _users: dict[int, dict[str, Any]]
    _tickets: dict[int, dict[str, Any]]
    _identities: dict[int, dict[str, Any]]
    _identity_ids: Iterator[int]
    _user_or_404: Callable[[int], dict[str, Any]]
    _render_user: Callable[[dict[str, Any]], dict[str, Any]]
    _apply_user: Callable[[dict[str, Any], dict[str, Any]], None]
    _validate_user: Callable[[dict[str, Any], dict[str, Any] | None], None]
    _check_may_manage_users: Callable[[], None]
    _base: Callable[[], str]
    _user_event: Callable[..., None]  # UserEventsMixin's

    def _init_identities(self, route: Callable[..., None]) -> None:
        self._identities = {}
        self._identity_ids = itertools.count(35436)
        route("/api/v2/users/<int:user_id>", self._update_user, "PUT")
        route("/api/v2/users/<int:user_id>/merge", self._merge_user, "PUT")
        route("/api/v2/users/<int:user_id>/identities", self._list_identities, "GET")
        route("/api/v2/users/<int:user_id>/identities", self._create_identity, "POST")
        route("/api/v2/users/<int:user_id>/identities/<int:identity_id>", self._delete_identity, "DELETE")

    def identities_of(self, user_id: int | str) -> list[dict[str, Any]]:
        """A user's identities, as the API lists them (for tests)."""
        return [self._render_identity(i) for i in self._identities.values() if i["user_id"] == int(user_id)]

    def email_owner(self, email: str) -> dict[str, Any] | None:
        """The active user whose address, or one of whose email identities, this is."""
        wanted = email.lower()
        for user in self._users.values():
            if user["active"] and str(user["email"] or "").lower() == wanted:
                return user
        found = self._identity_owner("email", wanted)
        return self._users[found["user_id"]] if found else None

    # -- identities ------------------------------------------------------------------------------------------

    def _identity_owner(self, kind: str, value: str) -> dict[str, Any] | None:
        wanted = value.lower()
        return next(
            (i for i in self._identities.values() if i["type"] == kind and str(i["value"]).lower() == wanted), None
        )

    def _render_identity(self, identity: dict[str, Any]) -> dict[str, Any]:
        url = f"{self._base()}/api/v2/users/{identity['user_id']}/identities/{identity['id']}.json"
        return {**identity, "url": url}

    def _list_identities(self, user_id: int) -> Response:
        self._user_or_404(user_id)
        return self._page("identities", self.identities_of(user_id))

    def _create_identity(self, user_id: int) -> Response:
        # No _check_may_manage_users here, unlike merge: Create Identity is "Allowed For: Agents" ("An agent can
        # add an identity to any user profile"), merge is for "Admins or agents with permission to edit end users".
        user = self._user_or_404(user_id)
        given = payload("identity")
        kind, value = given.get("type"), given.get("value")
        if kind not in CREATABLE:
            raise record_invalid("type", f"Type: {kind} is not a valid identity type for this endpoint")
        if not isinstance(value, str) or not value.strip():
            raise record_invalid("value", "Value: cannot be blank", "BlankValue")
        if kind in ("email", "google") and not EMAIL.fullmatch(value):
            raise record_invalid("value", f"Value: {value} is not properly formatted", "InvalidFormat")
        held = self._identity_owner(kind, value) or (self.email_owner(value) if kind == "email" else None)
        if held is not None:
            raise record_invalid("value", f"Value: {value} is already being used by another user", "DuplicateValue")
        if kind in ONE_PER_USER and any(i["type"] == kind for i in self.identities_of(user_id)):
            raise record_invalid("type", f"Type: a user can have only one {kind} identity")  # wording best effort
        identity = self._new_identity(user["id"], kind, value, verified=bool(given.get("verified")))
        location = f"{self._base()}/api/v2/users/{user_id}/identities/{identity['id']}.json"
        return json_response({"identity": self._render_identity(identity)}, 201, {"Location": location})

    def _new_identity(self, user_id: int, kind: str, value: str, *, verified: bool) -> dict[str, Any]:
        now = now_iso()
        identity: dict[str, Any] = {
            "id": next(self._identity_ids), "user_id": user_id, "type": kind, "value": value, "verified": verified,
            "primary": False, "created_at": now, "updated_at": now, "undeliverable_count": 0,
            "deliverable_state": "deliverable" if kind == "email" else None,
        }  # fmt: skip
        self._identities[identity["id"]] = identity
        return identity

    def _delete_identity(self, user_id: int, identity_id: int) -> Response:
        identity = self._identities.get(identity_id)
        if identity is None or identity["user_id"] != user_id:
            raise not_found()
        del self._identities[identity_id]
        return Response(status=204)

    # -- update, merge ---------------------------------------------------------------------------------------

    def _update_user(self, user_id: int) -> Response:
        user = self._user_or_404(user_id)
        fields = payload("user")
        self._validate_user(fields, user)
        self._apply_user(user, fields)
        return json_response({"user": self._render_user(user)})

    def _merge_user(self, user_id: int) -> Response:
        self._check_may_manage_users()
        source = self._user_or_404(user_id)
        target = self._users.get(as_id(payload("user").get("id")) or 0)
        if target is None or not target["active"]:
            raise not_found()
        self._check_mergeable(source, target)
        for ticket in self._tickets.values():
            if ticket["requester_id"] == source["id"]:
                ticket.update(requester_id=target["id"], updated_at=now_iso())
        self._move_emails(source, target)
        source.update(active=False, external_id=None, email=None, phone=None, updated_at=now_iso())
        self._user_event(source, "zen:event-type:user.merged")
        return json_response({"user": self._render_user(target)})

    def _check_mergeable(self, source: dict[str, Any], target: dict[str, Any]) -> None:
        if source["id"] == target["id"]:
            raise record_invalid("base", "A user cannot be merged into itself")
        if source["role"] != "end-user" or target["role"] != "end-user":
            raise record_invalid("base", "Agents and admins cannot be merged")
        requested = sum(1 for t in self._tickets.values() if t["requester_id"] == source["id"])
        if requested > MAX_MERGED_TICKETS:
            message = f"Users with more than {MAX_MERGED_TICKETS} requested tickets cannot be merged"
            raise record_invalid("base", message)

    def _move_emails(self, source: dict[str, Any], target: dict[str, Any]) -> None:
        """The merged user's email identities (its address among them) go along; its other identities are lost."""
        for identity in [i for i in self._identities.values() if i["user_id"] == source["id"]]:
            if identity["type"] == "email":
                identity.update(user_id=target["id"], updated_at=now_iso())
            else:
                del self._identities[identity["id"]]
        if source["email"] and source["email"] != target["email"]:
            self._new_identity(target["id"], "email", source["email"], verified=bool(source["verified"]))
