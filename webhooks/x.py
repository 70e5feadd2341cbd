"""``/webhooks/x``: mentions, replies and direct messages of the configured X accounts.

``GET ?crc_token=`` answers X's challenge-response check with the app's consumer secret. ``POST``
verifies ``x-twitter-webhooks-signature`` on the raw body, then accepts both payload families:

* the Account Activity API's: ``{"for_user_id", "tweet_create_events" | "direct_message_events" |
  "tweet_delete_events", "users"}`` (v1.1 post objects);
* the X Activity API's: ``{"data": {"event_type": "post.mention.create" | "post.reply.create" |
  "dm.received", "filter": {"user_id"}, "payload", "includes"}}`` (v2 post objects).

A public post belongs to the thread ``conversation:<conversation id>``. v1.1 posts carry no
conversation id: a reply joins the thread of the post it answers (found in the inbox, or among the
bridge's own sent posts), else the thread named after that post; a post that answers nothing starts
``conversation:<its id>``. A direct message belongs to ``dm:<sender id>``. The account's own posts and
messages (the bridge's echoes) and reposts are dropped. ``id_str`` is read, never the numeric ``id``,
and long posts are read in full (``extended_tweet.full_text``, ``note_tweet.text``).

When several X apps share the bridge, point each app's webhook at ``/webhooks/x/<channel name>``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from bridge.config import ChannelConfig
from bridge.events import Attachment, Author, EventKind, SocialEvent, platform_time, thread_key
from webhooks import signatures
from webhooks.common import ack, channels, json_body, state, storage, store_events

log = logging.getLogger(__name__)
bp = Blueprint("x", __name__)

MAX_CRC_TOKEN = 1024
HANDLED_XAA = ("post.mention.create", "post.reply.create", "dm.received")
Resolver = Callable[[str, str], str | None]  # (account id, post id) → thread id


@bp.get("/webhooks/x")
@bp.get("/webhooks/x/<name>")
def crc(name: str | None = None) -> Response:
    """X's challenge-response check: ``{"response_token": "sha256=" + base64 HMAC(secret, token)}``."""
    token = request.args.get("crc_token", "")
    if not token:
        abort(400, "crc_token is required")
    if len(token) > MAX_CRC_TOKEN:
        abort(400, "crc_token is too long")
    secrets = _consumer_secrets(_configured(name))
    if len(secrets) > 1:
        abort(400, "several X apps are configured: use /webhooks/x/<channel name> for each")
    return jsonify(signatures.x_crc_response(token, secrets[0]))


@bp.post("/webhooks/x")
@bp.post("/webhooks/x/<name>")
def receive(name: str | None = None) -> tuple[Response, int]:
    raw = request.get_data(cache=False)
    configured = _configured(name)
    if not signatures.verify_x(raw, request.headers.get("x-twitter-webhooks-signature"), _consumer_secrets(configured)):
        log.warning("x webhook: signature check failed")
        abort(401, "invalid signature")
    payload = json_body(raw)
    events = list(parse(payload, configured, resolve=_stored_thread))
    return ack(store_events(events), len(events))


def account_of(channel: ChannelConfig) -> str:
    """The X user id of a channel: ``account_id``, else the prefix of its OAuth 1.0a access token."""
    if channel.account_id:
        return channel.account_id
    user_id, dash, _ = (channel.secret("access_token") or "").partition("-")
    return user_id if dash and user_id.isdigit() else ""


def parse(payload: Any, configured: list[ChannelConfig], *, resolve: Resolver | None = None) -> Iterator[SocialEvent]:
    """Every customer event in an X webhook body for the channels we know; echoes and reposts dropped."""
    if not isinstance(payload, dict):
        abort(400, "expected a JSON object")
    by_account = {account_of(c): c for c in configured if account_of(c)}
    parser = _Parser(by_account, resolve or (lambda _account, _post: None))
    if "for_user_id" in payload:
        yield from parser.account_activity(payload)
    elif isinstance(payload.get("data"), dict | list):
        items = payload["data"] if isinstance(payload["data"], list) else [payload["data"]]
        for item in items:
            yield from parser.activity(item)
    else:
        abort(400, "expected an Account Activity (for_user_id) or X Activity (data) payload")


