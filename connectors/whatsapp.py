"""The WhatsApp Cloud API: the outbound side of a ``whatsapp`` channel.

A reply is ``POST /{phone-number-id}/messages`` with ``messaging_product: "whatsapp"``, the customer
in ``to``, ``type: "text"`` and ``context.message_id`` quoting the customer's latest message (on the
first part of a split reply only). Text messages are accepted within the 24-hour customer-service
window that each customer message opens. Outside it, WhatsApp only accepts an approved template:

* with ``reengagement_template`` configured, that template is sent instead of the reply and the
  :class:`~bridge.events.Delivery` carries a ``note`` telling the agent the reply itself was not sent;
* without it, :class:`~bridge.errors.WindowClosed` is raised and nothing is sent.

The window is judged from the last inbound time the core knows; when that is unknown, or when the
clocks disagree, WhatsApp's own refusal (error 131047) leads to the same two outcomes. WhatsApp's
errors are mapped in one table, :data:`WHATSAPP_ERRORS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests

from bridge import errors, messages
from bridge.events import Delivery, ThreadState
from bridge.text import split_text
from connectors.base import DEFAULT_MAX_REPLY_PARTS, account_at, send_parts
from connectors.meta import DEFAULT_API_URL, ErrorClass, GraphClient

PLATFORM = "whatsapp"
TEXT_LIMIT = 4096  # characters of a text message body
BUTTON_BODY_LIMIT = 1024  # characters of an interactive message's body
SERVICE_WINDOW = timedelta(hours=24)

_PERMISSION = (errors.AuthError, "the access token lacks a permission this action needs")
_PERMANENT = errors.PermanentError

#: WhatsApp error code → (bridge error, what it means for the agent). Codes not listed:
#: ``is_transient`` or HTTP 5xx → Unavailable, any other error → PermanentError.
WHATSAPP_ERRORS: dict[tuple[int, int | None], tuple[ErrorClass, str]] = {
    # try again later
    (1, None): (errors.Unavailable, "WhatsApp reported an unknown error"),
    (2, None): (errors.Unavailable, "WhatsApp is temporarily unavailable"),
    (131000, None): (errors.Unavailable, "WhatsApp failed to send the message because of an unknown error"),
    (131016, None): (errors.Unavailable, "WhatsApp's service is temporarily overloaded"),
    (131057, None): (errors.Unavailable, "the WhatsApp Business Account is in maintenance mode"),
    (4, None): (errors.RateLimited, "the app's API call limit is reached"),
    (80007, None): (errors.RateLimited, "the WhatsApp Business Account's rate limit is reached"),
    (130429, None): (errors.RateLimited, "the phone number's Cloud API throughput limit is reached"),
    (131048, None): (
        errors.RateLimited,
        "the phone number's spam rate limit is reached: too many of its messages were blocked or flagged",
    ),
    # per customer, not per number: retry this reply later without pausing the whole channel
    (131056, None): (errors.RetryableError, "too many messages were sent to this customer in a short time"),
    # the window
    (131047, None): (
        errors.WindowClosed,
        "WhatsApp refused the reply: more than 24 hours have passed since the customer last wrote",
    ),
    # credentials
    (0, None): (errors.AuthError, "WhatsApp could not authenticate the app"),
    (3, None): (errors.AuthError, "the app lacks the capability or permission for this API"),
    (10, None): _PERMISSION,
    **{(code, None): _PERMISSION for code in range(200, 300)},
    (190, None): (errors.AuthError, "the WhatsApp access token expired or was revoked"),
    (131005, None): (errors.AuthError, "access denied: the token may not use this phone number"),
    # never as it is
    (33, None): (errors.NotFound, "the phone number id does not exist, or the token cannot see it"),
    # Graph's own answer for a node id the token cannot reach, the phone number id included ("Unsupported get
    # request. Object with ID ... does not exist, cannot be loaded due to missing permissions"): not a parameter
    (100, 33): (errors.NotFound, "the phone number id does not exist, or the token cannot see it"),
    (100, None): (_PERMANENT, "WhatsApp refused a parameter of the request"),
    (131008, None): (_PERMANENT, "a required parameter is missing"),
    (131009, None): (_PERMANENT, "a parameter value is not valid"),
    (131021, None): (_PERMANENT, "the recipient is the business's own number"),
    (131026, None): (
        _PERMANENT,
        "the message is undeliverable: the customer may not use WhatsApp, may run an old version, "
        "or may not have accepted WhatsApp's latest terms",
    ),
    (131030, None): (_PERMANENT, "the customer is not in the test number's list of allowed recipients"),
    (131031, None): (_PERMANENT, "the WhatsApp Business Account is locked"),
    (131037, None): (_PERMANENT, "the phone number's display name needs approval"),
    (131042, None): (_PERMANENT, "there is a payment problem with the WhatsApp Business Account"),
    (131045, None): (_PERMANENT, "the phone number is not registered correctly (certificate)"),
    (131049, None): (_PERMANENT, "Meta did not deliver the message to maintain healthy ecosystem engagement"),
    (131050, None): (_PERMANENT, "the customer has stopped marketing messages from the business"),
    (131051, None): (_PERMANENT, "the message type is not supported"),
    (131053, None): (_PERMANENT, "the media could not be uploaded"),
    (132000, None): (_PERMANENT, "the template's parameter count does not match its definition"),
    (132001, None): (_PERMANENT, "the template does not exist in this language, or is not approved"),
    (132005, None): (_PERMANENT, "the template's text is too long once filled in"),
    (132007, None): (_PERMANENT, "the template breaks WhatsApp's format policy"),
    (132012, None): (_PERMANENT, "the template's parameters are in the wrong format"),
    (132015, None): (_PERMANENT, "the template is paused because of its low quality"),
    (132016, None): (_PERMANENT, "the template is disabled"),
    (133010, None): (_PERMANENT, "the phone number is not registered with the Cloud API"),
    (130472, None): (_PERMANENT, "the customer's number is part of a Meta experiment"),
    (130497, None): (_PERMANENT, "the business may not message customers in this country"),
    (368, None): (_PERMANENT, "the account is temporarily blocked for policy violations"),
}


_PHONE_ID_HINT = "the phone number id (WhatsApp Manager, API Setup), not the number nor the business account id"


class WhatsAppChannel(GraphClient):
    """A WhatsApp Business phone number on the Cloud API (implements ``SocialChannel``).

    ``account_id`` is the phone number id (``value.metadata.phone_number_id`` in the webhooks), not
    the phone number and not the WhatsApp Business Account id. ``reengagement_template`` names an
    approved template (in ``template_language``) to send when the 24-hour window has closed.
    """

    platform = PLATFORM
    error_table = WHATSAPP_ERRORS

    def __init__(
        self,
        *,
        name: str,
        account_id: str,
        access_token: str,
        api_url: str = DEFAULT_API_URL,
        reengagement_template: str | None = None,
        template_language: str = "en_US",
        session: requests.Session | None = None,
        timeout: float = 30,
        max_reply_parts: int = DEFAULT_MAX_REPLY_PARTS,
    ) -> None:
        super().__init__(
            name=name, account_id=account_id, access_token=access_token, api_url=api_url, session=session,
            timeout=timeout, max_reply_parts=max_reply_parts,
        )  # fmt: skip
        self.reengagement_template = reengagement_template or None
        self.template_language = template_language

    # -- SocialChannel ---------------------------------------------------------------------------------

    def send_reply(self, thread: ThreadState, text: str, *, now: datetime) -> Delivery:
        """Send ``text`` as text messages in the window, else the re-engagement template or WindowClosed."""
        kind, _, ref = thread.thread_id.partition(":")
        if kind != "chat":
            raise errors.PermanentError(f"a WhatsApp channel cannot reply in a {kind!r} thread", platform=PLATFORM)
        to = thread.reply_to or ref
        parts = split_text(text, TEXT_LIMIT)
        if not parts:
            raise errors.PermanentError("the reply is empty: there is nothing to send", platform=PLATFORM)
        if window_closed(thread.last_inbound_at, now):
            return self._reengage(to, thread.last_inbound_at, None)
        try:
            send = self._text_sender(to, thread.last_inbound_message_id)
            return send_parts(PLATFORM, parts, send, max_parts=self.max_reply_parts)
        except errors.WindowClosed as refused:  # only ever for the first part: later ones are partial
            return self._reengage(to, thread.last_inbound_at, refused)

    def send_buttons(
        self, thread: ThreadState, text: str, buttons: Sequence[tuple[str, str]], *, now: datetime
    ) -> Delivery:
        """Interactive reply buttons (``buttons``: payload as the id, title): free-form, so inside the 24-hour
        window only (no template stands in for them). A text past the body's 1,024 characters goes first as text."""
        kind, _, ref = thread.thread_id.partition(":")
        if kind != "chat":
            raise errors.PermanentError(f"a WhatsApp channel cannot reply in a {kind!r} thread", platform=PLATFORM)
        if window_closed(thread.last_inbound_at, now):
            last = thread.last_inbound_at.astimezone(UTC) if thread.last_inbound_at else None
            reason = messages.window_closed("WhatsApp", last, "24 hours")
            raise errors.WindowClosed(f"{reason}: buttons are sent inside it only", platform=PLATFORM, code="window")
        to, parts = thread.reply_to or ref, split_text(text, BUTTON_BODY_LIMIT)
        if not parts:
            raise errors.PermanentError("the reply is empty: there is nothing to send", platform=PLATFORM)
        action = {"buttons": [{"type": "reply", "reply": {"id": p, "title": t}} for p, t in buttons]}
        send_text = self._text_sender(to, None)

        def send(part: str) -> str:
            if part is not parts[-1]:
                return send_text(part)
            interactive = {"type": "button", "body": {"text": part}, "action": action}
            return self._send({**_base(to), "type": "interactive", "interactive": interactive},
                              "could not send the WhatsApp buttons")  # fmt: skip

        return send_parts(PLATFORM, parts, send, max_parts=self.max_reply_parts)

    def ping(self) -> str:
        """``GET /{phone-number-id}``: the verified name and number, proving the token works for it. A system
        user's token serves every number of its business, so no "who am I" names one: a wrong id shows as Graph's
        "does not exist" (code 100, subcode 33; :func:`~connectors.base.account_at`)."""
        fields = {"fields": "id,verified_name,display_phone_number"}
        data = account_at(
            lambda: self._request("GET", self._node(), "could not reach the WhatsApp phone number", params=fields),
            self.account_id, "phone number id", _PHONE_ID_HINT, platform=PLATFORM, product="WhatsApp",
        )  # fmt: skip
        name, number = data.get("verified_name"), data.get("display_phone_number")
        return f"{name} ({number})" if name and number else str(name or number or self.account_id)

    # -- sends -----------------------------------------------------------------------------------------

    def _text_sender(self, to: str, quoted: str | None) -> Callable[[str], str]:
        first = [True]

        def send(part: str) -> str:
            body = {**_base(to), "type": "text", "text": {"preview_url": False, "body": part}}
            if quoted and first[0]:
                body["context"] = {"message_id": quoted}
            first[0] = False
            return self._send(body, "could not send the WhatsApp message")

        return send

    def _reengage(self, to: str, last: datetime | None, refused: errors.WindowClosed | None) -> Delivery:
        reason = messages.window_closed("WhatsApp", last.astimezone(UTC) if last else None, "24 hours")
        template = self.reengagement_template
        if template is None:
            message = (
                f"{reason}: the reply was not sent. Outside that window WhatsApp only accepts an approved "
                "template; set reengagement_template on the channel to re-open the conversation with one"
            )
            raise errors.WindowClosed(message, platform=PLATFORM, code="131047" if refused else "window") from refused
        body = {**_base(to), "type": "template"}
        body["template"] = {"name": template, "language": {"code": self.template_language}}
        message_id = self._send(body, f"could not send the re-engagement template {template!r}")
        note = (
            f"{reason}, so socialdesk sent the re-engagement template {template!r} instead of this reply, "
            "which was not delivered. Send it again once the customer answers."
        )
        return Delivery(message_ids=(message_id,), note=note, system_ids=(message_id,))  # nobody's reply went out

    def _send(self, body: dict[str, Any], action: str) -> str:
        data = self._request("POST", f"{self._node()}/messages", action, json=body)
        sent = data.get("messages")
        first = sent[0] if isinstance(sent, list) and sent and isinstance(sent[0], dict) else {}
        if not first.get("id"):
            raise errors.UnknownOutcome("WhatsApp accepted the message but returned no id", platform=PLATFORM)
        return str(first["id"])

    def _node(self) -> str:
        return f"/{quote(self.account_id, safe='')}"


def window_closed(last_inbound_at: datetime | None, now: datetime) -> bool:
    """True when the 24-hour customer-service window has certainly closed (unknown: let WhatsApp decide)."""
    return last_inbound_at is not None and now - last_inbound_at > SERVICE_WINDOW


def _base(to: str) -> dict[str, Any]:
    """The addressing every send shares. A customer known only by a business-scoped user id (no phone
    number in the webhook) is addressed with ``recipient`` instead of ``to``."""
    address = {"to": to} if to.lstrip("+").isdigit() else {"recipient": to}
    return {"messaging_product": "whatsapp", "recipient_type": "individual", **address}
