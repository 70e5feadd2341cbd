"""``socialdesk status``: is the bridge keeping up? What an operator asks first when paged.

Per queue table (customers' messages in ``inbox``, agents' replies in ``ticket_events``): the rows by
state, how many wait, how long the oldest has waited, how many are being retried and why; the replies'
delivery states; which connectors are paused by a rate limit and for how long (from the pause board
the workers share: Redis at scale, the store otherwise); how many dead letters are open; what was
recorded as ignored (read receipts, likes, messages of no channel...), counted by reason; with automatic
acknowledgements configured, those of the last 24 hours by state and why none was sent; how many agent
replies wait for an approver (:mod:`bridge.approvals`) and for how long the oldest has; with Salesforce,
the social identities joined to Contacts' users (merged, linked, undone) in the last 24 hours.
``--max-lag`` turns it into a probe for monitoring: exit status 1 when the oldest waiting row of
either queue has waited longer.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from bridge import holding, logs, messages, schedules
from bridge.config import Config
from bridge.errors import BridgeError, Unavailable
from bridge.pauses import pause_board
from bridge.store import Store

QUEUES = ("inbox", "ticket_events")
DAY = 86_400.0


def connectors(config: Config) -> list[str]:
    """The names the workers pause under: the helpdesk, the CRM, each channel."""
    return [config.helpdesk, *(["salesforce"] if config.salesforce else []), *(c.name for c in config.channels)]


def report(config: Config, store: Store, *, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    out: dict[str, Any] = {"store": where(store)}
    for table in QUEUES:
        backlog = store.backlog(table)
        oldest = backlog.pop("oldest_received_at")
        out[table] = {"counts": store.counts(table), **backlog,
                      "oldest_pending_age_s": None if oldest is None else round(max(0.0, now - oldest), 1)}  # fmt: skip
    out["deliveries"] = {"counts": store.counts("deliveries")}
    waiting, since = holding.waiting(store)
    out["approvals"] = {"waiting": waiting, "oldest_wait_s": None if since is None else round(max(0.0, now - since), 1)}
    out["ignored"] = {reason: {"last_24h": n, "total": total}
                      for reason, (n, total) in sorted(store.ignored_reasons(now - DAY).items())}  # fmt: skip
    board = pause_board(config.queue_url, store)
    try:
        out["paused"] = {
            name: round(until - now, 1) for name in connectors(config) if (until := board.paused_until(name)) > now
        }
    except Unavailable as e:  # Redis down: say so, and still show the rest
        out["paused"], out["paused_unknown"] = None, e.message
    out["dead_letters"] = len(store.open_dead_letters())
    out["calendars"] = _calendars(config, store, now)
    if config.salesforce:
        out["joins"] = _joins(store.recent_joins(now - DAY))
    if config.acks:
        statuses, reasons = store.ack_summary(now - DAY)
        out["acks"] = {"last_24h": statuses, "reasons": dict(sorted(reasons.items(), key=lambda r: -r[1]))}
    if config.quick:
        out["bot"] = {"last_24h": store.bot_summary(now - DAY)}  # quick answers: apart from people's replies
    return out


def _calendars(config: Config, store: Store, now: float) -> dict[str, dict[str, Any]]:
    """Each calendar in one line; a helpdesk schedule never read, or whose last read failed, says so."""
    copy = schedules.stored(store)
    at = datetime.fromtimestamp(now, UTC)
    out: dict[str, dict[str, Any]] = {}
    for name, calendar in config.calendars.items():
        try:
            out[name] = {"ok": True, "detail": schedules.report(calendar, copy, at)}
        except BridgeError as e:
            out[name] = {"ok": False, "detail": str(e)}
    return out


JOINS_SHOWN = 5


def _joins(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The last 24 hours' joins of social identities to Contacts' users (bridge.joins), by action; the latest."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["action"]] = counts.get(row["action"], 0) + 1
    latest = [f"{messages.key_shown(r['identity_key'])} {r['action']}: {r['reason']}" for r in rows[:JOINS_SHOWN]]
    return {"last_24h": counts, "latest": latest}


def _joins_lines(joins: dict[str, Any] | None) -> list[str]:
    if joins is None:
        return []
    counts = "  ".join(f"{k}={v}" for k, v in sorted(joins["last_24h"].items())) or "none"
    return [f"{'joins (24 h)':14} {counts}", *(f"{'':14} {line}" for line in joins["latest"])]


def _acks(acks: dict[str, Any] | None) -> list[str]:
    if acks is None:
        return []
    counts = "  ".join(f"{k}={v}" for k, v in sorted(acks["last_24h"].items())) or "none planned"
    return [f"{'acks (24 h)':14} {counts}", *(f"{'':14} {n:>6}  {why}" for why, n in acks["reasons"].items())]


def behind(status: dict[str, Any], max_lag: float) -> list[str]:
    """The queues whose oldest waiting row has waited longer than ``max_lag`` seconds, said in words."""
    return [
        f"{table}: the oldest of {status[table]['pending']} waiting has waited {age:g} s (limit {max_lag:g} s)"
        for table in QUEUES
        if (age := status[table]["oldest_pending_age_s"]) is not None and age > max_lag
    ]


def where(store: Store) -> str:
    """The store read, its file's absolute path or its host, password masked: an operator can tell it is the one
    the workers use (a relative SQLite file was once read from the current folder, a new empty store)."""
    return logs.masked_url(store.engine.url)


def render(status: dict[str, Any]) -> list[str]:
    lines = [f"{'store':14} {status['store']}"]
    for table in (*QUEUES, "deliveries"):
        counts = status[table]["counts"]
        lines.append(f"{table:14} " + ("  ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "empty"))
        if status[table].get("pending"):
            s = status[table]
            line = f"{'':14} {s['pending']} waiting, the oldest for {s['oldest_pending_age_s']:g} s"
            if s["retrying"]:
                line += f"; {s['retrying']} being retried, the oldest of them after: {s['last_error']}"
            lines.append(line)
    approvals = status["approvals"]
    lines.append(f"{'approvals':14} " + messages.approvals_line(approvals["waiting"], approvals["oldest_wait_s"]))
    ignored = status["ignored"]
    lines.append(f"{'ignored':14} " + ("nothing" if not ignored else "by reason, last 24 h (all time):"))
    lines += [f"{'':14} {n['last_24h']:>6} ({n['total']})  {reason}" for reason, n in ignored.items()]
    paused = status["paused"]
    if paused is None:
        lines.append(f"{'paused':14} unknown: {status['paused_unknown']}")
    else:
        lines.append(f"{'paused':14} " + ("  ".join(f"{k} for {v:g} s more" for k, v in paused.items()) or "nothing"))
    for name, c in status["calendars"].items():
        lines.append(f"{'calendar':14} {name}: {'' if c['ok'] else '✗ '}{c['detail']}")
    lines += _joins_lines(status.get("joins"))
    lines += _acks(status.get("acks"))
    if "bot" in status:
        sent = "  ".join(f"{k}={v}" for k, v in sorted(status["bot"]["last_24h"].items())) or "none sent"
        lines.append(f"{'bot (24 h)':14} {sent}")
    letters = status["dead_letters"]
    lines.append(f"{'dead letters':14} " + (f"{letters} open: `socialdesk dead-letters`" if letters else "none"))
    return lines
