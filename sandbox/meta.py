"""A local simulator of Meta's Graph API for Facebook Pages and Messenger, served over real HTTP.

Graph side, under ``/{version}/`` (``v21.0`` by default), authenticated with page access tokens given
as ``access_token`` (query, form or JSON field) or ``Authorization: Bearer`` / ``OAuth``:

* ``POST /{page-id}/messages``, ``POST /me/messages``: the Send API, to a PSID (``recipient.id``) or as
  a private reply to a comment (``recipient.comment_id``). It enforces the windows, measured from the
  last customer message this simulator delivered: ``RESPONSE``/``UPDATE`` within 24 h, ``MESSAGE_TAG``
  with ``HUMAN_AGENT`` within 7 days. It also enforces the 2,000-character text limit.
* ``POST /{post-or-comment-id}/comments``: the page comments. A reply to a reply is attached to the
  top-level comment, because Facebook keeps two levels.
* ``GET /{object-id}`` and ``GET /me`` (``fields=``) for pages, posts and comments.

Errors come back in Graph's shape, ``{"error": {"message", "type", "code", "error_subcode",
"fbtrace_id"}}``, with the codes and wording Graph uses. :meth:`MetaSimulator.throttle` answers Graph's
rate-limit errors with ``X-App-Usage`` / ``X-Business-Use-Case-Usage`` headers, and
:meth:`MetaSimulator.slow_down` applies a request and then answers late.

Customer side: :meth:`~MetaSimulator.customer_comment` and :meth:`~MetaSimulator.customer_message`
build webhook payloads in the shapes of ``shared/fixtures/meta``. The simulator signs them like Meta
(``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>``, plus the legacy SHA-1 header) and
posts them to :attr:`~MetaSimulator.webhook_target`. With :attr:`~MetaSimulator.echoes` on, the page's
own sends come back as webhooks from a background thread after the Graph call has answered, as on
Meta.

Extending: Instagram and the WhatsApp Cloud API are further account kinds behind the same
``/{id}/messages`` path and the same signed envelope (``object: "instagram"`` /
``"whatsapp_business_account"``). They can be added as their own account tables, senders and payload
builders without changing the token, error, fault and delivery machinery here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import hmac
import itertools
import json
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from flask import Response, request
from werkzeug.exceptions import HTTPException

from sandbox.base import Fault, Simulator, json_response
from webhooks.signatures import sign_meta

DAY = 86_400.0
STANDARD_WINDOW = 1 * DAY  # RESPONSE and UPDATE
HUMAN_AGENT_WINDOW = 7 * DAY
PRIVATE_REPLY_WINDOW = 7 * DAY
MESSENGER_TEXT_LIMIT = 2000
COMMENT_TEXT_LIMIT = 8000
MESSAGING_TYPES = ("RESPONSE", "UPDATE", "MESSAGE_TAG")
MESSAGE_TAGS = ("CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE", "HUMAN_AGENT")
DEFAULT_APP_ID = "1517776481860111"

Payload = dict[str, Any]


# -- Graph errors: every message the simulator answers with, in one place -------------------------------


class GraphError(Exception):
    """An error answer in Graph's shape. Raised inside a handler, it becomes the HTTP response."""

    def __init__(
        self,
        message: str,
        code: int,
        subcode: int | None = None,
        *,
        kind: str = "OAuthException",
        status: int = 400,
        transient: bool | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message, self.code, self.subcode, self.kind = message, code, subcode, kind
        self.status, self.transient, self.headers = status, transient, headers or {}

    def body(self) -> Payload:
        error: Payload = {"message": self.message, "type": self.kind, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.transient is not None:
            error["is_transient"] = self.transient
        error["fbtrace_id"] = trace_id()
        return {"error": error}

    def response(self) -> Response:
        return json_response(self.body(), self.status, self.headers)


def trace_id() -> str:
    return secrets.token_urlsafe(8)


def missing_token() -> GraphError:
    return GraphError("An access token is required to request this resource.", 104)


def invalid_token() -> GraphError:
    return GraphError("Invalid OAuth access token - Cannot parse access token", 190)


def expired_token(expired_at: float, now: float) -> GraphError:
    message = (
        f"Error validating access token: Session has expired on {_pacific(expired_at)}. "
        f"The current time is {_pacific(now)}."
    )
    return GraphError(
        message, 190, 463, headers={"WWW-Authenticate": f'OAuth "Facebook Platform" "invalid_token" "{message}"'}
    )


def permissions_error() -> GraphError:
    return GraphError("(#200) Permissions error", 200, status=403)


def no_object(object_id: str, method: str) -> GraphError:
    return GraphError(
        f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be loaded due to "
        "missing permissions, or does not support this operation. Please read the Graph API documentation at "
        "https://developers.facebook.com/docs/graph-api",
        100,
        33,
        kind="GraphMethodException",
    )


def bad_param(text: str) -> GraphError:
    return GraphError(f"(#100) {text}", 100)


def no_matching_user() -> GraphError:
    return GraphError("(#100) No matching user found", 100, 2018001)


def outside_window() -> GraphError:
    return GraphError(
        "(#10) This message is sent outside of allowed window. Learn more about the new policy here: "
        "https://developers.facebook.com/docs/messenger-platform/policy-overview",
        10,
        2018278,
    )


def person_unavailable() -> GraphError:
    return GraphError("(#551) This person isn't available right now.", 551, 1545041)


def already_replied() -> GraphError:
    return GraphError("(#10900) Activity already replied to", 10900)


def unknown_path(path: str) -> GraphError:
    return GraphError(f"Unknown path components: {path}", 2500)


#: Graph's throttling answers: code → (message, HTTP status, the usage header's ``type``).
THROTTLES: dict[int, tuple[str, int, str]] = {
    4: ("(#4) Application request limit reached", 403, "app"),
    17: ("(#17) User request limit reached", 403, "app"),
    32: ("(#32) Page request limit reached", 403, "pages"),
    613: ("(#613) Calls to this api have exceeded the rate limit.", 400, "messenger"),
    80001: (
        "(#80001) There have been too many calls to this Page account. Wait a bit and try again. For more info, "
        "please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
        400,
        "pages",
    ),
}


def _pacific(epoch: float) -> str:
    """Graph writes token expiry times in Menlo Park time: ``Tuesday, 05-Mar-24 02:00:00 PST``."""
    try:
        zone: Any = ZoneInfo("America/Los_Angeles")
    except ZoneInfoNotFoundError:  # no tz database on this machine
        zone = UTC
    return datetime.fromtimestamp(epoch, zone).strftime("%A, %d-%b-%y %H:%M:%S %Z")


# -- state ---------------------------------------------------------------------------------------------


@dataclass
class _Page:
    id: str
    token: str
    name: str
    expired_at: float | None = None


@dataclass
class _Post:
    id: str
    page_id: str
    message: str
    created_time: float


@dataclass
class _Comment:
    id: str
    page_id: str
    post_id: str
    parent_id: str  # the post for a top-level comment
    top_id: str  # the top-level comment of its thread (itself when top-level)
    from_id: str
    from_name: str
    message: str
    created_time: float
    deleted: bool = False
    private_replied: bool = False


class _Readable:
    """Fields readable as attributes or as keys (``event.comment_id`` or ``event["comment_id"]``)."""

    def __getitem__(self, key: str) -> Any:
        if key not in {f.name for f in dataclasses.fields(self)}:  # type: ignore[arg-type]
            raise KeyError(key)
        return getattr(self, key)


@dataclass(frozen=True)
class CommentEvent(_Readable):
    """What :meth:`MetaSimulator.customer_comment` did: the ids, the payload, the bridge's answer."""

    comment_id: str
    post_id: str
    parent_id: str
    payload: Payload
    response: requests.Response | None


@dataclass(frozen=True)
class MessageEvent(_Readable):
    """What :meth:`MetaSimulator.customer_message` did."""

    mid: str
    psid: str
    timestamp: int  # milliseconds, as in the payload
    payload: Payload
    response: requests.Response | None


_DEFAULT_FIELDS = {
    "Page": ("id", "name"),
    "Post": ("created_time", "message", "id"),
    "Comment": ("created_time", "from", "message", "id"),
}


class MetaSimulator(Simulator):
    """Graph API v21.0 for Facebook pages and Messenger, plus the customer who writes to them."""

    name = "meta"

    def __init__(
        self,
        app_secret: str,
        pages: dict[str, str],
        version: str = "v21.0",
        webhook_target: str | None = None,
        *,
        page_names: dict[str, str] | None = None,
        app_id: str = DEFAULT_APP_ID,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.app_secret, self.version, self.webhook_target = app_secret, version, webhook_target
        self.app_id, self.clock = app_id, clock
        self.echoes = False
        self.sent_messages: list[Payload] = []
        self.comment_replies: list[Payload] = []
        self.deliveries: list[tuple[bytes, int | None]] = []  # every webhook POST: body, status (None: failed)
        names = page_names or {}
        self._pages = {pid: _Page(pid, token, names.get(pid, f"Page {pid}")) for pid, token in pages.items()}
        self._posts: dict[str, _Post] = {}
        self._comments: dict[str, _Comment] = {}
        self._last_inbound: dict[tuple[str, str], float] = {}
        self._blocked: set[tuple[str, str]] = set()
        self._lags: list[float] = []
        self._ids = itertools.count(random.randint(10**14, 5 * 10**14))
        self._pending = 0
        self._idle = threading.Condition(self._lock)
        self._routes()

    # -- test controls ---------------------------------------------------------------------------------

    def expire_token(self, page_id: str) -> None:
        """From now on the page's token answers code 190, subcode 463 (session expired)."""
        with self._lock:
            self._pages[page_id].expired_at = self.clock()

    def block(self, page_id: str, psid: str) -> None:
        """The person blocked the page or left Messenger: sends answer code 551."""
        with self._lock:
            self._blocked.add((page_id, psid))

    def throttle(self, times: int = 1, *, code: int = 32, regain_minutes: int = 5, page_id: str | None = None) -> None:
        """Answer the next ``times`` Graph calls with the rate-limit error ``code`` (4, 17, 32, 613, 80001)."""
        message, status, usage_type = THROTTLES[code]
        error = GraphError(
            message,
            code,
            status=status,
            transient=True,
            headers=self._usage_headers(usage_type, regain_minutes, page_id or next(iter(self._pages))),
        )
        self.inject(Fault(status, times, path_prefix=f"/{self.version}/", headers=error.headers, body=error.body()))

    def slow_down(self, seconds: float, *, times: int = 1) -> None:
        """Handle the next ``times`` Graph calls normally, then answer ``seconds`` late (client timeouts)."""
        with self._lock:
            self._lags.extend([seconds] * times)

    def add_post(self, page_id: str, message: str = "", *, post_id: str | None = None) -> str:
        """A post on the page's feed, for customers to comment on. Returns ``<page-id>_<post>``."""
        with self._lock:
            post = _Post(post_id or f"{page_id}_{next(self._ids)}", page_id, message, self.clock())
            self._posts[post.id] = post
        return post.id

    def delete_comment(self, comment_id: str, *, send: bool = True) -> requests.Response | None:
        """Delete a comment (and its replies, for a top-level one); Meta then sends a ``remove`` change."""
        with self._lock:
            comment = self._comments[comment_id]
            for other in self._comments.values():
                if other.id == comment_id or other.parent_id == comment_id:
                    other.deleted = True
        payload = self._feed_payload(comment.page_id, self.clock(), self._remove_change(comment))
        return self._post_if(send, payload)

    # -- the customer ----------------------------------------------------------------------------------

    def customer_comment(
        self,
        page_id: str,
        *,
        post_id: str | None = None,
        parent_id: str | None = None,
        text: str,
        user_id: str,
        user_name: str,
        created_time: datetime | float | None = None,
        send: bool = True,
    ) -> CommentEvent:
        """A customer comments on a post (a new one unless ``post_id``) or replies to comment ``parent_id``.

        The feed change is posted, signed, to :attr:`webhook_target` when ``send`` and a target is set.
        """
        when = _epoch(created_time, self.clock)
        target = self._comment_target(page_id, post_id, parent_id)
        comment = self._add_comment(target, user_id, user_name, text, when)
        payload = self._feed_payload(page_id, when, self._add_change(comment))
        response = self._post_if(send, payload)
        return CommentEvent(
            comment_id=comment.id,
            post_id=comment.post_id,
            parent_id=comment.parent_id,
            payload=payload,
            response=response,
        )

    def customer_message(
        self,
        page_id: str,
        *,
        psid: str,
        text: str | None,
        timestamp: datetime | float | None = None,
        attachments: list[Payload] | None = None,
        quick_reply: str | None = None,
        reply_to: str | None = None,
        send: bool = True,
    ) -> MessageEvent:
        """A customer writes to the page on Messenger (``timestamp``: a datetime or epoch seconds).

        This opens the reply windows from ``timestamp``. ``attachments`` are Messenger attachment objects
        (``{"type": "image", "payload": {"url": ...}}``); ``quick_reply`` is a tapped quick reply's payload;
        ``reply_to`` is the mid the customer swiped to reply to.
        """
        when = _epoch(timestamp, self.clock)
        millis, mid = int(when * 1000), new_mid()
        message: Payload = {"mid": mid}
        if text is not None:
            message["text"] = text
        if quick_reply is not None:
            message["quick_reply"] = {"payload": quick_reply}
        if reply_to is not None:
            message["reply_to"] = {"mid": reply_to, "is_self_reply": False}
        if attachments:
            message["attachments"] = attachments
        with self._lock:
            key = (page_id, psid)
            self._last_inbound[key] = max(when, self._last_inbound.get(key, when))
        event = {"sender": {"id": psid}, "recipient": {"id": page_id}, "timestamp": millis, "message": message}
        payload = envelope("page", [{"id": page_id, "time": millis, "messaging": [event]}])
        return MessageEvent(
            mid=mid, psid=psid, timestamp=millis, payload=payload, response=self._post_if(send, payload)
        )

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
        params = {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": verify_token}
        return requests.get(self._target(), params=params, timeout=20)

    def wait_for_webhooks(self, timeout: float = 5.0) -> bool:
        """Wait until the background deliveries (echoes) are done; False on timeout."""
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

    def _post_later(self, response: Response, payload: Payload) -> None:
        """Deliver ``payload`` from a thread once ``response`` has gone out (Meta's echoes come after)."""
        if not (self.echoes and self.webhook_target):
            return
        with self._lock:
            self._pending += 1

        def run() -> None:
            try:
                with contextlib.suppress(requests.RequestException):  # recorded in self.deliveries
                    self._post(encode(payload))
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

        response.call_on_close(lambda: threading.Thread(target=run, name="meta-echo", daemon=True).start())

    # -- payloads --------------------------------------------------------------------------------------

    def _feed_payload(self, page_id: str, when: float, value: Payload) -> Payload:
        entry = {"id": page_id, "time": int(when), "changes": [{"field": "feed", "value": value}]}
        return envelope("page", [entry])

    @staticmethod
    def _add_change(comment: _Comment) -> Payload:
        return {
            "item": "comment",
            "verb": "add",
            "comment_id": comment.id,
            "post_id": comment.post_id,
            "parent_id": comment.parent_id,
            "from": {"id": comment.from_id, "name": comment.from_name},
            "created_time": int(comment.created_time),
            "message": comment.message,
        }

    @staticmethod
    def _remove_change(comment: _Comment) -> Payload:
        return {
            "item": "comment",
            "verb": "remove",
            "comment_id": comment.id,
            "post_id": comment.post_id,
            "parent_id": comment.parent_id,
            "from": {"name": comment.from_name, "id": comment.from_id},
        }

    def _echo(self, page: _Page, psid: str, mid: str, text: str | None) -> Payload:
        millis = int(self.clock() * 1000)
        message: Payload = {"mid": mid, "is_echo": True, "app_id": int(self.app_id)}
        if text is not None:
            message["text"] = text
        event = {"sender": {"id": page.id}, "recipient": {"id": psid}, "timestamp": millis, "message": message}
        return envelope("page", [{"id": page.id, "time": millis, "messaging": [event]}])

    # -- comments --------------------------------------------------------------------------------------

    def _comment_target(self, page_id: str, post_id: str | None, parent_id: str | None) -> _Post | _Comment:
        with self._lock:
            if parent_id is not None:
                return self._comments[parent_id]
            if post_id is None or post_id not in self._posts:
                return self._posts[self.add_post(page_id, post_id=post_id)]
            return self._posts[post_id]

    def _add_comment(self, target: _Post | _Comment, from_id: str, from_name: str, text: str, when: float) -> _Comment:
        with self._lock:
            if isinstance(target, _Post):
                post_id, parent_id, top_id = target.id, target.id, None
            else:
                post_id, parent_id, top_id = target.post_id, target.top_id, target.top_id
            new_id = f"{post_id.split('_')[-1]}_{next(self._ids)}"
            comment = _Comment(
                new_id, target.page_id, post_id, parent_id, top_id or new_id, from_id, from_name, text, when
            )
            self._comments[new_id] = comment
        return comment

    # -- Graph routes ----------------------------------------------------------------------------------

    def _routes(self) -> None:
        prefix = f"/{self.version}"
        self.app.add_url_rule(f"{prefix}/<object_id>", "graph_get", self._get_object, methods=["GET"])
        self.app.add_url_rule(f"{prefix}/<object_id>/messages", "graph_send", self._send, methods=["POST"])
        self.app.add_url_rule(f"{prefix}/<object_id>/comments", "graph_comment", self._comment, methods=["POST"])
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

    def _get_object(self, object_id: str) -> Response:
        params = _params()
        page = self._authenticate(params)
        node_type, node = self._node(page if object_id == "me" else object_id, page)
        return json_response(_select(node_type, node, str(params.get("fields") or "")))

    def _send(self, object_id: str) -> Response:
        params = _params()
        page = self._page_for(object_id, params)
        recipient, message = _json_param(params, "recipient"), _json_param(params, "message")
        messaging_type, tag = _messaging_type(params)
        text = _message_text(message)
        if "comment_id" in recipient:
            psid = self._private_reply(page, str(recipient["comment_id"]))
        elif "id" in recipient:
            psid = str(recipient["id"])
            self._check_window(page, psid, messaging_type, tag)
        else:
            raise bad_param("param recipient must be non-empty.")
        mid = new_mid()
        with self._lock:
            self.sent_messages.append(
                {
                    "page": page.id,
                    "recipient": psid,
                    "text": text,
                    "messaging_type": messaging_type,
                    "tag": tag,
                    "message_id": mid,
                }
            )
        response = json_response({"recipient_id": psid, "message_id": mid})
        self._post_later(response, self._echo(page, psid, mid, text))
        return response

    def _comment(self, object_id: str) -> Response:
        params = _params()
        page = self._authenticate(params)
        target = self._commentable(object_id, page)
        text = str(params.get("message") or "")
        if not text:
            raise bad_param("Missing message or attachment")
        if len(text) > COMMENT_TEXT_LIMIT:
            raise bad_param(f"Param message must be at most {COMMENT_TEXT_LIMIT} characters long")
        comment = self._add_comment(target, page.id, page.name, text, self.clock())
        with self._lock:
            self.comment_replies.append({"parent_id": object_id, "message": text, "id": comment.id})
        response = json_response({"id": comment.id})
        self._post_later(response, self._feed_payload(page.id, comment.created_time, self._add_change(comment)))
        return response

    # -- Graph checks ----------------------------------------------------------------------------------

    def _authenticate(self, params: Payload) -> _Page:
        token = _token(params)
        if not token:
            raise missing_token()
        with self._lock:
            page = next((p for p in self._pages.values() if hmac.compare_digest(p.token, token)), None)
        if page is None:
            raise invalid_token()
        if page.expired_at is not None:
            raise expired_token(page.expired_at, self.clock())
        return page

    def _page_for(self, object_id: str, params: Payload) -> _Page:
        page = self._authenticate(params)
        if object_id in ("me", page.id):
            return page
        raise permissions_error() if object_id in self._pages else no_object(object_id, "post")

    def _node(self, subject: _Page | str, page: _Page) -> tuple[str, Payload]:
        with self._lock:
            if isinstance(subject, _Page) or subject in self._pages:
                found = subject if isinstance(subject, _Page) else self._pages[subject]
                return "Page", {"id": found.id, "name": found.name, "link": f"https://www.facebook.com/{found.id}"}
            post = self._posts.get(subject)
            if post is not None and post.page_id == page.id:
                return "Post", _post_fields(post, self._pages[post.page_id])
            comment = self._comments.get(subject)
            if comment is not None and comment.page_id == page.id and not comment.deleted:
                return "Comment", self._comment_fields(comment)
        raise no_object(subject, "get")

    def _comment_fields(self, comment: _Comment) -> Payload:
        replies = sum(1 for c in self._comments.values() if c.parent_id == comment.id and not c.deleted)
        fields: Payload = {
            "id": comment.id,
            "message": comment.message,
            "created_time": graph_time(comment.created_time),
            "from": {"name": comment.from_name, "id": comment.from_id},
            "comment_count": replies,
            "can_comment": comment.top_id == comment.id,
            "is_hidden": False,
            "permalink_url": _permalink(comment.post_id, comment.id),
        }
        if comment.parent_id != comment.post_id:
            parent = self._comment_fields(self._comments[comment.parent_id])
            fields["parent"] = {key: parent[key] for key in _DEFAULT_FIELDS["Comment"]}
        return fields

    def _commentable(self, object_id: str, page: _Page) -> _Post | _Comment:
        with self._lock:
            target: _Post | _Comment | None = self._posts.get(object_id) or self._comments.get(object_id)
        if target is None or target.page_id != page.id or (isinstance(target, _Comment) and target.deleted):
            raise no_object(object_id, "post")
        return target

    def _check_window(self, page: _Page, psid: str, messaging_type: str, tag: str | None) -> None:
        with self._lock:
            last = self._last_inbound.get((page.id, psid))
            blocked = (page.id, psid) in self._blocked
        if last is None:
            raise no_matching_user()
        if blocked:
            raise person_unavailable()
        window = _window(messaging_type, tag)
        if window is not None and self.clock() - last > window:
            raise outside_window()

    def _private_reply(self, page: _Page, comment_id: str) -> str:
        with self._lock:
            comment = self._comments.get(comment_id)
            if comment is None or comment.page_id != page.id or comment.deleted:
                raise no_object(comment_id, "post")
            if comment.private_replied:
                raise already_replied()
            if self.clock() - comment.created_time > PRIVATE_REPLY_WINDOW:
                raise outside_window()
            comment.private_replied = True
            return comment.from_id

    @staticmethod
    def _usage_headers(usage_type: str, regain_minutes: int, page_id: str) -> dict[str, str]:
        app_level = usage_type == "app"
        app_usage = {"call_count": 100 if app_level else 28, "total_cputime": 12, "total_time": 17}
        headers = {"X-App-Usage": json.dumps(app_usage)}
        if not app_level:
            usage = {
                "type": usage_type,
                "call_count": 100,
                "total_cputime": 12,
                "total_time": 17,
                "estimated_time_to_regain_access": regain_minutes,
            }
            headers["X-Business-Use-Case-Usage"] = json.dumps({page_id: [usage]})
        return headers


# -- helpers -------------------------------------------------------------------------------------------


def envelope(object_: str, entries: list[Payload]) -> Payload:
    return {"object": object_, "entry": entries}


def encode(payload: Payload) -> bytes:
    """The body as Meta sends it: compact JSON, non-ASCII as ``\\uXXXX`` and ``/`` as ``\\/``."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode("ascii")


def new_mid() -> str:
    return "m_" + secrets.token_urlsafe(64)[:86]


def graph_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _epoch(value: datetime | float | None, clock: Callable[[], float]) -> float:
    if value is None:
        return clock()
    return value.timestamp() if isinstance(value, datetime) else float(value)


def _permalink(post_id: str, comment_id: str) -> str:
    page_id, _, post = post_id.partition("_")
    return f"https://www.facebook.com/{page_id}/posts/{post}/?comment_id={comment_id.split('_')[-1]}"


def _post_fields(post: _Post, page: _Page) -> Payload:
    return {
        "id": post.id,
        "message": post.message,
        "created_time": graph_time(post.created_time),
        "from": {"name": page.name, "id": page.id},
        "permalink_url": f"https://www.facebook.com/{post.id.replace('_', '/posts/')}",
    }


def _select(node_type: str, node: Payload, fields: str) -> Payload:
    """Graph's ``fields=`` (nested ``from{id}`` selections are read as the whole field)."""
    wanted = [f.strip() for f in re.sub(r"\{[^{}]*\}", "", fields).split(",") if f.strip()]
    for name in wanted:
        if name not in node:
            raise bad_param(f"Tried accessing nonexisting field ({name}) on node type ({node_type})")
    chosen = wanted or [f for f in _DEFAULT_FIELDS[node_type] if f in node]
    return {name: node[name] for name in [*chosen, *([] if "id" in chosen else ["id"])]}  # Graph always adds id


def _params() -> Payload:
    """Query string, form fields and JSON body merged, as Graph reads them."""
    params: Payload = dict(request.args)
    params.update(request.form)
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict):
        params.update(body)
    return params


def _token(params: Payload) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip()
    token = params.get("access_token")
    return str(token) if token else None


def _json_param(params: Payload, name: str) -> Payload:
    value = params.get(name)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise bad_param(f"param {name} must be a JSON object.") from None
    if not isinstance(value, dict) or not value:
        raise bad_param(f"param {name} must be non-empty.")
    return value


def _messaging_type(params: Payload) -> tuple[str, str | None]:
    messaging_type = str(params.get("messaging_type") or "RESPONSE")
    if messaging_type not in MESSAGING_TYPES:
        raise bad_param(
            f'Param messaging_type must be one of {{{", ".join(MESSAGING_TYPES)}}} - got "{messaging_type}"'
        )
    if messaging_type != "MESSAGE_TAG":
        return messaging_type, None
    tag = params.get("tag")
    if not tag:
        raise bad_param("Tag is required for MESSAGE_TAG messaging type.")
    if tag not in MESSAGE_TAGS:
        raise bad_param(f'Param tag must be one of {{{", ".join(MESSAGE_TAGS)}}} - got "{tag}"')
    return messaging_type, str(tag)


def _message_text(message: Payload) -> str | None:
    text = message.get("text")
    if text is None and "attachment" not in message:
        raise bad_param("Message cannot be empty, must provide valid attachment or text")
    if text is not None and len(str(text)) > MESSENGER_TEXT_LIMIT:
        raise bad_param(f"Length of param message[text] must be less than or equal to {MESSENGER_TEXT_LIMIT}")
    return None if text is None else str(text)


def _window(messaging_type: str, tag: str | None) -> float | None:
    """How long after the customer's last message a send is allowed; None: no window (other tags)."""
    if messaging_type in ("RESPONSE", "UPDATE"):
        return STANDARD_WINDOW
    return HUMAN_AGENT_WINDOW if tag == "HUMAN_AGENT" else None
