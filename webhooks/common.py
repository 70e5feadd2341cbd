"""What every blueprint shares: the app's state, strict JSON decoding, one durable write, the answer."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from flask import Response, abort, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from bridge.config import ChannelConfig, Config
from bridge.errors import Unavailable
from bridge.events import SocialEvent
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
    """Decode a verified body; a 415 for the wrong content type and a 400 for broken JSON."""
    if request.mimetype != "application/json":
        abort(415, "expected Content-Type: application/json")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        abort(400, "body is not valid JSON")


def store_events(events: list[SocialEvent]) -> int:
    """The one durable write of the request path; a storage failure is a 503 so the platform redelivers."""
    try:
        return state().store.ingest(events)
    except (Unavailable, SQLAlchemyError):
        log.exception("could not store %d events", len(events))
        abort(503, "storage unavailable, retry later")


def ack(stored: int, received: int) -> tuple[Response, int]:
    if received and not stored:
        log.info("redelivery: %d events already stored", received)
    return jsonify(ok=True, received=received, stored=stored), 200
