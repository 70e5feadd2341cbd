"""``socialdesk demo``: the whole loop on the embedded defaults, against the simulators, in seconds.

A customer comments on a Facebook post and another writes in Messenger; the bridge opens two tickets
(Zendesk, or Freshdesk with ``--helpdesk freshdesk``); an agent answers each publicly and leaves an
internal note; the replies arrive in the right comment thread and conversation, the notes nowhere; the
platform's echoes of our own replies are recognised and dropped. Then one conversation on each other
channel: Instagram, WhatsApp, X, Telegram and an own website chat. Last, an angry message routed by the
triage rules (:data:`RULES`): an urgent ticket in the escalation group, whose first note says why. And an
Instagram message on a day the support calendar is closed gets the away reply (:data:`ACK`), with its promise.
And an agent's reply under a crisis post waits for an approver, then goes out once (:mod:`sandbox.demo_approvals`).
Last, with the Salesforce simulator (:mod:`sandbox.demo_crm`): after ``sync-contacts``, a known customer's
message lands on their synced user with the CRM's fields filled, a stranger gets a social user.
A Telegram customer gets a quick answer with buttons and is handed off to a person (:mod:`sandbox.demo_quick`).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox import demo_approvals, demo_crm, demo_dashboard, demo_figures, demo_folder
from sandbox.demo_quick import quick_answer, quick_options
from sandbox.stack import IG_ID, PAGE_ID, PLATFORMS, WA_PHONE_ID, Stack

Echo = Callable[[str], None]

COMMENT = "My order #1234 arrived with a cracked mug. Can you help?"
MESSAGE = "Hi! Do you ship your beans to Canada?"
COMMENT_REPLY = "So sorry about the mug, Jane! A replacement is on its way, no need to send the old one back."
MESSAGE_REPLY = "Hi Sam! Yes, we ship to Canada: 3-5 business days, free over $40."
NOTE = "INTERNAL: customer is a VIP, refund the shipping too."
ANGRY = "Third time my delivery is late. Terrible service. Refund me or I call my lawyer."
#: The demo's ``[[rules]]``, as they would be written in socialdesk.toml.
RULES: list[dict[str, Any]] = [
    {"name": "escalate-angry", "when": {"public": False, "sentiment": "negative", "urgency": "high"},
     "then": {"escalate": "Escalations"}, "stop": True},
    {"name": "billing", "when": {"keywords": ["refund", "invoice"]}, "then": {"group": "Billing"}},
    demo_approvals.RULE,
]  # fmt: skip
#: The Instagram channel's acknowledgements and calendar, as in socialdesk.toml (today is made a holiday by
#: :func:`_calendars`, so that the away reply shows whenever the demo runs).
ACK: dict[str, Any] = {
    "instant": "Thanks {first_name}! We will answer {promise}.",
    "away": "Hi {first_name}, we are closed today; a person will answer {promise} (ticket #{ticket}).",
    "apology": "We are sorry, {first_name}. A person will look at this {promise}.",
    "delay": 1,
    "disclosure": "(automated message)",
}
AWAY_MESSAGE = "Do you have decaf beans?"
PRIORITY_NAMES = {1: "low", 2: "normal", 3: "high", 4: "urgent"}  # Freshdesk's numbers


def run(*, workdir: Path | None = None, verbose: bool = False, echo: Echo = print, helpdesk: str = "zendesk") -> bool:
    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR, format="  · %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.INFO if verbose else logging.ERROR)
    started = time.monotonic()
    if workdir is not None:
        demo_folder.prepare(workdir)  # a second demo there starts clean, as the first did
    with tempfile.TemporaryDirectory(prefix="socialdesk-demo-") as tmp:
        stack = Stack(workdir or Path(tmp), helpdesk=helpdesk, platforms=PLATFORMS, rules=RULES,
                      calendars=_calendars(), platform_options={"instagram": {"calendar": "support", "ack": ACK},
                                                                     "telegram": quick_options(helpdesk)},
                      salesforce={}, dashboard=demo_dashboard.DASHBOARD)  # fmt: skip
        stack.salesforce_options = demo_crm.prepare(stack)  # the helpdesk fields the [salesforce] table maps
        with stack:
            stack.meta.echoes = True
            groups = {name: stack.helpdesk.add_group(name) for name in ("Escalations", "Billing")}
            checks = _play(stack, echo) + _other_channels(stack, echo) + [_routed(stack, groups, echo)]
            checks.append(_away(stack, echo))
            checks.append(demo_approvals.approval(stack, echo))
            checks.append(demo_figures.show(stack, echo))
            checks += demo_crm.play(stack, echo, step=10)  # after the figures, which count the conversations above
            checks.append(quick_answer(stack, echo, step=11))
            checks.append(demo_dashboard.check(stack, workdir, echo, step=12))
        if workdir is not None:
            demo_folder.seal(workdir)  # stopped: its files are as the demo left them
    echo("")
    for ok, what in checks:
        echo(f"  {'✓' if ok else '✗'} {what}")
    passed = all(ok for ok, _ in checks)
    echo(f"\n{'All good' if passed else 'Something went wrong'}: {sum(ok for ok, _ in checks)}/{len(checks)} checks "
         f"in {time.monotonic() - started:.1f}s (SQLite store and queue, simulators on 127.0.0.1).")  # fmt: skip
    echo(demo_dashboard.how_to_open(workdir))
    return passed


def _play(stack: Stack, echo: Echo) -> list[tuple[bool, str]]:
    name = stack.helpdesk_name.capitalize()
    echo(f"socialdesk demo — bridge on {stack.url}, {name} simulator on {stack.helpdesk.url}, "
         f"Graph API simulator on {stack.meta.url}\n")  # fmt: skip
    post_id = stack.meta.add_post(PAGE_ID, "Our autumn blend is here 🍂")
    echo("1. Customers write")
    comment = stack.meta.customer_comment(
        PAGE_ID, post_id=post_id, text=COMMENT, user_id="5550101", user_name="Jane Roe"
    )
    echo(f"   Jane Roe comments on post {post_id}: {COMMENT!r}")
    stack.meta.set_profile(PAGE_ID, "7700123", "Sam", "Okafor")  # what Messenger's User Profile API answers
    message = stack.meta.customer_message(PAGE_ID, psid="7700123", text=MESSAGE)
    echo(f"   Sam Okafor writes on Messenger (PSID 7700123; the name comes from the profile API): {MESSAGE!r}")

    tickets = stack.wait_for(lambda: len(stack.helpdesk.tickets) >= 2 and stack.helpdesk.tickets, timeout=20)
    echo(f"\n2. The bridge opened {name} tickets")
    for ticket in tickets:
        _show_ticket(stack, ticket, echo)

    by_thread = {t["external_id"]: t for t in tickets}
    comment_ticket = by_thread[f"facebook:{PAGE_ID}:comment:{comment.comment_id}"]
    message_ticket = by_thread[f"facebook:{PAGE_ID}:messenger:7700123"]

    echo(f"\n3. Agents answer in {name} (a public reply and an internal note on each ticket)")
    for ticket, answer in ((comment_ticket, COMMENT_REPLY), (message_ticket, MESSAGE_REPLY)):
        stack.helpdesk.agent_comment(ticket["id"], NOTE, public=False)
        stack.helpdesk.agent_comment(ticket["id"], answer, public=True)
    stack.helpdesk.fire_webhook(comment_ticket["id"], style="event")
    stack.helpdesk.fire_webhook(message_ticket["id"], style="trigger")
    ids = f"#{comment_ticket['id']} and #{message_ticket['id']}"
    echo(f"   tickets {ids}: a public reply and an internal note each; webhooks fired")

    stack.wait_for(lambda: stack.meta.comment_replies and stack.meta.sent_messages, timeout=20)
    stack.meta.wait_for_webhooks(10)
    stack.wait_for(stack.idle, timeout=20)
    echo("\n4. What reached Facebook")
    for posted in stack.meta.comment_replies:
        echo(f"   comment reply under {posted['parent_id']}: {posted['message']!r}")
    for sent in stack.meta.sent_messages:
        echo(f"   Messenger to {sent['recipient']} ({sent['messaging_type']}): {sent['text']!r}")
    return _checks(stack, comment.comment_id, message.psid)


def _show_ticket(stack: Stack, ticket: dict[str, Any], echo: Echo) -> None:
    requester = stack.helpdesk.user(ticket["requester_id"])
    first = stack.helpdesk.comments(ticket["id"])[0]
    echo(f"   #{ticket['id']} {ticket['subject']!r}")
    echo(f"      requester: {requester.get('name')} (external_id {requester.get('external_id')})")
    echo(f"      tags: {', '.join(ticket['tags'])}   external_id: {ticket['external_id']}")
    echo(f"      first comment: {first['body'].splitlines()[0]!r}")


def _checks(stack: Stack, comment_id: str, psid: str) -> list[tuple[bool, str]]:
    replies, sent = stack.meta.comment_replies, stack.meta.sent_messages
    everything = [r["message"] for r in replies] + [s["text"] for s in sent]
    stored = len([r for r in stack.store.rows("inbox") if r["status"] != "ignored"])  # echoes are kept as ignored
    echoes = len(stack.meta.deliveries) - 2
    return [
        (len(stack.helpdesk.tickets) == 2, "one ticket per social thread (2 threads, 2 tickets)"),
        ([r["parent_id"] for r in replies] == [comment_id], "the comment reply went under Jane's comment, once"),
        (
            [(s["recipient"], s["text"]) for s in sent] == [(psid, MESSAGE_REPLY)],
            "the Messenger reply went to the PSID",
        ),
        (all(NOTE not in text for text in everything), "internal notes were not posted anywhere"),
        (echoes >= 2 and stored == 2, f"the platform's {echoes} echoes of our own replies were recognised and ignored"),
        (len(stack.helpdesk.tickets) == 2, "no ticket was opened for our own replies"),
    ]


# -- one conversation on each of the other channels ----------------------------------------------------------


@dataclass(frozen=True)
class Conversation:
    channel: str
    customer_writes: Callable[[Stack], object]
    reply: str
    delivered: Callable[[Stack], list[str]]


def _wa_texts(stack: Stack) -> list[str]:
    return [str(m.get("text")) for m in stack.meta.wa_sent_messages]


def _our_posts(stack: Stack) -> list[str]:
    return [p.text for p in stack.x.posts.values() if p.author_id == stack.x.user_id]


OTHERS = [
    Conversation("Instagram DM", lambda s: s.meta.instagram_message(IG_ID, igsid="ig-4411", text="Oat milk?"),
                 "We do, at every shop!", lambda s: [m["text"] for m in s.meta.ig_sent_messages]),
    Conversation("WhatsApp", lambda s: s.meta.whatsapp_message(WA_PHONE_ID, wa_id="447700900123", name="Priya",
                                                               text="Open on Sunday?"),
                 "Yes, 9am to 5pm.", _wa_texts),
    Conversation("X mention", lambda s: s.x.customer_post(f"@{s.x.username} cold!", user_id="4242", username="sam"),
                 "Sorry Sam! The next one is on us.", _our_posts),
    Conversation("Telegram", lambda s: s.telegram.customer_message("Order ahead?", user_id=5551, first_name="Ana"),
                 "Yes, in our app.", lambda s: [m["text"] for m in s.telegram.sent]),
    Conversation("own website chat", lambda s: s.web.customer_message("Receipt?", thread_id="web-1", author_id="u-9",
                                                                       author_name="Lee"),
                 "In your account, under Orders.", lambda s: [m["text"] for m in s.web.received]),
]  # fmt: skip


def _other_channels(stack: Stack, echo: Echo) -> list[tuple[bool, str]]:
    echo("\n5. One conversation on every other channel")
    return [_converse(stack, conversation, echo) for conversation in OTHERS]


def _converse(stack: Stack, talk: Conversation, echo: Echo) -> tuple[bool, str]:
    try:
        return _talk(stack, talk, echo)
    except TimeoutError:
        return False, f"{talk.channel}: nothing arrived within 20 s (run with --verbose to see why)"


def _talk(stack: Stack, talk: Conversation, echo: Echo) -> tuple[bool, str]:
    known = {t["id"] for t in stack.helpdesk.tickets}
    talk.customer_writes(stack)
    ticket = stack.wait_for(lambda: next((t for t in stack.helpdesk.tickets if t["id"] not in known), None))
    stack.helpdesk.agent_comment(ticket["id"], talk.reply, public=True)
    stack.helpdesk.fire_webhook(ticket["id"])
    ok = bool(stack.wait_for(lambda: talk.reply in talk.delivered(stack), timeout=20))
    echo(f"   {talk.channel}: ticket #{ticket['id']} {ticket['subject']!r} → delivered {talk.reply!r}")
    return ok, f"{talk.channel}: one ticket, and the agent's reply delivered"


# -- a conversation routed by the triage rules -------------------------------------------------------------------


def _routed(stack: Stack, groups: dict[str, int], echo: Echo) -> tuple[bool, str]:
    echo("\n6. Triage: [[rules]] decide before the ticket is made")
    for rule in RULES:
        echo(f"   rule {rule['name']}: when {rule['when']} then {rule['then']}")
    known = {t["id"] for t in stack.helpdesk.tickets}
    stack.meta.customer_message(PAGE_ID, psid="7700999", text=ANGRY)
    echo(f"   A customer writes on Messenger: {ANGRY!r}")
    ticket = stack.wait_for(
        lambda: next((t for t in stack.helpdesk.tickets if t["id"] not in known and _notes(stack, t)), None)
    )
    priority = PRIORITY_NAMES.get(ticket["priority"], ticket["priority"])
    group = next((name for name, gid in groups.items() if gid == ticket["group_id"]), ticket["group_id"])
    echo(f"   ticket #{ticket['id']}: priority {priority}, group {group}, tags {', '.join(ticket['tags'])}")
    echo("   its internal note (why it went there):")
    note = _notes(stack, ticket)[0]
    for line in note.splitlines():
        echo(f"      {line}")
    ok = priority == "urgent" and group == "Escalations" and "rule escalate-angry:" in note
    return ok, "the angry message became an urgent ticket in Escalations, and its note says which rule and why"


def _notes(stack: Stack, ticket: dict[str, Any]) -> list[str]:
    return [str(c["body"]) for c in stack.helpdesk.comments(ticket["id"]) if not c["public"]]


# -- an away reply ----------------------------------------------------------------------------------------------


def _calendars() -> dict[str, Any]:
    today = datetime.now(UTC).date().isoformat()
    return {"support": {"timezone": "UTC", "hours": ["mon-fri 09:00-17:00"], "holidays": [today],
                        "target": "2 business hours"}}  # fmt: skip


def _away(stack: Stack, echo: Echo) -> tuple[bool, str]:
    echo("\n7. An automatic acknowledgement: the support calendar is closed today (a holiday)")
    echo(f"   the Instagram channel's away template: {ACK['away']!r}")
    known = {t["id"] for t in stack.helpdesk.tickets}
    stack.meta.instagram_message(IG_ID, igsid="ig-7788", text=AWAY_MESSAGE)
    echo(f"   A customer writes on Instagram: {AWAY_MESSAGE!r}")
    try:
        ticket = stack.wait_for(lambda: next((t for t in stack.helpdesk.tickets if t["id"] not in known), None))
        sent = stack.wait_for(lambda: [m["text"] for m in stack.meta.ig_sent_messages if m["recipient"] == "ig-7788"])
        note = stack.wait_for(lambda: [n for n in _notes(stack, ticket) if n.startswith("Sent automatically")])
    except TimeoutError:
        return False, "the away reply: nothing was sent within 30 s (run with --verbose to see why)"
    echo(f"   after its 1 s delay, sent to the customer: {sent[0]!r}")
    echo(f"   on ticket #{ticket['id']}, an internal note: {note[0].splitlines()[0]!r}")
    ok = (
        len(sent) == 1
        and sent[0].startswith("Hi, we are closed today; a person will answer by ")
        and (f"(ticket #{ticket['id']})" in sent[0])
    )
    return ok, "the away reply went once, with the promise and the ticket number, and is noted on the ticket"
