"""What happened to the events: Zendesk calls matched to events, calls per event by kind, latencies,
and the end state checked against what was sent (nothing lost, nothing doubled, order kept).

Matching uses the line the bridge writes under every customer comment, ``ref: facebook/<mid>``: a
ticket creation (``POST /api/v2/tickets``) or a comment (``PUT /api/v2/tickets/<id>``) carrying it
applied that event; a requester lookup (``POST /api/v2/users/create_or_update``) is charged to the
event that opened its customer's ticket. Event kinds, by what the bridge had to do:

* ``new thread``     first message of a thread from a customer the bridge has never seen;
* ``known contact``  first message of a thread from a customer whose helpdesk user is cached;
* ``follow-up``      any later message of a thread (a comment on its ticket).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.common import percentile
from bench.flow import Answer, Sent
from bench.payloads import Plan
from sandbox.zendesk import ZendeskSimulator

REF = re.compile(r"^ref: facebook/(\S+)$", re.MULTILINE)
KINDS = ("new thread", "known contact", "follow-up")
GOALS = {"new thread": 2, "known contact": 1, "follow-up": 1}  # the goal: ≤ 2 / ≤ 1, CRM 0
TICKET_PUT = re.compile(r"/api/v2/tickets/\d+")


@dataclass(frozen=True)
class Call:
    kind: str  # user | create | update | other
    ok: bool
    at: float
    ref: str | None
    psid: str | None
    path: str


def classify(answer: Answer) -> Call:
    path = answer.path.removesuffix(".json")
    body: Any = json.loads(answer.body) if answer.body else {}
    ok = 200 <= answer.status < 300
    if answer.method == "POST" and path == "/api/v2/users/create_or_update":
        external = str((body.get("user") or {}).get("external_id") or "")
        return Call("user", ok, answer.at, None, external.partition(":")[2] or None, path)
    if (answer.method == "POST" and path == "/api/v2/tickets") or (
        answer.method == "PUT" and TICKET_PUT.fullmatch(path)
    ):
        comment = str(((body.get("ticket") or {}).get("comment") or {}).get("body") or "")
        found = REF.search(comment)
        if found:
            return Call("create" if answer.method == "POST" else "update", ok, answer.at, found.group(1), None, path)
    return Call("other", ok, answer.at, None, None, f"{answer.method} {re.sub(r'[0-9]+', 'N', path)}")


def analyse(plan: Plan, sent: Sequence[Sent], answers: Sequence[Answer], *, since: float) -> dict[str, Any]:
    """Calls per event by kind, latency from the platform's timestamp (and from ``since``) to the call."""
    calls = [classify(a) for a in answers]
    by_mid = {s.mid: s for s in sent}
    applied: dict[str, Call] = {}
    for call in calls:
        if call.ok and call.ref in by_mid and call.ref not in applied:
            applied[call.ref] = call
    kind_of = {mid: _kind(plan, by_mid[mid], call) for mid, call in applied.items()}
    opener = {plan.psid(by_mid[m].thread): m for m, c in applied.items() if c.kind == "create"}
    charged: dict[str, Counter[str]] = defaultdict(Counter)  # mid → ok / attempts
    for call in calls:
        mid = call.ref if call.ref in by_mid else opener.get(call.psid or "")
        if mid is not None and call.kind != "other":
            charged[mid]["attempts"] += 1
            charged[mid]["ok"] += call.ok
    kinds = {k: _kind_summary(k, kind_of, charged, applied, by_mid, since) for k in KINDS}
    latencies = [applied[m].at - by_mid[m].timestamp for m in applied]
    others = Counter(c.path for c in calls if c.kind == "other")
    return {
        "events_applied": len(applied),
        "calls_ok": sum(c.ok for c in calls),
        "calls_attempted": len(calls),
        "rejected_429": sum(1 for a in answers if a.status == 429),
        "other_statuses": dict(Counter(a.status for a in answers if not 200 <= a.status < 300 and a.status != 429)),
        "other_calls": dict(others),
        "by_kind": kinds,
        "latency_s": _pcts(latencies),
        "timeline": _timeline([(by_mid[m].timestamp, applied[m].at - by_mid[m].timestamp) for m in applied]),
        "first_call_at": min((c.at for c in calls), default=None),
        "last_applied_at": max((c.at for c in applied.values()), default=None),
    }


