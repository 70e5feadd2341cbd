"""Automatic acknowledgements end to end, on both helpdesks: Messenger and WhatsApp → bridge → helpdesk,
with the worker's steps run by the test at a clock it sets (the Meta simulator reads the same clock)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bridge import acks, inbound, outbound, schedules, status
from bridge.events import AuthorKind
from bridge.registry import Runtime
from sandbox.base import Fault
from sandbox.stack import HELPDESKS, IG_ID, PAGE_ID, WA_PHONE_ID, Stack
from sandbox.zendesk import ZendeskSimulator
from tests.figfacts import stored_episodes
from tests.support import WallClock, notes, one_ticket, step_runtime

BERLIN = ZoneInfo("Europe/Berlin")
FRIDAY_NIGHT = datetime(2026, 12, 4, 23, 0, tzinfo=BERLIN)  # Monday 7 December is a holiday below
CALENDARS = {
    "support": {"timezone": "Europe/Berlin", "hours": ["mon-fri 09:00-18:00"], "holidays": ["2026-12-07"],
                "target": "2 business hours"},
}  # fmt: skip
ACK: dict[str, Any] = {
    "instant": "Thanks {first_name}! We answer {promise}.",
    "away": {"default": "Hi {first_name}, we are closed; we will answer {promise} (ticket #{ticket}).",
             "fr": "Bonjour {first_name}, nous répondrons {promise}."},
    "apology": "We are sorry, {first_name}. A person will look at this {promise}.",
    "delay": 60,
    "disclosure": "(automated message)",
}  # fmt: skip
COMPLAINT = "Worst airline in the world, terrible service, I am furious"


@contextmanager
def acking(
    tmp_path: Path,
    helpdesk: str,
    *,
    ack: dict[str, Any] = ACK,
    platforms: tuple[str, ...] = ("facebook",),
    rules: list[dict[str, Any]] | None = None,
    channel: dict[str, Any] | None = None,
    calendars: dict[str, Any] | None = None,
) -> Iterator[tuple[Stack, Runtime, WallClock]]:
    """A stack whose channel acknowledges, a worker's runtime and the clock both it and Meta read."""
    options = {"calendar": "support", "ack": ack, **(channel or {})}
    with Stack(tmp_path, helpdesk=helpdesk, start_worker=False, platforms=platforms, channel_options=options,
               calendars={**CALENDARS, **(calendars or {})}, rules=rules) as stack:  # fmt: skip
        clock = WallClock()
        stack.meta.clock = clock
        yield stack, step_runtime(stack, clock=clock), clock


def at(clock: WallClock, when: datetime) -> None:
    clock.offset = when.timestamp() - time.time()


def work(stack: Stack, rt: Runtime) -> int:
    """What the worker does at the clock's time: apply what is due; return how many acks it sent."""
    sent = 0
    for item in stack.store.claim_due(now=rt.policy.clock(), grace=3600):
        if item.table == "inbox":
            inbound.process_thread(rt, item.key, "w")
        elif item.table == "auto_acks":
            sent += acks.send(rt, item.id, "w")
        elif item.table == "ticket_events":
            outbound.sync_ticket(rt, stack.helpdesk_name, item.key.partition(":")[2], "w")
    return sent


