"""Where a worker's time goes: stored threads applied one by one in this process, under cProfile.

    .venv/bin/python -m bench.profile_worker [--threads 200] [--backend sqlite] [--top 30]

The simulators run in this process too, but on their own threads, which cProfile does not see: the
profile is the bridge's side only (store, retry policy, zenpy, requests). Not a benchmark of speed.
It also counts the store's transactions per event, and of those the ones that wrote (each a durable
commit: an fsync on SQLite, a WAL flush on PostgreSQL).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from pathlib import Path

import requests
import sqlalchemy as sa

from bench import common
from bench.payloads import Plan, Signer, post
from bridge import inbound
from bridge.registry import build_runtime
from sandbox.stack import Stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=200, help="threads of 5 messages")
    parser.add_argument("--backend", choices=common.BACKENDS, default="sqlite")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="cumulative")
    args = parser.parse_args()
    plan = Plan(threads=args.threads, per_thread=5, known=0)
    with common.backend(args.backend) as b, tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp), database_url=b.database_url, queue_url=b.queue_url, start_worker=False).start()
        try:
            signer = Signer(stack.meta)
            with requests.Session() as session:
                for thread, index in plan.order():
                    post(session, stack.url, signer.message(plan.psid(thread), index, text=f"m {index}"))
            runtime = build_runtime(stack.config, store=stack.store)
            keys = sorted({str(r["thread_key"]) for r in stack.store.rows("inbox")})
            transactions = TransactionCount(stack.store.engine)
            profiler, start = cProfile.Profile(), time.perf_counter()
            profiler.enable()
            done = sum(inbound.process_thread(runtime, key, "profiler") for key in keys)
            profiler.disable()
            elapsed = time.perf_counter() - start
        finally:
            stack.stop()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
    print(out.getvalue())
    print(f"{done} events in {elapsed:.2f} s on one thread: {elapsed / max(1, done) * 1000:.2f} ms per event")
    print(f"store transactions per event: {transactions.total / max(1, done):.2f}, "
          f"of which wrote: {transactions.writes / max(1, done):.2f}")  # fmt: skip


class TransactionCount:
    """Transactions committed on ``engine``, and how many of them executed an INSERT, UPDATE or DELETE."""

    def __init__(self, engine: sa.Engine) -> None:
        self.total = self.writes = 0
        self._wrote: set[int] = set()
        sa.event.listen(engine, "before_cursor_execute", self._statement)
        sa.event.listen(engine, "commit", self._commit)

    def _statement(self, conn: sa.Connection, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            self._wrote.add(id(conn))

    def _commit(self, conn: sa.Connection) -> None:
        self.total += 1
        if id(conn) in self._wrote:
            self._wrote.discard(id(conn))
            self.writes += 1


if __name__ == "__main__":
    main()
