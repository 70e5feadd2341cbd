"""``messaging[]`` events, alike for Messenger (``object: "page"``) and Instagram Direct (``"instagram"``).

===================================================  =============================================================
event                                                becomes
===================================================  =============================================================
``message`` (text, attachments, location, template)  a ``message``: its text and a readable line for what is not
                                                     text (``[location] ...``, ``[button template] ...``), or
                                                     ``[unsupported message type]``
``message.is_deleted`` (unsend)                      a ``remove``: an internal note, never a new public comment
``message_edit``                                     an ``edit`` (a note; the message itself in a thread with no
                                                     ticket yet)
``postback`` (a tapped button)                       a ``message``: ``[button tapped] <title> (payload: ...)``
``message.quick_reply`` (a tapped quick reply)       a ``message``: its title, as the customer reads it
``reaction``                                         a ``notice``: a note on the thread's ticket
``pass/take/request_thread_control``                 a ``notice``: a note on the thread's ticket
``message.is_echo``, ``read``, ``delivery``,         :class:`~bridge.events.Ignored`, each with its reason
``optin``, ``referral``, ``account_linking``,        (``policy_enforcement`` is about the whole page, not a
``app_roles``, ``policy_enforcement``, others        conversation: it is logged as a warning too)
===================================================  =============================================================

A tapped button's payload (a postback's, a quick reply's) is kept in ``extra["pressed"]``: the bot's own
buttons (:mod:`bridge.quick`) are known by it.

A customer is ``sender.id`` (PSID or IGSID): thread ``<prefix>:<id>``. A Customer Chat Plugin guest has
no PSID, only ``sender.user_ref``: thread ``messenger-guest:<user_ref>``, answered with the Send API's
``recipient.user_ref``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridge import messages
from bridge.config import ChannelConfig
from bridge.events import Attachment, Author, EventKind, SocialEvent, platform_time
from webhooks.content import location_line, postback_line, template_line
from webhooks.meta.fields import Parsed, Unusable, attachments, dicts, digest, ignored, obj, required, text, words

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Product:
    """How one product's messaging events are named: ``platform``, the thread prefix, and the word for reasons."""

    platform: str
    prefix: str
    name: str  # "messenger" | "instagram": starts every reason, so that status tells them apart
    title: str  # "Messenger" | "Instagram", in notes


MESSENGER = Product("facebook", "messenger", "messenger", "Messenger")
INSTAGRAM = Product("instagram", "dm", "instagram", "Instagram")


@dataclass(frozen=True)
class _Context:
    messaging: dict[str, Any]
    channel: ChannelConfig
    product: Product
    sender: str | None  # sender.id, or user_ref:<ref> for a guest
    at: datetime

    def ignored(self, key: str, reason: str) -> Parsed:
        message_id = f"{key}:{self.sender or '-'}:{digest(self.messaging)}"
        c = self.channel
        return ignored(
            self.product.platform, c.name, c.account_id, message_id, f"{self.product.name} {reason}", self.at
        )

    def event(self, kind: EventKind, message_id: str, body: str, **more: Any) -> SocialEvent:
        if self.sender is None:
            raise Unusable("missing sender.id")
        guest = self.sender.startswith("user_ref:")
        ref = self.sender.removeprefix("user_ref:")
        return SocialEvent(
            platform=self.product.platform,
            channel=self.channel.name,
            account_id=self.channel.account_id,
            message_id=message_id,
            thread_id=f"{self.product.prefix}-guest:{ref}" if guest else f"{self.product.prefix}:{ref}",
            kind=kind,
            author=Author(id=self.sender, name=f"{self.product.title} guest" if guest else None),
            text=body,
            created_at=self.at,
            reply_to=ref,
            **more,
        )

    def notice(self, key: str, reason: str, note: str) -> SocialEvent:
        notice = f"{self.product.name} {reason}"
        return self.event("notice", f"{key}:{self.sender}:{digest(self.messaging)}", note, extra={"notice": notice})


def messaging_event(messaging: dict[str, Any], channel: ChannelConfig, product: Product) -> list[Parsed]:
    """What one ``messaging[]`` item is: an event for the ticket, or recorded as ignored with the reason."""
    sender = obj(messaging, "sender")
    who = text(sender.get("id")) or (f"user_ref:{sender['user_ref']}" if text(sender.get("user_ref")) else None)
    ctx = _Context(messaging, channel, product, who, platform_time(messaging.get("timestamp")))
    key = next((k for k in _HANDLERS if k in messaging), None)
    if key is None:
        return [ctx.ignored("other", "event of another kind")]
    if who == channel.account_id and key != "message":
        return [ctx.ignored(key, f"{_IGNORED.get(key, key.replace('_', ' '))} by the account")]
    return [_HANDLERS[key](ctx)]


