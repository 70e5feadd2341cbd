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

from bridge.setup import ZENDESK_SECRET_SETTING, ZENDESK_USER_SECRET_SETTING
from bridge.store import Store
from webhooks import signatures
from webhooks.common import json_body, state, storage
from webhooks.zendesk_users import UserChange, is_user_event, user_change

log = logging.getLogger(__name__)
bp = Blueprint("zendesk", __name__)

TICKET_EVENT_PREFIX = "zen:event-type:ticket."


STORED_SECRET_TTL = 60.0  # seconds the secret `socialdesk setup zendesk` stored is reused before it is read again
STORED_SECRETS = (ZENDESK_SECRET_SETTING, ZENDESK_USER_SECRET_SETTING)  # each Zendesk webhook has a secret of its own
STORED_SECRET_RECHECK = 5.0  # a signature no known secret matches reads it again, at most this often (rotation)


@bp.post("/webhooks/zendesk")
def receive() -> tuple[Response, int]:
    raw = request.get_data(cache=False)
    if not verified(raw):
        log.warning("zendesk webhook: signature or timestamp check failed")
        abort(401, "invalid signature")
    body = json_body(raw)
    if isinstance(body, dict) and is_user_event(body):
        return _user_event(user_change(body))
    ticket_id = ticket_id_of(body)
    if ticket_id is None:
        return jsonify(ok=True, ignored=True), 200
    invocation = request.headers.get("X-Zendesk-Webhook-Invocation-Id") or hashlib.sha256(raw).hexdigest()
    with storage(f"store the zendesk webhook for ticket {ticket_id}"):
        new = state().store.record_ticket_event("zendesk", ticket_id, invocation)
    return jsonify(ok=True, ticket_id=ticket_id, duplicate=not new), 200


def _user_event(change: UserChange | None) -> tuple[Response, int]:
    """A user merged, deleted or made inactive: the identities remembered on it forgotten, in the request (one
    store write, no helpdesk call), before the 200; any other user event ignored with its reason."""
    if change is None:
        abort(400, "missing or invalid user id (expected subject zen:user:<id> or detail.id)")
    if change.retired is None:
        log.info("zendesk webhook: user %s: ignored: %s", change.user_id, change.ignored)
        return jsonify(ok=True, ignored=True, reason=change.ignored), 200
    with storage(f"forget the identities of zendesk user {change.user_id}"):
        forgotten = state().store.forget_helpdesk_user("zendesk", change.user_id)
    log.info("zendesk user %s %s: %d remembered identities forgotten (their next message finds or makes the user "
             "by its key)", change.user_id, change.retired, forgotten)  # fmt: skip
    return jsonify(ok=True, user_id=change.user_id, forgotten=forgotten), 200


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
        secrets = stored.get(max_age=STORED_SECRET_TTL)
        if secrets and signatures.verify_zendesk(raw, signature, timestamp, list(secrets)):
            return True
        fresh = stored.get(max_age=STORED_SECRET_RECHECK)  # just rotated by `socialdesk setup zendesk`?
    return bool(fresh) and fresh != secrets and signatures.verify_zendesk(raw, signature, timestamp, list(fresh))


class StoredSecret:
    """The webhooks' secrets ``socialdesk setup zendesk`` stored (the ticket webhook's, the user-events
    webhook's: each Zendesk webhook has its own), read from the store only when the copy held is older than the
    caller allows (a store failure propagates: the caller answers 503)."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._store, self._clock = store, clock
        self._value: tuple[str, ...] = ()
        self._read_at = -math.inf

    def get(self, *, max_age: float) -> tuple[str, ...]:
        if self._clock() - self._read_at >= max_age:
            read = self._store.settings_of(STORED_SECRETS)  # one read for both
            self._value = tuple(read[key] for key in STORED_SECRETS if key in read)
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
