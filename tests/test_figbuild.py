"""The service figures (bridge.figbuild) from rows on fixed clocks, across time zones and DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bridge import messages
from bridge.calendars import Unknown, calendar
from bridge.events import AuthorKind
from bridge.figbuild import UNKNOWN_OUTCOME, build
from bridge.figmodel import MessageFact, Period, PeriodError, ReplyFact, month, period, timezone

UTC_ZONE, BERLIN, NEW_YORK = ZoneInfo("UTC"), ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
MIN, HOUR, DAY = 60.0, 3600.0, 86400.0
NOVEMBER = month("2026-11", UTC_ZONE)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


T0 = at(2026, 11, 2, 9, 0)  # a Monday


def msg(
    when: float, *, thread: str = "t1", opens: bool = False, channel: str = "acme-facebook", lag: float = 2.0,
    sentiment: str | None = None, no_answer: bool = False, solved: float | None = None, kind: str = "message",
) -> MessageFact:  # fmt: skip
    platform = channel.split("-")[1]
    return MessageFact(thread, channel, platform, kind, when, when + lag, opens, sentiment, no_answer, solved)


def reply(
    written: float, delivered: float | None, *, thread: str = "t1", status: str = "sent",
    kind: AuthorKind = AuthorKind.HUMAN, error: str | None = None, receipt: str | None = None,
) -> ReplyFact:  # fmt: skip
    return ReplyFact(thread, written, delivered, status, kind, error, receipt)


def test_first_response_is_the_first_human_reply_delivered_from_the_customers_platform_time() -> None:
    messages = [msg(T0, opens=True, lag=30), msg(T0 + 5 * MIN, lag=10)]
    replies = [
        reply(T0 + MIN, None, status="failed", error="window closed\nmore"),
        reply(T0 + 2 * MIN, None, status="unknown"),
        reply(T0 + 3 * MIN, T0 + 3 * MIN, kind=AuthorKind.AUTO_ACK),
        reply(T0 + 9 * MIN, T0 + 10 * MIN),
        reply(T0 + 30 * MIN, T0 + 31 * MIN),
    ]
    figures = build(messages, replies, NOVEMBER)
    [row] = figures.episodes
    assert row.first_response == 10 * MIN and row.acknowledged and row.answered_by == "person"
    total = figures.total
    assert (total.messages, total.episodes, total.answered, total.response_rate) == (2, 1, 1, 1.0)
    assert total.response.count == 2 and total.response.mean == (10 * MIN + 5 * MIN) / 2  # each message's own wait
    assert total.failures == {"window closed": 1, UNKNOWN_OUTCOME: 1}
    assert total.ingest_lag.median == 20 and total.first_response.buckets["<=15m"] == 1


def test_a_partly_delivered_reply_is_no_response_and_is_listed_with_the_failures() -> None:
    # the platform took part of it (a comment's private reply) and refused the rest: /metrics counts it in
    # socialdesk_replies_failed_total, and the agent was told; the figures must not lose it either
    note = messages.partial_delivery_note("the comment was deleted")
    figures = build([msg(T0, opens=True)], [reply(T0 + MIN, None, status="partial", error=note)], NOVEMBER)
    assert figures.total.answered == 0 and figures.episodes[0].answered_by == "none"
    assert figures.total.failures == {"partly delivered: the comment was deleted": 1}


def test_failures_are_counted_by_the_reason_in_the_agents_note_not_its_first_line() -> None:
    # every failed reply's note starts with the same sentence: that is no reason
    messages_ = [msg(T0, thread=t, opens=True) for t in ("a", "b", "c")]
    replies = [
        reply(T0 + MIN, None, thread="a", status="failed", error=messages.delivery_failed_note("window closed")),
        reply(T0 + MIN, None, thread="b", status="failed", error=messages.delivery_failed_note("window closed")),
        reply(T0 + MIN, None, thread="c", status="failed", error=messages.delivery_failed_note("user blocked us")),
    ]
    assert build(messages_, replies, NOVEMBER).total.failures == {"window closed": 2, "user blocked us": 1}


def test_a_reply_stamped_in_the_same_second_as_the_message_answers_it() -> None:
    # the helpdesk stamps comments to the second: 09:00:00 for a reply to a message sent at 09:00:00.4
    messages = [msg(T0 + 0.4, opens=True), msg(T0 + 3 * DAY + 0.7, opens=True)]
    replies = [reply(T0, T0 + 1.5), reply(T0 + 3 * DAY, T0 + 3 * DAY + 2.0)]
    first, second = build(messages, replies, NOVEMBER).episodes
    assert first.first_response == pytest.approx(1.1) and first.responses == 1
    assert second.first_response == pytest.approx(1.3) and second.responses == 1


def test_bot_answers_are_no_response_by_a_person_but_have_their_own_figures() -> None:
    messages = [msg(T0, thread=t, opens=True) for t in ("bot", "handed", "x")]
    replies = [
        reply(T0 + MIN, T0 + MIN, thread="bot", kind=AuthorKind.BOT),
        reply(T0 + MIN, T0 + MIN, thread="handed", kind=AuthorKind.BOT),
        reply(T0 + HOUR, T0 + HOUR, thread="handed"),
        reply(T0 + MIN, T0 + MIN, thread="x", kind=AuthorKind.SYSTEM),
    ]
    total = build(messages, replies, NOVEMBER).total
    assert (total.episodes, total.answered, total.response_rate) == (3, 1, 1 / 3)
    assert (total.bot_answered, total.bot_only, total.handed_off) == (2, 1, 1)
    assert total.first_response.median == HOUR


def test_episodes_needing_no_answer_are_left_out_of_the_response_rate() -> None:
    messages = [msg(T0, thread="a", opens=True), msg(T0, thread="thanks", opens=True, no_answer=True)]
    total = build(messages, [reply(T0 + MIN, T0 + MIN, thread="a")], NOVEMBER).total
    assert (total.episodes, total.needing_answer, total.answered, total.response_rate) == (2, 1, 1, 1.0)


def test_a_reply_belongs_to_the_episode_it_was_written_in_even_after_the_period() -> None:
    # the thread's episode of 30 November is never answered; the next one (3 December, outside the period)
    # is: that reply must not count for November
    messages = [msg(at(2026, 11, 30, 10, 0), opens=True)]
    replies = [reply(at(2026, 12, 3, 10, 5), at(2026, 12, 3, 10, 6))]
    figures = build(messages, replies, NOVEMBER, fences={"t1": at(2026, 12, 3, 10, 0)})
    assert figures.total.answered == 0
    assert build(messages, replies, NOVEMBER).total.answered == 1  # without the fence it would be


def test_messages_continuing_an_earlier_episode_count_in_the_volume_only() -> None:
    messages = [msg(at(2026, 11, 1, 0, 10)), msg(at(2026, 11, 1, 0, 20)), msg(at(2026, 11, 1, 9, 0), opens=True)]
    figures = build(messages, [reply(at(2026, 11, 1, 0, 30), at(2026, 11, 1, 0, 31))], NOVEMBER)
    continued, episode = figures.episodes
    assert continued.continued and continued.messages == 2 and episode.messages == 1
    assert (figures.total.messages, figures.total.episodes, figures.total.answered) == (3, 1, 0)
    assert figures.total.response.count == 2  # the earlier episode's messages were answered


def test_the_period_and_each_day_are_the_time_zones_across_a_dst_change() -> None:
    # 1 November 2026, 00:30 in Berlin (CET since 25 October) is 31 October 23:30 UTC
    late_october_utc = at(2026, 10, 31, 23, 30)
    assert build([msg(late_october_utc, opens=True)], [], month("2026-11", BERLIN)).total.episodes == 1
    assert build([msg(late_october_utc, opens=True)], [], NOVEMBER).total.episodes == 0
    # New York leaves DST on 1 November 2026: that day lasts 25 hours; 23:30 EST is 04:30 UTC on the 2nd
    ny = month("2026-11", NEW_YORK)
    both = [msg(at(2026, 11, 2, 4, 30), opens=True), msg(at(2026, 11, 1, 4, 30), opens=True, thread="t2")]
    figures = build(both, [], ny)
    assert ny.until - ny.since == 30 * DAY + HOUR
    assert [(p.day, p.episodes) for p in figures.days if p.episodes] == [(date(2026, 11, 1), 2)]
    assert figures.attribution.endswith("America/New_York") and len(figures.days) == 30


def test_business_time_counts_the_channels_open_hours_across_the_dst_change() -> None:
    berlin = calendar("support", "Europe/Berlin", ["mon-fri 09:00-18:00"])
    asked = at(2026, 10, 23, 15, 30)  # Friday 17:30 CEST
    answered = at(2026, 10, 26, 8, 30)  # Monday 09:30 CET: the clocks went back on Sunday
    messages, replies = [msg(asked, opens=True)], [reply(answered - MIN, answered)]
    [row] = build(messages, replies, month("2026-10", BERLIN), calendars={"acme-facebook": berlin}).episodes
    assert row.first_response == 65 * HOUR and row.first_response_business == HOUR
    figures = build(messages, replies, month("2026-10", BERLIN), calendars={"acme-facebook": Unknown("never read")})
    assert figures.episodes[0].first_response_business is None and figures.total.first_response_business.count == 0
    assert figures.calendars["acme-facebook"].startswith("unknown")
    assert build(messages, replies, month("2026-10", BERLIN)).calendars == {"acme-facebook": "24/7"}


def test_figures_per_channel_and_platform_and_sentiment_and_resolution() -> None:
    messages = [
        msg(T0, opens=True, sentiment="negative", solved=T0 + 2 * HOUR),
        msg(T0, opens=True, thread="x1", channel="acme-x", sentiment="positive"),
        msg(T0 + MIN, thread="x1", channel="acme-x"),
    ]
    figures = build(messages, [reply(T0 + MIN, T0 + 20 * MIN, thread="x1")], NOVEMBER)
    assert set(figures.channels) == {"acme-facebook", "acme-x"} and set(figures.platforms) == {"facebook", "x"}
    assert figures.channels["acme-x"].first_response.buckets["<=1h"] == 1
    assert figures.channels["acme-facebook"].resolution.median == 2 * HOUR
    assert figures.total.sentiment == {"negative": 1, "positive": 1, "unclassified": 1}
    only_x = build(messages, [], NOVEMBER, channel="acme-x")
    assert only_x.total.messages == 2 and set(only_x.channels) == {"acme-x"}


@pytest.mark.parametrize("text", ["2026-13", "26-11", "2026-11-31..2026-12-01", "2026-12-01..2026-11-01", "0d", "x"])
def test_a_malformed_period_is_refused(text: str) -> None:
    with pytest.raises(PeriodError):
        period(text, UTC_ZONE, date(2026, 11, 15))


def test_periods_and_zones() -> None:
    today = date(2026, 11, 15)
    assert period("7d", UTC_ZONE, today) == Period(date(2026, 11, 9), date(2026, 11, 16), UTC_ZONE)
    assert period("2026-11-01..2026-11-30", UTC_ZONE, today) == NOVEMBER
    assert month("2026-02", UTC_ZONE).days[-1] == date(2026, 2, 28)
    with pytest.raises(PeriodError, match="time zone"):
        timezone("Mars/Olympus")


def test_the_figures_as_json() -> None:
    import json

    from bridge.figjson import as_dict

    figures = build([msg(T0, opens=True)], [reply(T0 + MIN, T0 + 2 * MIN)], month("2026-11", BERLIN))
    data = json.loads(json.dumps(as_dict(figures, episodes=True)))
    assert data["period"] == {"start": "2026-11-01", "end": "2026-12-01", "tz": "Europe/Berlin",
                              "label": "2026-11-01 to 2026-11-30 (Europe/Berlin)"}  # fmt: skip
    assert data["total"]["first_response"]["median"] == 2 * MIN and data["days"][1]["day"] == "2026-11-02"
    assert data["episodes"][0]["day"] == "2026-11-02" and "episodes" not in as_dict(figures)


def test_buckets_by_bisection_are_the_bucket_rule() -> None:
    from bridge.figbuild import sorted_buckets
    from bridge.figures import buckets

    values = sorted([0.0, 900.0, 900.5, 3600.0, 3601.0, 14400.0, 86400.0, 86401.0, 1e9])
    assert sorted_buckets(values) == buckets(values) == {"<=15m": 2, "<=1h": 2, "<=4h": 2, "<=24h": 1, "more": 2}


def test_the_day_of_an_instant_is_the_zones_across_the_dst_change() -> None:
    ny = month("2026-11", NEW_YORK)
    assert ny.day_of(at(2026, 11, 1, 4, 0)) == date(2026, 11, 1)  # 00:00 EDT
    assert ny.day_of(at(2026, 11, 2, 4, 59)) == date(2026, 11, 1)  # 23:59 EST: the 1st had 25 hours
    assert ny.day_of(at(2026, 11, 2, 5, 0)) == date(2026, 11, 2)
    assert ny.day_of(at(2026, 12, 1, 5, 0)) == date(2026, 12, 1) and ny.day_of(at(2026, 11, 1, 3, 59)) == date(
        2026, 10, 31
    )
