"""The channels' buttons (bridge.ports.Buttons) against the simulators, which refuse what the vendors document as
refused: Messenger's 13 quick replies of 20 characters, WhatsApp's 3 reply buttons of 20, Telegram's callback
data of 64 bytes, and an answerCallbackQuery for a press it never sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from bridge import errors
from bridge.ports import Buttons
from bridge.quick import BUTTON_LIMITS
from connectors.telegram import TelegramChannel
from sandbox.meta import MetaSimulator
from sandbox.telegram import TelegramSimulator
from tests.test_meta_connector import make_channel as facebook_channel
from tests.test_meta_connector import messenger_thread
from tests.test_telegram import BOT_TOKEN, chat_thread
from tests.test_whatsapp import (
    customer_wrote,
    shared_sim,  # noqa: F401
)
from tests.test_whatsapp import make_channel as whatsapp_channel
from tests.test_whatsapp import sim as whatsapp_sim  # noqa: F401 - the fixture, with its module-scoped simulator

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
PERSON = ("quick:person", "Talk to a person")
INVALID_QUERY = "query is too old and response timeout expired or query ID is invalid"


@pytest.fixture
def meta() -> Iterator[MetaSimulator]:
    from tests.test_meta_connector import PAGE, SECRET, TOKEN

    with MetaSimulator(SECRET, {PAGE: TOKEN}, page_names={PAGE: "Acme Support"}) as simulator:
        yield simulator


def test_messenger_quick_replies(meta: MetaSimulator) -> None:
    channel = facebook_channel(meta)
    assert isinstance(channel, Buttons)
    thread = messenger_thread(meta, age=timedelta(minutes=1), now=NOW)
    channel.send_buttons(thread, "Pick one", [("quick:hours", "Opening hours"), PERSON], now=NOW)
    sent = meta.sent_messages[-1]
    assert (sent["text"], sent["messaging_type"]) == ("Pick one", "RESPONSE")
    assert sent["quick_replies"] == [
        {"content_type": "text", "title": "Opening hours", "payload": "quick:hours"},
        {"content_type": "text", "title": "Talk to a person", "payload": "quick:person"},
    ]
    for buttons, refused in (([(f"quick:{n}", f"B{n}") for n in range(14)], "at most 13 elements"),
                             ([("quick:x", "A title of 21 chars..")], "at most 20 characters")):  # fmt: skip
        with pytest.raises(errors.PermanentError, match=refused):
            channel.send_buttons(thread, "Pick one", buttons, now=NOW)
    with pytest.raises(errors.PermanentError, match="quick replies in Messenger only"):
        channel.send_buttons(thread.__class__(**{**vars(thread), "thread_id": "comment:1_2"}), "x", [PERSON], now=NOW)


def test_whatsapp_reply_buttons(whatsapp_sim: MetaSimulator) -> None:  # noqa: F811
    channel = whatsapp_channel(whatsapp_sim)
    thread = customer_wrote(whatsapp_sim, "15551230002", timedelta(minutes=1), datetime.now(UTC))
    channel.send_buttons(thread, "Pick one", [("quick:hours", "Opening hours"), PERSON], now=datetime.now(UTC))
    sent = whatsapp_sim.wa_sent_messages[-1]
    assert sent["type"] == "interactive"
    assert sent["interactive"] == {
        "body": "Pick one",
        "buttons": [
            {"id": "quick:hours", "title": "Opening hours"},
            {"id": "quick:person", "title": "Talk to a person"},
        ],
    }
    for buttons in ([(f"quick:{n}", f"B{n}") for n in range(4)], [("quick:x", "A title of 21 chars..")],
                    [("quick:x", "Same"), ("quick:y", "Same")]):  # fmt: skip
        with pytest.raises(errors.PermanentError, match="refused a parameter"):  # WhatsApp's words are not kept
            channel.send_buttons(thread, "Pick one", buttons, now=datetime.now(UTC))
        assert len(whatsapp_sim.wa_sent_messages) == 1
    old = customer_wrote(whatsapp_sim, "15551230003", timedelta(hours=25), datetime.now(UTC))
    with pytest.raises(errors.WindowClosed, match="buttons are sent inside it only"):
        channel.send_buttons(old, "Pick one", [PERSON], now=datetime.now(UTC))


def test_telegram_inline_keyboard_and_the_answer_to_a_press() -> None:
    with TelegramSimulator(bot_token=BOT_TOKEN) as sim:
        channel = TelegramChannel(name="acme-telegram", bot_token=BOT_TOKEN, api_url=sim.url, timeout=5)
        assert isinstance(channel, Buttons)
        sim.customer_message("hi", user_id=42, send=False)
        channel.send_buttons(chat_thread(42, None), "Pick one", [("quick:hours", "Opening hours"), PERSON], now=NOW)
        keyboard = sim.sent[-1]["reply_markup"]["inline_keyboard"]
        assert keyboard == [[{"text": "Opening hours", "callback_data": "quick:hours"}],
                            [{"text": "Talk to a person", "callback_data": "quick:person"}]]  # fmt: skip
        press = sim.customer_press(42, "Talk to a person", user_id=42, send=False)
        query_id = press.payload["callback_query"]["id"]
        assert press.payload["callback_query"]["data"] == "quick:person"
        answer = f"{sim.url}/bot{BOT_TOKEN}/answerCallbackQuery"
        assert requests.post(answer, json={"callback_query_id": query_id}, timeout=5).json()["result"] is True
        assert sim.queries == {query_id: True}
        again = requests.post(answer, json={"callback_query_id": query_id}, timeout=5)  # once only, as Telegram
        assert (again.status_code, again.json()["description"]) == (400, "Bad Request: " + INVALID_QUERY)
        with pytest.raises(errors.PermanentError, match="BUTTON_DATA_INVALID"):
            channel.send_buttons(chat_thread(42, None), "Pick one", [("q" * 65, "Too much data")], now=NOW)


def test_telegram_inline_keyboard_of_more_buttons_than_telegram_takes_is_refused() -> None:
    """The count bridge.quick allows on Telegram is what the simulator takes; one more is Telegram's 400."""
    with TelegramSimulator(bot_token=BOT_TOKEN) as sim:
        channel = TelegramChannel(name="acme-telegram", bot_token=BOT_TOKEN, api_url=sim.url, timeout=5)
        sim.customer_message("hi", user_id=42, send=False)
        most = BUTTON_LIMITS["telegram"][0]
        buttons = [(f"quick:a{n}", f"Answer {n}") for n in range(most)]
        channel.send_buttons(chat_thread(42, None), "Pick one", buttons, now=NOW)
        assert len(sim.sent[-1]["reply_markup"]["inline_keyboard"]) == most
        keyboard = {"inline_keyboard": [[{"text": t, "callback_data": p}] for p, t in [*buttons, ("quick:x", "X")]]}
        sent = f"{sim.url}/bot{BOT_TOKEN}/sendMessage"
        answer = requests.post(sent, json={"chat_id": 42, "text": "Pick one", "reply_markup": keyboard}, timeout=5)
        assert (answer.status_code, answer.json()) == (
            400, {"ok": False, "error_code": 400, "description": "Bad Request: reply markup is too long"}
        )  # fmt: skip
