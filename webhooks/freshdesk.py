"""``/webhooks/freshdesk``: "ticket T changed", from an automation rule's "Trigger webhook" action.

Freshdesk does not sign its webhooks. The action is configured with a custom header,
``X-Socialdesk-Secret: <freshdesk.webhook_secret>``, compared in constant time; anything else gets 401.
The body is only a hint: the worker fetches the ticket's conversations itself. Two shapes are accepted:
the simple content mode ``{"freshdesk_webhook": {"ticket_id": ...}}`` and an advanced JSON body with at
least ``{"ticket_id": "{{ticket.id}}"}``. Recommended advanced body, so that every reply gives a
different body::

    {"ticket_id": "{{ticket.id}}", "latest_public_comment": "{{ticket.latest_public_comment}}"}

Deduplication. Freshdesk sends no delivery id, and retries a delivery that failed or timed out. The
invocation id is a hash of the raw body (and of ``X-Socialdesk-Delivery`` when the action sets one)
plus the current minute: a retry of the same body within the minute is recorded once. A repeat is
only harmless while the earlier event is still waiting for a worker, because that worker will fetch
every conversation, including the reply behind the repeat. If the earlier event has already been
picked up, the repeat may carry a reply that arrived after the worker's fetch (an agent answering
twice within a minute, with a body that does not change per reply): it is then recorded as new work
under a unique id. A needless extra fetch costs one API call; a swallowed reply would never reach the
customer.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from webhooks import signatures
from webhooks.common import json_body, state, storage

log = logging.getLogger(__name__)
bp = Blueprint("freshdesk", __name__)

SECRET_HEADER = "X-Socialdesk-Secret"
DELIVERY_HEADER = "X-Socialdesk-Delivery"  # optional: whatever the automation puts there
DEDUPE_WINDOW = 60  # seconds: a repeated identical body within this bucket is the same delivery
BAD_TICKET_ID = "missing or invalid ticket id (expected freshdesk_webhook.ticket_id or ticket_id)"


@bp.post("/webhooks/freshdesk")
def receive() -> tuple[Response, int]:
    raw = request.get_data(cache=False)
    section = state().config.helpdesk_section
    secrets = [section.secret("webhook_secret") or ""] if section.name == "freshdesk" else []
    if not signatures.verify_shared_secret(request.headers.get(SECRET_HEADER), secrets):
        log.warning("freshdesk webhook: missing or wrong %s header", SECRET_HEADER)
        abort(401, "invalid signature")
    ticket_id = ticket_id_of(json_body(raw))
    invocation = invocation_id(raw, request.headers.get(DELIVERY_HEADER), time.time())
    with storage(f"store the freshdesk webhook for ticket {ticket_id}"):
        new = record(ticket_id, invocation)
    return jsonify(ok=True, ticket_id=ticket_id, duplicate=not new), 200


def ticket_id_of(body: Any) -> str:
    """The ticket id from either body shape: a number, or a string of digits."""
    if not isinstance(body, dict):
        abort(400, "expected a JSON object")
    inner = body.get("freshdesk_webhook")
    value = inner.get("ticket_id") if isinstance(inner, dict) else body.get("ticket_id")
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not (text.isascii() and text.isdigit() and len(text) <= 20):
        abort(400, BAD_TICKET_ID)
    return text


def invocation_id(raw: bytes, delivery: str | None, now: float) -> str:
    """``sha256(delivery header, body):<minute>``: the same body within the same minute is one delivery."""
    digest = hashlib.sha256((delivery or "").encode("utf-8", "backslashreplace") + b"\n" + raw).hexdigest()
    return f"{digest}:{int(now // DEDUPE_WINDOW)}"


def record(ticket_id: str, invocation: str) -> bool:
    """Record the event; True when it is new work. A repeat is new work unless an earlier event for the
    ticket still waits for a worker (see the module docstring)."""
    store = state().store
    if store.record_ticket_event("freshdesk", ticket_id, invocation):
        return True
    waiting = store.rows("ticket_events", helpdesk="freshdesk", ticket_id=ticket_id, status="pending")
    if any(row["dispatched_at"] is None for row in waiting):
        return False
    return store.record_ticket_event("freshdesk", ticket_id, f"{invocation}:{uuid.uuid4().hex}")
