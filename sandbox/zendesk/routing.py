"""Groups, brands and the agent list of the Zendesk simulator, and the checks a ticket's routing fields pass.

Shapes: the Groups, Brands and Users references (developer.zendesk.com/api-reference/ticketing/groups/groups,
.../account-configuration/brands, .../users/users "List Users" with ``role[]``). Validation answers are
Zendesk's ``RecordInvalid``; the assignee's two descriptions are those Zendesk returned in zenpy issue #628
("Assignee: is invalid", "Assignee: is not a member of the group"); the others are best effort.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

from flask import Response, request

from sandbox.zendesk.records import BRAND_ID, ROLES
from sandbox.zendesk.wire import ApiError, Paging, as_id, now_iso, record_invalid

PRIORITIES = ("low", "normal", "high", "urgent")
TYPES = ("problem", "incident", "question", "task")
STAFF = ("agent", "admin")


class RoutingMixin(Paging):
    """``/api/v2/groups``, ``/api/v2/brands``, ``/api/v2/users?role[]=agent``; routing fields checked."""

    api_user_id: int
    agent_id: int
    _users: dict[int, dict[str, Any]]
    _render_user: Callable[[dict[str, Any]], dict[str, Any]]  # UsersMixin's

    def _init_routing(self) -> None:
        self._group_ids: Iterator[int] = itertools.count(360000001001)
        self._groups: dict[int, dict[str, Any]] = {}
        self._brands: dict[int, dict[str, Any]] = {BRAND_ID: _brand(BRAND_ID, "Socialdesk Sim", default=True)}
        self.add_group("Support", default=True)

    # -- helpers for tests -----------------------------------------------------------------------------------

    def add_group(self, name: str, *, agents: tuple[int, ...] | None = None, default: bool = False) -> int:
        """A group of agents (default: the simulator's agent and the API user); its id."""
        group_id = next(self._group_ids)
        now = now_iso()
        self._groups[group_id] = {
            "id": group_id, "url": None, "name": name, "description": "", "default": default, "deleted": False,
            "is_public": True, "created_at": now, "updated_at": now,
            "_members": set(agents if agents is not None else (self.agent_id, self.api_user_id)),
        }  # fmt: skip
        return group_id

    @property
    def groups(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._render_group(g) for g in self._groups.values()]

    def add_brand(self, name: str) -> int:
        brand_id = max(self._brands) + 1
        self._brands[brand_id] = _brand(brand_id, name)
        return brand_id

    # -- routes ------------------------------------------------------------------------------------------------

    def _list_groups(self) -> Response:
        groups = [self._render_group(g) for g in self._groups.values() if not g["deleted"]]
        return self._page("groups", groups)

    def _render_group(self, group: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in group.items() if not k.startswith("_")}
        return {**shown, "url": f"{self._base()}/api/v2/groups/{group['id']}.json"}

    def _list_brands(self) -> Response:
        return self._page("brands", [dict(b) for b in self._brands.values()])

    def _list_users(self) -> Response:
        """``GET /api/v2/users``, filtered by ``role`` or ``role[]`` (several allowed)."""
        roles = request.args.getlist("role[]") or request.args.getlist("role")
        bad = [r for r in roles if r not in ROLES]
        if bad:
            raise ApiError(400, {"error": "InvalidValue", "description": f"role: {bad[0]} is not a valid role"})
        users = [self._render_user(u) for u in self._users.values() if not roles or u["role"] in roles]
        return self._page("users", users)

    # -- checks ------------------------------------------------------------------------------------------------

    def _check_routing(self, data: dict[str, Any], ticket: dict[str, Any] | None = None) -> None:
        """priority, type, group, assignee (an agent, in the ticket's group) and brand, as given or kept."""
        if data.get("priority") is not None and data["priority"] not in PRIORITIES:
            raise record_invalid("priority", f"Priority: {data['priority']} is not valid")
        if data.get("type") is not None and data["type"] not in TYPES:
            raise record_invalid("type", f"Type: {data['type']} is not valid")
        if "brand_id" in data and as_id(data["brand_id"]) not in self._brands:
            raise record_invalid("brand", "Brand: is invalid")
        group_id = self._checked_group(data, ticket)
        assignee = data.get("assignee_id", (ticket or {}).get("assignee_id"))
        if assignee is not None:
            self._check_assignee(as_id(assignee), group_id)

    def _checked_group(self, data: dict[str, Any], ticket: dict[str, Any] | None) -> int | None:
        if "group_id" not in data:
            return (ticket or {}).get("group_id")
        group_id = as_id(data["group_id"]) if data["group_id"] is not None else None
        group = self._groups.get(group_id or 0)
        if data["group_id"] is not None and (group is None or group["deleted"]):
            raise record_invalid("group", "Group: is invalid")
        return group_id

    def _check_assignee(self, assignee: int | None, group_id: int | None) -> None:
        user = self._users.get(assignee or 0)
        if user is None or user["role"] not in STAFF:
            raise record_invalid("assignee", "Assignee: is invalid")
        if group_id is not None and assignee not in self._groups[group_id]["_members"]:
            raise record_invalid("assignee", "Assignee: is not a member of the group")


def _brand(brand_id: int, name: str, *, default: bool = False) -> dict[str, Any]:
    now, subdomain = now_iso(), name.lower().replace(" ", "")
    return {
        "id": brand_id, "url": None, "name": name, "brand_url": f"https://{subdomain}.zendesk.com",
        "subdomain": subdomain, "host_mapping": None, "has_help_center": False, "help_center_state": "disabled",
        "active": True, "default": default, "is_deleted": False, "logo": None, "ticket_form_ids": [],
        "signature_template": "{{agent.signature}}", "created_at": now, "updated_at": now,
    }  # fmt: skip
