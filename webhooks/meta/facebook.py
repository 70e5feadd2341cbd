"""Facebook pages (``object: "page"``): feed changes (comments, visitor posts) and Messenger events.

=========================================  ==================================================================
feed change                                becomes
=========================================  ==================================================================
``add`` of a comment or a visitor's post   a ``comment`` in ``comment:<top comment>`` or ``post:<post id>``
``edited``/``edit``                        an ``edit`` (a note; the comment itself in a thread with no ticket)
``remove`` by its author                   a ``remove`` (a note: the customer removed it)
``hide``/``unhide``, ``remove`` by the     a ``notice`` (a note: the page did it, not the customer)
page
the page's own add or edit, likes,         :class:`~bridge.events.Ignored`, each with its reason
reactions, other items and fields
=========================================  ==================================================================

Derived events (edit, hide, remove...) carry no id of their own, and often no ``created_time``: their
id is ``<object>#<verb>:<hash of the entry's time and the change's value>``, the same for a redelivery
and different for any other change of the same object.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import partial
from typing import Any

from bridge import messages
from bridge.config import ChannelConfig
from bridge.events import Attachment, Author, EventKind, SocialEvent, platform_time
from webhooks.meta.fields import Parsed, digest, each, ignored, name_of, obj, required, text, words
from webhooks.meta.messaging import MESSENGER, messaging_event

PLATFORM = "facebook"
_FEED_VERBS: dict[str, EventKind] = {"add": "comment", "edited": "edit", "edit": "edit", "remove": "remove",
                                     "hide": "notice", "unhide": "notice"}  # fmt: skip
#: A visitor's words on the page: comments, and posts (text, or a photo, a video or a link with a message).
_FEED_ITEMS = ("comment", "post", "status", "photo", "video", "share")
_LINKED = {"photo": "image", "video": "video", "share": "link"}  # the item's ``link`` is its file or page


def parse_page_entry(entry: dict[str, Any], channel: ChannelConfig) -> Iterator[Parsed]:
    """The events of one page entry: feed comments and posts, Messenger messages, and what is ignored."""
    at = platform_time(entry.get("time"))
    on = (PLATFORM, channel.name, channel.account_id)
    yield from each(*on, entry, "changes", at, partial(_change, channel=channel, entry_time=entry.get("time")))
    yield from each(*on, entry, "messaging", at, partial(messaging_event, channel=channel, product=MESSENGER))
    yield from each(*on, entry, "standby", at, partial(_standby, channel=channel, entry_time=entry.get("time")))


def _standby(standby: dict[str, Any], channel: ChannelConfig, entry_time: Any) -> list[Parsed]:
    """An event of a conversation another app controls."""
    message_id = f"standby:{digest(entry_time, standby)}"
    at = platform_time(entry_time)
    return [ignored(PLATFORM, channel.name, channel.account_id, message_id, "messenger standby event", at)]


def _change(change: dict[str, Any], channel: ChannelConfig, entry_time: Any) -> list[Parsed]:
    if change.get("field") != "feed":
        reason = f"facebook field {name_of(change.get('field'))}"
        at = platform_time(entry_time)
        return [ignored(PLATFORM, channel.name, channel.account_id, f"field:{digest(entry_time, change)}", reason, at)]
    return [_feed_event(obj(change, "value"), channel, entry_time)]


def _feed_event(value: dict[str, Any], channel: ChannelConfig, entry_time: Any) -> Parsed:
    item, verb = text(value.get("item")), text(value.get("verb"))
    at = platform_time(value.get("created_time") or entry_time)
    author_id = text(obj(value, "from").get("id") or value.get("sender_id"))
    by_page = author_id == channel.account_id
    why = None
    if item not in _FEED_ITEMS or verb not in _FEED_VERBS:
        why = f"facebook feed {name_of(item)} {name_of(verb)}"
    elif by_page and verb in ("add", "edited", "edit"):
        why = "facebook feed change by the page"  # our own reply, or a post by the brand
    if why is not None or item is None or verb is None:
        message_id = f"feed:{digest(entry_time, value)}"
        return ignored(PLATFORM, channel.name, channel.account_id, message_id, why or "facebook feed change", at)
    return _feed_item(value, channel, item, verb, by_page, author_id, entry_time, at)


def _feed_item(
    value: dict[str, Any], channel: ChannelConfig, item: str, verb: str, by_page: bool, author_id: str | None,
    entry_time: Any, at: datetime,
) -> SocialEvent:  # fmt: skip
    post_id = required(value, "post_id")
    if item == "comment":
        object_id = required(value, "comment_id")
        parent = text(value.get("parent_id")) or post_id
        top = object_id if parent == post_id else parent
        thread_id, reply_to = f"comment:{top}", top
    else:
        object_id, thread_id, reply_to = post_id, f"post:{post_id}", post_id
    kind = "notice" if verb == "remove" and by_page else _FEED_VERBS[verb]
    # a change of a comment must not collide with the comment's own key, nor with another change of it
    message_id = object_id if verb == "add" else f"{object_id}#{verb}:{digest(entry_time, value)}"
    noun = "comment" if item == "comment" else "post"
    extra = _extra(kind, verb, noun, object_id)
    name = obj(value, "from").get("name") or value.get("sender_name")
    return SocialEvent(
        platform=PLATFORM,
        channel=channel.name,
        account_id=channel.account_id,
        message_id=message_id,
        thread_id=thread_id,
        kind=kind,
        author=Author(id=author_id or "unknown", name=None if by_page else text(name)),
        text=messages.page_moderation_note(verb, noun, object_id)
        if kind == "notice"
        else words(value, "message") or "",
        created_at=at,
        reply_to=reply_to,
        url=_permalink(value, post_id, object_id if item == "comment" else None),
        context=f"post {post_id}",
        attachments=_media(value, item) if kind != "notice" else (),
        extra=extra,
    )


def _extra(kind: str, verb: str, noun: str, object_id: str) -> dict[str, str]:
    if kind == "notice":  # the reason when the thread has no ticket to note it on
        return {"notice": f"facebook {noun} {_DONE[verb]} by the page"}
    return {"edited_kind": "comment", "original_id": object_id} if kind == "edit" else {}


_DONE = {"hide": "hidden", "unhide": "shown again", "remove": "removed"}


def _media(value: dict[str, Any], item: str) -> tuple[Attachment, ...]:
    """What a feed change links to: a comment's or a status's ``photo``, ``photos`` or ``video`` (a comment
    with a video carries its URL in ``video``, restfb's recorded ``feed-comment-add-with-video.json``: it was
    left out, and the agent saw the comment's words without the video); the ``link`` of a photo, video or
    shared-link post (restfb's recorded ``feed-photo-add-message.json``, ``feed-video-add.json``)."""
    photos = value.get("photos")
    found = [(url, "image") for url in [value.get("photo"), *(photos if isinstance(photos, list) else [])]]
    found.append((value.get("video"), "video"))
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
