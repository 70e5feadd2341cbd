"""Instagram professional accounts (``object: "instagram"``): comments, mentions and Direct messages.

==============================  ===========================  ===========================================
what                            thread_id                    reply_to (see connectors.meta)
==============================  ===========================  ===========================================
``changes[field=comments]``     ``comment:<top comment>``    the top-level comment (``/replies``)
``changes[field=mentions]``     ``mention:<comment|media>``  ``<media id>/<comment id>`` or ``<media id>``
``messaging[]`` (and the        ``dm:<IGSID>``               the customer's Instagram-scoped id
dashboard's ``field=messages``)
==============================  ===========================  ===========================================

Our own output is recorded as ignored: comments whose author is the account, and ``is_echo`` messages.
Direct messages are read as Messenger's are (:mod:`.messaging`): a tapped button is a message, a reaction a
note, seen receipts and referrals are recorded as ignored.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import partial
from typing import Any

from bridge.config import ChannelConfig
from bridge.events import Author, EventKind, SocialEvent, platform_time
from webhooks.meta.fields import Parsed, digest, each, ignored, name_of, obj, required, text, words
from webhooks.meta.messaging import INSTAGRAM, messaging_event

PLATFORM = "instagram"
_MEDIA_NOUNS = {"FEED": "post", "REELS": "reel", "STORY": "story", "AD": "ad"}


def parse_instagram_entry(entry: dict[str, Any], channel: ChannelConfig) -> Iterator[Parsed]:
    """The events of one Instagram entry (``entry.id`` is the account's Instagram user id)."""
    at = platform_time(entry.get("time"))
    on = (PLATFORM, channel.name, channel.account_id)
    yield from each(
        *on, entry, "changes", at, partial(_change_event, channel=channel, at=at, entry_time=entry.get("time"))
    )
    yield from each(*on, entry, "messaging", at, partial(messaging_event, channel=channel, product=INSTAGRAM))


def _change_event(change: dict[str, Any], channel: ChannelConfig, at: datetime, entry_time: Any) -> list[Parsed]:
    field = change.get("field")
    if field == "comments":
        return [_comment_event(obj(change, "value"), channel, at)]
    if field == "mentions":
        return [_mention_event(obj(change, "value"), channel, at)]
    if field == "messages":  # the App Dashboard's test event puts a messaging event here
        return messaging_event(obj(change, "value"), channel, INSTAGRAM)
    message_id = f"field:{digest(entry_time, change)}"
    return [ignored(PLATFORM, channel.name, channel.account_id, message_id, f"instagram field {name_of(field)}", at)]


def _comment_event(value: dict[str, Any], channel: ChannelConfig, at: datetime) -> Parsed:
    author = obj(value, "from", "comments.")
    author_id = text(author.get("id"))
    comment_id = required(value, "id", "comments.")
    if author_id == channel.account_id:  # the account itself: our own reply
        reason = "instagram comment by the account"
        return ignored(PLATFORM, channel.name, channel.account_id, f"own:{comment_id}", reason, at)
    top = text(value.get("parent_id")) or comment_id  # Instagram keeps two levels: the parent is the top
    media = obj(value, "media", "comments.")
    noun = _MEDIA_NOUNS.get(str(media.get("media_product_type")), "media")
    return _event(
        channel,
        message_id=comment_id,
        thread_id=f"comment:{top}",
        kind="comment",
        author=Author(id=author_id or "unknown", handle=text(author.get("username"))),
        body=words(value, "text", "comments.") or "",
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
    )
