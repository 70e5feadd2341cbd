"""Episodes and first-response figures (bridge.figures), on fixed clocks: no wall time anywhere."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bridge.events import AuthorKind
from bridge.figures import (
    MessageRow,
    ReplyRow,
    bucket,
    buckets,
    episodes,
    figures,
    opens_episode,
    percentile,
)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC).timestamp()  # a Monday, 09:00 UTC
MIN, HOUR, DAY = 60.0, 3600.0, 86400.0


def msg(at: float, *, thread: str = "t1", channel: str = "acme-facebook", opens: bool = False) -> MessageRow:
    return MessageRow(thread, channel, "facebook", T0 + at, opens)


def reply(
    written: float, delivered: float | None, *, thread: str = "t1", status: str = "sent",
    kind: AuthorKind = AuthorKind.HUMAN,
) -> ReplyRow:  # fmt: skip
    return ReplyRow(thread, T0 + written, None if delivered is None else T0 + delivered, status, kind)


def test_first_response_is_measured_from_the_customers_platform_time_to_delivery() -> None:
    [episode] = episodes([msg(0), msg(5 * MIN)], [reply(9 * MIN, 10 * MIN), reply(20 * MIN, 21 * MIN)])
    assert episode.started_at == T0 and episode.messages == 2
    assert episode.first_response_seconds == 10 * MIN  # delivered at 09:10, not written at 09:09


def test_a_quiet_period_or_a_closed_ticket_opens_an_episode() -> None:
    quiet = 24 * HOUR
    assert opens_episode(None, T0, quiet=quiet, ticket_replaced=False)
    assert not opens_episode(T0, T0 + quiet, quiet=quiet, ticket_replaced=False)  # exactly 24 h: same episode
    assert opens_episode(T0, T0 + quiet + 1, quiet=quiet, ticket_replaced=False)
    assert opens_episode(T0, T0 + MIN, quiet=quiet, ticket_replaced=True)


def test_each_reply_answers_the_episode_it_was_written_in() -> None:
    rows = [msg(0), msg(2 * DAY, opens=True)]
    first, second = episodes(rows, [reply(HOUR, HOUR + MIN), reply(2 * DAY + 30 * MIN, 2 * DAY + 31 * MIN)])
    assert first.first_response_seconds == HOUR + MIN
    assert second.started_at == T0 + 2 * DAY and second.first_response_seconds == 31 * MIN


def test_failed_unknown_and_automatic_replies_are_no_response() -> None:
    replies = [
        reply(MIN, None, status="failed"),
        reply(2 * MIN, None, status="unknown"),
        reply(3 * MIN, 3 * MIN, kind=AuthorKind.AUTO_ACK),
        reply(4 * MIN, 4 * MIN, kind=AuthorKind.BOT),
        reply(5 * MIN, 5 * MIN, kind=AuthorKind.SYSTEM),
    ]
    [unanswered] = episodes([msg(0)], replies)
    assert unanswered.first_response_at is None
    [answered] = episodes([msg(0)], [*replies, reply(2 * HOUR, 2 * HOUR + 5)])
    assert answered.first_response_seconds == 2 * HOUR + 5


def test_threads_are_apart_and_messages_out_of_order_are_sorted_by_platform_time() -> None:
    rows = [msg(10 * MIN), msg(0), msg(MIN, thread="t2", channel="acme-x")]
    found = episodes(rows, [reply(20 * MIN, 20 * MIN), reply(2 * MIN, 4 * MIN, thread="t2")])
    assert [(e.thread_key, e.started_at - T0, e.first_response_seconds) for e in found] == [
        ("t1", 0, 20 * MIN),
        ("t2", MIN, 3 * MIN),
    ]


def test_figures_per_channel_median_p90_and_buckets() -> None:
    # ten Facebook threads answered after 1..10 × 10 minutes, one left unanswered; one X thread after 2 days
    rows = [msg(0, thread=f"fb{i}") for i in range(11)] + [msg(0, thread="x1", channel="acme-x")]
    replies = [reply(0, i * 10 * MIN, thread=f"fb{i}") for i in range(1, 11)] + [reply(0, 2 * DAY, thread="x1")]
    result = figures(episodes(rows, replies))
    fb, x = result["acme-facebook"], result["acme-x"]
    assert (fb.episodes, fb.answered) == (11, 10)
    assert fb.median == 55 * MIN and fb.p90 == 90 * MIN
    assert fb.buckets == {"<=15m": 1, "<=1h": 5, "<=4h": 4, "<=24h": 0, "more": 0}
    assert (x.episodes, x.answered, x.median, x.buckets["more"]) == (1, 1, 2 * DAY, 1)


@pytest.mark.parametrize(
    ("seconds", "name"),
    [(0, "<=15m"), (15 * MIN, "<=15m"), (15 * MIN + 1, "<=1h"), (HOUR, "<=1h"), (4 * HOUR, "<=4h"),
     (DAY, "<=24h"), (DAY + 1, "more")],
)  # fmt: skip
def test_bucket_bounds_are_inclusive(seconds: float, name: str) -> None:
    assert bucket(seconds) == name


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.9) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([float(i) for i in range(1, 21)], 0.9) == 18.0
    assert sum(buckets([1.0, 2.0, 1e9]).values()) == 3
