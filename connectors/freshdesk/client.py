"""HTTP to one Freshdesk account: basic auth with the API key, the rate-limit budget, the error table, paging.

Freshdesk counts calls per minute per account and reports ``X-RateLimit-Remaining`` on every answer.
Once the budget left falls to ``rate_limit_reserve``, :class:`FreshdeskClient` stops calling and raises
:class:`bridge.errors.RateLimited` until the minute has passed (Freshdesk sends no reset time), so the
bridge's retry policy pauses Freshdesk for every worker before a 429 ever happens; a 429 does the same
for its ``Retry-After``. Errors are mapped in one table, :data:`STATUS_ERRORS`, and Freshdesk's error
body (``{"description", "errors": [{"field", "message", "code"}]}``) becomes a readable message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from bridge import errors
from connectors.base import call, maybe_applied, retry_after_seconds

PLATFORM = "freshdesk"
RATE_WINDOW = 60.0  # the budget is per minute and no reset time is sent: wait the whole minute
DEFAULT_RETRY_AFTER = 60.0

#: The one table: HTTP status → (bridge error, what it means for an agent). Other 4xx: rejected; 5xx: unavailable.
STATUS_ERRORS: dict[int, tuple[type[errors.BridgeError], str]] = {
    401: (errors.AuthError, "Freshdesk refused the API key"),
    403: (errors.AuthError, "the Freshdesk agent behind the API key is not allowed to do this"),
    404: (errors.NotFound, "not found in Freshdesk"),
    409: (errors.PermanentError, "Freshdesk reported a conflict"),
    429: (errors.RateLimited, "Freshdesk rate limit reached"),
}
REQUIRES_FEATURE = (errors.PermanentError, "the Freshdesk plan does not include a feature this needs")
UNAVAILABLE = (errors.Unavailable, "Freshdesk is unavailable")
REJECTED = (errors.PermanentError, "Freshdesk rejected the request")


class FreshdeskApiError(Exception):
    """Freshdesk's error answer, kept as the ``__cause__`` of the bridge error raised for it."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        self.status = status
        self.body = dict(body)
        self.items = [e for e in body.get("errors") or [] if isinstance(e, dict)]
        first = self.items[0] if self.items else body
        self.code = str(first.get("code")) if first.get("code") else None
        super().__init__(f"HTTP {status}: {self.summary}")

    @property
    def summary(self) -> str:
        """``Validation failed: name: Mandatory attribute missing (missing_field)``, at most three errors."""
        parts = [f"{e.get('field')}: {e.get('message')} ({e.get('code')})" for e in self.items[:3]]
        head = str(self.body.get("description") or self.body.get("message") or "")
        more = f" and {len(self.items) - 3} more" if len(self.items) > 3 else ""
        return ": ".join(p for p in (head, "; ".join(parts) + more) if p) or "no details"

    def duplicate(self) -> tuple[str, int | None] | None:
        """``(field, existing user id)`` of a 409 ``duplicate_value``, else None."""
        for item in self.items:
            if item.get("code") == "duplicate_value":
                info = item.get("additional_info")
                user_id = info.get("user_id") if isinstance(info, dict) else None
                return str(item.get("field")), user_id if isinstance(user_id, int) else None
        return None


