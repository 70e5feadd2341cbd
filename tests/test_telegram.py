"""Telegram: the webhook (secret header, updates, edits), TelegramChannel against the simulator, end to end."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bridge import config as config_module
from bridge import errors
from bridge.events import Ignored, SocialEvent, ThreadState
from bridge.outbound import thread_state
from bridge.registry import build_channel
from bridge.store import Store
from connectors.telegram import TelegramChannel, quoted_message_id, utf16_len
from sandbox.telegram import TelegramSimulator
from tests.conftest import fixture_bytes, fixture_json, raw_config
from tests.support import Bridge, serve_bridge
from webhooks import telegram as telegram_webhook
from webhooks.app import create_app

BOT_TOKEN = "7000000001:AAH-not-a-real-bot-token-xyz"
BOT_ID = "7000000001"
SECRET_TOKEN = "telegram-secret_token-123"
FIXTURE = "telegram/telegram_update_message.json"


def telegram_config(tmp: Path, api_url: str = "http://127.0.0.1:9", **overrides: Any) -> config_module.Config:
    raw = raw_config(database_url=f"sqlite:///{tmp}/store.db", queue_url=f"sqlite:///{tmp}/queue.db")
    raw["channels"].append(
        {"name": "acme-telegram", "platform": "telegram", "bot_token": BOT_TOKEN, "secret_token": SECRET_TOKEN,
         "api_url": api_url, **overrides}
    )  # fmt: skip
    return config_module.parse(raw, env={})


@pytest.fixture(scope="module")
def shared_sim() -> Iterator[TelegramSimulator]:
    with TelegramSimulator(bot_token=BOT_TOKEN) as sim:
        yield sim


@pytest.fixture(scope="module")
def bridge(shared_sim: TelegramSimulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    config = telegram_config(tmp_path_factory.mktemp("telegram"), shared_sim.url)
    with serve_bridge(config) as running:
        yield running


@pytest.fixture
def sim(shared_sim: TelegramSimulator, bridge: Bridge) -> TelegramSimulator:
    shared_sim.reset()
    shared_sim.webhook_target = f"{bridge['url']}/webhooks/telegram/acme-telegram"
    shared_sim.secret_token = SECRET_TOKEN
    return shared_sim


@pytest.fixture
def channel(sim: TelegramSimulator) -> TelegramChannel:
    return TelegramChannel(name="acme-telegram", bot_token=BOT_TOKEN, api_url=sim.url, timeout=5)


@pytest.fixture
def client(tmp_path: Path) -> tuple[FlaskClient, Store]:
    return webhook_client(tmp_path)


def webhook_client(tmp_path: Path) -> tuple[FlaskClient, Store]:
    """The bridge's web app on a Telegram channel's config, over an in-memory store."""
    store = Store.from_url("sqlite://")
    return create_app(telegram_config(tmp_path), store=store).test_client(), store


def post(
    test_client: FlaskClient,
    body: bytes,
    *,
    secret: str | None = SECRET_TOKEN,
    name: str = "acme-telegram",
    **kwargs: str,
) -> TestResponse:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    content_type = kwargs.get("content_type", "application/json")
    return test_client.post(f"/webhooks/telegram/{name}", data=body, headers=headers, content_type=content_type)


def parse_any(tmp_path: Path, update: Any) -> SocialEvent | Ignored:
    config = telegram_config(tmp_path)
    with create_app(config, store=Store.from_url("sqlite://")).test_request_context():
        channel = config.channel("acme-telegram")
        assert channel is not None
        return telegram_webhook.parse(update, channel)


def parse(tmp_path: Path, update: Any) -> SocialEvent:
    """The customer's event of an update (one recorded as ignored fails the test: see :func:`ignored`)."""
    event = parse_any(tmp_path, update)
    assert isinstance(event, SocialEvent), event
    return event


