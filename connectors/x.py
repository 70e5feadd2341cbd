"""X (Twitter) API v2: the outbound side of an ``x`` channel.

=====================  ==========================================================  ====================
thread_id              request                                                     limit per part
=====================  ==========================================================  ====================
``conversation:<id>``  ``POST /2/tweets`` with ``reply.in_reply_to_tweet_id``       280 weighted (xtext)
``dm:<user id>``       ``POST /2/dm_conversations/with/{participant_id}/messages``  10,000 characters
=====================  ==========================================================  ====================

A public reply answers the customer's latest post in the thread (``last_inbound_message_id``). A reply
longer than 280 weighted characters becomes a chain: part 1 answers the customer, part 2 answers
part 1, and so on, each ending with `` (i/n)`` and each valid on its own (see :func:`split_post`).

Requests are signed with OAuth 1.0a (HMAC-SHA1, RFC 5849) with the app's consumer key and the
account's access token, or carry an OAuth 2 user-context ``bearer_token``. Rate limits come from
X's ``x-rate-limit-*`` headers (and ``x-user-limit-24hour-*`` for posts): once an endpoint's window
is used up, the next call is refused here, before any request, until the window's reset time.
X's error bodies (``{"title", "detail", "type", "status"}``) are mapped in one table, :data:`X_ERRORS`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import requests

from bridge import errors
from bridge.events import Delivery, ThreadState
from bridge.retry import capped_wait, parse_retry_after
from bridge.text import number_parts, split_text
from connectors import xtext
from connectors.base import DEFAULT_MAX_REPLY_PARTS, call, maybe_applied, same_account, send_parts

PLATFORM = "x"
POST_LIMIT = xtext.MAX_WEIGHTED_LENGTH
DM_LIMIT = 10_000
DEFAULT_API_URL = "https://api.x.com"
_ID = re.compile(r"[0-9]{1,19}")

ErrorClass = type[errors.BridgeError]
#: (HTTP status, words in X's ``detail``) → (bridge error, what it means for the agent). The first match
#: wins; a status of None matches any; empty words match any detail. Unlisted: 5xx → Unavailable,
#: any other status → PermanentError with X's own words.
X_ERRORS: list[tuple[int | None, str, ErrorClass, str]] = [
    (403, "duplicate content", errors.PermanentError, "X refused it as a duplicate of a post the account already made"),
    (403, "deleted or not visible", errors.NotFound, "the post to answer was deleted or is no longer visible"),
    (
        403,
        "not been mentioned or otherwise engaged",
        errors.PermanentError,
        "X lets an app reply only to a post whose author mentioned, answered or quoted the replying account",
    ),
    (403, "reply to this conversation is not allowed", errors.PermanentError, "the author limited who may reply"),
    (403, "messages to", errors.PermanentError, "the customer does not accept direct messages from the account"),
    (403, "too long", errors.PermanentError, "the text is longer than X allows"),
    (401, "", errors.AuthError, "X refused the credentials (wrong keys, or the access token was revoked)"),
    (403, "", errors.AuthError, "X does not let this app or account do this (app permissions or access level)"),
    (404, "", errors.NotFound, "X knows no such post or user"),
    (429, "usage", errors.RateLimited, "the app's X API usage cap is reached"),
    (429, "", errors.RateLimited, "X's rate limit for the account is reached"),
]


class XChannel:
    """An X account: public replies and direct messages (implements ``SocialChannel``)."""

    platform = PLATFORM

    def __init__(
        self,
        *,
        name: str,
        consumer_key: str,
        consumer_secret: str,
        access_token: str | None = None,
        access_token_secret: str | None = None,
        bearer_token: str | None = None,
        account_id: str | None = None,
        api_url: str = DEFAULT_API_URL,
        session: requests.Session | None = None,
        timeout: float = 30,
        clock: Callable[[], float] = time.time,
        max_reply_parts: int = DEFAULT_MAX_REPLY_PARTS,
    ) -> None:
        self.name = name
        self.max_reply_parts = max_reply_parts
        self.account_id = account_id or account_from_token(access_token) or ""
        if not self.account_id:
            raise errors.ConfigError(f"channels[{name}].account_id: required (the X user id of the account)")
        if not (access_token and access_token_secret) and not bearer_token:
            raise errors.ConfigError(
                f"channels[{name}]: access_token and access_token_secret (OAuth 1.0a), or bearer_token, required"
            )
        self.api_url = api_url.rstrip("/")
        self._oauth1 = (consumer_key, consumer_secret, access_token or "", access_token_secret or "")
        self._bearer = None if access_token and access_token_secret else bearer_token
        self._secrets = [s for s in (consumer_secret, access_token, access_token_secret, bearer_token) if s]
        self._session = session or requests.Session()
        self._timeout = timeout
        self._clock = clock
        self._windows: dict[str, tuple[int, float]] = {}  # limit name → (remaining, reset epoch)

    def __repr__(self) -> str:
        auth = "oauth2" if self._bearer else "oauth1"
        return f"XChannel(name={self.name!r}, account_id={self.account_id!r}, api_url={self.api_url!r}, auth={auth})"

    # -- SocialChannel ---------------------------------------------------------------------------------

    def send_reply(self, thread: ThreadState, text: str, *, now: datetime) -> Delivery:
        """Answer the customer's latest post (a reply chain when long), or send a direct message."""
        kind, _, ref = thread.thread_id.partition(":")
        if kind == "conversation":
            target = _checked_id(thread.last_inbound_message_id or thread.reply_to or ref, "post")
            return self._reply_chain(target, split_post(text))
        if kind == "dm":
            user_id = _checked_id(ref, "user")
            return self._direct_parts(user_id, text)
        raise errors.PermanentError(f"an X channel cannot reply in a {kind!r} thread", platform=PLATFORM)

    def send_private_reply(self, thread: ThreadState, text: str, *, now: datetime, notice: str) -> Delivery:
        """A direct message to the customer who wrote last, then ``notice`` as a public reply to their post."""
        kind, _, ref = thread.thread_id.partition(":")
        if kind == "dm":
            return self.send_reply(thread, text, now=now)
        if kind != "conversation" or not thread.customer_id:
            raise errors.PermanentError("no customer to message privately in this X thread", platform=PLATFORM)
        user_id = _checked_id(thread.customer_id, "user")
        private = self._direct_parts(user_id, text)
        target = _checked_id(thread.last_inbound_message_id or thread.reply_to or ref, "post")
        try:
            public = self._reply_chain(target, [notice])
        except errors.BridgeError as e:
            message = f"the direct message was sent, but the public notice failed: {e.message}"
            raise errors.PartiallyDelivered(message, message_ids=private.message_ids, platform=PLATFORM) from e
        return Delivery(message_ids=private.message_ids + public.message_ids, system_ids=public.message_ids)

    def ping(self) -> str:
        """``GET /2/users/me``: the account's ``@username``, proving the credentials work and are this account's
        (``data.id``, "the unique identifier of this user", the id X's webhooks name the account by)."""
        data = self._request("GET", "/2/users/me", "could not reach the X account")["data"]
        same_account(data.get("id"), self.account_id, "X user", platform=PLATFORM)
        return f"@{data['username']}" if data.get("username") else str(data.get("id") or self.account_id)

    # -- the two kinds of send -------------------------------------------------------------------------

    def _reply_chain(self, target: str, parts: list[str]) -> Delivery:
        previous = [target]

        def reply(part: str) -> str:
            body = {"text": part, "reply": {"in_reply_to_tweet_id": previous[-1]}}
            post_id = _id(self._request("POST", "/2/tweets", "could not reply on X", json=body), "id")
            previous.append(post_id)
            return post_id

        return send_parts(PLATFORM, parts, reply, max_parts=self.max_reply_parts)

    def _direct_parts(self, user_id: str, text: str) -> Delivery:
        parts = split_text(_clean(text), DM_LIMIT)
        return send_parts(PLATFORM, parts, lambda part: self._direct(user_id, part), max_parts=self.max_reply_parts)

    def _direct(self, user_id: str, text: str) -> str:
        path = f"/2/dm_conversations/with/{user_id}/messages"
        return _id(
            self._request("POST", path, "could not send the X direct message", json={"text": text}), "dm_event_id"
        )

    # -- HTTP ------------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, action: str, **kwargs: Any) -> dict[str, Any]:
        """One signed call; a POST that times out is an :class:`UnknownOutcome`."""
        limits = _limit_names(method, path)
        self._check_windows(limits, action)
        url = self.api_url + path
        headers = {"Authorization": self._authorization(method, url)}

        def send() -> requests.Response:
            return self._session.request(method, url, headers=headers, timeout=self._timeout, **kwargs)

        idempotent = method == "GET"
        response = call(send, platform=PLATFORM, idempotent=idempotent)
        self._remember_windows(limits, response.headers)
        raise_for_x(response, action, now=self._clock(), secrets=self._secrets, idempotent=idempotent)
        return _json(response, action, applied=method != "GET")

    def _authorization(self, method: str, url: str) -> str:
        if self._bearer:
            return f"Bearer {self._bearer}"
        key, secret, token, token_secret = self._oauth1
        return oauth1_header(
            method, url, consumer_key=key, consumer_secret=secret, token=token, token_secret=token_secret,
            timestamp=int(self._clock()), nonce=secrets.token_hex(16),
        )  # fmt: skip

    def _check_windows(self, limits: tuple[str, ...], action: str) -> None:
        now = self._clock()
        for limit in limits:
            remaining, reset = self._windows.get(limit, (1, 0.0))
            if remaining <= 0 and reset > now:
                until = datetime.fromtimestamp(reset, UTC).strftime("%H:%M:%S UTC")
                message = f"{action}: X's rate limit for this request is used up until {until}"
                raise errors.RateLimited(
                    message, platform=PLATFORM, retry_after=capped_wait(reset - now), code="window"
                )

    def _remember_windows(self, limits: tuple[str, ...], headers: Mapping[str, str]) -> None:
        for limit in limits:
            prefix = "x-user-limit-24hour" if limit.endswith("#24h") else "x-rate-limit"
            remaining, reset = headers.get(f"{prefix}-remaining"), headers.get(f"{prefix}-reset")
            if remaining and remaining.isdigit() and reset and reset.isdigit():
                self._windows[limit] = (int(remaining), float(reset))


