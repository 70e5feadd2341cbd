"""Facebook's responsiveness badge, estimated (bridge.badge): Facebook's 24-hour rule, the last 7 days, people's
replies apart from automatic ones; from the store on SQLite and PostgreSQL."""

from __future__ import annotations

from bridge.badge import badges, estimate
from bridge.events import AuthorKind
from bridge.figbuild import FAILED_RECEIPT
from bridge.figmodel import FB_WARNING
from bridge.store import Store
from tests.figfacts import any_store, store_facts
from tests.test_figbuild import DAY, HOUR, MIN, T0, msg, reply

__all__ = ["any_store"]
NOW = T0 + 6 * DAY
PAGE = "acme-facebook"


def test_only_a_message_after_24_hours_of_silence_counts_and_replies_end_the_silence() -> None:
    messages = [
        msg(T0, opens=True),  # counts
        msg(T0 + 10 * HOUR),  # the customer wrote 10 h before: no
        msg(T0 + 40 * HOUR),  # 30 h after the customer, but the page answered 20 h before: no
        msg(T0 + 3 * DAY, thread="t2", opens=True),  # counts, answered by a person in 5 minutes
        msg(T0 - 3 * DAY, thread="t3", opens=True),  # before the 7 days
        msg(T0 + DAY, thread="c1", opens=True, kind="comment"),  # a comment: not Messenger
    ]
    replies = [
        reply(T0 + 19 * HOUR, T0 + 20 * HOUR),
        reply(T0 + 3 * DAY, T0 + 3 * DAY + MIN, thread="t2", kind=AuthorKind.AUTO_ACK),
        reply(T0 + 3 * DAY, T0 + 3 * DAY + 5 * MIN, thread="t2"),
    ]
    badge = estimate(PAGE, messages, replies, NOW)
    assert badge.counted == 2 and badge.response_rate == 1.0
    assert badge.median_response == (20 * HOUR + 5 * MIN) / 2 and not badge.very_responsive
    assert badge.median_response_with_automated == (20 * HOUR + MIN) / 2 and badge.warning == FB_WARNING


def test_automatic_replies_count_for_facebook_but_not_for_the_people_figures() -> None:
    messages = [msg(T0 + i * DAY, thread=f"t{i}", opens=True) for i in range(5)]
    replies = [reply(T0 + i * DAY, T0 + i * DAY + 30, thread=f"t{i}", kind=AuthorKind.AUTO_ACK) for i in range(5)]
    replies += [reply(T0, T0 + 10 * MIN, thread="t0"), reply(T0 + DAY, T0 + DAY + 12 * MIN, thread="t1")]
    badge = estimate(PAGE, messages, replies, NOW)
    assert (badge.response_rate, badge.response_rate_with_automated) == (0.4, 1.0)
    assert badge.median_response == 11 * MIN and badge.median_response_with_automated == 30
    assert not badge.very_responsive  # 40 % by people; Facebook would show the badge
    answered = replies + [reply(T0 + i * DAY, T0 + i * DAY + MIN, thread=f"t{i}") for i in range(2, 5)]
    assert estimate(PAGE, messages, answered, NOW).very_responsive


def test_a_reply_the_platform_reported_failed_after_sending_answers_nothing() -> None:
    messages = [msg(T0, opens=True), msg(T0 + DAY, thread="t2", opens=True)]
    replies = [reply(T0 + MIN, T0 + 2 * MIN, receipt=FAILED_RECEIPT),
               reply(T0 + DAY, T0 + DAY + 3 * MIN, thread="t2", kind=AuthorKind.AUTO_ACK, receipt=FAILED_RECEIPT),
               reply(T0 + DAY, T0 + DAY + 5 * MIN, thread="t2")]  # fmt: skip
    badge = estimate(PAGE, messages, replies, NOW)
    assert (badge.counted, badge.response_rate, badge.median_response) == (2, 0.5, 5 * MIN)
    assert badge.median_response_with_automated == 5 * MIN


def test_badges_per_facebook_page_from_the_store(any_store: Store) -> None:
    store_facts(any_store, [msg(T0, opens=True), msg(T0, thread="x", channel="acme-x", opens=True)],
                [reply(T0, T0 + 3 * MIN)])  # fmt: skip
    [badge] = badges(any_store, [(PAGE, "facebook"), ("acme-x", "x")], NOW)
    assert (badge.channel, badge.counted, badge.median_response, badge.very_responsive) == (PAGE, 1, 3 * MIN, True)
    assert badges(any_store, [("acme-x", "x")], NOW) == []
