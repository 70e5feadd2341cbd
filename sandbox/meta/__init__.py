"""A local simulator of Meta's Graph API, served over real HTTP: Facebook pages and Messenger,
Instagram, and the WhatsApp Cloud API, plus the customers who write to them.

Graph side, under ``/{version}/`` (``v21.0`` by default), authenticated with access tokens given as
``access_token`` (query, form or JSON field) or ``Authorization: Bearer`` / ``OAuth``. The token says
which account a request acts as, and the request goes to that account kind's handlers:

==========================================  ==============================================================
page token (:mod:`.facebook`)               ``POST /{page-id}/messages``, ``POST /{post-or-comment}/comments``
Instagram token (:mod:`.instagram`)         ``POST /me/messages``, ``/{comment}/replies``, ``/{ig-user}/mentions``
WhatsApp token (:mod:`.whatsapp`)           ``POST /{phone-number-id}/messages``
any                                         ``GET /{object-id}``, ``GET /me`` (``fields=``)
==========================================  ==============================================================

Errors come back in Graph's shape, ``{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id"}}`` (plus WhatsApp's ``error_data``), with the codes and wording Graph uses.
:meth:`~MetaSimulator.throttle` answers Graph's rate-limit errors with ``X-App-Usage`` /
``X-Business-Use-Case-Usage`` headers, and :meth:`~MetaSimulator.slow_down` applies a request and then
answers late.

Customer side: ``customer_comment``/``customer_message`` (Facebook), ``instagram_comment``/
``instagram_mention``/``instagram_message``, ``whatsapp_message``/``whatsapp_status`` build webhook
payloads in the shapes of ``tests/fixtures/meta``. The simulator signs them like Meta
(``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``, plus the legacy SHA-1 header) and
posts them to :attr:`~MetaSimulator.webhook_target`. With :attr:`~MetaSimulator.echoes` on, the
page's and the Instagram account's own sends come back as webhooks from a background thread after the
Graph call has answered, as on Meta; with :attr:`~MetaSimulator.wa_statuses` on, WhatsApp sends are
followed by their status webhooks.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import Response

from sandbox.meta.core import DEFAULT_APP_ID, MetaCore
from sandbox.meta.facebook import COMMENT_TEXT_LIMIT, MESSENGER_TEXT_LIMIT, CommentEvent, FacebookMixin, MessageEvent
from sandbox.meta.graph import (
    HUMAN_AGENT_WINDOW,
    STANDARD_WINDOW,
    THROTTLES,
    GraphError,
    Payload,
    encode,
    envelope,
    graph_time,
    new_mid,
    params,
)
from sandbox.meta.instagram import InstagramCommentEvent, InstagramMentionEvent, InstagramMessageEvent, InstagramMixin
from sandbox.meta.whatsapp import DEFAULT_WABA_ID, WA_ERRORS, WhatsAppEvent, WhatsAppMixin, new_wamid

__all__ = [
    "COMMENT_TEXT_LIMIT", "DEFAULT_APP_ID", "DEFAULT_WABA_ID", "HUMAN_AGENT_WINDOW", "MESSENGER_TEXT_LIMIT",
    "STANDARD_WINDOW", "THROTTLES", "WA_ERRORS", "CommentEvent", "GraphError", "InstagramCommentEvent",
    "InstagramMentionEvent", "InstagramMessageEvent", "MessageEvent", "MetaCore", "MetaSimulator", "Payload",
    "WhatsAppEvent", "encode", "envelope", "graph_time", "new_mid", "new_wamid",
]  # fmt: skip


class MetaSimulator(FacebookMixin, InstagramMixin, WhatsAppMixin):
    """Graph API v21.0 for Facebook pages, Messenger, Instagram and WhatsApp, plus their customers.

    ``pages``, ``instagram`` and ``whatsapp`` map account ids (page id, Instagram user id, phone
    number id) to the access token that acts as them. Give every account its own token.
    """

    name = "meta"

    def __init__(
        self,
        app_secret: str,
        pages: dict[str, str] | None = None,
        version: str = "v21.0",
        webhook_target: str | None = None,
        *,
        page_names: dict[str, str] | None = None,
        instagram: dict[str, str] | None = None,
        instagram_usernames: dict[str, str] | None = None,
        whatsapp: dict[str, str] | None = None,
        whatsapp_numbers: dict[str, str] | None = None,
        whatsapp_names: dict[str, str] | None = None,
        waba_id: str = DEFAULT_WABA_ID,
        app_id: str = DEFAULT_APP_ID,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self._init_core(app_secret, version, webhook_target, app_id, clock)
        self._init_facebook(pages or {}, page_names or {})
        self._init_instagram(instagram or {}, instagram_usernames or {})
        self._init_whatsapp(whatsapp or {}, whatsapp_numbers or {}, whatsapp_names or {}, waba_id)
        self._routes()

    def _routes(self) -> None:
        prefix = f"/{self.version}"
        self.app.add_url_rule(f"{prefix}/<object_id>", "graph_get", self._get, methods=["GET"])
        self.app.add_url_rule(f"{prefix}/<object_id>/messages", "graph_send", self._messages, methods=["POST"])
        self.app.add_url_rule(f"{prefix}/<object_id>/comments", "graph_comment", self._page_comment, methods=["POST"])
        self.app.add_url_rule(f"{prefix}/<object_id>/replies", "ig_replies", self._ig_replies, methods=["POST"])
        self.app.add_url_rule(f"{prefix}/<object_id>/mentions", "ig_mentions", self._ig_mention_reply, methods=["POST"])
        self._install_plumbing()

    def _get(self, object_id: str) -> Response:
        merged = params()
        account = self._authenticate(merged, prefer=object_id)
        handler = {"page": self._page_get, "instagram": self._ig_get, "whatsapp": self._wa_get}[account.kind]
        return handler(object_id, account, merged)

    def _messages(self, object_id: str) -> Response:
        merged = params()
        account = self._authenticate(merged, prefer=object_id)
        handler = {"page": self._page_send, "instagram": self._ig_send, "whatsapp": self._wa_send}[account.kind]
        return handler(object_id, account, merged)
