"""bridge.replies: the acknowledgement decision for one message, and the ``[channels.ack]`` config it reads."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bridge.config import parse
from bridge.errors import ConfigError
from bridge.replies import AckConfig, AckFacts, AutoAck, NoAck, decide, first_name, send_blocker

CONFIG = AckConfig(
    instant={"default": "Thanks {first_name}! We answer {promise}.", "de": "Danke {first_name}! Antwort {promise}."},
    away={"default": "Hi {first_name}, we are closed; we answer {promise}. Ticket {ticket}."},
    apology={"default": "Sorry, {first_name}. A person looks at this {promise}."},
    disclosure="",
)
FACTS = AckFacts(
    platform="facebook", public=False, own_post=False, ticket="42", first_name="Ann",
    language="en", sentiment="neutral", urgency="normal", open=True, promise="by 9:00 tomorrow",
)  # fmt: skip


def text_of(facts: AckFacts, config: AckConfig = CONFIG) -> str:
    verdict = decide(facts, config)
    assert isinstance(verdict, AutoAck), verdict
    return verdict.text


def reason_of(facts: AckFacts, config: AckConfig = CONFIG) -> str:
    verdict = decide(facts, config)
    assert isinstance(verdict, NoAck), verdict
    return verdict.reason


def test_open_hours_get_the_instant_reply_closed_hours_the_away_one_in_the_customers_language() -> None:
    assert text_of(FACTS) == "Thanks Ann! We answer by 9:00 tomorrow."
    assert text_of(replace(FACTS, open=False)) == "Hi Ann, we are closed; we answer by 9:00 tomorrow. Ticket 42."
    assert text_of(replace(FACTS, language="de")) == "Danke Ann! Antwort by 9:00 tomorrow."
    assert text_of(replace(FACTS, language="pt-BR")).startswith("Thanks Ann!")  # no Portuguese: the default


@pytest.mark.parametrize(
    "changes",
    [{"sentiment": "negative"}, {"urgency": "high"}, {"sentiment": "negative", "open": False}],
)
def test_a_negative_or_urgent_message_gets_the_apology_never_a_cheerful_template(changes: dict[str, Any]) -> None:
    assert text_of(replace(FACTS, **changes)) == "Sorry, Ann. A person looks at this by 9:00 tomorrow."
    assert reason_of(replace(FACTS, **changes), replace(CONFIG, apology=None)).endswith(
        "apology template not configured"
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"own_post": True}, "the brand's own post"),
        ({"acked_in_episode": True}, "already acknowledged in this episode"),
        ({"agent_answering": True}, "an agent is already answering"),
        ({"public": True}, "public comment: acks are for private channels by default"),
        ({"open": None, "unknown_reason": "never read"}, "schedule unknown: never read"),
        ({"sentiment": "unknown"}, "sentiment unknown: the classifier failed"),
        ({"rule_off": "rule press"}, "rule press: no automatic acknowledgement"),
        ({"promise": None}, "the instant template promises a time, and the channel's calendar has no target"),
    ],
)
def test_no_ack_and_why(changes: dict[str, Any], reason: str) -> None:
    assert reason_of(replace(FACTS, **changes)) == reason


def test_a_public_ack_is_opt_in_and_never_names_the_customer() -> None:
    public = replace(CONFIG, public=True)
    assert text_of(replace(FACTS, public=True), public) == "Thanks! We answer by 9:00 tomorrow."
    assert text_of(replace(FACTS, public=True, sentiment="negative"), public).startswith("Sorry. A person")


def test_the_disclosure_line_ends_the_message_and_x_length_is_kept() -> None:
    disclosed = replace(CONFIG, disclosure="(automated)")
    assert text_of(FACTS, disclosed) == "Thanks Ann! We answer by 9:00 tomorrow.\n(automated)"
    fits = replace(CONFIG, instant={"default": "x" * 276 + " {first_name}"})  # 280 exactly
    assert len(text_of(replace(FACTS, platform="x"), fits)) == 280
    assert text_of(replace(FACTS, platform="facebook"), replace(fits, disclosure="(automated)"))
    too_long = replace(FACTS, platform="x")
    assert (
        reason_of(too_long, replace(fits, disclosure="(automated)"))
        == "the instant text counts 292 on X, more than its 280"
    )
    wide = replace(CONFIG, instant={"default": "謝" * 140 + "{first_name}"})  # each counts 2 on X
    assert reason_of(too_long, wide) == "the instant text counts 283 on X, more than its 280"


def test_the_platform_windows_at_send_time() -> None:
    day = timedelta(hours=24)
    assert send_blocker("facebook", False, day + timedelta(seconds=1)) == "outside the 24-hour window"
    assert send_blocker("whatsapp", False, day + timedelta(seconds=1)) == "outside the 24-hour window"
    assert send_blocker("whatsapp", False, day - timedelta(seconds=1)) is None
    assert send_blocker("facebook", True, day * 3) is None  # a public comment has no messaging window
    assert send_blocker("telegram", False, day * 3) is None


def test_first_names() -> None:
    assert first_name("Ann Lee") == "Ann"
    assert first_name("@ann") is None and first_name("user 123") is None and first_name(None) is None


# -- [channels.ack] -----------------------------------------------------------------------------------------------

BASE: dict[str, Any] = {
    "zendesk": {"url": "https://acme.zendesk.com", "email": "a@acme.test", "api_token": "t"},
}


def with_ack(ack: dict[str, Any]) -> dict[str, Any]:
    channel = {"name": "acme-facebook", "platform": "facebook", "account_id": "1", "access_token": "t",
               "app_secret": "s", "verify_token": "v", "ack": ack}  # fmt: skip
    return {**BASE, "channels": [channel]}


def test_the_ack_table_becomes_the_channels_settings() -> None:
    config = parse(with_ack({"away": "Back {promise}", "apology": {"default": "Sorry", "fr": "Pardon"}}), env={})
    ack = config.acks["acme-facebook"]
    assert ack.away == {"default": "Back {promise}"} and ack.apology == {"default": "Sorry", "fr": "Pardon"}
    assert (ack.instant, ack.delay, ack.public) == (None, 60.0, False)


@pytest.mark.parametrize(
    ("ack", "message"),
    [
        ({"away": {"default": "Hi", "fr": "Bonjour {nom}"}},
         "channels[acme-facebook].ack.away.fr: unknown placeholder {nom} (use {first_name}, {promise}, {ticket})"),
        ({"instant": "Hi {first_name"},
         "channels[acme-facebook].ack.instant.default: expected '}' before end of string"),
        ({"apology": {"fr": "Pardon"}}, "channels[acme-facebook].ack.apology: a 'default' template is required"),
        ({"away": "Ticket {ticket!x}"}, "channels[acme-facebook].ack.away.default: Unknown conversion specifier x"),
        ({"away": "By {promise:d}"}, "channels[acme-facebook].ack.away.default: Unknown format code 'd'"),
        ({"delay": -1}, "channels[acme-facebook].ack.delay: -1 must be greater than or equal to 0"),
        ({"quiet_hours": 12}, "channels[acme-facebook].ack.quiet_hours: unknown key (the quiet period that starts a"
         " new episode is `episode_quiet_hours` under [metrics], one for the acknowledgements and the figures)"),
    ],
)  # fmt: skip
def test_a_bad_ack_table_is_one_line_naming_the_key(ack: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse(with_ack(ack), env={})
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)
