"""The WhatsApp Cloud API (``object: "whatsapp_business_account"``): messages and delivery statuses.

``entry[].id`` is the WhatsApp Business Account; the channel is the phone number the change is for,
``value.metadata.phone_number_id``, which is a ``whatsapp`` channel's ``account_id``. A thread is that
number and one customer: ``thread_id = "chat:<wa_id>"`` (or the business-scoped user id when the
webhook carries no phone number), and replies go to that same id.

Every message type becomes an event: text as is; media (image, video, audio, document, sticker) as
its caption (no text without one) with an ``Attachment(url="whatsapp-media:<media id>", kind=<type>)`` the
agent can fetch through the Graph API, shown as ``[image] whatsapp-media:<id>`` (``[image]`` alone, as the text,
should the media carry no id);
location, contacts, buttons, lists and orders as a readable line (a tapped reply button's or list row's
``id`` kept in ``extra["pressed"]``: the bot's own buttons, :mod:`bridge.quick`); anything else as
``[unsupported message type: <type>]``, never a silent drop. A ``system`` message (the customer's
number or user id changed) and a reaction are ``notice`` events: a note on the thread's ticket. Other
fields, numbers without a channel and anything unusable (a message without a sender) are recorded
as ignored with the reason, and the rest of the POST is stored. ``statuses[]`` become ``status``
events about our own messages (WhatsApp sends no echo of what we send).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from bridge import messages
from bridge.config import ChannelConfig
from bridge.events import Attachment, Author, SocialEvent, platform_time
from webhooks.content import contact_line, location_line
from webhooks.meta.fields import Parsed, Unusable, dicts, digest, each, ignored, name_of, obj, required, text, words

log = logging.getLogger(__name__)

PLATFORM = "whatsapp"
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
Content = tuple[str, tuple[Attachment, ...]]


def parse_whatsapp_entry(entry: dict[str, Any], by_account: Mapping[str, ChannelConfig]) -> Iterator[Parsed]:
    """The events of one WhatsApp Business Account entry, each for the phone number it concerns."""
    at = platform_time(entry.get("time"))
    yield from each(
        PLATFORM, "", text(entry.get("id")) or "", entry, "changes", at, partial(_change, by_account=by_account)
    )


def _change(change: dict[str, Any], by_account: Mapping[str, ChannelConfig]) -> Iterator[Parsed]:
    value = obj(change, "value")
    at = platform_time(None)
    if change.get("field") != "messages":
        reason = f"whatsapp field {name_of(change.get('field'))}"
        yield ignored(PLATFORM, "", "", f"field:{digest(change)}", reason, at)
        return
    phone_number_id = required(obj(value, "metadata"), "phone_number_id", "metadata.")
    channel = by_account.get(phone_number_id)
    if channel is None:
        yield ignored(PLATFORM, "", phone_number_id, f"value:{digest(change)}", "whatsapp number without a channel", at)
        return
    yield from _value_events(value, channel)


def _value_events(value: dict[str, Any], channel: ChannelConfig) -> Iterator[Parsed]:
    contacts = dicts(value, "contacts")
    on = (PLATFORM, channel.name, channel.account_id)
    at = platform_time(None)
    message_event = partial(_message_event, contacts=contacts, channel=channel)
    yield from each(*on, value, "messages", at, message_event, own_time="timestamp")
    yield from each(*on, value, "statuses", at, partial(_status_event, channel=channel), own_time="timestamp")
    for error in dicts(value, "errors"):
        log.warning("meta webhook: whatsapp reported error %s: %s", error.get("code"), error.get("title"))
        message_id = f"error:{digest(error)}"
        yield ignored(PLATFORM, channel.name, channel.account_id, message_id, "whatsapp error notification",
                      platform_time(None))  # fmt: skip


def _message_event(message: dict[str, Any], contacts: list[dict[str, Any]], channel: ChannelConfig) -> list[Parsed]:
    kind = text(message.get("type")) or "unknown"
    message_id = required(message, "id", "messages.")
    if kind == "system":
        return [_system_event(message, message_id, channel)]
    wa_id = text(message.get("from"))
    contact = _contact(contacts, wa_id)
    customer = wa_id or text(message.get("from_user_id")) or text(contact.get("user_id"))
    if not customer:
        raise Unusable("missing messages.from")
    event = SocialEvent(
        platform=PLATFORM,
        channel=channel.name,
        account_id=channel.account_id,
        message_id=message_id,
        thread_id=f"chat:{customer}",
        kind="message",
        author=_author(str(customer), wa_id, contact),
        text="",
        created_at=platform_time(message.get("timestamp")),
        reply_to=str(customer),
        extra=_message_extra(message),
    )
    if kind == "reaction":  # not something to answer, but the agent may want to know: a note
        return [replace(event, kind="notice", text=_reaction(obj(message, "reaction")), extra=_REACTION)]
    body, files = _content(kind, message)
    return [replace(event, text=body, attachments=files)]


_REACTION = {"notice": "whatsapp reaction"}


def _reaction(reaction: dict[str, Any]) -> str:
    """A reaction to one of the conversation's messages; an empty emoji takes it back."""
    emoji = text(reaction.get("emoji"))
    return messages.reaction_note("WhatsApp", "react" if emoji else "unreact", emoji, text(reaction.get("message_id")))