def ignored(tmp_path: Path, update: Any) -> Ignored:
    event = parse_any(tmp_path, update)
    assert isinstance(event, Ignored), event
    return event


def chat_thread(chat_id: int, last: str | None, thread_id: str | None = None) -> ThreadState:
    thread_id = thread_id or f"chat:{chat_id}"
    return ThreadState(
        key=f"telegram:{BOT_ID}:{thread_id}", platform="telegram", channel="acme-telegram", account_id=BOT_ID,
        thread_id=thread_id, reply_to=str(chat_id), last_inbound_at=None, last_inbound_message_id=last,
        ticket_id="7",
    )  # fmt: skip


def raised(exc_info: pytest.ExceptionInfo[errors.BridgeError]) -> errors.BridgeError:
    error = exc_info.value
    for text in (error, error.message, repr(error), error.__cause__, repr(error.__cause__), error.__context__):
        assert BOT_TOKEN not in str(text) and BOT_TOKEN.split(":")[1] not in str(text)
    assert error.platform == "telegram"
    return error


# -- the webhook -----------------------------------------------------------------------------------------------


def test_the_fixture_update(tmp_path: Path) -> None:
    event = parse(tmp_path, fixture_json(FIXTURE))
    assert event is not None
    assert (event.message_id, event.thread_id, event.reply_to, event.kind) == (
        "10000:1365",
        "chat:1111111",
        "1111111",
        "message",
    )
    assert (event.account_id, event.text) == (BOT_ID, "/start")
    assert (event.author.id, event.author.name, event.author.handle) == (
        "1111111",
        "Test Firstname Test Lastname",
        "Testusername",
    )
    assert event.created_at == datetime.fromtimestamp(1441645532, UTC)
    assert event.thread_key == f"telegram:{BOT_ID}:chat:1111111" and event.url is None


def test_an_edit_is_an_edit_event_with_its_own_id(tmp_path: Path) -> None:
    update = fixture_json(FIXTURE)
    message = update.pop("message")
    update.update(update_id=10001, edited_message={**message, "text": "/help", "edit_date": 1441645600})
    event = parse(tmp_path, update)
    assert event is not None
    assert (event.kind, event.message_id, event.text) == ("edit", "10001:1365", "/help")
    assert event.created_at == datetime.fromtimestamp(1441645600, UTC)


def test_groups_media_and_shared_contacts(tmp_path: Path) -> None:
    group = {"id": -100123, "type": "supergroup", "title": "Acme fans", "username": "acmefans"}
    sender = {"id": 42, "is_bot": False, "first_name": "Ana"}
    update = {"update_id": 5, "message": {"message_id": 9, "date": 1700000000, "chat": group, "from": sender,
              "photo": [{"file_id": "AgAD"}], "contact": {"phone_number": "+4930123456", "user_id": 42}}}  # fmt: skip
    event = parse(tmp_path, update)
    assert event is not None
    assert (event.thread_id, event.extra) == ("chat:-100123", {"attachments": "photo,contact"})
    assert event.text == "[photo] see it in the Telegram chat (file_id AgAD)\n[contact] (no name) +4930123456"
    assert event.url == "https://t.me/acmefans/9" and event.author.phone == "+4930123456"
    assert event.context == "the group Acme fans"


BERLIN = {"latitude": 52.520008, "longitude": 13.404954}


