"""Facebook pages (``object: "page"``): feed changes (comments, visitor posts) and Messenger events."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from bridge.config import ChannelConfig
from bridge.events import Attachment, Author, SocialEvent, platform_time
from webhooks.meta.fields import attachments, dicts, obj, required, text

log = logging.getLogger(__name__)

_FEED_VERBS = {"add": "comment", "edited": "edit", "edit": "edit", "remove": "remove", "hide": "remove"}
#: A visitor's words on the page: comments, and posts (text, or a photo, a video or a link with a message).
_FEED_ITEMS = ("comment", "post", "status", "photo", "video", "share")
_LINKED = {"photo": "image", "video": "video", "share": "link"}  # the item's ``link`` is its file or page


def parse_page_entry(entry: dict[str, Any], channel: ChannelConfig) -> Iterator[SocialEvent]:
    """The customer events of one page entry: feed comments and posts, Messenger messages and edits."""
    for change in dicts(entry, "changes"):
        if change.get("field") == "feed" and isinstance(change.get("value"), dict):
            event = _feed_event(change["value"], channel)
            if event is not None:
                yield event
        else:
            log.info("meta webhook: field %r ignored", change.get("field"))
    for messaging in dicts(entry, "messaging"):
        event = _messenger_event(messaging, channel)
        if event is not None:
            yield event


def _feed_event(value: dict[str, Any], channel: ChannelConfig) -> SocialEvent | None:
    item, verb = value.get("item"), value.get("verb")
    if item not in _FEED_ITEMS or not isinstance(verb, str) or verb not in _FEED_VERBS:
        log.info("meta webhook: feed %s/%s ignored", item, verb)
        return None
    author_id = text(value["from"].get("id") if isinstance(value.get("from"), dict) else value.get("sender_id"))
    if author_id == channel.account_id:
        return None  # the page itself: our own reply, or a post by the brand
    post_id = required(value, "post_id")
    if item == "comment":
        object_id = required(value, "comment_id")
        parent = text(value.get("parent_id")) or post_id
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
        author=Author(id=author_id or "unknown", name=text(name)),
        text=text(value.get("message")) or "",
        created_at=platform_time(value.get("created_time")),
        reply_to=reply_to,
        url=_permalink(value, post_id, object_id if item == "comment" else None),
        context=f"post {post_id}",
        attachments=_media(value, item),
    )


def _messenger_event(messaging: dict[str, Any], channel: ChannelConfig) -> SocialEvent | None:
    sender = text(obj(messaging, "sender").get("id"))
    message = messaging.get("message")
    edit = messaging.get("message_edit")
    if sender is None or sender == channel.account_id:
        return None
    if isinstance(message, dict) and not message.get("is_echo") and message.get("mid"):
        kind, mid, body = "message", str(message["mid"]), text(message.get("text")) or ""
    elif isinstance(edit, dict) and edit.get("mid"):
        kind, mid, body = "edit", f"{edit['mid']}#edit{edit.get('num_edit', '')}", text(edit.get("text")) or ""
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
        text=body,
        created_at=platform_time(messaging.get("timestamp")),
        reply_to=sender,
        attachments=attachments(message.get("attachments") if isinstance(message, dict) else None),
    )


def _media(value: dict[str, Any], item: str) -> tuple[Attachment, ...]:
    """What a feed change links to: a comment's or a status's ``photo`` or ``photos``; the ``link`` of a photo,
    video or shared-link post (restfb's recorded ``feed-photo-add-message.json``, ``feed-video-add.json``)."""
    photos = value.get("photos")
    found = [(url, "image") for url in [value.get("photo"), *(photos if isinstance(photos, list) else [])]]
    if item in _LINKED:
        found.append((value.get("link"), _LINKED[item]))
    return tuple(
        Attachment(url=url, kind=kind) for url, kind in found if isinstance(url, str) and url.startswith("http")
    )


def _permalink(value: dict[str, Any], post_id: str, comment_id: str | None) -> str:
    post = value.get("post")
    if isinstance(post, dict) and isinstance(post.get("permalink_url"), str):
        return str(post["permalink_url"])
    base = f"https://www.facebook.com/{post_id}"
    return f"{base}?comment_id={comment_id.rsplit('_', 1)[-1]}" if comment_id else base
