"""A local simulator of the X API v2 (posts and direct messages) and of X's account webhooks.

API side, authenticated like X: OAuth 1.0a user context (``Authorization: OAuth ...``, HMAC-SHA1
over the request; timestamp within 5 minutes, nonce never reused) or an OAuth 2 user token
(``Authorization: Bearer ...``):

* ``POST /2/tweets`` with ``text``, ``reply.in_reply_to_tweet_id`` and ``quote_tweet_id``: 201 ``{"data":
  {"id", "text", "edit_history_tweet_ids"}}``; 403 for a reply to an unknown post, for a duplicate of a post
  the account already made, and for a text over 280 weighted characters (:mod:`connectors.xtext`). As on
  X's self-serve tiers since February 2026, a reply or quote is refused (403) unless the author of the post
  answered "summoned" the account in that conversation: mentioned it, answered or quoted one of its posts
  (:attr:`XSimulator.self_serve`; False plays an Enterprise app, which X does not restrict).
* ``POST /2/dm_conversations/with/{participant_id}/messages``: 201 ``{"data": {"dm_conversation_id",
  "dm_event_id"}}``; 400 for a text over 10,000 characters; 403 to a user who never wrote to the account.
* ``GET /2/users/me``.

Every answer carries ``x-rate-limit-limit``, ``-remaining`` and ``-reset`` (epoch seconds) for its
endpoint's 15-minute window; past the limit X answers 429. Errors have X's problem shape
``{"title", "detail", "type", "status"}``.

Customer side: :meth:`XSimulator.customer_post` (a mention, or a reply in a conversation),
:meth:`XSimulator.customer_quote` (a quote post) and :meth:`XSimulator.customer_dm` build the webhook in
either shape, the Account Activity API's (``for_user_id`` + ``tweet_create_events`` /
``direct_message_events``) or the X Activity API's
(``{"data": {"event_type": "post.mention.create" ...}}``), sign it (``x-twitter-webhooks-signature``)
and POST it to :attr:`XSimulator.webhook_target`. With :attr:`XSimulator.echoes` on, the account's
own posts and messages come back as webhooks too, after the API call has answered, as on X.
:meth:`XSimulator.revoke_access` plays the user taking the app's access away: the tokens stop working
and the webhook gets ``user_event`` (or ``oauth.revoke``).

:meth:`XSimulator.add_account` adds another account of the same app (a brand's support handle): its own
tokens, its own posts, and its own subscription: a post is delivered for each account it concerns (its
author's, an account it mentions, answers or quotes), each delivery naming that account (``for_user_id``).
"""

from __future__ import annotations

import contextlib
import hmac
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import requests
from flask import Response, request

from connectors import xtext
from connectors.x import oauth1_signature, signature_base_string
from sandbox.base import Simulator, json_response
from webhooks.signatures import sign_x

Payload = dict[str, Any]
WINDOW = 15 * 60
TIMESTAMP_TOLERANCE = 300
#: X API reference, POST /2/dm_conversations/with/:participant_id/messages: "Text messages support up to
#: 10,000 characters". Stated here, not taken from the connector's DM_LIMIT, so that the simulator holds
#: the connector to X's rule rather than to its own.
DM_MAX_CHARACTERS = 10_000
TWEPOCH_MS = 1288834974657  # X's snowflake ids count milliseconds from here


class XProblem(Exception):
    """An error answer in X's problem shape; raised in a handler, it becomes the response."""

    def __init__(self, status: int, title: str, detail: str, kind: str = "about:blank") -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.kind = status, title, detail, kind

    def response(self, headers: dict[str, str] | None = None) -> Response:
        body = {"title": self.title, "detail": self.detail, "type": self.kind, "status": self.status}
        return json_response(body, self.status, headers)


def unauthorized() -> XProblem:
    return XProblem(401, "Unauthorized", "Unauthorized")


def forbidden(detail: str) -> XProblem:
    return XProblem(403, "Forbidden", detail)


