"""The Telegram simulator answers like the Bot API: here, what it makes of the bridge's answer to a webhook."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from flask import Response

from sandbox.base import Simulator
from sandbox.telegram import TelegramSimulator

BOT_TOKEN = "7000000001:AAH-not-a-real-bot-token-xyz"


@pytest.fixture
def bot() -> Iterator[tuple[TelegramSimulator, Simulator, dict[str, str]]]:
    """The Bot API, and a webhook that answers every update with ``answer`` (its body and content type)."""
    answer: dict[str, str] = {}
    hook = Simulator()
    hook.app.add_url_rule(
        "/hook", "hook", lambda: Response(answer["body"], 200, content_type=answer["type"]), methods=["POST"]
    )
    with hook, TelegramSimulator(bot_token=BOT_TOKEN, webhook_target=f"{hook.url}/hook") as sim:
        yield sim, hook, answer


def pressed(sim: TelegramSimulator) -> str:
    """The customer presses the one button of the bot's message: the callback query's id."""
    sim.customer_message("hi", user_id=42, send=False)
    keyboard = {"inline_keyboard": [[{"text": "Talk to a person", "callback_data": "quick:person"}]]}
    sent = requests.post(f"{sim.url}/bot{BOT_TOKEN}/sendMessage",
                         json={"chat_id": 42, "text": "Pick one", "reply_markup": keyboard}, timeout=5)  # fmt: skip
    assert sent.ok, sent.text
    return str(sim.customer_press(42, "Talk to a person", user_id=42, send=False).payload["callback_query"]["id"])


@pytest.mark.parametrize(
    ("content_type", "body", "answered"),
    [
        ("application/json", '{"method": "answerCallbackQuery", "callback_query_id": "%s"}', True),
        ("application/x-www-form-urlencoded", "method=answerCallbackQuery&callback_query_id=%s", True),
        ("text/plain", '{"method": "answerCallbackQuery", "callback_query_id": "%s"}', False),
        ("text/html; charset=utf-8", '{"method": "answerCallbackQuery", "callback_query_id": "%s"}', False),
    ],
)
def test_a_method_in_the_webhooks_answer_runs_only_with_a_content_type_telegram_reads(
    bot: tuple[TelegramSimulator, Simulator, dict[str, str]], content_type: str, body: str, answered: bool
) -> None:
    """ "Use either application/json or application/x-www-form-urlencoded or multipart/form-data response content
    type for passing parameters" (Bot API, Making requests when getting updates): the same JSON as text is nothing."""
    sim, _, answer = bot
    query_id = pressed(sim)
    answer.update(body=body % query_id, type=content_type)

    sim.deliver({"update_id": 1, "callback_query": {"id": query_id}})

    assert sim.queries[query_id] is answered