@pytest.mark.parametrize(
    ("shared", "text"),
    [
        ({"location": BERLIN}, "[location] https://maps.google.com/?q=52.520008,13.404954"),
        (
            {"location": BERLIN, "venue": {"location": BERLIN, "title": "Acme Café", "address": "Alexanderplatz 1"}},
            "[location] Acme Café, Alexanderplatz 1 https://maps.google.com/?q=52.520008,13.404954",
        ),
        (
            {"contact": {"phone_number": "+4930123456", "first_name": "Bo", "last_name": "Berg", "user_id": 43}},
            "[contact] Bo Berg +4930123456",
        ),
        ({"location": {"latitude": 52.5}}, "[location]"),  # no longitude: nothing to link to
        (
            {"location": BERLIN, "caption": "the back door"},
            "the back door\n[location] https://maps.google.com/?q=52.520008,13.404954",
        ),
    ],
    ids=["location", "venue", "contact", "broken-location", "caption"],
)
def test_shared_places_and_contacts_are_readable(tmp_path: Path, shared: dict[str, Any], text: str) -> None:
    """Bot API Message.location, .venue (which also carries .location) and .contact."""
    sender = {"id": 42, "is_bot": False, "first_name": "Cy"}
    chat = {"id": 42, "type": "private", "first_name": "Cy"}
    update = {"update_id": 6, "message": {"message_id": 88, "date": 1750000200, "chat": chat, "from": sender, **shared}}
    event = parse(tmp_path, update)
    assert event is not None and event.text == text


FORUM_ID = -1001700000001
FORUM: dict[str, Any] = {"id": FORUM_ID, "title": "Acme support", "is_forum": True, "type": "supergroup"}


@pytest.mark.parametrize(
    ("extra", "thread_id"),
    [
        ({"message_thread_id": 11, "is_topic_message": True}, "chat:-1001700000001:topic:11"),
        ({"message_thread_id": 12, "is_topic_message": True}, "chat:-1001700000001:topic:12"),
        ({}, "chat:-1001700000001"),  # the General topic
        ({"message_thread_id": 40}, "chat:-1001700000001"),  # a reply thread, not a topic
    ],
)
def test_each_forum_topic_is_its_own_thread(tmp_path: Path, extra: dict[str, Any], thread_id: str) -> None:
    """Bot API: ``message_thread_id`` is the topic only when ``is_topic_message`` is true."""
    sender = {"id": 4242, "is_bot": False, "first_name": "Ana"}
    update = {"update_id": 7, "message": {"message_id": 501, "date": 1750000000, "chat": FORUM, "from": sender,
              "text": "I was charged twice", **extra}}  # fmt: skip
    event = parse(tmp_path, update)
    assert event is not None
    assert (event.thread_id, event.reply_to, event.thread_key) == (
        thread_id,
        "-1001700000001",
        f"telegram:{BOT_ID}:{thread_id}",
    )


BOT_SENDER = {"id": 8, "is_bot": True}
GROUP = {"id": -1001700000002, "title": "Acme community", "type": "supergroup"}
CHANNEL_BOT = {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}
ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
TELEGRAM_SERVICE = {"id": 777000, "is_bot": False, "first_name": "Telegram"}
BOS_BAKERY = {"id": -1001999999999, "title": "Bo's Bakery", "type": "channel", "username": "bosbakery"}


def group_message(**fields: Any) -> dict[str, Any]:
    message = {"message_id": 77, "date": 1750000100, "chat": GROUP, "text": "Our order #5521 never arrived", **fields}
    return {"update_id": 900003, "message": message}


def test_a_member_writing_as_their_channel_is_the_author(tmp_path: Path) -> None:
    """In groups ``from`` is Telegram's placeholder bot then; the sender is ``sender_chat``."""
    event = parse(tmp_path, group_message(sender_chat=BOS_BAKERY, **{"from": CHANNEL_BOT}))
    assert event is not None
    assert (event.author.id, event.author.name, event.author.handle) == ("-1001999999999", "Bo's Bakery", "bosbakery")
    assert (event.thread_id, event.text) == ("chat:-1001700000002", "Our order #5521 never arrived")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"from": {"id": 8, "is_bot": True, "first_name": "OtherBot"}}, "telegram message from a bot"),
        ({"from": {"id": int(BOT_ID), "is_bot": True, "first_name": "Acme Support"}}, "telegram message from a bot"),
        ({"from": TELEGRAM_SERVICE, "sender_chat": BOS_BAKERY, "is_automatic_forward": True},
         "telegram automatic forward of the linked channel"),
        ({"from": ANONYMOUS_ADMIN, "sender_chat": GROUP}, "telegram message from an anonymous admin"),
    ],
    ids=["another-bot", "this-bot", "automatic-forward", "anonymous-admin"],
)  # fmt: skip
def test_bots_the_linked_channel_and_anonymous_admins_are_not_customers(
    tmp_path: Path, fields: dict[str, Any], reason: str
) -> None:
    record = ignored(tmp_path, group_message(**fields))
    assert (record.reason, record.message_id) == (reason, "900003:77")


