"""``/webhooks/telegram/<channel name>``: updates Telegram sends to a configured bot.

Telegram authenticates a webhook with the ``secret_token`` given to ``setWebhook``: it comes back in
``X-Telegram-Bot-Api-Secret-Token`` and is compared in constant time. The bot token never appears in
the URL (the path names the channel instead).

One update, one event at most:

* ``message`` → kind ``message``; ``edited_message`` → kind ``edit`` (a note on the ticket);
* the thread is the chat (``chat:<chat id>``), the answer goes to the chat; in a forum supergroup a
  message sent to a topic (``is_topic_message``) belongs to that topic's thread,
  ``chat:<chat id>:topic:<message_thread_id>``, so that each topic is its own ticket and the answer
  goes back into the topic;
* the message id is ``<update_id>:<message_id>``: the update id is unique per bot, so Telegram's
  redeliveries are stored once, and an edit (a new update of the same message) gets its own id; the
  message id after the colon is what a reply quotes;
* a shared location, venue or contact is a readable line (coordinates with a maps link, the venue's
  title and address, the contact's name and phone, as for WhatsApp: :mod:`webhooks.content`); other
  media without a caption are ``[photo]`` and so on;
* the author is ``sender_chat`` when there is one (a member writing as their channel: ``from`` is
  then Telegram's placeholder bot), else ``from``;
* acknowledged and ignored: messages from bots (``from.is_bot``: other bots in a group; Telegram never
  sends a bot its own messages), automatic forwards of the linked channel's posts into its discussion
  group (``is_automatic_forward``: the brand's own post), anonymous admins writing as the group itself
  (``sender_chat`` is the chat: the group's own staff, not a customer), channel posts and every other
  update type.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, request

from bridge.config import ChannelConfig
from bridge.events import Author, SocialEvent, platform_time
from webhooks import signatures
from webhooks.common import ack, json_body, state, store_events
from webhooks.content import contact_line, location_line

log = logging.getLogger(__name__)
bp = Blueprint("telegram", __name__)

HANDLED = ("message", "edited_message")
MEDIA = ("photo", "video", "animation", "document", "audio", "voice", "video_note", "sticker", "location", "contact")


@bp.post("/webhooks/telegram/<name>")
def receive(name: str) -> tuple[Response, int]:
    raw = request.get_data(cache=False)
    channel = state().config.channel(name)
    if channel is None or channel.platform != "telegram":
        abort(404, "unknown Telegram channel")
    header = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
    if not signatures.verify_telegram(header, channel.secret("secret_token") or ""):
        log.warning("telegram webhook %s: secret token check failed", name)
        abort(401, "invalid signature")
    event = parse(json_body(raw), channel)
    events = [event] if event is not None else []
    return ack(store_events(events), len(events))


def account_of(channel: ChannelConfig) -> str:
    """The bot's id: ``account_id``, else the part of the bot token before the colon."""
    prefix = (channel.secret("bot_token") or "").split(":", 1)[0]
    return channel.account_id or (prefix if prefix.isdigit() else channel.name)


