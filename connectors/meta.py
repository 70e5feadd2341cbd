"""Facebook pages, Messenger and Instagram through the Graph API: the outbound side of ``facebook`` and
``instagram`` channels. (WhatsApp, in :mod:`connectors.whatsapp`, shares :class:`GraphClient`.)

Where a reply goes depends on the thread (see :mod:`webhooks.meta`):

==========  ==================  =============================================  ========================
platform    thread_id           request                                        limit per part
==========  ==================  =============================================  ========================
facebook    ``comment:<id>``    ``POST /{comment-id}/comments``                8,000 characters
facebook    ``post:<id>``       ``POST /{post-id}/comments``                   8,000 characters
facebook    ``messenger:<id>``  ``POST /{page-id}/messages`` (Send API)        2,000 characters
facebook    ``messenger-guest:  ``POST /{page-id}/messages``, to               2,000 characters
            <user_ref>``        ``recipient.user_ref`` (Chat Plugin guest)
instagram   ``comment:<id>``    ``POST /{ig-comment-id}/replies``              2,200 characters
instagram   ``mention:<id>``    ``POST /{ig-user-id}/mentions``                2,200 characters
instagram   ``dm:<igsid>``      ``POST /me/messages`` (Instagram send API)     1,000 bytes of UTF-8
==========  ==================  =============================================  ========================

Messenger and Instagram only accept a business's message within 24 hours of the customer's last
message (``messaging_type: RESPONSE``). A human agent may answer for 7 days with ``MESSAGE_TAG`` +
``HUMAN_AGENT``, which needs the app's Human Agent permission. After 7 days, the reply is refused
here, before any call.

The token travels in the ``Authorization`` header, never in a URL, so that no exception or log line
can carry it. Graph's errors are mapped in one table per platform, keyed by (code, subcode):
:data:`GRAPH_ERRORS` and :data:`INSTAGRAM_ERRORS`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import requests

from bridge import errors, messages
from bridge.events import Delivery, ThreadState
from bridge.text import split_text, utf8_len
from connectors.base import (
    DEFAULT_MAX_REPLY_PARTS,
    account_at,
    call,
    maybe_applied,
    raise_for_response,
    retry_after_seconds,
    same_account,
    send_parts,
)

PLATFORM = "facebook"
DEFAULT_API_URL = "https://graph.facebook.com/v21.0"
MESSENGER_LIMIT = 2000
COMMENT_LIMIT = 8000
INSTAGRAM_DM_LIMIT = 1000  # bytes of UTF-8
INSTAGRAM_COMMENT_LIMIT = 2200  # characters, as for a caption
STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
# Switch to HUMAN_AGENT a little before 24 h: the clocks of the bridge and Meta differ, and a request
# takes time to arrive. The tag is valid for a human agent's reply from the first minute anyway.
WINDOW_MARGIN = timedelta(minutes=5)
DEFAULT_RATE_LIMIT_WAIT = 60.0  # seconds, when Graph says it throttles but not for how long

ErrorClass = type[errors.BridgeError]
ErrorTable = Mapping[tuple[int, int | None], tuple[ErrorClass, str]]
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

#: Graph's errors that say the request was not carried out, so that a send answered with one is retried (any other
#: 5xx to a send may come after Meta applied it: unknown). Meta's "Handling Errors" (developers.facebook.com/docs/
#: graph-api/guides/error-handling): 2 "API Service: temporary issue due to downtime. Wait and retry the operation";
#: the Messenger Send API's error codes: 1200 "Temporary send message failure. Please try again later"; the WhatsApp
#: Cloud API's error codes: 131000 "Something went wrong: message failed to send because of an unknown error" (HTTP
#: 500). Not 1 ("API Unknown": "possibly" downtime, "invalid request or possible server error"), nor
#: ``is_transient`` alone: they say "retry", not that nothing was sent.
NOT_APPLIED = frozenset({2, 1200, 131000})

_IG_WINDOW = (errors.WindowClosed, "Instagram refused the reply: it is outside the allowed reply window")
_IG_TOKEN = (errors.AuthError, "the Instagram access token expired or was revoked")

#: Instagram answers with Graph's codes; these entries differ from (or add to) :data:`GRAPH_ERRORS`.
INSTAGRAM_ERRORS: dict[tuple[int, int | None], tuple[ErrorClass, str]] = {
    **GRAPH_ERRORS,
    (102, None): _IG_TOKEN,
    (190, None): _IG_TOKEN,
    (1, None): (errors.Unavailable, "Instagram reported an unknown error"),
    (2, None): (errors.Unavailable, "Instagram is temporarily unavailable"),
    (10, 2534022): _IG_WINDOW,
    (10, 2018278): _IG_WINDOW,
    (100, 33): (errors.NotFound, "the media or comment was deleted, or the account can no longer see it"),
    (100, 2534014): (errors.NotFound, "Instagram knows no such person for this account"),
    (551, None): (errors.PermanentError, "this person isn't available on Instagram (they may have blocked you)"),
    (368, None): (errors.PermanentError, "Instagram blocked the action as abusive or against its policies"),
}


class GraphApiError(Exception):
    """The error Graph answered, kept as the ``__cause__`` of the bridge error raised for it."""

    def __init__(self, status: int, body: Mapping[str, Any], *, secret: str = "") -> None:
        self.status = status
        self.code = _int(body.get("code"))
        self.subcode = _int(body.get("error_subcode"))
        message = str(body.get("message") or "")
        self.graph_message = message.replace(secret, "***") if secret else message  # never echo a token
        data = body.get("error_data")
        details = str(data.get("details") or "") if isinstance(data, dict) else ""
        self.details = details.replace(secret, "***") if secret else details  # WhatsApp's explanation
        self.transient = bool(body.get("is_transient"))
        self.trace = str(body.get("fbtrace_id") or "")
        super().__init__(f"HTTP {status}, Graph error {self.label}: {self.graph_message} (fbtrace_id {self.trace})")

    @property
    def label(self) -> str:
        return f"{self.code}/{self.subcode}" if self.subcode is not None else str(self.code)


class GraphClient:
    """What every Graph API channel shares: base URL, the token in a header, one request function.

    Subclasses set :attr:`platform` and :attr:`error_table` and implement ``send_reply`` and ``ping``.
    """

    platform = PLATFORM
    error_table: ErrorTable = GRAPH_ERRORS

    def __init__(
        self,
        *,
        name: str,
        account_id: str,
        access_token: str,
        api_url: str = DEFAULT_API_URL,
        session: requests.Session | None = None,
        timeout: float = 30,
        max_reply_parts: int = DEFAULT_MAX_REPLY_PARTS,
    ) -> None:
        self.name = name
        self.account_id = account_id
        self.api_url = api_url.rstrip("/")
        self._token = access_token
        self._session = session or requests.Session()
        self._timeout = timeout
        self.max_reply_parts = max_reply_parts

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, account_id={self.account_id!r}, api_url={self.api_url!r})"

    def _request(self, method: str, path: str, action: str, **kwargs: Any) -> dict[str, Any]:
        """One Graph call; a non-idempotent POST that times out is an :class:`UnknownOutcome`."""
        url = self.api_url + path
        headers = {"Authorization": f"Bearer {self._token}"}

        def send() -> requests.Response:
            return self._session.request(method, url, headers=headers, timeout=self._timeout, **kwargs)

        idempotent = method == "GET"
        response = call(send, platform=self.platform, idempotent=idempotent)
        raise_for_graph(response, action, secret=self._token, platform=self.platform, table=self.error_table,
                        idempotent=idempotent)  # fmt: skip
        return _json(response, action, applied=method != "GET", platform=self.platform)

    def _post_id(self, path: str, action: str, key: str, **kwargs: Any) -> str:
        """POST and return the id the platform gave the new object (``id``, ``message_id``...)."""
        return _id(self._request("POST", path, action, **kwargs), key, self.platform)

    def _send_message(
        self, recipient: str, parts: list[str], last_inbound_at: datetime | None, now: datetime, *, key: str = "id",
        buttons: Sequence[tuple[str, str]] = (),
    ) -> Delivery:  # fmt: skip
        """Messenger's and Instagram's send API: ``POST /{account}/messages`` within the windows, to
        ``recipient.<key>`` (``id``, or ``user_ref`` for a Chat Plugin guest); ``buttons`` (payload, title) as
        the last part's quick replies."""
        messaging_type, tag = messenger_policy(last_inbound_at, now, platform=self.platform)
        path = f"/{quote(self._messages_node(), safe='')}/messages"
        action = f"could not send the {_product(self.platform)} message"
        quick = [{"content_type": "text", "payload": payload, "title": title} for payload, title in buttons]

        def send(part: str) -> str:
            message: dict[str, Any] = {"text": part}
            if quick and part is parts[-1]:
                message["quick_replies"] = quick
            body: dict[str, Any] = {"recipient": {key: recipient}, "messaging_type": messaging_type, "message": message}
            if tag is not None:
                body["tag"] = tag
            return self._post_id(path, action, "message_id", json=body)

        return send_parts(self.platform, parts, send, max_parts=self.max_reply_parts)

    def _private_reply(
        self, thread: ThreadState, text: str, *, now: datetime, notice: str, fits: bool, public: Callable[[str], str]
    ) -> Delivery:
        """Facebook's and Instagram's private reply: one message to the author of the thread's latest comment
        (``POST /{account}/messages`` with ``recipient.comment_id``, within 7 days of that comment), then
        ``notice`` posted publicly with ``public``. ``fits``: the text is one message (it cannot be split)."""
        product = "Facebook" if self.platform == PLATFORM else "Instagram"
        _, _, ref = thread.thread_id.partition(":")
        comment_id = thread.last_inbound_message_id or thread.reply_to or ref
        if thread.last_inbound_at is not None and now - thread.last_inbound_at > HUMAN_AGENT_WINDOW:
            reason = messages.window_closed(
                f"{product} private reply", thread.last_inbound_at.astimezone(UTC), "7 days"
            )
            raise errors.WindowClosed(reason, platform=self.platform)
        if not fits:
            raise errors.PermanentError("a private reply is one message, and this reply is too long for one",
                                        platform=self.platform)  # fmt: skip
        body = {"recipient": {"comment_id": comment_id}, "message": {"text": text}}
        path = f"/{quote(self._messages_node(), safe='')}/messages"
        private = self._post_id(path, "could not send the private reply", "message_id", json=body)
        try:
            notice_id = public(notice)
        except errors.BridgeError as e:
            message = f"the private reply was sent, but the public notice failed: {e.message}"
            raise errors.PartiallyDelivered(message, message_ids=(private,), platform=self.platform) from e
        return Delivery(message_ids=(private, notice_id), system_ids=(notice_id,))

    def _messages_node(self) -> str:
        return self.account_id


