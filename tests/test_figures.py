"""The episode rule and the buckets (bridge.figures), and the figures built from rows (bridge.figbuild) per episode
and channel, on fixed clocks: no wall time anywhere."""

from __future__ import annotations

import pytest

from bridge.figbuild import build
from bridge.figures import bucket, buckets, opens_episode, percentile
from tests.test_figbuild import DAY, HOUR, MIN, NOVEMBER, T0, msg, reply


def test_a_quiet_period_or_a_closed_ticket_opens_an_episode() -> None:
    quiet = 24 * HOUR
    assert opens_episode(None, T0, quiet=quiet, ticket_replaced=False)
    assert not opens_episode(T0, T0 + quiet, quiet=quiet, ticket_replaced=False)  # exactly 24 h: same episode
    assert opens_episode(T0, T0 + quiet + 1, quiet=quiet, ticket_replaced=False)
    assert opens_episode(T0, T0 + MIN, quiet=quiet, ticket_replaced=True)


def test_each_reply_answers_the_episode_it_was_written_in() -> None:
    rows = [msg(T0, opens=True), msg(T0 + 2 * DAY, opens=True)]
    replies = [reply(T0 + HOUR, T0 + HOUR + MIN), reply(T0 + 2 * DAY + 30 * MIN, T0 + 2 * DAY + 31 * MIN)]
    first, second = build(rows, replies, NOVEMBER).episodes
    assert first.first_response == HOUR + MIN
    assert second.started_at == T0 + 2 * DAY and second.first_response == 31 * MIN


def test_threads_are_apart_and_messages_out_of_order_are_sorted_by_platform_time() -> None:
    rows = [msg(T0 + 10 * MIN), msg(T0, opens=True), msg(T0 + MIN, thread="t2", channel="acme-x", opens=True)]
    found = build(rows, [reply(T0 + 20 * MIN, T0 + 20 * MIN), reply(T0 + 2 * MIN, T0 + 4 * MIN, thread="t2")],
                  NOVEMBER).episodes  # fmt: skip
    assert [(e.thread_key, e.started_at - T0, e.messages, e.first_response) for e in found] == [
        ("t1", 0, 2, 20 * MIN),
        ("t2", MIN, 1, 3 * MIN),
    ]


def test_figures_per_channel_median_p90_and_buckets() -> None:
    # ten Facebook threads answered after 1..10 × 10 minutes, one left unanswered; one X thread after 2 days
    rows = [msg(T0, thread=f"fb{i}", opens=True) for i in range(11)]
    rows.append(msg(T0, thread="x1", channel="acme-x", opens=True))
    replies = [reply(T0, T0 + i * 10 * MIN, thread=f"fb{i}") for i in range(1, 11)] + [
        reply(T0, T0 + 2 * DAY, thread="x1")
    ]
    result = build(rows, replies, NOVEMBER).channels
    fb, x = result["acme-facebook"].first_response, result["acme-x"].first_response
    assert (result["acme-facebook"].episodes, result["acme-facebook"].answered) == (11, 10)
    assert fb.median == 55 * MIN and fb.p90 == 90 * MIN
    assert fb.buckets == {"<=15m": 1, "<=1h": 5, "<=4h": 4, "<=24h": 0, "more": 0}
    assert (result["acme-x"].episodes, x.count, x.median, x.buckets["more"]) == (1, 1, 2 * DAY, 1)


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