def the_ack(stack: Stack) -> dict[str, Any]:
    [row] = stack.store.rows("auto_acks")
    return row


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_an_away_reply_at_23_00_on_a_friday_before_a_holiday_promises_tuesday_once(
    tmp_path: Path, helpdesk: str
) -> None:
    with acking(tmp_path, helpdesk) as (stack, rt, clock):
        at(clock, FRIDAY_NIGHT)
        stack.meta.set_profile(PAGE_ID, "701", "Ann", "Lee")
        stack.meta.customer_message(PAGE_ID, psid="701", text="Where is my order?")
        assert work(stack, rt) == 0
        ticket = one_ticket(stack)["id"]
        clock.advance(30)
        assert work(stack, rt) == 0 and stack.meta.sent_messages == []  # the delay is not over
        clock.advance(31)
        assert work(stack, rt) == 1
        text = f"Hi Ann, we are closed; we will answer by Tuesday 11:00 (ticket #{ticket}).\n(automated message)"
        assert [m["text"] for m in stack.meta.sent_messages] == [text]
        assert notes(stack, ticket)[-1] == f"Sent automatically: {text}"
        [delivery] = stack.store.rows("deliveries")
        assert (delivery["comment_id"], delivery["status"]) == (f"auto_ack:{the_ack(stack)['id']}", "sent")
        assert delivery["author_kind"] == AuthorKind.AUTO_ACK
        [episode] = stored_episodes(stack.store)
        assert episode.first_response is None and episode.acknowledged  # an acknowledgement is no person's answer
        assert stack.store.rows("threads")[0]["episode_answered_at"] is None

        clock.advance(600)  # the customer again, ten minutes later: the same episode
        stack.meta.customer_message(PAGE_ID, psid="701", text="Hello? Anyone?")
        work(stack, rt)
        clock.advance(120)
        assert work(stack, rt) == 0
        assert len(stack.meta.sent_messages) == 1 and the_ack(stack)["status"] == "sent"
        assert any("Anyone?" in c["body"] for c in stack.helpdesk.comments(ticket))  # on the ticket, unacknowledged


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_an_agent_who_answers_within_the_delay_cancels_the_ack(tmp_path: Path, helpdesk: str) -> None:
    with acking(tmp_path, helpdesk) as (stack, rt, clock):
        stack.meta.customer_message(PAGE_ID, psid="702", text="Do you ship to Norway?")
        work(stack, rt)
        ticket = one_ticket(stack)["id"]
        assert the_ack(stack)["status"] == "due"
        clock.advance(20)
        stack.helpdesk.agent_comment(ticket, "Yes, we do!", public=True)
        stack.helpdesk.fire_webhook(ticket)
        work(stack, rt)
        clock.advance(60)
        assert work(stack, rt) == 0
        assert [m["text"] for m in stack.meta.sent_messages] == ["Yes, we do!"]
        assert (the_ack(stack)["status"], the_ack(stack)["reason"]) == ("cancelled", "an agent answered first")
        assert not any(n.startswith("Sent automatically") for n in notes(stack, ticket))


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_a_reply_held_for_approval_does_not_cancel_the_ack(tmp_path: Path, helpdesk: str) -> None:
    legal = [{"name": "legal", "when": {"keywords": ["lawyer"]}, "then": {"approval": True}}]
    with acking(tmp_path, helpdesk, rules=legal) as (stack, rt, clock):
        stack.meta.customer_message(PAGE_ID, psid="703", text="My lawyer will hear about this")
        work(stack, rt)
        ticket = one_ticket(stack)["id"]
        clock.advance(20)
        stack.helpdesk.agent_comment(ticket, "We are sorry, let us fix it.", public=True)
        stack.helpdesk.fire_webhook(ticket)
        work(stack, rt)
        assert [r["status"] for r in stack.store.rows("deliveries")] == ["held"]
        clock.advance(60)
        assert work(stack, rt) == 1  # the customer heard nothing from the agent: the ack goes out
        assert the_ack(stack)["status"] == "sent"


@pytest.mark.parametrize("helpdesk", HELPDESKS)
@pytest.mark.parametrize("apology", [True, False])
def test_a_complaint_gets_the_apology_or_nothing_never_the_thank_you(
    tmp_path: Path, helpdesk: str, apology: bool
) -> None:
    ack = ACK if apology else {k: v for k, v in ACK.items() if k != "apology"}
    with acking(tmp_path, helpdesk, ack=ack) as (stack, rt, clock):
        at(clock, FRIDAY_NIGHT - timedelta(hours=10))  # 13:00 on Friday: open, the instant reply's hours
        stack.meta.customer_message(PAGE_ID, psid="703", text=COMPLAINT)
        work(stack, rt)
        clock.advance(61)
        work(stack, rt)
        sent = [m["text"] for m in stack.meta.sent_messages]
        if apology:
            assert sent == ["We are sorry. A person will look at this by 15:00 today.\n(automated message)"]
        else:
            assert sent == []
            assert the_ack(stack)["reason"] == "negative sentiment: apology template not configured"
        assert not any("Thanks" in s for s in sent)


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_a_whatsapp_message_outside_the_window_gets_no_ack(tmp_path: Path, helpdesk: str) -> None:
    with acking(tmp_path, helpdesk, platforms=("whatsapp",)) as (stack, rt, clock):
        written = datetime.now(UTC) - timedelta(hours=23, minutes=59, seconds=30)
        stack.meta.whatsapp_message(WA_PHONE_ID, wa_id="447700900124", text="Is my parcel lost?", timestamp=written)
        work(stack, rt)  # read in time, but its window closes before the delay is over
        assert the_ack(stack)["status"] == "due"
        clock.advance(61)
        assert work(stack, rt) == 0
        assert stack.meta.wa_sent_messages == []
        assert (the_ack(stack)["status"], the_ack(stack)["reason"]) == ("cancelled", "outside the 24-hour window")


