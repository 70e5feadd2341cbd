"""``/webhooks/telegram/<channel name>``: updates Telegram sends to a configured bot.

Telegram authenticates a webhook with the ``secret_token`` given to ``setWebhook``: it comes back in
``X-Telegram-Bot-Api-Secret-Token`` and is compared in constant time. The bot token never appears in
the URL (the path names the channel instead).

One update, one inbox row: the customer's event, or a record of what was ignored and why:

* ``message`` → kind ``message``; ``edited_message`` → kind ``edit`` (a note on the ticket);
* ``callback_query`` (a button of the bot's inline keyboard pressed) → kind ``message`` in the chat of the
  bot's message, ``[button tapped] <title> (payload: <data>)``, with ``extra["pressed"]`` (the data: the bot's
  own buttons, :mod:`bridge.quick`); every callback query stored, one recorded as ignored too, is answered in
  the 200 to the webhook (``{"method": "answerCallbackQuery", ...}``: Telegram shows a spinner on the button
  until then);
* the thread is the chat (``chat:<chat id>``), the answer goes to the chat; in a forum supergroup a
  message sent to a topic (``is_topic_message``) belongs to that topic's thread,
  ``chat:<chat id>:topic:<message_thread_id>``, so that each topic is its own ticket and the answer
  goes back into the topic;
* the message id is ``<update_id>:<message_id>``: the update id is unique per bot, so Telegram's
  redeliveries are stored once, and an edit (a new update of the same message) gets its own id; the
  message id after the colon is what a reply quotes;
* what the message says is :func:`webhooks.telegram_content.describe`: the text or caption, then a line
  for each thing sent (a photo named by size and ``file_id``, never linked, since a file link holds the
  bot token; a dice roll, a forwarded story, a shared chat, a place, a contact...);
* the author is ``sender_chat`` when there is one (a member writing as their channel: ``from`` is
  then Telegram's placeholder bot), else ``from``;
* recorded as ignored, with a reason ``socialdesk status`` counts: messages from bots (``from.is_bot``:
  other bots in a group; Telegram never sends a bot its own messages), automatic forwards of the linked
  channel's posts into its discussion group (``is_automatic_forward``: the brand's own post), anonymous
  admins writing as the group itself (``sender_chat`` is the chat: the group's own staff), service
  messages (a pin, a forum topic created or closed, members joining, a group migrated to a supergroup:
  its later messages arrive under the new chat id and open a new ticket; replies on the old one reach
  the supergroup, :mod:`connectors.telegram`), empty messages, messages whose ``text`` or ``caption`` is
  no string (``telegram message.text is a list, not a string``), channel posts and every other update
  type (``telegram update: channel post``...).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from bridge.config import ChannelConfig
from bridge.events import Author, Ignored, SocialEvent, platform_time
from webhooks import signatures, telegram_content
from webhooks.common import ack, json_body, json_type, state, store_events
from webhooks.content import postback_line

log = logging.getLogger(__name__)
bp = Blueprint("telegram", __name__)

HANDLED = ("message", "edited_message")
#: Other update types, each counted under its own reason (``telegram update: <type>``).
OTHER_UPDATES = frozenset(
    [
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "message_reaction",
        "message_reaction_count",
        "inline_query",
        "chosen_inline_result",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    ]
)


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
    update = json_body(raw)
    stored = store_events([parse(update, channel)])
    press = _press_id(update)
    if press is None:
        return ack(stored, 1)
    # Telegram spins the pressed button until the bot answers the query; stored, the press is answered here, in
    # the answer to the webhook (Telegram runs the method it names), whatever the worker then makes of it
    return jsonify({"method": "answerCallbackQuery", "callback_query_id": press}), 200


def _press_id(update: dict[str, Any]) -> str | None:
    query = update.get("callback_query")
    press = query.get("id") if isinstance(query, dict) else None
    return press if isinstance(press, str) and press else None


def account_of(channel: ChannelConfig) -> str:
    """The bot's id: ``account_id``, else the part of the bot token before the colon."""
    prefix = (channel.secret("bot_token") or "").split(":", 1)[0]
    return channel.account_id or (prefix if prefix.isdigit() else channel.name)


def parse(update: Any, channel: ChannelConfig) -> SocialEvent | Ignored:
    """The customer event in one update, or what it is recorded as ignored for (module docstring)."""
    if not isinstance(update, dict) or type(update.get("update_id")) is not int:
        abort(400, "expected an update with an integer update_id")
    if isinstance(update.get("callback_query"), dict):
        return _pressed(update["update_id"], update["callback_query"], channel)
    kind = next((key for key in HANDLED if key in update), None)
    if kind is None:
        other = next((key for key in update if key in OTHER_UPDATES), None)
        reason = f"telegram update: {other.replace('_', ' ')}" if other else "telegram update of another type"
        return _ignored(channel, str(update["update_id"]), reason, None)
    message = update[kind]
    if not isinstance(message, dict):
        abort(400, f"{kind} must be an object")
    chat = _dict(message, "chat")
    message_id, chat_id, date = _int(message, "message_id"), _int(chat, "id", "chat.id"), _int(message, "date")
    sender = _dict(message, "sender_chat") or _dict(message, "from") or chat
    message_key = f"{update['update_id']}:{message_id}"
    not_ours = _unreadable(message) or _not_a_customer(message, sender, chat_id) or _service(message, chat_id)
    if not_ours:
        return _ignored(channel, message_key, not_ours, date)
    edited = message.get("edit_date") if kind == "edited_message" else None
    when = edited if isinstance(edited, int) and not isinstance(edited, bool) else date
    media = telegram_content.media_kinds(message)
    public = chat.get("type") != "private"
    return SocialEvent(
        platform="telegram",
        channel=channel.name,
        account_id=account_of(channel),
        message_id=message_key,
        thread_id=_thread_id(chat_id, message),
        kind="edit" if kind == "edited_message" else "message",
        author=_author(sender, message),
        text=telegram_content.describe(message),
        created_at=platform_time(when),
        reply_to=str(chat_id),
        url=f"https://t.me/{chat['username']}/{message_id}" if public and chat.get("username") else None,
        context=f"the group {str(chat.get('title') or chat_id)[:80]}" if public else "a private chat",
        extra={"attachments": ",".join(media)} if media else {},
    )


