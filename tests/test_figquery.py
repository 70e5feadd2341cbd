"""The service figures read from the store (bridge.figquery) on SQLite and PostgreSQL: the same numbers as
computed from the rows themselves, a period's edges in its time zone, a channel chosen."""

from __future__ import annotations

import sqlalchemy as sa

from bridge.events import AuthorKind
from bridge.figbuild import RECEIPT_FAILED, build
from bridge.figmodel import month
from bridge.figquery import compute
from bridge.store import Store, inbox, threads
from tests.figfacts import any_store, store_facts
from tests.test_figbuild import BERLIN, HOUR, MIN, at, msg, reply

__all__ = ["any_store"]
NOVEMBER_BERLIN = month("2026-11", BERLIN)
MESSAGES = [
    msg(at(2026, 10, 31, 22, 30), opens=True, thread="october"),  # 23:30 CET: October in Berlin
    msg(at(2026, 10, 31, 23, 30), opens=True, sentiment="negative", solved=at(2026, 11, 1, 3, 0)),  # 1 Nov 00:30
    msg(at(2026, 11, 1, 0, 0), lag=120),
    msg(at(2026, 11, 10, 9, 0), opens=True, thread="x1", channel="acme-x", no_answer=True),
    msg(at(2026, 11, 30, 22, 0), opens=True, thread="late"),  # answered only in its next episode, in December
    msg(at(2026, 12, 2, 9, 0), opens=True, thread="late"),
]
REPLIES = [
    reply(at(2026, 11, 1, 0, 10), None, status="failed", error="token expired"),
    reply(at(2026, 11, 1, 0, 20), at(2026, 11, 1, 0, 21), kind=AuthorKind.AUTO_ACK),
    reply(at(2026, 11, 1, 1, 0), at(2026, 11, 1, 1, 1)),
    reply(at(2026, 12, 2, 9, 30), at(2026, 12, 2, 9, 31), thread="late"),
]


def test_the_store_gives_the_figures_the_rows_give(any_store: Store) -> None:
    store_facts(any_store, MESSAGES, REPLIES)
    in_period = [m for m in MESSAGES if NOVEMBER_BERLIN.since <= m.platform_ts < NOVEMBER_BERLIN.until]
    expected = build(in_period, REPLIES, NOVEMBER_BERLIN, fences={"late": at(2026, 12, 2, 9, 0)})
    figures = compute(any_store, NOVEMBER_BERLIN)
    assert figures == expected and figures.episodes == expected.episodes
    total = figures.total
    assert (total.messages, total.episodes, total.needing_answer, total.answered) == (4, 3, 2, 1)
    assert total.first_response.median == HOUR + 31 * MIN and total.resolution.median == 3.5 * HOUR
    assert total.failures == {"token expired": 1} and total.acknowledged == 1
    assert total.sentiment == {"negative": 1, "unclassified": 3} and total.ingest_lag.p90 == 120


def test_a_reply_the_platform_reported_failed_after_sending_is_no_response(any_store: Store) -> None:
    # WhatsApp accepts a message, then sends a status "failed" (a blocked user, an expired window): the
    # customer never saw it
    store_facts(any_store, [msg(at(2026, 11, 3, 9, 0), opens=True)],
                [reply(at(2026, 11, 3, 9, 5), at(2026, 11, 3, 9, 6), receipt="failed")])  # fmt: skip
    total = compute(any_store, NOVEMBER_BERLIN).total
    assert (total.episodes, total.answered, total.first_response.count) == (1, 0, 0)
    assert total.failures == {RECEIPT_FAILED: 1}


def test_the_thread_counts_a_reply_stamped_in_the_messages_second_as_the_figures_do(any_store: Store) -> None:
    # the helpdesk stamps the comment 09:00:00 for a message sent at 09:00:00.7: the figures count it as the
    # answer (test_figbuild), so must the thread's episode (the waiting list, the first-response histogram)
    asked = at(2026, 11, 3, 9, 0) + 0.7
    with any_store.begin() as conn:
        conn.execute(
            sa.insert(threads).values(
                key="t1",
                platform="facebook",
                channel="acme-facebook",
                account_id="page",
                thread_id="messenger:1",
                reply_to="1",
                helpdesk="zendesk",
                episode_started_at=asked,
                created_at=asked,
                updated_at=asked,
            )
        )
    any_store.start_delivery(helpdesk="zendesk", comment_id="c1", ticket_id="1", thread_key="t1", at=asked - 0.7)
    answered = any_store.finish_delivery("zendesk", "c1", status="sent", platform="facebook", message_ids=["m"])
    assert answered.first_response is not None and any_store.rows("threads")[0]["episode_answered_at"] is not None


def test_a_channel_and_rows_not_yet_written_to_the_helpdesk(any_store: Store) -> None:
    store_facts(any_store, MESSAGES, REPLIES)
    with any_store.begin() as conn:  # a message still waiting for the worker: not a figure yet
        conn.execute(sa.update(inbox).where(inbox.c.message_id == "m2").values(opens_episode=None, status="pending"))
    assert compute(any_store, NOVEMBER_BERLIN).total.messages == 3
    only_x = compute(any_store, NOVEMBER_BERLIN, channel="acme-x")
    assert (only_x.total.messages, only_x.total.episodes, only_x.total.response_rate) == (1, 1, None)
    assert compute(any_store, month("2027-01", BERLIN)).total.episodes == 0
    assert len(compute(any_store, month("2026-12", BERLIN)).days) == 31


def test_the_waiting_list_leaves_out_an_episode_solved_or_needing_no_answer(any_store: Store) -> None:
    start = {"waits": at(2026, 11, 3, 9), "solved": at(2026, 11, 3, 8), "no_answer": at(2026, 11, 3, 7),
             "mixed": at(2026, 11, 3, 10), "solved_before": at(2026, 11, 3, 11)}  # fmt: skip
    store_facts(any_store, [
        msg(start["waits"], thread="waits", opens=True),
        msg(start["solved"], thread="solved", opens=True, solved=start["solved"] + HOUR),
        msg(start["no_answer"], thread="no_answer", opens=True, no_answer=True),
        msg(start["no_answer"] + MIN, thread="no_answer", no_answer=True),
        msg(start["mixed"], thread="mixed", opens=True, no_answer=True), msg(start["mixed"] + MIN, thread="mixed"),
        msg(start["solved_before"] - 2 * HOUR, thread="solved_before", opens=True,
            solved=start["solved_before"] - HOUR),
        msg(start["solved_before"], thread="solved_before", opens=True),  # a new episode after the solved one
    ])  # fmt: skip
    with any_store.begin() as conn:
        conn.execute(sa.insert(threads), [
            {"key": key, "platform": "facebook", "channel": "acme-facebook", "account_id": "page",
             "thread_id": key, "reply_to": key, "helpdesk": "zendesk", "episode_started_at": at_,
             "created_at": at_, "updated_at": at_}
            for key, at_ in start.items()
        ])  # fmt: skip
    shown = any_store.waiting_episodes(None, limit=10, with_text=True)
    assert [r.started_at for r in shown] == [start["waits"], start["mixed"], start["solved_before"]]
    assert [r.started_at for r in any_store.waiting_episodes("acme-facebook", limit=1, with_text=False)] == [
        start["waits"]
    ]