def parse(update: Any, channel: ChannelConfig) -> SocialEvent | None:
    """The customer event in one update, or None for what is not for a ticket."""
    if not isinstance(update, dict) or type(update.get("update_id")) is not int:
        abort(400, "expected an update with an integer update_id")
    kind = next((key for key in HANDLED if key in update), None)
    if kind is None:
        log.info("telegram webhook: update %s of another type ignored", update["update_id"])
        return None
    message = update[kind]
    if not isinstance(message, dict):
        abort(400, f"{kind} must be an object")
    chat = _dict(message, "chat")
    message_id, chat_id, date = _int(message, "message_id"), _int(chat, "id", "chat.id"), _int(message, "date")
    sender = _dict(message, "sender_chat") or _dict(message, "from") or chat
    ignored = _not_a_customer(message, sender, chat_id)
    if ignored:
        log.info("telegram webhook: update %s from %s ignored", update["update_id"], ignored)
        return None
    edited = message.get("edit_date") if kind == "edited_message" else None
    when = edited if isinstance(edited, int) and not isinstance(edited, bool) else date
    media = [key for key in MEDIA if key in message]
    public = chat.get("type") != "private"
    return SocialEvent(
        platform="telegram",
        channel=channel.name,
        account_id=account_of(channel),
        message_id=f"{update['update_id']}:{message_id}",
        thread_id=_thread_id(chat_id, message),
        kind="edit" if kind == "edited_message" else "message",
        author=_author(sender, message),
        text=_text(message, media),
        created_at=platform_time(when),
        reply_to=str(chat_id),
        url=f"https://t.me/{chat['username']}/{message_id}" if public and chat.get("username") else None,
        context=f"the group {str(chat.get('title') or chat_id)[:80]}" if public else "a private chat",
        extra={"attachments": ",".join(media)} if media else {},
    )


def _not_a_customer(message: dict[str, Any], sender: dict[str, Any], chat_id: int) -> str | None:
    """Who wrote ``message`` when it is not a customer (see the module docstring), else None."""
    if message.get("is_automatic_forward") is True:
        return "the linked channel (automatic forward)"
    if _dict(message, "sender_chat"):  # then the sender: ``from`` is a placeholder bot
        return "an anonymous admin of the group" if sender.get("id") == chat_id else None
    return "a bot" if sender.get("is_bot") is True else None


def _thread_id(chat_id: int, message: dict[str, Any]) -> str:
    # message_thread_id alone also marks a reply thread in an ordinary group: only a topic splits the chat
    topic = message.get("message_thread_id")
    if message.get("is_topic_message") is True and isinstance(topic, int) and not isinstance(topic, bool):
        return f"chat:{chat_id}:topic:{topic}"
    return f"chat:{chat_id}"


def _author(sender: dict[str, Any], message: dict[str, Any]) -> Author:
    names = [str(sender[k]) for k in ("first_name", "last_name") if sender.get(k)] or [str(sender.get("title") or "")]
    handle = str(sender["username"]) if sender.get("username") else None
    contact = _dict(message, "contact")
    own_number = contact.get("phone_number") if contact.get("user_id") == sender.get("id") else None
    return Author(
        id=str(sender.get("id")),
        name=" ".join(n for n in names if n) or None,
        handle=handle,
        phone=str(own_number) if own_number else None,
        profile_url=f"https://t.me/{handle}" if handle else None,
    )


def _text(message: dict[str, Any], media: list[str]) -> str:
    text = message.get("text") if isinstance(message.get("text"), str) else message.get("caption")
    if isinstance(text, str):
        return text
    kind = "venue" if "venue" in message else (media[0] if media else "")  # a venue also carries its location
    describe = _DESCRIBE.get(kind)
    line = describe(_dict(message, kind)) if describe is not None else None
    return line or (f"[{media[0]}]" if media else "")


def _venue(venue: dict[str, Any]) -> str | None:
    place = _dict(venue, "location")
    return location_line(place.get("latitude"), place.get("longitude"), venue.get("title"), venue.get("address"))


def _contact(contact: dict[str, Any]) -> str:
    name = " ".join(str(contact[k]) for k in ("first_name", "last_name") if contact.get(k))
    return f"[contact] {contact_line(name, [contact.get('phone_number')])}"


_DESCRIBE: dict[str, Callable[[dict[str, Any]], str | None]] = {
    "venue": _venue,
    "location": lambda place: location_line(place.get("latitude"), place.get("longitude")),
    "contact": _contact,
}


def _dict(container: dict[str, Any], key: str) -> dict[str, Any]:
    value = container.get(key)
    return value if isinstance(value, dict) else {}


def _int(container: dict[str, Any], key: str, label: str | None = None) -> int:
    value = container.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        abort(400, f"missing {label or key}")
    return value