@pytest.mark.parametrize("public", [False, True])
def test_a_public_comment_is_acknowledged_only_where_configured_and_never_by_name(tmp_path: Path, public: bool) -> None:
    with acking(tmp_path, "zendesk", ack={**ACK, "public": public}) as (stack, rt, clock):
        at(clock, FRIDAY_NIGHT)
        post = stack.meta.add_post(PAGE_ID, "New blend!")
        stack.meta.customer_comment(PAGE_ID, post_id=post, text="Is it decaf?", user_id="704", user_name="Ann Lee")
        work(stack, rt)
        clock.advance(61)
        work(stack, rt)
        replies = [r["message"] for r in stack.meta.comment_replies]
        if public:
            ticket = one_ticket(stack)["id"]
            text = f"Hi, we are closed; we will answer by Tuesday 11:00 (ticket #{ticket}).\n(automated message)"
            assert replies == [text]  # under the comment, without the customer's name
        else:
            assert replies == []
            assert the_ack(stack)["reason"] == "public comment: acks are for private channels by default"


def test_a_due_ack_survives_a_worker_that_died_after_claiming_it_and_goes_once(tmp_path: Path) -> None:
    with acking(tmp_path, "zendesk") as (stack, rt, clock):
        stack.meta.customer_message(PAGE_ID, psid="705", text="Do you sell gift cards?")
        work(stack, rt)
        clock.advance(61)
        claimed = [i for i in stack.store.claim_due(now=clock(), grace=60) if i.table == "auto_acks"]
        assert len(claimed) == 1  # ... and the worker that claimed it dies before sending
        assert stack.store.claim_due(now=clock() + 30, grace=60) == []  # nobody else takes it meanwhile
        clock.advance(61)
        restarted = step_runtime(stack, clock=clock)  # a new worker process, on the same store
        [again] = stack.store.claim_due(now=clock(), grace=60)
        assert (again.table, again.id) == ("auto_acks", claimed[0].id)
        assert acks.send(restarted, again.id, "w2") == 1
        assert acks.send(restarted, again.id, "w3") == 0  # a second dispatch of it sends nothing
        assert len(stack.meta.sent_messages) == 1 and the_ack(stack)["status"] == "sent"


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_a_triage_rule_can_say_no_acknowledgement(tmp_path: Path, helpdesk: str) -> None:
    rules = [{"name": "press", "when": {"keywords": ["journalist"]}, "then": {"ack": False, "tags": ["press"]}}]
    with acking(tmp_path, helpdesk, rules=rules) as (stack, rt, clock):
        stack.meta.customer_message(PAGE_ID, psid="706", text="I am a journalist, may I ask about your beans?")
        stack.meta.customer_message(PAGE_ID, psid="707", text="May I ask about your beans?")
        work(stack, rt)
        clock.advance(61)
        assert work(stack, rt) == 1
        assert [m["recipient"] for m in stack.meta.sent_messages] == ["707"]
        reasons = {a["thread_key"].rsplit(":", 1)[1]: a["reason"] for a in stack.store.rows("auto_acks")}
        assert reasons == {"706": "rule press: no automatic acknowledgement", "707": None}