class _Parser:
    """Turns one payload into events; remembers the threads it assigned so a batch can refer to itself."""

    def __init__(self, by_account: dict[str, ChannelConfig], resolve: Resolver) -> None:
        self.by_account = by_account
        self.resolve = resolve
        self.seen: dict[str, str] = {}  # post id → thread id, within this payload

    def account_activity(self, payload: dict[str, Any]) -> Iterator[SocialEvent]:
        channel = self._channel(payload.get("for_user_id"))
        if channel is None:
            return
        users = _dict(payload, "users")
        for tweet in _objects(payload, "tweet_create_events"):
            yield from self._keep(self.v1_post(tweet, channel))
        for message in _objects(payload, "direct_message_events"):
            yield from self._keep(direct_message(message, users, channel))
        for deletion in _objects(payload, "tweet_delete_events"):
            yield from self._keep(self.deletion(deletion, channel))

    def activity(self, item: Any) -> Iterator[SocialEvent]:
        if not isinstance(item, dict):
            abort(400, "data must be an object")
        kind = item.get("event_type")
        if not isinstance(kind, str):
            abort(400, "missing event_type")
        if kind not in HANDLED_XAA:
            log.info("x webhook: event %r acknowledged and ignored", kind[:40])
            return
        channel = self._channel(_dict(item, "filter").get("user_id"))
        payload = item.get("payload")
        if channel is None:
            return
        if not isinstance(payload, dict):
            abort(400, "missing payload")
        if kind == "dm.received":
            users = _dict(payload, "users")
            for message in _objects(payload, "direct_message_events"):
                yield from self._keep(direct_message(message, users, channel))
            return
        includes = _dict(item, "includes")
        yield from self._keep(self.v2_post(payload, includes, channel))

    # -- public posts ----------------------------------------------------------------------------------

    def v1_post(self, tweet: dict[str, Any], channel: ChannelConfig) -> SocialEvent | None:
        post_id = _required(tweet, "id_str")
        user = _dict(tweet, "user")
        author_id = _required(user, "id_str", "user.id_str")
        if author_id == account_of(channel) or "retweeted_status" in tweet:
            return None  # our own post (an echo of a reply) or a repost: nothing to answer
        extended = _dict(tweet, "extended_tweet")
        text = _str(extended.get("full_text")) or _str(tweet.get("full_text")) or _str(tweet.get("text")) or ""
        source = extended or tweet
        parent = _str(tweet.get("in_reply_to_status_id_str"))
        handle = _str(user.get("screen_name"))
        return self._post_event(
            channel, post_id, Author(id=author_id, name=_str(user.get("name")), handle=handle,
                                     profile_url=f"https://x.com/{handle}" if handle else None),
            text=readable(text, source.get("entities")),
            thread_id=self._thread(channel, post_id, _str(tweet.get("conversation_id_str")), parent),
            created_at=_v1_time(tweet),
            attachments=_media(source.get("extended_entities") or tweet.get("extended_entities")),
            kind="comment",
            parent=parent,
        )  # fmt: skip

    def v2_post(self, post: dict[str, Any], includes: dict[str, Any], channel: ChannelConfig) -> SocialEvent | None:
        post_id, author_id = _required(post, "id"), _required(post, "author_id")
        refs = [r for r in post.get("referenced_tweets") or [] if isinstance(r, dict)]
        if author_id == account_of(channel) or any(r.get("type") == "retweeted" for r in refs):
            return None
        note = _dict(post, "note_tweet")
        text = _str(note.get("text")) or _str(post.get("text")) or ""
        parent = next((_str(r.get("id")) for r in refs if r.get("type") == "replied_to"), None)
        user = next((u for u in includes.get("users") or [] if isinstance(u, dict) and u.get("id") == author_id), {})
        handle = _str(user.get("username"))
        edits = post.get("edit_history_tweet_ids")
        edited = isinstance(edits, list) and len(edits) > 1 and str(edits[0]) != post_id
        return self._post_event(
            channel, post_id, Author(id=author_id, name=_str(user.get("name")), handle=handle,
                                     profile_url=f"https://x.com/{handle}" if handle else None),
            text=readable(text, (note or post).get("entities")),
            thread_id=self._thread(channel, post_id, _str(post.get("conversation_id")), parent),
            created_at=_iso_time(post.get("created_at")),
            attachments=(),
            kind="edit" if edited else "comment",
            parent=parent,
        )  # fmt: skip

    def deletion(self, deletion: dict[str, Any], channel: ChannelConfig) -> SocialEvent | None:
        status = _dict(deletion, "status")
        post_id, author_id = _required(status, "id", "status.id"), _required(status, "user_id", "status.user_id")
        thread_id = self.seen.get(post_id) or self.resolve(account_of(channel), post_id)
        if author_id == account_of(channel) or thread_id is None:
            return None  # a post we never turned into a ticket: nothing to note
        return SocialEvent(
            platform="x", channel=channel.name, account_id=account_of(channel),
            message_id=f"{post_id}#remove", thread_id=thread_id, kind="remove", author=Author(id=author_id),
            text="", created_at=platform_time(deletion.get("timestamp_ms")), reply_to=post_id,
        )  # fmt: skip

    def _post_event(
        self, channel: ChannelConfig, post_id: str, author: Author, *, text: str, thread_id: str,
        created_at: datetime, attachments: tuple[Attachment, ...], kind: EventKind, parent: str | None,
    ) -> SocialEvent:  # fmt: skip
        return SocialEvent(
            platform="x",
            channel=channel.name,
            account_id=account_of(channel),
            message_id=post_id,
            thread_id=thread_id,
            kind=kind,
            author=author,
            text=text,
            created_at=created_at,
            reply_to=post_id,
            url=f"https://x.com/{author.handle or 'i/web'}/status/{post_id}",
            context=f"a reply to post {parent}" if parent else "a post mentioning the account",
            attachments=attachments,
        )

    def _thread(self, channel: ChannelConfig, post_id: str, conversation: str | None, parent: str | None) -> str:
        if conversation:
            return f"conversation:{conversation}"
        if parent is None:
            return f"conversation:{post_id}"
        return self.seen.get(parent) or self.resolve(account_of(channel), parent) or f"conversation:{parent}"

    def _channel(self, user_id: Any) -> ChannelConfig | None:
        channel = self.by_account.get(str(user_id))
        if channel is None:
            log.info("x webhook: no X channel for account %s; ignored", str(user_id)[:40])
        return channel

    def _keep(self, event: SocialEvent | None) -> Iterator[SocialEvent]:
        if event is not None:
            self.seen[event.message_id] = event.thread_id
            yield event


