"""Facebook pages and Messenger through the Graph API: the outbound side of a ``facebook`` channel.

Where a reply goes depends on the thread (see :mod:`webhooks.meta`):

==================  ===========================================  ===================================
thread_id           request                                      limit per part
==================  ===========================================  ===================================
``comment:<id>``    ``POST /{comment-id}/comments``              8,000 characters
``post:<id>``       ``POST /{post-id}/comments``                 8,000 characters
``messenger:<id>``  ``POST /{page-id}/messages`` (Send API)      2,000 characters
==================  ===========================================  ===================================

Messenger only accepts a page's message within 24 hours of the customer's last message
(``messaging_type: RESPONSE``). A human agent may answer for 7 days with ``MESSAGE_TAG`` +
``HUMAN_AGENT``, which needs the app's Human Agent permission. After 7 days, the reply is refused
here, before any call.

The token travels in the ``Authorization`` header, never in a URL, so that no exception or log line
can carry it. Graph's errors are mapped in one table, :data:`GRAPH_ERRORS`, keyed by
(code, subcode).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests

from bridge import errors, messages
from bridge.events import Delivery, ThreadState
from bridge.text import split_text
from connectors.base import call, raise_for_response, retry_after_seconds, send_parts

PLATFORM = "facebook"
MESSENGER_LIMIT = 2000
COMMENT_LIMIT = 8000
STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
# Switch to HUMAN_AGENT a little before 24 h: the clocks of the bridge and Meta differ, and a request
# takes time to arrive. The tag is valid for a human agent's reply from the first minute anyway.
WINDOW_MARGIN = timedelta(minutes=5)
DEFAULT_RATE_LIMIT_WAIT = 60.0  # seconds, when Graph says it throttles but not for how long

ErrorClass = type[errors.BridgeError]
_PERMISSION = (errors.AuthError, "the page access token lacks a permission this action needs")
_BUC = (errors.RateLimited, "the page's Graph API rate limit is reached")
_WINDOW = (errors.WindowClosed, "Messenger refused the reply: it is outside the allowed reply window")
_UNAVAILABLE_PERSON = (
    errors.PermanentError,
    "this person isn't available on Messenger (they may have blocked the page)",
)

#: Graph (code, subcode) → (bridge error, what it means for the agent). A subcode of None matches any
#: subcode; a more specific entry wins. Codes not listed: ``is_transient`` or HTTP 5xx → Unavailable,
#: any other error → PermanentError.
GRAPH_ERRORS: dict[tuple[int, int | None], tuple[ErrorClass, str]] = {
    (1, None): (errors.Unavailable, "Facebook reported an unknown error"),
    (2, None): (errors.Unavailable, "Facebook is temporarily unavailable"),
    (1200, None): (errors.Unavailable, "Messenger had a temporary send failure"),
    (4, None): (errors.RateLimited, "the app's Graph API request limit is reached"),
    (17, None): (errors.RateLimited, "the user's Graph API request limit is reached"),
    (32, None): (errors.RateLimited, "the page's Graph API request limit is reached"),
    (341, None): (errors.RateLimited, "the page's feed action limit is reached"),
    (613, None): (errors.RateLimited, "Graph API calls exceeded the rate limit"),
    **{(code, None): _BUC for code in range(80001, 80015)},
    (102, None): (errors.AuthError, "the page access token expired or was revoked"),
    (190, None): (errors.AuthError, "the page access token expired or was revoked"),
    (10, None): _PERMISSION,
    **{(code, None): _PERMISSION for code in range(200, 300)},
    (10, 2018278): _WINDOW,
    (10, 2018108): _WINDOW,
    (10, 2018065): _WINDOW,
    (100, 33): (errors.NotFound, "the post or comment was deleted, or the page can no longer see it"),
    (100, 2018001): (errors.NotFound, "Messenger knows no such person for this page"),
    (551, None): _UNAVAILABLE_PERSON,
    (200, 1545041): _UNAVAILABLE_PERSON,
    (368, None): (errors.PermanentError, "Facebook blocked the action as abusive or against its policies"),
    (10900, None): (errors.PermanentError, "a private reply was already sent for this comment"),
}


class GraphApiError(Exception):
    """The error Graph answered, kept as the ``__cause__`` of the bridge error raised for it."""

    def __init__(self, status: int, body: Mapping[str, Any], *, secret: str = "") -> None:
        self.status = status
        self.code = _int(body.get("code"))
        self.subcode = _int(body.get("error_subcode"))
        message = str(body.get("message") or "")
        self.graph_message = message.replace(secret, "***") if secret else message  # never echo a token
        self.transient = bool(body.get("is_transient"))
        self.trace = str(body.get("fbtrace_id") or "")
        super().__init__(f"HTTP {status}, Graph error {self.label}: {self.graph_message} (fbtrace_id {self.trace})")

    @property
    def label(self) -> str:
        return f"{self.code}/{self.subcode}" if self.subcode is not None else str(self.code)


class FacebookChannel:
    """A Facebook page: comment replies and Messenger messages (implements ``SocialChannel``)."""

    platform = PLATFORM

    def __init__(
        self,
        *,
        name: str,
        account_id: str,
        access_token: str,
        api_url: str = "https://graph.facebook.com/v21.0",
        session: requests.Session | None = None,
        timeout: float = 30,
    ) -> None:
        self.name = name
        self.account_id = account_id
        self.api_url = api_url.rstrip("/")
        self._token = access_token
        self._session = session or requests.Session()
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"FacebookChannel(name={self.name!r}, account_id={self.account_id!r}, api_url={self.api_url!r})"

    # -- SocialChannel ---------------------------------------------------------------------------------

    def send_reply(self, thread: ThreadState, text: str, *, now: datetime) -> Delivery:
        """Post ``text`` into a comment thread, under a visitor post, or to a Messenger conversation."""
        kind, _, ref = thread.thread_id.partition(":")
        target = thread.reply_to or ref
        if kind in ("comment", "post"):
            return send_parts(PLATFORM, split_text(text, COMMENT_LIMIT), lambda part: self._comment(target, part))
        if kind == "messenger":
            messaging_type, tag = messenger_policy(thread.last_inbound_at, now)
            parts = split_text(text, MESSENGER_LIMIT)
            return send_parts(PLATFORM, parts, lambda part: self._message(target, part, messaging_type, tag))
        raise errors.PermanentError(f"a Facebook channel cannot reply in a {kind!r} thread", platform=PLATFORM)

    def ping(self) -> str:
        """``GET /me``: the page's name (or id), proving the token works."""
        data = self._request("GET", "/me", "could not reach the Facebook page", params={"fields": "id,name"})
        return str(data.get("name") or data.get("id") or self.account_id)

    # -- the two kinds of send -------------------------------------------------------------------------

    def _comment(self, object_id: str, text: str) -> str:
        path = f"/{quote(object_id, safe='_')}/comments"
        return _id(self._request("POST", path, "could not reply to the Facebook comment", data={"message": text}), "id")

    def _message(self, psid: str, text: str, messaging_type: str, tag: str | None) -> str:
        body: dict[str, Any] = {"recipient": {"id": psid}, "messaging_type": messaging_type, "message": {"text": text}}
        if tag is not None:
            body["tag"] = tag
        path = f"/{quote(self.account_id, safe='')}/messages"
        return _id(self._request("POST", path, "could not send the Messenger message", json=body), "message_id")

    # -- HTTP ------------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, action: str, **kwargs: Any) -> dict[str, Any]:
        """One Graph call; a non-idempotent POST that times out is an :class:`UnknownOutcome`."""
        url = self.api_url + path
        headers = {"Authorization": f"Bearer {self._token}"}

        def send() -> requests.Response:
            return self._session.request(method, url, headers=headers, timeout=self._timeout, **kwargs)

        response = call(send, platform=PLATFORM, idempotent=method == "GET")
        raise_for_graph(response, action, secret=self._token)
        return _json(response, action, applied=method != "GET")


