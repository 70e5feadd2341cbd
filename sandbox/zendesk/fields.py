"""Custom ticket and user fields of the Zendesk simulator: ``GET /api/v2/ticket_fields`` and
``GET /api/v2/user_fields``, and what a user's ``user_fields`` keep.

Shapes: the Ticket Fields and User Fields references (developer.zendesk.com/api-reference/ticketing/tickets/
ticket_fields, .../users/user_fields): a ticket field is known by its numeric ``id``, a user field by its
``key``. Zendesk answers a ticket's unknown field id by ignoring it (node-zendesk issue #265: a create with
``custom_fields: [{"id": 34, ...}]`` answered 201 with ``custom_fields: []``), which the ticket side of the
simulator does; for a user's ``user_fields`` no source says otherwise, so an unknown key is dropped the same
way, and the values sent are merged into the user's (best effort). Only ``socialdesk doctor`` catches a
mapping to a field that does not exist.
"""

from __future__ import annotations

import itertools
from typing import Any

from flask import Response

from sandbox.zendesk.wire import Paging, now_iso

#: The system ticket fields every account has (ids as in the fixtures' range, best effort).
SYSTEM_TICKET_FIELDS = ("subject", "description", "status", "tickettype", "priority", "group", "assignee")


class FieldsMixin(Paging):
    """Custom fields: listed, added by tests, and kept on users."""

    ticket_field_ids: tuple[int, ...]

    def _init_fields(self) -> None:
        self._field_ids = itertools.count(360000100001)
        self._ticket_field_titles: dict[int, str] = {i: f"Field {i}" for i in self.ticket_field_ids}
        self._user_field_keys: list[str] = []

    # -- helpers for tests -----------------------------------------------------------------------------------

    def add_ticket_field(self, title: str) -> str:
        """A custom text ticket field; its id (what the bridge's config names)."""
        field_id = next(self._field_ids)
        self.ticket_field_ids = (*self.ticket_field_ids, field_id)
        self._ticket_field_titles[field_id] = title
        return str(field_id)

    def add_user_field(self, key: str) -> str:
        """A custom text user field; its key."""
        self._user_field_keys.append(key)
        return key

    # -- the API ---------------------------------------------------------------------------------------------

    def _list_ticket_fields(self) -> Response:
        system = [_field(i, name.capitalize(), name) for i, name in enumerate(SYSTEM_TICKET_FIELDS, 360000000001)]
        custom = [_field(i, self._ticket_field_titles[i], "text") for i in self.ticket_field_ids]
        return self._page("ticket_fields", system + custom)

    def _list_user_fields(self) -> Response:
        fields = [{**_field(i, key.replace("_", " ").capitalize(), "text"), "key": key}
                  for i, key in enumerate(self._user_field_keys, 360000200001)]  # fmt: skip
        return self._page("user_fields", fields)

    def _user_fields(self, had: dict[str, Any], given: Any) -> dict[str, Any]:
        """The user's ``user_fields`` after an update: the known keys sent set, unknown ones ignored."""
        given = given if isinstance(given, dict) else {}
        known = {k: v for k, v in given.items() if k in self._user_field_keys}
        return {**dict.fromkeys(self._user_field_keys), **had, **known}


def _field(field_id: int, title: str, kind: str) -> dict[str, Any]:
    now = now_iso()
    return {
        "id": field_id, "type": kind, "title": title, "raw_title": title, "description": "", "active": True,
        "required": False, "removable": kind == "text", "created_at": now, "updated_at": now,
    }  # fmt: skip