# -- splitting ---------------------------------------------------------------------------------------------


def split_post(text: str) -> list[str]:
    """The parts of a public reply: each at most 280 weighted characters, `` (i/n)`` when there are several.

    Cuts fall after a sentence or between words (see :func:`bridge.text.split_text`), so URLs and
    @mentions, which contain no whitespace, stay whole; in text without spaces they are set apart by
    spaces when a cut would fall inside one. Characters X refuses (U+FFFE, U+FEFF, U+FFFF) are dropped.
    """
    clean = unicodedata.normalize("NFC", _clean(text))
    parts = number_parts([clean], POST_LIMIT, xtext.weighted_length)
    if any(not any(entity in part for part in parts) for entity in _entities(clean)):
        # A "word" longer than a post (text without spaces, as in Japanese) was cut inside a URL or a
        # mention: set them apart with spaces so that the cuts fall around them.
        parts = number_parts([_spaced_entities(clean)], POST_LIMIT, xtext.weighted_length)
    if not parts or not all(xtext.is_valid_post(part) for part in parts):
        raise errors.PermanentError("the reply cannot be made into valid X posts", platform=PLATFORM)
    return parts


_MENTION = re.compile(r"(?<![A-Za-z0-9_@＠])[@＠][A-Za-z0-9_]{1,15}(?![A-Za-z0-9_])")


