"""The WhatsApp Cloud API in the Graph API simulator.

* ``POST /{phone-number-id}/messages``: ``messaging_product: "whatsapp"``, ``to`` (or ``recipient``, a
  business-scoped user id), ``type`` ``text`` (4,096 characters), ``template`` (approved ones only, see
  :meth:`WhatsAppMixin.add_template`), ``interactive`` reply buttons (:func:`reply_buttons`: a body of at most
  1,024 characters, 1-3 buttons, unique titles of 1-20 characters, ids of 1-256) or a media type;
  ``context.message_id`` quotes a message. Text, buttons
  and media are refused outside the 24-hour customer-service window with error 131047, exactly as
  the Cloud API does; templates are not. The answer is ``{"messaging_product", "contacts",
  "messages": [{"id": "wamid..."}]}``.
* ``GET /{phone-number-id}`` (``fields=``): the number, its verified name and quality rating.

Errors have WhatsApp's shape: Graph's, plus ``error_data: {"messaging_product", "details"}``
(:data:`WA_ERRORS`, :meth:`WhatsAppMixin.whatsapp_fault`). WhatsApp sends no echo of our messages;
with :attr:`wa_statuses` on, it sends their ``sent`` and ``delivered`` statuses instead (``failed``
with 131026 for a customer marked :meth:`~WhatsAppMixin.undeliverable`).

The customer: :meth:`~WhatsAppMixin.whatsapp_message` (text, image, sticker, location, contacts,
reaction, interactive, unsupported...), :meth:`~WhatsAppMixin.whatsapp_system` (a changed user id) and
:meth:`~WhatsAppMixin.whatsapp_status`, posted in the
shapes of ``fixtures/meta/whatsapp_*.json``.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from flask import Response

from sandbox.base import Fault, json_response
from sandbox.meta.core import MetaCore
from sandbox.meta.graph import DAY, Account, GraphError, Payload, Readable, bad_param, envelope, epoch, select

SERVICE_WINDOW = 1 * DAY
TEXT_LIMIT = 4096
DEFAULT_WABA_ID = "102290129340398"
REENGAGEMENT_SUBCODE = 2494010

#: WhatsApp error code → (title, ``error_data.details``, HTTP status), worded as the Cloud API does.
WA_ERRORS: dict[int, tuple[str, str, int]] = {
    100: ("Invalid parameter", "The request included one or more unsupported or misspelled parameters.", 400),
    130429: ("Rate limit hit", "Cloud API message throughput has been reached.", 400),
    131000: ("Something went wrong", "Message failed to send due to an unknown error.", 500),
    131008: ("Required parameter is missing", "The request is missing a required parameter.", 400),
    131016: ("Service unavailable", "A service is temporarily unavailable.", 503),
    131026: (
        "Message Undeliverable",
        "Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone "
        "number; the recipient has not accepted our new Terms of Service and Privacy Policy; the recipient is "
        "using an old WhatsApp version.",
        400,
    ),
    131047: (
        "Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
        400,
    ),
    131048: (
        "Spam rate limit hit",
        "Message failed to send because there are restrictions on how many messages can be sent from this "
        "phone number. This may be because too many previous messages were blocked or flagged as spam.",
        400,
    ),
    131049: (
        "This message was not delivered to maintain healthy ecosystem engagement.",
        "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
        400,
    ),
    131056: (
        "(Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone number to the same "
        "phone number in a short period of time.",
        400,
    ),
    132001: (
        "Template name does not exist in the translation",
        "The template does not exist in the specified language or the template has not been approved.",
        404,
    ),
}


def wa_error(code: int, details: str | None = None) -> GraphError:
    """A WhatsApp error answer, from :data:`WA_ERRORS`."""
    title, default_details, status = WA_ERRORS[code]
    data = {"messaging_product": "whatsapp", "details": details or default_details}
    subcode = REENGAGEMENT_SUBCODE if code == 131047 else None
    return GraphError(f"(#{code}) {title}", code, subcode, status=status, data=data)


def new_wamid() -> str:
    """A WhatsApp message id: ``wamid.`` + base64, like ``wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQz...``."""
    return "wamid." + base64.b64encode(b"\x15\x02\x00\x11\x18\x12" + secrets.token_bytes(20)).decode("ascii")


@dataclass(frozen=True)
class WhatsAppEvent(Readable):
    """What :meth:`WhatsAppMixin.whatsapp_message` or :meth:`~WhatsAppMixin.whatsapp_status` did."""

    message_id: str
    wa_id: str
    timestamp: int  # seconds, as in the payload (where it is a string)
    payload: Payload
    response: requests.Response | None


class WhatsAppMixin(MetaCore):
    """WhatsApp Business phone numbers on the Cloud API, and the customer who writes to them."""

    wa_sent_messages: list[Payload]
    wa_templates: set[tuple[str, str]]
    wa_statuses: bool
    waba_id: str
    _wa_numbers: dict[str, str]
    _wa_last_inbound: dict[tuple[str, str], float]
    _wa_undeliverable: set[str]

    def _init_whatsapp(self, phones: dict[str, str], numbers: dict[str, str], names: dict[str, str], waba: str) -> None:
        self.wa_sent_messages, self.wa_templates, self.wa_statuses = [], {("hello_world", "en_US")}, False
        self.waba_id, self._wa_numbers = waba, {}
        for phone_id, phone_token in phones.items():
            self._phones[phone_id] = Account(phone_id, phone_token, names.get(phone_id, "Test Number"), "whatsapp")
            self._wa_numbers[phone_id] = numbers.get(phone_id, "1555" + phone_id[-7:].rjust(7, "0"))
        self._wa_last_inbound, self._wa_undeliverable = {}, set()

    # -- test controls ---------------------------------------------------------------------------------

    def add_template(self, name: str, language: str = "en_US") -> None:
        """An approved message template (``hello_world``/``en_US`` is there from the start, as on Meta)."""
        with self._lock:
            self.wa_templates.add((name, language))

    def undeliverable(self, wa_id: str) -> None:
        """Sends to ``wa_id`` are accepted, then fail with 131026 (not on WhatsApp, old app...)."""
        with self._lock:
            self._wa_undeliverable.add(wa_id)

    def whatsapp_fault(self, code: int, *, times: int = 1) -> None:
        """Answer the next ``times`` sends with WhatsApp error ``code`` (see :data:`WA_ERRORS`)."""
        error = wa_error(code)
        self.inject(Fault(error.status, times, "POST", f"/{self.version}/", body=error.body()))

    # -- the customer ----------------------------------------------------------------------------------

    def whatsapp_message(
        self,
        phone_id: str,
        *,
        wa_id: str,
        name: str | None = "WhatsApp User",
        text: str | None = None,
        kind: str = "text",
        content: Any = None,
        context_id: str | None = None,
        timestamp: datetime | float | None = None,
        send: bool = True,
    ) -> WhatsAppEvent:
        """The customer ``wa_id`` sends a message of type ``kind`` to the number; ``content`` replaces
        the type's default object (``{"body": text}`` for text, a media id and ``text`` as caption for
        media...). It opens the 24-hour window from ``timestamp``. ``context_id``: the quoted message."""
        when = epoch(timestamp, self.clock)
        message: Payload = {"from": wa_id, "id": new_wamid(), "timestamp": str(int(when)), "type": kind}
        if context_id is not None:
            message["context"] = {"from": self._wa_numbers[phone_id], "id": context_id}
        message[kind] = content if content is not None else default_content(kind, text)
        if kind == "unsupported":  # WhatsApp explains in errors[] what it could not pass on
            details = {"details": "Message type is currently not supported."}
            message["errors"] = [{"code": 131051, "title": "Message type unknown", "message": "Message type unknown",
                                  "error_data": details}]  # fmt: skip
        with self._lock:
            key = (phone_id, wa_id)
            self._wa_last_inbound[key] = max(when, self._wa_last_inbound.get(key, when))
        contacts = [{"profile": {"name": name}, "wa_id": wa_id}] if name is not None else []
        payload = self._wa_payload(phone_id, {"contacts": contacts, "messages": [message]})
        return WhatsAppEvent(message["id"], wa_id, int(when), payload, self._post_if(send, payload))

    def whatsapp_system(
        self,
        phone_id: str,
        *,
        user_id: str,
        previous_user_id: str | None,
        body: str = "User's user id changed",
        timestamp: datetime | float | None = None,
        send: bool = True,
    ) -> WhatsAppEvent:
        """WhatsApp reports that a customer's business-scoped user id changed (``user_changed_user_id``): a
        ``system`` message with no ``from`` and no ``contacts``, only the ``system`` object."""
        when = epoch(timestamp, self.clock)
        system: Payload = {"body": body, "type": "user_changed_user_id", "user_id": user_id}
        if previous_user_id is not None:
            system["previous_user_id"] = previous_user_id
        wamid = new_wamid()
        message = {"id": wamid, "timestamp": str(int(when)), "type": "system", "system": system}
        payload = self._wa_payload(phone_id, {"messages": [message]})
        return WhatsAppEvent(wamid, user_id, int(when), payload, self._post_if(send, payload))

    def whatsapp_status(
        self,
        phone_id: str,
        *,
        message_id: str,
        recipient: str,
        status: str = "delivered",
        error_code: int | None = None,
        timestamp: datetime | float | None = None,
        send: bool = True,
    ) -> WhatsAppEvent:
        """WhatsApp reports ``status`` (sent, delivered, read, failed) of our message ``message_id``."""
        when = int(epoch(timestamp, self.clock))
        entry = status_object(message_id, recipient, status, when, error_code)
        payload = self._wa_payload(phone_id, {"statuses": [entry]})
        return WhatsAppEvent(message_id, recipient, when, payload, self._post_if(send, payload))

    def _wa_payload(self, phone_id: str, fields: Payload) -> Payload:
        metadata = {"display_phone_number": self._wa_numbers[phone_id], "phone_number_id": phone_id}
        value = {"messaging_product": "whatsapp", "metadata": metadata, **{k: v for k, v in fields.items() if v}}
        return envelope(
            "whatsapp_business_account", [{"id": self.waba_id, "changes": [{"value": value, "field": "messages"}]}]
        )

    # -- Graph handlers (the routes dispatch here for WhatsApp tokens) ---------------------------------

    def _wa_get(self, object_id: str, account: Account, merged: Payload) -> Response:
        if object_id != account.id:
            raise GraphError(f"Unsupported get request. Object with ID '{object_id}' does not exist", 100, 33)
        node = {
            "verified_name": account.name,
            "code_verification_status": "VERIFIED",
            "display_phone_number": self._wa_numbers[account.id],
            "quality_rating": "GREEN",
            "platform_type": "CLOUD_API",
            "throughput": {"level": "STANDARD"},
            "id": account.id,
        }
        defaults = ("verified_name", "code_verification_status", "display_phone_number", "quality_rating", "id")
        return json_response(select("WhatsAppBusinessPhoneNumber", node, str(merged.get("fields") or ""), defaults))

    def _wa_send(self, object_id: str, account: Account, merged: Payload) -> Response:
        if object_id != account.id:
            raise GraphError(f"Unsupported post request. Object with ID '{object_id}' does not exist", 100, 33)
        if merged.get("messaging_product") != "whatsapp":
            raise bad_param("The parameter messaging_product is required.")
        to = str(merged.get("to") or merged.get("recipient") or "")
        if not to:
            raise bad_param("The parameter to is required.")
        kind = str(merged.get("type") or "text")
        record = {"phone_number_id": account.id, "to": to, "type": kind, **self._wa_content(kind, merged)}
        if kind != "template":
            self._wa_check_window(account.id, to)
        record["context"] = (merged.get("context") or {}).get("message_id")
        record["message_id"] = wamid = new_wamid()
        with self._lock:
            self.wa_sent_messages.append(record)
        sent: Payload = {"id": wamid, **({"message_status": "accepted"} if kind == "template" else {})}
        response = json_response({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                                  "messages": [sent]})  # fmt: skip
        self._post_later(response, *self._wa_receipts(account.id, wamid, to), when=self.wa_statuses)
        return response

    def _wa_content(self, kind: str, merged: Payload) -> Payload:
        body = merged.get(kind)
        if not isinstance(body, dict):
            raise bad_param(f"The parameter {kind} is required.")
        if kind == "text":
            text = body.get("body")
            if not isinstance(text, str) or not text:
                raise bad_param("The parameter text['body'] is required.")
            if len(text) > TEXT_LIMIT:
                raise bad_param(f"Param text['body'] must be at most {TEXT_LIMIT} characters long.")
            return {"text": text}
        if kind == "interactive":
            return {"interactive": reply_buttons(body)}
        if kind == "template":
            name, language = _template_name(body)
            if (name, language) not in self.wa_templates:
                raise wa_error(132001, f"template name ({name}) does not exist in {language or 'any language'}")
            return {"template": name, "language": language}
        return {kind: body}

    def _wa_check_window(self, phone_id: str, to: str) -> None:
        with self._lock:
            last = self._wa_last_inbound.get((phone_id, to))
        if last is None or self.clock() - last > SERVICE_WINDOW:
            raise wa_error(131047)

    def _wa_receipts(self, phone_id: str, wamid: str, to: str) -> list[Payload]:
        now = int(self.clock())
        if to in self._wa_undeliverable:
            return [self._wa_payload(phone_id, {"statuses": [status_object(wamid, to, "failed", now, 131026)]})]
        return [self._wa_payload(phone_id, {"statuses": [status_object(wamid, to, s, now, None)]})
                for s in ("sent", "delivered")]  # fmt: skip


def _template_name(template: Payload) -> tuple[str, str]:
    """A template message's ``name`` and ``language.code``: the template object is a ``name`` and a ``language``
    object with its ``code`` (WhatsApp's own Node.js SDK reference, Template Object and Language Object:
    whatsapp.github.io/WhatsApp-Nodejs-SDK/api-reference/types/TemplateObject). Either missing, or not of its
    type, is refused as a missing parameter (#100, wording best effort); a string ``language`` broke the simulator
    (answered as an unknown path, 2500)."""
    name, language = template.get("name"), template.get("language")
    if not isinstance(name, str) or not name:
        raise bad_param("The parameter template['name'] is required.")
    code = language.get("code") if isinstance(language, dict) else None
    if not isinstance(code, str) or not code:
        raise bad_param("The parameter template['language']['code'] is required.")
    return name, code


BUTTON_BODY, BUTTONS_MAX, BUTTON_TITLE, BUTTON_ID = 1024, 3, 20, 256


def reply_buttons(interactive: Payload) -> Payload:
    """An ``interactive`` message of ``type: "button"``, checked against the documented limits."""
    if interactive.get("type") != "button":
        raise bad_param("The parameter interactive['type'] must be one of {button, list, cta_url, ...}.")
    body = (interactive.get("body") or {}).get("text") if isinstance(interactive.get("body"), dict) else None
    if not isinstance(body, str) or not body or len(body) > BUTTON_BODY:
        raise bad_param(f"Param interactive['body']['text'] is required, at most {BUTTON_BODY} characters long.")
    buttons = (interactive.get("action") or {}).get("buttons") if isinstance(interactive.get("action"), dict) else None
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= BUTTONS_MAX:
        raise bad_param(f"Param interactive['action']['buttons'] must have 1 to {BUTTONS_MAX} buttons.")
    replies = [_reply_button(b) for b in buttons]
    if len({r["title"] for r in replies}) < len(replies) or len({r["id"] for r in replies}) < len(replies):
        raise bad_param("Param interactive['action']['buttons'] must have unique titles and ids.")
    return {"body": body, "buttons": replies}


def _reply_button(button: Any) -> Payload:
    reply = button.get("reply") if isinstance(button, dict) and button.get("type") == "reply" else None
    if not isinstance(reply, dict):
        raise bad_param("Param interactive['action']['buttons'][]['type'] must be reply, with a reply object.")
    title, id_ = str(reply.get("title") or ""), str(reply.get("id") or "")
    if not 1 <= len(title) <= BUTTON_TITLE:
        raise bad_param(f"Param interactive['action']['buttons'][]['reply']['title'] must be 1-{BUTTON_TITLE} chars.")
    if not 1 <= len(id_) <= BUTTON_ID or id_ != id_.strip():
        raise bad_param(f"Param interactive['action']['buttons'][]['reply']['id'] must be 1-{BUTTON_ID} characters.")
    return {"id": id_, "title": title}


def status_object(message_id: str, recipient: str, status: str, when: int, error_code: int | None) -> Payload:
    """One ``statuses[]`` item in the shape of ``whatsapp_status_sent.json`` / ``..._failed.json``."""
    entry: Payload = {"id": message_id, "status": status, "timestamp": str(when), "recipient_id": recipient}
    if status in ("sent", "delivered"):
        origin = {"type": "service"}
        entry["conversation"] = {
            "id": secrets.token_hex(16),
            "expiration_timestamp": str(when + 86_400),
            "origin": origin,
        }
        entry["pricing"] = {
            "billable": False,
            "pricing_model": "PMP",
            "type": "free_customer_service",
            "category": "service",
        }
    if status == "failed":
        title, details, _ = WA_ERRORS[error_code or 131000]
        href = "/documentation/business-messaging/whatsapp/support/error-codes"
        error = {"code": error_code or 131000, "title": title, "message": title, "error_data": {"details": details}}
        entry["errors"] = [{**error, "href": href}]
    return entry


def default_content(kind: str, text: str | None) -> Any:
    """A plausible object for each message type, with ``text`` where the type carries one."""
    media_id = str(secrets.randbelow(10**15) + 10**15)
    digest = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
    caption = {"caption": text} if text else {}
    contents: dict[str, Any] = {
        "text": {"body": text or ""},
        "image": {**caption, "mime_type": "image/jpeg", "sha256": digest, "id": media_id},
        "video": {**caption, "mime_type": "video/mp4", "sha256": digest, "id": media_id},
        "document": {**caption, "filename": "invoice.pdf", "mime_type": "application/pdf", "sha256": digest,
                     "id": media_id},
        "audio": {"mime_type": "audio/ogg; codecs=opus", "sha256": digest, "id": media_id, "voice": True},
        "sticker": {"mime_type": "image/webp", "sha256": digest, "id": media_id, "animated": False},
        "location": {"latitude": 38.9072, "longitude": -77.0369, "name": text or "Office", "address": "1 Main St"},
        "contacts": [{"name": {"formatted_name": text or "Jane Doe", "first_name": "Jane"},
                      "phones": [{"phone": "+1 (650) 555-1234", "wa_id": "16505551234", "type": "CELL"}]}],
        "interactive": {"type": "button_reply", "button_reply": {"id": "yes", "title": text or "Yes"}},
        "button": {"payload": "YES", "text": text or "Yes"},
        "reaction": {"message_id": new_wamid(), "emoji": "\U0001f44d"},
        "unsupported": {"type": "edit"},
    }  # fmt: skip
    return contents.get(kind, {})
