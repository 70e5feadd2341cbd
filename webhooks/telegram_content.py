"""What a Telegram message carries, in words an agent can read on the ticket, and which messages are
Telegram's own service messages rather than a customer's.

The customer's text or caption comes first, then one line per thing they sent:

* media (photo, video, animation, video note, document, audio, voice, sticker) are named with what the
  Bot API tells of them (size in pixels, length, file name, bytes) and their ``file_id``. A file cannot be
  linked: its download URL (``getFile``, then ``/file/bot<token>/<path>``) holds the bot token, which must
  never reach a ticket. The line says so: the file is seen in the Telegram chat, or fetched by an operator
  with ``getFile`` and the ``file_id``;
* a dice roll, a forwarded story (linked: ``https://t.me/<username>/s/<id>`` when its chat is public), a
  shared chat or users, a poll, a place, a venue and a contact are written out;
* anything else is ``[unsupported message type]``, never an empty ticket.

Service messages (a pinned message, a forum topic created or closed, a group migrated to a supergroup,
members joining or leaving...) are no customer's words: :func:`service_message` names them, and the
webhook records them as ignored. A message with nothing in it at all is :data:`EMPTY`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from webhooks.content import contact_line, location_line

EMPTY = "empty message"

#: Service message fields → the name each is counted under (``telegram service message: <name>``).
SERVICE = {
    "pinned_message": "pinned message",
    "new_chat_members": "new chat members",
    "left_chat_member": "left chat member",
    "new_chat_title": "new chat title",
    "new_chat_photo": "new chat photo",
    "delete_chat_photo": "chat photo deleted",
    "group_chat_created": "group created",
    "supergroup_chat_created": "supergroup created",
    "channel_chat_created": "channel created",
    "message_auto_delete_timer_changed": "auto-delete timer changed",
    "migrate_to_chat_id": "group migrated to a supergroup",
    "migrate_from_chat_id": "supergroup migrated from a group",
    "forum_topic_created": "forum topic created",
    "forum_topic_edited": "forum topic edited",
    "forum_topic_closed": "forum topic closed",
    "forum_topic_reopened": "forum topic reopened",
    "general_forum_topic_hidden": "general forum topic hidden",
    "general_forum_topic_unhidden": "general forum topic unhidden",
    "video_chat_scheduled": "video chat",
    "video_chat_started": "video chat",
    "video_chat_ended": "video chat",
    "video_chat_participants_invited": "video chat",
    "write_access_allowed": "write access allowed",
    "proximity_alert_triggered": "proximity alert",
    "boost_added": "boost added",
    "chat_background_set": "chat background set",
    "connected_website": "connected website",
    "successful_payment": "payment",
    "refunded_payment": "payment refunded",
    "giveaway_created": "giveaway",
    "giveaway_completed": "giveaway",
    "giveaway_winners": "giveaway",
}

#: Fields of every message that say nothing by themselves (sender, chat, reply, forward, formatting...).
ENVELOPE = frozenset(
    [
        "message_id",
        "message_thread_id",
        "from",
        "sender_chat",
        "sender_boost_count",
        "sender_business_bot",
        "sender_tag",
        "date",
        "business_connection_id",
        "chat",
        "forward_origin",
        "forward_from",
        "forward_from_chat",
        "forward_from_message_id",
        "forward_signature",
        "forward_sender_name",
        "forward_date",
        "is_topic_message",
        "is_automatic_forward",
        "reply_to_message",
        "external_reply",
        "quote",
        "reply_to_story",
        "via_bot",
        "edit_date",
        "has_protected_content",
        "is_from_offline",
        "media_group_id",
        "author_signature",
        "entities",
        "caption_entities",
        "link_preview_options",
        "effect_id",
        "show_caption_above_media",
        "has_media_spoiler",
        "reply_markup",
        "text",
        "caption",
        "paid_star_count",
        "is_paid_post",
        "direct_messages_topic",
        "suggested_post_info",
        "reply_to_checklist_task_id",
    ]
)


def service_message(message: dict[str, Any]) -> str | None:
    """The name of the service message ``message`` is (see :data:`SERVICE`), :data:`EMPTY` for a message
    with nothing in it, else None: a customer's message."""
    # a client's to_dict() writes absent lists and flags as [] and false; "closed" holds no information: {}
    name = next((name for key, name in SERVICE.items() if message.get(key) not in (None, False, [], "")), None)
    if name is not None:
        return name
    words = message.get("text") or message.get("caption")
    return EMPTY if not words and not (set(message) - ENVELOPE - set(SERVICE)) else None


def describe(message: dict[str, Any]) -> str:
    """The customer's text or caption, then a line for each thing the message carries (module docstring)."""
    words = message.get("text") if isinstance(message.get("text"), str) else message.get("caption")
    lines = [words] if isinstance(words, str) and words else []
    kinds = [key for key in _DESCRIBE if key in message and not (key == "location" and "venue" in message)]
    lines += [_DESCRIBE[key](message[key]) or f"[{key.replace('_', ' ')}]" for key in kinds]
    unknown = set(message) - ENVELOPE - set(SERVICE) - set(_DESCRIBE)
    if not lines and unknown:
        lines.append("[unsupported message type]")
    return "\n".join(lines)


def media_kinds(message: dict[str, Any]) -> list[str]:
    """The kinds of things ``message`` carries besides its text (``photo``, ``dice``...)."""
    return [key for key in _DESCRIBE if key in message]