def invalid_request(detail: str) -> XProblem:
    return XProblem(400, "Invalid Request", detail, "https://api.x.com/2/problems/invalid-request")


DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
NOT_VISIBLE = "You attempted to reply to a Tweet that is deleted or not visible to you."
NOT_SUMMONED = (
    "Reply to this conversation is not allowed because you have not been mentioned or otherwise engaged by the "
    "author of the post you are replying to."
)
QUOTE_NOT_VISIBLE = "You attempted to quote a Tweet that is deleted or not visible to you."
TOO_LONG = "Your Tweet text is too long."
CANNOT_DM = "You cannot send messages to this user."


@dataclass
class Post:
    id: str
    author_id: str
    text: str
    conversation_id: str
    in_reply_to: str | None
    created_at: float
    quoted: str | None = None  # the post a quote post quotes


@dataclass(frozen=True)
class Account:
    """An account the app acts for: its handle and the OAuth 1.0a token it signs with."""

    user_id: str
    username: str
    display_name: str
    access_token: str
    access_token_secret: str


@dataclass(frozen=True)
class CustomerEvent:
    """What a customer action produced: the platform id, the payload posted and the bridge's answer."""

    id: str
    conversation_id: str | None
    payload: Payload
    response: requests.Response | None = field(repr=False)


