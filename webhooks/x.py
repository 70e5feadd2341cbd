"""``/webhooks/x``: mentions, replies, quotes and direct messages of the configured X accounts.

``GET ?crc_token=`` answers X's challenge-response check with the app's consumer secret. ``POST``
verifies ``x-twitter-webhooks-signature`` on the raw body, then accepts both payload families:

* the Account Activity API's: ``{"for_user_id", "tweet_create_events" | "direct_message_events" |
  "tweet_delete_events" | "favorite_events" | ..., "users"}`` (v1.1 post objects), and ``user_event``
  (a revocation, which carries no ``for_user_id``);
* the X Activity API's: ``{"data": {"event_type": "post.mention.create" | "post.reply.create" |
  "post.quote.create" | "dm.received" | ..., "filter": {"user_id"}, "payload", "includes"}}`` (v2 posts).

A public post belongs to the thread ``conversation:<conversation id>``. v1.1 posts carry no
conversation id: a reply joins the thread of the post it answers (found in the inbox, or among the
bridge's own sent posts), else the thread named after that post; a post that answers nothing starts
``conversation:<its id>``. A quote post is the customer speaking: its own thread, answered in reply to
it, the quoted post linked (``[quoted post] <link>``). A direct message belongs to ``dm:<sender id>``.
``id_str`` is read, never the numeric ``id``; long posts are read in full (``extended_tweet.full_text``,
``note_tweet.text``); a video or GIF is linked to its best mp4, not its thumbnail.

The account's own posts and messages (the bridge's echoes) are recorded as ignored, and so are the posts of
the account that answers for it or that it answers for (``reply_from``: a support handle's reply that
mentions the main handle comes back on the main channel too). So is everything else that holds no
customer's words, each with a reason (``socialdesk status`` counts them): reposts, a
quote without words of its own, likes, follows, blocks, mutes, typing indicators, read receipts, the
account's own activity, deletions of posts no thread holds, events of an account no channel serves, and
a revocation of the app's access, which is also logged as a warning and kept for ``socialdesk doctor``
(:mod:`bridge.revocations`): the channel can no longer reply.

When several X apps share the bridge, point each app's webhook at ``/webhooks/x/<channel name>``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from bridge import revocations
from bridge.config import ChannelConfig
from bridge.events import Attachment, Author, EventKind, Ignored, SocialEvent, platform_time, thread_key
from webhooks import signatures
from webhooks.common import ack, channels, json_body, json_type, state, storage, store_events

log = logging.getLogger(__name__)
bp = Blueprint("x", __name__)

MAX_CRC_TOKEN = 1024
POST_EVENTS = ("post.mention.create", "post.reply.create", "post.quote.create")
Resolver = Callable[[str, str], str | None]  # (account id, post id) → thread id
Event = SocialEvent | Ignored
REVOKED = "x app access revoked"
#: The account's own posts and messages (the echoes of the bridge's replies), recorded as ignored under
#: ``own:<id>``: a customer's post or message is never stored under that key, and the post's own id stays free
#: for :func:`_stored_thread`, which finds the thread a reply to it joins among the bridge's sent posts.
OWN_POST, OWN_MESSAGE = "x own post", "x own direct message"
NO_CHANNEL = "x event for an account with no channel"

#: Account Activity arrays that hold no customer's words: the reason each item is recorded as ignored.
AAA_IGNORED: dict[str, Callable[[dict[str, Any]], str]] = {
    "favorite_events": lambda _item: "x like",
    "follow_events": lambda item: "x unfollow" if item.get("type") == "unfollow" else "x follow",
    "block_events": lambda item: "x unblock" if item.get("type") == "unblock" else "x block",
    "mute_events": lambda item: "x unmute" if item.get("type") == "unmute" else "x mute",
    "direct_message_indicate_typing_events": lambda _item: "x typing indicator",
    "direct_message_mark_read_events": lambda _item: "x direct message read",
}
#: Account Activity arrays turned into events (the others: :data:`AAA_IGNORED`, or of a kind we do not know).
AAA_HANDLED = frozenset({"tweet_create_events", "direct_message_events", "tweet_delete_events"})
AAA_OTHER = "x account activity event of another kind"
#: X Activity event types that hold no customer's words (the account's own activity, likes, follows...).
XAA_IGNORED = {
    "post.repost.create": "x repost",
    "like.create": "x like",
    "follow.follow": "x follow",
    "follow.unfollow": "x unfollow",
    "dm.read": "x direct message read",
    "dm.indicate_typing": "x typing indicator",
    "post.create": OWN_POST,
    "post.delete": "x own post deleted",
    "dm.sent": OWN_MESSAGE,
    # XChat messages are end-to-end encrypted: a customer's words the bridge cannot read
    "chat.received": "x encrypted chat message (unreadable)",
    "chat.sent": "x own encrypted chat message",
}
XAA_FAMILIES = {
    "profile.update.": "x profile update",
    "mute.": "x mute",
    "block.": "x block",
    "spaces.": "x spaces event",
    "broadcast.": "x broadcast event",
    "chat.": "x encrypted chat event",
}


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
    events = list(parse(payload, configured, resolve=_stored_thread, everyone=channels("x")))
    stored = store_events(events)
    _remember_revocations(events, configured)
    return ack(stored, len(events))


def account_of(channel: ChannelConfig) -> str:
    """The X user id of a channel: ``account_id``, else the prefix of its OAuth 1.0a access token."""
    if channel.account_id:
        return channel.account_id
    user_id, dash, _ = (channel.secret("access_token") or "").partition("-")
    return user_id if dash and user_id.isdigit() else ""


def parse(
    payload: Any, configured: list[ChannelConfig], *, resolve: Resolver | None = None,
    everyone: list[ChannelConfig] | None = None,
) -> Iterator[Event]:  # fmt: skip
    """Every customer event in an X webhook body for the channels we know, and what is recorded as ignored
    (likes, follows, reposts, revocations...), the account's own posts and messages (echoes) among them, and
    those of the accounts linked to it by ``reply_from`` among ``everyone`` (all X channels; default
    ``configured``)."""
    if not isinstance(payload, dict):
        abort(400, "expected a JSON object")
    by_account = {account_of(c): c for c in configured if account_of(c)}
    everyone = everyone or configured
    ours = {c.name: linked_accounts(c, everyone) for c in configured}
    parser = _Parser(by_account, resolve or (lambda _account, _post: None), ours)
    parser.answered = {c.name: [m for m in everyone if m.get("reply_from") == c.name] for c in configured}
    if "for_user_id" in payload:
        yield from parser.account_activity(payload)
    elif isinstance(payload.get("user_event"), dict):  # a revocation carries no for_user_id
        yield from parser.revocation(_dict(payload["user_event"], "revoke"))
    elif isinstance(payload.get("replay_job_status"), dict):
        yield _ignored(None, f"replay:{_fingerprint(payload)}", "x replay job status", datetime.now(UTC))
    elif isinstance(payload.get("data"), dict | list):
        items = payload["data"] if isinstance(payload["data"], list) else [payload["data"]]
        for item in items:
            yield from parser.guarded(None, item, lambda i: list(parser.activity(i)))
    else:
        abort(400, "expected an Account Activity (for_user_id) or X Activity (data) payload")


class Unusable(Exception):
    """An event missing something it needs: recorded as ignored with this reason, and the other events of
    its POST are kept (a 400 would refuse them all, and X would send them again and again)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Parser:
    """Turns one payload into events; remembers the threads it assigned so a batch can refer to itself."""

    def __init__(self, by_account: dict[str, ChannelConfig], resolve: Resolver, ours: dict[str, set[str]]) -> None:
        self.by_account = by_account
        self.resolve = resolve
        self.ours = ours  # channel name → the X user ids whose posts are the bridge's own
        self.answered: dict[str, list[ChannelConfig]] = {}  # channel name → the channels answering from it
        self.seen: dict[str, str] = {}  # post id → thread id, within this payload

    def account_activity(self, payload: dict[str, Any]) -> Iterator[Event]:
        channel = self._channel(payload.get("for_user_id"))
        if channel is None:
            yield _no_channel(payload.get("for_user_id"), payload)
            return
        users = _dict(payload, "users")
        for tweet in _items(payload, "tweet_create_events"):
            yield from self.guarded(channel, tweet, lambda t: [self.v1_post(_item(t), channel)])
        for message in _items(payload, "direct_message_events"):
            yield from self.guarded(channel, message, lambda m: [direct_message(_item(m), users, channel)])
        for deletion in _items(payload, "tweet_delete_events"):
            yield from self.guarded(channel, deletion, lambda d: [self.deletion(_item(d), channel)])
        for key, reason in AAA_IGNORED.items():
            for item in _objects(payload, key):
                yield _ignored(channel, f"{key}:{_fingerprint(item)}", reason(item), _aaa_time(item))
        yield from _other_aaa_events(payload, channel)

    def revocation(self, revoke: dict[str, Any]) -> Iterator[Event]:
        """The user took the app's access away: the channel can no longer reply (X deletes the subscription)."""
        user_id, when = _str(_dict(revoke, "source").get("user_id") or revoke.get("user_id")), revoke.get("date_time")
        if not user_id:
            abort(400, "missing the id of the user who revoked the app")
        channel = self._channel(user_id)
        at = _iso_time(when)
        if channel is not None:
            log.warning("x channel %s: user %s revoked the app's access at %s; the channel can no longer reply",
                        channel.name, user_id, at.isoformat())  # fmt: skip
        stamp = _str(when) or _fingerprint(revoke)  # X's own time: a redelivery is the same event
        yield _ignored(channel, f"revoke:{user_id}:{stamp[:64]}", REVOKED, at, account=user_id)

    def activity(self, item: Any) -> Iterator[Event]:
        if not isinstance(item, dict):
            raise Unusable("not an object")
        kind = item.get("event_type")
        if not isinstance(kind, str):
            raise Unusable("missing event_type")
        payload = item.get("payload")
        if kind == "oauth.revoke":
            yield from self.revocation(payload if isinstance(payload, dict) else {})
            return
        channel = self._channel(_dict(item, "filter").get("user_id"))
        if channel is None:
            yield _no_channel(_dict(item, "filter").get("user_id"), item)
            return
        if not isinstance(payload, dict):
            raise Unusable("missing payload")
        yield from self._activity(kind, item, payload, channel)

    def _activity(
        self, kind: str, item: dict[str, Any], payload: dict[str, Any], channel: ChannelConfig
    ) -> Iterator[Event]:
        if kind == "dm.received":
            users = _dict(payload, "users")
            for message in _items(payload, "direct_message_events"):
                yield from self.guarded(channel, message, lambda m: [direct_message(_item(m), users, channel)])
        elif kind in POST_EVENTS:
            yield from self._keep(self.v2_post(payload, _dict(item, "includes"), channel))
        else:
            reason = _xaa_reason(kind)
            uuid = (_str(item.get("event_uuid")) or _fingerprint(item))[:100]
            yield _ignored(channel, f"{kind[:60]}:{uuid}", reason, _xaa_time(payload))

    # -- public posts ----------------------------------------------------------------------------------

    def v1_post(self, tweet: dict[str, Any], channel: ChannelConfig) -> Event:
        post_id = _required(tweet, "id_str")
        user = _dict(tweet, "user")
        author_id = _required(user, "id_str", "user.id_str")
        if author_id in self.ours[channel.name]:  # our own post: an echo of a reply
            return _ignored(channel, f"own:{post_id}", OWN_POST, _v1_time(tweet))
        if "retweeted_status" in tweet:  # a repost says nothing of its own
            quoted = _dict(tweet, "retweeted_status").get("is_quote_status") is True
            return _ignored(channel, post_id, "x repost of a quote" if quoted else "x repost", _v1_time(tweet))
        extended = _object(tweet, "extended_tweet")
        text = _words(extended, "full_text", "extended_tweet.") or _words(tweet, "full_text") or _words(tweet, "text")
        source = extended or tweet
        parent = _str(tweet.get("in_reply_to_status_id_str"))
        handle = _str(user.get("screen_name"))
        quote = _v1_quote(tweet)
        short = _str(_dict(tweet, "quoted_status_permalink").get("url"))  # since 2018, where no entity names it
        text = text.replace(short, "").strip() if quote and short else text
        home, thread_id = self._home(channel, post_id, _str(tweet.get("conversation_id_str")), parent)
        return self._post_event(
            home, post_id, Author(id=author_id, name=_str(user.get("name")), handle=handle,
                                     profile_url=f"https://x.com/{handle}" if handle else None),
            text=readable(text, source.get("entities")),
            thread_id=thread_id,
            created_at=_v1_time(tweet),
            attachments=_media(source.get("extended_entities") or tweet.get("extended_entities")),
            kind="comment",
            parent=parent,
            quote=quote,
        )  # fmt: skip

    def v2_post(self, post: dict[str, Any], includes: dict[str, Any], channel: ChannelConfig) -> Event:
        post_id, author_id = _required(post, "id"), _required(post, "author_id")
        refs = [r for r in post.get("referenced_tweets") or [] if isinstance(r, dict)]
        if author_id in self.ours[channel.name]:
            return _ignored(channel, f"own:{post_id}", OWN_POST, _iso_time(post.get("created_at")))
        if any(r.get("type") == "retweeted" for r in refs):
            return _ignored(channel, post_id, "x repost", _iso_time(post.get("created_at")))
        note = _object(post, "note_tweet")
        text = _words(note, "text", "note_tweet.") or _words(post, "text")
        parent = next((_str(r.get("id")) for r in refs if r.get("type") == "replied_to"), None)
        quoted = next((_str(r.get("id")) for r in refs if r.get("type") == "quoted"), None)
        user = next((u for u in includes.get("users") or [] if isinstance(u, dict) and u.get("id") == author_id), {})
        handle = _str(user.get("username"))
        edits = post.get("edit_history_tweet_ids")
        edited = isinstance(edits, list) and len(edits) > 1 and str(edits[0]) != post_id
        home, thread_id = self._home(channel, post_id, _str(post.get("conversation_id")), parent)
        return self._post_event(
            home, post_id, Author(id=author_id, name=_str(user.get("name")), handle=handle,
                                     profile_url=f"https://x.com/{handle}" if handle else None),
            text=readable(text, (note or post).get("entities")),
            thread_id=thread_id,
            created_at=_iso_time(post.get("created_at")),
            attachments=_v2_media(post, includes),
            kind="edit" if edited else "comment",
            parent=parent,
            quote=_permalink(quoted, None) if quoted else None,
        )  # fmt: skip

    def deletion(self, deletion: dict[str, Any], channel: ChannelConfig) -> Event:
        status = _dict(deletion, "status")
        post_id, author_id = _required(status, "id", "status.id"), _required(status, "user_id", "status.user_id")
        at = platform_time(deletion.get("timestamp_ms"))
        if author_id in self.ours[channel.name]:
            return _ignored(channel, f"{post_id}#remove", "x own post deleted", at)
        thread_id = self.seen.get(post_id) or self.resolve(account_of(channel), post_id)
        if thread_id is None:  # a post we never turned into a ticket: nothing to note
            return _ignored(channel, f"{post_id}#remove", "x deleted post of no known thread", at)
        return SocialEvent(
            platform="x", channel=channel.name, account_id=account_of(channel),
            message_id=f"{post_id}#remove", thread_id=thread_id, kind="remove", author=Author(id=author_id),
            text="", created_at=at, reply_to=post_id,
        )  # fmt: skip

    def guarded(
        self, channel: ChannelConfig | None, item: Any, parse: Callable[[Any], Iterable[Event]]
    ) -> Iterator[Event]:
        """``parse(item)``'s events for one item of a POST; an :class:`Unusable` item is recorded as ignored
        instead, under an id made from its content (a redelivery is recognised)."""
        try:
            found = list(parse(item))
        except Unusable as e:
            found = [_ignored(channel, f"unusable:{_fingerprint(item)}", f"x unusable event: {e.reason}",
                              datetime.now(UTC))]  # fmt: skip
        for event in found:
            yield from self._keep(event)

    def _post_event(
        self, channel: ChannelConfig, post_id: str, author: Author, *, text: str, thread_id: str,
        created_at: datetime, attachments: tuple[Attachment, ...], kind: EventKind, parent: str | None,
        quote: str | None,
    ) -> Event:  # fmt: skip
        if quote is not None:  # the customer's words are what is left once the link to the quoted post goes
            text = _without_link(text, quote)
            attachments = (*attachments, Attachment(url=quote, kind="quoted post"))
            if not text and len(attachments) == 1:
                return _ignored(channel, post_id, "x quote without text", created_at)
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
            context=_context(parent, quote),
            attachments=attachments,
        )

    def _home(
        self, channel: ChannelConfig, post_id: str, conversation: str | None, parent: str | None
    ) -> tuple[ChannelConfig, str]:
        """The channel and thread of a post. On a support account's channel, a post in a conversation that a
        channel answering from it (``reply_from``) holds joins that thread: the customer answering the support
        account's reply is not a new ticket."""
        for main in self.answered.get(channel.name, []):
            refs = [ref for ref in (parent, conversation) if ref]
            found = next((t for ref in refs if (t := self.resolve(account_of(main), ref))), None)
            if found is not None:
                return main, found
        return channel, self._thread(channel, post_id, conversation, parent)

    def _thread(self, channel: ChannelConfig, post_id: str, conversation: str | None, parent: str | None) -> str:
        if conversation:
            return f"conversation:{conversation}"
        if parent is None:
            return f"conversation:{post_id}"
        return self.seen.get(parent) or self.resolve(account_of(channel), parent) or f"conversation:{parent}"

    def _channel(self, user_id: Any) -> ChannelConfig | None:
        return self.by_account.get(str(user_id))

    def _keep(self, event: Event) -> Iterator[Event]:
        if isinstance(event, SocialEvent):
            self.seen[event.message_id] = event.thread_id
        yield event