def _file(kind: str, item: Any, *details: Any) -> str | None:
    if not isinstance(item, dict):
        return None
    shown = ", ".join(str(d) for d in (*details, _bytes(item.get("file_size"))) if d)
    file_id = item.get("file_id")
    where = f"see it in the Telegram chat (file_id {file_id})" if isinstance(file_id, str) else "see it in Telegram"
    return f"[{kind}] {shown + '; ' if shown else ''}{where}"


def _photo(sizes: Any) -> str | None:
    """A photo comes in several sizes: the largest is named."""
    found = [s for s in sizes if isinstance(s, dict)] if isinstance(sizes, list) else []
    largest = max(found, key=lambda s: _int(s.get("width")) * _int(s.get("height")), default=None)
    return _file("photo", largest, _pixels(largest)) if largest else None


def _video(kind: str) -> Callable[[Any], str | None]:
    return lambda item: _file(kind, item, _pixels(item), _seconds(item), _scalar(item, "file_name"))


def _video_note(item: Any) -> str | None:
    side = _int(item.get("length")) if isinstance(item, dict) else 0
    return _file("video note", item, f"{side}×{side}" if side else None, _seconds(item))


def _document(item: Any) -> str | None:
    return _file("document", item, _scalar(item, "file_name"), _scalar(item, "mime_type"))


def _audio(item: Any) -> str | None:
    title = " – ".join(t for t in (_scalar(item, "performer"), _scalar(item, "title")) if t)
    return _file("audio", item, title or _scalar(item, "file_name"), _seconds(item))


def _sticker(item: Any) -> str | None:
    set_name = _scalar(item, "set_name")
    return _file("sticker", item, _scalar(item, "emoji"), f"set {set_name}" if set_name else None)


def _dice(item: Any) -> str | None:
    value = item.get("value") if isinstance(item, dict) else None
    return f"[dice] {_scalar(item, 'emoji') or '🎲'} rolled {value}" if isinstance(value, int) else "[dice]"


def _story(item: Any) -> str:
    chat = _object(item, "chat")
    story_id, username = _scalar(item, "id"), _scalar(chat, "username")
    name = _scalar(chat, "title") or (f"@{username}" if username else None) or _scalar(chat, "first_name")
    link = f" https://t.me/{username}/s/{story_id}" if username and story_id else f" (story {story_id})"
    return f"[story] forwarded from {name or 'a chat'}{link}"


def _chat_shared(item: Any) -> str:
    username = _scalar(item, "username")
    named = ", ".join(n for n in (_scalar(item, "title"), f"@{username}" if username else None) if n)
    return f"[shared chat] {named + ' ' if named else ''}(chat id {_scalar(item, 'chat_id')})"


def _users_shared(item: Any) -> str:
    names = [_user_name(u) for u in _list(item, "users") if isinstance(u, dict)]
    names = names or [str(i) for i in _list(item, "user_ids")]
    return f"[shared users] {', '.join(names)}"


def _user_name(user: dict[str, Any]) -> str:
    name = " ".join(str(user[k]) for k in ("first_name", "last_name") if user.get(k))
    username = _scalar(user, "username")
    return " ".join(p for p in (name, f"@{username}" if username else None) if p) or f"user {user.get('user_id')}"


def _poll(item: Any) -> str:
    texts = " / ".join(str(o.get("text")) for o in _list(item, "options") if isinstance(o, dict))
    return f"[poll] {_scalar(item, 'question') or ''}: {texts}".rstrip(": ")


def _venue(venue: Any) -> str | None:
    place = _object(venue, "location")
    return location_line(
        place.get("latitude"), place.get("longitude"), _scalar(venue, "title"), _scalar(venue, "address")
    )


def _location(place: Any) -> str | None:
    return location_line(place.get("latitude"), place.get("longitude")) if isinstance(place, dict) else None


def _contact(contact: Any) -> str | None:
    if not isinstance(contact, dict):
        return None
    name = " ".join(str(contact[k]) for k in ("first_name", "last_name") if contact.get(k))
    return f"[contact] {contact_line(name, [contact.get('phone_number')])}"


_DESCRIBE: dict[str, Callable[[Any], str | None]] = {
    "photo": _photo,
    "video": _video("video"),
    "animation": _video("animation"),
    "video_note": _video_note,
    "document": _document,
    "audio": _audio,
    "voice": lambda item: _file("voice message", item, _seconds(item)),
    "sticker": _sticker,
    "dice": _dice,
    "story": _story,
    "chat_shared": _chat_shared,
    "users_shared": _users_shared,
    "poll": _poll,
    "venue": _venue,
    "location": _location,
    "contact": _contact,
}


def _pixels(item: Any) -> str | None:
    width, height = (_int(item.get("width")), _int(item.get("height"))) if isinstance(item, dict) else (0, 0)
    return f"{width}×{height}" if width and height else None


def _seconds(item: Any) -> str | None:
    duration = _int(item.get("duration")) if isinstance(item, dict) else 0
    return f"{duration} s" if duration else None


def _bytes(size: Any) -> str | None:
    size = _int(size)
    if not size:
        return None
    return f"{size / 1_000_000:.1f} MB" if size >= 1_000_000 else f"{max(1, round(size / 1000))} KB"


def _list(container: Any, key: str) -> list[Any]:
    value = container.get(key) if isinstance(container, dict) else None
    return value if isinstance(value, list) else []


def _object(container: Any, key: str) -> dict[str, Any]:
    value = container.get(key) if isinstance(container, dict) else None
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _scalar(container: Any, key: str) -> str | None:
    value = container.get(key) if isinstance(container, dict) else None
    return None if value is None or isinstance(value, dict | list | bool) else str(value)
