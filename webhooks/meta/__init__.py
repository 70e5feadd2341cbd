"""``/webhooks/meta``: Facebook pages, Messenger, Instagram and the WhatsApp Cloud API on one endpoint.

:class:`Receiver` verifies ``X-Hub-Signature-256`` on the raw body before parsing, turns every entry
and every change or messaging event into :class:`bridge.events.SocialEvent` or, for what no one acts on
or cannot be used, :class:`bridge.events.Ignored` with the reason, stores them in one write, and answers
200 (only a body that is not a signed Meta envelope is refused: one unusable event never costs the
others). The app serves it below Flask (:mod:`webhooks.direct`); the subscription handshake (GET) is a
Flask view. The parsers are pure functions of the payload and the configured channels, one
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

from bridge.config import ChannelConfig, Config
from bridge.events import Ignored, SocialEvent, platform_time
from bridge.store import Store
from webhooks import signatures
from webhooks.common import ack_body, channels, decode_json, ingest
from webhooks.meta.facebook import parse_page_entry
from webhooks.meta.fields import Parsed, digest, ignored
from webhooks.meta.instagram import parse_instagram_entry
from webhooks.meta.whatsapp import parse_whatsapp_entry

log = logging.getLogger(__name__)
bp = Blueprint("meta", __name__)

META_PLATFORMS = ("facebook", "instagram", "whatsapp")
#: Parses one entry for the channel it belongs to.
Parser = Callable[[dict[str, Any], ChannelConfig], Iterator[Parsed]]
#: Parses one entry, choosing the channel itself among the platform's channels (by account id).
EntryParser = Callable[[dict[str, Any], Mapping[str, ChannelConfig]], Iterator[Parsed]]

__all__ = [
    "KNOWN_OBJECTS", "META_PLATFORMS", "PARSERS", "PATH", "Receiver", "bp", "parse", "parse_instagram_entry",
    "parse_page_entry", "parse_whatsapp_entry",
]  # fmt: skip


PATH = "/webhooks/meta"


@bp.get(PATH)
def verify_subscription() -> Response:
    """Meta's subscription handshake: echo ``hub.challenge`` when the verify token matches, as plain
    text (an echo served as HTML would render whatever the query string holds)."""
    tokens = [c.secret("verify_token") or "" for c in channels(*META_PLATFORMS)]
    if request.args.get("hub.mode") != "subscribe":
        abort(400, "hub.mode must be subscribe")
    if not signatures.verify_shared_secret(request.args.get("hub.verify_token"), tokens):
        abort(403, "verify token mismatch")
    return Response(request.args.get("hub.challenge", ""), mimetype="text/plain")


class Receiver:
    """POST ``/webhooks/meta``: verify, parse, store, answer; no platform or helpdesk call happens here.

    Free of Flask, for :class:`webhooks.direct.DirectPost`. The channels and their app secrets are
    taken from the config once (it does not change while the app runs)."""

    def __init__(self, config: Config, store: Store) -> None:
        self.channels = config.channels_for(*META_PLATFORMS)
        self.secrets = sorted({c.secret("app_secret") or "" for c in self.channels})
        self.store = store

    def handle(self, raw: bytes, mimetype: str, environ: Mapping[str, Any]) -> dict[str, Any]:
        if not signatures.verify_meta(raw, environ.get("HTTP_X_HUB_SIGNATURE_256"), self.secrets):
            log.warning("meta webhook: signature check failed")
            abort(401, "invalid signature")
        events = list(parse(decode_json(raw, mimetype), self.channels))
        return ack_body(ingest(self.store, events), len(events))


def parse(payload: Any, configured: list[ChannelConfig]) -> Iterator[SocialEvent | Ignored]:
    """Every customer event in a Meta webhook body, for the channels we know, and the rest recorded as
    ignored with the reason (echoes, receipts, other accounts' entries, unusable events)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        abort(400, "expected an object with an entry array")
    kind = payload.get("object")
    if not isinstance(kind, str) or (kind not in PARSERS and kind not in KNOWN_OBJECTS):
        abort(400, f"unsupported object {str(kind)[:40]!r}")
    if kind not in PARSERS:
        log.info("meta webhook: object %r is not handled by this version; acknowledged and ignored", kind)
        for entry in payload["entry"]:
            at = platform_time(entry.get("time") if isinstance(entry, dict) else None)
            account = str(entry.get("id", "")) if isinstance(entry, dict) else ""
            yield ignored("meta", "", account, f"{kind}:{digest(entry)}", f"meta object {kind}", at)
        return
    platform, parse_entry = PARSERS[kind]
    by_account = {c.account_id: c for c in configured if c.platform == platform}
    for entry in payload["entry"]:
        if not isinstance(entry, dict):
            abort(400, "entry items must be objects")
        yield from parse_entry(entry, by_account)


def by_entry_id(platform: str, parser: Parser) -> EntryParser:
    """For objects whose ``entry[].id`` is the account: find the channel, then parse for it."""

    def parse_entry(entry: dict[str, Any], by_account: Mapping[str, ChannelConfig]) -> Iterator[Parsed]:
        account = str(entry.get("id"))
        channel = by_account.get(account)
        if channel is None:  # another app's account, or the dashboard's test event (entry id "0")
            log.info("meta webhook: no %s channel for account %s; ignored", platform, account)
            at = platform_time(entry.get("time"))
            yield ignored(
                platform, "", account[:64], f"entry:{digest(entry)}", f"{platform} account without a channel", at
            )
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