@pytest.mark.parametrize(
    ("update", "reason"),
    [
        ({"update_id": 1, "channel_post": {"message_id": 1, "date": 1, "chat": {"id": -1, "type": "channel"}}},
         "telegram update: channel post"),
        ({"update_id": 2, "callback_query": {"id": "x"}}, "telegram callback query without its message"),
        ({"update_id": 4, "some_future_update": {}}, "telegram update of another type"),
        ({"update_id": 3, "message": {"message_id": 1, "date": 1, "chat": {"id": -5}, "from": BOT_SENDER}},
         "telegram message from a bot"),
    ],
)  # fmt: skip
def test_what_is_not_for_a_ticket_is_ignored(tmp_path: Path, update: dict[str, Any], reason: str) -> None:
    assert ignored(tmp_path, update).reason == reason


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("text", ["/start"], "telegram message.text is a list, not a string"),
        ("text", 5, "telegram message.text is a number, not a string"),
        ("caption", {"text": "a caption"}, "telegram message.caption is an object, not a string"),
    ],
)
def test_words_of_the_wrong_type_are_recorded_with_the_reason(
    client: tuple[FlaskClient, Store], field: str, value: Any, reason: str
) -> None:
    """A message whose text was a list reached the ticket as "(no text)"."""
    update = fixture_json(FIXTURE)
    update["message"][field] = value
    test_client, store = client
    body = json.dumps(update).encode()
    assert post(test_client, body).get_json() == {"ok": True, "received": 1, "stored": 1}
    assert [(r["status"], r["last_error"]) for r in store.rows("inbox")] == [("ignored", reason)]
    assert post(test_client, body).get_json()["stored"] == 0  # a redelivery is the same record


# -- what a message carries, and Telegram's own service messages (issue 14) ------------------------------------

COMPOSED = fixture_json("telegram/telegram_messages.COMPOSED.json")


def composed(name: str, update_id: int = 700001) -> dict[str, Any]:
    return {"update_id": update_id, "message": COMPOSED[name]}


def test_a_photo_with_a_caption_names_the_photo(tmp_path: Path) -> None:
    """The caption alone reached the ticket: nothing said a photo came with it."""
    event = parse(tmp_path, fixture_json("telegram/telegram_message_with_photo.aiogram.json"))
    assert event.text == (
        "photo description\n[photo] 90×51, 1 KB; see it in the Telegram chat "
        "(file_id AgADBAADFak0G88YZAf8OAug7bHyS9x2ZxkABHVfpJywcloRAAGAAQABAg)"
    )
    assert event.extra == {"attachments": "photo"}


def test_a_photo_is_named_by_its_largest_size_and_never_linked_with_the_token(tmp_path: Path) -> None:
    """A client's to_dict() record: empty new_chat_members and false service flags are no service message."""
    event = parse(tmp_path, fixture_json("telegram/telegram_message_photo_no_caption.recorded.json"))
    assert event.text.startswith("[photo] 640×1280, 32 KB; see it in the Telegram chat (file_id AgACAgIAAxkBAAN0")
    assert BOT_TOKEN not in event.to_json() and "api.telegram.org" not in event.text