def direct_message(message: dict[str, Any], users: dict[str, Any], channel: ChannelConfig) -> Event:
    """A ``message_create`` event (same shape in both APIs) from a customer; our own recorded as ignored."""
    if message.get("type") != "message_create":
        at = platform_time(message.get("created_timestamp"))
        return _ignored(channel, f"dm:{_fingerprint(message)}", "x direct message event of another type", at)
    create = _dict(message, "message_create")
    sender = _required(create, "sender_id", "message_create.sender_id")
    if sender == account_of(channel):  # a message the account sent: the echo of our reply
        at = platform_time(message.get("created_timestamp"))
        return _ignored(channel, f"own:{_required(message, 'id')}", OWN_MESSAGE, at)
    data = _object(create, "message_data", "message_create.")
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
        text=readable(_words(data, "text", "message_create.message_data."), data.get("entities")),
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


def linked_accounts(channel: ChannelConfig, everyone: list[ChannelConfig]) -> set[str]:
    """The X user ids that post as the bridge on ``channel``: its own, the account of the channel it answers
    from (``reply_from``) and of the channels that answer from it."""
    linked = [c for c in everyone if c.name == channel.get("reply_from") or c.get("reply_from") == channel.name]
    return {account_of(c) for c in [channel, *linked]} - {""}


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


