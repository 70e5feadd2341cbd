"""A local simulator of the Telegram Bot API for one bot, and of the customers who write to it.

Bot API side, at ``/bot<token>/<method>`` (parameters as JSON, form fields or query string, as
Telegram reads them):

* ``getMe``; ``setWebhook`` (``url`` must be HTTPS, ``secret_token`` 1-256 of ``A-Z a-z 0-9 _ -``),
  ``deleteWebhook``, ``getWebhookInfo``;
* ``sendMessage`` with ``chat_id``, ``text`` (at most 4,096 UTF-16 code units), ``reply_parameters``
  (``message_id``, ``allow_sending_without_reply``) and ``message_thread_id`` (the forum topic to post
  in; a topic nobody wrote in is ``message thread not found``, and without it a forum's message goes
  to its General topic); only chats whose customer wrote first exist; a group that became a supergroup
  (:meth:`~TelegramSimulator.migrate_group`) is refused with ``group chat was upgraded to a supergroup
  chat`` and ``parameters.migrate_to_chat_id``; ``reply_markup`` with an ``inline_keyboard`` (rows of buttons,
  each with a non-empty ``text`` and ``callback_data`` of 1-64 bytes, else ``BUTTON_DATA_INVALID``), kept on
  the message as Telegram keeps it;
* ``answerCallbackQuery`` with the id of a callback query this simulator sent (else ``query is too old and
  response timeout expired or query ID is invalid``) and an optional ``text`` of at most 200 characters.

A method named in the 2xx answer to a webhook (``{"method": "answerCallbackQuery", "callback_query_id": ...}``,
sent as ``application/json`` or a form; any other content type runs nothing) is run as if called, its outcome told
to no one, as Telegram does ("making requests when getting updates").

Answers are ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code", "description"}`` with
Telegram's wording; flood control (:meth:`TelegramSimulator.flood`) answers 429 with
``"parameters": {"retry_after": N}``. A wrong token is ``401 Unauthorized``, an unknown method
``404 Not Found``.

Customer side: :meth:`~TelegramSimulator.customer_message` (any content: ``customer_photo``, or a
service message such as :meth:`~TelegramSimulator.pin`) and :meth:`~TelegramSimulator.customer_edit`
build ``message`` / ``edited_message`` updates, :meth:`~TelegramSimulator.customer_press` a ``callback_query``
(a button of the bot's inline keyboard pressed), (the shape of ``tests/fixtures/telegram``) with
increasing ``update_id`` and POST them to :attr:`~TelegramSimulator.webhook_target` (or the URL set with
``setWebhook``) with ``X-Telegram-Bot-Api-Secret-Token``. Telegram never sends a bot its own messages,
so there are no echoes.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import requests
from flask import Response, request

from sandbox.base import Fault, Simulator, json_response

Payload = dict[str, Any]
TEXT_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64  # bytes of an inline keyboard button's callback_data
#: Buttons in one inline keyboard. The Bot API documents no count; this is the limit Telegram enforces per widely
#: cited reports (tginfo/Telegram-Limits#228: 100 inline buttons; more: 400 "reply markup is too long").
INLINE_KEYBOARD_LIMIT = 100
CALLBACK_ANSWER_LIMIT = 200  # characters of answerCallbackQuery's text
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


class BotApiError(Exception):
    """An ``ok: false`` answer; raised in a handler, it becomes the response."""

    def __init__(self, code: int, description: str, parameters: Payload | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters

    def body(self) -> Payload:
        body: Payload = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body

    def response(self) -> Response:
        return json_response(self.body(), self.code)


def bad_request(detail: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {detail}")


@dataclass(frozen=True)
class Update:
    """What a customer action produced: the update, its ids, and the bridge's answer."""

    update_id: int
    message_id: int
    chat_id: int
    payload: Payload
    response: requests.Response | None = field(repr=False)