def _entity_spans(text: str) -> list[tuple[int, int]]:
    return sorted([*xtext.url_spans(text), *((m.start(), m.end()) for m in _MENTION.finditer(text))])


def _entities(text: str) -> list[str]:
    return [text[start:end] for start, end in _entity_spans(text)]


def _spaced_entities(text: str) -> str:
    pieces, last = [], 0
    for start, end in _entity_spans(text):
        if start < last:
            continue  # a mention inside a URL's path
        before = "" if start == 0 or text[start - 1].isspace() else " "
        after = "" if end == len(text) or text[end].isspace() else " "
        pieces += [text[last:start], before, text[start:end], after]
        last = end
    return "".join([*pieces, text[last:]])


def _clean(text: str) -> str:
    return text.translate({ord(char): None for char in xtext.INVALID_CHARACTERS})


# -- OAuth 1.0a (RFC 5849, HMAC-SHA1) ------------------------------------------------------------------------


def percent_encode(value: str) -> str:
    """RFC 3986 percent-encoding as OAuth 1.0a requires it: everything but ``A-Z a-z 0-9 - . _ ~``."""
    return quote(value, safe="~")


def signature_base_string(method: str, url: str, params: Mapping[str, str]) -> str:
    """``METHOD&base-URL&normalised-parameters`` (RFC 5849 §3.4.1); query parameters of ``url`` included."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    default_port = {"http": 80, "https": 443}.get(scheme)
    netloc = host if parts.port in (None, default_port) else f"{host}:{parts.port}"
    base_url = urlunsplit((scheme, netloc, parts.path or "/", "", ""))
    pairs = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    encoded = sorted((percent_encode(k), percent_encode(v)) for k, v in pairs)
    normalized = "&".join(f"{k}={v}" for k, v in encoded)
    return "&".join(percent_encode(piece) for piece in (method.upper(), base_url, normalized))


def oauth1_signature(base_string: str, consumer_secret: str, token_secret: str) -> str:
    """base64 HMAC-SHA1 of the base string, keyed ``consumer_secret&token_secret`` (both encoded)."""
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}".encode()
    return base64.b64encode(hmac.new(key, base_string.encode(), hashlib.sha1).digest()).decode("ascii")


def oauth1_header(
    method: str,
    url: str,
    *,
    consumer_key: str,
    consumer_secret: str,
    token: str,
    token_secret: str,
    timestamp: int,
    nonce: str,
    params: Mapping[str, str] | None = None,
) -> str:
    """The ``Authorization: OAuth ...`` value for a request; ``params`` are form fields, if any.

    A JSON body is not signed (RFC 5849 signs only form-encoded bodies), which is how X expects it.
    """
    oauth = {
        "oauth_consumer_key": consumer_key,
        "oauth_nonce": nonce,
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": str(timestamp),
        "oauth_token": token,
        "oauth_version": "1.0",
    }
    base = signature_base_string(method, url, {**(params or {}), **oauth})
    oauth["oauth_signature"] = oauth1_signature(base, consumer_secret, token_secret)
    return "OAuth " + ", ".join(f'{percent_encode(k)}="{percent_encode(v)}"' for k, v in sorted(oauth.items()))


def account_from_token(access_token: str | None) -> str | None:
    """The user id an OAuth 1.0a access token starts with (``<user id>-<random>``), if it does."""
    user_id = (access_token or "").split("-", 1)[0]
    return user_id if access_token and "-" in access_token and _ID.fullmatch(user_id) else None


# -- errors -----------------------------------------------------------------------------------------------


class XApiError(Exception):
    """The problem X answered, kept as the ``__cause__`` of the bridge error raised for it."""

    def __init__(self, status: int, problem: Mapping[str, Any]) -> None:
        self.status = status
        self.title = str(problem.get("title") or "")
        self.detail = str(problem.get("detail") or "")
        self.type = str(problem.get("type") or "")
        super().__init__(f"HTTP {status} {self.title}: {self.detail} ({self.type})")


def raise_for_x(
    response: requests.Response, action: str, *, now: float, secrets: list[str] | None = None, idempotent: bool = True
) -> None:
    """Raise the bridge error for an X error answer, by :data:`X_ERRORS`; nothing on success. A 500, 502 or 504 to
    a post or a direct message may come after X published it (:func:`connectors.base.maybe_applied`): X's response
    codes say 503 "overloaded with requests. Try again later", but of 504 only that the request "couldn't be
    serviced due to some failure within our stack", and of 500 and 502 nothing of the kind."""
    status = response.status_code
    if status < 400:
        return
    problem = _problem(response)
    for secret in secrets or []:  # X never echoes a credential, but a proxy in between might
        problem = {k: str(v).replace(secret, "***") for k, v in problem.items()}
    cause = XApiError(status, problem)
    cls, meaning = _classify(status, f"{cause.title} {cause.detail} {cause.type}".lower())
    retry_after = retry_after_for(response.headers, now) if issubclass(cls, errors.RetryableError) else None
    words = f" (X: {cause.detail or cause.title})" if (cause.detail or cause.title) else ""
    code = cause.type if cause.type and cause.type != "about:blank" else cause.title or None
    error = cls(
        f"{action}: {meaning}{words}", platform=PLATFORM, http_status=status, retry_after=retry_after, code=code
    )
    raise maybe_applied(error, idempotent=idempotent) from cause


