"""Retention: how long the nightly prune takes, and how long each of its write transactions holds the lock.

    .venv/bin/python -m bench.prune [--rows 100000,400000] [--backends sqlite,postgres]

Fills a fresh store with ``rows`` finished inbox rows of about 1 KB of text, half of them older than
the retention, then runs :meth:`bridge.store.Store.prune` twice: the first run empties the old half's
text, the second finds nothing left to do (what every later night costs). The work should grow
linearly with the table: a run over four times the rows should take about four times as long.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import sqlalchemy as sa

from bench import common
from bridge.ingest import IngestRow
from bridge.retention import DAY
from bridge.store import PRUNE_CHUNK, Store

FILL_BATCH = 5000
TEXT = "x" * 1000


def fill(store: Store, rows: int) -> None:
    now = time.time()
    for start in range(0, rows, FILL_BATCH):
        batch: list[list[IngestRow]] = []
        for i in range(start, min(rows, start + FILL_BATCH)):
            at = now - (40 * DAY if i % 2 else 0)
            batch.append([("facebook", "1", f"m{i}", "c", f"t{i % 997}", "message", TEXT, at, at, "pending", None)])
        store.ingest_batch(batch)
    with store.begin() as conn:
        conn.execute(sa.text("UPDATE inbox SET status = 'done'"))


def measure(backend: str, rows: int) -> dict[str, Any]:
    with common.backend(backend) as b:
        store = Store.from_url(b.database_url, migrate=True)
        try:
            fill(store, rows)
            before = time.time() - 30 * DAY
            started = time.perf_counter()
            first = store.prune(before)
            first_s = time.perf_counter() - started
            started = time.perf_counter()
            second = store.prune(before)
            second_s = time.perf_counter() - started
        finally:
            store.close()
    chunks = -(-rows // PRUNE_CHUNK)
    return {"backend": backend, "rows": rows, "emptied": first["inbox"], "first_s": round(first_s, 2),
            "ms_per_chunk": round(first_s / chunks * 1000, 1), "again_s": round(second_s, 2),
            "again_changed": sum(second.values())}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,400000", help="comma-separated table sizes")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--out", default="prune", help="results file: bench/results/<out>.json")
    args = parser.parse_args()
    common.exit_cleanly_on_sigterm()
    results = [measure(b, int(n)) for b in args.backends.split(",") for n in args.rows.split(",")]
    headers = ["backend", "rows", "text emptied", "first run s", "ms per chunk", "next night s", "changed"]
    keys = ["backend", "rows", "emptied", "first_s", "ms_per_chunk", "again_s", "again_changed"]
    print(common.table(headers, [[r[k] for k in keys] for r in results]))
    path = common.write_results(args.out, {"args": vars(args), "runs": results})
    print(f"written {path.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