def crm_by_kind(plan: Plan, sent: Sequence[Sent], answers: Sequence[Answer], crm: Sequence[Answer]) -> dict[str, Any]:
    """CRM calls charged to event kinds: a call naming a customer (their id in the query) before that thread's
    ticket existed is the new thread's (or known contact's), after it a follow-up's."""
    by_mid = {s.mid: s for s in sent}
    opened: dict[str, tuple[float, str]] = {}
    for call in map(classify, answers):
        if call.kind == "create" and call.ok and call.ref in by_mid:
            s = by_mid[call.ref]
            opened.setdefault(plan.psid(s.thread), (call.at, _kind(plan, s, call)))
    counts: Counter[str] = Counter()
    for answer in crm:
        text = (answer.query + answer.body).decode("utf-8", "replace")
        psid = next((p for p in re.findall(r"[56]\d{9}", text) if p in opened), None)
        if psid is None:
            counts["unattributed"] += 1
            continue
        at, kind = opened[psid]
        counts[kind if answer.at <= at else "follow-up"] += 1
    events = Counter(_kind_of_sent(plan, s) for s in sent)
    per = {k: round(counts[k] / events[k], 3) if events[k] else None for k in KINDS}
    return {"calls": len(crm), "by_kind": dict(counts), "per_event": per}


def _kind_of_sent(plan: Plan, sent: Sent) -> str:
    return "follow-up" if sent.index else ("known contact" if sent.thread < plan.known else "new thread")


def _kind(plan: Plan, sent: Sent, call: Call) -> str:
    if call.kind == "update":
        return "follow-up"
    return "known contact" if sent.thread < plan.known else "new thread"


def _kind_summary(
    kind: str,
    kind_of: dict[str, str],
    charged: dict[str, Counter[str]],
    applied: dict[str, Call],
    by_mid: dict[str, Sent],
    since: float,
) -> dict[str, Any]:
    mids = [m for m, k in kind_of.items() if k == kind]
    ok = sum(charged[m]["ok"] for m in mids)
    attempts = sum(charged[m]["attempts"] for m in mids)
    return {
        "events": len(mids),
        "calls_ok": ok,
        "calls_per_event": round(ok / len(mids), 3) if mids else None,
        "attempts_per_event": round(attempts / len(mids), 3) if mids else None,
        "goal": GOALS[kind],
        "latency_s": _pcts([applied[m].at - by_mid[m].timestamp for m in mids]),
        "since_start_s": _pcts([applied[m].at - since for m in mids]),
    }


def _timeline(points: list[tuple[float, float]], slices: int = 10) -> list[dict[str, float | None]]:
    """Latency by tenth of the run (by send time): shows whether a backlog built up, and when."""
    points.sort()
    size = max(1, len(points) // slices)
    chunks = [points[i : i + size] for i in range(0, len(points), size)]
    start = points[0][0] if points else 0.0
    return [{"from_s": _round(c[0][0] - start), **_pcts([lat for _, lat in c])} for c in chunks]


def _pcts(values: Sequence[float]) -> dict[str, float | None]:
    return {f"p{p}": _round(percentile(values, p)) for p in (50, 95, 99)} | {"max": _round(max(values, default=None))}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def check_state(plan: Plan, sent: Sequence[Sent], zendesk: ZendeskSimulator, inbox: dict[str, int]) -> dict[str, Any]:
    """The end state against what was sent: one ticket per thread, every message once, in order."""
    tickets = zendesk.tickets
    per_thread = Counter(str(t["external_id"]) for t in tickets)
    seen: Counter[str] = Counter()
    out_of_order = 0
    index_of = {s.mid: s.index for s in sent}
    for ticket in tickets:
        refs = [m.group(1) for c in zendesk.comments(ticket["id"]) for m in [REF.search(c["body"])] if m]
        refs = [r for r in refs if r in index_of]
        seen.update(refs)
        out_of_order += [index_of[r] for r in refs] != sorted(index_of[r] for r in refs)
    return {
        "events_sent": len(sent),
        "non_2xx_webhook_answers": sum(1 for s in sent if not 200 <= s.status < 300),
        "threads": plan.threads,
        "tickets": len(tickets),
        "duplicate_tickets": sum(n - 1 for n in per_thread.values()),
        "lost": sum(1 for s in sent if seen[s.mid] == 0),
        "duplicated": sum(n - 1 for n in seen.values() if n > 1),
        "threads_out_of_order": out_of_order,
        "inbox": inbox,
    }