def retry_after_for(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until X lets the account call again: the latest reset of the windows that are used up."""
    resets = []
    for prefix in ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour"):
        remaining, reset = headers.get(f"{prefix}-remaining"), headers.get(f"{prefix}-reset")
        if reset and reset.isdigit() and remaining in (None, "0"):
            resets.append(float(reset) - now)
    retry_after = parse_retry_after(headers.get("retry-after"), now=now)
    if retry_after is not None:
        resets.append(retry_after)
    return capped_wait(max(resets)) if resets else None


def _classify(status: int, words: str) -> tuple[ErrorClass, str]:
    for entry_status, needle, cls, meaning in X_ERRORS:
        if entry_status in (None, status) and needle in words:
            return cls, meaning
    if status >= 500:
        return errors.Unavailable, "X is temporarily unavailable"
    return errors.PermanentError, "X refused the request"


def _problem(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    nested = body.get("errors")
    if not body.get("detail") and isinstance(nested, list) and nested and isinstance(nested[0], dict):
        body = {**body, "detail": nested[0].get("message") or nested[0].get("detail")}
    return body


def _limit_names(method: str, path: str) -> tuple[str, ...]:
    template = re.sub(r"/[0-9]+(?=/|$)", "/:id", path)
    window = f"{method} {template}"
    return (window, f"{window}#24h") if (method, template) == ("POST", "/2/tweets") else (window,)


def _json(response: requests.Response, action: str, *, applied: bool) -> dict[str, Any]:
    cls = errors.UnknownOutcome if applied else errors.Unavailable
    try:
        data = response.json()
    except ValueError as e:
        raise cls(f"{action}: X answered without readable JSON", platform=PLATFORM) from e
    if not isinstance(data, dict) or not isinstance(data.get("data"), dict):
        raise cls(f"{action}: X answered without a data object", platform=PLATFORM)
    return data


def _id(body: dict[str, Any], key: str) -> str:
    value = body["data"].get(key)
    if not value:
        raise errors.UnknownOutcome(f"X accepted the request but returned no {key}", platform=PLATFORM)
    return str(value)


def _checked_id(value: str | None, what: str) -> str:
    if not value or not _ID.fullmatch(value):
        raise errors.PermanentError(f"the thread has no valid X {what} id to answer ({value!r})", platform=PLATFORM)
    return value
