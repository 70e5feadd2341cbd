"""What every account kind of the Graph API simulator shares: the error shape, the request readers, the
webhook envelope and its encoding. No state here."""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Response, request

from sandbox.base import json_response

Payload = dict[str, Any]
DAY = 86_400.0


# -- Graph errors: every message the simulator answers with, in one place -------------------------------


class GraphError(Exception):
    """An error answer in Graph's shape. Raised inside a handler, it becomes the HTTP response.

    ``data`` is WhatsApp's ``error_data`` (``{"messaging_product": "whatsapp", "details": ...}``).
    """

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
        data: Payload | None = None,
    ) -> None:
        super().__init__(message)
        self.message, self.code, self.subcode, self.kind = message, code, subcode, kind
        self.status, self.transient, self.headers, self.data = status, transient, headers or {}, data

    def body(self) -> Payload:
        error: Payload = {"message": self.message, "type": self.kind, "code": self.code}
        if self.data is not None:
            error["error_data"] = self.data
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


def no_matching_user(subcode: int = 2018001) -> GraphError:
    return GraphError("(#100) No matching user found", 100, subcode)


PRIVATE_REPLY_WINDOW = 7 * 86_400.0  # seconds after a comment during which its author can be answered privately


def outside_window(subcode: int = 2018278) -> GraphError:
    return GraphError(
        "(#10) This message is sent outside of allowed window. Learn more about the new policy here: "
        "https://developers.facebook.com/docs/messenger-platform/policy-overview",
        10,
        subcode,
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


# -- state shared by every kind -------------------------------------------------------------------------


@dataclass
class Account:
    """Something a token acts as: a Facebook page, an Instagram account or a WhatsApp phone number."""

    id: str
    token: str
    name: str
    kind: str = "page"  # page | instagram | whatsapp
    expired_at: float | None = None


class Readable:
    """Fields readable as attributes or as keys (``event.comment_id`` or ``event["comment_id"]``)."""

    def __getitem__(self, key: str) -> Any:
        if key not in {f.name for f in dataclasses.fields(self)}:  # type: ignore[arg-type]
            raise KeyError(key)
        return getattr(self, key)


# -- payloads ---------------------------------------------------------------------------------------------


def envelope(object_: str, entries: list[Payload]) -> Payload:
    return {"object": object_, "entry": entries}


def encode(payload: Payload) -> bytes:
    """The body as Meta sends it: compact JSON, non-ASCII as ``\\uXXXX`` and ``/`` as ``\\/``."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode("ascii")


def new_mid() -> str:
    return "m_" + secrets.token_urlsafe(64)[:86]


def graph_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def epoch(value: datetime | float | None, clock: Callable[[], float]) -> float:
    if value is None:
        return clock()
    return value.timestamp() if isinstance(value, datetime) else float(value)


# -- reading a Graph request --------------------------------------------------------------------------------


def select(node_type: str, node: Payload, fields: str, defaults: tuple[str, ...]) -> Payload:
    """Graph's ``fields=`` (nested ``from{id}`` selections are read as the whole field)."""
    wanted = [f.strip() for f in re.sub(r"\{[^{}]*\}", "", fields).split(",") if f.strip()]
    for name in wanted:
        if name not in node:
            raise bad_param(f"Tried accessing nonexisting field ({name}) on node type ({node_type})")
    chosen = wanted or [f for f in defaults if f in node]
    return {name: node[name] for name in [*chosen, *([] if "id" in chosen else ["id"])]}  # Graph always adds id


def params() -> Payload:
    """Query string, form fields and JSON body merged, as Graph reads them."""
    merged: Payload = dict(request.args)
    merged.update(request.form)
    body = request.get_json(silent=True) if request.is_json else None
    if isinstance(body, dict):
        merged.update(body)
    return merged


def token(merged: Payload) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() in ("bearer", "oauth") and value.strip():
        return value.strip()
    found = merged.get("access_token")
    return str(found) if found else None


def json_param(merged: Payload, name: str) -> Payload:
    value = merged.get(name)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise bad_param(f"param {name} must be a JSON object.") from None
    if not isinstance(value, dict) or not value:
        raise bad_param(f"param {name} must be non-empty.")
    return value


# -- the Send API (Messenger and Instagram) -----------------------------------------------------------------

STANDARD_WINDOW = 1 * DAY  # RESPONSE and UPDATE
HUMAN_AGENT_WINDOW = 7 * DAY
MESSAGING_TYPES = ("RESPONSE", "UPDATE", "MESSAGE_TAG")
MESSAGE_TAGS = ("CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE", "HUMAN_AGENT")


def messaging_type(merged: Payload) -> tuple[str, str | None]:
    """``messaging_type`` and ``tag`` of a Send API request, checked as Graph checks them."""
    kind = str(merged.get("messaging_type") or "RESPONSE")
    if kind not in MESSAGING_TYPES:
        raise bad_param(f'Param messaging_type must be one of {{{", ".join(MESSAGING_TYPES)}}} - got "{kind}"')
    if kind != "MESSAGE_TAG":
        return kind, None
    tag = merged.get("tag")
    if not tag:
        raise bad_param("Tag is required for MESSAGE_TAG messaging type.")
    if tag not in MESSAGE_TAGS:
        raise bad_param(f'Param tag must be one of {{{", ".join(MESSAGE_TAGS)}}} - got "{tag}"')
    return kind, str(tag)


def message_text(message: Payload, limit: int, measure: Callable[[str], int] = len) -> str | None:
    """The ``message.text`` of a Send API request, at most ``limit`` by ``measure``, and never empty: the Quick
    Replies reference's ``text`` is "Non-empty message text to send with the quick replies" (developers.facebook.com/
    docs/messenger-platform/reference/buttons/quick-replies); an empty one is refused with #100 (wording best
    effort, from the "param message must be non-empty" refusals reported against the Send API)."""
    text = message.get("text")
    if text is None and "attachment" not in message:
        raise bad_param("Message cannot be empty, must provide valid attachment or text")
    if text is not None and not str(text):
        raise bad_param("Param message[text] must be a non-empty UTF-8 encoded string")
    if text is not None and measure(str(text)) > limit:
        raise bad_param(f"Length of param message[text] must be less than or equal to {limit}")
    return None if text is None else str(text)


QUICK_REPLIES_MAX, QUICK_REPLY_TITLE, QUICK_REPLY_PAYLOAD = 13, 20, 1000


def quick_replies(message: Payload, *, truncate: bool = False) -> list[Payload]:
    """The ``message.quick_replies`` of a Send API request, checked as documented: at most 13, a ``text`` one
    with a non-empty title of at most 20 characters (Instagram truncates a longer one: ``truncate``) and a
    payload of at most 1,000 characters."""
    replies = message.get("quick_replies")
    if replies is None:
        return []
    if not isinstance(replies, list) or not replies or not all(isinstance(r, dict) for r in replies):
        raise bad_param("param message[quick_replies] must be a non-empty array")
    if len(replies) > QUICK_REPLIES_MAX:
        raise bad_param(f"param message[quick_replies] must have at most {QUICK_REPLIES_MAX} elements")
    return [_quick_reply(r, truncate) for r in replies]


def _quick_reply(reply: Payload, truncate: bool) -> Payload:
    if reply.get("content_type") not in ("text", "user_phone_number", "user_email"):
        raise bad_param("param message[quick_replies][content_type] must be one of {text, user_phone_number, ...}")
    if reply["content_type"] != "text":
        return dict(reply)
    title, payload = str(reply.get("title") or ""), str(reply.get("payload") or "")
    if not title or not payload:
        raise bad_param("param message[quick_replies][title] and [payload] are required for content_type text")
    if len(title) > QUICK_REPLY_TITLE and not truncate:
        raise bad_param(f"param message[quick_replies][title] must be at most {QUICK_REPLY_TITLE} characters")
    if len(payload) > QUICK_REPLY_PAYLOAD:
        raise bad_param(f"param message[quick_replies][payload] must be at most {QUICK_REPLY_PAYLOAD} characters")
    return {"content_type": "text", "title": title[:QUICK_REPLY_TITLE], "payload": payload}


def window(kind: str, tag: str | None) -> float | None:
    """How long after the customer's last message a send is allowed; None: no window (other tags)."""
    if kind in ("RESPONSE", "UPDATE"):
        return STANDARD_WINDOW
    return HUMAN_AGENT_WINDOW if tag == "HUMAN_AGENT" else None