def test_the_away_reply_and_its_promise_are_in_the_customers_language(tmp_path: Path) -> None:
    with acking(tmp_path, "freshdesk") as (stack, rt, clock):
        at(clock, FRIDAY_NIGHT)
        stack.meta.set_profile(PAGE_ID, "708", "Léa", "Martin")
        stack.meta.customer_message(PAGE_ID, psid="708", text="Bonjour, où est ma commande ? Merci beaucoup")
        work(stack, rt)
        clock.advance(61)
        assert work(stack, rt) == 1
        [sent] = [m["text"] for m in stack.meta.sent_messages]
        assert sent == "Bonjour Léa, nous répondrons mardi avant 11:00.\n(automated message)"


def test_a_helpdesk_schedule_never_read_sends_no_ack_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calendars = {"support": {"schedule": "helpdesk", "target": "2 business hours"}}
    options = {"calendar": "support", "ack": ACK}
    with Stack(tmp_path, start_worker=False, channel_options=options, calendars=calendars) as stack:
        rt = step_runtime(stack)
        stack.meta.customer_message(PAGE_ID, psid="709", text="Where is my order?")
        with caplog.at_level("INFO", logger="bridge.acks"):
            work(stack, rt)
        assert the_ack(stack)["status"] == "none"
        assert the_ack(stack)["reason"].startswith("schedule unknown: the helpdesk's schedule has never been read")
        assert "no auto-ack for facebook:" in caplog.text and "schedule unknown" in caplog.text


def test_a_telegram_group_is_public_a_private_chat_is_not(tmp_path: Path) -> None:
    with acking(tmp_path, "zendesk", platforms=("telegram",)) as (stack, rt, clock):
        group = {"id": -1001234567890, "type": "supergroup", "title": "Acme fans"}
        stack.telegram.customer_message("Anyone from Acme here?", user_id=5552, first_name="Ana", chat=group)
        stack.telegram.customer_message("Where is my order?", user_id=5553, first_name="Bo")
        work(stack, rt)
        clock.advance(61)
        assert work(stack, rt) == 1
        [sent] = stack.telegram.sent
        assert sent["chat_id"] == 5553 and " Bo" in sent["text"]  # instant or away: the test runs at any hour
        reasons = {a["thread_key"].rsplit(":", 1)[1]: a["reason"] for a in stack.store.rows("auto_acks")}
        assert reasons == {"-1001234567890": "public comment: acks are for private channels by default", "5553": None}


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_the_customers_answer_to_an_agent_gets_no_ack_even_after_a_quiet_day(tmp_path: Path, helpdesk: str) -> None:
    with acking(tmp_path, helpdesk) as (stack, rt, clock):
        stack.meta.customer_message(PAGE_ID, psid="710", text="Is the shop open?", timestamp=time.time() - 25 * 3600)
        work(stack, rt)  # a day ago; its ack comes due outside the window and is dropped
        ticket = one_ticket(stack)["id"]
        stack.helpdesk.agent_comment(ticket, "Sorry for the wait: yes, until 18:00! Did that help?", public=True)
        stack.helpdesk.fire_webhook(ticket)
        work(stack, rt)
        clock.advance(5)  # the customer answers a few seconds after the agent
        stack.meta.customer_message(PAGE_ID, psid="710", text="Yes, perfect")  # a new episode by the quiet day
        work(stack, rt)
        clock.advance(61)
        assert work(stack, rt) == 0
        assert [m["text"] for m in stack.meta.sent_messages] == ["Sorry for the wait: yes, until 18:00! Did that help?"]
        latest = stack.store.latest_ack(stack.store.rows("threads")[0]["key"])
        assert latest is not None and latest["reason"] == "an agent is already answering"


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_outside_the_window_a_whatsapp_channel_with_a_template_sends_the_template(
    tmp_path: Path, helpdesk: str
) -> None:
    template = {"reengagement_template": "hello_world", "template_language": "en_US"}
    with acking(tmp_path, helpdesk, platforms=("whatsapp",), channel=template) as (stack, rt, clock):
        written = datetime.now(UTC) - timedelta(hours=23, minutes=59, seconds=30)
        stack.meta.whatsapp_message(WA_PHONE_ID, wa_id="447700900125", text="Is my parcel lost?", timestamp=written)
        work(stack, rt)
        clock.advance(61)
        assert work(stack, rt) == 1
        assert [(m["type"], m["to"]) for m in stack.meta.wa_sent_messages] == [("template", "447700900125")]
        note = notes(stack, one_ticket(stack)["id"])[-1]
        assert note.startswith("Sent automatically: the template 'hello_world' (outside the 24-hour window), instead")