def _system_event(message: dict[str, Any], message_id: str, channel: ChannelConfig) -> Parsed:
    """The customer's number or business-scoped user id changed: a note on the thread of the old one (the
    new one writes into a thread of its own). ``user_changed_user_id`` has no ``from``: its thread is the
    previous user id's, when WhatsApp gives it."""
    system = obj(message, "system")
    old = text(message.get("from")) or text(message.get("from_user_id")) or text(system.get("previous_user_id"))
    at = platform_time(message.get("timestamp"))
    kind = name_of(system.get("type"))
    if not old:
        reason = f"whatsapp {kind.replace('_', ' ')} of an unknown customer"
        return ignored(PLATFORM, channel.name, channel.account_id, message_id, reason, at)
    return SocialEvent(
        platform=PLATFORM,
        channel=channel.name,
        account_id=channel.account_id,
        message_id=message_id,
        thread_id=f"chat:{old}",
        kind="notice",
        author=Author(id=old),
        text=messages.identity_change_note(text(system.get("body"))),
        created_at=at,
        reply_to=old,
        extra={"notice": f"whatsapp {kind.replace('_', ' ')}"},
    )


def _status_event(status: dict[str, Any], channel: ChannelConfig) -> list[Parsed]:
    """A receipt for one of our messages: ``message_id`` is ``<wamid>#<status>`` so each step is kept."""
    target = required(status, "id", "statuses.")
    state = required(status, "status", "statuses.")
    recipient = text(status.get("recipient_id")) or required(status, "recipient_user_id", "statuses.")
    error = dicts(status, "errors")[0] if dicts(status, "errors") else {}
    extra = {
        "status": state,
        "target_id": target,
        "error_code": text(error.get("code")) or "",
        "error_title": text(error.get("title")) or text(error.get("message")) or "",
        "error_details": text(obj(error, "error_data").get("details")) or "",
    }
    return [SocialEvent(
        platform=PLATFORM,
        channel=channel.name,
        account_id=channel.account_id,
        message_id=f"{target}#{state}",
        thread_id=f"chat:{recipient}",
        kind="status",
        author=Author(id=recipient),
        text="",
        created_at=platform_time(status.get("timestamp")),
        reply_to=recipient,
        extra=extra,
    )]  # fmt: skip


# -- the customer ------------------------------------------------------------------------------------


def _contact(contacts: list[dict[str, Any]], wa_id: str | None) -> dict[str, Any]:
    """The ``contacts[]`` entry of the sender (the only one, when no wa_id says which)."""
    matching = [c for c in contacts if wa_id is not None and text(c.get("wa_id")) == wa_id]
    return matching[0] if matching else (contacts[0] if len(contacts) == 1 else {})


