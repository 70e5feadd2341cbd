"""The machinery every account kind of the Graph API simulator shares: accounts and their tokens,
throttling and slowness, and the signed webhook deliveries (at once, or after a Graph call answered)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import requests
from flask import Response, request
from werkzeug.exceptions import HTTPException

from sandbox.base import Fault, Simulator
from sandbox.meta.graph import (
    THROTTLES,
    Account,
    GraphError,
    Payload,
    encode,
    envelope,
    expired_token,
    invalid_token,
    missing_token,
    no_object,
    token,
    trace_id,
    unknown_path,
)
from webhooks.signatures import sign_meta

DEFAULT_APP_ID = "1517776481860111"


class MetaCore(Simulator):
    """Accounts, faults and webhook delivery; the account kinds are mixins on top of this."""

    name = "meta"
    app_secret: str
    version: str
    webhook_target: str | None
    app_id: str
    clock: Callable[[], float]
    echoes: bool
    deliveries: list[tuple[bytes, int | None]]  # every webhook POST: body, status (None: failed)
    _pages: dict[str, Account]
    _ig_accounts: dict[str, Account]
    _phones: dict[str, Account]
    _lags: list[float]
    _pending: int
    _idle: threading.Condition

    def _init_core(
        self, app_secret: str, version: str, webhook_target: str | None, app_id: str, clock: Callable[[], float]
    ) -> None:
        self.app_secret, self.version, self.webhook_target = app_secret, version, webhook_target
        self.app_id, self.clock = app_id, clock
        self.echoes = False
        self.deliveries = []
        self._pages, self._ig_accounts, self._phones = {}, {}, {}
        self._lags = []
        self._pending = 0
        self._idle = threading.Condition(self._lock)

    # -- test controls ---------------------------------------------------------------------------------

    def expire_token(self, account_id: str) -> None:
        """From now on the account's token answers code 190, subcode 463 (session expired)."""
        with self._lock:
            self._account(account_id).expired_at = self.clock()

    def renew_token(self, account_id: str) -> None:
        """The account's token works again (undoes :meth:`expire_token`)."""
        with self._lock:
            self._account(account_id).expired_at = None

    def throttle(self, times: int = 1, *, code: int = 32, regain_minutes: int = 5, page_id: str | None = None) -> None:
        """Answer the next ``times`` Graph calls with the rate-limit error ``code`` (4, 17, 32, 613, 80001)."""
        message, status, usage_type = THROTTLES[code]
        first = page_id or next(iter(a.id for a in self._all_accounts()))
        headers = self._usage_headers(usage_type, regain_minutes, first)
        error = GraphError(message, code, status=status, transient=True, headers=headers)
        self.inject(Fault(status, times, path_prefix=f"/{self.version}/", headers=error.headers, body=error.body()))

    def slow_down(self, seconds: float, *, times: int = 1) -> None:
        """Handle the next ``times`` Graph calls normally, then answer ``seconds`` late (client timeouts)."""
        with self._lock:
            self._lags.extend([seconds] * times)

    # -- accounts --------------------------------------------------------------------------------------

    def _all_accounts(self) -> list[Account]:
        with self._lock:
            return [*self._pages.values(), *self._ig_accounts.values(), *self._phones.values()]

    def _account(self, account_id: str) -> Account:
        for accounts in (self._pages, self._ig_accounts, self._phones):
            if account_id in accounts:
                return accounts[account_id]
        raise KeyError(account_id)

    def _authenticate(self, merged: Payload, prefer: str | None = None) -> Account:
        """The account the request's token acts as (of any kind; ``prefer`` first, when several accounts
        share the token); Graph's errors otherwise."""
        given = token(merged)
        if not given:
            raise missing_token()
        accounts = sorted(self._all_accounts(), key=lambda a: a.id != prefer)
        given_bytes = given.encode("utf-8", "backslashreplace")
        found = next((a for a in accounts if hmac.compare_digest(a.token.encode(), given_bytes)), None)
        if found is None:
            raise invalid_token()
        if found.expired_at is not None:
            raise expired_token(found.expired_at, self.clock())
        return found

    # -- webhook delivery ------------------------------------------------------------------------------

    def sign(self, body: bytes) -> str:
        """The ``X-Hub-Signature-256`` value: ``sha256=`` + hex HMAC-SHA256(app secret, raw body)."""
        return sign_meta(body, self.app_secret)

    def deliver(self, payload: Payload, *, times: int = 1) -> list[requests.Response]:
        """POST ``payload`` signed to :attr:`webhook_target`, ``times`` times with the same bytes (redelivery)."""
        body = encode(payload)
        return [self._post(body) for _ in range(times)]

    def batch(self, payloads: Iterable[Payload]) -> requests.Response:
        """POST the entries of several payloads (built with ``send=False``) in one signed request."""
        payloads = list(payloads)
        entries = [entry for payload in payloads for entry in payload["entry"]]
        return self._post(encode(envelope(payloads[0]["object"], entries)))

    def verify_subscription(self, verify_token: str, challenge: str = "1158201444") -> requests.Response:
        """The GET Meta sends when a webhook is subscribed (``hub.mode=subscribe``)."""
        query = {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": verify_token}
        return requests.get(self._target(), params=query, timeout=20)

    def wait_for_webhooks(self, timeout: float = 5.0) -> bool:
        """Wait until the background deliveries (echoes, statuses) are done; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _target(self) -> str:
        if not self.webhook_target:
            raise RuntimeError("MetaSimulator.webhook_target is not set")
        return self.webhook_target

    def _post(self, body: bytes) -> requests.Response:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "facebookexternalua",
            "X-Hub-Signature": "sha1=" + hmac.new(self.app_secret.encode(), body, hashlib.sha1).hexdigest(),
            "X-Hub-Signature-256": self.sign(body),
        }
        try:
            response = requests.post(self._target(), data=body, headers=headers, timeout=20)
        except requests.RequestException:
            self.deliveries.append((body, None))
            raise
        self.deliveries.append((body, response.status_code))
        return response

    def _post_if(self, send: bool, payload: Payload) -> requests.Response | None:
        return self._post(encode(payload)) if send and self.webhook_target else None

    def _post_later(self, response: Response, *payloads: Payload, when: bool | None = None) -> None:
        """Deliver ``payloads`` in order from a thread once ``response`` has gone out (Meta's echoes and
        statuses come after the answer). ``when`` defaults to :attr:`echoes`."""
        if not ((self.echoes if when is None else when) and self.webhook_target and payloads):
            return
        with self._lock:
            self._pending += 1

        def run() -> None:
            try:
                for payload in payloads:
                    with contextlib.suppress(requests.RequestException):  # recorded in self.deliveries
                        self._post(encode(payload))
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

        response.call_on_close(lambda: threading.Thread(target=run, name="meta-webhook", daemon=True).start())

    # -- HTTP plumbing ---------------------------------------------------------------------------------

    def _install_plumbing(self) -> None:
        self.app.register_error_handler(GraphError, lambda e: e.response())
        self.app.register_error_handler(HTTPException, self._http_error)
        self.app.after_request(self._after)

    def _http_error(self, e: HTTPException) -> Response:
        if e.code == 405:
            return no_object(request.path.split("/")[2], request.method.lower()).response()
        return unknown_path(request.path).response()

    def _after(self, response: Response) -> Response:
        response.headers["facebook-api-version"] = self.version
        response.headers.setdefault("x-fb-trace-id", trace_id())
        with self._lock:
            lag = self._lags.pop(0) if self._lags and request.path.startswith(f"/{self.version}/") else 0.0
        if lag:
            time.sleep(lag)
        return response

    @staticmethod
    def _usage_headers(usage_type: str, regain_minutes: int, account_id: str) -> dict[str, str]:
        app_level = usage_type == "app"
        app_usage = {"call_count": 100 if app_level else 28, "total_cputime": 12, "total_time": 17}
        headers = {"X-App-Usage": json.dumps(app_usage)}
        if not app_level:
            usage: dict[str, Any] = {
                "type": usage_type,
                "call_count": 100,
                "total_cputime": 12,
                "total_time": 17,
                "estimated_time_to_regain_access": regain_minutes,
            }
            headers["X-Business-Use-Case-Usage"] = json.dumps({account_id: [usage]})
        return headers
