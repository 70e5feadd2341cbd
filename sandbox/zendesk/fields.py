"""Custom ticket and user fields of the Zendesk simulator: ``GET /api/v2/ticket_fields`` and
``GET /api/v2/user_fields``, and what a user's ``user_fields`` keep.

Shapes: the Ticket Fields and User Fields references (developer.zendesk.com/api-reference/ticketing/tickets/
ticket_fields, .../users/user_fields): a ticket field is known by its numeric ``id``, a user field by its
``key``. Zendesk answers a ticket's unknown field id by ignoring it (node-zendesk issue #265: a create with
``custom_fields: [{"id": 34, ...}]`` answered 201 with ``custom_fields: []``), which the ticket side of the
simulator does; for a user's ``user_fields`` no source says otherwise, so an unknown key is dropped the same
way, and the values sent are merged into the user's (best effort). Only ``socialdesk doctor`` catches a
mapping to a field that does not exist.

A known user field takes the values of its type ("About custom field types", Zendesk help 203661866; the types
are Create User Field's: text, textarea, checkbox, date, integer, decimal, regexp, dropdown): a checkbox a yes or
no, an integer a whole number, a decimal a number, a date an ISO 8601 date (the users reference's example user
has ``user_date: '2012-07-23T00:00:00Z'``), a regexp field what its ``regexp_for_validation`` matches, a
dropdown one of its options' ``value`` (the option's tag; "the dropdown field lets agents choose a single value
from a list of options"). null clears any field. A value the field does not take refuses the whole write with a
422 ``RecordInvalid``. No Zendesk document shows that answer for a user field: its shape is the one Zendesk
gives a custom *ticket* field's invalid value (``details.base``, one entry per field: ``"description":
"Application URL: is invalid", "error": "InvalidValue", "field_key": <the ticket field's id>``, as a public
client's test records it), with the user field's ``key`` as ``field_key`` (best effort: the key is how a user
field is written). That Zendesk refuses rather than drops is reported by API clients (ZendeskApi_v2 issues #91
and #157: a user update with custom field values answered "422 Unprocessable Entity").
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Response

from sandbox.zendesk.wire import ApiError, Paging, now_iso

#: The system ticket fields every account has (ids as in the fixtures' range, best effort).
SYSTEM_TICKET_FIELDS = ("subject", "description", "status", "tickettype", "priority", "group", "assignee")


@dataclass(frozen=True)
class UserField:
    """A custom user field: its ``key`` (what ``user_fields`` names), type, and what its type asks of a value."""

    id: int
    key: str
    type: str = "text"
    options: tuple[str, ...] = ()  # a dropdown's options' values (their tags)
    regexp: str | None = None  # a regexp field's ``regexp_for_validation``

    @property
    def title(self) -> str:
        return self.key.replace("_", " ").capitalize()

    def takes(self, value: Any) -> bool:
        """Whether a value is one this field takes (null clears any field)."""
        return value is None or value == "" or VALUE_CHECKS[self.type](self, value)


def _is_text(field: UserField, value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _is_checked(field: UserField, value: Any) -> bool:
    """A JSON boolean, or one as text (a Rails boolean cast's "true", "false", "1", "0"; best effort)."""
    return isinstance(value, bool) or str(value).lower() in ("true", "false", "1", "0")


def _is_whole(field: UserField, value: Any) -> bool:
    return not isinstance(value, bool | float) and re.fullmatch(r"-?\d+", str(value)) is not None


def _is_number(field: UserField, value: Any) -> bool:
    return not isinstance(value, bool) and re.fullmatch(r"-?\d+(\.\d+)?", str(value)) is not None


def _is_date(field: UserField, value: Any) -> bool:
    """An ISO 8601 date, with or without the time Zendesk answers it with (``2012-07-23T00:00:00Z``)."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}(T.+)?", value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _matches(field: UserField, value: Any) -> bool:
    """Ruby's ``=~`` (a search, not a full match): the pattern carries its own anchors."""
    return isinstance(value, str) and re.search(field.regexp or "", value) is not None


def _is_option(field: UserField, value: Any) -> bool:
    return isinstance(value, str) and value in field.options


VALUE_CHECKS: dict[str, Callable[[UserField, Any], bool]] = {
    "text": _is_text, "textarea": _is_text, "checkbox": _is_checked, "integer": _is_whole, "decimal": _is_number,
    "date": _is_date, "regexp": _matches, "dropdown": _is_option,
}  # fmt: skip


def user_fields_invalid(refused: Iterable[UserField]) -> ApiError:
    """The 422 for values the fields do not take, one ``details.base`` entry per field (see the module's note)."""
    base = [{"description": f"{f.title}: is invalid", "error": "InvalidValue", "field_key": f.key} for f in refused]
    body = {"error": "RecordInvalid", "description": "Record validation errors", "details": {"base": base}}
    return ApiError(422, body)


class FieldsMixin(Paging):
    """Custom fields: listed, added by tests, and kept on users."""

    ticket_field_ids: tuple[int, ...]

    def _init_fields(self) -> None:
        self._field_ids = itertools.count(360000100001)
        self._ticket_field_titles: dict[int, str] = {i: f"Field {i}" for i in self.ticket_field_ids}
        self._user_field_defs: dict[str, UserField] = {}
        self._user_field_ids = itertools.count(360000200001)

    # -- helpers for tests -----------------------------------------------------------------------------------

    def add_ticket_field(self, title: str) -> str:
        """A custom text ticket field; its id (what the bridge's config names)."""
        field_id = next(self._field_ids)
        self.ticket_field_ids = (*self.ticket_field_ids, field_id)
        self._ticket_field_titles[field_id] = title
        return str(field_id)

    def add_user_field(
        self, key: str, kind: str = "text", *, options: Iterable[str] = (), regexp: str | None = None
    ) -> str:
        """A custom user field of a type Create User Field makes (``text`` by default; a ``dropdown``'s
        ``options`` are its options' values, a ``regexp`` field's pattern is ``regexp``); its key."""
        if kind not in VALUE_CHECKS or (kind == "dropdown") != bool(options) or (kind == "regexp") != bool(regexp):
            raise ValueError(f"a user field is one of {sorted(VALUE_CHECKS)}; a dropdown has options, regexp a pattern")
        self._user_field_defs[key] = UserField(next(self._user_field_ids), key, kind, tuple(options), regexp)
        return key

    # -- the API ---------------------------------------------------------------------------------------------

    def _list_ticket_fields(self) -> Response:
        system = [_field(i, name.capitalize(), name) for i, name in enumerate(SYSTEM_TICKET_FIELDS, 360000000001)]
        custom = [_field(i, self._ticket_field_titles[i], "text") for i in self.ticket_field_ids]
        return self._page("ticket_fields", system + custom)

    def _list_user_fields(self) -> Response:
        return self._page("user_fields", [_user_field(f) for f in self._user_field_defs.values()])

    def _check_user_fields(self, given: Any) -> None:
        """Refuse a write whose known user fields carry a value their type does not take, naming each."""
        given = given if isinstance(given, dict) else {}
        known = (self._user_field_defs.get(k) for k in given)
        refused = [f for f in known if f is not None and not f.takes(given[f.key])]
        if refused:
            raise user_fields_invalid(refused)

    def _user_fields(self, had: dict[str, Any], given: Any) -> dict[str, Any]:
        """The user's ``user_fields`` after an update: the known keys sent set, unknown ones ignored."""
        given = given if isinstance(given, dict) else {}
        known = {k: v for k, v in given.items() if k in self._user_field_defs}
        return {**dict.fromkeys(self._user_field_defs), **had, **known}


def _field(field_id: int, title: str, kind: str) -> dict[str, Any]:
    now = now_iso()
    return {
        "id": field_id, "type": kind, "title": title, "raw_title": title, "description": "", "active": True,
        "required": False, "removable": kind == "text", "created_at": now, "updated_at": now,
    }  # fmt: skip


def _user_field(field: UserField) -> dict[str, Any]:
    """As the User Fields reference shows one: ``regexp_for_validation`` on every field (null but for regexp),
    ``custom_field_options`` (``name`` shown to agents, ``value`` its tag) on a dropdown."""
    shown = {**_field(field.id, field.title, field.type), "key": field.key, "regexp_for_validation": field.regexp}
    if field.options:
        names = [(value, value.replace("_", " ").capitalize()) for value in field.options]
        shown["custom_field_options"] = [{"id": field.id * 100 + i, "name": name, "raw_name": name, "value": value}
                                         for i, (value, name) in enumerate(names, 1)]  # fmt: skip
    return shown