def direct_message(message: dict[str, Any], users: dict[str, Any], channel: ChannelConfig) -> SocialEvent | None:
    """A ``message_create`` event (same shape in both APIs) from a customer; None for our own."""
    if message.get("type") != "message_create":
        return None
    create = _dict(message, "message_create")
    sender = _required(create, "sender_id", "message_create.sender_id")
    if sender == account_of(channel):
        return None  # a message the account sent: the echo of our reply
    data = _dict(create, "message_data")
    user = _dict(users, sender)
    user = _dict(user, "data") or user  # X Activity wraps users
    handle = _str(user.get("screen_name")) or _str(user.get("username"))
    media = _dict(data, "attachment").get("media")
    return SocialEvent(
        platform="x",
        channel=channel.name,
        account_id=account_of(channel),
        message_id=_required(message, "id"),
        thread_id=f"dm:{sender}",
        kind="message",
        author=Author(id=sender, name=_str(user.get("name")), handle=handle,
                      profile_url=f"https://x.com/{handle}" if handle else None),
        text=readable(_str(data.get("text")) or "", data.get("entities")),
        created_at=platform_time(message.get("created_timestamp")),
        reply_to=sender,
        attachments=_media({"media": [media]} if isinstance(media, dict) else None),
    )  # fmt: skip