class FreshdeskClient:
    """``client.json("GET", "/api/v2/agents/me", "could not ...")``; thread-safe, never retries by itself."""

    def __init__(
        self,
        *,
        url: str,
        api_key: str,
        session: requests.Session | None = None,
        timeout: float = 30,
        rate_limit_reserve: int = 2,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not api_key:
            raise errors.ConfigError("freshdesk.api_key: required", platform=PLATFORM)
        self.url, self.timeout, self.rate_limit_reserve = base_url(url), timeout, rate_limit_reserve
        self._auth = (api_key, "X")  # the API key is the user name; the password is anything
        self._session = session or requests.Session()
        self._clock = clock
        self._lock = threading.Lock()
        self._resume_at = 0.0

    def __repr__(self) -> str:
        return f"FreshdeskClient(url={self.url!r}, api_key='***')"

    def now(self) -> float:
        return self._clock()

    def json(
        self, method: str, path: str, action: str, *, repeatable: bool | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """One call answering a JSON object; ``action`` ("could not ...") starts any error's message. ``repeatable``:
        True for a POST whose repeat does no harm (a contact's create, which a unique field makes a 409 the second
        time); False for a PUT whose caller's retry would not repeat it but add to it (a text read, then appended);
        None: by the method (GET and PUT are safe to repeat)."""
        response = self._request(method, self.url + path, action, repeatable=repeatable, **kwargs)
        return _object(response, action, applied=method != "GET")

    def items(
        self, path: str, action: str, params: dict[str, Any], *, max_pages: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list, following ``Link: <...>; rel="next"`` on Freshdesk's own host only."""
        url: str | None = self.url + path
        pages = 0
        while url and (max_pages is None or pages < max_pages):
            response = self._request("GET", url, action, params=params)
            yield from _list(response, action)
            url, params, pages = self._next_link(response), {}, pages + 1

    def _next_link(self, response: requests.Response) -> str | None:
        link = response.links.get("next", {}).get("url")
        if not link:
            return None
        if urlsplit(link).netloc != urlsplit(self.url).netloc:  # never send the key to another host
            raise errors.PermanentError("Freshdesk sent a pagination link to another host", platform=PLATFORM)
        return str(link)

    def _request(
        self, method: str, url: str, action: str, *, repeatable: bool | None = None, **kwargs: Any
    ) -> requests.Response:
        """The budget gate, the transport table, the budget reading, the error table; a timeout or a 5xx that may
        come after a POST was applied (a ticket, a note) is an :class:`~bridge.errors.UnknownOutcome`."""
        self._check_budget()

        def send() -> requests.Response:
            return self._session.request(method, url, auth=self._auth, timeout=self.timeout, **kwargs)

        idempotent = method in ("GET", "PUT") if repeatable is None else repeatable
        response = call(send, platform=PLATFORM, idempotent=idempotent)
        self._note_budget(response)
        if response.status_code >= 400:
            api = FreshdeskApiError(response.status_code, _json_or_empty(response))
            raise maybe_applied(error_for(api, response, action), idempotent=idempotent) from api
        return response

    def _check_budget(self) -> None:
        with self._lock:
            wait = self._resume_at - self._clock()
        if wait > 0:
            message = "Freshdesk's API budget for this minute is used up; waiting for it to refill"
            raise errors.RateLimited(message, platform=PLATFORM, retry_after=wait, code="budget")

    def _note_budget(self, response: requests.Response) -> None:
        """After a 429, or once the minute's budget is down to the reserve, stop calling for a while."""
        now, remaining = self._clock(), _remaining(response.headers)
        if response.status_code == 429:
            pause = retry_after_seconds(response.headers) or DEFAULT_RETRY_AFTER
        elif remaining is not None and remaining <= self.rate_limit_reserve:
            pause = RATE_WINDOW
        else:
            return
        with self._lock:
            self._resume_at = max(self._resume_at, now + pause)


def error_for(api: FreshdeskApiError, response: requests.Response, action: str) -> errors.BridgeError:
    """The bridge error for a Freshdesk error answer, by :data:`STATUS_ERRORS`."""
    status = response.status_code
    kind, meaning = STATUS_ERRORS.get(status, UNAVAILABLE if status >= 500 else REJECTED)
    if api.code == "require_feature":
        kind, meaning = REQUIRES_FEATURE
    detail = f" [{api.summary}]" if api.items or api.body else ""
    retry_after = retry_after_seconds(response.headers) if kind.retryable else None
    if status == 429 and retry_after is None:  # the budget is per minute: without a word, wait the minute
        retry_after = DEFAULT_RETRY_AFTER
    message = f"{action}: {meaning}{detail}"  # a 5xx without Retry-After: the usual backoff, not a minute
    return kind(message, platform=PLATFORM, http_status=status, retry_after=retry_after, code=api.code)


def base_url(url: str) -> str:
    """``https://acme.freshdesk.com`` (or a simulator's ``http://127.0.0.1:PORT``), nothing after the host."""
    parts = urlsplit(url.strip().rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
        raise errors.ConfigError(f"freshdesk.url must look like https://acme.freshdesk.com, not {url!r}")
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def _remaining(headers: Mapping[str, str]) -> int | None:
    value = headers.get("X-RateLimit-Remaining", "")
    return int(value) if value.isdigit() else None


def _json_or_empty(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _object(response: requests.Response, action: str, *, applied: bool) -> dict[str, Any]:
    """The JSON object of a 2xx answer. Unreadable after a write: it was probably applied, so unknown."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    cls = errors.UnknownOutcome if applied else errors.Unavailable
    raise cls(f"{action}: Freshdesk answered without a readable JSON object", platform=PLATFORM)


def _list(response: requests.Response, action: str) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, list):
        raise errors.Unavailable(f"{action}: Freshdesk answered without a readable JSON list", platform=PLATFORM)
    return [item for item in body if isinstance(item, dict)]
