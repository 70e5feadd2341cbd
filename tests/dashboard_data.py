"""Conversations for the dashboard's tests, through the real bridge (simulators, the worker's steps): episodes
on two channels over six weeks, some answered by a person, some still waiting. The texts of the waiting ones are
marked so that a test can look for them in everything the dashboard answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bridge import config as config_module
from bridge import inbound, outbound
from bridge.config import Config
from bridge.registry import Runtime
from sandbox.stack import IG_ID, PAGE_ID, Stack
from tests.support import step_runtime

HOUR, DAY = 3600.0, 86400.0
TOKEN = "dash-t0ken-4-tests"
USER, PASSWORD = "lead", "s3cret pass:word"
SECRET_TEXT = "MY-PRIVATE-ADDRESS 12 Rue Secrète"  # a customer's words: never shown unless configured


@dataclass(frozen=True)
class Said:
    """A customer's message ``ago`` seconds before now, answered by a person (or not)."""

    platform: str
    customer: str
    ago: float
    answered: bool
    text: str = "Hello, a question about my order"


#: acme-facebook: 3 episodes in the last 7 days (2 answered), 1 forty days ago; acme-instagram: 2 (1 answered).
CONVERSATIONS = (
    Said("facebook", "1001", 3 * HOUR, answered=True),
    Said("facebook", "1002", 30 * 60, answered=True),
    Said("facebook", "1003", 3 * DAY, answered=False, text=SECRET_TEXT),
    Said("facebook", "1004", 40 * DAY, answered=False),
    Said("instagram", "2001", 10 * 60, answered=True),
    Said("instagram", "2002", 2 * DAY, answered=False, text=SECRET_TEXT),
)


def play(stack: Stack) -> None:
    """Every conversation of :data:`CONVERSATIONS`, oldest first, through the worker's own steps."""
    rt, now = step_runtime(stack), time.time()
    for said in sorted(CONVERSATIONS, key=lambda s: -s.ago):
        key = _write(stack, rt, said, now - said.ago)
        if said.answered:
            _answer(stack, rt, key)


def _write(stack: Stack, rt: Runtime, said: Said, at: float) -> str:
    if said.platform == "facebook":
        stack.meta.customer_message(PAGE_ID, psid=said.customer, text=said.text, timestamp=at)
        key = f"facebook:{PAGE_ID}:messenger:{said.customer}"
    else:
        stack.meta.instagram_message(IG_ID, igsid=said.customer, text=said.text, timestamp=at)
        key = f"instagram:{IG_ID}:dm:{said.customer}"
    inbound.process_thread(rt, key, "worker-1")
    return key


def _answer(stack: Stack, rt: Runtime, key: str) -> None:
    [thread] = stack.store.rows("threads", key=key)
    ticket_id = thread["ticket_id"]
    stack.helpdesk.agent_comment(int(ticket_id), "Thanks, here is the answer.", public=True)
    stack.helpdesk.fire_webhook(int(ticket_id))
    outbound.sync_ticket(rt, stack.helpdesk_name, str(ticket_id), "worker-1")


def dashboard_config(stack: Stack, **dashboard: Any) -> Config:
    """The stack's config with a ``[dashboard]`` table."""
    return config_module.parse({**stack.raw_config(), "dashboard": dashboard}, env={})


def seeded(tmp: Any, database_url: str | None = None) -> Iterator[Stack]:
    """A stopped-worker stack on facebook and instagram with :data:`CONVERSATIONS` played (SQLite by default)."""
    with Stack(tmp, database_url=database_url, start_worker=False, platforms=("facebook", "instagram")) as stack:
        play(stack)
        yield stack
