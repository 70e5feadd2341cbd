"""``/webhooks/generic/<channel name>``: messages from an own channel (a website, an app, anything).

The body is one message as described by the JSON schema shipped beside this module,
``webhooks/schemas/generic_message.json`` (required: ``message_id``, ``thread_id``, ``author.id``,
``author.name``, ``text``, ``timestamp``; optional: ``author.email``, ``author.phone`` and more). The
request is signed with the channel's ``secret``: ``X-Socialdesk-Timestamp`` (Unix seconds) and
``X-Socialdesk-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``, refused when more
than five minutes off. Replies go the other way to the channel's ``callback_url``, signed the same
way (:mod:`connectors.http`).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
from flask import Blueprint, Response, abort, request

from bridge.config import ChannelConfig
from bridge.events import Attachment, Author, SocialEvent
from webhooks import signatures
from webhooks.common import ack, json_body, state, store_events

log = logging.getLogger(__name__)
bp = Blueprint("generic", __name__)

SCHEMA_FILE = "schemas/generic_message.json"
MAX_ERROR = 200


@bp.post("/webhooks/generic/<name>")
def receive(name: str) -> tuple[Response, int]:
    raw = request.get_data(cache=False)
    channel = state().config.channel(name)
    if channel is None or channel.platform != "generic":
        abort(404, "unknown channel")
    signature, timestamp = request.headers.get("X-Socialdesk-Signature"), request.headers.get("X-Socialdesk-Timestamp")
    if not signatures.verify_generic(raw, signature, timestamp, [channel.secret("secret") or ""]):
        log.warning("generic webhook %s: signature or timestamp check failed", name)
        abort(401, "invalid signature")
    event = parse(json_body(raw), channel)
    return ack(store_events([event]), 1)


@cache
def schema() -> dict[str, Any]:
    """The message schema, read once from the package."""
    text = resources.files("webhooks").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator() -> jsonschema.protocols.Validator:
    return jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def account_of(channel: ChannelConfig) -> str:
    """The account part of the channel's thread keys: ``account_id``, else the channel's name."""
    return channel.account_id or channel.name


def parse(message: Any, channel: ChannelConfig) -> SocialEvent:
    """Validate one message against the schema and turn it into an event; 400 with the first problem."""
    problem = jsonschema.exceptions.best_match(_validator().iter_errors(message))
    if problem is not None:
        where = "/".join(str(p) for p in problem.absolute_path) or "message"
        abort(400, f"invalid message: {where}: {problem.message}"[:MAX_ERROR])
    author = message["author"]
    return SocialEvent(
        platform="generic",
        channel=channel.name,
        account_id=account_of(channel),
        message_id=message["message_id"],
        thread_id=message["thread_id"],
        kind=message.get("kind", "message"),
        author=Author(
            id=author["id"],
            name=author["name"],
            handle=author.get("handle"),
            email=author.get("email"),
            phone=author.get("phone"),
            profile_url=author.get("profile_url"),
        ),
        text=message["text"],
        created_at=_timestamp(message["timestamp"]),
        reply_to=message.get("reply_to") or message["message_id"],
        url=message.get("url"),
        attachments=tuple(
            Attachment(url=a["url"], kind=a.get("kind", "file"), name=a.get("name"))
            for a in message.get("attachments", [])
        ),
        extra=dict(message.get("extra", {})),
    )


def _timestamp(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00").replace("t", "T")).astimezone(UTC)
    except (ValueError, OverflowError):  # well formed, but impossible (month 13, year 1 at +01:00)
        abort(400, "invalid message: timestamp: not a valid date and time")