def test_an_ack_cut_off_mid_send_is_never_sent_again_and_the_agent_is_told(tmp_path: Path) -> None:
    with acking(tmp_path, "zendesk") as (stack, rt, clock):
        stack.meta.customer_message(PAGE_ID, psid="706", text="Do you sell gift cards?")
        work(stack, rt)
        clock.advance(61)
        [claimed] = [i for i in stack.store.claim_due(now=clock(), grace=60) if i.table == "auto_acks"]
        assert stack.store.set_ack(claimed.id, status="sending")  # ... and the worker dies in the platform call
        clock.advance(3600)
        assert stack.store.claim_due(now=clock(), grace=60) == []  # a slow send is not taken from its worker
        clock.advance(3 * 3600)
        [cut_off] = stack.store.claim_due(now=clock(), grace=60)
        assert (cut_off.table, cut_off.id, the_ack(stack)["status"]) == ("auto_acks", claimed.id, "unknown")
        assert acks.send(step_runtime(stack, clock=clock), cut_off.id, "w2") == 0
        assert stack.meta.sent_messages == []
        ticket = one_ticket(stack)
        told = [n for n in notes(stack, ticket["id"]) if n.startswith(acks.UNKNOWN_PREFIX)]
        assert told == [f"{acks.UNKNOWN_PREFIX} {the_ack(stack)['text']}"] and the_ack(stack)["text"]
        assert the_ack(stack)["status"] == "unknown_noted"
        clock.advance(3600)
        assert stack.store.claim_due(now=clock(), grace=60) == []  # told once


@pytest.mark.parametrize("helpdesk", HELPDESKS)
@pytest.mark.parametrize("solved", [True, False])
def test_a_message_that_finds_the_ticket_solved_opens_a_new_episode_and_gets_its_ack(
    tmp_path: Path, helpdesk: str, solved: bool
) -> None:
    with acking(tmp_path, helpdesk) as (stack, rt, clock):
        stack.meta.customer_message(PAGE_ID, psid="711", text="Where is my order?")
        work(stack, rt)
        clock.advance(61)
        assert work(stack, rt) == 1
        ticket = one_ticket(stack)["id"]
        stack.helpdesk.agent_comment(ticket, "It left our warehouse today!", public=True)
        stack.helpdesk.fire_webhook(ticket)
        work(stack, rt)
        if solved:
            stack.helpdesk.set_status(ticket, "solved")  # Freshdesk's "resolved"
        clock.advance(600)  # ten minutes later: well within the quiet period
        stack.meta.customer_message(PAGE_ID, psid="711", text="Thanks! And do you sell gift cards?")
        work(stack, rt)
        clock.advance(61)
        assert work(stack, rt) == (1 if solved else 0)
        assert one_ticket(stack)["id"] == ticket  # reopened, not a follow-up
        assert [r["opens_episode"] for r in stack.store.rows("inbox")] == [True, solved]  # the figures' episodes too
        acked = [d["author_kind"] for d in stack.store.rows("deliveries")].count(AuthorKind.AUTO_ACK)
        assert acked == (2 if solved else 1)
        latest = stack.store.latest_ack(stack.store.rows("threads")[0]["key"])
        assert latest is not None and latest["status"] == "sent"


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_a_triage_rule_gives_its_own_templates_and_calendar(tmp_path: Path, helpdesk: str) -> None:
    vip = {"timezone": "Europe/Berlin", "hours": ["mon-sun 00:00-24:00"], "target": "30 business minutes"}
    then = {"ack": {"instant": "Hello {first_name}, your account manager answers {promise}."}, "calendar": "vip"}
    rules = [{"name": "vip", "when": {"keywords": ["platinum"]}, "then": then}]
    with acking(tmp_path, helpdesk, rules=rules, calendars={"vip": vip}) as (stack, rt, clock):
        at(clock, FRIDAY_NIGHT)  # the channel's calendar is closed; the rule's is open around the clock
        stack.meta.set_profile(PAGE_ID, "712", "Ann", "Lee")
        stack.meta.customer_message(PAGE_ID, psid="712", text="Platinum member here: where is my order?")
        stack.meta.customer_message(PAGE_ID, psid="713", text="Where is my order?")
        work(stack, rt)
        clock.advance(61)
        assert work(stack, rt) == 2
        sent = {m["recipient"]: m["text"].split("\n")[0] for m in stack.meta.sent_messages}
        assert sent["712"] == "Hello Ann, your account manager answers within the hour."  # open: the instant one
        assert sent["713"].startswith("Hi, we are closed; we will answer by Tuesday 11:00 (ticket #")


