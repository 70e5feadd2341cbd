"""Where a worker's time goes: stored threads applied one by one in this process, under cProfile.

    .venv/bin/python -m bench.profile_worker [--threads 200] [--backend sqlite] [--top 30] [--crm enrich]

``--crm enrich`` adds the Salesforce simulator (a lookup per new customer, cached); ``--crm write-back`` also
records each post in it (``[salesforce] write_back = true``). ``--quick`` gives the channel quick answers
(:mod:`bridge.bot`) and has every message ask one, so the bot answers each.

The simulators run in this process too, but on their own threads, which cProfile does not see: the
profile is the bridge's side only (store, retry policy, zenpy, requests). Not a benchmark of speed.
It also counts the store's transactions per event, and of those the ones that wrote (each a durable
commit: an fsync on SQLite, a WAL flush on PostgreSQL): for the threads' first messages (applied first,
each thread's alone) and for their follow-ups (applied after, the rest of each thread together).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from bench import common
from bench.payloads import Plan, Signer, post
from bridge import inbound
from bridge.registry import Runtime, build_runtime
from bridge.transactions import Counted, TransactionCount
from sandbox.stack import Stack

#: ``--crm``: the ``[salesforce]`` options of the Stack (None: no CRM)
CRM: dict[str, dict[str, Any] | None] = {"none": None, "enrich": {}, "write-back": {"write_back": True}}
#: ``--quick``: the channel's ``[channels.quick]``, and what every customer then writes
QUICK = {"person": "Talk to a person", "handoff": "A person will answer you here.",
         "answers": [{"name": "hours", "keywords": ["opening hours"], "text": "Open 9:00-18:00."}]}  # fmt: skip
QUICK_TEXT = "what are your opening hours?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=200, help="threads of 5 messages")
    parser.add_argument("--backend", choices=common.BACKENDS, default="sqlite")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--crm", choices=tuple(CRM), default="none", help="Salesforce: none, lookups, write-back")
    parser.add_argument("--quick", action="store_true", help="quick answers: the bot answers every message")
    args = parser.parse_args()
    plan = Plan(threads=args.threads, per_thread=5, known=0)
    profiler, phases = cProfile.Profile(), []
    with common.backend(args.backend) as b, tempfile.TemporaryDirectory() as tmp:
        options = {"quick": QUICK} if args.quick else {}
        stack = Stack(Path(tmp), database_url=b.database_url, queue_url=b.queue_url, start_worker=False,
                      salesforce=CRM[args.crm], channel_options=options).start()  # fmt: skip
        try:
            runtime = build_runtime(stack.config, store=stack.store)
            signer, order = Signer(stack.meta), plan.order()
            for name, first in (("first messages", True), ("follow-ups", False)):
                posted = [(thread, index) for thread, index in order if (index == 0) == first]
                phases.append((name, *_phase(stack, runtime, signer, plan, posted, profiler, quick=args.quick)))
            bot = stack.store.bot_summary(0.0)
        finally:
            stack.stop()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
    print(out.getvalue())
    for name, done, elapsed, counted in phases:
        per_event = elapsed / max(1, done) * 1000
        print(f"{name}: {done} events in {elapsed:.2f} s on one thread: {per_event:.2f} ms per event;"
              f" store transactions per event: {counted.total / max(1, done):.2f},"
              f" of which wrote: {counted.writes / max(1, done):.2f}")  # fmt: skip
    if args.quick:
        print("the bot's messages:", ", ".join(f"{status} {n}" for status, n in sorted(bot.items())) or "none")


def _phase(
    stack: Stack,
    runtime: Runtime,
    signer: Signer,
    plan: Plan,
    posted: list[tuple[int, int]],
    profiler: cProfile.Profile,
    *,
    quick: bool,
) -> tuple[int, float, Counted]:
    """Post these messages, then apply every thread's pending ones under the profiler, counting transactions."""
    with requests.Session() as session:
        for thread, index in posted:
            text = QUICK_TEXT if quick else f"m {index}"
            post(session, stack.url, signer.message(plan.psid(thread), index, text=text))
    keys = sorted({str(r["thread_key"]) for r in stack.store.rows("inbox", status="pending")})
    transactions = TransactionCount(stack.store.engine)
    start = time.perf_counter()
    profiler.enable()
    done = sum(inbound.process_thread(runtime, key, "profiler") for key in keys)
    profiler.disable()
    elapsed = time.perf_counter() - start
    transactions.close()
    return done, elapsed, transactions.now()


if __name__ == "__main__":
    main()
