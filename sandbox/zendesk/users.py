"""Users of the Zendesk simulator (``/api/v2/users``) and the job statuses their bulk upsert answers with."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from flask import Response, request

from sandbox.base import json_response
from sandbox.zendesk.records import AGENT_RESTRICTIONS, ROLES, USER_WRITABLE
from sandbox.zendesk.wire import (
    MAX_MANY,
    ApiError,
    Paging,
    forbidden,
    imports_disabled,
    json_body,
    normalise_tags,
    not_found,
    now_iso,
    payload,
    record_invalid,
    too_many_values,
)


class UsersMixin(Paging):
    """Users: show, show many, create or update (one, or many as a job); and the job statuses."""

    api_user_id: int
    #: whether the account owner had Zendesk Support turn bulk user imports on (off by default, as on Zendesk)
    data_imports: bool
    _user_ids: Iterator[int]
    _users: dict[int, dict[str, Any]]
    _jobs: dict[str, dict[str, Any]]
    _identities: dict[int, dict[str, Any]]  # IdentitiesMixin's
    _user_fields: Callable[[dict[str, Any], Any], dict[str, Any]]  # FieldsMixin's
    _check_user_fields: Callable[[Any], None]  # FieldsMixin's
    _user_event: Callable[..., None]  # UserEventsMixin's
    email_owner: Callable[[str], dict[str, Any] | None]  # IdentitiesMixin's

    # -- users -----------------------------------------------------------------------------------------------

    def _new_user(self, fields: dict[str, Any]) -> dict[str, Any]:
        now, role = now_iso(), fields.get("role") or "end-user"
        staff = role != "end-user"
        user: dict[str, Any] = {
            "id": next(self._user_ids),
            "url": None,
            "name": None,
            "email": None,
            "created_at": now,
            "updated_at": now,
            "time_zone": "America/New_York",
            "iana_time_zone": "America/New_York",
            "phone": None,
            "shared_phone_number": None,
            "photo": None,
            "locale_id": 1,
            "locale": "en-US",
            "organization_id": None,
            "role": role,
            "verified": False,
            "external_id": None,
            "tags": [],
            "alias": None,
            "active": True,
            "shared": False,
            "shared_agent": False,
            "last_login_at": None,
            "two_factor_auth_enabled": False,
            "signature": None,
            "details": None,
            "notes": None,
            "role_type": None,
            "custom_role_id": None,
            "moderator": staff,
            "ticket_restriction": None if staff else "requested",
            "only_private_comments": False,
            "restricted_agent": not staff,
            "suspended": False,
            "default_group_id": None,
            "report_csv": staff,
            "user_fields": {},
        }
        self._apply_user(user, fields)
        self._users[user["id"]] = user
        return user

    def _apply_user(self, user: dict[str, Any], fields: dict[str, Any]) -> None:
        for key in USER_WRITABLE:
            if key == "user_fields":
                user[key] = self._user_fields(user.get(key) or {}, fields.get(key))
            elif key in fields:
                user[key] = normalise_tags(fields[key]) if key == "tags" else fields[key]
        user["updated_at"] = now_iso()

    def _render_user(self, user: dict[str, Any]) -> dict[str, Any]:
        return {**user, "url": f"{self._base()}/api/v2/users/{user['id']}.json"}

    def _user_or_404(self, user_id: int) -> dict[str, Any]:
        if user_id not in self._users:
            raise not_found()
        return self._users[user_id]

    def _match_user(self, fields: dict[str, Any]) -> dict[str, Any] | None:
        """Zendesk matches on external id (case-insensitively), then on email (an email identity too). A deleted
        (inactive) user is not matched: "a soft-deleted user can still contact you ... a new profile will be created
        for them" (Zendesk help, deleting end users); deleted users are listed apart (``/api/v2/deleted_users``)."""
        ext, email = str(fields.get("external_id") or "").lower(), str(fields.get("email") or "")
        live = (u for u in self._users.values() if u["active"] is not False)
        found = next((u for u in live if ext and str(u["external_id"] or "").lower() == ext), None)
        return found or (self.email_owner(email) if email else None)

    def _validate_user(self, fields: dict[str, Any], existing: dict[str, Any] | None) -> None:
        if existing is None and not str(fields.get("name") or "").strip():
            raise record_invalid("name", "Name:  is too short (minimum one character)", "ValueTooShort")
        if "role" in fields and fields["role"] not in ROLES:
            raise record_invalid("role", f"Role: {fields['role']} is not a valid role")
        email = str(fields.get("email") or "")
        if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            raise record_invalid("email", f"Email: {email} is not properly formatted", "InvalidFormat")
        owner = self._match_user({"email": email}) if email else None
        if owner is not None and owner is not existing:
            raise record_invalid("email", f"Email: {email} is already being used by another user", "DuplicateValue")
        self._check_user_fields(fields.get("user_fields"))  # a value a field does not take refuses the whole write

    def _upsert_user(self, fields: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        existing = self._match_user(fields)
        self._validate_user(fields, existing)
        if existing is None:
            return self._new_user(fields), True
        self._apply_user(existing, fields)
        return existing, False

    def delete_user_permanently(self, user_id: int | str) -> None:
        """What an admin does with Delete User then Permanently Delete User (Users API: "Deleted users are not
        recoverable"; the second call is the GDPR step): the user and its identities are gone, and every call
        naming its id is answered 404 ``RecordNotFound``. Its tickets stay (Zendesk shows a placeholder
        requester; the simulator keeps the id)."""
        with self._lock:
            self._user_event(self._users[int(user_id)], "zen:event-type:user.deleted")
            del self._users[int(user_id)]
            for identity_id in [i for i, v in self._identities.items() if v["user_id"] == int(user_id)]:
                del self._identities[identity_id]

    def restrict_api_user(self, restriction: str | None) -> None:
        """What an admin sets on the API user's role (or, below Enterprise, its profile): which tickets it sees,
        as ``users/me`` then tells in ``ticket_restriction`` and ``restricted_agent`` ("false for admins and
        unrestricted agents, true for other agents": Users API, JSON format; the reference's own example user is
        ``role: agent, restricted_agent: true, ticket_restriction: assigned``). Admins see every ticket.
        Which status Zendesk answers about a ticket outside that view is not documented: the simulator does not
        guess, and serves the API user every ticket still."""
        user = self._users[self.api_user_id]
        if restriction is not None and (restriction not in AGENT_RESTRICTIONS or user["role"] != "agent"):
            raise ValueError(f"an agent's ticket restriction is one of {AGENT_RESTRICTIONS}; an admin has none")
        with self._lock:
            user.update(ticket_restriction=restriction, restricted_agent=restriction is not None)

    def _me(self) -> Response:
        return json_response({"user": self._render_user(self._users[self.api_user_id])})

    def _show_user(self, user_id: int) -> Response:
        return json_response({"user": self._render_user(self._user_or_404(user_id))})

    def _show_many_users(self) -> Response:
        ids = [int(i) for i in request.args.get("ids", "").split(",") if i.strip().isdigit()]
        externals = [e for e in request.args.get("external_ids", "").split(",") if e]
        if len(ids) > MAX_MANY or len(externals) > MAX_MANY:
            raise too_many_values()
        found = [u for i in ids if (u := self._users.get(i))] + [
            u for e in externals if (u := self._match_user({"external_id": e}))
        ]
        return self._page("users", [self._render_user(u) for u in found])

    def _check_may_manage_users(self) -> None:
        """Both upserts are for "admins and agents in custom roles with permission to manage end users"
        (users API): the simulator's agents are plain agents, without that permission."""
        if self._users[self.api_user_id]["role"] != "admin":
            raise forbidden()

    def _create_or_update_user(self) -> Response:
        self._check_may_manage_users()
        user, created = self._upsert_user(payload("user"))
        location = f"{self._base()}/api/v2/users/{user['id']}.json"
        return json_response({"user": self._render_user(user)}, 201 if created else 200, {"Location": location})

    def _create_or_update_many(self) -> Response:
        self._check_may_manage_users()
        if not self.data_imports:
            raise imports_disabled()
        users = json_body().get("users")
        if not isinstance(users, list) or not users:
            raise ApiError(400, {"error": "InvalidParameter", "description": "Parameter users is required"})
        if len(users) > MAX_MANY:
            raise too_many_values()
        job = self._new_job(len(users), [self._bulk_result(i, u) for i, u in enumerate(users)])
        return json_response({"job_status": self._render_job(job, queued=True)})

    def _bulk_result(self, index: int, fields: Any) -> dict[str, Any]:
        """One item of the job's results, as Zendesk shapes them for this endpoint. Done: the users API's
        CreateOrUpdateManyUsers example (``{"action": "update", "id": 244, "status": "Updated", "success": true}``).
        Failed: the sample in Zendesk community post 4408861015066 (Developer - Zendesk APIs, on this endpoint's
        ``results``): ``{"id": 2, "error": "UserUpdateError", "details": "Name: Email: error@example.com_ is not
        properly formatted", "status": "Failed"}``: the reason as text, quoting the value, no field named by key.
        Neither carries ``index`` (the tickets' create_many results do: the recorded job in the fixtures). The
        failed item's ``id`` there is 2 for the third user of three, no user's id: read as its position here."""
        try:
            user, created = self._upsert_user(fields if isinstance(fields, dict) else {})
        except ApiError as e:
            details = json.loads(e.response.get_data())["details"]
            text = " ".join(str(entry.get("description")) for entries in details.values() for entry in entries)
            return {"id": index, "error": "UserUpdateError", "details": text, "status": "Failed"}
        action = "create" if created else "update"
        return {"id": user["id"], "action": action, "status": action.capitalize() + "d", "success": True}

    # -- job statuses ------------------------------------------------------------------------------------------

    def _new_job(self, total: int, results: list[dict[str, Any]]) -> dict[str, Any]:
        job: dict[str, Any] = {"id": f"V3-{uuid.uuid4().hex}", "total": total, "results": results, "done_at": now_iso()}
        self._jobs[job["id"]] = job
        return job

    def _render_job(self, job: dict[str, Any], *, queued: bool = False) -> dict[str, Any]:
        """Work is applied at once, but reported as Zendesk does: queued first, completed when polled."""
        done = job["done_at"].replace("T", " ").replace("Z", " +0000")
        return {
            "id": job["id"],
            "url": f"{self._base()}/api/v2/job_statuses/{job['id']}.json",
            "total": job["total"],
            "progress": None if queued else job["total"],
            "status": "queued" if queued else "completed",
            "message": None if queued else f"Completed at {done}",
            "results": None if queued else job["results"],
        }

    def _show_job(self, job_id: str) -> Response:
        job = self._jobs.get(job_id.removesuffix(".json"))
        if job is None:
            raise not_found()
        return json_response({"job_status": self._render_job(job)})
