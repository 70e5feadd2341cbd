"""What the Freshdesk simulator's answers share: error bodies, request decoding, paging, search queries.

Error bodies follow ``fixtures/freshdesk/error_400_validation.response.json``: ``{"description":
"Validation failed", "errors": [{"field", "message", "code"}]}``; a 409 ``duplicate_value`` adds
``additional_info.user_id``. Messages are Freshdesk's own wording where it is known (``Mandatory
attribute missing``, ``Unexpected/invalid field in request``, ``Value set is of type String.It should
be a/an Integer``), best effort otherwise.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Response, request

from sandbox.base import json_response

PER_PAGE, MAX_PER_PAGE = 30, 100
SEARCH_PAGE, SEARCH_MAX_PAGE = 30, 10
QUERY_MAX = 512
TYPE_NAMES = {bool: "Boolean", str: "String", int: "Integer", list: "Array", dict: "key/value pair"}
_TERM = re.compile(r"\s*(\w+):('(?:[^'\\]|\\.)*'|-?\d+|null|true|false)\s*")

Query = list[list[tuple[str, Any]]]


class ApiError(Exception):
    """Raised inside a handler: answer with this Freshdesk error body (``None``: an empty body)."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.response = json_response(body, status, headers) if body is not None else Response(status=status)


def invalid(errors: list[dict[str, Any]], status: int = 400) -> ApiError:
    return ApiError(status, {"description": "Validation failed", "errors": errors})


def error(field: str, message: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"field": field, **extra, "message": message, "code": code}


def mismatch(field: str, value: Any, wanted: type) -> dict[str, Any]:
    """Freshdesk's own wording for a wrong type, missing space included."""
    given = "Null" if value is None else TYPE_NAMES.get(type(value), type(value).__name__)
    return error(field, f"Value set is of type {given}.It should be a/an {TYPE_NAMES[wanted]}", "datatype_mismatch")


def missing(field: str) -> dict[str, Any]:
    return error(field, "Mandatory attribute missing", "missing_field")


def unexpected(given: Iterable[str], allowed: Sequence[str]) -> list[dict[str, Any]]:
    return [error(k, "Unexpected/invalid field in request", "invalid_field") for k in given if k not in allowed]


def one_of(field: str, value: Any, allowed: Sequence[int]) -> list[dict[str, Any]]:
    if not isinstance(value, int) or isinstance(value, bool):
        return [mismatch(field, value, int)]
    if value not in allowed:
        return [error(field, f"It should be one of these values: '{','.join(map(str, allowed))}'", "invalid_value")]
    return []


def of_type(data: dict[str, Any], field: str, wanted: type) -> list[dict[str, Any]]:
    value = data.get(field)
    if field in data and not (isinstance(value, wanted) and (wanted is bool or not isinstance(value, bool))):
        return [mismatch(field, value, wanted)]
    return []


def not_found() -> ApiError:
    return ApiError(404, None)  # a missing record: an empty 404 (best effort: no documented body)


def invalid_url(e: Exception) -> Response:
    return json_response({"code": "invalid_url", "message": "The requested URL was not found"}, 404)  # best effort


def method_not_allowed(e: Exception) -> Response:
    allowed = ",".join(m for m in getattr(e, "valid_methods", None) or [] if m not in ("HEAD", "OPTIONS"))
    message = f"{request.method} method is not allowed. It should be one of these method(s): {allowed}"
    return json_response({"code": "method_not_allowed", "message": message}, 405)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def text_of(markup: str) -> str:
    """``body_text`` from ``body``: tags dropped, block ends and ``<br>`` as new lines."""
    return html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"</(div|p)>|<br\s*/?>", "\n", markup))).strip()


def html_of(text: str) -> str:
    """What the agent UI stores for typed text: one ``<div>`` per line, escaped."""
    return "".join(f"<div>{html.escape(line) or '<br>'}</div>" for line in text.split("\n"))


def json_body() -> dict[str, Any]:
    """The request's JSON object, or Freshdesk's 415 / 400 answers."""
    if request.mimetype != "application/json":
        message = "Content-Type header should have application/json"
        raise ApiError(415, {"code": "invalid_content_type", "message": message})
    try:
        body = json.loads(request.get_data() or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, {"code": "invalid_json", "message": "Request body has invalid json format"})
    return body


def check_query_args(allowed: Sequence[str]) -> None:
    errors = unexpected(request.args.keys(), (*allowed, "page", "per_page"))
    if errors:
        raise invalid(errors)


def page_args(max_page: int | None = None) -> tuple[int, int]:
    """``(per_page, page)`` from the query string, validated as Freshdesk does."""
    errors = []
    per_page, page = request.args.get("per_page", str(PER_PAGE)), request.args.get("page", "1")
    if not per_page.isdigit() or not 0 < int(per_page) <= MAX_PER_PAGE:
        errors.append(error("per_page", "It should be a Positive Integer less than or equal to 100", "invalid_value"))
    if not page.isdigit() or int(page) < 1 or (max_page is not None and int(page) > max_page):
        errors.append(error("page", "It should be a Positive Integer", "invalid_value"))
    if errors:
        raise invalid(errors)
    return int(per_page), int(page)


def paged(items: list[dict[str, Any]], base: str) -> Response:
    """A JSON array, with ``Link: <...>; rel="next"`` when there is more (Freshdesk's only hint)."""
    per_page, page = page_args()
    chunk = items[(page - 1) * per_page : page * per_page]
    headers = {}
    if page * per_page < len(items):
        args = {**request.args.to_dict(), "page": str(page + 1), "per_page": str(per_page)}
        headers["Link"] = f'<{base}{request.path}?{urlencode(args)}>; rel="next"'
    return json_response(chunk, 200, headers)


def parse_query(query: str, allowed: Sequence[str]) -> Query:
    """``"a:1 AND b:'x' OR cf_c:null"`` → OR of ANDs of (field, value); parentheses are not simulated."""
    if len(query) < 2 or query[0] != '"' or query[-1] != '"' or len(query) > QUERY_MAX:
        message = f"It should be a string in double quotes of at most {QUERY_MAX} characters"  # best effort wording
        raise invalid([error("query", message, "invalid_value")])
    alternatives = []
    for alternative in re.split(r"\s+OR\s+", query[1:-1].strip()):
        terms = []
        for text in re.split(r"\s+AND\s+", alternative):
            match = _TERM.fullmatch(text)
            if match is None or not (match[1] in allowed or match[1].startswith("cf_")):
                raise invalid([error("query", f"Invalid query term: {text[:60]}", "invalid_value")])
            raw = match[2]
            terms.append((match[1], raw[1:-1].replace("\\'", "'") if raw.startswith("'") else json.loads(raw)))
        alternatives.append(terms)
    return alternatives


def matches(record: dict[str, Any], query: Query) -> bool:
    """Whether a ticket or contact satisfies a parsed query (``tag`` looks into ``tags``)."""

    def value(field: str) -> Any:
        if field.startswith("cf_"):
            return (record.get("custom_fields") or {}).get(field)
        return record.get("tags") if field == "tag" else record.get({"agent_id": "responder_id"}.get(field, field))

    def term(field: str, wanted: Any) -> bool:
        have = value(field)
        return wanted in have if isinstance(have, list) else bool(have == wanted)

    return any(all(term(f, v) for f, v in terms) for terms in query)
