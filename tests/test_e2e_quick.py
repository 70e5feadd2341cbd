"""Quick answers end to end: a customer on Messenger, WhatsApp or Telegram → bridge → helpdesk, the bot's answer
with buttons back through the platform's simulator (which checks the buttons against the vendor's limits), the
press of "Talk to a person", the hand-off, and the ticket field filled from the customer's answer; the worker's
steps run by the test (as in test_e2e_acks)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from bridge import bot as bot_module
from bridge import cli, inbound, messages, metrics, status
from bridge.events import AuthorKind, SocialEvent
from bridge.registry import Runtime
from bridge.replies import DEFAULT_DISCLOSURE
from bridge.rows import BotState
from sandbox.base import Fault
from sandbox.stack import HELPDESKS, IG_ID, PAGE_ID, TG_TOKEN, WA_PHONE_ID, Stack, channel_name, to_toml
from tests.figfacts import stored_episodes
from tests.support import WallClock, notes, one_ticket, recorded_first, step_runtime
from tests.test_e2e_acks import work

FIELD = {"zendesk": "360000000777", "freshdesk": "cf_social_channel"}


def quick(helpdesk: str, field: str | None = None) -> dict[str, Any]:
    return {
        "person": "Talk to a person",
        "handoff": "Thanks! A person will answer you here.",
        "answers": [
            {"name": "hours", "keywords": ["opening hours"], "text": "We are open Monday to Friday, 9:00-18:00.",
             "button": "Opening hours"},
            {"name": "order", "regex": r"where\s+is\s+my\s+order", "text": "Your order number, please?",
             "button": "Where is my order?", "ask": {"field": field or FIELD[helpdesk], "pattern": r"\b\d{5,8}\b",
                                                     "thanks": "Thanks, order {answer} is noted."}},
        ],
    }  # fmt: skip


@contextmanager
def bot(
    tmp_path: Path, helpdesk: str, platform: str, rules: list[dict[str, Any]] | None = None, field: str | None = None,
    timeout: float | None = None,
) -> Iterator[tuple[Stack, Runtime]]:  # fmt: skip
    options: dict[str, Any] = {"quick": quick(helpdesk, field), **({"timeout": timeout} if timeout else {})}
    with Stack(tmp_path, helpdesk=helpdesk, start_worker=False, platforms=(platform,),
               channel_options=options, rules=rules) as stack:  # fmt: skip
        clock = WallClock()
        stack.meta.clock = clock
        yield stack, step_runtime(stack, clock=clock)


class Customer:
    """One customer on one platform: writes, presses a button the bot offered, reads what the bot sent."""

    def __init__(self, stack: Stack, platform: str) -> None:
        self.stack, self.platform = stack, platform

    def writes(self, text: str) -> None:
        if self.platform == "facebook":
            self.stack.meta.customer_message(PAGE_ID, psid="801", text=text)
        elif self.platform == "instagram":
            self.stack.meta.instagram_message(IG_ID, igsid="ig-801", text=text)
        elif self.platform == "generic":
            self.stack.web.customer_message(text, thread_id="chat-7", author_id="u-7", author_name="Ann Lee")
        elif self.platform == "whatsapp":
            self.stack.meta.whatsapp_message(WA_PHONE_ID, wa_id="15551230001", name="Ann Lee", text=text)
        else:
            self.stack.telegram.customer_message(text, user_id=5001, first_name="Ann")

    def presses(self, title: str) -> None:
        payload = dict((t, p) for p, t in self.received()[-1][1])[title]
        if self.platform == "facebook":
            self.stack.meta.customer_message(PAGE_ID, psid="801", text=title, quick_reply=payload)
        elif self.platform == "instagram":
            self.stack.meta.instagram_message(IG_ID, igsid="ig-801", text=title, quick_reply=payload)
        elif self.platform == "whatsapp":
            content = {"type": "button_reply", "button_reply": {"id": payload, "title": title}}
            self.stack.meta.whatsapp_message(WA_PHONE_ID, wa_id="15551230001", kind="interactive", content=content)
        else:
            self.stack.telegram.customer_press(5001, title, user_id=5001)

    def received(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """What the bot sent: each message's text and its buttons (payload, title)."""
        if self.platform == "facebook":
            return [(m["text"], [(q["payload"], q["title"]) for q in m.get("quick_replies", [])])
                    for m in self.stack.meta.sent_messages]  # fmt: skip
        if self.platform == "instagram":
            return [(m["text"], [(q["payload"], q["title"]) for q in m.get("quick_replies", [])])
                    for m in self.stack.meta.ig_sent_messages]  # fmt: skip
        if self.platform == "whatsapp":
            return [_whatsapp(m) for m in self.stack.meta.wa_sent_messages]
        if self.platform == "generic":
            return [(m["text"], []) for m in self.stack.web.received]
        return [(m["text"], [(b["callback_data"], b["text"]) for row in m.get("reply_markup", {}).get(
            "inline_keyboard", []) for b in row]) for m in self.stack.telegram.sent]  # fmt: skip


