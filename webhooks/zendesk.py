"""``/webhooks/zendesk``: "ticket T changed", from an event subscription or a trigger.

The body is only a hint: the worker fetches the ticket's comments itself. Both shapes are accepted:
the event-subscription envelope (``type: zen:event-type:ticket.comment_added``, ``detail.id``) and a
trigger-connected JSON body with at least ``{"ticket_id": "{{ticket.id}}"}``. Invocations are
deduplicated on ``X-Zendesk-Webhook-Invocation-Id``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request

from bridge.setup import ZENDESK_SECRET_SETTING
from bridge.store import Store
from webhooks import signatures
from webhooks.common import json_body, state, storage

log = logging.getLogger(__name__)
bp = Blueprint("zendesk", __name__)

TICKET_EVENT_PREFIX = "zen:event-type:ticket."


STORED_SECRET_TTL = 60.0  # seconds the secret `socialdesk setup zendesk` stored is reused before it is read again
STORED_SECRET_RECHECK = 5.0  # a signature no known secret matches reads it again, at most this often (rotation)


@bp.post("/webhooks/zendesk")
def receive() -> tuple[Response, int]:
    raw = request.get_data(cache=False)
    if not verified(raw):
        log.warning("zendesk webhook: signature or timestamp check failed")
        abort(401, "invalid signature")
    ticket_id = ticket_id_of(json_body(raw))
    if ticket_id is None:
        return jsonify(ok=True, ignored=True), 200
    invocation = request.headers.get("X-Zendesk-Webhook-Invocation-Id") or hashlib.sha256(raw).hexdigest()
    with storage(f"store the zendesk webhook for ticket {ticket_id}"):
        new = state().store.record_ticket_event("zendesk", ticket_id, invocation)
    return jsonify(ok=True, ticket_id=ticket_id, duplicate=not new), 200


def verified(raw: bytes) -> bool:
    """Check the signature with the configured secret, then with the stored one (rotation: both). An
    unsigned request is refused before any store read, and the stored secret is cached, so that requests
    no one signed cost no database read each, and a store that is down answers 503, not 500."""
    signature = request.headers.get("X-Zendesk-Webhook-Signature")
    timestamp = request.headers.get("X-Zendesk-Webhook-Signature-Timestamp")
    section = state().config.helpdesk_section
    if not signature or not timestamp or section.name != "zendesk":
        return False
    if signatures.verify_zendesk(raw, signature, timestamp, [section.secret("webhook_secret") or ""]):
        return True
    stored = _stored_secret()
    with storage("read the stored zendesk webhook secret"):
        secret = stored.get(max_age=STORED_SECRET_TTL)
        if secret and signatures.verify_zendesk(raw, signature, timestamp, [secret]):
            return True
        fresh = stored.get(max_age=STORED_SECRET_RECHECK)  # just rotated by `socialdesk setup zendesk`?
    return bool(fresh) and fresh != secret and signatures.verify_zendesk(raw, signature, timestamp, [fresh or ""])


class StoredSecret:
    """The webhook secret ``socialdesk setup zendesk`` stored, read from the store only when the copy
    held is older than the caller allows (a store failure propagates: the caller answers 503)."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._store, self._clock = store, clock
        self._value: str | None = None
        self._read_at = -math.inf

    def get(self, *, max_age: float) -> str | None:
        if self._clock() - self._read_at >= max_age:
            self._value = self._store.setting(ZENDESK_SECRET_SETTING)
            self._read_at = self._clock()
        return self._value


def _stored_secret() -> StoredSecret:
    extensions = current_app.extensions
    if "socialdesk.zendesk_secret" not in extensions:
        extensions["socialdesk.zendesk_secret"] = StoredSecret(state().store)
    return extensions["socialdesk.zendesk_secret"]  # type: ignore[no-any-return]


def ticket_id_of(body: Any) -> str | None:
    """The ticket id from either body shape; None for events that concern no ticket reply."""
    if not isinstance(body, dict):
        abort(400, "expected a JSON object")
    event_type = body.get("type")
    if isinstance(event_type, str):
        if not event_type.startswith(TICKET_EVENT_PREFIX):
            log.info("zendesk webhook: %s ignored", event_type[:80])
            return None
        detail = body.get("detail")
        value = detail.get("id") if isinstance(detail, dict) else None
    else:
        value = body.get("ticket_id")
    text = str(value) if isinstance(value, int | str) else ""
    if not text.isdigit():
        abort(400, "missing or invalid ticket id (expected detail.id or ticket_id)")
    return text
