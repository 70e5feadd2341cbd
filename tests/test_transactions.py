"""The worker's store transactions per customer message, held to issue #15's budget: the thread's context read
once, "create started" and what was learned recorded in one write before the helpdesk call, the outcome in one
after (bridge.plan, bridge.inbound). Counted on the engine by bridge.transactions, as bench.profile_worker does."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bridge import inbound
from bridge.events import SocialEvent
from bridge.registry import Runtime
from bridge.transactions import Counted, TransactionCount
from sandbox.stack import PAGE_ID, Stack
from tests.support import notes, step_runtime, tickets
from tests.test_e2e_quick import bot, quick

FIRST_MESSAGE = 6  # the lease and its release, the pending events, the thread's context, before, after
WITH_WRITE_BACK = 8
FOLLOW_UP = 6
BOT_ANSWERS = 7  # and the bot's "sending" row, written before its one send (test below)
#: the thread's context read with acknowledgements and quick answers on: the echo, the thread, the requester, the
#: CRM record, the latest ack, the bot's messages and the latest person's reply (which both read)
CONTEXT_READS = 7
CRM = {"vip_field": "account_type", "vip_values": ["Enterprise"], "crm_note": True, "write_back": True}
RULES = [{"name": "refund", "when": {"keywords": ["refund"]}, "then": {"tags": ["billing"], "priority": "high"}}]


ACK = {"instant": "Thanks, we are on it.", "apology": "Sorry! A person will look at this.", "delay": 60}


@pytest.fixture(params=["no CRM", "write-back", "acknowledgements"])
def stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    crm = CRM if request.param == "write-back" else None
    options = {"ack": ACK} if request.param == "acknowledgements" else {}
    with Stack(tmp_path, start_worker=False, salesforce=crm, rules=RULES, channel_options=options) as running:
        yield running


def applied(stack: Stack, rt: Runtime, psid: str, text: str) -> Counted:
    """Post one customer message, apply its thread in this process; the store transactions that took."""
    stack.meta.customer_message(PAGE_ID, psid=psid, text=text)
    return taken(stack, rt)


def taken(stack: Stack, rt: Runtime) -> Counted:
    """Apply the thread of the one pending event in this process; the store transactions that took."""
    [key] = {str(r["thread_key"]) for r in stack.store.rows("inbox", status="pending")}
    transactions = TransactionCount(stack.store.engine)
    try:
        assert inbound.process_thread(rt, key, "test") == 1
    finally:
        transactions.close()
    return transactions.now()


def test_a_first_message_and_a_follow_up_stay_within_the_budget(stack: Stack) -> None:
    sf, rt = stack.salesforce, step_runtime(stack)
    if sf is not None:  # a known customer: the lookup, the note, the VIP tag, the persona and the post all happen
        account = sf.add_account("Globex", Type="Enterprise")
        sf.add_persona(provider="Facebook", external_id="8001", name="hank",
                       parent_id=sf.add_contact("Hank Scorpio", AccountId=account))  # fmt: skip
    first = applied(stack, rt, "8001", "I want a refund")
    [ticket] = tickets(stack)
    assert {"billing", "rule_refund"} <= set(ticket["tags"]) and ticket["priority"] == "high"
    if sf is not None:
        assert "vip" in ticket["tags"] and "Hank Scorpio" in notes(stack, ticket["id"])[0]
        assert len(sf.records("SocialPost")) == 1
    assert first.total <= (WITH_WRITE_BACK if sf is not None else FIRST_MESSAGE), first
    follow_up = applied(stack, rt, "8001", "any news?")
    assert len(stack.helpdesk.comments(ticket["id"])) >= 2 and len(tickets(stack)) == 1
    assert follow_up.total <= FOLLOW_UP, follow_up
    [thread] = stack.store.rows("threads")
    assert thread["ticket_id"] == str(ticket["id"]) and thread["requester_id"] and thread["create_started_at"] is None
    assert thread["enrichment"] == ("done" if sf is not None else None)
    assert (thread["crm_last_post_id"] is not None) == (sf is not None)
    acks = stack.store.rows("auto_acks")  # one per episode, due after the delay
    assert [(a["status"], a["reason"]) for a in acks] == ([("due", None)] if stack.config.acks else [])


def test_a_removal_noted_on_the_ticket_costs_what_a_follow_up_does(tmp_path: Path) -> None:
    """An edit's, a removal's or a notice's note is written as a follow-up's comment is: its row marked attempted
    in the write before it (a retry looks for the note first), its outcome in the write after."""
    with Stack(tmp_path, start_worker=False) as stack:
        rt = step_runtime(stack)
        applied(stack, rt, "8003", "my card number is 4111...")
        [message] = stack.store.rows("inbox")
        stack.meta.customer_unsend(PAGE_ID, psid="8003", mid=str(message["message_id"]))
        removal = taken(stack, rt)
        [ticket] = tickets(stack)
        assert [n.startswith("The customer removed their") for n in notes(stack, ticket["id"])] == [True]
        assert removal.total <= FOLLOW_UP, removal


def test_a_message_the_bot_answers_stays_within_the_budget(tmp_path: Path) -> None:
    """A channel with quick answers (bridge.bot). Each message the bot answers takes seven transactions: the
    lease, the pending events, the thread's context (with the bot's messages in the episode, the latest person's
    reply and the channel's pause), before (the thread claimed or the event marked attempted), the bot's
    "sending" row (durable before the public send, so it is never sent twice), after (the event's outcome and
    the send's: sent, its message ids), the release. One the bot does not answer costs what any follow-up does."""
    with bot(tmp_path, "zendesk", "facebook") as (stack, rt):
        first = applied(stack, rt, "801", "what are your opening hours?")
        asked = applied(stack, rt, "801", "where is my order")
        thanked = applied(stack, rt, "801", "It is 4471203")  # the ticket field set first: a helpdesk call only
        unanswered = applied(stack, rt, "801", "ok")
        steps = [d["comment_id"].split(":")[1] for d in stack.store.rows("deliveries") if d["status"] == "sent"]
        assert steps == ["answer", "ask", "thanks"] and len(stack.meta.sent_messages) == 3
        assert all(stack.store.is_our_message("facebook", m["message_id"]) for m in stack.meta.sent_messages)
        assert max(first.total, asked.total, thanked.total) <= BOT_ANSWERS, (first, asked, thanked)
        assert unanswered.total <= FOLLOW_UP, unanswered


def test_the_context_read_asks_for_the_latest_persons_reply_once(tmp_path: Path) -> None:
    """With acknowledgements and quick answers both on, the acks (did a person reply since the quiet period?) and
    the bot (is a person answering?) read the same thing: the thread's latest person's reply the customer heard.
    The context read asked the store for it twice (8 SELECTs); it is asked once and shared."""
    options = {"ack": ACK, "quick": quick("zendesk")}
    with Stack(tmp_path, start_worker=False, channel_options=options) as stack:
        stack.meta.customer_message(PAGE_ID, psid="8002", text="what are your opening hours?")
        [row] = stack.store.rows("inbox")
        event = SocialEvent.from_json(row["payload"])
        read = selects(
            stack.store.engine,
            lambda: stack.store.load_thread_context(event, "zendesk", acks_since=0.0, bot=":0123456789abcdef"),
        )
        assert len(read) == CONTEXT_READS, read


def selects(engine: sa.Engine, read: Callable[[], Any]) -> list[str]:
    """The SELECT statements ``read`` executed on ``engine``."""
    seen: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            seen.append(sql)

    sa.event.listen(engine, "before_cursor_execute", statement)
    try:
        read()
    finally:
        sa.event.remove(engine, "before_cursor_execute", statement)
    return seen