def _whatsapp(message: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    if message["type"] == "interactive":
        body = message["interactive"]
        return body["body"], [(b["id"], b["title"]) for b in body["buttons"]]
    return message["text"], []


PLATFORMS = ("facebook", "instagram", "whatsapp", "telegram")
HOURS = "We are open Monday to Friday, 9:00-18:00."
SAID = f"\n{DEFAULT_DISCLOSURE}"  # the bot's first message in an episode says it is automated


@pytest.mark.parametrize(
    ("helpdesk", "platform"),
    [*(("zendesk", p) for p in PLATFORMS), ("freshdesk", "facebook"), ("freshdesk", "telegram")],
)
def test_a_quick_answer_with_buttons_then_the_hand_off_to_a_person(
    tmp_path: Path, helpdesk: str, platform: str
) -> None:
    with bot(tmp_path, helpdesk, platform) as (stack, rt):
        customer = Customer(stack, platform)
        counted = bot_count(platform, "answer"), bot_count(platform, "handoff")
        customer.writes("Hi, what are your opening hours?")
        work(stack, rt)
        ticket = one_ticket(stack)["id"]
        assert customer.received() == [(HOURS + SAID, [("quick:order", "Where is my order?"),
                                                       ("quick:person", "Talk to a person")])]  # fmt: skip
        assert notes(stack, ticket)[-1] == (f"The bot answered: {HOURS}{SAID} [buttons: Where is my order? | "
                                            "Talk to a person]")  # fmt: skip
        [delivery] = stack.store.rows("deliveries")
        assert (delivery["author_kind"], delivery["status"]) == (AuthorKind.BOT, "sent")
        assert stack.store.is_our_message(platform, json_ids(delivery)[0])  # its echo would be dropped

        customer.presses("Talk to a person")
        work(stack, rt)
        assert customer.received()[-1] == ("Thanks! A person will answer you here.", [])
        assert any("Talk to a person" in c["body"] for c in stack.helpdesk.comments(ticket) if c["public"])
        assert notes(stack, ticket)[-1] == (
            "The customer asked for a person: the bot answers no more in this "
            "episode. The bot answered: Thanks! A person will answer you here."
        )
        if platform == "telegram":
            assert list(stack.telegram.queries.values()) == [True]  # answerCallbackQuery: the spinner stops

        customer.writes("and your opening hours on Sunday?")  # handed off: a person answers from here
        work(stack, rt)
        assert len(customer.received()) == 2
        assert (bot_count(platform, "answer"), bot_count(platform, "handoff")) == (counted[0] + 1, counted[1] + 1)
        [episode] = stored_episodes(stack.store)
        assert episode.first_response is None and episode.answered_by == "bot"  # the bot is no person: it waits


def test_a_telegram_press_a_rule_ignores_is_answered_too(tmp_path: Path) -> None:
    """Telegram spins the pressed button until answerCallbackQuery: the bridge answers every press it stored, in
    its answer to the webhook, whatever the worker then makes of it (here a rule ignores it)."""
    rules = [{"name": "orders-elsewhere", "when": {"keywords": ["order"]}, "then": {"ignore": True}}]
    with bot(tmp_path, "zendesk", "telegram", rules=rules) as (stack, rt):
        customer = Customer(stack, "telegram")
        customer.writes("Hi, what are your opening hours?")
        work(stack, rt)
        customer.presses("Where is my order?")
        work(stack, rt)
        assert dict(stack.store.ignored_reasons(0)) == {"rule orders-elsewhere": (1, 1)}
        assert list(stack.telegram.queries.values()) == [True]
        assert len(customer.received()) == 1  # the bot said nothing more


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_doctor_checks_the_ticket_field_a_quick_answer_fills(tmp_path: Path, helpdesk: str) -> None:
    """Zendesk ignores an unknown field id, Freshdesk refuses the update: either way the customer's order number
    would be lost, and doctor did not look at the quick answers' fields."""
    with bot(tmp_path, helpdesk, "telegram") as (stack, _):
        raw, path = stack.raw_config(), tmp_path / "socialdesk.toml"
        path.write_text(to_toml(raw))
        good = CliRunner().invoke(cli.main, ["doctor", "--config", str(path)])  # in-process: fast
        assert f"✓ mapped fields: 1 mapped field(s) present: {FIELD[helpdesk]}" in good.output, good.output
        missing = "999" if helpdesk == "zendesk" else "cf_no_such_field"
        raw["channels"][0]["quick"]["answers"][1]["ask"]["field"] = missing
        path.write_text(to_toml(raw))
        bad = CliRunner().invoke(cli.main, ["doctor", "--config", str(path)])
    key = "channels[acme-telegram].quick.answers[order].ask.field"
    assert bad.exit_code == 1 and f"✗ mapped fields: {key}: the helpdesk has no ticket field {missing!r}" in bad.output


def bot_count(platform: str, step: str) -> float:
    """``socialdesk_bot_messages_total`` of the platform's sandbox channel (this process's series)."""
    labels = {"channel": channel_name(platform), "step": step, "outcome": "sent"}
    return metrics.SERIES.get_sample_value("socialdesk_bot_messages_total", labels) or 0.0


def json_ids(delivery: dict[str, Any]) -> list[str]:
    ids: list[str] = json.loads(delivery["message_ids"])
    return ids


def test_a_negative_message_or_a_public_comment_gets_no_bot_answer_but_its_ticket(tmp_path: Path) -> None:
    with bot(tmp_path, "zendesk", "facebook") as (stack, rt):
        customer = Customer(stack, "facebook")
        customer.writes("Your opening hours are a joke, terrible service, I am furious")
        work(stack, rt)
        assert one_ticket(stack)["id"] and customer.received() == []
        post = stack.meta.add_post(PAGE_ID, "Our new shop is open!")
        stack.meta.customer_comment(PAGE_ID, post_id=post, text="What are your opening hours?", user_id="77",
                                    user_name="Bo")  # fmt: skip
        work(stack, rt)
        assert len(stack.helpdesk.tickets) == 2 and stack.meta.comment_replies == []
        assert stack.store.rows("deliveries") == []


def test_a_thread_whose_replies_need_approval_gets_no_bot_answer(tmp_path: Path) -> None:
    legal = [{"name": "legal", "when": {"keywords": ["contract"]}, "then": {"approval": True}}]
    with bot(tmp_path, "zendesk", "facebook", rules=legal) as (stack, rt):
        customer = Customer(stack, "facebook")
        customer.writes("What are your opening hours? I want to sign the contract")  # the rule fires now
        work(stack, rt)
        assert one_ticket(stack)["id"] and customer.received() == []
        customer.writes("What are your opening hours?")  # a later one: the thread needs approval
        work(stack, rt)
        assert customer.received() == []


def test_a_channel_without_buttons_says_the_way_out_in_words_and_hears_it(tmp_path: Path) -> None:
    with bot(tmp_path, "zendesk", "generic") as (stack, rt):
        customer = Customer(stack, "generic")
        customer.writes("opening hours?")
        work(stack, rt)
        assert customer.received() == [(f"{HOURS}\nTo talk to a person, write “person”.{SAID}", [])]
        customer.writes("I would rather talk to a person")
        work(stack, rt)
        assert customer.received()[-1] == ("Thanks! A person will answer you here.", [])
        customer.writes("opening hours?")
        work(stack, rt)
        assert len(customer.received()) == 2 and len(one_ticket(stack)) > 0


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_the_order_number_the_bot_asked_for_reaches_the_ticket_field(tmp_path: Path, helpdesk: str) -> None:
    with bot(tmp_path, helpdesk, "facebook") as (stack, rt):
        customer = Customer(stack, "facebook")
        customer.writes("Where is my order?")
        work(stack, rt)
        assert customer.received() == [("Your order number, please?" + SAID, [("quick:person", "Talk to a person")])]
        customer.writes("It is 4471203, thanks")
        work(stack, rt)
        assert customer.received()[-1] == ("Thanks, order 4471203 is noted.", [("quick:person", "Talk to a person")])
        ticket = one_ticket(stack)
        fields = ticket["custom_fields"]
        value = fields.get(FIELD[helpdesk]) if isinstance(fields, dict) else _zendesk_field(fields, FIELD[helpdesk])
        assert value == "4471203"
        assert "The customer answered the bot's question: 4471203" in "\n".join(notes(stack, ticket["id"]))
        assert [d["author_kind"] for d in stack.store.rows("deliveries")] == [AuthorKind.BOT, AuthorKind.BOT]
        assert f"{'bot (24 h)':14} sent=2" in status.render(status.report(rt.config, stack.store))


def _zendesk_field(fields: list[dict[str, Any]], field_id: str) -> Any:
    return next(f["value"] for f in fields if str(f["id"]) == field_id)


def test_an_event_applied_again_after_a_crash_sends_nothing_twice(tmp_path: Path) -> None:
    with bot(tmp_path, "freshdesk", "facebook") as (stack, rt):
        customer = Customer(stack, "facebook")
        customer.writes("Where is my order?")
        work(stack, rt)
        customer.writes("4471203")
        work(stack, rt)
        ticket = one_ticket(stack)["id"]
        before = (len(customer.received()), len(notes(stack, ticket)), len(stack.helpdesk.comments(ticket)))
        first = next(r for r in stack.store.rows("inbox") if "Where is my order?" in r["payload"])
        event = SocialEvent.from_json(first["payload"])
        row = stack.store.thread(event.thread_key)
        assert row is not None
        thread = replace(row, episode_started_at=0.0)
        state = _bot_state(stack, rt, event)  # as a retry after a crash would read it with the thread's context
        bot_module.answer(rt, event, thread, str(ticket), opens_episode=False, state=state)
        assert (len(customer.received()), len(notes(stack, ticket)), len(stack.helpdesk.comments(ticket))) == before


def test_a_retry_that_finds_its_own_question_answers_nothing(tmp_path: Path) -> None:
    """The first message asks and answers at once: the bot asked for the order number. Applied again after a
    crash, the bot's own question is in the episode and the number matches it: it used to say thanks too."""
    with bot(tmp_path, "zendesk", "facebook") as (stack, rt):
        customer = Customer(stack, "facebook")
        customer.writes("Where is my order? It is 4471203")
        work(stack, rt)
        assert customer.received() == [("Your order number, please?" + SAID, [("quick:person", "Talk to a person")])]
        ticket = one_ticket(stack)["id"]
        event = SocialEvent.from_json(stack.store.rows("inbox")[0]["payload"])
        bot_module.answer(rt, event, replace(stack.store.thread(event.thread_key) or _no_row(), last_inbound_at=None),
                          str(ticket), opens_episode=True, state=_bot_state(stack, rt, event))  # fmt: skip
        assert len(customer.received()) == 1 and len(stack.store.rows("deliveries")) == 1


def test_a_worker_whose_last_write_fails_after_the_bots_send_sends_nothing_twice(tmp_path: Path) -> None:
    """The bot's message is recorded "sending" in a write of its own before the send; its outcome goes in the
    event's last write (bridge.bot._sent). Here that write fails, as in a worker that dies right then (a
    trigger refuses it): the event stays pending with the row "sending", and applied again it finds its ticket
    and the bot its answer by the digest; nothing is sent or opened twice. The answer it finds "sending" was cut
    off: it stayed so for ever, no agent told; it is "unknown", and one note tells the agent to check."""
    with bot(tmp_path, "zendesk", "facebook") as (stack, rt):
        key = _dies_after_the_bots_send(stack, rt)
        ticket = one_ticket(stack)["id"]
        before = (len(stack.meta.sent_messages), notes(stack, ticket))
        assert before[0] == 1 and [d["status"] for d in stack.store.rows("deliveries")] == ["sending"]
        unknown = _bot_unknown("answer")
        assert inbound.process_thread(rt, key, "w") == 1
        told = messages.bot_stopped_note("answer hours")
        assert (len(stack.meta.sent_messages), notes(stack, ticket)) == (before[0], [*before[1], told])
        assert _bot_unknown("answer") == unknown + 1
        assert len(stack.helpdesk.tickets) == 1 and [r["status"] for r in stack.store.rows("inbox")] == ["done"]
        assert [d["status"] for d in stack.store.rows("deliveries")] == ["unknown"]
        assert f"{'bot (24 h)':14} unknown=1" in status.render(status.report(rt.config, stack.store))


def test_a_bot_message_whose_answer_was_lost_is_unknown_and_the_agent_is_told_to_check(tmp_path: Path) -> None:
    """Messenger took the bot's message but its answer never came (a timeout): the customer may well have it. It
    was recorded failed and the agent's note said it "could not be sent", inviting them to send it again by hand;
    it is unknown, as an agent's reply is then (bridge.outbound), never resent, and the note says to check."""
    with bot(tmp_path, "zendesk", "facebook", timeout=1) as (stack, rt):
        stack.meta.slow_after_commit("/", "POST", seconds=2)  # the Send API: the message goes out, too late to hear
        Customer(stack, "facebook").writes("Hi, what are your opening hours?")
        [key] = {str(r["thread_key"]) for r in stack.store.rows("inbox", status="pending")}
        assert inbound.process_thread(rt, key, "w") == 1
        ticket = one_ticket(stack)["id"]
        assert len(stack.meta.sent_messages) == 1
        assert [d["status"] for d in stack.store.rows("deliveries")] == ["unknown"]
        [note] = [n for n in notes(stack, ticket) if "We are open" in n]
        assert note.startswith(messages.bot_unknown_note("x", "y")[:40]) and bot_module.FAILED_PREFIX not in note


class Killed(BaseException):
    """The worker's process ends (a deploy, the OOM killer): nothing after this line of the worker runs."""


def _killed(_seconds: float) -> None:
    raise Killed


def test_a_worker_killed_in_the_bots_note_has_recorded_the_send_first(tmp_path: Path) -> None:
    """The bot's internal note is a helpdesk call with the policy's retries. It sat between the send and the
    event's last write: a worker killed while it waited to retry left the delivery "sending" for ever, its
    WhatsApp id unknown, and WhatsApp's receipt for it (here "failed") ignored as "a message the bridge did not
    send". The note now comes after the record: a crash in it loses only the note."""
    with bot(tmp_path, "zendesk", "whatsapp") as (stack, rt):
        Customer(stack, "whatsapp").writes("Hi, what are your opening hours?")
        [key] = {str(r["thread_key"]) for r in stack.store.rows("inbox", status="pending")}
        stack.helpdesk.inject(Fault(503, method="PUT", path_prefix="/api/v2/tickets/"))  # the note: retried...
        rt.policy.sleep = _killed  # ...after a wait, in which the worker is killed
        with pytest.raises(Killed):
            inbound.process_thread(rt, key, "w")
        [sent] = stack.meta.wa_sent_messages
        sent_ids = json.dumps([sent["message_id"]])
        assert [(d["status"], d["message_ids"]) for d in stack.store.rows("deliveries")] == [("sent", sent_ids)]
        assert [r["status"] for r in stack.store.rows("inbox")] == ["done"]
        stack.meta.whatsapp_status(WA_PHONE_ID, message_id=sent["message_id"], recipient=sent["to"], status="failed",
                                   error_code=131026)  # fmt: skip
        rt.policy.sleep = lambda _seconds: None
        work(stack, rt)
        assert dict(stack.store.ignored_reasons(0)) == {} and stack.store.rows("deliveries")[0]["receipt"] == "failed"


def _execute(stack: Stack, sql: str) -> None:
    with stack.store.engine.begin() as conn:
        conn.exec_driver_sql(sql)


def _bot_state(stack: Stack, rt: Runtime, event: SocialEvent) -> BotState:
    """What the worker reads for the bot with the event's thread context."""
    state = stack.store.load_thread_context(event, rt.helpdesk.name, bot=bot_module.reads(rt, event)).bot
    assert state is not None
    return state


def _no_row() -> Any:
    raise AssertionError("the thread has no row")


def test_a_field_the_helpdesk_refuses_is_noted_and_the_message_kept(tmp_path: Path) -> None:
    """Freshdesk refuses an unknown custom field (400): the customer's message is on its ticket already, so the
    event must finish (it was dead-lettered, losing the thread's changes); the agent gets the value in a note."""
    with bot(tmp_path, "freshdesk", "facebook", field="cf_no_such_field") as (stack, rt):
        customer = Customer(stack, "facebook")
        customer.writes("Where is my order?")
        work(stack, rt)
        customer.writes("It is 4471203, thanks")
        work(stack, rt)
        assert len(customer.received()) == 1  # the question; no thanks for what was not kept
        assert stack.store.open_dead_letters() == []
        assert [r["status"] for r in stack.store.rows("inbox")] == ["done", "done"]
        [note] = [n for n in notes(stack, one_ticket(stack)["id"]) if "4471203" in n]
        assert note.startswith("The customer answered the bot's question: 4471203 (field cf_no_such_field), but the")


def test_a_question_whose_send_failed_was_never_asked(tmp_path: Path) -> None:
    """Messenger refuses the bot's question (a 500 with Graph's 1200, "Temporary send message failure": not sent; a
    bare 500 may come after it was, connectors.meta.NOT_APPLIED): the customer never saw it, nor that the bot is
    automated. A number they write next is no answer to it (it filled the ticket field and got "Thanks, order ... is
    noted." for a question never asked), and the bot's next message says it is automated."""
    with bot(tmp_path, "zendesk", "facebook") as (stack, rt):
        customer = Customer(stack, "facebook")
        refused = {"error": {"message": "(#1200) Temporary send message failure. Please try again later.",
                             "type": "OAuthException", "code": 1200, "fbtrace_id": "AbC"}}  # fmt: skip
        path = f"/{stack.meta.version}/{PAGE_ID}/messages"
        stack.meta.inject(Fault(500, method="POST", path_prefix=path, body=refused))
        customer.writes("Where is my order?")
        work(stack, rt)
        assert customer.received() == [] and [d["status"] for d in stack.store.rows("deliveries")] == ["failed"]
        customer.writes("It is 4471203")
        work(stack, rt)
        ticket = one_ticket(stack)
        assert customer.received() == [] and _zendesk_field(ticket["custom_fields"], FIELD["zendesk"]) is None
        assert not any("answered the bot's question" in n for n in notes(stack, ticket["id"]))
        customer.writes("what are your opening hours?")
        work(stack, rt)
        assert [text for text, _ in customer.received()] == [HOURS + SAID]


def test_a_question_whatsapp_reports_failed_was_never_asked(tmp_path: Path) -> None:
    """WhatsApp took the bot's question, then reported it "failed" (131026, undeliverable): the customer never
    saw it, and a number they write next is no answer to it."""
    with bot(tmp_path, "zendesk", "whatsapp") as (stack, rt):
        customer = Customer(stack, "whatsapp")
        customer.writes("Where is my order?")
        work(stack, rt)
        [asked] = stack.meta.wa_sent_messages
        stack.meta.whatsapp_status(WA_PHONE_ID, message_id=asked["message_id"], recipient=asked["to"],
                                   status="failed", error_code=131026)  # fmt: skip
        work(stack, rt)
        assert [d["receipt"] for d in stack.store.rows("deliveries")] == ["failed"]
        [note] = [n for n in notes(stack, one_ticket(stack)["id"]) if "131026" in n]  # not "the reply above"
        assert note.startswith("The bot's message (ask order) did not reach the customer.\nReason: WhatsApp reported")
        customer.writes("It is 4471203")
        work(stack, rt)
        ticket = one_ticket(stack)
        assert len(customer.received()) == 1 and _zendesk_field(ticket["custom_fields"], FIELD["zendesk"]) is None


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_bot_message_whose_answer_was_lost_is_not_sent_again(tmp_path: Path, platform: str) -> None:
    """The platform posts the message, then the answer is lost (a proxy's 502): the bot's message is worth one try
    (it was retried within the call, and posted twice), and its outcome is unknown, not "not sent": the customer has
    it (it was recorded failed, the agent told it could not be sent)."""
    with bot(tmp_path, "zendesk", platform) as (stack, rt):
        customer = Customer(stack, platform)
        stack_of = {"telegram": stack.telegram}.get(platform, stack.meta)
        stack_of.lose_answer(_send_path(stack, platform), "POST")
        customer.writes("Hi, what are your opening hours?")
        work(stack, rt)
        assert [text for text, _ in customer.received()] == [HOURS + SAID]
        [delivery] = stack.store.rows("deliveries")
        assert delivery["status"] == "unknown"
        assert notes(stack, one_ticket(stack)["id"])[-1].startswith(
            "socialdesk does not know whether the bot's answer reached the customer"
        )


def _send_path(stack: Stack, platform: str) -> str:
    node = {"facebook": PAGE_ID, "instagram": "me", "whatsapp": WA_PHONE_ID}.get(platform)
    return f"/{stack.meta.version}/{node}/messages" if node else f"/bot{TG_TOKEN}/sendMessage"


def test_a_bug_in_the_bots_note_does_not_stop_the_threads_next_message(tmp_path: Path) -> None:
    """The bot's note runs after the event's record (8393383), outside the guard that parks an event whose
    handling hit a bug: an answer zenpy cannot read (a 200 without the ticket: AttributeError inside the connector)
    escaped process_thread, and the customer's next message waited for the dispatcher's sweep. The event is
    recorded already; the failure is logged and the thread goes on."""
    with bot(tmp_path, "zendesk", "facebook") as (stack, rt):
        customer = Customer(stack, "facebook")
        customer.writes("Hi, what are your opening hours?")
        customer.writes("and is there parking?")
        [key] = {str(r["thread_key"]) for r in stack.store.rows("inbox", status="pending")}
        stack.helpdesk.inject(Fault(200, method="PUT", path_prefix="/api/v2/tickets/", body={}))  # the note
        assert inbound.process_thread(rt, key, "w") == 2
        assert [r["status"] for r in stack.store.rows("inbox")] == ["done", "done"]
        public = [c["body"] for c in stack.zendesk.comments(one_ticket(stack)["id"]) if c["public"]]
        assert any("is there parking" in body for body in public)


def test_a_send_recorded_meanwhile_is_not_overwritten_as_unknown(tmp_path: Path) -> None:
    """A worker that finds the bot's row "sending" records it "unknown" (20348bc), as outbound does an agent's
    reply's. Should the holder have stalled past its lease and then recorded "sent" with the platform's ids, that
    later "unknown" overwrote them (message_ids "[]"): an answer the customer has, said not to be known."""
    with bot(tmp_path, "zendesk", "facebook") as (stack, _rt):
        comment, key = "bot:answer:hours:0123456789abcdef", f"facebook:{PAGE_ID}:messenger:801"
        stack.store.start_delivery(helpdesk="zendesk", comment_id=comment, ticket_id="1", thread_key=key, at=1.0,
                                   author_kind=AuthorKind.BOT)  # fmt: skip
        stack.store.finish_delivery("zendesk", comment, status="sent", platform="facebook", message_ids=["m.1"])
        stack.store.finish_delivery("zendesk", comment, status="unknown", platform="facebook", error="stopped")
        [row] = stack.store.rows("deliveries")
        assert (row["status"], row["message_ids"]) == ("sent", '["m.1"]')


def test_a_send_recorded_meanwhile_gets_no_unknown_note_or_metric(tmp_path: Path) -> None:
    """The worker that re-applies the event finds the bot's row "sending" and takes it for cut off; the holder,
    stalled past its lease, records "sent" before that worker's last write, which then leaves the row "sent"
    (abb833a). Its "does not know whether…" note and its "unknown" count followed all the same: the agent told
    to check an answer the customer has. The holder's record is made on the worker's own connection just before
    its delivery update (an engine event on the real store, as a commit in between would land)."""
    with bot(tmp_path, "zendesk", "facebook") as (stack, rt):
        key = _dies_after_the_bots_send(stack, rt)
        ticket, unknown = one_ticket(stack)["id"], _bot_unknown("answer")
        before = notes(stack, ticket)
        with recorded_first(stack, "UPDATE deliveries SET status = 'sent', message_ids = '[\"m.1\"]'"):
            assert inbound.process_thread(rt, key, "w") == 1
        assert [(d["status"], d["message_ids"]) for d in stack.store.rows("deliveries")] == [("sent", '["m.1"]')]
        assert (notes(stack, ticket), _bot_unknown("answer")) == (before, unknown)
        assert [r["status"] for r in stack.store.rows("inbox")] == ["done"]


def _dies_after_the_bots_send(stack: Stack, rt: Runtime) -> str:
    """A customer's message whose worker dies at its last write, after the bot's send (a trigger refuses it): the
    event stays pending, the bot's row "sending". Returns the thread's key."""
    Customer(stack, "facebook").writes("Hi, what are your opening hours?")
    [key] = {str(r["thread_key"]) for r in stack.store.rows("inbox", status="pending")}
    _execute(stack, "CREATE TRIGGER dies BEFORE UPDATE OF status ON inbox WHEN NEW.status = 'done' "
                    "BEGIN SELECT RAISE(ABORT, 'the worker died'); END")  # fmt: skip
    with pytest.raises(sa.exc.DatabaseError, match="the worker died"):
        inbound.process_thread(rt, key, "w")
    _execute(stack, "DROP TRIGGER dies")
    return key


def _bot_unknown(step: str) -> float:
    labels = {"channel": channel_name("facebook"), "step": step, "outcome": "unknown"}
    return metrics.SERIES.get_sample_value("socialdesk_bot_messages_total", labels) or 0.0
