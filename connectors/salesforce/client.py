"""simple-salesforce, held so that the bridge's rules hold: one re-login, timeouts, one error table.

* **Authentication.** The connector logs in itself, with simple-salesforce's own ``SalesforceLogin``
  (SOAP username/password/security token, or the OAuth JWT bearer flow), and gives the session id to a
  ``Salesforce`` object in *direct* mode. That object therefore never refreshes by itself: its
  per-object calls (``sf.Contact.create``...) would recurse without bound on a persistent 401.
  Instead :meth:`SalesforceClient.call` re-authenticates **once** on ``401 INVALID_SESSION_ID`` and
  retries; a second 401 is an :class:`~bridge.errors.AuthError`. With only an access token, a dead
  session is an AuthError at once.
* **Timeouts.** simple-salesforce passes no timeout to its login and sObject calls, so the session
  gets an adapter that applies ``(connect, read)`` to every request without one.
* **Limits.** A response hook reads ``Sforce-Limit-Info`` (with simple-salesforce's parser) on every
  answer, errors included: :attr:`SalesforceClient.usage`, and when (:attr:`SalesforceClient.usage_read_at`).
* **Errors.** :func:`error_for` is the one table from Salesforce answers (JSON lists of
  ``{"message", "errorCode"}``) to :mod:`bridge.errors`; transport failures follow
  :func:`connectors.base.call`. Every call the connector makes is idempotent (queries, upserts on
  ``R6PostId``, creates preceded by a query), so a timeout is :class:`~bridge.errors.Unavailable`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError
from simple_salesforce.login import SalesforceLogin

from bridge import errors
from connectors.base import RebasedSession, call, rate_limit_hook

PLATFORM = "salesforce"
T = TypeVar("T")
log = logging.getLogger(__name__)

DAILY_LIMIT_PAUSE = 900.0  # seconds: the org's rolling 24 h API allowance is spent; look again later
ErrorKind = tuple[type[errors.BridgeError], str]
#: The one table, by Salesforce errorCode first, then by HTTP status.
CODE_ERRORS: dict[str, ErrorKind] = {
    "INVALID_SESSION_ID": (errors.AuthError, "the Salesforce session expired or was revoked"),
    "REQUEST_LIMIT_EXCEEDED": (errors.RateLimited, "the Salesforce org has used up its API requests"),
    "API_DISABLED_FOR_ORG": (errors.AuthError, "the Salesforce org or user has no API access"),
    "API_CURRENTLY_DISABLED": (errors.AuthError, "the Salesforce org or user has no API access"),
    "INSUFFICIENT_ACCESS": (errors.AuthError, "the Salesforce user may not do this"),
    "NOT_FOUND": (errors.NotFound, "not found in Salesforce"),
    "INVALID_QUERY_LOCATOR": (errors.Unavailable, "the Salesforce query cursor expired"),
    "UNABLE_TO_LOCK_ROW": (errors.Unavailable, "the Salesforce record is locked by another update"),
    "SERVER_UNAVAILABLE": (errors.Unavailable, "Salesforce is unavailable"),
}
STATUS_ERRORS: dict[int, ErrorKind] = {
    300: (errors.PermanentError, "several Salesforce records match one external id"),
    401: (errors.AuthError, "Salesforce refused the session"),
    403: (errors.AuthError, "Salesforce refused the request"),
    404: (errors.NotFound, "not found in Salesforce"),
    429: (errors.RateLimited, "Salesforce rate limit reached"),
}
UNAVAILABLE: ErrorKind = (errors.Unavailable, "Salesforce is unavailable")
REJECTED: ErrorKind = (errors.PermanentError, "Salesforce rejected the request")


@dataclass(frozen=True, repr=False)
class Credentials:
    """How to authenticate. ``repr`` shows the mode and the user, never a secret."""

    instance_url: str | None = None
    access_token: str | None = None
    username: str | None = None
    password: str | None = None
    security_token: str | None = None
    domain: str = "login"
    consumer_key: str | None = None
    private_key_file: str | None = None

    @property
    def login_mode(self) -> Literal["password", "jwt"] | None:
        if self.username and self.password is not None:
            return "password"
        if self.username and self.consumer_key and self.private_key_file:
            return "jwt"
        return None

    def check(self) -> None:
        """Raise :class:`ConfigError` unless one complete way to authenticate is configured."""
        if not (self.access_token and self.instance_url) and self.login_mode is None:
            raise errors.ConfigError(
                "salesforce: set instance_url + access_token, or username + password (+ security_token), "
                "or username + consumer_key + private_key_file",
                platform=PLATFORM,
            )
        if self.login_mode == "jwt" and not Path(str(self.private_key_file)).is_file():
            raise errors.ConfigError("salesforce.private_key_file: no such file", platform=PLATFORM)

    def __repr__(self) -> str:
        mode = "access_token" if self.access_token else self.login_mode
        return f"Credentials(mode={mode!r}, username={self.username!r}, domain={self.domain!r})"


class _TimeoutAdapter(HTTPAdapter):
    """Gives every request a timeout, since simple-salesforce leaves most of its calls without one."""

    def __init__(self, timeout: tuple[float, float]) -> None:
        super().__init__()
        self.default_timeout = timeout

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().send(request, **kwargs)


class _Everywhere(RebasedSession):
    """For an ``http://`` instance_url (a simulator, a proxy): every host simple-salesforce builds
    (the login host, the instance it reports) is sent to that one address."""

    def rebase(self, url: str) -> str:
        parts, actual = urlsplit(url), self._actual
        return urlunsplit((actual.scheme, actual.netloc, parts.path, parts.query, parts.fragment))


class SalesforceClient:
    """A logged-in simple-salesforce ``Salesforce`` object plus the rules in the module docstring."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        session: requests.Session | None,
        timeout: float,
        api_version: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        credentials.check()
        self.credentials, self.api_version = credentials, api_version
        self.session = _prepared(session, credentials.instance_url, timeout, self._read_usage)
        self.usage: tuple[int, int] | None = None
        self.usage_read_at: float | None = None  # ``clock()`` when :attr:`usage` was read
        self._clock = clock
        self.instance_url = credentials.instance_url or ""
        self._sf: Salesforce | None = None
        self._lock = threading.Lock()

    # -- calls -----------------------------------------------------------------------------------------

    def call(self, action: Callable[[Salesforce], T]) -> T:
        """Run ``action`` on the API; on an expired session log in once more and run it again."""
        sf = self._client()
        try:
            return _attempt(action, sf)
        except errors.AuthError as e:
            if e.code != "INVALID_SESSION_ID" or self.credentials.login_mode is None:
                raise
            log.info("salesforce: the session expired; logging in again (once)")
        return _attempt(action, self._login(replacing=sf))

    def query(self, soql: str, *, include_deleted: bool = False, headers: dict[str, str] | None = None) -> Any:
        return self.call(lambda sf: sf.query(soql, include_deleted=include_deleted, headers=headers or {}))

    def pages(self, soql: str, *, include_deleted: bool = False, batch_size: int = 2000) -> Iterator[list[Any]]:
        """The records of a query, one server page at a time, following ``nextRecordsUrl``."""
        headers = {"Sforce-Query-Options": f"batchSize={min(max(batch_size, 200), 2000)}"}
        page = self.query(soql, include_deleted=include_deleted, headers=headers)
        yield list(page["records"])
        while not page.get("done", True):
            link = str(page.get("nextRecordsUrl") or "")
            if not link.startswith("/services/data/"):  # the session carries our token: stay on the instance
                raise errors.PermanentError("Salesforce sent an unexpected query link", platform=PLATFORM)
            page = self.call(_more(link, headers))
            yield list(page["records"])

    def rest(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """A REST call under ``/services/data/vXX.X/``; the decoded answer, or None for 204."""
        payload = None if body is None else json.dumps(body, ensure_ascii=False)
        return self.call(lambda sf: sf.restful(path, method=method, data=payload))

    def userinfo(self) -> dict[str, Any]:
        answer = self.call(lambda sf: sf.oauth2("userinfo"))
        return answer if isinstance(answer, dict) else {}

    # -- sessions ------------------------------------------------------------------------------------------

    def _client(self) -> Salesforce:
        sf = self._sf
        if sf is not None:
            return sf
        creds = self.credentials
        if creds.access_token and creds.instance_url:
            with _translated():
                self._sf = Salesforce(
                    session_id=creds.access_token,
                    instance_url=creds.instance_url,
                    session=self.session,
                    version=self.api_version,
                )
            return self._sf
        return self._login(replacing=None)

    def _login(self, *, replacing: Salesforce | None) -> Salesforce:
        """Log in unless another thread already replaced the session we saw fail."""
        with self._lock:
            if self._sf is not None and self._sf is not replacing:
                return self._sf
            with _translated():
                session_id, host = self._authenticate()
                self._sf = Salesforce(
                    session_id=session_id, instance=host, session=self.session, version=self.api_version
                )
            if not self.credentials.instance_url or self.credentials.instance_url.startswith("https://"):
                self.instance_url = f"https://{host}"
            return self._sf

    def _authenticate(self) -> tuple[str, str]:
        creds = self.credentials
        common: dict[str, Any] = {"username": creds.username, "domain": creds.domain, "session": self.session}
        if creds.login_mode == "password":
            return SalesforceLogin(
                password=creds.password, security_token=creds.security_token, sf_version=self.api_version, **common
            )
        return SalesforceLogin(consumer_key=creds.consumer_key, privatekey_file=creds.private_key_file, **common)

    def _read_usage(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        info = response.headers.get("Sforce-Limit-Info")
        usage = Salesforce.parse_api_usage(info).get("api-usage") if info else None
        if usage is not None:
            self.usage, self.usage_read_at = (int(usage.used), int(usage.total)), self._clock()
        return response


def _prepared(
    session: requests.Session | None,
    instance_url: str | None,
    timeout: float,
    usage_hook: Callable[..., requests.Response],
) -> requests.Session:
    if session is None:
        plain = instance_url is not None and instance_url.startswith("http://")
        session = _Everywhere(nominal=instance_url or "", actual=instance_url or "") if plain else requests.Session()
    adapter = _TimeoutAdapter((min(5.0, timeout), timeout))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.hooks["response"].extend([usage_hook, rate_limit_hook(PLATFORM)])
    return session


def _more(link: str, headers: dict[str, str]) -> Callable[[Salesforce], Any]:
    def more(sf: Salesforce) -> Any:
        return sf.query_more(link, identifier_is_url=True, headers=headers)

    return more


def _attempt(action: Callable[[Salesforce], T], sf: Salesforce) -> T:
    with _translated():
        return action(sf)


@contextmanager
def _translated() -> Iterator[None]:
    """Whatever simple-salesforce or requests raise inside the block becomes a bridge error."""
    try:
        yield
    except errors.BridgeError:
        raise
    except SalesforceAuthenticationFailed as e:
        code = str(e.code) if e.code is not None else None
        raise errors.AuthError("Salesforce refused the login", platform=PLATFORM, code=code) from e
    except SalesforceError as e:
        raise error_for(int(e.status or 0), e.content) from e
    except (requests.ConnectionError, requests.Timeout) as e:
        call(_raiser(e), platform=PLATFORM, idempotent=True)  # base.call owns the transport table
        raise errors.Unavailable("connection failed", platform=PLATFORM) from e
    except (requests.RequestException, ValueError, KeyError, TypeError) as e:
        raise errors.PermanentError("unexpected answer from Salesforce", platform=PLATFORM) from e


def error_for(status: int, content: Any) -> errors.BridgeError:
    """The bridge error for a Salesforce error answer (``content``: the decoded body)."""
    code, detail = _first_error(content)
    kind, message = CODE_ERRORS.get(code or "", STATUS_ERRORS.get(status, UNAVAILABLE if status >= 500 else REJECTED))
    if detail and status == 400:
        message = f"{message}: {detail}"
    retry_after = DAILY_LIMIT_PAUSE if code == "REQUEST_LIMIT_EXCEEDED" else None
    return kind(message, platform=PLATFORM, http_status=status or None, retry_after=retry_after, code=code)


def _first_error(content: Any) -> tuple[str | None, str | None]:
    """``[{"message", "errorCode"}]`` → (errorCode, the message's last line, shortened)."""
    first = content[0] if isinstance(content, list) and content else content
    if not isinstance(first, dict):
        return None, None
    code = first.get("errorCode")
    message = str(first.get("message") or "").strip().splitlines()
    return (str(code) if code else None), (message[-1][:300] if message else None)


def _raiser(e: Exception) -> Callable[[], requests.Response]:
    def send() -> requests.Response:
        raise e

    return send