@pytest.mark.parametrize(
    ("update", "text"),
    [
        (fixture_json("telegram/telegram_message_with_dice.aiogram.json"), "[dice] 🎲 rolled 6"),
        (composed("story"), "[story] forwarded from Bo's Bakery https://t.me/bosbakery/s/5"),
        (composed("chat_shared"), "[shared chat] Bo's Bakery, @bosbakery (chat id -1001999999999)"),
        ({"update_id": 8, "message": {**COMPOSED["empty"], "giveaway": {"chats": []}}}, "[unsupported message type]"),
    ],
    ids=["dice", "story", "chat-shared", "unknown"],
)
def test_a_dice_a_story_and_a_shared_chat_say_what_they_carry(tmp_path: Path, update: Any, text: str) -> None:
    """They all reached the agent as "(no text)"."""
    assert parse(tmp_path, update).text == text


@pytest.mark.parametrize(
    ("update", "reason"),
    [
        (composed("pinned_message"), "telegram service message: pinned message"),
        (composed("forum_topic_created"), "telegram service message: forum topic created"),
        (composed("forum_topic_closed"), "telegram service message: forum topic closed"),
        (composed("forum_topic_reopened"), "telegram service message: forum topic reopened"),
        (fixture_json("telegram/telegram_message_migrate_to_chat_id.aiogram.json"),
         "telegram service message: group migrated to a supergroup"),
        (composed("migrate_from_chat_id"), "telegram service message: supergroup migrated from a group"),
        (composed("new_chat_members"), "telegram service message: new chat members"),
        (composed("left_chat_member"), "telegram service message: left chat member"),
        (composed("empty"), "telegram empty message"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)  # fmt: skip
def test_service_messages_are_no_customers_words(tmp_path: Path, update: Any, reason: str) -> None:
    """They opened or extended tickets as "(no text)", and the agent's reply then quoted the pin."""
    record = ignored(tmp_path, update)
    assert (record.reason, record.message_id) == (reason, f"{update['update_id']}:{update['message']['message_id']}")


def test_a_service_message_is_stored_as_ignored_once(client: tuple[FlaskClient, Store]) -> None:
    test_client, store = client
    body = json.dumps(composed("pinned_message")).encode()
    assert post(test_client, body).get_json() == {"ok": True, "received": 1, "stored": 1}
    assert post(test_client, body).get_json()["stored"] == 0
    [row] = store.rows("inbox")
    assert (row["status"], row["last_error"]) == ("ignored", "telegram service message: pinned message")


def test_stored_once_per_update(client: tuple[FlaskClient, Store]) -> None:
    test_client, store = client
    body = fixture_bytes(FIXTURE)
    assert post(test_client, body).get_json() == {"ok": True, "received": 1, "stored": 1}
    assert post(test_client, body).get_json() == {"ok": True, "received": 1, "stored": 0}  # Telegram's retry
    [row] = store.rows("inbox")
    assert (row["message_id"], row["thread_key"]) == ("10000:1365", f"telegram:{BOT_ID}:chat:1111111")


GOOD = fixture_bytes(FIXTURE)


@pytest.mark.parametrize(
    ("body", "kwargs", "status", "error"),
    [
        (GOOD, {"secret": None}, 401, "invalid signature"),
        (GOOD, {"secret": "wrong"}, 401, "invalid signature"),
        (GOOD, {"secret": SECRET_TOKEN + "x"}, 401, "invalid signature"),
        (GOOD, {"name": "nope"}, 404, "unknown Telegram channel"),
        (GOOD, {"name": "acme-facebook"}, 404, "unknown Telegram channel"),
        (GOOD, {"content_type": "text/plain"}, 415, "expected Content-Type: application/json"),
        (b"{oops", {}, 400, "body is not valid JSON"),
        (b"[]", {}, 400, "expected an update with an integer update_id"),
        (b'{"update_id": "1"}', {}, 400, "expected an update with an integer update_id"),
        (b'{"update_id": true}', {}, 400, "expected an update with an integer update_id"),
        (b'{"update_id": 1, "message": []}', {}, 400, "message must be an object"),
        (b'{"update_id": 1, "message": {"message_id": 1, "date": 1}}', {}, 400, "missing chat.id"),
        (b'{"update_id": 1, "message": {"message_id": 1, "chat": {"id": 5}}}', {}, 400, "missing date"),
    ],
)
def test_bad_input_gets_a_short_json_4xx(
    client: tuple[FlaskClient, Store], body: bytes, kwargs: dict[str, Any], status: int, error: str
) -> None:
    test_client, store = client
    response = post(test_client, body, **kwargs)
    assert (response.status_code, response.get_json()) == (status, {"error": error})
    assert store.rows("inbox") == []


def test_the_bot_token_is_never_needed_in_the_webhook_url(tmp_path: Path) -> None:
    app = create_app(telegram_config(tmp_path), store=Store.from_url("sqlite://"))
    rules = [rule.rule for rule in app.url_map.iter_rules() if "telegram" in rule.rule]
    assert rules == ["/webhooks/telegram/<name>"]


# -- TelegramChannel against the simulator ----------------------------------------------------------------------


def test_a_reply_to_a_group_that_became_a_supergroup_reaches_the_supergroup(
    sim: TelegramSimulator, channel: TelegramChannel
) -> None:
    """Telegram refuses the old chat id, naming the new one: the reply failed for good ("the group became a
    supergroup with a new chat id") and the customer never saw it."""
    group: dict[str, Any] = {"id": -4700000003, "title": "Acme fans", "type": "group"}
    asked = sim.customer_message("Is the shop open today?", user_id=4242, chat=group, send=False)
    supergroup = sim.migrate_group(group["id"], by_user_id=5551, send=False)
    delivery = channel.send_reply(
        chat_thread(group["id"], f"{asked.update_id}:{asked.message_id}"), "Yes, until 6 pm.", now=datetime.now(UTC)
    )
    assert [c.json["chat_id"] for c in sim.calls_to("POST", "/bot")] == [group["id"], supergroup]
    [sent] = sim.sent
    assert (sent["chat_id"], sent["text"]) == (supergroup, "Yes, until 6 pm.")
    assert delivery.message_ids == (f"{supergroup}/{sent['message_id']}",)


def test_reply_quotes_the_customers_latest_message(sim: TelegramSimulator, channel: TelegramChannel) -> None:
    first = sim.customer_message("hi", user_id=555, send=False)
    latest = sim.customer_message("my order?", user_id=555, send=False)
    inbound_id = f"{latest.update_id}:{latest.message_id}"
    delivery = channel.send_reply(chat_thread(555, inbound_id), "Looking into it!", now=datetime.now(UTC))
    [call] = sim.calls_to("POST", "/bot")
    assert call.path == f"/bot{BOT_TOKEN}/sendMessage"
    assert call.json == {
        "chat_id": 555, "text": "Looking into it!",
        "reply_parameters": {"message_id": latest.message_id, "allow_sending_without_reply": True},
    }  # fmt: skip
    [sent] = sim.sent
    assert delivery.message_ids == (f"555/{sent['message_id']}",) and first.message_id != latest.message_id


def test_a_reply_in_a_forum_topic_goes_to_that_topic(sim: TelegramSimulator, channel: TelegramChannel) -> None:
    sim.customer_message("broken grinder", user_id=4343, chat=dict(FORUM), topic=12, send=False)
    latest = sim.customer_message("I was charged twice", user_id=4242, chat=dict(FORUM), topic=11, send=False)
    thread = chat_thread(FORUM_ID, f"{latest.update_id}:{latest.message_id}", f"chat:{FORUM_ID}:topic:11")
    text = "Refunded! " * 500  # two parts: both in the topic, the first quoting the customer
    delivery = channel.send_reply(thread, text, now=datetime.now(UTC))
    calls = [c.json for c in sim.calls_to("POST", "/bot")]
    assert [(c["chat_id"], c["message_thread_id"]) for c in calls] == [(FORUM_ID, 11)] * 2
    assert calls[0]["reply_parameters"]["message_id"] == latest.message_id and "reply_parameters" not in calls[1]
    assert delivery.message_ids == tuple(f"{FORUM_ID}/{sent['message_id']}" for sent in sim.sent)


def test_a_long_reply_is_split_at_4096_utf16_units_and_quotes_once(
    sim: TelegramSimulator, channel: TelegramChannel
) -> None:
    update = sim.customer_message("?", user_id=556, send=False)
    text = ("Please check the cable. " * 150) + "😀" * 1500  # 3,600 + 3,000 code units
    delivery = channel.send_reply(
        chat_thread(556, f"{update.update_id}:{update.message_id}"), text, now=datetime.now(UTC)
    )
    calls = [c.json for c in sim.calls_to("POST", "/bot")]
    assert len(calls) == len(delivery.message_ids) == 2
    assert all(utf16_len(c["text"]) <= 4096 for c in calls)
    assert "reply_parameters" in calls[0] and "reply_parameters" not in calls[1]


def test_flood_control_retry_after_is_honoured(sim: TelegramSimulator, channel: TelegramChannel) -> None:
    sim.customer_message("?", user_id=557, send=False)
    sim.flood(retry_after=7)
    with pytest.raises(errors.RateLimited) as exc_info:
        channel.send_reply(chat_thread(557, None), "Hi", now=datetime.now(UTC))
    error = raised(exc_info)
    assert (error.retry_after, error.http_status, error.code) == (7.0, 429, "429") and sim.sent == []


@pytest.mark.parametrize(
    ("setup", "chat", "expected", "words"),
    [
        (lambda sim: sim.block(558), 558, errors.PermanentError, "blocked the bot"),
        (lambda sim: None, 9999, errors.NotFound, "no such chat"),
    ],
)
def test_permanent_errors(
    sim: TelegramSimulator,
    channel: TelegramChannel,
    setup: Callable[[TelegramSimulator], None],
    chat: int,
    expected: type[errors.BridgeError],
    words: str,
) -> None:
    sim.customer_message("?", user_id=558, send=False)
    setup(sim)
    with pytest.raises(errors.BridgeError) as exc_info:
        channel.send_reply(chat_thread(chat, None), "Hi", now=datetime.now(UTC))
    error = raised(exc_info)
    assert type(error) is expected and words in error.message and not error.retryable


def test_wrong_token_is_an_auth_error_that_does_not_show_the_token(sim: TelegramSimulator) -> None:
    other = TelegramChannel(name="acme-telegram", bot_token="7000000001:AAH-some-other-token", api_url=sim.url)
    with pytest.raises(errors.AuthError) as exc_info:
        other.ping()
    assert "AAH-some-other-token" not in str(exc_info.value) and exc_info.value.http_status == 401


def test_ping_refuses_an_account_id_that_is_not_the_bots_id(sim: TelegramSimulator) -> None:
    """getMe's id is the bot's, which account_id defaults to; a configured one that differs is named."""
    bot = BOT_TOKEN.split(":", 1)[0]
    other = TelegramChannel(name="acme-telegram", bot_token=BOT_TOKEN, account_id="7000000002", api_url=sim.url)
    with pytest.raises(errors.ConfigError) as exc_info:
        other.ping()
    assert (
        exc_info.value.message
        == f"the token is for bot {bot}, but account_id is '7000000002': set account_id = \"{bot}\""
    )
    assert "AAH-not-a-real" not in exc_info.value.message


def test_transport_errors_do_not_carry_the_url() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    refused = TelegramChannel(name="acme-telegram", bot_token=BOT_TOKEN, api_url=f"http://127.0.0.1:{port}", timeout=2)
    with pytest.raises(errors.Unavailable) as exc_info:
        refused.send_reply(chat_thread(1, None), "Hi", now=datetime.now(UTC))
    error = raised(exc_info)
    assert error.__cause__ is None and error.__suppress_context__


def test_set_webhook_and_ping(sim: TelegramSimulator, channel: TelegramChannel) -> None:
    assert channel.ping() == "@acme_support_bot"
    assert channel.set_webhook("https://bridge.example.com/webhooks/telegram/acme-telegram", SECRET_TOKEN)
    assert sim.webhook == {
        "url": "https://bridge.example.com/webhooks/telegram/acme-telegram", "secret_token": SECRET_TOKEN,
        "allowed_updates": ["message", "edited_message", "callback_query"],
    }  # fmt: skip
    with pytest.raises(errors.PermanentError) as exc_info:
        channel.set_webhook("http://insecure.example.com/hook", SECRET_TOKEN)
    assert "HTTPS URL" in raised(exc_info).message
    calls = len(sim.calls)
    with pytest.raises(errors.ConfigError):
        channel.set_webhook("https://bridge.example.com/x", "spaces are not allowed")
    assert len(sim.calls) == calls


def test_unknown_threads_are_refused_without_a_call(sim: TelegramSimulator, channel: TelegramChannel) -> None:
    for thread_id in ("dm:5", "chat:abc", "chat:5:topic:", "chat:5:topic:x", "chat:5:12"):
        state = ThreadState("k", "telegram", "acme-telegram", BOT_ID, thread_id, "5", None, None, "1")
        with pytest.raises(errors.PermanentError):
            channel.send_reply(state, "Hi", now=datetime.now(UTC))
    assert sim.calls == [] and quoted_message_id("10000") is None and quoted_message_id("1:2") == 2


def test_registry_builds_it_and_repr_hides_the_token(tmp_path: Path) -> None:
    channel_config = telegram_config(tmp_path).channel("acme-telegram")
    assert channel_config is not None
    channel = build_channel(channel_config)
    assert isinstance(channel, TelegramChannel) and channel.account_id == BOT_ID
    assert BOT_TOKEN not in repr(channel) and "acme-telegram" in repr(channel)


# -- end to end ---------------------------------------------------------------------------------------------------


def test_message_in_reply_out_edit_noted(sim: TelegramSimulator, bridge: Bridge, channel: TelegramChannel) -> None:
    store: Store = bridge["store"]
    update = sim.customer_message("Where is my parcel?", user_id=777, first_name="Ana", username="ana_p")
    assert update.response is not None
    assert update.response.status_code == 200 and update.response.json()["stored"] == 1
    [row] = store.rows("inbox", platform="telegram", message_id=f"{update.update_id}:{update.message_id}")
    event = SocialEvent.from_json(row["payload"])
    assert (event.thread_id, event.author.handle, event.text) == ("chat:777", "ana_p", "Where is my parcel?")
    store.claim_thread(event, "zendesk")
    store.update_thread(event.thread_key, last_inbound_message_id=event.message_id, ticket_id="9")
    thread = store.thread(event.thread_key)
    assert thread is not None
    delivery = channel.send_reply(thread_state(thread), "On its way!", now=datetime.now(UTC))
    [sent] = sim.sent
    assert (sent["chat_id"], sent["reply_parameters"]["message_id"]) == (777, update.message_id)
    assert delivery.message_ids == (f"777/{sent['message_id']}",)
    edit = sim.customer_edit(update, "Where is my parcel #123?")
    assert edit.response is not None
    assert edit.response.json()["stored"] == 1
    [edited] = store.rows("inbox", platform="telegram", message_id=f"{edit.update_id}:{update.message_id}")
    assert (edited["kind"], edited["thread_key"]) == ("edit", event.thread_key)
    assert json.loads(edited["payload"])["text"] == "Where is my parcel #123?"
