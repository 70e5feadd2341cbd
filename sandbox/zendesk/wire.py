"""What the Zendesk simulator's answers share: error bodies, request decoding, comment text, pagination.

Error bodies are Zendesk's ``{"error", "description"}`` (``RecordInvalid`` adds ``details``), except the
webhooks API's JSON:API-style ``errors``. Lists page by offset (``page``, ``per_page``) or by cursor
(``page[size]``, ``page[after]``, ``page[before]``), with absolute links on the simulator's own host.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Response, has_request_context, request

from sandbox.base import Simulator, json_response

MAX_PAGE = 100
MAX_MANY = 100


class ApiError(Exception):
    """Raised inside a handler: answer with this Zendesk error body."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.response = json_response(body, status, headers)


def record_invalid(field: str, description: str, error: str = "InvalidValue") -> ApiError:
    details = {field: [{"description": description, "error": error}]}
    return ApiError(422, {"error": "RecordInvalid", "description": "Record validation errors", "details": details})


def not_found() -> ApiError:
    return ApiError(404, {"error": "RecordNotFound", "description": "Not found"})


def webhook_error(status: int, code: str, detail: str) -> ApiError:
    """The webhooks API answers JSON:API-style ``errors`` (best effort: no recorded sample)."""
    return ApiError(status, {"errors": [{"code": code, "title": code, "detail": detail}]})


def forbidden() -> ApiError:
    """A user not allowed to do this: the body of Zendesk's 403 as captured from real accounts (a Zendesk
    community post, "Create User REST API getting - 403 Forbidden"; the same body for other endpoints)."""
    message = (
        "You do not have access to this page. Please contact the account owner of this help desk for further help."
    )
    return ApiError(403, {"error": {"title": "Forbidden", "message": message}})


def imports_disabled() -> ApiError:
    """Bulk user imports off, as on a default account: "a 403 Forbidden error is returned if data imports are
    not enabled" (users API, CreateOrUpdateManyUsers). Zendesk documents no body; this one is what a
    third-party catalogue of the API reports (withone.ai, "Create or Update Many Users"): best effort."""
    return ApiError(403, {"error": "Forbidden", "message": "Data imports are not enabled"})


def too_many_values() -> ApiError:
    # Verbatim from Zendesk (fixtures/zendesk/error_400_TooManyValues_create_many.response.json), double space included.
    body = {"error": "TooManyValues", "description": "Parameter  cannot specify more than 100 values", "max_count": 100}
    return ApiError(400, body)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def html_of(body: str) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", body.strip()) if p] or [""]
    inner = "".join(f'<p dir="auto">{html.escape(p).replace(chr(10), "<br>")}</p>' for p in paragraphs)
    return f'<div class="zd-comment" dir="auto">{inner}</div>'


def text_of(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"</p>|<br\s*/?>", "\n", markup))).strip()


def normalise_tags(tags: Any) -> list[str]:
    """Zendesk tags are lower case, without spaces (a space separates two tags), unique."""
    words = " ".join(tags if isinstance(tags, list) else str(tags or "").split()).lower().split()
    return list(dict.fromkeys(str(w) for w in words))


def json_body() -> dict[str, Any]:
    try:
        body = json.loads(request.get_data() or b"{}")
    except ValueError:
        raise ApiError(400, {"error": "Unprocessable Entity", "message": "Server could not parse JSON"}) from None
    return body if isinstance(body, dict) else {}


def payload(key: str) -> dict[str, Any]:
    """The JSON object under ``key`` in the request body (best effort error body when it is missing)."""
    value = json_body().get(key)
    if not isinstance(value, dict):
        raise ApiError(400, {"error": "InvalidParameter", "description": f"Parameter {key} is required"})
    return value


def as_id(value: Any) -> int | None:
    """An id as Zendesk accepts it: a number, or a string of digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else None


def int_arg(name: str, default: int) -> int:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else default


Sideload = Callable[[list[dict[str, Any]]], dict[str, Any]]


class Paging(Simulator):
    """Links on the simulator's own host, and offset or cursor pagination; the resource mixins build on it."""

    def _base(self) -> str:
        if has_request_context():
            return request.host_url.rstrip("/")
        return self.url

    # -- pagination ----------------------------------------------------------------------------------------

    def _page(
        self, key: str, items: list[dict[str, Any]], extra: Sideload | None = None, *, cursor_only: bool = False
    ) -> Response:
        """Cursor pagination when ``page[size]``/``page[after]`` is asked for, offset pagination otherwise."""
        cursor = cursor_only or any(k.startswith("page[") for k in request.args)
        body = self._cursor_page(key, items) if cursor else self._offset_page(key, items)
        if extra is not None:
            body.update(extra(body[key]))
        return json_response(body)

    def _link(self, **changes: Any) -> str:
        args = {k: v for k, v in request.args.items() if k not in changes}
        args.update({k: str(v) for k, v in changes.items() if v is not None})
        return f"{self._base()}{request.path}?{urlencode(args)}"

    def _offset_page(self, key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        per_page = min(max(int_arg("per_page", MAX_PAGE), 1), MAX_PAGE)
        page = max(int_arg("page", 1), 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        more = page * per_page < len(items)
        return {
            key: chunk,
            "next_page": self._link(page=page + 1, per_page=per_page) if more else None,
            "previous_page": self._link(page=page - 1, per_page=per_page) if page > 1 else None,
            "count": len(items),
        }

    def _cursor_page(self, key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        size = min(max(int_arg("page[size]", MAX_PAGE), 1), MAX_PAGE)
        start = _decode_cursor(request.args.get("page[after]"), 0)
        if "page[before]" in request.args:
            start = max(0, _decode_cursor(request.args.get("page[before]"), 0) - size)
        chunk, more = items[start : start + size], start + size < len(items)
        after, before = _encode_cursor(start + len(chunk)), _encode_cursor(start)
        return {
            key: chunk,
            "meta": {"has_more": more, "after_cursor": after if chunk else None, "before_cursor": before},
            "links": {
                "next": self._link(**{"page[after]": after, "page[before]": None}) if more else None,
                "prev": self._link(**{"page[before]": before, "page[after]": None}) if start else None,
            },
        }


def _encode_cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"i{index}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None, default: int) -> int:
    if not cursor:
        return default
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError:
        raise ApiError(400, {"error": "InvalidPaginationParameter", "description": "invalid cursor"}) from None
    if not (text.startswith("i") and text[1:].isdigit()):
        raise ApiError(400, {"error": "InvalidPaginationParameter", "description": "invalid cursor"})
    return int(text[1:])
