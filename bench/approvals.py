"""What approvals add to one ticket sync: ``bridge.holding.plan_for`` (the replies' delivery rows read by
their unique key, then the pure plan), on a SQLite store already holding many deliveries.

    .venv/bin/python -m bench.approvals [--deliveries 100000] [--replies 20] [--syncs 2000]

The store is filled with ``--deliveries`` rows over as many tickets (5 each); every sync plans one ticket of
``--replies`` agent replies, half of them delivered, a quarter held, none tagged (the common case: nothing
to take off the ticket, so no helpdesk call). Prints wall and CPU µs per sync and writes
``bench/results/approvals.json``. The helpdesk's own calls (reading the replies) are not part of it.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from dataclasses import fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from bench import common
from bridge import holding
from bridge.approvals import ApprovalSettings
from bridge.events import AgentReply
from bridge.registry import Runtime
from bridge.rows import ThreadRow
from bridge.store import Store, deliveries


class _Helpdesk:
    name = "zendesk"


class _Runtime:
    """What ``plan_for`` reads of a runtime: the store, the helpdesk's name, the approvers."""

    def __init__(self, store: Store) -> None:
        self.store, self.helpdesk = store, _Helpdesk()
        self.approvers = holding.Approvers(ApprovalSettings(agents=("77",)))


def fill(store: Store, rows: int) -> None:
    now, statuses = time.time(), ("sent", "sent", "held", "failed")
    batch = [
        {"helpdesk": "zendesk", "comment_id": str(n), "ticket_id": str(n // 5), "thread_key": f"t{n // 5}",
         "status": statuses[n % 4], "created_at": now, "updated_at": now}
        for n in range(rows)
    ]  # fmt: skip
    with store.begin() as conn:
        conn.execute(deliveries.insert(), batch)


def replies_of(ticket: int, count: int) -> list[AgentReply]:
    at = datetime.now(UTC)
    return [AgentReply(str(ticket), str(ticket * 5 + i), "text", "1", None, at) for i in range(count)]


THREAD = ThreadRow.of({f.name: None for f in fields(ThreadRow)})  # plan_for reads only its approval


def run(store: Store, tickets: int, replies: int, syncs: int) -> dict[str, Any]:
    rt = cast(Runtime, _Runtime(store))
    wall, cpu = [], []
    for _ in range(syncs):
        ticket = random.randrange(tickets)
        batch = replies_of(ticket, replies)
        thread = replace(THREAD, approval="rule legal" if ticket % 2 else None)
        started, started_cpu = time.perf_counter(), time.process_time()
        holding.plan_for(rt, thread, str(ticket), batch)
        wall.append((time.perf_counter() - started) * 1e6)
        cpu.append((time.process_time() - started_cpu) * 1e6)
    return {"wall_us": {"mean": sum(wall) / len(wall), "p50": common.percentile(wall, 50),
                        "p99": common.percentile(wall, 99)}, "cpu_us_mean": sum(cpu) / len(cpu)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=100_000)
    parser.add_argument("--replies", type=int, default=20)
    parser.add_argument("--syncs", type=int, default=2000)
    args = parser.parse_args()
    busy = common.background_busy()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.from_url(f"sqlite:///{Path(tmp) / 'bench.db'}", migrate=True)
        fill(store, args.deliveries)
        result = run(store, args.deliveries // 5, args.replies, args.syncs)
        store.close()
    wall = result["wall_us"]
    print(common.table(
        ["deliveries", "replies/sync", "syncs", "wall µs mean", "p50", "p99", "CPU µs mean", "foreign"],
        [[args.deliveries, args.replies, args.syncs, f"{wall['mean']:.0f}", f"{wall['p50']:.0f}",
          f"{wall['p99']:.0f}", f"{result['cpu_us_mean']:.0f}", f"{busy:.0%}"]],
    ))  # fmt: skip
    common.write_results("approvals", {"machine": common.machine(), "code": common.code_version(), "foreign": busy,
                                       "deliveries": args.deliveries, "replies": args.replies, **result})  # fmt: skip


if __name__ == "__main__":
    main()
