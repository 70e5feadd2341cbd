"""``/webhooks/meta``: Facebook pages and Messenger (Instagram and WhatsApp plug in here too).

The view verifies ``X-Hub-Signature-256`` on the raw body before parsing, turns every entry and
every change or messaging event into :class:`bridge.events.SocialEvent`, stores them in one write,
and answers 200. The parsers are pure functions of the payload and the configured channels.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, Response, abort, request

from bridge.config import ChannelConfig
from bridge.events import Attachment, Author, SocialEvent, utc_from_epoch
from webhooks import signatures
from webhooks.common import ack, channels, json_body, store_events

log = logging.getLogger(__name__)
bp = Blueprint("meta", __name__)

META_PLATFORMS = ("facebook", "instagram", "whatsapp")
Parser = Callable[[dict[str, Any], ChannelConfig], Iterator[SocialEvent]]


@bp.get("/webhooks/meta")
def verify_subscription() -> Response | str:
    """Meta's subscription handshake: echo ``hub.challenge`` when the verify token matches."""
    tokens = [c.secret("verify_token") or "" for c in channels(*META_PLATFORMS)]
    if request.args.get("hub.mode") != "subscribe":
        abort(400, "hub.mode must be subscribe")
    if not signatures.verify_shared_secret(request.args.get("hub.verify_token"), tokens):
        abort(403, "verify token mismatch")
    return request.args.get("hub.challenge", "")


@bp.post("/webhooks/meta")
def receive() -> tuple[Response, int]:
    raw = request.get_data(cache=False)
    secrets = sorted({c.secret("app_secret") or "" for c in channels(*META_PLATFORMS)})
    if not signatures.verify_meta(raw, request.headers.get("X-Hub-Signature-256"), secrets):
        log.warning("meta webhook: signature check failed")
        abort(401, "invalid signature")
    payload = json_body(raw)
    events = list(parse(payload, channels(*META_PLATFORMS)))
    return ack(store_events(events), len(events))


def parse(payload: Any, configured: list[ChannelConfig]) -> Iterator[SocialEvent]:
    """Every customer event in a Meta webhook body, for the channels we know; echoes dropped."""
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        abort(400, "expected an object with an entry array")
    kind = payload.get("object")
    if kind not in PARSERS and kind not in KNOWN_OBJECTS:
        abort(400, f"unsupported object {str(kind)[:40]!r}")
    if kind not in PARSERS:
        log.info("meta webhook: object %r is not handled by this version; acknowledged and ignored", kind)
        return
    platform, parser = PARSERS[kind]
    by_account = {c.account_id: c for c in configured if c.platform == platform}
    for entry in payload["entry"]:
        if not isinstance(entry, dict):
            abort(400, "entry items must be objects")
        channel = by_account.get(str(entry.get("id")))
        if channel is None:
            log.info("meta webhook: no %s channel for account %s; ignored", platform, entry.get("id"))
            continue
        yield from parser(entry, channel)


# -- Facebook pages: feed changes and Messenger ----------------------------------------------------------


def parse_page_entry(entry: dict[str, Any], channel: ChannelConfig) -> Iterator[SocialEvent]:
    for change in _list(entry, "changes"):
        if change.get("field") == "feed" and isinstance(change.get("value"), dict):
            event = _feed_event(change["value"], channel)
            if event is not None:
                yield event
        else:
            log.info("meta webhook: field %r ignored", change.get("field"))
    for messaging in _list(entry, "messaging"):
        event = _messenger_event(messaging, channel)
        if event is not None:
            yield event


_FEED_VERBS = {"add": "comment", "edited": "edit", "edit": "edit", "remove": "remove", "hide": "remove"}


