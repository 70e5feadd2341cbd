"""An own channel's side of socialdesk's generic protocol: the callback receiver and the customer.

* ``POST /callback`` receives the bridge's replies. It checks ``X-Socialdesk-Signature`` and
  ``X-Socialdesk-Timestamp`` with the shared secret (5 minutes' tolerance), records what arrived in
  :attr:`OwnChannelSimulator.received`, and answers ``201 {"message_id": "own-<n>"}``; a bad signature
  gets ``401 {"error": "invalid signature"}``. A reply whose ``Idempotency-Key`` was seen is not recorded
  twice.
* :meth:`OwnChannelSimulator.customer_message` builds a message as ``webhooks/schemas/generic_message.json``
  describes it, signs it, and POSTs it to :attr:`OwnChannelSimulator.webhook_target`.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests
from flask import Response, request

from sandbox.base import Simulator, json_response
from webhooks.signatures import sign_generic, verify_generic

Payload = dict[str, Any]


@dataclass(frozen=True)
class SentMessage:
    """What :meth:`OwnChannelSimulator.customer_message` posted, and the bridge's answer."""

    payload: Payload
    response: requests.Response | None = field(repr=False)


class OwnChannelSimulator(Simulator):
    """A website or app talking to socialdesk with a shared secret."""

    name = "generic"

    def __init__(
        self, *, secret: str, webhook_target: str | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__()
        self.secret, self.webhook_target, self.clock = secret, webhook_target, clock
        self.received: list[Payload] = []
        self.refused = 0
        self._idempotency_keys: dict[str, str] = {}
        self._ids = itertools.count(1)
        self.app.add_url_rule("/callback", "callback", self._callback, methods=["POST"])

    @property
    def callback_url(self) -> str:
        return f"{self.url}/callback"

    def reset(self) -> None:
        """Forget what was received, calls and faults (one simulator per test module)."""
        with self._lock:
            self.received.clear()
            self._idempotency_keys.clear()
            self.refused = 0
        self.reset_calls()
        self.clear_faults()

    # -- the customer ----------------------------------------------------------------------------------

    def customer_message(
        self,
        text: str,
        *,
        thread_id: str,
        author_id: str,
        author_name: str,
        email: str | None = None,
        phone: str | None = None,
        message_id: str | None = None,
        timestamp: datetime | None = None,
        send: bool = True,
        **optional: Any,
    ) -> SentMessage:
        """A customer writes in the own channel (``optional``: ``kind``, ``url``, ``attachments``, ``extra``...)."""
        author: Payload = {"id": author_id, "name": author_name}
        author.update({k: v for k, v in (("email", email), ("phone", phone)) if v})
        when = timestamp or datetime.fromtimestamp(self.clock(), UTC)
        payload: Payload = {
            "message_id": message_id or f"msg-{next(self._ids)}",
            "thread_id": thread_id,
            "author": author,
            "text": text,
            "timestamp": when.isoformat().replace("+00:00", "Z"),
            **optional,
        }
        return SentMessage(payload, self.deliver(payload) if send and self.webhook_target else None)

    def deliver(self, payload: Any, *, timestamp: int | None = None, secret: str | None = None) -> requests.Response:
        """POST ``payload`` to :attr:`webhook_target`, signed (``timestamp``: to send a stale one)."""
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        sent_at = int(self.clock()) if timestamp is None else timestamp
        headers = {
            "Content-Type": "application/json",
            "X-Socialdesk-Timestamp": str(sent_at),
            "X-Socialdesk-Signature": sign_generic(body, sent_at, self.secret if secret is None else secret),
        }
        if not self.webhook_target:
            raise RuntimeError("OwnChannelSimulator.webhook_target is not set")
        return requests.post(self.webhook_target, data=body, headers=headers, timeout=20)

    # -- the callback ------------------------------------------------------------------------------------

    def _callback(self) -> Response:
        raw = request.get_data()
        signature, sent_at = (
            request.headers.get("X-Socialdesk-Signature"),
            request.headers.get("X-Socialdesk-Timestamp"),
        )
        now = datetime.fromtimestamp(self.clock(), UTC)
        if not verify_generic(raw, signature, sent_at, [self.secret], now=now):
            with self._lock:
                self.refused += 1
            return json_response({"error": "invalid signature"}, 401)
        body = json.loads(raw)
        key = request.headers.get("Idempotency-Key")
        with self._lock:
            if key and key in self._idempotency_keys:
                return json_response({"message_id": self._idempotency_keys[key]}, 200)
            message_id = f"own-{next(self._ids)}"
            if key:
                self._idempotency_keys[key] = message_id
            if body.get("type") != "ping":
                self.received.append({**body, "message_id": message_id})
        return json_response({"message_id": message_id}, 201)
