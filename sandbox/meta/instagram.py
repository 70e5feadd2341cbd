"""Instagram professional accounts in the Graph API simulator.

* ``POST /{ig-comment-id}/replies`` (``message``): a reply to a comment on the account's media. A reply
  to a reply is attached to the top-level comment (Instagram keeps two levels); 2,200 characters.
* ``POST /{ig-user-id}/mentions`` (``media_id``, ``comment_id``, ``message``): a reply where another
  account's media or comment @mentioned this one.
* ``POST /me/messages`` or ``POST /{ig-user-id}/messages``: the Instagram send API, with Messenger's
  windows (24 h ``RESPONSE``, ``HUMAN_AGENT`` 7 days) and a 1,000-byte UTF-8 text limit.
* ``GET /me``, ``GET /{ig-user-id}``, ``GET /{ig-comment-id}``, ``GET /{ig-media-id}`` (``fields=``).

The customer: :meth:`InstagramMixin.instagram_comment`, :meth:`~InstagramMixin.instagram_mention`,
:meth:`~InstagramMixin.instagram_message`, :meth:`~InstagramMixin.instagram_reaction` and
:meth:`~InstagramMixin.instagram_seen`, posted in the shapes of ``fixtures/meta/instagram_*.json``.
With :attr:`echoes` on, the account's own replies and messages come back as webhooks, as on Meta.
"""

from __future__ import annotations

import itertools
import random
import secrets
from dataclasses import dataclass
from datetime import datetime

import requests
from flask import Response

from sandbox.base import json_response
from sandbox.meta.core import MetaCore
from sandbox.meta.graph import (
    PRIVATE_REPLY_WINDOW,
    Account,
    Payload,
    Readable,
    already_replied,
    bad_param,
    envelope,
    epoch,
    graph_time,
    json_param,
    message_text,
    messaging_type,
    no_matching_user,
    no_object,
    outside_window,
    params,
    permissions_error,
    quick_replies,
    select,
    window,
)

DM_TEXT_LIMIT = 1000  # bytes of UTF-8
COMMENT_TEXT_LIMIT = 2200
IG_NO_MATCHING_USER = 2534014
IG_OUTSIDE_WINDOW = 2534022

_DEFAULT_FIELDS = {
    "User": ("id",),
    "IGComment": ("timestamp", "text", "id"),
    "IGMedia": ("id",),
}


@dataclass
class _Media:
    id: str
    account_id: str  # the owner; a mention lives on someone else's media
    product_type: str
    caption: str
    created: float


@dataclass
class _IgComment:
    id: str
    media_id: str
    account_id: str
    parent_id: str | None  # None for a top-level comment
    from_id: str
    username: str
    text: str
    created: float
    deleted: bool = False
    private_replied: bool = False


@dataclass(frozen=True)
class InstagramCommentEvent(Readable):
    """What :meth:`InstagramMixin.instagram_comment` did."""

    comment_id: str
    media_id: str
    parent_id: str | None
    payload: Payload
    response: requests.Response | None


@dataclass(frozen=True)
class InstagramMentionEvent(Readable):
    """What :meth:`InstagramMixin.instagram_mention` did."""

    media_id: str
    comment_id: str | None
    payload: Payload
    response: requests.Response | None


@dataclass(frozen=True)
class InstagramMessageEvent(Readable):
    """What :meth:`InstagramMixin.instagram_message` (or a reaction, a seen receipt) did."""

    mid: str
    igsid: str
    timestamp: int  # milliseconds, as in the payload
    payload: Payload
    response: requests.Response | None