def _feed_event(value: dict[str, Any], channel: ChannelConfig) -> SocialEvent | None:
    item, verb = value.get("item"), value.get("verb")
    if item not in ("comment", "post", "status") or verb not in _FEED_VERBS:
        log.info("meta webhook: feed %s/%s ignored", item, verb)
        return None
    author_id = _str(value.get("from", {}).get("id") if isinstance(value.get("from"), dict) else value.get("sender_id"))
    if author_id == channel.account_id:
        return None  # the page itself: our own reply, or a post by the brand
    post_id = _required(value, "post_id")
    if item == "comment":
        object_id = _required(value, "comment_id")
        parent = _str(value.get("parent_id")) or post_id
        top = object_id if parent == post_id else parent
        thread_id, reply_to = f"comment:{top}", top
    else:
        object_id, thread_id, reply_to = post_id, f"post:{post_id}", post_id
    # an edit or removal of the same comment must not collide with the original's unique key
    message_id = object_id if verb == "add" else f"{object_id}#{verb}@{value.get('created_time', '')}"
    name = value["from"].get("name") if isinstance(value.get("from"), dict) else value.get("sender_name")
    return SocialEvent(
        platform="facebook",
        channel=channel.name,
        account_id=channel.account_id,
        message_id=message_id,
        thread_id=thread_id,
        kind=_FEED_VERBS[verb],  # type: ignore[arg-type]
        author=Author(id=author_id or "unknown", name=_str(name)),
        text=_str(value.get("message")) or "",
        created_at=utc_from_epoch(float(value.get("created_time") or 0) or time.time()),
        reply_to=reply_to,
        url=_permalink(value, post_id, object_id if item == "comment" else None),
        context=f"post {post_id}",
        attachments=_photo(value),
    )


def _messenger_event(messaging: dict[str, Any], channel: ChannelConfig) -> SocialEvent | None:
    sender = _str((messaging.get("sender") or {}).get("id"))
    message = messaging.get("message")
    edit = messaging.get("message_edit")
    if sender is None or sender == channel.account_id:
        return None
    if isinstance(message, dict) and not message.get("is_echo") and message.get("mid"):
        kind, mid, text = "message", str(message["mid"]), _str(message.get("text")) or ""
    elif isinstance(edit, dict) and edit.get("mid"):
        kind, mid, text = "edit", f"{edit['mid']}#edit{edit.get('num_edit', '')}", _str(edit.get("text")) or ""
    else:
        return None  # echoes, reads, deliveries, reactions, postbacks: nothing for a ticket
    return SocialEvent(
        platform="facebook",
        channel=channel.name,
        account_id=channel.account_id,
        message_id=mid,
        thread_id=f"messenger:{sender}",
        kind=kind,  # type: ignore[arg-type]
        author=Author(id=sender),
        text=text,
        created_at=utc_from_epoch(float(messaging.get("timestamp") or 0) or time.time()),
        reply_to=sender,
        attachments=_attachments(message.get("attachments") if isinstance(message, dict) else None),
    )


def _attachments(items: Any) -> tuple[Attachment, ...]:
    found = []
    for item in items if isinstance(items, list) else []:
        payload = item.get("payload") if isinstance(item, dict) else None
        url = (payload or {}).get("url") if isinstance(payload, dict) else None
        url = url or (item.get("url") if isinstance(item, dict) else None)
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            title = payload.get("title") if isinstance(payload, dict) else None
            found.append(Attachment(url=url, kind=str(item.get("type", "file")), name=_str(title)))
    return tuple(found)


def _photo(value: dict[str, Any]) -> tuple[Attachment, ...]:
    photo = value.get("photo")
    return (Attachment(url=photo, kind="image"),) if isinstance(photo, str) and photo.startswith("http") else ()


def _permalink(value: dict[str, Any], post_id: str, comment_id: str | None) -> str:
    post = value.get("post")
    if isinstance(post, dict) and isinstance(post.get("permalink_url"), str):
        return str(post["permalink_url"])
    base = f"https://www.facebook.com/{post_id}"
    return f"{base}?comment_id={comment_id.rsplit('_', 1)[-1]}" if comment_id else base


# -- helpers ---------------------------------------------------------------------------------------------


def _list(entry: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = entry.get(key, [])
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return None if value is None or isinstance(value, dict | list) else str(value)


def _required(value: dict[str, Any], key: str) -> str:
    found = _str(value.get(key))
    if not found:
        abort(400, f"missing {key}")
    return found


#: Objects Meta sends that are valid but not (yet) turned into events here.
KNOWN_OBJECTS = frozenset({"instagram", "whatsapp_business_account", "user", "permissions", "application"})

PARSERS: dict[str, tuple[str, Parser]] = {
    "page": ("facebook", parse_page_entry),
}
