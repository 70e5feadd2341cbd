"""``Retry-After`` as vendors (and the proxies in front of them) really send it: one parser, capped.

A value that is not a number raised ``ValueError`` out of the connector (a bug, dead-lettering the work),
and ``inf`` or ``1e400`` paused the connector for ever. Each connector is driven over real HTTP against
its simulator answering 429 with the hostile value.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bridge import errors
from bridge.retry import MAX_RETRY_AFTER, RetryPolicy, parse_retry_after
from bridge.store import Store
from connectors.freshdesk import FreshdeskHelpdesk
from connectors.telegram import TelegramChannel
from connectors.x import XChannel
from connectors.zendesk import ZendeskHelpdesk
from sandbox.base import Fault, Simulator
from sandbox.freshdesk import FreshdeskSimulator
from sandbox.telegram import BotApiError, TelegramSimulator
from sandbox.x import XSimulator
from sandbox.zendesk import ZendeskSimulator

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30", 30.0),
        (" 12 ", 12.0),
        ("1.5", 1.5),  # not RFC 9110's delay-seconds, but sent in the wild
        ("0", 0.0),
        (email.utils.formatdate(NOW + 90, usegmt=True), 90.0),  # an HTTP-date (IMF-fixdate)
        ("Sun, 06 Nov 1994 08:49:37 GMT", 0.0),  # a moment already past: no wait
        (email.utils.formatdate(NOW + 86_400 * 400, usegmt=True), MAX_RETRY_AFTER),
        ("99999999999999999999999", MAX_RETRY_AFTER),
        ("inf", None),
        ("1e400", None),
        ("nan", None),
        ("-5", None),
        ("soon", None),
        ("Mon, 99 Foo 2024", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


HOSTILE = ["soon", "inf", "1e400", "99999999999999999999999", "Wed, 21 Oct 2999 07:28:00 GMT"]


def zendesk() -> tuple[Simulator, Callable[[], object]]:
    sim = ZendeskSimulator(email="bridge@acme.test", api_token="zd-token")
    helpdesk = ZendeskHelpdesk(url=sim.start().url, email="bridge@acme.test", api_token="zd-token", timeout=5)
    return sim, helpdesk.ping


def freshdesk() -> tuple[Simulator, Callable[[], object]]:
    sim = FreshdeskSimulator(api_key="fd-key")
    return sim, FreshdeskHelpdesk(url=sim.start().url, api_key="fd-key", timeout=5).ping


def x() -> tuple[Simulator, Callable[[], object]]:
    sim = XSimulator(
        consumer_key="ck", consumer_secret="cs", access_token="1-at", access_token_secret="ats",
        user_id="1", username="AcmeSupport",
    )  # fmt: skip
    channel = XChannel(
        name="acme-x", consumer_key="ck", consumer_secret="cs", access_token="1-at", access_token_secret="ats",
        api_url=sim.start().url, timeout=5,
    )  # fmt: skip
    return sim, channel.ping


@pytest.fixture(params=[zendesk, freshdesk, x], ids=["zendesk", "freshdesk", "x"])
def connector(request: pytest.FixtureRequest) -> Iterator[tuple[Simulator, Callable[[], object]]]:
    sim, ping = request.param()
    yield sim, ping
    sim.stop()


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_retry_after_is_a_bounded_rate_limit(
    connector: tuple[Simulator, Callable[[], object]], value: str
) -> None:
    sim, ping = connector
    sim.inject(Fault(429, headers={"Retry-After": value}, body={"error": "slow down"}))
    with pytest.raises(errors.RateLimited) as caught:
        ping()
    wait = caught.value.retry_after
    assert wait is None or 0 <= wait <= MAX_RETRY_AFTER


def test_telegram_flood_control_is_capped() -> None:
    with TelegramSimulator(bot_token="7000000001:AAH-token") as sim:
        channel = TelegramChannel(name="acme-telegram", bot_token="7000000001:AAH-token", api_url=sim.url, timeout=5)
        error = BotApiError(429, "Too Many Requests: retry after 10^30", {"retry_after": 10**30})
        sim.inject(Fault(429, path_prefix="/bot", body=error.body()))
        with pytest.raises(errors.RateLimited) as caught:
            channel.ping()
    assert caught.value.retry_after == MAX_RETRY_AFTER


def test_an_endless_retry_after_pauses_the_connector_an_hour_at_most(tmp_path: Path) -> None:
    """Through the one retry policy and its shared pause board: the pause ends."""
    store = Store.from_url(f"sqlite:///{tmp_path}/s.db")
    with ZendeskSimulator(email="bridge@acme.test", api_token="zd-token") as sim:
        helpdesk = ZendeskHelpdesk(url=sim.url, email="bridge@acme.test", api_token="zd-token", timeout=5)
        sim.inject(Fault(429, headers={"Retry-After": "99999999999999999999999"}, body={"error": "slow down"}))
        with pytest.raises(errors.RateLimited):
            RetryPolicy(store, clock=lambda: NOW).call("zendesk", helpdesk.ping)
    assert 0 < store.paused_until("zendesk") - NOW <= MAX_RETRY_AFTER