# -- pure helpers --------------------------------------------------------------------------------------


def messenger_policy(last_inbound_at: datetime | None, now: datetime) -> tuple[str, str | None]:
    """``(messaging_type, tag)`` for a reply at ``now``; :class:`WindowClosed` after 7 days.

    When the customer's last message time is unknown, ``RESPONSE`` is tried and Messenger decides.
    """
    if last_inbound_at is None:
        return "RESPONSE", None
    age = now - last_inbound_at
    if age <= STANDARD_WINDOW - WINDOW_MARGIN:
        return "RESPONSE", None
    if age <= HUMAN_AGENT_WINDOW:
        return "MESSAGE_TAG", "HUMAN_AGENT"
    reason = messages.window_closed("Messenger", last_inbound_at.astimezone(UTC), "7 days")
    raise errors.WindowClosed(reason, platform=PLATFORM, code="window")


def raise_for_graph(response: requests.Response, action: str, *, secret: str = "") -> None:
    """Raise the bridge error for a Graph error answer, by :data:`GRAPH_ERRORS`; nothing on success."""
    if response.status_code < 400:
        return
    graph = _graph_error(response, secret)
    if graph is None:  # not Graph's JSON (a proxy, a load balancer): judge by the status alone
        raise_for_response(response, platform=PLATFORM, message=action)
        return
    cls, meaning = _classify(graph)
    message = f"{action}: {meaning or graph.graph_message} [Graph error {graph.label}, fbtrace_id {graph.trace}]"
    retry_after = _retry_after(cls, response.headers)
    raise cls(
        message, platform=PLATFORM, http_status=graph.status, retry_after=retry_after, code=graph.label
    ) from graph


