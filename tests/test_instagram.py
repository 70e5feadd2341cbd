"""Instagram end to end: webhook payloads in (fixtures and the simulator's), replies out through the
InstagramChannel to the Graph API simulator, echoes back through a bridge app on a real socket."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import regex
import requests
from werkzeug.serving import make_server

from bridge import config as config_module
from bridge import errors
from bridge.config import Config
from bridge.events import Ignored, SocialEvent, ThreadState
from bridge.ports import SocialChannel
from bridge.registry import build_channel
from bridge.store import Store
from bridge.text import split_text, utf8_len
from connectors.meta import InstagramChannel
from sandbox.base import QuietHandler, shutdown
from sandbox.meta import MetaSimulator
from tests.conftest import APP_SECRET, fixture_bytes, fixture_json, raw_config
from webhooks.app import create_app
from webhooks.meta import parse
from webhooks.signatures import sign_meta

IG_ID, IG_TOKEN = "17841400000000001", "IGQVJ-not-a-real-instagram-token"
IGSID = "6543210987654321"
PREFIX = "/v21.0"


# -- shared parts: one simulator, one bridge app on a socket, per module ---------------------------------


def ig_config(tmp: Path, graph_url: str = "http://127.0.0.1:9/v21.0") -> Config:
    raw = raw_config(database_url=f"sqlite:///{tmp}/store.db", queue_url=f"sqlite:///{tmp}/queue.db")
    raw["channels"].append(
        {"name": "acme-instagram", "platform": "instagram", "account_id": IG_ID, "access_token": IG_TOKEN,
         "app_secret": APP_SECRET, "verify_token": "v", "api_url": graph_url}
    )  # fmt: skip
    return config_module.parse(raw, env={})


@pytest.fixture(scope="module")
def shared_sim() -> Iterator[MetaSimulator]:
    with MetaSimulator(APP_SECRET, instagram={IG_ID: IG_TOKEN}, instagram_usernames={IG_ID: "acme.coffee"}) as sim:
        yield sim


@pytest.fixture(scope="module")
def bridge(shared_sim: MetaSimulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Store]]:
    """The socialdesk web app on a real socket, as Meta reaches it; the simulator posts to it."""
    config = ig_config(tmp_path_factory.mktemp("ig"), f"{shared_sim.url}{PREFIX}")
    store = Store.from_url(config.database_url)
    server = make_server("127.0.0.1", 0, create_app(config, store=store), threaded=True, request_handler=QuietHandler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    shared_sim.webhook_target = f"http://127.0.0.1:{server.server_port}/webhooks/meta"
    yield shared_sim.webhook_target, store
    shutdown(server)


@pytest.fixture
def sim(shared_sim: MetaSimulator) -> MetaSimulator:
    shared_sim.reset_calls()
    shared_sim.clear_faults()
    shared_sim.echoes = False
    for recorded in (shared_sim.ig_sent_messages, shared_sim.ig_comment_replies, shared_sim.ig_mention_replies):
        recorded.clear()
    shared_sim.renew_token(IG_ID)
    return shared_sim


@pytest.fixture
def channel(sim: MetaSimulator) -> InstagramChannel:
    return InstagramChannel(
        name="acme-instagram", account_id=IG_ID, access_token=IG_TOKEN, api_url=f"{sim.url}{PREFIX}", timeout=5
    )


def parsed(config: Config, payload: Any) -> list[SocialEvent]:
    """The events for tickets in ``payload`` (what is recorded as ignored: :func:`reasons`)."""
    return [e for e in everything(config, payload) if isinstance(e, SocialEvent)]


def everything(config: Config, payload: Any) -> list[SocialEvent | Ignored]:
    with create_app(config, store=Store.from_url("sqlite://")).test_request_context():
        return list(parse(payload, config.channels_for("instagram")))


def reasons(config: Config, payload: Any) -> list[str]:
    return [e.reason for e in everything(config, payload) if isinstance(e, Ignored)]


def state(thread_id: str, reply_to: str, last: datetime | None = None) -> ThreadState:
    return ThreadState(
        key=f"instagram:{IG_ID}:{thread_id}", platform="instagram", channel="acme-instagram", account_id=IG_ID,
        thread_id=thread_id, reply_to=reply_to, last_inbound_at=last, last_inbound_message_id=None, ticket_id="7",
    )  # fmt: skip


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return "·"


def dm_fixture() -> dict[str, Any]:
    raw = fixture_bytes("meta/instagram_dm.json").decode()
    for placeholder, value in {
        "<IGID>": IG_ID,
        "<IGSID>": IGSID,
        "<MESSAGE_ID>": "aWdfZAG1",
        "<MESSAGE_CONTENT>": "Hi!",
    }.items():
        raw = raw.replace(placeholder, value)
    payload: dict[str, Any] = json.loads(raw)
    return payload


def comment_fixture(entry_id: str = IG_ID) -> dict[str, Any]:
    payload: dict[str, Any] = fixture_json("meta/instagram_comment.json")
    payload["entry"][0]["id"] = entry_id
    return payload


# -- the fixtures, parsed ------------------------------------------------------------------------------------


def test_comment_fixture_is_a_reply_in_its_top_level_thread(tmp_path: Path) -> None:
    [event] = parsed(ig_config(tmp_path), comment_fixture())
    assert (event.platform, event.kind, event.message_id) == ("instagram", "comment", "123456789")
    assert event.thread_id == "comment:987654321" and event.reply_to == "987654321"  # the parent is the top
    assert event.author.id == "1234536447" and event.author.handle == "testuser"
    assert event.author.display_name() == "@testuser"
    assert event.text == "This is an example." and event.created_at == datetime.fromtimestamp(1519399307, UTC)
    assert event.context == "post 76543987" and event.thread_key == f"instagram:{IG_ID}:comment:987654321"


def test_comment_fixture_as_sent_is_the_dashboards_test_event_and_harmless(tmp_path: Path) -> None:
    config = ig_config(tmp_path)
    # entry id "0": no such account
    assert reasons(config, fixture_json("meta/instagram_comment.json")) == ["instagram account without a channel"]
    store = Store.from_url(config.database_url)
    body = fixture_bytes("meta/instagram_comment.json")
    response = create_app(config, store=store).test_client().post(
        "/webhooks/meta", data=body, headers={"X-Hub-Signature-256": sign_meta(body, APP_SECRET)},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 200
    assert [(r["status"], r["last_error"]) for r in store.rows("inbox")] == [
        ("ignored", "instagram account without a channel")
    ]


def test_top_level_comment_starts_its_own_thread(tmp_path: Path) -> None:
    payload = comment_fixture()
    del payload["entry"][0]["changes"][0]["value"]["parent_id"]
    [event] = parsed(ig_config(tmp_path), payload)
    assert event.thread_id == "comment:123456789" and event.reply_to == "123456789"


def test_dm_fixture_is_a_direct_thread(tmp_path: Path) -> None:
    [event] = parsed(ig_config(tmp_path), dm_fixture())
    assert (event.kind, event.thread_id, event.reply_to) == ("message", f"dm:{IGSID}", IGSID)
    assert event.message_id == "aWdfZAG1" and event.text == "Hi!" and event.author.id == IGSID
    assert event.created_at == datetime.fromtimestamp(1569262485.349, UTC)  # milliseconds understood


def messaging(**fields: Any) -> dict[str, Any]:
    event = {"sender": {"id": IGSID}, "recipient": {"id": IG_ID}, "timestamp": 1569262485349, **fields}
    return {"object": "instagram", "entry": [{"id": IG_ID, "time": 1569262486134, "messaging": [event]}]}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (messaging(message={"mid": "m1", "text": "ours", "is_echo": True}),
         [("ignored", "instagram echo of the account's own message")]),
        ({**messaging(), "entry": [{"id": IG_ID, "messaging": [{"sender": {"id": IG_ID}, "recipient": {"id": IGSID},
          "timestamp": 1, "message": {"mid": "m2", "text": "ours"}}]}]},
         [("ignored", "instagram echo of the account's own message")]),  # sent by the account itself
        (messaging(read={"mid": "m1"}), [("ignored", "instagram read receipt")]),
        (messaging(reaction={"mid": "m1", "action": "react", "reaction": "love", "emoji": "❤️"}),
         [("notice", "reaction", "The customer reacted ❤️ to a message (m1) on Instagram.")]),
        (messaging(postback={"mid": "m3", "title": "Start", "payload": "START"}),
         [("message", "m3", "[button tapped] Start (payload: START)")]),
        (messaging(message={"mid": "m4", "is_deleted": True}), [("remove", "m4#deleted", "")]),
        (messaging(message_edit={"mid": "m5", "text": "typo", "num_edit": 1}), [("edit", "m5#edit1", "typo")]),
        (messaging(message={"mid": "m6", "is_unsupported": True}), [("message", "m6", "[unsupported message type]")]),
        (
            {"object": "instagram", "entry": [{"id": IG_ID, "time": 1, "changes": [{"field": "messages", "value":
             {"sender": {"id": IGSID}, "recipient": {"id": IG_ID}, "timestamp": "1527459824",
              "message": {"mid": "m7", "text": "dashboard test"}}}]}]},
            [("message", "m7", "dashboard test")],
        ),
        ({"object": "instagram", "entry": [{"id": IG_ID, "time": 1, "changes": [{"field": "story_insights",
          "value": {"media_id": "1"}}]}]}, [("ignored", "instagram field story_insights")]),
    ],
    ids=["echo", "from-account", "seen", "reaction", "postback", "deleted", "edit", "unsupported", "dashboard",
         "other-field"],
)  # fmt: skip
def test_which_messaging_events_make_events(tmp_path: Path, payload: Any, expected: list[Any]) -> None:
    found = everything(ig_config(tmp_path), payload)
    shown = [(e.kind, e.message_id.split(":")[0], e.text) if isinstance(e, SocialEvent) else ("ignored", e.reason)
             for e in found]  # fmt: skip
    assert shown == expected


def test_own_account_comment_is_dropped(tmp_path: Path) -> None:
    payload = comment_fixture()
    payload["entry"][0]["changes"][0]["value"]["from"] = {"id": IG_ID, "username": "acme.coffee"}
    assert reasons(ig_config(tmp_path), payload) == ["instagram comment by the account"]
    assert parsed(ig_config(tmp_path), payload) == []


def test_dm_attachments_and_story_replies_are_kept_as_links(tmp_path: Path) -> None:
    message = {"mid": "m8", "attachments": [{"type": "image", "payload": {"url": "https://cdn.test/a.jpg"}}],
               "reply_to": {"story": {"url": "https://cdn.test/story.mp4", "id": "1799"}}}  # fmt: skip
    [event] = parsed(ig_config(tmp_path), messaging(message=message))
    assert [(a.kind, a.url) for a in event.attachments] == [
        ("image", "https://cdn.test/a.jpg"), ("story", "https://cdn.test/story.mp4")
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "thread_id", "reply_to"),
    [
        ({"media_id": "17918195224117851", "comment_id": "17894227972186120"}, "mention:17894227972186120",
         "17918195224117851/17894227972186120"),
        ({"media_id": "17918195224117851"}, "mention:17918195224117851", "17918195224117851"),
    ],
    ids=["in-a-comment", "in-a-caption"],
)  # fmt: skip
def test_mentions_become_threads_answered_where_they_were_made(
    tmp_path: Path, value: dict[str, str], thread_id: str, reply_to: str
) -> None:
    payload = {"object": "instagram", "entry": [{"id": IG_ID, "time": 1700000000,
               "changes": [{"field": "mentions", "value": value}]}]}  # fmt: skip
    [event] = parsed(ig_config(tmp_path), payload)
    assert (event.kind, event.thread_id, event.reply_to) == ("comment", thread_id, reply_to)
    assert "@mention" in event.text and event.created_at.year == 2023


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"field": "comments", "value": {"text": "x", "from": {"id": "5"}}}, "missing comments.id"),
        ({"field": "mentions", "value": {"comment_id": "5"}}, "missing mentions.media_id"),
    ],
)
def test_a_malformed_change_is_recorded_as_ignored_not_a_400(
    tmp_path: Path, change: dict[str, Any], error: str
) -> None:
    """One unusable change must not refuse the whole POST (Meta would send it, and its neighbours, for days)."""
    config = ig_config(tmp_path)
    store = Store.from_url(config.database_url)
    body = json.dumps({"object": "instagram", "entry": [{"id": IG_ID, "time": 1, "changes": [change]}]}).encode()
    headers = {"X-Hub-Signature-256": sign_meta(body, APP_SECRET)}
    client = create_app(config, store=store).test_client()
    response = client.post("/webhooks/meta", data=body, headers=headers, content_type="application/json")
    assert response.status_code == 200
    assert [(r["status"], r["last_error"]) for r in store.rows("inbox")] == [("ignored", error)]


# -- the simulator speaks the fixtures' shapes ---------------------------------------------------------------


def test_simulated_comment_reply_has_the_fixture_shape(sim: MetaSimulator) -> None:
    top = sim.instagram_comment(IG_ID, text="Love it", user_id="1", username="a", send=False)
    reply = sim.instagram_comment(IG_ID, parent_id=top.comment_id, text="+1", user_id="2", username="b", send=False)
    deeper = sim.instagram_comment(IG_ID, parent_id=reply.comment_id, text="!", user_id="3", username="c", send=False)
    assert shape(reply.payload) == shape(fixture_json("meta/instagram_comment.json"))
    assert reply.parent_id == deeper.parent_id == top.comment_id and top.parent_id is None  # two levels
    assert "parent_id" not in top.payload["entry"][0]["changes"][0]["value"]


def test_simulated_dm_has_the_fixture_shape(sim: MetaSimulator) -> None:
    sent = sim.instagram_message(IG_ID, igsid=IGSID, text="Hello", send=False)
    assert shape(sent.payload) == shape(dm_fixture())
    assert sent.payload["entry"][0]["messaging"][0]["timestamp"] > 10_000_000_000


def test_simulated_graph_refuses_what_instagram_refuses(sim: MetaSimulator) -> None:
    sim.instagram_message(IG_ID, igsid=IGSID, text="hi", send=False)
    headers = {"Authorization": f"Bearer {IG_TOKEN}"}

    def dm(text: str) -> requests.Response:
        body = {"recipient": {"id": IGSID}, "message": {"text": text}}
        return requests.post(f"{sim.url}{PREFIX}/me/messages", json=body, headers=headers, timeout=5)

    assert dm("é" * 500).status_code == 200  # 1,000 bytes exactly
    too_long = dm("é" * 501).json()["error"]
    assert too_long["code"] == 100 and "1000" in too_long["message"]
    top = sim.instagram_comment(IG_ID, text="Hi", user_id="1", username="a", send=False)
    reply = sim.instagram_comment(IG_ID, parent_id=top.comment_id, text="Hey", user_id="2", username="b", send=False)
    answer = requests.post(f"{sim.url}{PREFIX}/{reply.comment_id}/replies", data={"message": "Hello"}, headers=headers,
                           timeout=5)  # fmt: skip
    assert answer.status_code == 200 and sim.ig_comment_replies[-1]["parent_id"] == reply.comment_id
    created = requests.get(f"{sim.url}{PREFIX}/{answer.json()['id']}", params={"fields": "parent_id,text"},
                           headers=headers, timeout=5).json()  # fmt: skip
    assert created["parent_id"] == top.comment_id  # attached to the top-level comment: two levels only
    missing = requests.post(f"{sim.url}{PREFIX}/999/replies", data={"message": "x"}, headers=headers, timeout=5)
    assert (missing.json()["error"]["code"], missing.json()["error"]["error_subcode"]) == (100, 33)


# -- replies through the connector ---------------------------------------------------------------------------


def test_implements_the_social_channel_port_and_is_built_by_the_registry(
    tmp_path: Path, channel: InstagramChannel
) -> None:
    port: SocialChannel = channel
    assert (port.platform, port.name, port.account_id) == ("instagram", "acme-instagram", IG_ID)
    channel_config = ig_config(tmp_path).channel("acme-instagram")
    assert channel_config is not None
    built = build_channel(channel_config)
    assert isinstance(built, InstagramChannel) and built.account_id == IG_ID
    assert IG_TOKEN not in repr(built) and "acme-instagram" in repr(built)


def test_comment_reply_goes_to_the_top_level_comments_replies(sim: MetaSimulator, channel: InstagramChannel) -> None:
    top = sim.instagram_comment(IG_ID, text="Open on Sunday?", user_id="99", username="dana", send=False)
    delivery = channel.send_reply(
        state(f"comment:{top.comment_id}", top.comment_id), "Yes, 9-5!", now=datetime.now(UTC)
    )
    [call] = sim.calls_to("POST", f"{PREFIX}/{top.comment_id}/replies")
    assert call.headers["Authorization"] == f"Bearer {IG_TOKEN}" and IG_TOKEN.encode() not in call.body
    assert sim.ig_comment_replies == [
        {"parent_id": top.comment_id, "message": "Yes, 9-5!", "id": delivery.message_ids[0]}
    ]


def test_mention_reply_names_the_media_and_comment(sim: MetaSimulator, channel: InstagramChannel) -> None:
    mention = sim.instagram_mention(IG_ID, send=False)
    target = f"{mention.media_id}/{mention.comment_id}"
    delivery = channel.send_reply(state(f"mention:{mention.comment_id}", target), "Thanks!", now=datetime.now(UTC))
    [call] = sim.calls_to("POST", f"{PREFIX}/{IG_ID}/mentions")
    [reply] = sim.ig_mention_replies
    assert reply == {"media_id": mention.media_id, "comment_id": mention.comment_id, "message": "Thanks!",
                     "id": delivery.message_ids[0]}  # fmt: skip
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded" and b"media_id=" in call.body


@pytest.mark.parametrize(
    ("age", "messaging_type", "tag"),
    [(timedelta(minutes=3), "RESPONSE", None), (timedelta(days=3), "MESSAGE_TAG", "HUMAN_AGENT")],
)
def test_dm_reply_uses_the_send_api_with_the_right_window(
    sim: MetaSimulator, channel: InstagramChannel, age: timedelta, messaging_type: str, tag: str | None
) -> None:
    now = datetime.now(UTC)
    sim.instagram_message(IG_ID, igsid=IGSID, text="Where is my order?", timestamp=now - age, send=False)
    delivery = channel.send_reply(state(f"dm:{IGSID}", IGSID, now - age), "Shipped today.", now=now)
    [call] = sim.calls_to("POST", f"{PREFIX}/me/messages")
    assert call.json["recipient"] == {"id": IGSID} and call.json["message"] == {"text": "Shipped today."}
    [sent] = sim.ig_sent_messages
    assert (sent["messaging_type"], sent["tag"], sent["account"]) == (messaging_type, tag, IG_ID)
    assert delivery.message_ids == (sent["message_id"],)


def test_after_seven_days_the_dm_is_refused_without_a_call(sim: MetaSimulator, channel: InstagramChannel) -> None:
    now = datetime(2024, 6, 1, 12, tzinfo=UTC)
    with pytest.raises(errors.WindowClosed) as exc_info:
        channel.send_reply(state(f"dm:{IGSID}", IGSID, now - timedelta(days=8)), "Sorry!", now=now)
    error = exc_info.value
    assert error.platform == "instagram" and "Instagram" in error.message and "7 days" in error.message
    assert sim.calls == []


def test_instagrams_own_window_refusal_is_window_closed(sim: MetaSimulator, channel: InstagramChannel) -> None:
    quiet = "7000000000000001"  # a customer of its own: the shared simulator remembers everyone's last message
    sim.instagram_message(IG_ID, igsid=quiet, text="hi", timestamp=time.time() - 2 * 86_400, send=False)
    with pytest.raises(errors.WindowClosed) as exc_info:
        channel.send_reply(state(f"dm:{quiet}", quiet, None), "Hello", now=datetime.now(UTC))
    assert exc_info.value.code == "10/2534022" and "outside the allowed reply window" in exc_info.value.message
    assert sim.ig_sent_messages == []


def test_long_dm_is_split_by_utf8_bytes_and_never_inside_a_character(
    sim: MetaSimulator, channel: InstagramChannel
) -> None:
    now = datetime.now(UTC)
    sim.instagram_message(IG_ID, igsid=IGSID, text="?", send=False)
    family = "👨‍👩‍👧‍👦"  # one grapheme, 25 bytes
    text = " ".join(f"Étape {i}: redémarrez le routeur {family} puis réessayez, merci ☕." for i in range(45))
    assert utf8_len(text) > 3000 > len(text)  # accents and emoji: the bytes, not the characters, decide
    delivery = channel.send_reply(state(f"dm:{IGSID}", IGSID, now), text, now=now)
    sent = [m["text"] for m in sim.ig_sent_messages]
    assert sent == split_text(text, 1000, measure=utf8_len) and len(sent) >= 3
    assert all(utf8_len(part) <= 1000 for part in sent)
    assert sum(part.count(family) for part in sent) == text.count(family)  # no emoji sequence cut apart
    assert [g for part in sent for g in regex.findall(r"\X", part) if g != " "] == [
        g for g in regex.findall(r"\X", text) if g != " "
    ]
    assert delivery.message_ids == tuple(m["message_id"] for m in sim.ig_sent_messages)


def test_long_comment_reply_is_split_at_2200_characters(sim: MetaSimulator, channel: InstagramChannel) -> None:
    top = sim.instagram_comment(IG_ID, text="Recipe?", user_id="9", username="z", send=False)
    text = "Grind 18 g of beans, medium-fine, and bloom for thirty seconds. " * 50
    delivery = channel.send_reply(state(f"comment:{top.comment_id}", top.comment_id), text, now=datetime.now(UTC))
    parts = [r["message"] for r in sim.ig_comment_replies]
    assert parts == split_text(text, 2200) and len(delivery.message_ids) == len(parts) == 2


@pytest.mark.parametrize(
    ("prepare", "expected", "words"),
    [
        (lambda sim, c: sim.expire_token(IG_ID), errors.AuthError, "Instagram access token expired"),
        (lambda sim, c: sim.delete_instagram_comment(c), errors.NotFound, "deleted"),
    ],
    ids=["expired-token", "deleted-comment"],
)
def test_graph_errors_are_mapped(
    sim: MetaSimulator,
    channel: InstagramChannel,
    prepare: Callable[[MetaSimulator, str], None],
    expected: type[errors.BridgeError],
    words: str,
) -> None:
    top = sim.instagram_comment(IG_ID, text="Hi", user_id="9", username="z", send=False)
    prepare(sim, top.comment_id)
    with pytest.raises(errors.BridgeError) as exc_info:
        channel.send_reply(state(f"comment:{top.comment_id}", top.comment_id), "Hello", now=datetime.now(UTC))
    error = exc_info.value
    assert type(error) is expected and words in error.message and not error.retryable
    assert error.platform == "instagram" and IG_TOKEN not in str(error) + repr(error.__cause__)


def test_unknown_thread_kind_is_refused_without_a_call(sim: MetaSimulator, channel: InstagramChannel) -> None:
    with pytest.raises(errors.PermanentError):
        channel.send_reply(state("messenger:1", "1"), "Hi", now=datetime.now(UTC))
    assert sim.calls == []


def test_ping_returns_the_username(channel: InstagramChannel) -> None:
    assert channel.ping() == "acme.coffee"


def test_ping_names_an_account_id_the_token_cannot_use_as_the_wrong_account_id(sim: MetaSimulator) -> None:
    """Graph's "does not exist" (100/33) about the configured account read as a deleted comment; doctor now says
    the account_id is wrong, naming it and what it should be."""
    wrong = IG_ID[:-1]
    other = InstagramChannel(
        name="acme-instagram", account_id=wrong, access_token=IG_TOKEN, api_url=f"{sim.url}{PREFIX}", timeout=5
    )
    with pytest.raises(errors.ConfigError) as exc_info:
        other.ping()
    assert exc_info.value.message.startswith(f"Instagram has no Instagram account {wrong!r} that this token can use: ")
    assert "the webhooks' entry id" in exc_info.value.message and IG_TOKEN not in exc_info.value.message


# -- end to end: customer → signed webhook → bridge app → inbox; our reply's echo is dropped ---------------


def test_customer_dm_and_comment_reach_the_inbox_and_our_echoes_do_not(
    sim: MetaSimulator, channel: InstagramChannel, bridge: tuple[str, Store]
) -> None:
    _, store = bridge
    sim.echoes = True
    dm = sim.instagram_message(IG_ID, igsid=IGSID, text="Do you ship to Oslo?")
    comment = sim.instagram_comment(IG_ID, text="Price?", user_id="4242", username="erik")
    assert dm.response is not None and dm.response.status_code == 200
    now = datetime.now(UTC)
    channel.send_reply(state(f"dm:{IGSID}", IGSID, now), "Yes, we do.", now=now)
    channel.send_reply(state(f"comment:{comment.comment_id}", comment.comment_id), "12 €", now=now)
    sim.instagram_seen(IG_ID, igsid=IGSID, mid=dm.mid)
    sim.instagram_reaction(IG_ID, igsid=IGSID, mid=dm.mid)
    assert sim.wait_for_webhooks(timeout=5)
    echoes = [
        status for body, status in sim.deliveries if b'"is_echo":true' in body or b'"username":"acme.coffee"' in body
    ]
    assert echoes == [200, 200]  # both echoes were delivered, verified and acknowledged
    rows = {(r["thread_key"], r["message_id"]) for r in store.rows("inbox") if r["platform"] == "instagram"}
    assert (f"instagram:{IG_ID}:dm:{IGSID}", dm.mid) in rows
    assert (f"instagram:{IG_ID}:comment:{comment.comment_id}", comment.comment_id) in rows
    ours = {sim.ig_sent_messages[-1]["message_id"], sim.ig_comment_replies[-1]["id"]}
    assert not ours & {message_id for _, message_id in rows}  # the echoes made no inbox rows