class TelegramSimulator(Simulator):
    """The Bot API for one bot token, plus its customers."""

    name = "telegram"

    def __init__(
        self,
        *,
        bot_token: str,
        username: str = "acme_support_bot",
        first_name: str = "Acme Support",
        webhook_target: str | None = None,
        secret_token: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.bot_token, self.username, self.first_name = bot_token, username, first_name
        self.bot_id = int(bot_token.split(":", 1)[0])
        self.webhook_target, self.secret_token, self.clock = webhook_target, secret_token, clock
        self.webhook: Payload = {}
        self.sent: list[Payload] = []
        self.deliveries: list[tuple[bytes, int | None]] = []
        self.chats: dict[int, Payload] = {}
        self.blocked: set[int] = set()
        self.topics: set[tuple[int, int]] = set()
        self.migrated: dict[int, int] = {}  # a group's chat id → its supergroup's
        self.queries: dict[str, bool] = {}  # callback query id → answered
        self.webhook_reply_errors: list[str] = []  # a method in an answer to the webhook that Telegram refused
        self._messages: dict[tuple[int, int], Payload] = {}
        self._message_ids = itertools.count(1365)
        self._update_ids = itertools.count(10000)
        self.app.add_url_rule("/bot<token>/<method>", "method", self._method, methods=["GET", "POST"])
        self.app.register_error_handler(BotApiError, lambda e: e.response())

    def reset(self) -> None:
        """Forget chats, messages, the webhook, calls and faults (one simulator per test module)."""
        with self._lock:
            self.webhook, self.sent, self.deliveries = {}, [], []
            self.chats.clear()
            self.blocked.clear()
            self.topics.clear()
            self.migrated.clear()
            self.queries.clear()
            self.webhook_reply_errors.clear()
            self._messages.clear()
        self.reset_calls()
        self.clear_faults()

    # -- test controls -------------------------------------------------------------------------------

    def flood(self, retry_after: int = 5, *, times: int = 1) -> None:
        """Answer the next ``times`` Bot API calls with flood control's 429."""
        error = BotApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
        self.inject(Fault(429, times, path_prefix="/bot", body=error.body()))

    def block(self, chat_id: int) -> None:
        """The customer blocked the bot: sends to the chat answer 403."""
        with self._lock:
            self.blocked.add(chat_id)

    # -- the customer ----------------------------------------------------------------------------------

    def customer_message(
        self,
        text: str | None,
        *,
        user_id: int,
        first_name: str = "Test Firstname",
        last_name: str | None = None,
        username: str | None = None,
        chat: Payload | None = None,
        topic: int | None = None,
        content: Payload | None = None,
        send: bool = True,
    ) -> Update:
        """A customer writes to the bot (in a private chat unless ``chat`` is a group's chat object).

        ``topic`` is a forum topic's ``message_thread_id``: the message is then a topic message of
        ``chat`` (a supergroup with ``is_forum``). ``content``: the message's other fields (``photo`` and
        ``caption`` with ``text=None``, ``dice``...), or the fields of a service message.
        """
        sender: Payload = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}
        sender.update({k: v for k, v in (("last_name", last_name), ("username", username)) if v})
        chat = chat or {"id": user_id, "type": "private", **{k: v for k, v in sender.items() if k != "is_bot"}}
        chat.pop("language_code", None)
        message: Payload = {"message_id": next(self._message_ids), "from": sender, "chat": chat}
        message.update(date=int(self.clock()), **({"text": text} if text is not None else {}), **(content or {}))
        if topic is not None:
            chat = {**chat, "is_forum": True}
            message.update(chat=chat, message_thread_id=topic, is_topic_message=True)
        with self._lock:
            self.chats[int(chat["id"])] = chat
            if topic is not None:
                self.topics.add((int(chat["id"]), topic))
            self._messages[(int(chat["id"]), int(message["message_id"]))] = message
        return self._update("message", message, send)

    def customer_photo(self, caption: str | None, *, user_id: int, first_name: str = "Test Firstname",
                       chat: Payload | None = None, send: bool = True) -> Update:  # fmt: skip
        """A customer sends a photo (Telegram delivers it in several sizes), with a caption or none."""
        stem = f"AgACAgIAAxkBAAIB{next(self._message_ids)}"
        sizes = [{"file_id": f"{stem}-{w}", "file_unique_id": f"AQAD{w}", "width": w, "height": w * 3 // 4,
                  "file_size": w * w // 20} for w in (90, 320, 1280)]  # fmt: skip
        content: Payload = {"photo": sizes, **({"caption": caption} if caption is not None else {})}
        return self.customer_message(None, user_id=user_id, first_name=first_name, chat=chat, content=content,
                                     send=send)  # fmt: skip

    def pin(self, update: Update, *, by_user_id: int, first_name: str = "Admin", send: bool = True) -> Update:
        """A member pins the message of ``update``: Telegram's service message ``pinned_message``."""
        with self._lock:
            pinned = dict(self._messages[(update.chat_id, update.message_id)])
            chat = self.chats[update.chat_id]
        sender = {"id": by_user_id, "is_bot": False, "first_name": first_name}
        return self.customer_message(None, user_id=by_user_id, first_name=first_name, chat=chat,
                                     content={"from": sender, "pinned_message": pinned}, send=send)  # fmt: skip

    def migrate_group(self, chat_id: int, *, by_user_id: int, send: bool = True) -> int:
        """A group becomes a supergroup with a new chat id: Telegram says so in both chats (``migrate_to_chat_id``,
        ``migrate_from_chat_id``), and a message sent to the old id is refused naming the new one."""
        new_id = int(f"-100{abs(chat_id)}")
        with self._lock:
            old = self.chats[chat_id]
            new = {**old, "id": new_id, "type": "supergroup"}
            self.migrated[chat_id], self.chats[new_id] = new_id, new
        self.customer_message(None, user_id=by_user_id, chat=old, content={"migrate_to_chat_id": new_id}, send=send)
        self.customer_message(None, user_id=by_user_id, chat=new, content={"migrate_from_chat_id": chat_id}, send=send)
        return new_id

    def customer_edit(self, update: Update, text: str, *, send: bool = True) -> Update:
        """The customer edits the message of ``update``: an ``edited_message`` update."""
        with self._lock:
            message = dict(self._messages[(update.chat_id, update.message_id)])
        message.update(text=text, edit_date=int(self.clock()))
        return self._update("edited_message", message, send)

    def customer_press(self, chat_id: int, title: str, *, user_id: int, first_name: str = "Test Firstname",
                       send: bool = True) -> Update:  # fmt: skip
        """The customer presses the button titled ``title`` under the bot's latest message in the chat that has one:
        a ``callback_query`` update (Telegram shows a spinner on it until the bot answers the query)."""
        with self._lock:
            message = next(m for (chat, _), m in reversed(self._messages.items())
                           if chat == chat_id and m.get("reply_markup"))  # fmt: skip
        buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
        button = next(b for b in buttons if b["text"] == title)
        query_id = f"{self.bot_id}{next(self._update_ids)}"
        sender = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}
        query = {"id": query_id, "from": sender, "message": message, "chat_instance": f"-{chat_id}77",
                 "data": button["callback_data"]}  # fmt: skip
        with self._lock:
            self.queries[query_id] = False
        update_id = next(self._update_ids)
        payload: Payload = {"update_id": update_id, "callback_query": query}
        response = self.deliver(payload) if send else None
        return Update(update_id, int(message["message_id"]), chat_id, payload, response)

    def deliver(self, payload: Payload, *, secret_token: str | None = None) -> requests.Response:
        """POST an update to the bridge with the secret header, as Telegram does."""
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        secret = secret_token if secret_token is not None else self.secret_token or self.webhook.get("secret_token")
        if secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        try:
            response = requests.post(self._target(), data=body, headers=headers, timeout=20)
        except requests.RequestException:
            self.deliveries.append((body, None))
            raise
        self.deliveries.append((body, response.status_code))
        self._webhook_reply(response)
        return response

    def _webhook_reply(self, response: requests.Response) -> None:
        """Run the Bot API method a 2xx answer to the webhook names (``method`` and its parameters), as Telegram
        does; Telegram tells the bot nothing of how it went, so a refusal is only kept in
        :attr:`webhook_reply_errors`."""
        reply = _webhook_answer(response) if response.ok else None
        if not isinstance(reply, dict) or not isinstance(reply.get("method"), str):
            return
        handler = self._handlers().get(reply["method"])
        try:
            if handler is None:
                raise BotApiError(404, "Not Found")
            handler({k: v for k, v in reply.items() if k != "method"})
        except BotApiError as e:
            self.webhook_reply_errors.append(e.description)

    def _update(self, kind: str, message: Payload, send: bool) -> Update:
        update_id = next(self._update_ids)
        payload: Payload = {"update_id": update_id, kind: message}
        response = self.deliver(payload) if send and (self.webhook_target or self.webhook.get("url")) else None
        return Update(update_id, int(message["message_id"]), int(message["chat"]["id"]), payload, response)

    def _target(self) -> str:
        target = self.webhook_target or self.webhook.get("url")
        if not target:
            raise RuntimeError("TelegramSimulator has no webhook: set webhook_target or call setWebhook")
        return str(target)

    # -- Bot API ----------------------------------------------------------------------------------------

    def _method(self, token: str, method: str) -> Response:
        if token != self.bot_token:
            raise BotApiError(401, "Unauthorized")
        handler = self._handlers().get(method)
        if handler is None:
            raise BotApiError(404, "Not Found")
        return json_response({"ok": True, "result": handler(_params())})

    def _handlers(self) -> dict[str, Callable[[Payload], Any]]:
        return {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "answerCallbackQuery": self._answer_query,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._webhook_info,
        }

    def _get_me(self, params: Payload) -> Payload:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.first_name, "username": self.username}

    def _send_message(self, params: Payload) -> Payload:
        chat_id, text = _int(params.get("chat_id"), "chat_id is empty"), params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise bad_request("message text is empty")
        if len(text.encode("utf-16-le", "surrogatepass")) // 2 > TEXT_LIMIT:
            raise bad_request("message is too long")
        with self._lock:
            chat = self.chats.get(chat_id)
            if chat is None:
                raise bad_request("chat not found")
            if chat_id in self.blocked:
                raise BotApiError(403, "Forbidden: bot was blocked by the user")
            if chat_id in self.migrated:  # Telegram's words, and the new id in ResponseParameters
                upgraded = "Bad Request: group chat was upgraded to a supergroup chat"
                raise BotApiError(400, upgraded, {"migrate_to_chat_id": self.migrated[chat_id]})
            topic = self._topic(chat, params.get("message_thread_id"))
            markup = _keyboard(_json_param(params, "reply_markup"))
            message = self._bot_message(chat, text, _json_param(params, "reply_parameters"), topic)
            if markup:
                message["reply_markup"] = markup
            self.sent.append({"chat_id": chat_id, "text": text, "message_id": message["message_id"], **params})
        return message

    def _answer_query(self, params: Payload) -> bool:
        query_id, text = str(params.get("callback_query_id") or ""), params.get("text")
        if text is not None and len(str(text)) > CALLBACK_ANSWER_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        with self._lock:
            if self.queries.get(query_id) is not False:  # unknown, or answered already
                raise bad_request("query is too old and response timeout expired or query ID is invalid")
            self.queries[query_id] = True
        return True

    def _topic(self, chat: Payload, thread: Any) -> int | None:
        """The forum topic a message goes to (None: the chat itself, or a forum's General topic)."""
        if thread is None or thread == "" or not chat.get("is_forum"):
            return None  # Telegram ignores message_thread_id outside forums
        topic = _int(thread, "message thread not found")
        if (int(chat["id"]), topic) not in self.topics:
            raise bad_request("message thread not found")
        return topic

    def _bot_message(self, chat: Payload, text: str, reply: Payload | None, topic: int | None = None) -> Payload:
        bot = {"id": self.bot_id, "is_bot": True, "first_name": self.first_name, "username": self.username}
        message: Payload = {"message_id": next(self._message_ids), "from": bot, "chat": chat}
        message.update(date=int(self.clock()), text=text)
        if topic is not None:
            message.update(message_thread_id=topic, is_topic_message=True)
        if reply:
            quoted = self._messages.get((int(chat["id"]), _int(reply.get("message_id"), "message_id is empty")))
            if quoted is None and not reply.get("allow_sending_without_reply"):
                raise bad_request("message to be replied not found")
            if quoted is not None:
                message["reply_to_message"] = quoted
        self._messages[(int(chat["id"]), int(message["message_id"]))] = message
        return message

    def _set_webhook(self, params: Payload) -> bool:
        url, secret = str(params.get("url") or ""), params.get("secret_token")
        if not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if secret is not None and not _SECRET_TOKEN.fullmatch(str(secret)):
            raise bad_request("secret token contains unallowed characters")
        with self._lock:
            self.webhook = {
                "url": url,
                "secret_token": secret,
                "allowed_updates": _json_param(params, "allowed_updates"),
            }
        return True

    def _delete_webhook(self, params: Payload) -> bool:
        with self._lock:
            self.webhook = {}
        return True

    def _webhook_info(self, params: Payload) -> Payload:
        info: Payload = {"url": self.webhook.get("url", ""), "has_custom_certificate": False, "pending_update_count": 0}
        if self.webhook.get("allowed_updates"):
            info["allowed_updates"] = self.webhook["allowed_updates"]
        return info


