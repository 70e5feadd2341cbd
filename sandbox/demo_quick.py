"""``socialdesk demo``'s quick-answer step: a Telegram customer asks a frequent question, the bot answers at once
with buttons (an inline keyboard), the customer presses "Talk to a person", the bot hands off and is quiet;
the ticket has the whole exchange, the bot's answers as internal notes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.stack import Stack

Echo = Callable[[str], None]

#: The Telegram channel's ``[channels.quick]``, as in socialdesk.toml.
QUICK: dict[str, Any] = {
    "person": "Talk to a person",
    "handoff": "Thanks! A person will answer you here.",
    "answers": [
        {"name": "hours", "keywords": ["opening hours", "open today"], "button": "Opening hours",
         "text": "We are open Monday to Friday, 8:00-18:00, and Saturday 9:00-13:00."},
        {"name": "order", "regex": r"where\s+is\s+my\s+order", "button": "Where is my order?",
         "text": "Your order number, please?",
         "ask": {"field": "360000000777", "pattern": r"\b\d{5,8}\b", "thanks": "Thanks, order {answer} is noted."}},
    ],
}  # fmt: skip
QUESTION = "Hi! What are your opening hours?"
CHAT = 5560


def quick_options(helpdesk: str) -> dict[str, Any]:
    """The channel options: the order number's field is a Zendesk field id, or a Freshdesk ``cf_`` name."""
    if helpdesk == "zendesk":
        return {"quick": QUICK}
    order = {**QUICK["answers"][1], "ask": {**QUICK["answers"][1]["ask"], "field": "cf_social_channel"}}
    return {"quick": {**QUICK, "answers": [QUICK["answers"][0], order]}}


def quick_answer(stack: Stack, echo: Echo, *, step: int) -> tuple[bool, str]:
    echo(f"\n{step}. Quick answers: a frequent question answered by the bot, with buttons, and the way to a person")
    for answer in QUICK["answers"]:
        echo(f"   answer {answer['name']}: {answer.get('keywords') or answer.get('regex')} → {answer['text']!r}")
    try:
        return _play(stack, echo)
    except TimeoutError:
        return False, "quick answers: the bot did not answer within 20 s (run with --verbose to see why)"


def _play(stack: Stack, echo: Echo) -> tuple[bool, str]:
    known = {t["id"] for t in stack.helpdesk.tickets}
    stack.telegram.customer_message(QUESTION, user_id=CHAT, first_name="Noor")
    echo(f"   Noor writes to the Telegram bot: {QUESTION!r}")
    answer = stack.wait_for(lambda: _sent(stack)[:1], timeout=20)[0]
    buttons = [b["text"] for row in answer["reply_markup"]["inline_keyboard"] for b in row]
    echo(f"   the bot answers at once: {answer['text']!r}, buttons {buttons}")
    stack.telegram.customer_press(CHAT, "Talk to a person", user_id=CHAT, first_name="Noor")
    echo("   Noor presses 'Talk to a person'")
    handoff = stack.wait_for(lambda: _sent(stack)[1:2], timeout=20)[0]
    echo(f"   the bot hands off: {handoff['text']!r} (and answers no more in this conversation)")
    ticket = stack.wait_for(lambda: next((t for t in stack.helpdesk.tickets if t["id"] not in known), None))
    notes = stack.wait_for(lambda: _bot_notes(stack, ticket["id"])[1:] and _bot_notes(stack, ticket["id"]))
    echo(f"   ticket #{ticket['id']}: the question, the press, and {len(notes)} notes of what the bot said")
    ok = buttons[-1] == "Talk to a person" and "reply_markup" not in handoff and all(stack.telegram.queries.values())
    return ok, "a quick answer with buttons, the hand-off to a person, both noted on the ticket"


def _sent(stack: Stack) -> list[dict[str, Any]]:
    return [m for m in stack.telegram.sent if m["chat_id"] == CHAT]


def _bot_notes(stack: Stack, ticket_id: int) -> list[str]:
    notes = (str(c["body"]) for c in stack.helpdesk.comments(ticket_id) if not c["public"])
    return [n for n in notes if "The bot answered:" in n]
