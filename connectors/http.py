"""Own channels (a website, an app): agents' replies POSTed, signed, to the channel's ``callback_url``.

The request body is JSON::

    {"type": "reply", "id": "<this reply's id>", "thread_id": "<your thread id>",
     "in_reply_to": "<your id of the customer's latest message>", "text": "...",
     "ticket_id": "<helpdesk ticket>", "sent_at": "<RFC 3339>"}

signed like the messages your system sends to socialdesk (:mod:`webhooks.generic`):
``X-Socialdesk-Timestamp`` (Unix seconds) and ``X-Socialdesk-Signature: v1=<hex HMAC-SHA256(secret,
"<timestamp>." + body)>``. ``Idempotency-Key`` repeats ``id``, which is the same on every attempt at one
agent reply (made from the helpdesk comment): a repeated key is a retry, to be answered as the first
time and not shown twice. Answer 2xx, optionally with ``{"message_id": "<your id>"}`` (the reply's ``id``
is used otherwise). 429 and 5xx are retried later (``Retry-After`` honoured); any other 4xx is reported
to the agent. A timeout is never retried blindly.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from bridge import errors
from bridge.events import Delivery, ThreadState
from bridge.signing import sign_generic
from connectors.base import call, raise_for_response

PLATFORM = "generic"


class GenericChannel:
    """An own channel (implements ``SocialChannel``): replies go to ``callback_url``."""

    platform = PLATFORM

    def __init__(
        self,
        *,
        name: str,
        secret: str,
        callback_url: str,
        account_id: str | None = None,
        session: requests.Session | None = None,
        timeout: float = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.account_id = account_id or name  # as webhooks.generic.account_of
        self.callback_url = callback_url
        parts = urlsplit(callback_url)
        self._where = f"{parts.scheme}://{parts.hostname}"  # the query may hold a token: never shown
        self._secret = secret
        self._session = session or requests.Session()
        self._timeout = timeout
        self._clock = clock

    def __repr__(self) -> str:
        return f"GenericChannel(name={self.name!r}, account_id={self.account_id!r}, callback={self._where!r})"

    def send_reply(self, thread: ThreadState, text: str, *, now: datetime) -> Delivery:
        """A reply under a fresh key, so that calling again is a new reply (the bridge uses ``send_keyed_reply``)."""
        return self.send_keyed_reply(thread, text, now=now, key=uuid.uuid4().hex)

    def send_keyed_reply(self, thread: ThreadState, text: str, *, now: datetime, key: str) -> Delivery:
        """POST the reply to the callback with ``key`` as its ``id`` and ``Idempotency-Key`` (implements
        ``KeyedReplies``); the answer's ``message_id`` (or the reply's ``id``) is returned."""
        if not text.strip():
            raise errors.PermanentError("the reply is empty: there is nothing to send", platform=PLATFORM)
        body = {
            "type": "reply",
            "id": key,
            "thread_id": thread.thread_id,
            "in_reply_to": thread.last_inbound_message_id or thread.reply_to,
            "text": text.strip(),
            "ticket_id": thread.ticket_id,
            "sent_at": now.isoformat(),
        }
        answer = self._post(body, f"could not deliver the reply to {self._where}", idempotency_key=key)
        return Delivery(message_ids=(str(answer.get("message_id") or key),))

    def ping(self) -> str:
        """A signed ``{"type": "ping"}`` to the callback: its host when it answers 2xx."""
        self._post({"type": "ping"}, f"could not reach {self._where}", idempotency_key=None)
        return self._where

    def _post(self, body: dict[str, Any], action: str, *, idempotency_key: str | None) -> dict[str, Any]:
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Socialdesk-Timestamp": str(timestamp),
            "X-Socialdesk-Signature": sign_generic(raw, timestamp, self._secret),
            "User-Agent": "socialdesk",
        }
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key

        def send() -> requests.Response:
            return self._session.post(self.callback_url, data=raw, headers=headers, timeout=self._timeout)

        try:
            response = call(send, platform=PLATFORM, idempotent=idempotency_key is None)
        except errors.BridgeError as e:  # the cause's text holds the full URL, which may carry a token
            raise type(e)(f"{action}: {e.message}", platform=PLATFORM, http_status=e.http_status) from None
        # a 5xx is retried even after the receiver stored the reply: it deduplicates on Idempotency-Key (docstring)
        raise_for_response(response, platform=PLATFORM, message=action, idempotent=True)
        try:
            answer = response.json()
        except ValueError:
            return {}
        return answer if isinstance(answer, dict) else {}