def _keyboard(markup: Any) -> Payload | None:
    """An ``InlineKeyboardMarkup``, checked: rows of buttons with a text and callback data of 1-64 bytes."""
    if markup is None:
        return None
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse inline keyboard button: InlineKeyboardMarkup must be an Array of Arrays")
    if sum(len(row) for row in rows) > INLINE_KEYBOARD_LIMIT:
        raise bad_request("reply markup is too long")
    for button in (b for row in rows for b in row):
        if not isinstance(button, dict) or not str(button.get("text") or "").strip():
            raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
        if not 1 <= len(str(button.get("callback_data") or "").encode("utf-8")) <= CALLBACK_DATA_LIMIT:
            raise bad_request("BUTTON_DATA_INVALID")
    return {"inline_keyboard": rows}


def _webhook_answer(response: requests.Response) -> Any:
    """The parameters of an answer to the webhook, read by its content type: "Use either application/json or
    application/x-www-form-urlencoded or multipart/form-data response content type for passing parameters"
    (core.telegram.org/bots/api, "Making requests when getting updates"). JSON sent as text/plain or text/html is
    no request. Multipart answers are not read here (the bridge answers JSON): none is run."""
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        return dict(parse_qsl(response.text, keep_blank_values=True))
    if kind != "application/json":
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _params() -> Payload:
    params: Payload = dict(request.args)
    params.update(request.form)
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict):
        params.update(body)
    return params


def _json_param(params: Payload, name: str) -> Any:
    value = params.get(name)
    if isinstance(value, str):  # form fields carry JSON-serialised objects
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {name} JSON object") from None
    return value


def _int(value: Any, missing: str) -> int:
    if value is None or value == "":
        raise bad_request(missing)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request("chat not found") from None
