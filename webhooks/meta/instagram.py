"""Instagram professional accounts (``object: "instagram"``): comments, mentions and Direct messages.

==============================  ===========================  ===========================================
what                            thread_id                    reply_to (see connectors.meta)
==============================  ===========================  ===========================================
``changes[field=comments]``     ``comment:<top comment>``    the top-level comment (``/replies``)
``changes[field=mentions]``     ``mention:<comment|media>``  ``<media id>/<comment id>`` or ``<media id>``
``messaging[]`` (and the        ``dm:<IGSID>``               the customer's Instagram-scoped id
dashboard's ``field=messages``)
==============================  ===========================  ===========================================

Our own output is dropped here: comments whose author is the account, and ``is_echo`` messages.
Seen receipts, reactions, postbacks and referrals do not make tickets.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from bridge.config import ChannelConfig
from bridge.events import Attachment, Author, EventKind, SocialEvent, platform_time
from webhooks.meta.fields import attachments, dicts, obj, required, text

log = logging.getLogger(__name__)

PLATFORM = "instagram"
_MEDIA_NOUNS = {"FEED": "post", "REELS": "reel", "STORY": "story", "AD": "ad"}


def parse_instagram_entry(entry: dict[str, Any], channel: ChannelConfig) -> Iterator[SocialEvent]:
    """The customer events of one Instagram entry (``entry.id`` is the account's Instagram user id)."""
    at = platform_time(entry.get("time"))
    for change in dicts(entry, "changes"):
        event = _change_event(change, channel, at)
        if event is not None:
            yield event
    for messaging in dicts(entry, "messaging"):
        event = _message_event(messaging, channel)
        if event is not None:
            yield event


def _change_event(change: dict[str, Any], channel: ChannelConfig, at: datetime) -> SocialEvent | None:
    field, value = change.get("field"), obj(change, "value")
    if field == "comments":
        return _comment_event(value, channel, at)
    if field == "mentions":
        return _mention_event(value, channel, at)
    if field == "messages":  # the App Dashboard's test event puts a messaging event here
        return _message_event(value, channel)
    log.info("meta webhook: instagram field %r ignored", field)
    return None


def _comment_event(value: dict[str, Any], channel: ChannelConfig, at: datetime) -> SocialEvent | None:
    author = obj(value, "from")
    author_id = text(author.get("id"))
    if author_id == channel.account_id:
        return None  # the account itself: our own reply
    comment_id = required(value, "id", "comments.")
    top = text(value.get("parent_id")) or comment_id  # Instagram keeps two levels: the parent is the top
    media = obj(value, "media")
    noun = _MEDIA_NOUNS.get(str(media.get("media_product_type")), "media")
    return _event(
        channel,
        message_id=comment_id,
        thread_id=f"comment:{top}",
        kind="comment",
        author=Author(id=author_id or "unknown", handle=text(author.get("username"))),
        body=text(value.get("text")) or "",
        at=at,
        reply_to=top,
        context=f"{noun} {media.get('id')}" if media.get("id") else None,
    )


def _mention_event(value: dict[str, Any], channel: ChannelConfig, at: datetime) -> SocialEvent:
    """A mention says where, not who or what: the text has to be read on Instagram (or through the API)."""
    media_id = required(value, "media_id", "mentions.")
    comment_id = text(value.get("comment_id"))
    where = "a comment" if comment_id else "a caption"
    return _event(
        channel,
        message_id=comment_id or media_id,  # the same comment seen as a comment too is one inbox row
        thread_id=f"mention:{comment_id or media_id}",
        kind="comment",
        author=Author(id="unknown", name="Instagram user"),
        body=f"[@mention of the account in {where} on media {media_id}; Instagram's notification has no text]",
        at=at,
        reply_to=f"{media_id}/{comment_id}" if comment_id else media_id,
        context=f"a mention on media {media_id}",
    )


def _message_event(messaging: dict[str, Any], channel: ChannelConfig) -> SocialEvent | None:
    sender = text(obj(messaging, "sender").get("id"))
    if sender is None or sender == channel.account_id:
        return None  # sent by the account: an echo of our own reply
    found = _message_content(messaging)
    if found is None:
        return None  # echoes, seen receipts, reactions, postbacks, referrals: nothing for a ticket
    kind, mid, body, files = found
    return _event(
        channel,
        message_id=mid,
        thread_id=f"dm:{sender}",
        kind=kind,
        author=Author(id=sender),
        body=body,
        at=platform_time(messaging.get("timestamp")),
        reply_to=sender,
        files=files,
    )


def _message_content(messaging: dict[str, Any]) -> tuple[EventKind, str, str, tuple[Attachment, ...]] | None:
    message, edit = obj(messaging, "message"), obj(messaging, "message_edit")
    mid = text(message.get("mid"))
    if mid and not message.get("is_echo"):
        if message.get("is_deleted"):
            return "remove", f"{mid}#deleted", "", ()
        body = text(message.get("text")) or ("[unsupported message type]" if message.get("is_unsupported") else "")
        return "message", mid, body, attachments(message.get("attachments")) + _story(message)
    if text(edit.get("mid")):
        return "edit", f"{edit['mid']}#edit{edit.get('num_edit', '')}", text(edit.get("text")) or "", ()
    return None


def _story(message: dict[str, Any]) -> tuple[Attachment, ...]:
    """A reply to one of the account's stories: the story, as a link for the agent."""
    story = obj(obj(message, "reply_to"), "story")
    url = text(story.get("url"))
    return (Attachment(url=url, kind="story"),) if url else ()


def _event(
    channel: ChannelConfig,
    *,
    message_id: str,
    thread_id: str,
    kind: EventKind,
    author: Author,
    body: str,
    at: datetime,
    reply_to: str,
    context: str | None = None,
    files: tuple[Attachment, ...] = (),
) -> SocialEvent:
    return SocialEvent(
        platform=PLATFORM,
        channel=channel.name,
        account_id=channel.account_id,
        message_id=message_id,
        thread_id=thread_id,
        kind=kind,
        author=author,
        text=body,
        created_at=at,
        reply_to=reply_to,
        context=context,
        attachments=files,
    )
