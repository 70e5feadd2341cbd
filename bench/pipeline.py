"""Pipeline: events through `socialdesk serve` → store → `socialdesk worker` → the Zendesk simulator.

    .venv/bin/python -m bench.pipeline [--events 10000] [--backends sqlite,postgres] [--mode both]

The mix: ``events / 5`` Messenger threads of 5 messages each; ``--known-share`` of the threads come
from customers the bridge already knows (their helpdesk user is cached), so the three kinds of work
show up: new thread, known contact, follow-up. The simulators answer at once (zero latency).

Two modes, run one after the other on fresh state:

* ``backlog``  every event is stored first with the worker stopped, then the worker starts: the drain
               rate is the pipeline's capacity (events/s), undisturbed by the feeding;
* ``live``     the worker runs and events arrive at a steady ``--rate`` (default: half the backlog
               capacity measured just before): the end-to-end latency, from the platform's timestamp
               to the Zendesk call that applied the event, is what a customer's message waits.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import common
from bench.flow import Bridge, bridge, feed, log_tail
from bench.outcome import KINDS, analyse, check_state, crm_by_kind
from bench.payloads import Plan


def run_once(backend: str, plan: Plan, args: argparse.Namespace, *, mode: str, rate: float | None) -> dict[str, Any]:
    background = common.wait_quiet(args.wait_quiet)
    with (
        common.backend(backend) as b,
        tempfile.TemporaryDirectory(prefix="sd-pipeline-") as tmp,
        bridge(b, Path(tmp), crm=args.crm) as running,
    ):
        running.seed_known(plan)
        mark = len(running.calls.answers)
        watch = common.CpuWatch()
        if mode == "backlog":
            sent = feed(running, plan)
            stored, watch = running.inbox(), common.CpuWatch()
            started = running.start_workers(args.processes, args.concurrency)
        else:
            stored = {}
            started = running.start_workers(args.processes, args.concurrency)
            time.sleep(2.0)  # let the worker import and connect before the first event is timed
            sent = feed(running, plan, rate=rate)
        running.wait_applied(len(sent), args.timeout)
        cpu = watch.stop(running.pids())
        result = _result(running, plan, sent, started, mark)
        result.update(backend=backend, mode=mode, rate=rate, stored_before_start=stored, cpu=cpu)
        result["background_busy"] = background
        result["errors_in_log"] = log_tail(Path(tmp) / "processes.log")
        return result


def _result(running: Bridge, plan: Plan, sent: list[Any], started: float, mark: int) -> dict[str, Any]:
    memory = running.memory()
    analysis = analyse(plan, sent, running.calls.since(mark), since=started)
    state = check_state(plan, sent, running.stack.zendesk, running.inbox())
    if running.crm_calls is not None:
        analysis["crm"] = crm_by_kind(plan, sent, running.calls.since(mark), running.crm_calls.answers)
    last, first = analysis["last_applied_at"], analysis["first_call_at"]
    events = len(sent)
    return {
        "events": events,
        "wall_s": round(last - started, 2),
        "events_per_s": round(events / (last - started), 1),
        "events_per_s_from_first_call": round(events / (last - first), 1) if last > first else None,
        "worker_cpu_s_per_1000_events": round(sum(memory["worker_cpu_s"]) / events * 1000, 2),
        "memory": memory,
        "analysis": analysis,
        "state": state,
    }


def row(r: dict[str, Any]) -> list[Any]:
    a, s, m = r["analysis"], r["state"], r["memory"]
    per = [a["by_kind"][k]["calls_per_event"] for k in KINDS]
    return [r["backend"], r["mode"], r["events"], r["wall_s"], r["events_per_s"], a["latency_s"]["p50"],
            a["latency_s"]["p99"], *per, sum(a["other_calls"].values()), s["lost"], s["duplicated"],
            s["duplicate_tickets"], s["threads_out_of_order"], max(m["worker_peak_rss_mib"]),
            max(m["web_workers_peak_rss_mib"]), f"{r['cpu']['foreign_share']:.0%}"]  # fmt: skip


HEADERS = ["backend", "mode", "events", "wall s", "ev/s", "e2e p50 s", "e2e p99 s", "calls/new", "calls/known",
           "calls/follow", "other", "lost", "dup", "dup tickets", "disordered", "worker MiB", "web MiB",
           "foreign"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--per-thread", type=int, default=5, help="messages per thread")
    parser.add_argument("--known-share", type=float, default=0.2, help="share of threads from known customers")
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--mode", choices=("backlog", "live", "both"), default="both")
    parser.add_argument("--rate", type=float, default=None, help="live feed, events/s (default: ½ backlog ev/s)")
    parser.add_argument("--concurrency", type=int, default=4, help="threads per worker process")
    parser.add_argument("--processes", type=int, default=1, help="worker processes")
    parser.add_argument("--crm", action="store_true", help="run the Salesforce simulator too and count its calls")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--wait-quiet", type=float, default=0, help="wait up to N s for other work to stop")
    parser.add_argument("--out", default="pipeline", help="results file: bench/results/<out>.json")
    args = parser.parse_args()
    common.exit_cleanly_on_sigterm()
    threads = args.events // args.per_thread
    plan = Plan(threads=threads, per_thread=args.per_thread, known=round(threads * args.known_share))
    modes = ("backlog", "live") if args.mode == "both" else (args.mode,)
    mix = f"{plan.threads:,} threads × {plan.per_thread}, {plan.known:,} threads from known customers"
    print(f"{plan.threads * plan.per_thread:,} events: {mix}; busy before start: {common.busy_procs() or 'none'}")
    results = []
    for backend in args.backends.split(","):
        capacity = None
        for mode in modes:
            rate = (args.rate or (capacity / 2 if capacity else 50.0)) if mode == "live" else None
            result = run_once(backend, plan, args, mode=mode, rate=rate)
            capacity = result["events_per_s"] if mode == "backlog" else capacity
            results.append(result)
            print(common.table(HEADERS, [row(result)]), flush=True)
    print("\npipeline: goal calls/event ≤ 2 (new thread), ≤ 1 (follow-up, known contact), CRM 0")
    print(common.table(HEADERS, [row(r) for r in results]))
    for r in results:
        if "crm" in r["analysis"]:
            crm, other = r["analysis"]["crm"], r["analysis"]["other_calls"]
            per = " / ".join(str(crm["per_event"][k]) for k in KINDS)
            print(
                f"{r['backend']} {r['mode']}: CRM calls/event (new / known / follow-up) {per}; Zendesk other: {other}"
            )
    print("e2e: platform timestamp → Zendesk answer that applied the event (backlog: includes the wait for the worker)")
    path = common.write_results(args.out, {"plan": plan.__dict__, "args": vars(args), "runs": results})
    print(f"written {path.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