def rate_limit_wait(headers: Mapping[str, str]) -> float:
    """Seconds until Graph lets the page call again.

    The wait comes from ``estimated_time_to_regain_access`` (minutes) in the usage headers, or from
    ``Retry-After``; without either it is :data:`DEFAULT_RATE_LIMIT_WAIT`.
    """
    minutes = [m for name in _USAGE_HEADERS for m in _regain_minutes(headers.get(name))]
    if minutes and max(minutes) > 0:
        return max(minutes) * 60.0
    return retry_after_seconds(headers) or DEFAULT_RATE_LIMIT_WAIT


_USAGE_HEADERS = ("X-Business-Use-Case-Usage", "X-Page-Usage", "X-App-Usage", "X-Ad-Account-Usage")


def _classify(graph: GraphApiError) -> tuple[ErrorClass, str | None]:
    if graph.code is not None:
        entry = GRAPH_ERRORS.get((graph.code, graph.subcode)) or GRAPH_ERRORS.get((graph.code, None))
        if entry is not None:
            return entry
    if graph.transient or graph.status >= 500:
        return errors.Unavailable, None
    return errors.PermanentError, None


def _retry_after(cls: ErrorClass, headers: Mapping[str, str]) -> float | None:
    if issubclass(cls, errors.RateLimited):
        return rate_limit_wait(headers)
    return retry_after_seconds(headers) if issubclass(cls, errors.RetryableError) else None


def _regain_minutes(header: str | None) -> Iterator[float]:
    """Every ``estimated_time_to_regain_access`` in a usage header's JSON, however it is nested."""
    try:
        stack: list[Any] = [json.loads(header)] if header else []
    except ValueError:
        return
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            value = node.get("estimated_time_to_regain_access")
            if isinstance(value, int | float):
                yield float(value)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _graph_error(response: requests.Response, secret: str) -> GraphApiError | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return GraphApiError(response.status_code, error, secret=secret) if isinstance(error, dict) else None


def _json(response: requests.Response, action: str, *, applied: bool) -> dict[str, Any]:
    """The JSON object of a 2xx answer. Unreadable after a POST: it was probably applied, so unknown."""
    cls = errors.UnknownOutcome if applied else errors.Unavailable
    try:
        data = response.json()
    except ValueError as e:
        raise cls(f"{action}: Facebook answered without readable JSON", platform=PLATFORM) from e
    if not isinstance(data, dict):
        raise cls(f"{action}: Facebook answered with unexpected JSON", platform=PLATFORM)
    return data


def _id(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not value:
        raise errors.UnknownOutcome(f"Facebook accepted the request but returned no {key}", platform=PLATFORM)
    return str(value)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
