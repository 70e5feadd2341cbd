"""What every blueprint shares: the app's state, strict JSON decoding, one durable write, the answer."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Response, abort, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from bridge import drivers
from bridge.config import ChannelConfig, Config
from bridge.errors import Unavailable, describe
from bridge.events import Ignored, SocialEvent
from bridge.store import Store

log = logging.getLogger(__name__)


@dataclass
class WebState:
    """Kept in ``app.extensions["socialdesk"]`` (never on ``self.app``)."""

    config: Config
    store: Store


def state() -> WebState:
    return current_app.extensions["socialdesk"]  # type: ignore[no-any-return]


def channels(*platforms: str) -> list[ChannelConfig]:
    return state().config.channels_for(*platforms)


def json_body(raw: bytes) -> Any:
    """Decode the verified body of the current request (see :func:`decode_json`)."""
    return decode_json(raw, request.mimetype)


def decode_json(raw: bytes, mimetype: str) -> Any:
    """Decode a verified body; a 415 for the wrong content type and a 400 for broken JSON."""
    if mimetype != "application/json":
        abort(415, "expected Content-Type: application/json")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):  # ValueError: also an int of > 4,300 digits
        abort(400, "body is not valid JSON")
    if not _SURROGATE_ESCAPE.search(raw):
        return data
    try:
        return _without_lone_surrogates(data)
    except RecursionError:
        abort(400, "body is nested too deeply")


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _without_lone_surrogates(value: Any) -> Any:
    """``"\\ud83d"`` alone (an emoji cut in half) decodes to a str no database can store: U+FFFD instead."""
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_without_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    return value


def json_type(value: Any) -> str:
    """The JSON type of a decoded value, for the reason a wrong-typed field is recorded with: never the value
    itself (it may be a customer's words)."""
    if isinstance(value, bool):
        return "a boolean"
    return _JSON_TYPES.get(type(value), "a value of another type")


_JSON_TYPES: dict[type, str] = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number"}


#: Seconds a sender is asked to wait after a storage failure (``Retry-After`` of the 503).
STORAGE_RETRY_AFTER = 30
#: What a failing store raises: the bridge's own error, SQLAlchemy's, and the drivers' own (which
#: SQLAlchemy does not wrap everywhere: a raw connection that cannot be opened raises psycopg's).
STORAGE_ERRORS: tuple[type[Exception], ...] = (Unavailable, SQLAlchemyError, sqlite3.Error, *drivers.database_errors())


@contextmanager
def storage(what: str) -> Iterator[None]:
    """A storage failure in the request path answers 503 with ``Retry-After``, so the sender delivers
    again later (never a 500: a platform may stop sending to an endpoint that fails). The line logged names
    the failure by its kind and first line (:func:`bridge.errors.describe`, as the worker does): a database
    error's whole text holds its SQL, its parameters and PostgreSQL's DETAIL, which quote keys (a WhatsApp
    thread key is the customer's phone number) and customers' values."""
    try:
        yield
    except STORAGE_ERRORS as e:
        log.error("could not %s: %s", what, describe(e))
        raise ServiceUnavailable("storage unavailable, retry later", retry_after=STORAGE_RETRY_AFTER) from e


def store_events(events: Sequence[SocialEvent | Ignored]) -> int:
    """Store the current request's events (see :func:`ingest`)."""
    return ingest(state().store, events)


def ingest(store: Store, events: Sequence[SocialEvent | Ignored]) -> int:
    """The one durable write of the request path: the customers' events, and what is recorded as ignored.
    Identifiers with a NUL character are refused here: PostgreSQL cannot store them, and a webhook failing
    at the store would be answered 503 and sent again forever (taking the webhooks that share its commit
    down with it)."""
    if any("\x00" in value for e in events for value in _identifiers(e)):
        abort(400, "identifiers must not contain NUL characters")
    with storage(f"store {len(events)} events"):
        return store.ingest(events)


def _identifiers(e: SocialEvent | Ignored) -> tuple[str, ...]:
    if isinstance(e, Ignored):
        return (e.account_id, e.message_id)
    return (e.account_id, e.message_id, e.thread_key, e.author.id)


def ack(stored: int, received: int) -> tuple[Response, int]:
    return jsonify(ack_body(stored, received)), 200


def ack_body(stored: int, received: int) -> dict[str, Any]:
    """The 200 answer to a webhook: how many events it held, how many were new (not redeliveries)."""
    if received and not stored:
        log.info("redelivery: %d events already stored", received)
    return {"ok": True, "received": received, "stored": stored}


def error_headers(e: HTTPException) -> list[tuple[str, str]]:
    """The headers an error answer carries besides its JSON: ``Retry-After`` or ``WWW-Authenticate`` where set."""
    return [(k, v) for k, v in e.get_headers() if k.lower() in ("retry-after", "www-authenticate")]


def error_body(e: HTTPException) -> dict[str, Any]:
    """The JSON of an error answer: the reason for a 4xx or 503, only the status name for a bug (500)."""
    return {"error": e.name if e.code == 500 else e.description}