def _items(container: dict[str, Any], key: str) -> list[Any]:
    """The items of the array ``container[key]``, each for :meth:`_Parser.guarded` (:func:`_item`)."""
    value = container.get(key, [])
    if not isinstance(value, list):
        abort(400, f"{key} must be an array")
    return value


def _item(value: Any) -> dict[str, Any]:
    """An item of an array of events: one that is no object is recorded as ignored, not skipped without a trace."""
    if not isinstance(value, dict):
        raise Unusable(f"not an object but {json_type(value)}")
    return value


def _objects(container: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [v for v in _items(container, key) if isinstance(v, dict)]


def _media(entities: Any) -> tuple[Attachment, ...]:
    media = entities.get("media") if isinstance(entities, dict) else None
    found = []
    for item in media if isinstance(media, list) else []:
        url = _media_url(item) if isinstance(item, dict) else None
        if url is not None:
            kind = {"photo": "image", "animated_gif": "video"}.get(
                str(item.get("type")), str(item.get("type") or "file")
            )
            found.append(Attachment(url=url, kind=kind))
    return tuple(found)


def _v2_media(post: dict[str, Any], includes: dict[str, Any]) -> tuple[Attachment, ...]:
    """A v2 post's media: its ``attachments.media_keys``, found in ``includes.media``."""
    keys = _dict(post, "attachments").get("media_keys")
    media = includes.get("media")
    if not isinstance(keys, list) or not isinstance(media, list):
        return ()
    return _media({"media": [m for m in media if isinstance(m, dict) and m.get("media_key") in keys]})


def _media_url(item: dict[str, Any]) -> str | None:
    """A photo's image; a video's or GIF's mp4 of the highest bitrate (``media_url_https`` is only its
    thumbnail), the thumbnail when X offers no mp4 (a video playable on X only)."""
    variants = _dict(item, "video_info").get("variants") or item.get("variants")  # v1.1, v2
    mp4s = [v for v in variants if isinstance(v, dict) and v.get("content_type") == "video/mp4"] \
        if isinstance(variants, list) else []  # fmt: skip
    best = max(mp4s, key=_bitrate, default={})
    url = best.get("url") or item.get("media_url_https") or item.get("url") or item.get("preview_image_url")
    return url if isinstance(url, str) and url.startswith("https://") else None


def _bitrate(variant: dict[str, Any]) -> int:
    bitrate = variant.get("bitrate", variant.get("bit_rate"))  # v1.1, v2
    return bitrate if isinstance(bitrate, int) and not isinstance(bitrate, bool) else -1


def _v1_quote(tweet: dict[str, Any]) -> str | None:
    """The link to the post a v1.1 quote post quotes; None when it quotes nothing."""
    quoted = _dict(tweet, "quoted_status")
    quoted_id = _str(tweet.get("quoted_status_id_str")) or _str(quoted.get("id_str"))
    if tweet.get("is_quote_status") is not True or not quoted_id:
        return None
    return _permalink(quoted_id, _str(_dict(quoted, "user").get("screen_name")))


def _permalink(post_id: str, handle: str | None) -> str:
    return f"https://x.com/{handle or 'i/web'}/status/{post_id}"


def _without_link(text: str, permalink: str) -> str:
    """``text`` without the link to the quoted post that X appends to it (in any of its domains)."""
    post_id = permalink.rsplit("/", 1)[-1]
    words = [
        w for w in text.split(" ") if not (w.startswith("https://") and w.rstrip("/").endswith(f"/status/{post_id}"))
    ]
    return " ".join(words).strip()


def _context(parent: str | None, quote: str | None) -> str:
    if quote is not None:
        return f"a quote of post {quote.rsplit('/', 1)[-1]}"
    return f"a reply to post {parent}" if parent else "a post mentioning the account"


def _xaa_time(payload: dict[str, Any]) -> datetime:
    millis = payload.get("timestamp_ms") or payload.get("created_at_msec")
    return platform_time(millis) if millis else _iso_time(payload.get("created_at") or payload.get("date_time"))


def _other_aaa_events(payload: dict[str, Any], channel: ChannelConfig) -> Iterator[Event]:
    """An Account Activity array of a kind this version does not know is recorded, not dropped unseen."""
    unknown = [k for k, v in payload.items() if k.endswith("_events") and isinstance(v, list)]
    for key in sorted(set(unknown) - AAA_HANDLED - set(AAA_IGNORED)):
        for item in _objects(payload, key):
            yield _ignored(channel, f"{key[:60]}:{_fingerprint(item)}", AAA_OTHER, _aaa_time(item))


def _aaa_time(item: dict[str, Any]) -> datetime:
    return platform_time(item.get("timestamp_ms") or item.get("created_timestamp"))


def _xaa_reason(kind: str) -> str:
    """The fixed phrase an X Activity event type is counted under (never the type itself: not a fixed set)."""
    family = next((reason for prefix, reason in XAA_FAMILIES.items() if kind.startswith(prefix)), None)
    return XAA_IGNORED.get(kind) or family or "x other activity event"


def _ignored(
    channel: ChannelConfig | None, message_id: str, reason: str, at: datetime, *, account: str = ""
) -> Ignored:
    """An :class:`Ignored` record, with its log line (every one: the rule is "in the log and in status")."""
    where = channel.name if channel else f"account {account[:40] or '?'}"
    log.info("x webhook %s: %s recorded as ignored (%s)", where, message_id[:80], reason)
    return Ignored(platform="x", channel=channel.name if channel else "",
                   account_id=account_of(channel) if channel else account[:64], message_id=message_id[:255],
                   reason=reason, created_at=at)  # fmt: skip


def _no_channel(user_id: Any, envelope: dict[str, Any]) -> Ignored:
    """A whole delivery for an account no channel serves: one record (its id is the envelope's fingerprint)."""
    return _ignored(
        None, f"envelope:{_fingerprint(envelope)}", NO_CHANNEL, datetime.now(UTC), account=_str(user_id) or ""
    )


def _fingerprint(value: Any) -> str:
    """The same for a redelivery of an event, different for two events: for those X gives no id."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _remember_revocations(events: list[Event], configured: list[ChannelConfig]) -> None:
    """A revocation is also kept as a setting, so that ``socialdesk doctor`` can say why a channel fails."""
    by_account = {account_of(c): c for c in configured}
    for event in events:
        channel = by_account.get(event.account_id) if isinstance(event, Ignored) and event.reason == REVOKED else None
        if channel is not None:
            with storage("remember that the X app's access was revoked"):
                revocations.record(state().store, channel, event.account_id, event.created_at.isoformat())


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


def _words(container: dict[str, Any], key: str, where: str = "") -> str:
    """What the customer wrote, ``container[key]`` ("" when absent): :class:`Unusable` when it is no string (read
    as absent, unreadable words were a ticket "(no text)")."""
    value = container.get(key)
    if value is None or isinstance(value, str):
        return value or ""
    raise Unusable(f"{where}{key} is {json_type(value)}, not a string")


def _object(container: dict[str, Any], key: str, where: str = "") -> dict[str, Any]:
    """``container[key]``, empty when absent: :class:`Unusable` when it is no object (what holds the words)."""
    value = container.get(key)
    if value is not None and not isinstance(value, dict):
        raise Unusable(f"{where}{key} is {json_type(value)}, not an object")
    return value or {}


def _required(container: dict[str, Any], key: str, label: str | None = None) -> str:
    found = _str(container.get(key))
    if not found:
        raise Unusable(f"missing {label or key}")
    return found