def readable(text: str, entities: Any) -> str:
    """X's text as the customer typed it: ``&amp; &lt; &gt;`` unescaped, t.co links expanded."""
    urls = entities.get("urls") if isinstance(entities, dict) else None
    for url in urls if isinstance(urls, list) else []:
        short, expanded = (url.get("url"), url.get("expanded_url")) if isinstance(url, dict) else (None, None)
        if isinstance(short, str) and isinstance(expanded, str) and short:
            text = text.replace(short, expanded)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# -- helpers ---------------------------------------------------------------------------------------------


def _configured(name: str | None) -> list[ChannelConfig]:
    if name is None:
        found = channels("x")
        if not found:
            abort(404, "no X channel is configured")
        return found
    channel = state().config.channel(name)
    if channel is None or channel.platform != "x":
        abort(404, "unknown X channel")
    return [channel]


def _consumer_secrets(configured: list[ChannelConfig]) -> list[str]:
    return sorted({c.secret("consumer_secret") or "" for c in configured} - {""})


def _stored_thread(account_id: str, post_id: str) -> str | None:
    """The thread of a post we stored (a customer's) or sent (ours), from the store's unique keys."""
    store = state().store
    with storage(f"look up the thread of x post {post_id}"):
        rows = store.rows("inbox", platform="x", account_id=account_id, message_id=post_id)
        key = rows[0]["thread_key"] if rows else None
        if key is None:
            sent = store.rows("sent_messages", platform="x", message_id=post_id)
            delivery = store.rows("deliveries", id=sent[0]["delivery_id"]) if sent and sent[0]["delivery_id"] else []
            key = delivery[0]["thread_key"] if delivery else None
    prefix = thread_key("x", account_id, "")
    return key[len(prefix) :] if isinstance(key, str) and key.startswith(prefix) else None


def _dict(container: dict[str, Any], key: str) -> dict[str, Any]:
    value = container.get(key)
    return value if isinstance(value, dict) else {}


def _objects(container: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = container.get(key, [])
    if not isinstance(value, list):
        abort(400, f"{key} must be an array")
    return [v for v in value if isinstance(v, dict)]


def _media(entities: Any) -> tuple[Attachment, ...]:
    media = entities.get("media") if isinstance(entities, dict) else None
    found = []
    for item in media if isinstance(media, list) else []:
        url = item.get("media_url_https") or item.get("url") if isinstance(item, dict) else None
        if isinstance(url, str) and url.startswith("https://"):
            kind = {"photo": "image", "animated_gif": "video"}.get(
                str(item.get("type")), str(item.get("type") or "file")
            )
            found.append(Attachment(url=url, kind=kind))
    return tuple(found)


def _v1_time(tweet: dict[str, Any]) -> datetime:
    try:
        return datetime.strptime(str(tweet.get("created_at")), "%a %b %d %H:%M:%S %z %Y").astimezone(UTC)
    except ValueError:
        millis = _str(tweet.get("timestamp_ms"))
        return platform_time(millis)


def _iso_time(value: Any) -> datetime:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError):
        return datetime.now(UTC)


def _str(value: Any) -> str | None:
    return None if value is None or isinstance(value, dict | list | bool) else str(value)


def _required(container: dict[str, Any], key: str, label: str | None = None) -> str:
    found = _str(container.get(key))
    if not found:
        abort(400, f"missing {label or key}")
    return found