class FacebookChannel(GraphClient):
    """A Facebook page: comment replies and Messenger messages (implements ``SocialChannel``)."""

    platform = PLATFORM
    error_table = GRAPH_ERRORS

    def send_reply(self, thread: ThreadState, text: str, *, now: datetime) -> Delivery:
        """Post ``text`` into a comment thread, under a visitor post, or to a Messenger conversation."""
        kind, _, ref = thread.thread_id.partition(":")
        target = thread.reply_to or ref
        if kind in ("comment", "post"):
            parts = split_text(text, COMMENT_LIMIT)
            return send_parts(PLATFORM, parts, lambda part: self._comment(target, part), max_parts=self.max_reply_parts)
        if kind in ("messenger", "messenger-guest"):  # a Chat Plugin guest has a user_ref, not a PSID
            key = "user_ref" if kind == "messenger-guest" else "id"
            return self._send_message(target, split_text(text, MESSENGER_LIMIT), thread.last_inbound_at, now, key=key)
        raise errors.PermanentError(f"a Facebook channel cannot reply in a {kind!r} thread", platform=PLATFORM)

    def send_buttons(
        self, thread: ThreadState, text: str, buttons: Sequence[tuple[str, str]], *, now: datetime
    ) -> Delivery:
        """A Messenger message with quick replies (``buttons``: payload, title); comments have none."""
        kind, _, ref = thread.thread_id.partition(":")
        if kind not in ("messenger", "messenger-guest"):
            raise errors.PermanentError(f"Facebook offers quick replies in Messenger only, not in a {kind!r} thread",
                                        platform=PLATFORM)  # fmt: skip
        key = "user_ref" if kind == "messenger-guest" else "id"
        parts = split_text(text, MESSENGER_LIMIT)
        return self._send_message(thread.reply_to or ref, parts, thread.last_inbound_at, now, key=key, buttons=buttons)

    def send_private_reply(self, thread: ThreadState, text: str, *, now: datetime, notice: str) -> Delivery:
        """A private reply to the customer's latest comment (one message, within 7 days of it), then
        ``notice`` publicly under the thread's comment; a Messenger thread is private already."""
        kind, _, ref = thread.thread_id.partition(":")
        if kind in ("messenger", "messenger-guest"):
            return self.send_reply(thread, text, now=now)
        if kind != "comment":
            raise errors.PermanentError("Facebook offers private replies to comments only", platform=PLATFORM)
        return self._private_reply(thread, text, now=now, notice=notice, fits=len(text) <= MESSENGER_LIMIT,
                                   public=lambda part: self._comment(thread.reply_to or ref, part))  # fmt: skip

    def display_name(self, author_id: str) -> str | None:
        """Messenger's User Profile API, ``GET /{psid}?fields=first_name,last_name`` (implements ``Profiles``).
        Meta answers only for people who wrote to the page, and only with the app's profile-access
        feature: anything else is an error the caller treats as "no name"."""
        path = f"/{quote(author_id, safe='')}"
        data = self._request(
            "GET", path, "could not read the customer's profile", params={"fields": "first_name,last_name"}
        )
        name = " ".join(str(data.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
        return name or None

    def ping(self) -> str:
        """``GET /me``: the page's name (or id), proving the token works and is this page's. With a Page token
        ``/me`` is the Page (developers.facebook.com/docs/graph-api/overview#me: "the object ID of the person or
        Page whose access token is currently being used"), so its id must be ``account_id``."""
        data = self._request("GET", "/me", "could not reach the Facebook page", params={"fields": "id,name"})
        same_account(data.get("id"), self.account_id, "Page", platform=PLATFORM)
        return str(data.get("name") or data.get("id") or self.account_id)

    def _comment(self, object_id: str, text: str) -> str:
        path = f"/{quote(object_id, safe='_')}/comments"
        return self._post_id(path, "could not reply to the Facebook comment", "id", data={"message": text})


_IG_ACCOUNT_HINT = "the Instagram professional account's id (the webhooks' entry id), not the username or the Page id"


class InstagramChannel(GraphClient):
    """An Instagram professional account: comment replies, mention replies and DMs (``SocialChannel``).

    ``account_id`` is the Instagram user id (the id in the webhooks' ``entry[].id``). ``api_url`` is
    ``https://graph.facebook.com/v21.0`` with a Page token (Instagram API with Facebook Login) or
    ``https://graph.instagram.com/v21.0`` with an Instagram token: the requests are the same.
    """

    platform = "instagram"
    error_table = INSTAGRAM_ERRORS

    def send_reply(self, thread: ThreadState, text: str, *, now: datetime) -> Delivery:
        """Reply under the top-level comment, under a mention, or in the Direct conversation."""
        kind, _, ref = thread.thread_id.partition(":")
        target = thread.reply_to or ref
        if kind == "comment":
            return self._comment_parts(text, lambda part: self._reply(target, part))
        if kind == "mention":
            return self._comment_parts(text, lambda part: self._mention_reply(target, part))
        if kind == "dm":
            parts = split_text(text, INSTAGRAM_DM_LIMIT, measure=utf8_len)
            return self._send_message(target, parts, thread.last_inbound_at, now)
        raise errors.PermanentError(f"an Instagram channel cannot reply in a {kind!r} thread", platform=self.platform)

    def send_buttons(
        self, thread: ThreadState, text: str, buttons: Sequence[tuple[str, str]], *, now: datetime
    ) -> Delivery:
        """A Direct message with quick replies (``buttons``: payload, title); comments and mentions have none."""
        kind, _, ref = thread.thread_id.partition(":")
        if kind != "dm":
            raise errors.PermanentError(f"Instagram offers quick replies in Direct only, not in a {kind!r} thread",
                                        platform=self.platform)  # fmt: skip
        parts = split_text(text, INSTAGRAM_DM_LIMIT, measure=utf8_len)
        return self._send_message(thread.reply_to or ref, parts, thread.last_inbound_at, now, buttons=buttons)

    def send_private_reply(self, thread: ThreadState, text: str, *, now: datetime, notice: str) -> Delivery:
        """Instagram's private reply to a comment (a Direct message to its author, then ``notice`` under the
        thread's comment); a Direct thread is private already. Mentions have no private hand-off."""
        kind, _, ref = thread.thread_id.partition(":")
        if kind == "dm":
            return self.send_reply(thread, text, now=now)
        if kind != "comment":
            raise errors.PermanentError(
                f"Instagram cannot answer a {kind} privately; the reply was not posted", platform=self.platform
            )
        return self._private_reply(thread, text, now=now, notice=notice, fits=utf8_len(text) <= INSTAGRAM_DM_LIMIT,
                                   public=lambda part: self._reply(thread.reply_to or ref, part))  # fmt: skip

    def ping(self) -> str:
        """``GET /{ig-user-id}?fields=id,username``: the account's username, proving the token works for it. A
        Page token's ``/me`` is the Page, not the Instagram account, so a wrong id shows as Graph's "does not
        exist" instead (:func:`~connectors.base.account_at`)."""
        path = f"/{quote(self.account_id, safe='')}"
        params = {"fields": "id,username"}
        data = account_at(lambda: self._request("GET", path, "could not reach the Instagram account", params=params),
                          self.account_id, "Instagram account", _IG_ACCOUNT_HINT, platform=self.platform,
                          product="Instagram")  # fmt: skip
        return str(data.get("username") or data.get("id") or self.account_id)

    def _comment_parts(self, text: str, send: Callable[[str], str]) -> Delivery:
        return send_parts(
            self.platform, split_text(text, INSTAGRAM_COMMENT_LIMIT), send, max_parts=self.max_reply_parts
        )

    def _reply(self, comment_id: str, text: str) -> str:
        path = f"/{quote(comment_id, safe='')}/replies"
        return self._post_id(path, "could not reply to the Instagram comment", "id", data={"message": text})

    def _mention_reply(self, target: str, text: str) -> str:
        """``target`` is ``<media-id>/<comment-id>`` (a comment mention) or ``<media-id>`` (a caption)."""
        media_id, _, comment_id = target.partition("/")
        form = {"media_id": media_id, "message": text, **({"comment_id": comment_id} if comment_id else {})}
        path = f"/{quote(self.account_id, safe='')}/mentions"
        return self._post_id(path, "could not reply to the Instagram mention", "id", data=form)

    def _messages_node(self) -> str:
        # /me works with both a Page token (graph.facebook.com) and an Instagram token (graph.instagram.com).
        return "me"


# -- pure helpers --------------------------------------------------------------------------------------


def messenger_policy(
    last_inbound_at: datetime | None, now: datetime, *, platform: str = PLATFORM
) -> tuple[str, str | None]:
    """``(messaging_type, tag)`` for a reply at ``now``; :class:`WindowClosed` after 7 days.

    When the customer's last message time is unknown, ``RESPONSE`` is tried and the platform decides.
    """
    if last_inbound_at is None:
        return "RESPONSE", None
    age = now - last_inbound_at
    if age <= STANDARD_WINDOW - WINDOW_MARGIN:
        return "RESPONSE", None
    if age <= HUMAN_AGENT_WINDOW:
        return "MESSAGE_TAG", "HUMAN_AGENT"
    reason = messages.window_closed(_product(platform), last_inbound_at.astimezone(UTC), "7 days")
    raise errors.WindowClosed(reason, platform=platform, code="window")


def raise_for_graph(
    response: requests.Response,
    action: str,
    *,
    secret: str = "",
    platform: str = PLATFORM,
    table: ErrorTable = GRAPH_ERRORS,
    idempotent: bool = True,
) -> None:
    """Raise the bridge error for a Graph error answer, by ``table``; nothing on success. A 5xx to a request that
    is not ``idempotent`` (a send) may come after Meta applied it (:func:`connectors.base.maybe_applied`), unless
    Graph's own error says it did not (:data:`NOT_APPLIED`)."""
    if response.status_code < 400:
        return
    graph = graph_error(response, secret)
    if graph is None:  # not Graph's JSON (a proxy, a load balancer): judge by the status alone
        raise_for_response(response, platform=platform, message=action, idempotent=idempotent)
        return
    cls, meaning = classify(graph, table)
    message = f"{action}: {meaning or graph.graph_message} [Graph error {graph.label}, fbtrace_id {graph.trace}]"
    retry_after = _retry_after(cls, response.headers)
    error = cls(message, platform=platform, http_status=graph.status, retry_after=retry_after, code=graph.label)
    raise maybe_applied(error, idempotent=idempotent or graph.code in NOT_APPLIED) from graph


def rate_limit_wait(headers: Mapping[str, str]) -> float:
    """Seconds until Graph lets the page call again.

    The wait comes from ``estimated_time_to_regain_access`` (minutes) in the usage headers, or from
    ``Retry-After``; without either it is :data:`DEFAULT_RATE_LIMIT_WAIT`.
    """
    minutes = [m for name in _USAGE_HEADERS for m in _regain_minutes(headers.get(name))]
    if minutes and max(minutes) > 0:
        return max(minutes) * 60.0
    return retry_after_seconds(headers) or DEFAULT_RATE_LIMIT_WAIT


def classify(graph: GraphApiError, table: ErrorTable = GRAPH_ERRORS) -> tuple[ErrorClass, str | None]:
    """The bridge error class and the agent-facing meaning of a Graph error, by ``table``."""
    if graph.code is not None:
        entry = table.get((graph.code, graph.subcode)) or table.get((graph.code, None))
        if entry is not None:
            return entry
    if graph.transient or graph.status >= 500:
        return errors.Unavailable, None
    return errors.PermanentError, None


def graph_error(response: requests.Response, secret: str = "") -> GraphApiError | None:
    """The ``{"error": {...}}`` of a Graph answer, or None when the body is not Graph's JSON."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return GraphApiError(response.status_code, error, secret=secret) if isinstance(error, dict) else None


_USAGE_HEADERS = ("X-Business-Use-Case-Usage", "X-Page-Usage", "X-App-Usage", "X-Ad-Account-Usage")


def _product(platform: str) -> str:
    return "Messenger" if platform == PLATFORM else messages.PLATFORM_NAMES.get(platform, platform)


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


def _json(response: requests.Response, action: str, *, applied: bool, platform: str = PLATFORM) -> dict[str, Any]:
    """The JSON object of a 2xx answer. Unreadable after a POST: it was probably applied, so unknown."""
    cls = errors.UnknownOutcome if applied else errors.Unavailable
    name = messages.PLATFORM_NAMES.get(platform, platform)
    try:
        data = response.json()
    except ValueError as e:
        raise cls(f"{action}: {name} answered without readable JSON", platform=platform) from e
    if not isinstance(data, dict):
        raise cls(f"{action}: {name} answered with unexpected JSON", platform=platform)
    return data


def _id(data: dict[str, Any], key: str, platform: str = PLATFORM) -> str:
    value = data.get(key)
    if not value:
        name = messages.PLATFORM_NAMES.get(platform, platform)
        raise errors.UnknownOutcome(f"{name} accepted the request but returned no {key}", platform=platform)
    return str(value)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