class InstagramMixin(MetaCore):
    """Instagram accounts, their media and comments, Direct messages, and the customer."""

    ig_sent_messages: list[Payload]
    ig_comment_replies: list[Payload]
    ig_mention_replies: list[Payload]
    _ig_media: dict[str, _Media]
    _ig_comments: dict[str, _IgComment]
    _ig_mentions: set[tuple[str, str, str | None]]
    _ig_last_inbound: dict[tuple[str, str], float]
    _ig_ids: itertools.count[int]

    def _init_instagram(self, accounts: dict[str, str], usernames: dict[str, str]) -> None:
        self.ig_sent_messages, self.ig_comment_replies, self.ig_mention_replies = [], [], []
        for ig_id, ig_token in accounts.items():
            self._ig_accounts[ig_id] = Account(ig_id, ig_token, usernames.get(ig_id, f"acct{ig_id[-4:]}"), "instagram")
        self._ig_media, self._ig_comments, self._ig_mentions, self._ig_last_inbound = {}, {}, set(), {}
        self._ig_ids = itertools.count(17_841_000_000_000_000 + random.randint(0, 10**12))

    # -- test controls ---------------------------------------------------------------------------------

    def add_media(
        self, ig_id: str, caption: str = "", *, product_type: str = "FEED", media_id: str | None = None
    ) -> str:
        """A post (``FEED``), reel (``REELS``) or ad (``AD``) of the account, for customers to comment on."""
        with self._lock:
            media = _Media(media_id or str(next(self._ig_ids)), ig_id, product_type, caption, self.clock())
            self._ig_media[media.id] = media
        return media.id

    def delete_instagram_comment(self, comment_id: str) -> None:
        """The customer deleted the comment (Instagram sends no webhook for that)."""
        with self._lock:
            for comment in self._ig_comments.values():
                if comment_id in (comment.id, comment.parent_id):
                    comment.deleted = True

    # -- the customer ----------------------------------------------------------------------------------

    def instagram_comment(
        self,
        ig_id: str,
        *,
        text: str,
        user_id: str,
        username: str,
        media_id: str | None = None,
        parent_id: str | None = None,
        created_time: datetime | float | None = None,
        send: bool = True,
    ) -> InstagramCommentEvent:
        """A customer comments on the account's media (a new post unless ``media_id``) or replies to
        comment ``parent_id``; the ``comments`` change is posted signed when ``send``."""
        when = epoch(created_time, self.clock)
        comment = self._add_ig_comment(ig_id, media_id, parent_id, user_id, username, text, when)
        payload = self._ig_comment_payload(ig_id, comment, when)
        return InstagramCommentEvent(
            comment_id=comment.id,
            media_id=comment.media_id,
            parent_id=comment.parent_id,
            payload=payload,
            response=self._post_if(send, payload),
        )

    def instagram_mention(self, ig_id: str, *, in_comment: bool = True, send: bool = True) -> InstagramMentionEvent:
        """Another account @mentions this one in a comment (or, ``in_comment=False``, a caption)."""
        with self._lock:
            media_id = str(next(self._ig_ids))
            comment_id = str(next(self._ig_ids)) if in_comment else None
            self._ig_mentions.add((ig_id, media_id, comment_id))
        value: Payload = {"media_id": media_id, **({"comment_id": comment_id} if comment_id else {})}
        entry = {"id": ig_id, "time": int(self.clock()), "changes": [{"field": "mentions", "value": value}]}
        payload = envelope("instagram", [entry])
        return InstagramMentionEvent(media_id, comment_id, payload, self._post_if(send, payload))

    def instagram_message(
        self,
        ig_id: str,
        *,
        igsid: str,
        text: str | None,
        timestamp: datetime | float | None = None,
        attachments: list[Payload] | None = None,
        quick_reply: str | None = None,
        send: bool = True,
    ) -> InstagramMessageEvent:
        """A customer writes to the account in Direct, which opens the reply windows from ``timestamp``;
        ``quick_reply``: the payload of the quick reply they tapped (``text`` is then its title)."""
        when = epoch(timestamp, self.clock)
        message: Payload = {"mid": new_ig_mid()}
        if text is not None:
            message["text"] = text
        if attachments:
            message["attachments"] = attachments
        if quick_reply is not None:
            message["quick_reply"] = {"payload": quick_reply}
        with self._lock:
            key = (ig_id, igsid)
            self._ig_last_inbound[key] = max(when, self._ig_last_inbound.get(key, when))
        return self._ig_messaging(ig_id, igsid, when, {"message": message}, send)

    def instagram_reaction(self, ig_id: str, *, igsid: str, mid: str, send: bool = True) -> InstagramMessageEvent:
        """The customer reacts with a heart to message ``mid``."""
        reaction = {"mid": mid, "action": "react", "reaction": "love", "emoji": "\u2764\ufe0f"}
        return self._ig_messaging(ig_id, igsid, self.clock(), {"reaction": reaction}, send)

    def instagram_seen(self, ig_id: str, *, igsid: str, mid: str, send: bool = True) -> InstagramMessageEvent:
        """The customer has seen message ``mid``."""
        return self._ig_messaging(ig_id, igsid, self.clock(), {"read": {"mid": mid}}, send)

    # -- payloads --------------------------------------------------------------------------------------

    def _ig_messaging(self, ig_id: str, igsid: str, when: float, body: Payload, send: bool) -> InstagramMessageEvent:
        millis = int(when * 1000)
        event = {"sender": {"id": igsid}, "recipient": {"id": ig_id}, "timestamp": millis, **body}
        payload = envelope("instagram", [{"id": ig_id, "time": millis, "messaging": [event]}])
        mid = str((body.get("message") or body.get("reaction") or body.get("read") or {}).get("mid", ""))
        return InstagramMessageEvent(mid, igsid, millis, payload, self._post_if(send, payload))

    def _ig_comment_payload(self, ig_id: str, comment: _IgComment, when: float) -> Payload:
        media = self._ig_media[comment.media_id]
        value: Payload = {"text": comment.text, "from": {"id": comment.from_id, "username": comment.username}}
        if comment.parent_id is not None:
            value["parent_id"] = comment.parent_id
        value["media"] = {"id": media.id, "media_product_type": media.product_type}
        value["id"] = comment.id
        return envelope(
            "instagram", [{"changes": [{"field": "comments", "value": value}], "id": ig_id, "time": int(when)}]
        )

    def _ig_echo(self, account: Account, igsid: str, mid: str, text: str | None) -> Payload:
        millis = int(self.clock() * 1000)
        message: Payload = {"mid": mid, "is_echo": True, **({"text": text} if text is not None else {})}
        event = {"sender": {"id": account.id}, "recipient": {"id": igsid}, "timestamp": millis, "message": message}
        return envelope("instagram", [{"id": account.id, "time": millis, "messaging": [event]}])

    def _add_ig_comment(
        self,
        ig_id: str,
        media_id: str | None,
        parent_id: str | None,
        from_id: str,
        username: str,
        text: str,
        when: float,
    ) -> _IgComment:
        if parent_id is not None:
            parent = self._ig_comments[parent_id]
            media_id, parent_id = parent.media_id, parent.parent_id or parent.id  # two levels only
        if media_id is None or media_id not in self._ig_media:
            media_id = self.add_media(ig_id, media_id=media_id)
        with self._lock:
            comment = _IgComment(
                str(next(self._ig_ids)), str(media_id), ig_id, parent_id, from_id, username, text, when
            )
            self._ig_comments[comment.id] = comment
        return comment

    # -- Graph handlers (the routes dispatch here for Instagram tokens) ---------------------------------

    def _ig_get(self, object_id: str, account: Account, merged: Payload) -> Response:
        node_type, node = self._ig_node(account.id if object_id == "me" else object_id, account)
        fields = str(merged.get("fields") or "")
        return json_response(select(node_type, node, fields, _DEFAULT_FIELDS[node_type]))

    def _ig_send(self, object_id: str, account: Account, merged: Payload) -> Response:
        if object_id not in ("me", account.id):
            raise permissions_error() if object_id in self._ig_accounts else no_object(object_id, "post")
        recipient, message = json_param(merged, "recipient"), json_param(merged, "message")
        kind, tag = messaging_type(merged)
        text = message_text(message, DM_TEXT_LIMIT, lambda s: len(s.encode("utf-8")))
        buttons = quick_replies(message, truncate=True)  # Instagram truncates a title past 20 characters
        if "comment_id" in recipient:  # a private reply: one message to the commenter, within 7 days
            igsid = self._ig_private_reply(account, str(recipient["comment_id"]))
        else:
            igsid = str(recipient.get("id") or "")
            self._ig_check_window(account, igsid, kind, tag)
        mid = new_ig_mid()
        with self._lock:
            self.ig_sent_messages.append(
                {"account": account.id, "recipient": igsid, "text": text, "messaging_type": kind, "tag": tag,
                 "message_id": mid, **({"quick_replies": buttons} if buttons else {})}
            )  # fmt: skip
        response = json_response({"recipient_id": igsid, "message_id": mid})
        self._post_later(response, self._ig_echo(account, igsid, mid, text))
        return response

    def _ig_replies(self, object_id: str) -> Response:
        account = self._authenticate(params())
        with self._lock:
            target = self._ig_comments.get(object_id)
        if target is None or target.account_id != account.id or target.deleted:
            raise no_object(object_id, "post")
        text = self._ig_comment_text(params())
        comment = self._add_ig_comment(account.id, None, target.id, account.id, account.name, text, self.clock())
        with self._lock:
            self.ig_comment_replies.append({"parent_id": object_id, "message": text, "id": comment.id})
        response = json_response({"id": comment.id})
        self._post_later(response, self._ig_comment_payload(account.id, comment, comment.created))
        return response

    def _ig_mention_reply(self, object_id: str) -> Response:
        merged = params()
        account = self._authenticate(merged)
        if object_id not in (account.id, "me") or account.kind != "instagram":
            raise no_object(object_id, "post")
        media_id = str(merged.get("media_id") or "")
        if not media_id:
            raise bad_param("The parameter media_id is required.")
        comment_id = str(merged["comment_id"]) if merged.get("comment_id") else None
        if (account.id, media_id, comment_id) not in self._ig_mentions:
            raise no_object(comment_id or media_id, "post")
        text = self._ig_comment_text(merged)
        new_id = str(next(self._ig_ids))
        with self._lock:
            self.ig_mention_replies.append(
                {"media_id": media_id, "comment_id": comment_id, "message": text, "id": new_id}
            )
        return json_response({"id": new_id})

    # -- Graph checks ----------------------------------------------------------------------------------

    @staticmethod
    def _ig_comment_text(merged: Payload) -> str:
        text = str(merged.get("message") or "")
        if not text:
            raise bad_param("The parameter message is required.")
        if len(text) > COMMENT_TEXT_LIMIT:
            raise bad_param(f"Param message must be at most {COMMENT_TEXT_LIMIT} characters long")
        return text

    def _ig_private_reply(self, account: Account, comment_id: str) -> str:
        with self._lock:
            comment = self._ig_comments.get(comment_id)
            if comment is None or comment.account_id != account.id or comment.deleted:
                raise no_object(comment_id, "post")
            if comment.private_replied:
                raise already_replied()
            if self.clock() - comment.created > PRIVATE_REPLY_WINDOW:
                raise outside_window(IG_OUTSIDE_WINDOW)
            comment.private_replied = True
            return comment.from_id

    def _ig_check_window(self, account: Account, igsid: str, kind: str, tag: str | None) -> None:
        with self._lock:
            last = self._ig_last_inbound.get((account.id, igsid))
        if last is None:
            raise no_matching_user(IG_NO_MATCHING_USER)
        allowed = window(kind, tag)
        if allowed is not None and self.clock() - last > allowed:
            raise outside_window(IG_OUTSIDE_WINDOW)

    def _ig_node(self, subject: str, account: Account) -> tuple[str, Payload]:
        with self._lock:
            if subject == account.id:
                return "User", {"id": account.id, "username": account.name, "name": account.name}
            comment = self._ig_comments.get(subject)
            if comment is not None and comment.account_id == account.id and not comment.deleted:
                return "IGComment", _comment_fields(comment)
            media = self._ig_media.get(subject)
            if media is not None and media.account_id == account.id:
                return "IGMedia", _media_fields(media)
        raise no_object(subject, "get")


def new_ig_mid() -> str:
    """An Instagram message id: base64 text starting ``aWdf`` (``ig_``), unlike Messenger's ``m_``."""
    return "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOj" + secrets.token_urlsafe(48)


def _comment_fields(comment: _IgComment) -> Payload:
    fields: Payload = {
        "id": comment.id,
        "text": comment.text,
        "timestamp": graph_time(comment.created),
        "username": comment.username,
        "from": {"id": comment.from_id, "username": comment.username},
        "media": {"id": comment.media_id},
        "hidden": False,
        "like_count": 0,
    }
    if comment.parent_id is not None:
        fields["parent_id"] = comment.parent_id
    return fields


def _media_fields(media: _Media) -> Payload:
    return {
        "id": media.id,
        "caption": media.caption,
        "media_product_type": media.product_type,
        "timestamp": graph_time(media.created),
        "permalink": f"https://www.instagram.com/p/{media.id[-11:]}/",
    }
