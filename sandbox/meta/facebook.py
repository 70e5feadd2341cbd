"""Facebook pages and Messenger in the Graph API simulator.

* ``POST /{page-id}/messages``, ``POST /me/messages``: the Send API, to a PSID (``recipient.id``) or as
  a private reply to a comment (``recipient.comment_id``). It enforces the windows, measured from the
  last customer message this simulator delivered: ``RESPONSE``/``UPDATE`` within 24 h, ``MESSAGE_TAG``
  with ``HUMAN_AGENT`` within 7 days. It also enforces the 2,000-character text limit, and the documented
  limits of ``message.quick_replies`` (:func:`~sandbox.meta.graph.quick_replies`: 13, titles of 20 characters).
* ``POST /{post-or-comment-id}/comments``: the page comments. A reply to a reply is attached to the
  top-level comment, because Facebook keeps two levels.
* ``GET /{object-id}`` and ``GET /me`` (``fields=``) for pages, posts and comments.

The customer: :meth:`FacebookMixin.customer_comment`, :meth:`~FacebookMixin.customer_message`,
:meth:`~FacebookMixin.customer_postback` (a tapped button, also by a Chat Plugin guest known by ``user_ref``:
the Send API answers them with ``recipient.user_ref``), :meth:`~FacebookMixin.customer_unsend`,
:meth:`~FacebookMixin.customer_reaction`, :meth:`~FacebookMixin.customer_edit_comment`; the page:
:meth:`~FacebookMixin.hide_comment`, :meth:`~FacebookMixin.delete_comment`, :meth:`~FacebookMixin.handover`.
"""

from __future__ import annotations

import itertools
import random
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
    new_mid,
    no_matching_user,
    no_object,
    outside_window,
    params,
    permissions_error,
    person_unavailable,
    quick_replies,
    select,
    window,
)

MESSENGER_TEXT_LIMIT = 2000
COMMENT_TEXT_LIMIT = 8000

_DEFAULT_FIELDS = {
    "Page": ("id", "name"),
    "Post": ("created_time", "message", "id"),
    "Comment": ("created_time", "from", "message", "id"),
    "User": ("first_name", "last_name", "profile_pic", "id"),
}


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


@dataclass(frozen=True)
class CommentEvent(Readable):
    """What :meth:`MetaSimulator.customer_comment` did: the ids, the payload, the bridge's answer."""

    comment_id: str
    post_id: str
    parent_id: str
    payload: Payload
    response: requests.Response | None


@dataclass(frozen=True)
class MessageEvent(Readable):
    """What :meth:`MetaSimulator.customer_message` did."""

    mid: str
    psid: str
    timestamp: int  # milliseconds, as in the payload
    payload: Payload
    response: requests.Response | None