def _message(ctx: _Context) -> Parsed:
    message = obj(ctx.messaging, "message")
    if message.get("is_echo") or ctx.sender == ctx.channel.account_id:
        return ctx.ignored("echo", "echo of the account's own message")
    mid = required(message, "mid", "message.")
    if message.get("is_deleted"):  # the customer unsent it: a removal, for a note
        return ctx.event("remove", f"{mid}#deleted", "")
    body, files = message_content(message)
    return ctx.event("message", mid, body, attachments=files, extra=_pressed(obj(message, "quick_reply")))


def _edit(ctx: _Context) -> Parsed:
    edit = obj(ctx.messaging, "message_edit")
    mid = required(edit, "mid", "message_edit.")
    body = words(edit, "text", "message_edit.") or ""
    return ctx.event(
        "edit", f"{mid}#edit{edit.get('num_edit', '')}", body, extra={"edited_kind": "message", "original_id": mid}
    )


def _postback(ctx: _Context) -> Parsed:
    """A tapped button (Get Started, a menu item, a template's button) is the customer speaking."""
    postback = obj(ctx.messaging, "postback")
    mid = text(postback.get("mid")) or f"postback:{ctx.sender}:{digest(ctx.messaging)}"
    line = postback_line(words(postback, "title", "postback."), words(postback, "payload", "postback."))
    return ctx.event("message", mid, line, extra=_pressed(postback))


def _pressed(button: dict[str, Any]) -> dict[str, str]:
    payload = text(button.get("payload"))
    return {"pressed": payload[:1000]} if payload else {}  # Messenger's payloads are at most 1,000 characters


def _reaction(ctx: _Context) -> Parsed:
    reaction = obj(ctx.messaging, "reaction")
    emoji = text(reaction.get("emoji")) or text(reaction.get("reaction"))
    action, mid = text(reaction.get("action")) or "react", text(reaction.get("mid"))
    return ctx.notice("reaction", "reaction", messages.reaction_note(ctx.product.title, action, emoji, mid))


def _handover(ctx: _Context) -> Parsed:
    control = next(k for k in _HANDOVERS if k in ctx.messaging)
    body = obj(ctx.messaging, control)
    app = text(body.get("previous_owner_app_id")) if control != "request_thread_control" else None
    app = app or text(body.get("requested_owner_app_id")) or text(body.get("new_owner_app_id"))
    note = messages.handover_note(ctx.product.title, control, app, text(body.get("metadata")))
    return ctx.notice(control, "handover", note)


def _policy(ctx: _Context) -> Parsed:
    """About the page as a whole, not a conversation: no ticket to note it on. The operator must know."""
    notice = obj(ctx.messaging, "policy_enforcement") or obj(ctx.messaging, "policy-enforcement")
    log.warning("meta webhook: %s policy enforcement on %s: %s", ctx.product.title, ctx.channel.name,
                text(notice.get("action")) or "?")  # fmt: skip
    return ctx.ignored("policy", "policy enforcement")


def _ignore(key: str) -> Callable[[_Context], Parsed]:
    return lambda ctx: ctx.ignored(key, _IGNORED[key])


_IGNORED = {
    "read": "read receipt",
    "delivery": "delivery receipt",
    "optin": "opt-in",
    "referral": "referral",
    "account_linking": "account linking",
    "app_roles": "app roles change",
}
_HANDOVERS = ("pass_thread_control", "take_thread_control", "request_thread_control")
_HANDLERS: dict[str, Callable[[_Context], Parsed]] = {
    "message": _message,
    "message_edit": _edit,
    "postback": _postback,
    "reaction": _reaction,
    **{key: _handover for key in _HANDOVERS},
    "policy_enforcement": _policy,
    "policy-enforcement": _policy,  # the older spelling, still in recorded deliveries
    **{key: _ignore(key) for key in _IGNORED},
}


# -- what a message carries --------------------------------------------------------------------------


def message_content(message: dict[str, Any]) -> tuple[str, tuple[Attachment, ...]]:
    """The words of a message, a line for each attachment that is not a file (a place, a template), and
    the files as links; ``[unsupported message type]`` when Meta could not pass it on."""
    lines = [line for item in dicts(message, "attachments", "message.") if (line := _attachment_line(item))]
    body = "\n".join(filter(None, [words(message, "text", "message."), *lines]))
    if not body and message.get("is_unsupported"):
        body = "[unsupported message type]"
    return body, attachments(message.get("attachments")) + _story(message)


def _attachment_line(item: dict[str, Any]) -> str | None:
    kind, payload = text(item.get("type")), obj(item, "payload")
    if kind == "location":
        place = obj(payload, "coordinates")
        return location_line(place.get("lat"), place.get("long"), payload.get("title"))
    if kind == "template":
        return template_line(payload)
    if kind and not attachments([item]) and kind != "fallback":  # a type with no file to link
        return f"[{kind}]"
    return None


def _story(message: dict[str, Any]) -> tuple[Attachment, ...]:
    """A reply to one of the account's stories (Instagram): the story, as a link for the agent."""
    story = obj(obj(message, "reply_to"), "story")
    url = text(story.get("url"))
    return (Attachment(url=url, kind="story"),) if url else ()
