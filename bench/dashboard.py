"""The dashboard's default view (the page with no parameter) over a big store, part by part.

    .venv/bin/python -m bench.dashboard [--messages 1000000] [--backends sqlite,postgres]

The store is bench.figures' (``messages`` customer messages over 2026, four per thread, replies as the worker
leaves them) plus what bench.figures leaves out and the page reads too: one ``threads`` row per thread with its
current episode (a tenth still waiting for a first reply). Then, each three times (the best kept): the two
answers the page asks for at once, in parallel, with no parameter: ``/dashboard/api/figures``
(:func:`bridge.dashboard.view`: the last 7 days, all channels, the badge, the waiting episodes) and
``/dashboard/api/status`` (:func:`bridge.dashboard.operations`, ``socialdesk status``); and the view's parts
alone, so that a slow one shows.

Goal (issue 17): the default view in <= 1 s with 1 million messages.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bench import common
from bench.figures import CHANNELS, START, TODAY, YEAR, _config, best, fill
from bridge import badge, config, dashboard
from bridge.figquery import calendars_for, compute
from bridge.store import Store, threads

BATCH = 20_000


def fill_threads(store: Store, messages: int) -> None:
    """One row per thread of bench.figures' store: its second episode current, answered unless t % 10 == 9."""
    count = messages // 4
    for first in range(0, count, BATCH):
        rows = []
        for t in range(first, min(count, first + BATCH)):
            channel, platform = CHANNELS[t % 3]
            begin = START + (t * 7919 % count) / count * (YEAR - 3 * 86400) + 2 * 86400
            rows.append({"key": f"{platform}:page:{t}", "platform": platform, "channel": channel, "account_id": "page",
                         "thread_id": str(t), "reply_to": str(t), "helpdesk": "zendesk", "ticket_id": str(t),
                         "episode_started_at": begin, "episode_answered_at": None if t % 10 == 9 else begin + 600,
                         "created_at": begin, "updated_at": begin})  # fmt: skip
        with store.begin() as conn:
            conn.execute(sa.insert(threads), rows)
    with store.begin() as conn:
        conn.execute(sa.text("ANALYZE"))


def cpu(run: Callable[[], Any]) -> float:
    started = time.process_time()
    run()
    return time.process_time() - started


def measure(backend: str, messages: int) -> dict[str, Any]:
    cfg = config.parse(_config(), env={})
    now = datetime.combine(TODAY, datetime.max.time(), UTC).timestamp()
    with common.backend(backend) as b:
        store = Store.from_url(b.database_url, migrate=True)
        try:
            fill(store, messages)
            fill_threads(store, messages)
            query = dashboard.parse_query({}, cfg, now)
            parts: dict[str, Callable[[], Any]] = {
                "view_s": lambda: dashboard.view(store, cfg, query, now=now),
                "operations_s": lambda: dashboard.operations(store, cfg, now=now),
                "figures_s": lambda: compute(store, query.period, None, calendars_for(cfg, store)),
                "badge_s": lambda: badge.badges(store, CHANNELS, now),
                "waiting_s": lambda: store.waiting_episodes(None, limit=dashboard.WAITING_SHOWN, with_text=False),
            }
            timed = {name: round(best(run)[0], 3) for name, run in parts.items()}
            # this process's CPU for both answers: the store's work too on SQLite (in process), not PostgreSQL's
            timed["cpu_s"] = round(min(cpu(lambda: (parts["view_s"](), parts["operations_s"]())) for _ in range(3)), 3)
        finally:
            store.close()
    return {"backend": backend, "messages": messages, **timed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", default="1000000", help="comma-separated store sizes")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--out", default="dashboard", help="results file: bench/results/<out>.json")
    args = parser.parse_args()
    common.exit_cleanly_on_sigterm()
    results = [measure(b, int(n)) for b in args.backends.split(",") for n in args.messages.split(",")]
    keys = ["backend", "messages", "view_s", "operations_s", "figures_s", "badge_s", "waiting_s", "cpu_s"]
    headers = ["backend", "messages", "api/figures s", "api/status s", "figures s", "badge s", "waiting s",
               "both, CPU s"]  # fmt: skip
    print(common.table(headers, [[r[k] for k in keys] for r in results]))
    path = common.write_results(args.out, {"args": vars(args), "machine": common.machine(), "runs": results})
    print(f"written {path.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