class FacebookMixin(MetaCore):
    """Pages, their posts and comments, Messenger, and the customer who writes to them."""

    sent_messages: list[Payload]
    comment_replies: list[Payload]
    _posts: dict[str, _Post]
    _comments: dict[str, _Comment]
    _last_inbound: dict[tuple[str, str], float]
    _blocked: set[tuple[str, str]]
    _profiles: dict[tuple[str, str], tuple[str, str]]
    _ids: itertools.count[int]

    def _init_facebook(self, pages: dict[str, str], page_names: dict[str, str]) -> None:
        self.sent_messages, self.comment_replies = [], []
        for pid, page_token in pages.items():
            self._pages[pid] = Account(pid, page_token, page_names.get(pid, f"Page {pid}"))
        self._posts, self._comments = {}, {}
        self._last_inbound, self._blocked, self._profiles = {}, set(), {}
        self._ids = itertools.count(random.randint(10**14, 5 * 10**14))

    # -- test controls ---------------------------------------------------------------------------------

    def block(self, page_id: str, psid: str) -> None:
        """The person blocked the page or left Messenger: sends answer code 551."""
        with self._lock:
            self._blocked.add((page_id, psid))

    def set_profile(self, page_id: str, psid: str, first_name: str, last_name: str = "") -> None:
        """What the User Profile API tells ``page_id`` about ``psid`` once that person has written to it
        (without one, the API refuses, as it does for apps without profile access)."""
        with self._lock:
            self._profiles[(page_id, psid)] = (first_name, last_name)

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
        when = epoch(created_time, self.clock)
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
        when = epoch(timestamp, self.clock)
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

    def customer_postback(
        self,
        page_id: str,
        *,
        title: str,
        payload: str,
        psid: str | None = None,
        user_ref: str | None = None,
        referral: Payload | None = None,
        timestamp: datetime | float | None = None,
        send: bool = True,
    ) -> MessageEvent:
        """A customer taps a button (Get Started, a menu item, a template's button): a ``postback`` event.
        A Customer Chat Plugin guest has no PSID: ``user_ref`` identifies them (and replies go to it)."""
        when = epoch(timestamp, self.clock)
        millis, mid = int(when * 1000), new_mid()
        postback: Payload = {"title": title, "payload": payload, "mid": mid}
        if referral is not None:
            postback["referral"] = referral
        sender = {"id": psid} if psid is not None else {"user_ref": user_ref}
        self._opened(page_id, psid or f"user_ref:{user_ref}", when)
        return self._messaging(page_id, sender, millis, mid, {"postback": postback}, send)

    def customer_unsend(self, page_id: str, *, psid: str, mid: str, send: bool = True) -> MessageEvent:
        """The customer removes (unsends) their message ``mid``: Meta sends ``message.is_deleted``."""
        millis = int(self.clock() * 1000)
        return self._messaging(page_id, {"id": psid}, millis, mid, {"message": {"mid": mid, "is_deleted": True}}, send)

    def customer_reaction(
        self, page_id: str, *, psid: str, mid: str, emoji: str = "\u2764", reaction: str = "love", send: bool = True
    ) -> MessageEvent:
        """The customer reacts to message ``mid`` (``emoji=""`` removes their reaction: ``unreact``)."""
        millis = int(self.clock() * 1000)
        body: Payload = {"mid": mid, "action": "react", "emoji": emoji, "reaction": reaction} if emoji else {
            "mid": mid, "action": "unreact"}  # fmt: skip
        return self._messaging(page_id, {"id": psid}, millis, mid, {"reaction": body}, send)

    def handover(self, page_id: str, *, psid: str, control: str = "pass_thread_control", send: bool = True,
                 metadata: str = "") -> MessageEvent:  # fmt: skip
        """Meta's handover protocol moves the conversation between the page's apps (``pass_thread_control``,
        ``take_thread_control``, ``request_thread_control``), as the Page Inbox does."""
        millis = int(self.clock() * 1000)
        apps = {"previous_owner_app_id": "263902037430900", "new_owner_app_id": self.app_id, "metadata": metadata}
        if control == "request_thread_control":
            apps = {"requested_owner_app_id": "263902037430900", "metadata": metadata}
        return self._messaging(page_id, {"id": psid}, millis, "", {control: apps}, send)

    def hide_comment(self, comment_id: str, *, hidden: bool = True, send: bool = True) -> requests.Response | None:
        """A page moderator hides (or shows again) a comment: a feed ``hide``/``unhide`` change whose sender is
        the page, with no ``created_time`` (as in restfb's recorded ``feed-comment-hide.json``)."""
        with self._lock:
            comment = self._comments[comment_id]
            page = self._pages[comment.page_id]
        value = {"parent_id": comment.parent_id, "sender_name": page.name, "comment_id": comment.id,
                 "sender_id": int(page.id) if page.id.isdigit() else page.id, "item": "comment",
                 "verb": "hide" if hidden else "unhide", "post_id": comment.post_id,
                 "message": comment.message}  # fmt: skip
        return self._post_if(send, self._feed_payload(comment.page_id, self.clock(), value))

    def customer_edit_comment(self, comment_id: str, text: str, *, send: bool = True) -> requests.Response | None:
        """The customer edits their comment: a feed ``edited`` change with the new text."""
        with self._lock:
            comment = self._comments[comment_id]
            comment.message = text
        value = {**self._add_change(comment), "verb": "edited"}
        return self._post_if(send, self._feed_payload(comment.page_id, self.clock(), value))

    # -- payloads --------------------------------------------------------------------------------------

    def _opened(self, page_id: str, who: str, when: float) -> None:
        """A customer's event opens the reply windows from ``when``."""
        with self._lock:
            key = (page_id, who)
            self._last_inbound[key] = max(when, self._last_inbound.get(key, when))

    def _messaging(
        self, page_id: str, sender: Payload, millis: int, mid: str, fields: Payload, send: bool
    ) -> MessageEvent:
        event = {"sender": sender, "recipient": {"id": page_id}, "timestamp": millis, **fields}
        payload = envelope("page", [{"id": page_id, "time": millis, "messaging": [event]}])
        who = str(sender.get("id") or sender.get("user_ref"))
        return MessageEvent(mid=mid, psid=who, timestamp=millis, payload=payload, response=self._post_if(send, payload))

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

    def _echo(self, page: Account, psid: str, mid: str, text: str | None) -> Payload:
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

    # -- Graph handlers (the routes dispatch here for page tokens) ---------------------------------------

    def _page_get(self, object_id: str, page: Account, merged: Payload) -> Response:
        node_type, node = self._node(page if object_id == "me" else object_id, page)
        return json_response(select(node_type, node, str(merged.get("fields") or ""), _DEFAULT_FIELDS[node_type]))

    def _page_send(self, object_id: str, page: Account, merged: Payload) -> Response:
        self._check_node(object_id, page)
        recipient, message = json_param(merged, "recipient"), json_param(merged, "message")
        kind, tag = messaging_type(merged)
        text, buttons = message_text(message, MESSENGER_TEXT_LIMIT), quick_replies(message)
        if "comment_id" in recipient:
            psid = self._private_reply(page, str(recipient["comment_id"]))
        elif "id" in recipient:
            psid = str(recipient["id"])
            self._check_window(page, psid, kind, tag)
        elif "user_ref" in recipient:  # a Customer Chat Plugin guest (or a checkbox plugin opt-in)
            psid = f"user_ref:{recipient['user_ref']}"
            self._check_window(page, psid, kind, tag)
        else:
            raise bad_param("param recipient must be non-empty.")
        mid = new_mid()
        with self._lock:
            self.sent_messages.append(
                {"page": page.id, "recipient": psid, "text": text, "messaging_type": kind, "tag": tag,
                 "message_id": mid, **({"quick_replies": buttons} if buttons else {})}
            )  # fmt: skip
        response = json_response({"recipient_id": psid, "message_id": mid})
        self._post_later(response, self._echo(page, psid, mid, text))
        return response

    def _page_comment(self, object_id: str) -> Response:
        merged = params()
        page = self._authenticate(merged)
        target = self._commentable(object_id, page)
        text = str(merged.get("message") or "")
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

    def _check_node(self, object_id: str, account: Account) -> None:
        """A send names the account itself (or ``me``); another known account is a permissions error."""
        if object_id in ("me", account.id):
            return
        known = any(a.id == object_id for a in self._all_accounts())
        raise permissions_error() if known else no_object(object_id, "post")

    def _node(self, subject: Account | str, page: Account) -> tuple[str, Payload]:
        with self._lock:
            if isinstance(subject, Account) or subject in self._pages:
                found = subject if isinstance(subject, Account) else self._pages[subject]
                return "Page", {"id": found.id, "name": found.name, "link": f"https://www.facebook.com/{found.id}"}
            post = self._posts.get(subject)
            if post is not None and post.page_id == page.id:
                return "Post", _post_fields(post, self._pages[post.page_id])
            comment = self._comments.get(subject)
            if comment is not None and comment.page_id == page.id and not comment.deleted:
                return "Comment", self._comment_fields(comment)
            profile = self._profiles.get((page.id, subject))
            if profile is not None and (page.id, subject) in self._last_inbound:  # only people who wrote to it
                first, last = profile
                picture = f"https://platform-lookaside.fbsbx.com/platform/profilepic/?psid={subject}"
                return "User", {"id": subject, "first_name": first, "last_name": last, "profile_pic": picture}
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

    def _commentable(self, object_id: str, page: Account) -> _Post | _Comment:
        with self._lock:
            target: _Post | _Comment | None = self._posts.get(object_id) or self._comments.get(object_id)
        if target is None or target.page_id != page.id or (isinstance(target, _Comment) and target.deleted):
            raise no_object(object_id, "post")
        return target

    def _check_window(self, page: Account, psid: str, kind: str, tag: str | None) -> None:
        with self._lock:
            last = self._last_inbound.get((page.id, psid))
            blocked = (page.id, psid) in self._blocked
        if last is None:
            raise no_matching_user()
        if blocked:
            raise person_unavailable()
        allowed = window(kind, tag)
        if allowed is not None and self.clock() - last > allowed:
            raise outside_window()

    def _private_reply(self, page: Account, comment_id: str) -> str:
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


def _permalink(post_id: str, comment_id: str) -> str:
    page_id, _, post = post_id.partition("_")
    return f"https://www.facebook.com/{page_id}/posts/{post}/?comment_id={comment_id.split('_')[-1]}"


def _post_fields(post: _Post, page: Account) -> Payload:
    return {
        "id": post.id,
        "message": post.message,
        "created_time": graph_time(post.created_time),
        "from": {"name": page.name, "id": page.id},
        "permalink_url": f"https://www.facebook.com/{post.id.replace('_', '/posts/')}",
    }
