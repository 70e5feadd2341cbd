"""Telegram Bot API: the outbound side of a ``telegram`` channel.

A thread is a chat (``chat:<chat id>``) or a forum topic (``chat:<chat id>:topic:<message_thread_id>``).
A reply is ``sendMessage`` to the chat, with ``message_thread_id`` for a topic; its first part quotes
the customer's latest message (``reply_parameters.message_id``, with ``allow_sending_without_reply``
so that a message the customer deleted does not block the answer). Texts are cut at 4,096 UTF-16
code units, the unit Telegram counts in (a code point outside the BMP counts 2).

Inbound message ids are ``<update_id>:<message_id>`` (see :mod:`webhooks.telegram`): the update id
makes them unique per bot, the message id is what a reply quotes. Outbound ids are
``<chat id>/<message id>``.

Telegram requires the bot token in the request path (``/bot<token>/<method>``). So that it never
reaches an error message, a log line or an exception's cause, no URL is ever put in a message, and
transport errors are re-raised without the ``requests`` exception (whose text holds the URL).
``429`` answers carry ``parameters.retry_after``, which becomes the error's ``retry_after``. A group
that became a supergroup (Telegram refuses the old chat id, naming the new one in
``parameters.migrate_to_chat_id``) is answered at its new id: the agent's reply still reaches it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import requests

from bridge import errors
from bridge.events import Delivery, ThreadState
from bridge.retry import capped_wait
from bridge.text import split_text
from connectors.base import DEFAULT_MAX_REPLY_PARTS, call, maybe_applied, same_account, send_parts

PLATFORM = "telegram"
TEXT_LIMIT = 4096
DEFAULT_API_URL = "https://api.telegram.org"
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_THREAD = re.compile(r"chat:(-?[0-9]+)(?::topic:([0-9]+))?")

ErrorClass = type[errors.BridgeError]
#: (error_code, words in ``description``) → (bridge error, what it means). First match wins; empty words
#: match any description. Unlisted: 5xx → Unavailable, anything else → PermanentError.
TELEGRAM_ERRORS: list[tuple[int, str, ErrorClass, str]] = [
    (429, "", errors.RateLimited, "Telegram's flood control asks the bot to wait"),
    (401, "", errors.AuthError, "Telegram refused the bot token (revoked or wrong)"),
    (404, "", errors.AuthError, "Telegram knows no bot with this token"),
    (403, "blocked", errors.PermanentError, "the customer blocked the bot"),
    (403, "kicked", errors.PermanentError, "the bot was removed from the chat"),
    (403, "deactivated", errors.PermanentError, "the customer's Telegram account was deleted"),
    (403, "", errors.PermanentError, "Telegram does not let the bot write in this chat"),
    (400, "chat not found", errors.NotFound, "Telegram knows no such chat for this bot"),
    (400, "upgraded to a supergroup", errors.PermanentError, "the group became a supergroup with a new chat id"),
    (400, "too long", errors.PermanentError, "the text is longer than Telegram allows"),
]


class TelegramChannel:
    """A Telegram bot (implements ``SocialChannel``), plus ``set_webhook`` for ``socialdesk setup``."""

    platform = PLATFORM

    def __init__(
        self,
        *,
        name: str,
        bot_token: str,
        account_id: str | None = None,
        api_url: str = DEFAULT_API_URL,
        session: requests.Session | None = None,
        timeout: float = 30,
        max_reply_parts: int = DEFAULT_MAX_REPLY_PARTS,
    ) -> None:
        self.name = name
        self.max_reply_parts = max_reply_parts
        self.account_id = account_id or bot_id(bot_token) or name  # as webhooks.telegram.account_of
        self.api_url = api_url.rstrip("/")
        self._token = bot_token
        self._session = session or requests.Session()
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"TelegramChannel(name={self.name!r}, account_id={self.account_id!r}, api_url={self.api_url!r})"

    # -- SocialChannel ---------------------------------------------------------------------------------

    def send_reply(self, thread: ThreadState, text: str, *, now: datetime) -> Delivery:
        """Send ``text`` to the thread's chat, the first part quoting the customer's latest message."""
        return self.send_buttons(thread, text, (), now=now)

    def send_buttons(
        self, thread: ThreadState, text: str, buttons: Sequence[tuple[str, str]], *, now: datetime
    ) -> Delivery:
        """As :meth:`send_reply`, the last part with an inline keyboard: one button (payload as its
        ``callback_data``, title) a row."""
        match = _THREAD.fullmatch(thread.thread_id)
        if match is None:
            raise errors.PermanentError(
                f"a Telegram channel cannot reply in thread {thread.thread_id!r}", platform=PLATFORM
            )
        chat, topic = match.groups()
        quote = quoted_message_id(thread.last_inbound_message_id)
        parts = split_text(text, TEXT_LIMIT, measure=utf16_len)
        sent: list[str] = []

        def send(part: str) -> str:
            body: dict[str, Any] = {"chat_id": int(chat), "text": part}
            if topic is not None:
                body["message_thread_id"] = int(topic)
            if quote is not None and not sent:
                body["reply_parameters"] = {"message_id": quote, "allow_sending_without_reply": True}
            if buttons and part is parts[-1]:
                body["reply_markup"] = {"inline_keyboard": [[{"text": t, "callback_data": p}] for p, t in buttons]}
            result = self._call("sendMessage", "could not send the Telegram message", body)
            sent.append(f"{_chat_of(result, chat)}/{_result_field(result, 'message_id')}")
            return sent[-1]

        return send_parts(PLATFORM, parts, send, max_parts=self.max_reply_parts)

    def ping(self) -> str:
        """``getMe``: the bot's ``@username``, proving the token works and is this bot's (its ``User.id``, which
        ``account_id`` defaults to: core.telegram.org/bots/api#getme)."""
        me = self._call("getMe", "could not reach the Telegram bot", None, idempotent=True)
        same_account(me.get("id") if isinstance(me, dict) else None, self.account_id, "bot", platform=PLATFORM)
        return f"@{me['username']}" if isinstance(me, dict) and me.get("username") else self.account_id

    def set_webhook(self, url: str, secret_token: str, allowed_updates: Iterable[str] = ALLOWED_UPDATES) -> bool:
        """Point the bot at ``url`` (``https://<bridge>/webhooks/telegram/<channel name>``).

        Telegram then sends ``secret_token`` in ``X-Telegram-Bot-Api-Secret-Token`` with every update.
        """
        if not _SECRET_TOKEN.fullmatch(secret_token):
            raise errors.ConfigError(f"channels[{self.name}].secret_token: use 1-256 of A-Z a-z 0-9 _ -")
        body = {"url": url, "secret_token": secret_token, "allowed_updates": list(allowed_updates)}
        return bool(self._call("setWebhook", "could not set the Telegram webhook", body, idempotent=True))

    # -- HTTP ------------------------------------------------------------------------------------------

    def _call(self, method: str, action: str, body: dict[str, Any] | None, *, idempotent: bool = False) -> Any:
        url = f"{self.api_url}/bot{self._token}/{method}"

        def send() -> requests.Response:
            return self._session.post(url, json=body or {}, timeout=self._timeout)

        try:
            response = call(send, platform=PLATFORM, idempotent=idempotent)
        except errors.BridgeError as e:  # the cause's text holds the URL, hence the token: drop it
            raise type(e)(f"{action}: {e.message}", platform=PLATFORM, http_status=e.http_status) from None
        data = _json(response, action, applied=not idempotent)
        moved = _moved_to(data, body)
        if moved is not None:  # refused, so not sent: the same request to the supergroup the group became
            return self._call(method, action, {**(body or {}), "chat_id": moved}, idempotent=idempotent)
        raise_for_telegram(response.status_code, data, action, idempotent=idempotent)
        return data.get("result")


# -- pure helpers --------------------------------------------------------------------------------------------


def bot_id(bot_token: str) -> str:
    """The bot's user id: the part of its token before the colon (``123456:ABC-DEF...``)."""
    prefix = bot_token.split(":", 1)[0]
    return prefix if prefix.isdigit() else ""


def quoted_message_id(inbound_id: str | None) -> int | None:
    """The Telegram message id inside an inbound id ``<update_id>:<message_id>``."""
    _, _, message_id = (inbound_id or "").partition(":")
    return int(message_id) if message_id.isdigit() else None


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts its 4,096-character limit."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def raise_for_telegram(status: int, data: Mapping[str, Any], action: str, *, idempotent: bool = True) -> None:
    """Raise the bridge error for a Bot API answer with ``ok: false``, by :data:`TELEGRAM_ERRORS`. The Bot API
    documents no 5xx as "not sent": one to a ``sendMessage`` may come after the message went out
    (:func:`connectors.base.maybe_applied`)."""
    if data.get("ok") is True and status < 400:
        return
    error_code = data.get("error_code")
    code = error_code if isinstance(error_code, int) else status
    description = str(data.get("description") or "")
    cls, meaning = _classify(code, description.lower())
    parameters = data.get("parameters")
    retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
    if not issubclass(cls, errors.RateLimited):
        retry_after = None
    message = f"{action}: {meaning} (Telegram: {description or f'error {code}'})"
    wait = capped_wait(retry_after) if isinstance(retry_after, int | float) else None
    error = cls(message, platform=PLATFORM, http_status=status, retry_after=wait, code=str(code))
    raise maybe_applied(error, idempotent=idempotent)


def _classify(code: int, words: str) -> tuple[ErrorClass, str]:
    for entry_code, needle, cls, meaning in TELEGRAM_ERRORS:
        if entry_code == code and needle in words:
            return cls, meaning
    if code >= 500:
        return errors.Unavailable, "Telegram is temporarily unavailable"
    return errors.PermanentError, "Telegram refused the request"


def _json(response: requests.Response, action: str, *, applied: bool) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        return data
    if response.status_code >= 500 or response.status_code == 429:
        return {"ok": False, "error_code": response.status_code}
    cls = errors.UnknownOutcome if applied and response.status_code < 400 else errors.PermanentError
    raise cls(f"{action}: Telegram answered without readable JSON", platform=PLATFORM, http_status=response.status_code)


def _moved_to(data: Mapping[str, Any], body: Mapping[str, Any] | None) -> int | None:
    """The supergroup a group became, when Telegram refused a request to the group for that reason
    (``parameters.migrate_to_chat_id``); None otherwise, or when the request already went there."""
    parameters = data.get("parameters") if data.get("ok") is not True else None
    moved = parameters.get("migrate_to_chat_id") if isinstance(parameters, dict) else None
    if not isinstance(moved, int) or isinstance(moved, bool) or body is None or "chat_id" not in body:
        return None
    return moved if body["chat_id"] != moved else None


def _chat_of(result: Any, default: str) -> str:
    chat = result.get("chat") if isinstance(result, dict) else None
    return str(chat["id"]) if isinstance(chat, dict) and chat.get("id") is not None else default


def _result_field(result: Any, key: str) -> str:
    value = result.get(key) if isinstance(result, dict) else None
    if value is None:
        raise errors.UnknownOutcome(f"Telegram accepted the message but returned no {key}", platform=PLATFORM)
    return str(value)
