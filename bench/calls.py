"""Helpdesk calls per customer message, by kind, on both helpdesks, with Salesforce configured (#18's goal:
≤ 2 per new thread, ≤ 1 per follow-up).

    .venv/bin/python -m bench.calls [--customers 10] [--helpdesks zendesk,freshdesk] [--no-rules-field]

Per helpdesk, a stack with the Salesforce simulator (the CRM's attributes mapped to ticket and user fields, as
``[salesforce] ticket_fields`` / ``user_fields``, ``crm_note = false``, joining on) and ``--customers`` Contacts
with a Facebook SocialPersona, synced to the helpdesk by ``sync-contacts`` first; as many strangers the CRM
does not know. Messages go one at a time, each settled before the next, so every helpdesk call in the
simulator's log between two messages is that message's. Kinds:

* ``stranger, new thread``        a Messenger thread's first message from someone the CRM does not know
* ``stranger, rule fires``        the same, with a triage rule that fires (``lawyer``: priority urgent)
* ``known contact, 1st message``  a Contact's first message ever: joined to their synced user, identity attached
* ``joined, new thread``          that identity's next new thread (a comment on a post): the user remembered
* ``follow-up``                   a later message of a thread (strangers' and Contacts')

``--no-rules-field``: without ``[bridge] rules_field`` (the default config), where a rule that fires explains
itself in a note of its own. The bridge runs in this process's stack (a worker thread), the simulators too.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bridge import sync
from bridge.registry import build_runtime
from sandbox.stack import HELPDESKS, PAGE_ID, Stack

KINDS = (
    "stranger, new thread", "stranger, rule fires", "known contact, 1st message", "joined, new thread", "follow-up",
)  # fmt: skip
GOAL = {"follow-up": 1}  # every other kind opens a ticket: ≤ 2
RULES: list[dict[str, Any]] = [{"name": "legal", "when": {"keywords": ["lawyer"]}, "then": {"priority": "urgent"}}]
TICKET_FIELDS = ("account_name", "owner_name", "account_type", "open_cases", "url")


def crm_stack(workdir: Path, helpdesk: str, *, rules_field: bool) -> Stack:
    stack = Stack(workdir, helpdesk=helpdesk, salesforce={}, rules=RULES)
    sim = stack.helpdesk
    stack.salesforce_options = {
        "ticket_fields": {name: sim.add_ticket_field(f"crm {name}") for name in TICKET_FIELDS},
        "user_fields": {"account_name": sim.add_user_field("crm_account")},
    }
    if rules_field:
        stack.bridge_options = {"rules_field": sim.add_ticket_field("triage")}
    return stack


def run(helpdesk: str, customers: int, *, rules_field: bool) -> dict[str, Any]:
    """Calls per message by kind, and each kind's most common sequence of calls."""
    seen: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp, crm_stack(Path(tmp), helpdesk, rules_field=rules_field) as stack:
        known = _known_contacts(stack, customers)
        sync.sync_contacts(build_runtime(stack.config, store=stack.store))
        meta = stack.meta

        def message(psid: str, text: str) -> Callable[[], object]:
            return lambda: meta.customer_message(PAGE_ID, psid=psid, text=text)

        def comment(user_id: str, text: str) -> Callable[[], object]:  # on a new post: a new thread
            return lambda: meta.customer_comment(PAGE_ID, text=text, user_id=user_id, user_name="Known Customer")

        for i in range(customers):
            stranger, contact = f"7{i:09d}", known[i]
            steps = [
                ("stranger, new thread", message(stranger, "Where is my order?")),
                ("follow-up", message(stranger, "Hello?")),
                ("stranger, rule fires", message(f"8{i:09d}", "My lawyer will call you")),
                ("known contact, 1st message", message(contact, "Hi, it's me again")),
                ("follow-up", message(contact, "Any news?")),
                ("joined, new thread", comment(contact, "Me again")),
            ]
            for kind, send in steps:
                seen[kind].append(_calls_of(stack, send))
    return {kind: _summary(seen[kind]) for kind in KINDS}


def _known_contacts(stack: Stack, customers: int) -> list[str]:
    """``customers`` Contacts at an Enterprise account, each with a Facebook persona; their PSIDs."""
    sf = stack.salesforce
    assert sf is not None
    account = sf.add_account("Globex", Type="Enterprise")
    psids = []
    for i in range(customers):
        psid = f"6{i:09d}"
        contact = sf.add_contact(f"Known Customer{i}", Email=f"known{i}@globex.example", AccountId=account)
        sf.add_persona(provider="Facebook", external_id=psid, parent_id=contact, name=f"known{i}")
        psids.append(psid)
    return psids


def _calls_of(stack: Stack, send: Callable[[], object]) -> tuple[str, ...]:
    """The helpdesk API calls made between sending this message and the bridge being idle again."""
    mark = len(stack.helpdesk.calls)
    send()
    stack.meta.wait_for_webhooks(10)
    stack.wait_for(lambda: len(stack.helpdesk.calls) > mark and stack.idle(), timeout=60)
    calls = stack.helpdesk.calls[mark:]
    return tuple(f"{c.method} {re.sub(r'/[0-9]+', '/N', c.path)}" for c in calls if c.path.startswith("/api/v2/"))


def _summary(sequences: list[tuple[str, ...]]) -> dict[str, Any]:
    counts = [len(s) for s in sequences]
    common, _ = Counter(sequences).most_common(1)[0]
    return {"messages": len(counts), "mean": round(sum(counts) / len(counts), 2), "max": max(counts),
            "calls": list(common)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10, help="known Contacts, and as many strangers")
    parser.add_argument("--helpdesks", default=",".join(HELPDESKS))
    parser.add_argument("--no-rules-field", action="store_true", help="without [bridge] rules_field")
    args = parser.parse_args()
    for helpdesk in args.helpdesks.split(","):
        result = run(helpdesk, args.customers, rules_field=not args.no_rules_field)
        print(f"\n{helpdesk}: calls per message (mean / max, goal) and the usual calls")
        for kind, r in result.items():
            goal = GOAL.get(kind, 2)
            flag = "" if r["max"] <= goal else "  over the goal"
            print(f"  {kind:28} {r['mean']:.2f} / {r['max']} (≤ {goal}){flag}: {', '.join(r['calls'])}")


if __name__ == "__main__":
    main()