def _pressed(update_id: int, query: dict[str, Any], channel: ChannelConfig) -> SocialEvent | Ignored:
    """A button of the bot's inline keyboard pressed: the customer speaking, in the chat of the bot's message."""
    message, sender = _dict(query, "message"), _dict(query, "from")
    chat_id, message_id = _dict(message, "chat").get("id"), message.get("message_id")
    if not isinstance(chat_id, int) or isinstance(chat_id, bool) or not isinstance(message_id, int):
        return _ignored(channel, f"{update_id}:callback", "telegram callback query without its message", None)
    if not isinstance(sender.get("id"), int) or sender.get("is_bot") is True:
        reason = (
            "telegram message from a bot"
            if sender.get("is_bot") is True
            else "telegram callback query without a sender"
        )
        return _ignored(channel, f"{update_id}:callback", reason, None)
    data = str(query.get("data") or "")[:64]  # callback data is 1-64 bytes
    return SocialEvent(
        platform="telegram", channel=channel.name, account_id=account_of(channel),
        message_id=f"{update_id}:{message_id}", thread_id=_thread_id(chat_id, message), kind="message",
        author=_author(sender, {}), text=postback_line(_button_title(message, data), data),
        created_at=platform_time(None), reply_to=str(chat_id),
        context="a private chat" if _dict(message, "chat").get("type") == "private" else f"the group {chat_id}",
        extra={"pressed": data},
    )  # fmt: skip


def _button_title(message: dict[str, Any], data: str) -> str | None:
    """The title of the pressed button, read from the keyboard of the message it was under."""
    rows = _dict(message, "reply_markup").get("inline_keyboard")
    buttons = [b for row in rows if isinstance(row, list) for b in row] if isinstance(rows, list) else []
    return next((str(b.get("text")) for b in buttons if isinstance(b, dict) and b.get("callback_data") == data), None)


def _unreadable(message: dict[str, Any]) -> str | None:
    """Why the customer's words cannot be read: a ``text`` or ``caption`` that is no string (read as absent,
    it was a ticket "(no text)"). Recorded as ignored with that reason, not refused: the update is well formed
    but for that field, and one answered with an error is sent again until Telegram gives up (Bot API,
    setWebhook), then lost without a trace."""
    wrong = next((key for key in ("text", "caption") if message.get(key) is not None
                  and not isinstance(message[key], str)), None)  # fmt: skip
    return f"telegram message.{wrong} is {json_type(message[wrong])}, not a string" if wrong else None


def _not_a_customer(message: dict[str, Any], sender: dict[str, Any], chat_id: int) -> str | None:
    """Why ``message`` is no customer's (see the module docstring), else None."""
    if message.get("is_automatic_forward") is True:
        return "telegram automatic forward of the linked channel"
    if _dict(message, "sender_chat"):  # then the sender: ``from`` is a placeholder bot
        return "telegram message from an anonymous admin" if sender.get("id") == chat_id else None
    return "telegram message from a bot" if sender.get("is_bot") is True else None


def _service(message: dict[str, Any], chat_id: int) -> str | None:
    """A service message (a pin, a topic opened or closed, a migration...) or an empty one: no one's words.
    A group that became a supergroup goes on under a new chat id, which opens a new ticket: logged."""
    name = telegram_content.service_message(message)
    if "migrate_to_chat_id" in message:
        log.info("telegram chat %s became the supergroup %s: its next messages open a new ticket",
                 chat_id, str(message["migrate_to_chat_id"])[:24])  # fmt: skip
    if name == telegram_content.EMPTY:
        return "telegram empty message"
    return f"telegram service message: {name}" if name else None


def _ignored(channel: ChannelConfig, message_id: str, reason: str, date: int | None) -> Ignored:
    log.info("telegram webhook %s: %s recorded as ignored (%s)", channel.name, message_id, reason)
    at = platform_time(date) if date else datetime.now(UTC)
    return Ignored(platform="telegram", channel=channel.name, account_id=account_of(channel), message_id=message_id,
                   reason=reason, created_at=at)  # fmt: skip


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


def _dict(container: dict[str, Any], key: str) -> dict[str, Any]:
    value = container.get(key)
    return value if isinstance(value, dict) else {}


def _int(container: dict[str, Any], key: str, label: str | None = None) -> int:
    value = container.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        abort(400, f"missing {label or key}")
    return value
