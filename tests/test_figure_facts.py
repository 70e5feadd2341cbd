"""What the worker records for the service figures beyond the times, through a real bridge on both helpdesks:
the classifier's sentiment (asked once per message), "no answer needed" by rule or tag, and the time the
helpdesk showed the ticket solved (read with the replies, no extra call); the figures show them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bridge import config as config_module
from bridge.errors import ConfigError
from bridge.figmodel import Period
from bridge.figquery import compute
from bridge.registry import Runtime
from bridge.rules import Classified
from bridge.transactions import Counted, TransactionCount
from sandbox.stack import HELPDESKS, Stack
from tests.support import step_runtime, tickets
from tests.test_figbuild import UTC_ZONE
from tests.test_service_figures import agent_answers, customer_says, inbox

RULES = [
    {"name": "thanks", "when": {"keywords": ["thanks"]}, "then": {"tags": ["thanked"]}},
    {"name": "angry", "when": {"sentiment": "negative"}, "then": {"tags": ["angry"]}},
]


@pytest.fixture(params=HELPDESKS)
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    with Stack(tmp_path, helpdesk=str(request.param), start_worker=False) as running:
        yield running


def runtime(stack: Stack, metrics: dict[str, Any]) -> Runtime:
    raw = {**stack.raw_config(), "rules": RULES, "metrics": metrics}
    return step_runtime(stack, config=config_module.parse(raw, env={}))


def today() -> Period:
    day = datetime.now(UTC).date()
    return Period(day - timedelta(days=1), day + timedelta(days=1), UTC_ZONE)


def test_sentiment_no_answer_and_solved_are_recorded_and_shown(stack: Stack) -> None:
    rt = runtime(stack, {"no_answer_rules": ["thanks"]})
    calls: list[str] = []
    classify = rt.classify
    assert classify is not None

    def counted(text: str) -> Classified:
        calls.append(text)
        return classify(text)

    rt.classify = counted
    now = datetime.now(UTC).replace(microsecond=0)
    customer_says(stack, rt, "This is terrible, my order is broken and late!", now - timedelta(hours=2))
    assert len(calls) == 1  # the rules and the figures asked the classifier once
    ticket_id = tickets(stack)[-1]["id"]
    stack.helpdesk.set_status(ticket_id, "solved")
    agent_answers(stack, rt, "So sorry, a new one is on its way.")
    [first] = inbox(stack)
    assert first["sentiment"] == "negative" and first["no_answer"] is False
    solved, asked = float(first["solved_at"]), float(first["platform_ts"])  # type: ignore[arg-type]
    assert solved > asked
    figures = compute(stack.store, today()).total
    assert figures.resolution.count == 1 and figures.resolution.median == solved - asked
    assert figures.sentiment.get("negative") == 1


def written(stack: Stack, step: Callable[[], None]) -> Counted:
    """The store transactions ``step`` took."""
    transactions = TransactionCount(stack.store.engine)
    try:
        step()
    finally:
        transactions.close()
    return transactions.now()


def test_the_solved_stamp_rides_on_the_write_that_finishes_the_tickets_events(stack: Stack) -> None:
    # #17: recording the figures' times adds at most one write per reply in the worker; a reply on a solved
    # ticket takes no more writes than one on an open ticket, and the episode is stamped solved all the same
    rt = runtime(stack, {})
    customer_says(stack, rt, "Where is my parcel?", datetime.now(UTC) - timedelta(hours=2))
    on_open = written(stack, lambda: agent_answers(stack, rt, "On its way."))
    stack.helpdesk.set_status(tickets(stack)[-1]["id"], "solved")
    on_solved = written(stack, lambda: agent_answers(stack, rt, "Delivered today, closing this."))
    assert inbox(stack)[0]["solved_at"] is not None
    assert on_solved.writes == on_open.writes, (on_open, on_solved)


def test_a_thanks_needs_no_answer_by_rule_or_by_tag(stack: Stack) -> None:
    for days, metrics in ((3, {"no_answer_rules": ["thanks"]}), (1, {"no_answer_tags": ["thanked"]})):
        rt = runtime(stack, metrics)
        customer_says(stack, rt, f"thanks {metrics}", datetime.now(UTC) - timedelta(days=days))
    assert [r["no_answer"] for r in inbox(stack)] == [True, True]
    figures = compute(stack.store, Period(today().start - timedelta(days=5), today().end, UTC_ZONE)).total
    assert (figures.episodes, figures.needing_answer, figures.response_rate) == (2, 0, None)


def test_an_unknown_rule_in_no_answer_rules_is_refused_naming_the_key(stack: Stack) -> None:
    with pytest.raises(ConfigError, match=r"metrics.no_answer_rules: no rule is named 'thank'"):
        runtime(stack, {"no_answer_rules": ["thank"]})
