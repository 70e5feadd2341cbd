"""Quick answers, the pure part (bridge.quick) and their configuration (bridge.quickbook): table-driven."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bridge import cli
from bridge.errors import ConfigError
from bridge.quick import BotReply, Button, NoReply, QuickConfig, QuickFacts, Step, decide
from bridge.quickbook import parse_quick
from sandbox.stack import to_toml
from tests.conftest import raw_config

QUICK: dict[str, Any] = {
    "disclosure": "",  # none here: test_the_bots_first_message_in_an_episode_says_it_is_automated
    "person": {"default": "Talk to a person", "fr": "Parler à un humain"},
    "menu": "Hi! Pick a topic, or write your question.",
    "answers": [
        {"name": "hours", "keywords": {"default": ["opening hours"], "fr": ["horaires"]},
         "text": {"default": "We are open 9-18.", "fr": "Ouvert de 9h à 18h."}, "button": "Opening hours"},
        {"name": "order", "regex": r"where\s+is\s+my\s+(order|parcel)", "button": "Where is my order?",
         "text": "Your order number, please?",
         "ask": {"field": "360001", "pattern": r"\b\d{5,8}\b", "thanks": "Thanks, order {answer} is noted."}},
        {"name": "refund", "keywords": ["rembourse"], "text": "Refunds take 5 days."},
    ],
}  # fmt: skip
PERSON = Button("quick:person", "Talk to a person")


def config(platform: str = "facebook", quick: dict[str, Any] | None = None, helpdesk: str = "zendesk") -> QuickConfig:
    return parse_quick(quick or QUICK, channel="acme", platform=platform, helpdesk=helpdesk)


def facts(text: str, **more: Any) -> QuickFacts:
    return QuickFacts(platform=more.pop("platform", "facebook"), channel="acme", text=text, **more)


def test_a_keyword_in_the_customers_language_gets_the_answer_with_the_other_buttons_and_the_way_out() -> None:
    reply = decide(facts("What are your OPENING hours?", language="en"), config())
    assert reply == BotReply(Step.ANSWER, "hours", "We are open 9-18.",
                             (Button("quick:order", "Where is my order?"), PERSON))  # fmt: skip
    french = decide(facts("Quels sont vos horaires ?", language="fr"), config())
    assert isinstance(french, BotReply) and french.text == "Ouvert de 9h à 18h."
    assert french.buttons[-1] == Button("quick:person", "Parler à un humain")
    german = decide(facts("Quels sont vos horaires ?", language="de", first_in_episode=False), config())
    assert german == NoReply("no quick answer matches")


@pytest.mark.parametrize(
    ("text", "matched"),
    [("Remboursé ?", "refund"), ("open hours", None), ("my openinghours", None), ("Where  is my parcel", "order")],
)
def test_words_match_as_the_rules_do(text: str, matched: str | None) -> None:
    reply = decide(facts(text, first_in_episode=False), config())
    assert (reply.name if isinstance(reply, BotReply) else None) == matched


def test_a_pressed_button_is_its_answer_and_the_way_out_hands_off_once() -> None:
    assert decide(facts("Opening hours", pressed="quick:hours"), config()).name == "hours"  # type: ignore[union-attr]
    handoff = decide(facts("Talk to a person", pressed="quick:person"), config())
    assert isinstance(handoff, BotReply) and handoff.step == Step.HANDOFF and handoff.buttons == ()
    assert decide(facts("can I talk to a human?"), config()).step == Step.HANDOFF  # type: ignore[union-attr]
    after = decide(facts("opening hours", handed_off=True), config())
    assert after == NoReply("handed off to a person in this episode")


@pytest.mark.parametrize(
    ("more", "reason"),
    [
        ({"sentiment": "negative"}, "negative sentiment: for a person"),
        ({"urgency": "high"}, "urgent message: for a person"),
        ({"sentiment": "unknown"}, "sentiment unknown: the classifier failed"),
        ({"public": True}, "public conversation: quick answers are for private ones"),
        ({"platform": "x"}, "public conversation: quick answers are for private ones"),
        ({"person_answering": True}, "a person is answering in this episode"),
        ({"approval": "rule legal"}, "replies here need approval (rule legal): for a person"),
    ],
)
def test_no_bot_answer(more: dict[str, Any], reason: str) -> None:
    assert decide(facts("opening hours", **more), config()) == NoReply(reason)


def test_a_pressed_button_speaks_the_language_of_its_title() -> None:
    """The classifier reads the press's line, "[button tapped] Horaires (payload: quick:hours)", as English or
    unknown: the French customer got the English answer to the French button."""
    quick = {**QUICK, "handoff": {"default": "A person will answer.", "fr": "Quelqu'un vous répond."}}
    quick["answers"] = [{**QUICK["answers"][0], "button": {"default": "Opening hours", "fr": "Horaires"}},
                        *QUICK["answers"][1:]]  # fmt: skip
    hours = decide(facts("[button tapped] Horaires (payload: quick:hours)", pressed="quick:hours", language="und"),
                   config(quick=quick))  # fmt: skip
    assert isinstance(hours, BotReply) and hours.text == "Ouvert de 9h à 18h."
    assert hours.buttons[-1] == Button("quick:person", "Parler à un humain")
    line = "[button tapped] Parler à un humain (payload: quick:person)"
    person = decide(facts(line, pressed="quick:person", language="en"), config(quick=quick))
    assert isinstance(person, BotReply) and person.text == "Quelqu'un vous répond."
    english = decide(facts("Opening hours", pressed="quick:hours", language="en"), config(quick=quick))
    assert isinstance(english, BotReply) and english.text == "We are open 9-18."


def test_the_bots_first_message_in_an_episode_says_it_is_automated() -> None:
    """Meta: where a law asks it, an automated chat says so at the start of a conversation and after a lapse."""
    default = config(quick={k: v for k, v in QUICK.items() if k != "disclosure"})
    first = decide(facts("opening hours", language="en"), default)
    assert isinstance(first, BotReply) and first.text == "We are open 9-18.\n(This is an automated message.)"
    later = decide(facts("opening hours", language="en", bot_spoke=True), default)
    assert isinstance(later, BotReply) and later.text == "We are open 9-18."
    own = decide(facts("opening hours"), config(quick={**QUICK, "disclosure": "— Acme's bot"}))
    assert isinstance(own, BotReply) and own.text == "We are open 9-18.\n— Acme's bot"
    with pytest.raises(ConfigError, match=r"channels\[acme\]\.quick\.disclosure: must be a text"):
        config(quick={**QUICK, "disclosure": False})


def test_an_answer_asks_and_the_next_message_fills_the_field() -> None:
    ask = decide(facts("where is my order?"), config())
    assert ask == BotReply(Step.ASK, "order", "Your order number, please?", (PERSON,))
    thanks = decide(facts("it is 1234567", asking="order"), config())
    assert thanks == BotReply(Step.THANKS, "order", "Thanks, order 1234567 is noted.", (PERSON,), {"360001": "1234567"})
    other = decide(facts("no idea, sorry", asking="order", first_in_episode=False), config())
    assert other == NoReply("no quick answer matches")


def test_the_menu_for_a_first_message_that_matches_nothing_and_text_only_channels() -> None:
    menu = decide(facts("hello"), config())
    assert isinstance(menu, BotReply) and menu.step == Step.MENU
    assert [b.payload for b in menu.buttons] == ["quick:hours", "quick:order", "quick:person"]
    assert decide(facts("hello", first_in_episode=False), config()) == NoReply("no quick answer matches")
    web = decide(facts("opening hours", platform="generic"), config("generic"))
    assert web == BotReply(Step.ANSWER, "hours", "We are open 9-18.\nTo talk to a person, write “person”.")
    whatsapp = decide(facts("hello", platform="whatsapp"), config("whatsapp"))
    assert len(whatsapp.buttons) == 3  # type: ignore[union-attr]


def _with(**changes: Any) -> dict[str, Any]:
    answers = [dict(QUICK["answers"][0]), *QUICK["answers"][1:]]
    answers[0].update(changes)
    return {**QUICK, "answers": answers}


@pytest.mark.parametrize(
    ("platform", "quick", "helpdesk", "message"),
    [
        ("x", QUICK, "zendesk", "channels[acme].quick: quick answers are for private conversations"),
        ("facebook", _with(text="Open {when}"), "zendesk", "channels[acme].quick.answers[hours].text.default: "
                                                           "unknown placeholder {when} (none is known here)"),
        ("facebook", _with(regex="(["), "zendesk", "channels[acme].quick.answers[hours].regex: invalid regular"),
        ("facebook", _with(button="Our opening hours today"), "zendesk",
         "channels[acme].quick.answers[hours].button.default: 23 characters: a facebook button title has at most 20"),
        ("whatsapp", {**QUICK, "answers": [*QUICK["answers"], {"name": "x", "keywords": "x", "text": "x",
                                                               "button": "X"}]}, "zendesk",
         "channels[acme].quick.answers: 3 buttons and the way to a person are more than the 3 whatsapp"),
        ("facebook", QUICK, "freshdesk", "channels[acme].quick.answers[order].ask.field: required: a Freshdesk field"),
        ("facebook", {**QUICK, "greeting": "hi"}, "zendesk", "channels[acme].quick.greeting: unknown key"),
        ("facebook", _with(text={"fr": "Ouvert"}), "zendesk", "answers[hours].text: a 'default' text is required"),
        ("whatsapp", {**_with(text={"default": "ok", "fr": "x" * 1000}), "disclosure": "(An automated message!!)"},
         "zendesk", "channels[acme].quick.answers[hours].text.fr: 1025 characters with the disclosure: a whatsapp "
                    "message with buttons has at most 1024"),
        ("whatsapp", {**QUICK, "handoff": "y" * 4097}, "zendesk",
         "channels[acme].quick.handoff.default: 4097 characters with the disclosure: a whatsapp text message has "
         "at most 4096"),
    ],
)  # fmt: skip
def test_bad_configuration_is_refused_naming_the_key(platform: str, quick: dict[str, Any], helpdesk: str,
                                                     message: str) -> None:  # fmt: skip
    with pytest.raises(ConfigError) as refused:
        config(platform, quick, helpdesk)
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_a_whatsapp_text_fits_its_message_with_the_disclosure_and_other_platforms_are_not_held_to_it() -> None:
    fits = {**_with(text="x" * 1000), "disclosure": "(Automated.)"}  # 1000 + 1 + 12 = 1013
    assert config("whatsapp", fits).answers[0].text["default"] == "x" * 1000
    over = {**fits, "disclosure": "(This message was written by our assistant.)"}  # 1000 + 1 + 44 = 1045
    with pytest.raises(ConfigError, match=r"answers\[hours\]\.text\.default: 1045 characters"):
        config("whatsapp", over)
    assert config("telegram", over) and config("whatsapp", {**over, "disclosure": ""})
    assert config("whatsapp", {**QUICK, "handoff": "y" * 4096})  # a text message: 4,096 characters


def test_telegram_takes_long_titles_and_the_thanks_knows_answer_only() -> None:
    assert config("telegram", _with(button="Our opening hours today")).answers[0].button
    bad = replace_thanks("Thanks {first_name}")
    with pytest.raises(ConfigError, match=r"ask.thanks.default: unknown placeholder \{first_name\} \(use \{answer\}\)"):
        config("facebook", bad)


def replace_thanks(thanks: str) -> dict[str, Any]:
    order = {**QUICK["answers"][1], "ask": {**QUICK["answers"][1]["ask"], "thanks": thanks}}
    return {**QUICK, "answers": [QUICK["answers"][0], order, QUICK["answers"][2]]}


def test_the_config_file_carries_it_per_channel() -> None:
    from bridge.config import parse

    raw = {"zendesk": {"url": "https://acme.zendesk.com", "email": "a@b.c", "api_token": "t"},
           "channels": [{"name": "acme-tg", "platform": "telegram", "bot_token": "1:x", "secret_token": "s",
                         "quick": QUICK}]}  # fmt: skip
    assert parse(raw, env={}).quick["acme-tg"].answers[0].name == "hours"
    raw["channels"][0]["quick"] = _with(regex="([")  # type: ignore[index]
    with pytest.raises(ConfigError, match=r"channels\[acme-tg\]\.quick\.answers\[hours\]\.regex"):
        parse(raw, env={})
    assert replace(facts("x"), text="y").text == "y"


@pytest.mark.parametrize(
    ("quick", "line"),
    [
        (_with(regex="(["), "channels[acme-facebook].quick.answers[hours].regex: invalid regular expression '(['"),
        (_with(button="Our opening hours today"),
         "channels[acme-facebook].quick.answers[hours].button.default: 23 characters: a facebook button title has "
         "at most 20"),
    ],
)  # fmt: skip
def test_a_bad_quick_answer_fails_doctor_with_one_line_naming_the_key(
    tmp_path: Path, quick: dict[str, Any], line: str
) -> None:
    raw = raw_config(database_url=f"sqlite:///{tmp_path}/s.db")
    raw["channels"][0]["quick"] = quick
    (tmp_path / "socialdesk.toml").write_text(to_toml(raw))
    run = CliRunner().invoke(cli.main, ["doctor", "--config", str(tmp_path / "socialdesk.toml")])
    assert run.exit_code == cli.EX_CONFIG and run.stdout == ""
    assert run.stderr.startswith(f"Error: configuration: {line}") and run.stderr.count("\n") == 1
