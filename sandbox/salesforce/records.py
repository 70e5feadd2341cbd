"""Validation of REST create / update / upsert bodies, with Salesforce's DML error codes and messages.

Every failure is an :class:`ApiError` whose body is a JSON *list* of ``{"message", "errorCode",
"fields"}`` objects, as the REST API answers. Messages follow the ones Salesforce sends for the same
mistakes (``REQUIRED_FIELD_MISSING``, ``INVALID_FIELD``, ``INVALID_FIELD_FOR_INSERT_UPDATE``,
``INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST``, ``STRING_TOO_LONG``, ``MALFORMED_ID``,
``FIELD_INTEGRITY_EXCEPTION``, ``INVALID_CROSS_REFERENCE_KEY``, ``JSON_PARSER_ERROR``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sandbox.salesforce.schema import SObject, looks_like_id, normal_id, parse_datetime, sf_datetime

Record = dict[str, Any]
NOT_UPDATEABLE = (
    "Unable to create/update fields: {}. Please check the security settings of this field and verify that it is "
    "read/write for your profile or permission set."
)


class ApiError(Exception):
    """An answer other than success: ``status`` and the JSON body Salesforce would send."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def error(status: int, code: str, message: str, fields: list[str] | None = None) -> ApiError:
    item: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        item["fields"] = fields
    return ApiError(status, [item])


def not_found() -> ApiError:
    """What the REST API answers for a missing record, object or external id field."""
    return error(404, "NOT_FOUND", "The requested resource does not exist")


def parse_body(raw: bytes) -> Record:
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        raise error(400, "JSON_PARSER_ERROR", "Unexpected character: was expecting a JSON value") from None
    if not isinstance(body, dict):
        raise error(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from a non-object value")
    return body


def validated(
    sobject: SObject,
    body: Record,
    *,
    creating: bool,
    find: Callable[[str], str | None],
) -> Record:
    """The body's fields under their canonical names and Salesforce types; raises :class:`ApiError`.

    ``find(id)`` tells the object name of an existing record (to check lookups).
    """
    values: Record = {}
    for key, value in body.items():
        if key == "attributes":
            continue
        name = sobject.field(key)
        if name is None:
            raise error(400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {sobject.name}")
        if not sobject.writable(name) or (not creating and name in sobject.create_only):
            raise error(400, "INVALID_FIELD_FOR_INSERT_UPDATE", NOT_UPDATEABLE.format(name), [name])
        values[name] = _coerced(sobject, name, value, find)
    if creating:
        missing = [f for f in sobject.required if values.get(f) in (None, "")]
        if missing:
            raise error(400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)
    return values


def _coerced(sobject: SObject, name: str, value: Any, find: Callable[[str], str | None]) -> Any:
    if value is None:
        return None
    kind = sobject.fields[name]
    if kind == "boolean" and not isinstance(value, bool):
        raise _json_type(value, "boolean")
    if kind in ("double", "int") and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise _json_type(value, kind)
    if kind == "datetime":
        return _datetime(value)
    if kind == "reference":
        return _reference(sobject, name, value, find)
    if isinstance(value, str):
        _check_text(sobject, name, value)
    return value


def _json_type(value: Any, kind: str) -> ApiError:
    return error(400, "JSON_PARSER_ERROR", f"Cannot deserialize instance of {kind} from value {json.dumps(value)}")


def _datetime(value: Any) -> str:
    try:
        return sf_datetime(parse_datetime(str(value)))
    except ValueError:
        raise _json_type(value, "datetime") from None


def _check_text(sobject: SObject, name: str, value: str) -> None:
    label = sobject.label(name)
    allowed = sobject.picklists.get(name)
    if allowed is not None and value not in allowed:
        message = f"{label}: bad value for restricted picklist field: {value}"
        raise error(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", message, [name])
    limit = sobject.lengths.get(name, 255 if sobject.fields[name] in ("string", "url", "email", "phone") else None)
    if limit is not None and len(value) > limit:
        message = f"{label}: data value too large: {value[:40]} (max length={limit})"
        raise error(400, "STRING_TOO_LONG", message, [name])


def _reference(sobject: SObject, name: str, value: Any, find: Callable[[str], str | None]) -> str:
    label = sobject.label(name)
    if not isinstance(value, str) or not looks_like_id(value):
        raise error(400, "MALFORMED_ID", f"{label}: id value of incorrect type: {value}", [name])
    record_id = normal_id(value)
    targets = next((r.targets for r in sobject.references.values() if r.field == name), ())
    kind = find(record_id)
    if kind is None:
        raise error(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name])
    if kind not in targets:
        raise error(400, "FIELD_INTEGRITY_EXCEPTION", f"{label}: id value of incorrect type: {value}", [name])
    return record_id
