"""``/webhooks/meta``: Facebook pages, Messenger, Instagram and the WhatsApp Cloud API on one endpoint.

The view verifies ``X-Hub-Signature-256`` on the raw body before parsing, turns every entry and
every change or messaging event into :class:`bridge.events.SocialEvent`, stores them in one write,
and answers 200. The parsers are pure functions of the payload and the configured channels, one
module per ``object``:

=============================  ==========  ==============================  =======================
``object``                     platform    the channel is found by         parser
=============================  ==========  ==============================  =======================
``page``                       facebook    ``entry[].id`` (page id)        :mod:`.facebook`
``instagram``                  instagram   ``entry[].id`` (IG user id)     :mod:`.instagram`
``whatsapp_business_account``  whatsapp    ``metadata.phone_number_id``    :mod:`.whatsapp`
=============================  ==========  ==============================  =======================
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from flask import Blueprint, Response, abort, request

from bridge.config import ChannelConfig
from bridge.events import SocialEvent
from webhooks import signatures
from webhooks.common import ack, channels, json_body, store_events
from webhooks.meta.facebook import parse_page_entry
from webhooks.meta.instagram import parse_instagram_entry
from webhooks.meta.whatsapp import parse_whatsapp_entry

log = logging.getLogger(__name__)
bp = Blueprint("meta", __name__)

META_PLATFORMS = ("facebook", "instagram", "whatsapp")
#: Parses one entry for the channel it belongs to.
Parser = Callable[[dict[str, Any], ChannelConfig], Iterator[SocialEvent]]
#: Parses one entry, choosing the channel itself among the platform's channels (by account id).
EntryParser = Callable[[dict[str, Any], Mapping[str, ChannelConfig]], Iterator[SocialEvent]]

__all__ = [
    "KNOWN_OBJECTS", "META_PLATFORMS", "PARSERS", "bp", "parse", "parse_instagram_entry", "parse_page_entry",
    "parse_whatsapp_entry",
]  # fmt: skip


@bp.get("/webhooks/meta")
def verify_subscription() -> Response | str:
    """Meta's subscription handshake: echo ``hub.challenge`` when the verify token matches."""
    tokens = [c.secret("verify_token") or "" for c in channels(*META_PLATFORMS)]
    if request.args.get("hub.mode") != "subscribe":
        abort(400, "hub.mode must be subscribe")
    if not signatures.verify_shared_secret(request.args.get("hub.verify_token"), tokens):
        abort(403, "verify token mismatch")
    return request.args.get("hub.challenge", "")


@bp.post("/webhooks/meta")
def receive() -> tuple[Response, int]:
    """Verify, parse, store, answer: no platform or helpdesk call happens here."""
    raw = request.get_data(cache=False)
    secrets = sorted({c.secret("app_secret") or "" for c in channels(*META_PLATFORMS)})
    if not signatures.verify_meta(raw, request.headers.get("X-Hub-Signature-256"), secrets):
        log.warning("meta webhook: signature check failed")
        abort(401, "invalid signature")
    payload = json_body(raw)
    events = list(parse(payload, channels(*META_PLATFORMS)))
    return ack(store_events(events), len(events))


def parse(payload: Any, configured: list[ChannelConfig]) -> Iterator[SocialEvent]:
    """Every customer event in a Meta webhook body, for the channels we know; echoes dropped."""
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        abort(400, "expected an object with an entry array")
    kind = payload.get("object")
    if not isinstance(kind, str) or (kind not in PARSERS and kind not in KNOWN_OBJECTS):
        abort(400, f"unsupported object {str(kind)[:40]!r}")
    if kind not in PARSERS:
        log.info("meta webhook: object %r is not handled by this version; acknowledged and ignored", kind)
        return
    platform, parse_entry = PARSERS[kind]
    by_account = {c.account_id: c for c in configured if c.platform == platform}
    for entry in payload["entry"]:
        if not isinstance(entry, dict):
            abort(400, "entry items must be objects")
        yield from parse_entry(entry, by_account)


def by_entry_id(platform: str, parser: Parser) -> EntryParser:
    """For objects whose ``entry[].id`` is the account: find the channel, then parse for it."""

    def parse_entry(entry: dict[str, Any], by_account: Mapping[str, ChannelConfig]) -> Iterator[SocialEvent]:
        channel = by_account.get(str(entry.get("id")))
        if channel is None:  # another app's account, or the dashboard's test event (entry id "0")
            log.info("meta webhook: no %s channel for account %s; ignored", platform, entry.get("id"))
            return
        yield from parser(entry, channel)

    return parse_entry


#: Objects Meta sends that are valid but not turned into events here.
KNOWN_OBJECTS = frozenset({"user", "permissions", "application"})

PARSERS: dict[str, tuple[str, EntryParser]] = {
    "page": ("facebook", by_entry_id("facebook", parse_page_entry)),
    "instagram": ("instagram", by_entry_id("instagram", parse_instagram_entry)),
    "whatsapp_business_account": ("whatsapp", parse_whatsapp_entry),
}
