"""What every HTTP connector shares: a session that can be pointed anywhere, and one error table.

* :class:`RebasedSession` lets a library that insists on building ``https://<name>.<vendor>.com``
  URLs (zenpy, simple-salesforce) reach the configured base URL instead, such as
  ``http://127.0.0.1:8123`` for a simulator or a proxy. Nothing in the library is patched: the
  session simply sends the request somewhere else.
* :func:`raise_for_response` maps an HTTP answer onto :mod:`bridge.errors` in one table.
* :func:`maybe_applied` says what a 5xx means for a request that is not safe to repeat: the one home of
  :data:`MAYBE_APPLIED`, which every connector's error table goes through.
* :func:`call` wraps a request so that transport failures become bridge errors too, telling a
  refused connection (nothing was sent: retryable) from a timeout after sending (unknown outcome).
* :func:`same_account` and :func:`account_at` judge a channel's ``ping``: is its token for the configured
  ``account_id``? Each connector only reads the id its vendor's "who am I" answers.
* :func:`sees_every_ticket` and :func:`ticket_not_found` judge a helpdesk's API user (:class:`ApiUser`) the
  same way for every helpdesk; each connector only reads its vendor's user into one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from bridge import errors, messages, transport
from bridge.events import Delivery
from bridge.retry import capped_wait, parse_retry_after

DEFAULT_TIMEOUT = (5.0, 30.0)  # connect, read
#: The most parts a split reply may go out as (a channel's ``max_reply_parts``): a longer reply is refused
#: with a note to the agent, nothing posted (a 12,000-character reply went out on X as 88 posts).
DEFAULT_MAX_REPLY_PARTS = 5


class RebasedSession(requests.Session):
    """A session that sends requests for ``nominal`` (scheme://host) to ``actual`` (scheme://host:port)."""

    def __init__(self, *, nominal: str, actual: str) -> None:
        super().__init__()
        self._nominal = urlsplit(nominal)
        self._actual = urlsplit(actual)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        return super().request(method, self.rebase(str(url)), *args, **kwargs)

    def rebase(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.netloc != self._nominal.netloc:
            return url
        return urlunsplit((self._actual.scheme, self._actual.netloc, parts.path, parts.query, parts.fragment))


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait, from ``Retry-After`` (see :func:`bridge.retry.parse_retry_after`) or an epoch
    ``x-rate-limit-reset``; capped either way."""
    now = time.time() if now is None else now
    wait = parse_retry_after(headers.get("Retry-After") or headers.get("retry-after"), now=now)
    if wait is not None:
        return wait
    reset = headers.get("x-rate-limit-reset") or headers.get("X-Rate-Limit-Reset")
    if reset and reset.isdigit():
        return capped_wait(float(reset) - now)
    return None


#: The 5xx answers that may come after the request was applied: a proxy's 502 once the vendor wrote it, a 504 after
#: the gateway's own timeout, Cloudflare's 520-527 (its origin failed to answer, or answered what it cannot read), a
#: 500 mid-write. Not 503 nor 429: the vendor's "not now", said before doing anything (with ``Retry-After``).
MAYBE_APPLIED = frozenset({500, 502, 504, *range(520, 528)})


def maybe_applied(error: errors.BridgeError, *, idempotent: bool) -> errors.BridgeError:
    """The error a request answered with ``error`` raises. A retryable answer in :data:`MAYBE_APPLIED` to a request
    that is not safe to repeat (a post, a message, a note) is an :class:`~bridge.errors.UnknownOutcome`, keeping
    the vendor's words, status and code: retried, it could be written twice, as a timeout after sending could
    (:func:`call`). Any other error is returned as it is."""
    if idempotent or not error.retryable or error.http_status not in MAYBE_APPLIED:
        return error
    return errors.UnknownOutcome(
        f"{error.message}; it may have been applied all the same",
        platform=error.platform,
        http_status=error.http_status,
        code=error.code,
    )


@contextmanager
def answered(*, idempotent: bool) -> Iterator[None]:
    """Within the block, the bridge errors raised for a vendor's answer go through :func:`maybe_applied`."""
    try:
        yield
    except errors.BridgeError as e:
        unknown = maybe_applied(e, idempotent=idempotent)
        if unknown is e:
            raise
        raise unknown from e


def raise_for_response(
    response: requests.Response, *, platform: str, idempotent: bool, message: str | None = None
) -> None:
    """Raise the bridge error that matches a non-2xx answer; do nothing on 2xx. ``idempotent``: whether the
    request is safe to repeat (see :func:`maybe_applied`)."""
    status = response.status_code
    if status < 400:
        return
    text = message or f"{response.request.method} {urlsplit(response.url).path} failed"
    kwargs: dict[str, Any] = {"platform": platform, "http_status": status}
    if status == 429:
        raise errors.RateLimited(text, retry_after=retry_after_seconds(response.headers), **kwargs)
    if status >= 500:
        error = errors.Unavailable(text, retry_after=retry_after_seconds(response.headers), **kwargs)
        raise maybe_applied(error, idempotent=idempotent)
    if status in (401, 403):
        raise errors.AuthError(text, **kwargs)
    if status == 404:
        raise errors.NotFound(text, **kwargs)
    raise errors.PermanentError(text, **kwargs)


def call(
    send: Callable[[], requests.Response],
    *,
    platform: str,
    idempotent: bool,
) -> requests.Response:
    """Run ``send`` and turn transport failures into bridge errors.

    A connection that was never made is retryable. A timeout or a dropped connection after the request
    went out is retryable only for idempotent requests; for a post it is an :class:`UnknownOutcome`,
    because the platform may have published it.
    """
    try:
        return send()
    except (requests.ConnectTimeout, requests.exceptions.SSLError) as e:
        raise errors.Unavailable(f"connection to {_failed(e)}", platform=platform) from e
    except requests.ConnectionError as e:
        if idempotent or _never_sent(e):
            raise errors.Unavailable(f"connection to {_failed(e)}", platform=platform) from e
        raise errors.UnknownOutcome(
            f"the connection to {transport.target(e)} dropped after the request was sent", platform=platform
        ) from e
    except requests.Timeout as e:
        if idempotent:
            raise errors.Unavailable(f"{transport.target(e)} timed out", platform=platform) from e
        raise errors.UnknownOutcome(
            f"{transport.target(e)} timed out after the request was sent", platform=platform
        ) from e


def _failed(e: requests.RequestException) -> str:
    """``127.0.0.1:9 failed (connection refused)``: where, and the innermost cause."""
    return f"{transport.target(e)} failed ({transport.cause(e)})"


def _never_sent(e: requests.ConnectionError) -> bool:
    """True when the failure happened while connecting (refused, DNS), before any byte was sent."""
    text = repr(e)
    return "NewConnectionError" in text or "Connection refused" in text or "NameResolutionError" in text


def rate_limit_hook(
    platform: str, error_for: Callable[[requests.Response], errors.BridgeError] | None = None
) -> Callable[..., requests.Response]:
    """A ``requests`` response hook that raises :class:`RateLimited` on 429 before the caller sees it.

    zenpy 2.0 sleeps inside the call when it sees a 429; raising from the session's hook hands the
    429 to the bridge's one retry policy instead, which pauses the connector for every worker.
    ``error_for`` raises the connector's own error instead, where the answer tells which limit was hit
    (Zendesk: one ticket's updates, which must not pause the others).
    """

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        if response.status_code == 429:
            if error_for is not None:
                raise error_for(response)
            raise errors.RateLimited(
                "rate limited", platform=platform, http_status=429, retry_after=retry_after_seconds(response.headers)
            )
        return response

    return hook


def send_parts(
    platform: str, parts: list[str], send: Callable[[str], str], *, max_parts: int = DEFAULT_MAX_REPLY_PARTS
) -> Delivery:
    """Post the parts of a split reply in order; return their platform ids. More than ``max_parts`` parts
    are refused before any is sent (a :class:`PermanentError`: the agent is told on the ticket).

    Once part 1 is out, nothing may be resent blindly: a later failure, even a retryable one,
    becomes :class:`PartiallyDelivered`, carrying the ids of what the customer already sees.
    """
    if not parts:
        raise errors.PermanentError("the reply is empty: there is nothing to send", platform=platform)
    if len(parts) > max_parts:
        raise errors.PermanentError(too_long(len(parts), max_parts), platform=platform, code="too_long")
    sent: list[str] = []
    for part in parts:
        try:
            sent.append(send(part))
        except errors.BridgeError as e:
            if not sent:
                raise
            message = (
                f"only {len(sent)} of {len(parts)} parts of the reply were delivered; "
                f"part {len(sent) + 1} failed: {e.message}. The remaining parts were not sent"
            )
            raise errors.PartiallyDelivered(
                message, message_ids=tuple(sent), platform=platform, http_status=e.http_status
            ) from e
    return Delivery(message_ids=tuple(sent))


def too_long(parts: int, max_parts: int) -> str:
    return (
        f"the reply is too long: it would go out as {parts} separate messages, and this channel sends at most "
        f"{max_parts} (max_reply_parts). Nothing was posted: shorten it, or send it as several replies"
    )


def attachment_names(items: Any, key: str) -> tuple[str, ...]:
    """The names of the files a helpdesk lists on a comment (Zendesk's ``file_name``, Freshdesk's ``name``)."""
    listed = items if isinstance(items, list) else []
    return tuple(str(item.get(key) or "a file") for item in listed if isinstance(item, dict))


def same_account(token_id: object, account_id: str, noun: str, *, platform: str) -> None:
    """``ping``'s check that the token acts as ``account_id`` (``token_id``: the id the vendor's "who am I" gave).
    A webhook names the account it is for by that id, and the bridge finds the channel by it: one digit off and
    every message would be dropped as "account without a channel", while the token itself works."""
    if token_id not in (None, "") and str(token_id) != account_id:
        raise errors.ConfigError(messages.account_mismatch(noun, str(token_id), account_id), platform=platform)


def account_at(read: Callable[[], dict[str, Any]], account_id: str, noun: str, hint: str, *, platform: str,
               product: str) -> dict[str, Any]:  # fmt: skip
    """``ping``'s ``read`` of ``GET /{account_id}`` where the token may act for several accounts (WhatsApp's
    system user, Instagram's Page token): no "who am I" names one, so a wrong id is only seen as Graph's "does not
    exist" (code 100, subcode 33), said here as a wrong ``account_id``, not as a deleted object."""
    try:
        data = read()
    except errors.NotFound as e:
        said = messages.account_unknown(product, noun, account_id, hint)
        raise errors.ConfigError(said, platform=platform, http_status=e.http_status, code=e.code) from e
    same_account(data.get("id"), account_id, noun, platform=platform)
    return data


@dataclass(frozen=True)
class ApiUser:
    """A helpdesk's API user as the bridge judges it: ``who`` names it in messages, ``narrower`` says how it
    sees fewer than every ticket (None: it sees every one). How to read it is the vendor's part (Zendesk's role
    and ticket restriction, Freshdesk's ticket scope); what follows from it is the same for every helpdesk."""

    who: str
    narrower: str | None


def api_user_at(read: Callable[[], ApiUser], *, key: str, base: str, path: str, example: str) -> ApiUser:
    """``ping``'s ``read`` of the API user (``GET base + path``; ``base`` is the config's ``key``, like ``example``).
    A refusal other than the credentials' (401, 403), or a page that is no API's answer, means that ``base`` is not
    the helpdesk's API (a mistyped subdomain, a proxy's path, a website): the error names the key and the request,
    not only "not found"."""
    try:
        return read()
    except errors.AuthError:
        raise
    except errors.PermanentError as e:
        said = messages.no_helpdesk_api(key, base, path, example)
        raise type(e)(said, http_status=e.http_status, code=e.code) from e


def sees_every_ticket(user: ApiUser, fix: str, *, platform: str) -> str:
    """``ping``'s answer: the user's name, or :class:`~bridge.errors.AuthError` (``fix`` says how to widen it)
    for one that does not see every ticket, whose "not found" could be taken for "deleted" (see
    :func:`ticket_not_found`): ``doctor`` says so, and ``setup`` refuses to go on."""
    if user.narrower is not None:
        raise errors.AuthError(messages.api_user_sees_too_little(user.who, user.narrower, fix), platform=platform)
    return user.who


def ticket_not_found(
    e: errors.NotFound, ticket_id: str, user: ApiUser, deleted: str, *, platform: str
) -> errors.PermanentError:
    """What a 404 about a ticket the bridge made means: deleted (:class:`~bridge.errors.TicketDeleted`, saying
    ``deleted``; a new ticket is opened) only when the API user sees every ticket. Neither helpdesk documents a
    status for a ticket hidden from its user, so for a narrower user it may mean "hidden", and a new ticket
    would duplicate a live one: then :class:`~bridge.errors.NotFound` (a dead letter, replayable) saying why."""
    if user.narrower is not None:
        hidden = messages.hidden_or_deleted(ticket_id, user.who, user.narrower)
        return errors.NotFound(hidden, platform=platform, http_status=e.http_status, code=e.code)
    return errors.TicketDeleted(deleted, platform=platform, http_status=e.http_status, code=e.code)


#: How long an API user's view of tickets is believed before it is asked again (:class:`RecentApiUser`), seconds.
VIEW_TTL = 300.0


class RecentApiUser:
    """The API user as last asked (``fetch``: ``users/me``, ``agents/me``), asked again once ``ttl`` seconds old:
    an outage's retries, each looking its ticket up first, ask it once, and a user narrowed later is seen in time."""

    def __init__(self, fetch: Callable[[], ApiUser], *, clock: Callable[[], float], ttl: float = VIEW_TTL) -> None:
        self._fetch, self._clock, self._ttl = fetch, clock, ttl
        self._last: tuple[ApiUser, float] | None = None

    def __call__(self) -> ApiUser:
        now, last = self._clock(), self._last
        if last is None or now - last[1] >= self._ttl:
            last = self._last = (self._fetch(), now)
        return last[0]


def no_live_ticket(user: ApiUser, *, platform: str) -> None:
    """``find_ticket`` found no live ticket for a thread key: believed only from an API user that sees every ticket.
    It is asked whenever an earlier attempt may have opened the thread's ticket (an answer lost, a crash), and a
    narrower user's list and search leave out the tickets hidden from it, that one among them: a new ticket would
    duplicate it. Then :class:`~bridge.errors.NotFound` (a dead letter, replayable) saying why. The start of a
    worker refuses such a user, but not one narrowed later, or not checked then (the helpdesk unreachable)."""
    if user.narrower is not None:
        raise errors.NotFound(messages.hidden_or_never_opened(user.who, user.narrower), platform=platform)