def _author(customer: str, wa_id: str | None, contact: dict[str, Any]) -> Author:
    profile = obj(contact, "profile")
    phone = f"+{wa_id}" if wa_id and wa_id.isdigit() else None
    return Author(id=customer, name=text(profile.get("name")), handle=text(profile.get("username")), phone=phone)


def _message_extra(message: dict[str, Any]) -> dict[str, str]:
    extra: dict[str, str] = {}
    quoted = text(obj(message, "context").get("id"))
    if quoted:
        extra["quoted_id"] = quoted  # the customer swiped to reply to this message
    referral = text(obj(message, "referral").get("source_url"))
    if referral:
        extra["referral_url"] = referral  # they came from a click-to-WhatsApp ad or post
    interactive = obj(message, "interactive")
    pressed = text(obj(interactive, str(interactive.get("type"))).get("id"))
    if pressed and interactive.get("type") in ("button_reply", "list_reply"):
        extra["pressed"] = pressed[:256]  # WhatsApp's button and row ids are at most 256 characters
    return extra


# -- what the customer sent --------------------------------------------------------------------------


def _content(kind: str, message: dict[str, Any]) -> Content:
    body = message.get(kind)
    if kind == "text":
        return words(obj(message, "text", "messages."), "body", "messages.text.") or "", ()
    if kind in MEDIA_TYPES:
        return _media(kind, obj(message, kind, "messages."))
    describe = _DESCRIBE.get(kind)
    line = describe(body) if describe is not None else None
    return (line or _unsupported(kind, message)), ()


def _media(kind: str, media: dict[str, Any]) -> Content:
    """The caption (or no text) and the file, which the ticket shows as ``[image] whatsapp-media:<id>``: a
    ``[image]`` text as well showed the label twice. Without a media id there is no file: ``[image]`` is the text."""
    media_id = text(media.get("id"))
    caption = words(media, "caption", f"messages.{kind}.") or ""
    if not media_id:
        return caption or f"[{kind}]", ()
    return caption, (Attachment(url=f"whatsapp-media:{media_id}", kind=kind, name=text(media.get("filename"))),)


def _unsupported(kind: str, message: dict[str, Any]) -> str:
    inner = text(obj(message, "unsupported").get("type"))  # WhatsApp's own "unsupported" names the real type
    return f"[unsupported message type: {inner or kind}]"


def _location(body: Any) -> str | None:
    place = body if isinstance(body, dict) else {}
    return location_line(place.get("latitude"), place.get("longitude"), place.get("name"), place.get("address"))


def _contacts(body: Any) -> str | None:
    cards = [c for c in body if isinstance(c, dict)] if isinstance(body, list) else []
    described = [_card(card) for card in cards]
    return "[contacts] " + "; ".join(described) if described else None


def _card(card: dict[str, Any]) -> str:
    return contact_line(
        obj(card, "name").get("formatted_name"), (phone.get("phone") for phone in dicts(card, "phones"))
    )


def _interactive(body: Any) -> str | None:
    reply = body if isinstance(body, dict) else {}
    chosen = obj(reply, str(reply.get("type")))
    title, description = text(chosen.get("title")), text(chosen.get("description"))
    if title:
        return f"{title} — {description}" if description else title
    return f"[form reply] {chosen.get('response_json')}" if reply.get("type") == "nfm_reply" else None


def _order(body: Any) -> str | None:
    order = body if isinstance(body, dict) else {}
    items = dicts(order, "product_items")
    line = f"[order] {len(items)} item{'s' if len(items) != 1 else ''} from catalog {order.get('catalog_id')}"
    note = text(order.get("text"))
    return f"{line}: {note}" if note else line


def _field(name: str) -> Callable[[Any], str | None]:
    """For types whose readable part is one field: a template button's ``text``."""
    return lambda body: text(body.get(name)) if isinstance(body, dict) else None


_DESCRIBE: dict[str, Callable[[Any], str | None]] = {
    "location": _location,
    "contacts": _contacts,
    "interactive": _interactive,
    "button": _field("text"),
    "order": _order,
}