class XSimulator(Simulator):
    """X API v2 for one brand account, plus the customers who mention it, reply to it and message it."""

    name = "x"

    def __init__(
        self,
        *,
        consumer_key: str,
        consumer_secret: str,
        access_token: str,
        access_token_secret: str,
        user_id: str,
        username: str = "AcmeSupport",
        display_name: str = "Acme Support",
        bearer_tokens: tuple[str, ...] = (),
        webhook_target: str | None = None,
        shape: str = "aaa",
        limits: dict[str, int] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.access_token, self.access_token_secret = access_token, access_token_secret
        self.bearer_tokens, self.webhook_target, self.shape, self.clock = bearer_tokens, webhook_target, shape, clock
        self.user_id, self.username, self.display_name = user_id, username, display_name
        self.limits = {"POST /2/tweets": 100, "POST /2/dm_conversations": 200, "GET /2/users/me": 75, **(limits or {})}
        self.echoes = False
        self.revoked = False
        self.self_serve = True
        self.accounts = {user_id: Account(user_id, username, display_name, access_token, access_token_secret)}
        self.posts: dict[str, Post] = {}
        self.sent_dms: list[Payload] = []
        self.dm_senders: dict[str, str] = {}  # direct message id → the account that sent it
        self.users: dict[str, tuple[str, str]] = {user_id: (display_name, username)}
        self.deliveries: list[tuple[bytes, int | None]] = []
        self._windows: dict[str, tuple[float, int]] = {}  # endpoint → (window start, calls)
        self._nonces: set[str] = set()
        self._seq = itertools.count(1)
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self.app.add_url_rule("/2/tweets", "tweets", self._create_post, methods=["POST"])
        path = "/2/dm_conversations/with/<participant_id>/messages"
        self.app.add_url_rule(path, "dm", self._send_dm, methods=["POST"])
        self.app.add_url_rule("/2/users/me", "me", self._me, methods=["GET"])
        self.app.register_error_handler(XProblem, lambda e: e.response(self._limit_headers()))
        self.app.register_error_handler(404, lambda e: XProblem(404, "Not Found Error", "Not Found").response())

    # -- test controls -------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget posts, messages, users, windows, calls, faults and deliveries (one simulator per test module)."""
        with self._lock:
            self.posts.clear()
            self.sent_dms.clear()
            self.dm_senders.clear()
            self.users = {self.user_id: (self.display_name, self.username)}
            self.deliveries.clear()
            self._windows.clear()
            self.echoes = False
            self.revoked = False
            self.self_serve = True
            self.users.update({a.user_id: (a.display_name, a.username) for a in self.accounts.values()})
        self.reset_calls()
        self.clear_faults()

    def add_account(
        self, user_id: str, username: str, *, access_token: str, access_token_secret: str, display_name: str = ""
    ) -> None:
        """Another account of the app (a support handle): it posts with its own OAuth 1.0a token."""
        with self._lock:
            self.accounts[user_id] = Account(user_id, username, display_name or username, access_token,
                                             access_token_secret)  # fmt: skip
            self.users[user_id] = (display_name or username, username)

    def exhaust(self, endpoint: str) -> None:
        """Use up the current window of ``endpoint`` (``"POST /2/tweets"``...): the next call gets 429."""
        with self._lock:
            start, _ = self._windows.get(endpoint, (self.clock(), 0))
            self._windows[endpoint] = (start, self.limits[endpoint])

    def new_id(self) -> str:
        """A fresh snowflake id, as X makes them (time in the high bits, a sequence in the low ones)."""
        return str(((int(self.clock() * 1000) - TWEPOCH_MS) << 22) | (next(self._seq) & 0x3FFFFF))

    # -- the customer ----------------------------------------------------------------------------------

    def customer_post(
        self,
        text: str,
        *,
        user_id: str,
        username: str,
        display_name: str | None = None,
        in_reply_to: str | None = None,
        shape: str | None = None,
        send: bool = True,
    ) -> CustomerEvent:
        """A customer posts: a mention of the account, or a reply to post ``in_reply_to`` (theirs or ours)."""
        parent = self.posts.get(in_reply_to) if in_reply_to else None
        post = Post(self.new_id(), user_id, text, "", in_reply_to, self.clock())
        post.conversation_id = parent.conversation_id if parent else post.id
        with self._lock:
            self.posts[post.id] = post
            self.users[user_id] = (display_name or username, username)
        payload = self._post_payload(post, shape or self.shape)
        return CustomerEvent(post.id, post.conversation_id, payload, self._deliver_if(send, payload))

    def account_post(self, text: str) -> Post:
        """The account posts (from X's own app, not through the bridge): something customers can quote."""
        return self._publish(text, None)

    def customer_quote(
        self, text: str, *, quoted: str, user_id: str, username: str, shape: str | None = None, send: bool = True
    ) -> CustomerEvent:
        """A customer quotes post ``quoted`` with words of their own: a new conversation, as on X."""
        post = Post(self.new_id(), user_id, text, "", None, self.clock(), quoted=quoted)
        post.conversation_id = post.id
        with self._lock:
            self.posts[post.id] = post
            self.users[user_id] = (username, username)
        payload = self._post_payload(post, shape or self.shape)
        return CustomerEvent(post.id, post.conversation_id, payload, self._deliver_if(send, payload))

    def deliver_post(self, post: Post, *, to: str) -> requests.Response:
        """Deliver ``post`` to the subscription of account ``to`` (an echo, replayed by hand)."""
        return self.deliver(self._post_payload(post, self.shape, to))

    def revoke_access(self, *, shape: str | None = None, when: datetime | None = None) -> requests.Response | None:
        """The account's user takes the app's access away: its tokens stop working from now on, and X tells
        the webhook (``user_event`` of the Account Activity API, ``oauth.revoke`` of the X Activity API)."""
        with self._lock:
            self.revoked = True
        stamp = (when or datetime.fromtimestamp(self.clock(), UTC)).isoformat(timespec="seconds")
        revoke = {"date_time": stamp, "target": {"app_id": "13090192"}, "source": {"user_id": self.user_id}}
        payload: Payload = {"user_event": {"revoke": revoke}}
        if (shape or self.shape) == "xaa":
            oauth = {"date_time": stamp, "user_id": self.user_id, "app_id": "13090192"}
            payload = {
                "data": {"event_uuid": self.new_id(), "filter": {}, "event_type": "oauth.revoke", "payload": oauth}
            }
        return self._deliver_if(True, payload)

    def customer_dm(
        self, text: str, *, user_id: str, username: str, display_name: str | None = None, shape: str | None = None,
        send: bool = True,
    ) -> CustomerEvent:  # fmt: skip
        """A customer sends the account a direct message."""
        with self._lock:
            self.users[user_id] = (display_name or username, username)
        event = self._dm_event(self.new_id(), user_id, self.user_id, text)
        payload = self._dm_payload(event, shape or self.shape, "dm.received")
        return CustomerEvent(event["id"], None, payload, self._deliver_if(send, payload))

    # -- webhook delivery ------------------------------------------------------------------------------

    def sign(self, body: bytes) -> str:
        """``x-twitter-webhooks-signature``: ``sha256=`` + base64 HMAC-SHA256(consumer secret, body)."""
        return sign_x(body, self.consumer_secret)

    def deliver(self, payload: Payload) -> requests.Response:
        """POST ``payload`` signed to :attr:`webhook_target`, as X delivers an account activity event."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "x-twitter-webhooks-signature": self.sign(body)}
        try:
            response = requests.post(self._target(), data=body, headers=headers, timeout=20)
        except requests.RequestException:
            self.deliveries.append((body, None))
            raise
        self.deliveries.append((body, response.status_code))
        return response

    def crc_check(self, challenge: str = "challenge_string") -> bool:
        """X's challenge-response check: GET ``?crc_token=``; True when the answer proves the secret."""
        response = requests.get(self._target(), params={"crc_token": challenge}, timeout=20)
        expected = sign_x(challenge.encode(), self.consumer_secret)
        given = response.json().get("response_token", "") if response.ok else ""
        return hmac.compare_digest(str(given), expected)

    def wait_for_webhooks(self, timeout: float = 5.0) -> bool:
        """Wait until the background deliveries (echoes) are done; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def _target(self) -> str:
        if not self.webhook_target:
            raise RuntimeError("XSimulator.webhook_target is not set")
        return self.webhook_target

    def _deliver_if(self, send: bool, payload: Payload) -> requests.Response | None:
        return self.deliver(payload) if send and self.webhook_target else None

    def _echo_later(self, response: Response, payload: Payload) -> None:
        if not (self.echoes and self.webhook_target):
            return
        with self._lock:
            self._pending += 1

        def run() -> None:
            try:
                with contextlib.suppress(requests.RequestException):  # recorded in self.deliveries
                    self.deliver(payload)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

        response.call_on_close(lambda: threading.Thread(target=run, name="x-echo", daemon=True).start())

    # -- API routes ----------------------------------------------------------------------------------

    def _create_post(self) -> Response:
        author = self._authenticate()
        self._count("POST /2/tweets")
        body = _json_object()
        unknown = set(body) - {"text", "reply", "quote_tweet_id"}
        if unknown:
            raise invalid_request(f"$.{sorted(unknown)[0]}: is not defined in the schema")
        text, reply, quoted = body.get("text"), body.get("reply") or {}, body.get("quote_tweet_id")
        if not isinstance(text, str) or not text:
            raise invalid_request("$.text: must be a non-empty string")
        if quoted is not None and not isinstance(quoted, str):
            raise invalid_request("$.quote_tweet_id: must be a string")
        parent_id = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
        post = self._publish(text, parent_id, author=author, quoted=quoted)
        response = json_response(
            {"data": {"id": post.id, "text": post.text, "edit_history_tweet_ids": [post.id]}},
            201,
            self._limit_headers(),
        )
        for subscriber in self._concerned(post):
            self._echo_later(response, self._post_payload(post, self.shape, subscriber))
        return response

    def _publish(self, text: str, parent_id: str | None, *, author: str = "", quoted: str | None = None) -> Post:
        author = author or self.user_id
        if not xtext.is_valid_post(text):
            raise forbidden(TOO_LONG)
        with self._lock:
            parent = self._visible(parent_id, author, NOT_VISIBLE)
            self._visible(quoted, author, QUOTE_NOT_VISIBLE)
            if any(p.author_id == author and p.text == text for p in self.posts.values()):
                raise forbidden(DUPLICATE)
            post = Post(self.new_id(), author, text, "", parent_id, self.clock(), quoted=quoted)
            post.conversation_id = parent.conversation_id if parent else post.id
            self.posts[post.id] = post
        return post

    def _visible(self, post_id: str | None, author: str, unknown: str) -> Post | None:
        """The post answered or quoted, if ``author`` may: it exists, and on self-serve tiers its author
        summoned ``author`` (X, 2026-02-23: "only permitted when the original Post's author has summoned the
        replier by @mentioning that account or quoting one of its Posts")."""
        target = self.posts.get(post_id) if post_id else None
        if post_id and target is None:
            raise forbidden(unknown)
        if target is not None and self.self_serve and not self._summoned(target, author):
            raise forbidden(NOT_SUMMONED)
        return target

    def _summoned(self, target: Post, account: str) -> bool:
        """``target``'s author is ``account``, or engaged it in the conversation: mentioned its handle, or
        answered or quoted one of its posts."""
        if target.author_id == account:
            return True
        handle = "@" + self.users.get(account, ("", account))[1].lower()
        theirs = [p for p in self.posts.values()
                  if p.author_id == target.author_id and p.conversation_id == target.conversation_id]  # fmt: skip
        return any(self._engages(p, account, handle) for p in theirs)

    def _engages(self, post: Post, account: str, handle: str) -> bool:
        if re.search(re.escape(handle) + r"(?![A-Za-z0-9_])", post.text.lower()):
            return True
        referenced = [self.posts.get(ref) for ref in (post.in_reply_to, post.quoted) if ref]
        return any(ref is not None and ref.author_id == account for ref in referenced)

    def _concerned(self, post: Post) -> list[str]:
        """The app's accounts whose subscription receives ``post``: its author's, then any it mentions,
        answers or quotes."""
        others = [a for a in self.accounts.values() if a.user_id != post.author_id]
        engaged = [a.user_id for a in others if self._engages(post, a.user_id, f"@{a.username.lower()}")]
        return [post.author_id, *engaged]

    def _send_dm(self, participant_id: str) -> Response:
        sender = self._authenticate()
        self._count("POST /2/dm_conversations")
        body = _json_object()
        text = body.get("text")
        if not isinstance(text, str) or not text:
            raise invalid_request("$.text: must be a non-empty string")
        if len(text) > DM_MAX_CHARACTERS:  # X does not document this answer's words: best effort
            raise invalid_request(f"$.text: must be at most {DM_MAX_CHARACTERS} characters")
        if participant_id not in self.users or participant_id == sender:
            raise forbidden(CANNOT_DM)
        event = self._dm_event(self.new_id(), sender, participant_id, text)
        with self._lock:
            self.sent_dms.append({"participant_id": participant_id, "text": text, "id": event["id"]})
            self.dm_senders[event["id"]] = sender
        low, high = sorted((int(sender), int(participant_id)))
        data = {"dm_conversation_id": f"{low}-{high}", "dm_event_id": event["id"]}
        response = json_response({"data": data}, 201, self._limit_headers())
        self._echo_later(response, self._dm_payload(event, self.shape, "dm.sent", sender))
        return response

    def _me(self) -> Response:
        account = self.accounts[self._authenticate()]
        self._count("GET /2/users/me")
        data = {"id": account.user_id, "name": account.display_name, "username": account.username}
        return json_response({"data": data}, 200, self._limit_headers())

    # -- authentication and rate limits ----------------------------------------------------------------

    def _authenticate(self) -> str:
        """The id of the account the request acts for (its token's), or a 401."""
        if self.revoked:  # the user took the app's access away: X refuses the tokens
            raise unauthorized()
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme == "Bearer" and value in self.bearer_tokens:
            return self.user_id
        if scheme != "OAuth":
            raise unauthorized()
        params = _oauth_params(value)
        signature = params.pop("oauth_signature", "")
        token = params.get("oauth_token")
        account = next((a for a in self.accounts.values() if a.access_token == token), None)
        if params.get("oauth_consumer_key") != self.consumer_key or account is None:
            raise unauthorized()
        timestamp, nonce = params.get("oauth_timestamp", ""), params.get("oauth_nonce", "")
        if not timestamp.isdigit() or abs(self.clock() - int(timestamp)) > TIMESTAMP_TOLERANCE or not nonce:
            raise unauthorized()
        form = dict(request.form) if request.mimetype == "application/x-www-form-urlencoded" else {}
        base = signature_base_string(request.method, request.url, {**form, **params})
        expected = oauth1_signature(base, self.consumer_secret, account.access_token_secret)
        with self._lock:
            if not hmac.compare_digest(signature, expected) or nonce in self._nonces:
                raise unauthorized()
            self._nonces.add(nonce)
        return account.user_id

    def _count(self, endpoint: str) -> None:
        now = self.clock()
        with self._lock:
            start, calls = self._windows.get(endpoint, (now, 0))
            if now - start >= WINDOW:
                start, calls = now, 0
            self._windows[endpoint] = (start, calls + 1)
            request.environ["x.endpoint"] = endpoint
        if calls >= self.limits[endpoint]:
            raise XProblem(429, "Too Many Requests", "Too Many Requests")

    def _limit_headers(self) -> dict[str, str]:
        endpoint = request.environ.get("x.endpoint")
        if endpoint is None:
            return {}
        with self._lock:
            start, calls = self._windows[endpoint]
        limit = self.limits[endpoint]
        return {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(max(0, limit - calls)),
            "x-rate-limit-reset": str(int(start + WINDOW)),
        }

    # -- payloads ----------------------------------------------------------------------------------------

    def _post_payload(self, post: Post, shape: str, subscriber: str | None = None) -> Payload:
        """``post`` as delivered to ``subscriber``'s subscription (the main account's by default)."""
        subscriber = subscriber or self.user_id
        if shape == "xaa":
            if post.author_id == subscriber:
                kind = "post.create"
            elif post.quoted:
                kind = "post.quote.create"
            else:
                kind = "post.reply.create" if post.in_reply_to else "post.mention.create"
            includes = {"users": [self._v2_user(post.author_id)], "tweets": [self._v2_post(post)]}
            return _xaa(kind, subscriber, self._v2_post(post), includes)
        return {"for_user_id": subscriber, "tweet_create_events": [self._v1_post(post)]}

    def _v1_post(self, post: Post) -> Payload:
        name, username = self.users.get(post.author_id, ("", post.author_id))
        parent = self.posts.get(post.in_reply_to) if post.in_reply_to else None
        parent_author = self.users.get(parent.author_id, ("", "")) if parent else None
        long = len(post.text) > 140
        tweet: Payload = {
            "created_at": datetime.fromtimestamp(post.created_at, UTC).strftime("%a %b %d %H:%M:%S +0000 %Y"),
            "id": int(float(post.id)),  # a JSON number loses digits: X's own reason to read id_str
            "id_str": post.id,
            "text": post.text[:139] + "…" if long else post.text,
            "truncated": long,
            "in_reply_to_status_id_str": post.in_reply_to,
            "in_reply_to_user_id_str": parent.author_id if parent else None,
            "in_reply_to_screen_name": parent_author[1] if parent_author else None,
            "user": {"id": int(post.author_id), "id_str": post.author_id, "name": name, "screen_name": username},
            "entities": {"hashtags": [], "urls": [], "user_mentions": [], "symbols": []},
            "timestamp_ms": str(int(post.created_at * 1000)),
            "lang": "en",
        }
        if long:
            tweet["extended_tweet"] = {"full_text": post.text, "display_text_range": [0, len(post.text)]}
        quoted = self.posts.get(post.quoted) if post.quoted else None
        if quoted is not None:  # since 2018 the link to the quoted post is in quoted_status_permalink, not the text
            permalink = {"url": "https://t.co/q", "expanded": self._permalink(quoted)}
            tweet.update(is_quote_status=True, quoted_status_id_str=quoted.id, quoted_status=self._v1_post(quoted))
            tweet["quoted_status_permalink"] = permalink
        else:
            tweet["is_quote_status"] = False
        return tweet

    def _permalink(self, post: Post) -> str:
        return f"https://x.com/{self.users.get(post.author_id, ('', post.author_id))[1]}/status/{post.id}"

    def _v2_post(self, post: Post) -> Payload:
        data: Payload = {
            "created_at": _iso(post.created_at),
            "edit_history_tweet_ids": [post.id],
            "conversation_id": post.conversation_id,
            "text": post.text[:280],
            "author_id": post.author_id,
            "id": post.id,
            "lang": "en",
        }
        if post.in_reply_to:
            data["referenced_tweets"] = [{"type": "replied_to", "id": post.in_reply_to}]
            parent = self.posts.get(post.in_reply_to)
            if parent:
                data["in_reply_to_user_id"] = parent.author_id
        if len(post.text) > 280:
            data["note_tweet"] = {"text": post.text}
        quoted = self.posts.get(post.quoted) if post.quoted else None
        if quoted is not None:  # v2 keeps the link to the quoted post at the end of the text
            data["referenced_tweets"] = [{"type": "quoted", "id": quoted.id}]
            data["text"] = f"{data['text']} https://t.co/q"
            data["entities"] = {"urls": [{"url": "https://t.co/q", "expanded_url": self._permalink(quoted)}]}
        return data

    def _v2_user(self, user_id: str) -> Payload:
        name, username = self.users.get(user_id, ("", user_id))
        return {"id": user_id, "name": name, "username": username, "protected": False, "verified": False}

    def _dm_event(self, event_id: str, sender: str, recipient: str, text: str) -> Payload:
        return {
            "type": "message_create",
            "id": event_id,
            "created_timestamp": str(int(self.clock() * 1000)),
            "message_create": {
                "target": {"recipient_id": recipient},
                "sender_id": sender,
                "message_data": {
                    "text": text,
                    "entities": {"hashtags": [], "symbols": [], "user_mentions": [], "urls": []},
                },
            },
        }

    def _dm_payload(self, event: Payload, shape: str, kind: str, subscriber: str | None = None) -> Payload:
        subscriber = subscriber or self.user_id
        ids = {event["message_create"]["sender_id"], event["message_create"]["target"]["recipient_id"]}
        if shape == "xaa":
            users = {uid: {"data": self._v2_user(uid)} for uid in ids}
            return _xaa(kind, subscriber, {"direct_message_events": [event], "users": users}, None)
        v1_users = {uid: {"id": uid, "name": self.users[uid][0], "screen_name": self.users[uid][1]} for uid in ids}
        return {"for_user_id": subscriber, "direct_message_events": [event], "users": v1_users}


def _xaa(kind: str, user_id: str, payload: Payload, includes: Payload | None) -> Payload:
    tags = {"post.mention.create": "mentions", "post.reply.create": "replies", "post.create": "posts",
            "post.quote.create": "quotes"}  # fmt: skip
    data: dict[str, Any] = {
        "event_uuid": str(int(time.time() * 1_000_000)),
        "filter": {"user_id": user_id},
        "event_type": kind,
        "tag": tags.get(kind, "dm"),
        "payload": payload,
    }
    if includes is not None:
        data["includes"] = includes
    return {"data": data}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _oauth_params(header: str) -> dict[str, str]:
    params = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        params[unquote(key)] = unquote(value.strip('"'))
    return params


def _json_object() -> Payload:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise invalid_request("the request body must be a JSON object")
    return body
