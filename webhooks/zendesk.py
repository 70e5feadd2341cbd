"""``/webhooks/zendesk``: "ticket T changed", from an event subscription or a trigger.

The body is only a hint: the worker fetches the ticket's comments itself. Both shapes are accepted:
the event-subscription envelope (``type: zen:event-type:ticket.comment_added``, ``detail.id``) and a
trigger-connected JSON body with at least ``{"ticket_id": "{{ticket.id}}"}``. Invocations are
deduplicated on ``X-Zendesk-Webhook-Invocation-Id``.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from bridge.setup import ZENDESK_SECRET_SETTING
from webhooks import signatures
from webhooks.common import json_body, state, storage

log = logging.getLogger(__name__)
bp = Blueprint("zendesk", __name__)

TICKET_EVENT_PREFIX = "zen:event-type:ticket."


@bp.post("/webhooks/zendesk")
def receive() -> tuple[Response, int]:
    raw = request.get_data(cache=False)
    secrets = webhook_secrets()
    if not signatures.verify_zendesk(
        raw,
        request.headers.get("X-Zendesk-Webhook-Signature"),
        request.headers.get("X-Zendesk-Webhook-Signature-Timestamp"),
        secrets,
    ):
        log.warning("zendesk webhook: signature or timestamp check failed")
        abort(401, "invalid signature")
    ticket_id = ticket_id_of(json_body(raw))
    if ticket_id is None:
        return jsonify(ok=True, ignored=True), 200
    invocation = request.headers.get("X-Zendesk-Webhook-Invocation-Id") or hashlib.sha256(raw).hexdigest()
    with storage(f"store the zendesk webhook for ticket {ticket_id}"):
        new = state().store.record_ticket_event("zendesk", ticket_id, invocation)
    return jsonify(ok=True, ticket_id=ticket_id, duplicate=not new), 200


def webhook_secrets() -> list[str]:
    """The configured signing secret and the one `socialdesk setup zendesk` stored (rotation: both)."""
    section = state().config.helpdesk_section
    if section.name != "zendesk":
        return []
    stored = state().store.setting(ZENDESK_SECRET_SETTING)
    return [s for s in (section.secret("webhook_secret"), stored) if s]


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