def eu_schedule(stack: Stack) -> None:
    """Monday to Friday 09:00-18:00 in Berlin, named "EU", as each helpdesk keeps it."""
    if isinstance(stack.helpdesk, ZendeskSimulator):
        stack.helpdesk.add_schedule("EU", "Berlin", [(day * 1440 + 540, day * 1440 + 1080) for day in range(1, 6)])
    else:
        days = ("monday", "tuesday", "wednesday", "thursday", "friday")
        stack.helpdesk.add_business_hours("EU", "Berlin", dict.fromkeys(days, ("09:00:00 am", "06:00:00 pm")))


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_a_helpdesk_schedule_that_cannot_be_read_now_goes_by_its_last_good_copy(tmp_path: Path, helpdesk: str) -> None:
    calendar = {"schedule": "helpdesk", "schedule_name": "EU", "holidays": ["2026-12-07"], "target": "2 business hours"}
    with acking(tmp_path, helpdesk, calendars={"support": calendar}) as (stack, rt, clock):
        eu_schedule(stack)
        never = status.report(rt.config, stack.store)["calendars"]["support"]
        assert never == {"ok": False, "detail": "business hours unknown (the helpdesk's schedule has never been read):"
                         " nothing is promised"}  # fmt: skip
        assert schedules.refresh(rt.helpdesk, stack.store, schedules.utcnow())
        stack.helpdesk.inject(Fault(503, times=5, method="GET", path_prefix="/api/v2/business_hours"))
        assert not schedules.refresh(rt.helpdesk, stack.store, schedules.utcnow())  # the helpdesk is down now
        line = status.report(rt.config, stack.store)["calendars"]["support"]
        assert not line["ok"] and "the last read failed" in line["detail"] and "using the copy read " in line["detail"]

        at(clock, FRIDAY_NIGHT)
        stack.meta.set_profile(PAGE_ID, "714", "Ann", "Lee")
        stack.meta.customer_message(PAGE_ID, psid="714", text="Where is my order?")
        work(stack, rt)
        clock.advance(61)
        assert work(stack, rt) == 1
        [sent] = [m["text"] for m in stack.meta.sent_messages]
        assert sent.startswith("Hi Ann, we are closed; we will answer by Tuesday 11:00 (ticket #")  # by the copy


@pytest.mark.parametrize("platform", ["facebook", "instagram"])
def test_the_platforms_echo_of_an_ack_is_dropped_and_acknowledged_by_nobody(tmp_path: Path, platform: str) -> None:
    with acking(tmp_path, "zendesk", platforms=(platform,)) as (stack, rt, clock):
        stack.meta.echoes = True  # Meta sends the page's own messages back as webhooks
        if platform == "facebook":
            stack.meta.customer_message(PAGE_ID, psid="715", text="Hello, anyone there?")
        else:
            stack.meta.instagram_message(IG_ID, igsid="ig-715", text="Hello, anyone there?")
        work(stack, rt)
        clock.advance(61)
        assert work(stack, rt) == 1
        assert stack.meta.wait_for_webhooks(10)
        clock.advance(24 * 3600 + 61)  # even a day later, when the echo would otherwise open an episode
        work(stack, rt)
        rows, kind = stack.store.rows("inbox"), "messenger" if platform == "facebook" else "instagram"
        assert [(r["status"], r["last_error"]) for r in rows[1:]] == [
            ("ignored", f"{kind} echo of the account's own message")
        ]
        assert len(stack.store.rows("auto_acks")) == 1 and len(stack.helpdesk.tickets) == 1
