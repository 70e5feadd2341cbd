"""Burst under a rate limit: 10,000 events at once while the Zendesk simulator allows 700 requests/min.

    .venv/bin/python -m bench.burst [--events 10000] [--time-scale 0.25] [--backends sqlite,postgres]

The worker runs; the events arrive as fast as `socialdesk serve` takes them (the burst); the bridge
must drain them through Zendesk's budget. Reported: the drain time (first event sent → last event
applied) against the theoretical minimum (calls needed ÷ allowed rate), the 429s it ran into, and the
end state: every event exactly once, one ticket per thread, in order, no dead letter.

The limit is scaled: ``--time-scale s`` makes the simulator's window ``60 s × s`` (700 requests per
window), so the run is ``1/s`` times shorter than it would be against a real 700/min account. Choose
``s`` so that the allowed rate stays below what the pipeline can do unconstrained (see
bench/pipeline.py), or the limit never binds and the run measures the pipeline instead.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import common
from bench.flow import bridge, feed, log_tail
from bench.outcome import KINDS, analyse, check_state
from bench.payloads import Plan

LIMIT_PER_MINUTE = 700


def calls_needed(plan: Plan) -> int:
    """2 per new thread (requester + ticket), 1 per known contact's thread, 1 per follow-up."""
    return (plan.threads - plan.known) * 2 + plan.known + plan.threads * (plan.per_thread - 1)


def run(plan: Plan, args: argparse.Namespace) -> dict[str, Any]:
    window = 60.0 * args.time_scale
    background = common.wait_quiet(args.wait_quiet)
    zendesk = {"rate_limit_per_minute": LIMIT_PER_MINUTE, "time_scale": args.time_scale}
    with (
        common.backend(args.backend) as b,
        tempfile.TemporaryDirectory(prefix="sd-burst-") as tmp,
        bridge(b, Path(tmp), zendesk=zendesk) as running,
    ):
        running.seed_known(plan)
        time.sleep(window)  # the seeding's calls leave the window: the burst starts with a full budget
        mark = len(running.calls.answers)
        running.start_workers(args.processes, args.concurrency)
        time.sleep(2.0)  # the worker imports and connects
        first_sent, watch = time.time(), common.CpuWatch()
        sent = feed(running, plan)
        fed = time.time()
        running.wait_applied(len(sent), args.timeout)
        cpu = watch.stop(running.pids())
        memory = running.memory()
        analysis = analyse(plan, sent, running.calls.since(mark), since=first_sent)
        state = check_state(plan, sent, running.stack.zendesk, running.inbox())
        dead = running.stack.store.open_dead_letters()
        errors = log_tail(Path(tmp) / "processes.log")
    return _summary(plan, args, window, first_sent, fed, analysis, state, memory) | {
        "dead_letters": len(dead),
        "dead_letter_errors": [f"{d['source']}#{d['source_id']} {d['key']}: {d['error']}" for d in dead],
        "background_busy": background,
        "cpu": cpu,
        "errors_in_log": errors,
    }


def _summary(
    plan: Plan, args: argparse.Namespace, window: float, first_sent: float, fed: float, analysis: dict[str, Any],
    state: dict[str, Any], memory: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    rate = LIMIT_PER_MINUTE / window
    drain = analysis["last_applied_at"] - first_sent
    needed = calls_needed(plan)
    return {
        "backend": args.backend,
        "events": state["events_sent"],
        "time_scale": args.time_scale,
        "window_s": window,
        "allowed_calls_per_s": round(rate, 2),
        "feed_s": round(fed - first_sent, 2),
        "drain_s": round(drain, 2),
        "calls_needed": needed,
        "theoretical_min_s": round(needed / rate, 2),
        "drain_over_min": round(drain / (needed / rate), 3),
        "real_time_equivalent_min": round(drain / args.time_scale / 60, 1),
        "calls_ok": analysis["calls_ok"],
        "rejected_429": analysis["rejected_429"],
        "achieved_calls_per_s": round(analysis["calls_ok"] / drain, 2),
        "limit_bound": analysis["rejected_429"] > 0 and analysis["calls_ok"] / drain >= 0.8 * rate,
        "analysis": analysis,
        "state": state,
        "memory": memory,
    }


HEADERS = ["backend", "scale", "allowed/s", "bound", "needed", "min s", "drain s", "× min", "real min", "ok calls",
           "429s", "lost", "dup", "dup tickets", "disordered", "dead", "worker MiB", "web MiB", "foreign"]  # fmt: skip


def row(r: dict[str, Any]) -> list[Any]:
    s, m = r["state"], r["memory"]
    bound = "yes" if r["limit_bound"] else "NO"
    return [r["backend"], r["time_scale"], r["allowed_calls_per_s"], bound, r["calls_needed"], r["theoretical_min_s"],
            r["drain_s"], r["drain_over_min"], r["real_time_equivalent_min"], r["calls_ok"], r["rejected_429"],
            s["lost"], s["duplicated"], s["duplicate_tickets"], s["threads_out_of_order"], r["dead_letters"],
            max(m["worker_peak_rss_mib"]), max(m["web_workers_peak_rss_mib"]),
            f"{r['cpu']['foreign_share']:.0%}"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--per-thread", type=int, default=5)
    parser.add_argument("--known-share", type=float, default=0.2)
    parser.add_argument("--time-scale", type=float, default=0.25, help="window = 60 s × this (default 0.25)")
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--wait-quiet", type=float, default=0, help="wait up to N s for other work to stop")
    parser.add_argument("--out", default="burst", help="results file: bench/results/<out>.json")
    args = parser.parse_args()
    common.exit_cleanly_on_sigterm()
    threads = args.events // args.per_thread
    plan = Plan(threads=threads, per_thread=args.per_thread, known=round(threads * args.known_share))
    print(f"burst: {threads * args.per_thread:,} events, Zendesk limit {LIMIT_PER_MINUTE}/min scaled ×{args.time_scale}"
          f" (window {60 * args.time_scale:g} s); busy before start: {common.busy_procs() or 'none'}")  # fmt: skip
    results = []
    for backend in args.backends.split(","):
        args.backend = backend
        results.append(run(plan, args))
        print(common.table(HEADERS, [row(results[-1])]), flush=True)
    print(f"\nburst: {KINDS} calls/event: " + "; ".join(_per_kind(r) for r in results))
    print(common.table(HEADERS, [row(r) for r in results]))
    print(f"times are scaled: a real 700/min account takes 1/{args.time_scale:g} as long ('real min' column)")
    path = common.write_results(args.out, {"plan": plan.__dict__, "args": vars(args), "runs": results})
    print(f"written {path.relative_to(common.ROOT)}")


def _per_kind(r: dict[str, Any]) -> str:
    kinds = r["analysis"]["by_kind"]
    return f"{r['backend']}: " + ", ".join(
        f"{kinds[k]['calls_per_event']} ok/{kinds[k]['attempts_per_event']} tried" for k in KINDS
    )


if __name__ == "__main__":
    main()
