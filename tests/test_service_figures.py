"""What the store records for the service figures, through a real bridge: the platform's time, received, written
to the ticket, episodes; each reply's comment time, delivery or failure with the reason, and its author kind.
The figures (bridge.figures) are then computed from those rows alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge import config as config_module
from bridge import inbound, outbound
from bridge.events import AuthorKind
from bridge.registry import Runtime
from sandbox.stack import HELPDESKS, PAGE_ID, Stack
from tests.figfacts import stored_episodes
from tests.support import step_runtime, tickets

PSID = "4242"
KEY = f"facebook:{PAGE_ID}:messenger:{PSID}"


@pytest.fixture(params=HELPDESKS)
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    with Stack(tmp_path, helpdesk=str(request.param), start_worker=False) as running:
        yield running


def customer_says(stack: Stack, rt: Runtime, text: str, at: datetime) -> None:
    stack.meta.customer_message(PAGE_ID, psid=PSID, text=text, timestamp=at)
    inbound.process_thread(rt, KEY, "worker-1")


def agent_answers(stack: Stack, rt: Runtime, text: str) -> None:
    ticket_id = tickets(stack)[-1]["id"]
    stack.helpdesk.agent_comment(ticket_id, text, public=True)
    stack.helpdesk.fire_webhook(ticket_id)
    outbound.sync_ticket(rt, stack.helpdesk_name, str(ticket_id), "worker-1")


def inbox(stack: Stack) -> list[dict[str, object]]:
    return sorted(stack.store.rows("inbox"), key=lambda r: float(r["platform_ts"]))


def test_each_message_and_reply_is_stamped_and_the_first_response_is_from_the_customers_clock(stack: Stack) -> None:
    rt = step_runtime(stack)
    asked = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)  # sent 20 minutes before it arrived
    customer_says(stack, rt, "Where is my order?", asked)
    customer_says(stack, rt, "Hello?", asked + timedelta(minutes=5))
    agent_answers(stack, rt, "On its way!")

    first, second = inbox(stack)
    assert first["platform_ts"] == asked.timestamp()
    assert first["received_at"] <= first["ticket_at"] and second["received_at"] <= second["ticket_at"]  # type: ignore[operator]
    assert (first["opens_episode"], second["opens_episode"]) == (True, False)
    [delivery] = stack.store.rows("deliveries")
    assert delivery["status"] == "sent" and delivery["author_kind"] == AuthorKind.HUMAN
    assert delivery["comment_created_at"] <= delivery["delivered_at"]
    [thread] = stack.store.rows("threads")
    assert thread["episode_started_at"] == asked.timestamp()
    assert thread["episode_answered_at"] == delivery["delivered_at"]

    [episode] = stored_episodes(stack.store)
    assert episode.messages == 2 and episode.first_response == delivery["delivered_at"] - asked.timestamp()
    assert 20 * 60 <= episode.first_response < 21 * 60  # type: ignore[operator]


def test_a_failed_reply_keeps_its_reason_and_answers_nothing(stack: Stack) -> None:
    rt = step_runtime(stack)
    customer_says(stack, rt, "Still there?", datetime.now(UTC) - timedelta(days=8))  # past even the HUMAN_AGENT tag
    agent_answers(stack, rt, "Yes!")
    [delivery] = stack.store.rows("deliveries")
    assert delivery["status"] == "failed" and delivery["delivered_at"] is None
    assert "reply window has closed" in str(delivery["error"])
    [episode] = stored_episodes(stack.store)
    assert episode.first_response is None and len(episode.failures) == 1
    assert episode.failures[0].startswith("Messenger's reply window has closed")  # the reason, not the note's opening
    assert stack.store.rows("threads")[0]["episode_answered_at"] is None


def test_a_quiet_period_or_a_closed_ticket_opens_an_episode(stack: Stack) -> None:
    rt = step_runtime(stack)
    now = datetime.now(UTC).replace(microsecond=0)
    customer_says(stack, rt, "one", now - timedelta(days=3))
    customer_says(stack, rt, "two, two days later", now - timedelta(days=1))  # > 24 h of quiet
    stack.helpdesk.set_status(tickets(stack)[0]["id"], "closed")
    customer_says(stack, rt, "three, a minute later, on a closed ticket", now - timedelta(days=1, minutes=-1))
    assert len(tickets(stack)) == 2  # a follow-up ticket
    assert [r["opens_episode"] for r in inbox(stack)] == [True, True, True]
    found = stored_episodes(stack.store)
    assert [e.started_at for e in found] == [r["platform_ts"] for r in inbox(stack)]


def test_the_quiet_period_is_configured(stack: Stack) -> None:
    raw = {**stack.raw_config(), "metrics": {"episode_quiet_hours": 72}}
    rt = step_runtime(stack, config=config_module.parse(raw, env={}))
    now = datetime.now(UTC).replace(microsecond=0)
    customer_says(stack, rt, "one", now - timedelta(days=3))
    customer_says(stack, rt, "two, two days later", now - timedelta(days=1))  # < 72 h: the same episode
    assert [r["opens_episode"] for r in inbox(stack)] == [True, False]
