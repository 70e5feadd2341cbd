"""Buttons pressed by customers, as the platforms' webhooks deliver them (recorded shapes in tests/fixtures): a
Messenger quick reply or postback, a WhatsApp reply button, a Telegram inline keyboard's callback query."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.config import Config
from tests.conftest import PAGE_ID, fixture_bytes, fixture_json
from tests.test_telegram import ignored, webhook_client
from tests.test_telegram import parse as telegram_parse
from tests.test_telegram import post as telegram_post
from tests.test_webhooks_meta import PSID, events_of, only_events, parsed
from tests.test_whatsapp import parsed as whatsapp_parsed
from tests.test_whatsapp import wa_config


def test_a_messenger_quick_reply_is_its_title_with_the_payload_kept(config: Config) -> None:
    [event] = only_events(events_of(config, "meta_messenger_text.json"))
    assert (event.thread_id, event.text) == (f"messenger:{PSID}", "hello, world!")
    assert event.extra["pressed"] == "<DEVELOPER_DEFINED_PAYLOAD>"


def test_a_messenger_postback_keeps_its_payload(config: Config) -> None:
    raw = fixture_bytes("meta/messenger_postback_referral.json").replace(b"12345654332", PAGE_ID.encode())
    [event] = only_events(parsed(config, json.loads(raw)))
    assert event.extra["pressed"] == "USER_DEFINED_PAYLOAD"
    assert event.text == "[button tapped] (a button without a title) (payload: USER_DEFINED_PAYLOAD)"


def test_a_plain_messenger_message_presses_nothing(config: Config) -> None:
    body = json.loads(fixture_bytes("meta/meta_messenger_text.json").replace(b"<PAGE_ID>", PAGE_ID.encode()))
    del body["entry"][0]["messaging"][0]["message"]["quick_reply"]
    [event] = only_events(parsed(config, body))
    assert "pressed" not in event.extra


def test_a_whatsapp_reply_button(tmp_path: Path) -> None:
    [event] = whatsapp_parsed(wa_config(tmp_path), fixture_json("meta/whatsapp_interactive_button_reply.json"))
    assert (event.thread_id, event.text) == ("chat:16505551234", "Opening hours")
    assert event.extra["pressed"] == "quick:hours"
    assert event.extra["quoted_id"] == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3NDI4MkU2MzBFNjk5RTlGQzMA"


def test_a_telegram_callback_query_is_the_customer_pressing_the_bots_button(tmp_path: Path) -> None:
    event = telegram_parse(tmp_path, fixture_json("telegram/telegram_callback_query.COMPOSED.json"))
    assert (event.kind, event.thread_id, event.reply_to) == ("message", "chat:1111111", "1111111")
    assert event.text == "[button tapped] Talk to a person (payload: quick:person)"
    assert event.extra == {"pressed": "quick:person"}
    assert (event.author.id, event.author.name, event.message_id) == ("1111111", "Test Firstname Test Lastname",
                                                                      "10001:1366")  # fmt: skip


def test_a_telegram_callback_query_without_its_message_is_recorded_as_ignored(tmp_path: Path) -> None:
    update = fixture_json("telegram/telegram_callback_query.COMPOSED.json")
    del update["callback_query"]["message"]
    assert ignored(tmp_path, update).reason == "telegram callback query without its message"


def test_a_telegram_callback_query_without_a_sender_is_recorded_as_ignored(tmp_path: Path) -> None:
    update = fixture_json("telegram/telegram_callback_query.COMPOSED.json")
    del update["callback_query"]["from"]
    assert ignored(tmp_path, update).reason == "telegram callback query without a sender"


@pytest.mark.parametrize("drop", [None, "message", "from"], ids=["pressed", "without-message", "without-sender"])
def test_every_telegram_press_is_answered_in_the_reply_to_the_webhook(tmp_path: Path, drop: str | None) -> None:
    """Telegram spins the button until answerCallbackQuery; the webhook's 200 names it (Telegram runs it), for a
    press that reaches the worker and for one recorded as ignored alike, once stored."""
    test_client, store = webhook_client(tmp_path)
    update = fixture_json("telegram/telegram_callback_query.COMPOSED.json")
    if drop:
        del update["callback_query"][drop]
    answer = telegram_post(test_client, json.dumps(update).encode()).get_json()
    assert answer == {"method": "answerCallbackQuery", "callback_query_id": "4382bfdwdsb323b2d9"}
    assert sum(store.counts("inbox").values()) == 1
