"""Ingest: signed Messenger webhooks against gunicorn, socialdesk vs a bare Flask app, side by side.

    .venv/bin/python -m bench.ingest [--duration 20] [--targets bare,sqlite,postgres] [--rounds 1]

Every request carries a new message id, so every 2xx is a real insert. The load comes from a separate
process (wrk -t2 -c16 with bench/ingest.lua; a Python stand-in when wrk is missing) on the same two
cores as the servers. After each run the inbox rows are counted against the 2xx answers: nothing may
be acknowledged and not stored. No worker runs: only the request path is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from bench import common
from bench.payloads import Signer, post, write_wrk_file
from bridge.store import Store
from sandbox.stack import APP_SECRET, PAGE_ID, PAGE_TOKEN, VERIFY_TOKEN, to_toml

GOAL_RATIO, GOAL_P99_MS = 0.65, 15.0
SOCIALDESK_APP = "webhooks.app:create_app()"
NO_GROUP_APP = "bench.variants:no_group_commit_app()"


@dataclass(frozen=True)
class Target:
    """What serves the webhooks: a gunicorn app (or ``socialdesk serve``) on a backend (None: no store)."""

    name: str
    app: str
    backend: str | None
    via_cli: bool = False
    note: str = ""
    gevent: bool = False  # with via_cli: serve's own default (gevent workers) instead of --threads


TARGETS = {
    t.name: t
    for t in (
        Target("bare", "bench.bare_app:create_app()", None, note="bare Flask: read body, answer 200"),
        Target("sqlite", SOCIALDESK_APP, "sqlite", note="embedded default: SQLite store + queue in a temp dir"),
        Target("postgres", SOCIALDESK_APP, "postgres", note="scale: PostgreSQL store + Redis queue"),
        Target("sqlite-serve", SOCIALDESK_APP, "sqlite", via_cli=True, note="`socialdesk serve --threads` (gthread)"),
        Target(
            "sqlite-serve-gevent",
            SOCIALDESK_APP,
            "sqlite",
            via_cli=True,
            gevent=True,
            note="`socialdesk serve` as shipped (gevent workers)",
        ),
        Target(
            "postgres-nopreping",
            "bench.variants:no_pre_ping_app()",
            "postgres",
            note="variant: pool_pre_ping off (no longer on the ingest path: its writer keeps its connection)",
        ),
        Target("sqlite-sync-normal", "bench.variants:sync_normal_app()", "sqlite", note="variant: synchronous=NORMAL"),
        Target(
            "reference",
            "bench.reference_app:create_app()",
            "sqlite",
            note="the issue's reference: raw sqlite3, one INSERT and commit per webhook, synchronous=FULL",
        ),
        Target(
            "reference-normal",
            "bench.reference_app:create_app('NORMAL')",
            "sqlite",
            note="the same with synchronous=NORMAL (no fsync per commit)",
        ),
        Target("sqlite-no-group", NO_GROUP_APP, "sqlite", note="variant: no group commit"),
        Target("postgres-no-group", NO_GROUP_APP, "postgres", note="variant: no group commit"),
    )
}


def config_file(directory: Path, database_url: str, queue_url: str) -> Path:
    """A socialdesk.toml for the web app (the helpdesk is never called on the request path)."""
    raw = {
        "bridge": {"database_url": database_url, "queue_url": queue_url, "helpdesk": "zendesk"},
        "zendesk": {"url": "http://127.0.0.1:9", "email": "bench@example.invalid", "api_token": "x",
                    "webhook_secret": "x"},
        "channels": [{"name": "acme-facebook", "platform": "facebook", "account_id": PAGE_ID,
                      "access_token": PAGE_TOKEN, "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN}],
    }  # fmt: skip
    path = directory / "socialdesk.toml"
    path.write_text(to_toml(raw), encoding="utf-8")
    return path


def server_command(target: Target, port: int, config: Path | None, workers: int, threads: int) -> list[str]:
    """The same gunicorn settings for every target: ``-w workers``, gthread with ``threads`` threads, or sync
    workers when ``threads`` is 0; ``socialdesk serve`` with its gevent workers for a ``gevent`` target."""
    if target.via_cli:
        kind = [] if target.gevent else ["--threads", str(max(threads, 1))]
        return [common.PYTHON, "-m", "bridge.cli", "serve", "--config", str(config), "--port", str(port),
                "--workers", str(workers), *kind]  # fmt: skip
    kind = ["-k", "gthread", "--threads", str(threads)] if threads else ["-k", "sync"]
    return [common.PYTHON, "-m", "gunicorn", "-w", str(workers), *kind, "-b", f"127.0.0.1:{port}", target.app]


def load_command(tool: str, url: str, bodies: Path, duration: float) -> tuple[list[str], dict[str, str]]:
    env = {"BENCH_BODIES": str(bodies), "BENCH_THREADS": "2"}
    if tool == "wrk":
        script = str(common.ROOT / "bench" / "ingest.lua")
        return ["wrk", "-t2", "-c16", f"-d{duration:g}s", "--timeout", "10s", "-s", script, url], env
    return [common.PYTHON, "-m", "bench.pyload", "--url", url, "--bodies", str(bodies),
            "--duration", str(duration), "--connections", "16", "--threads", "2"], env  # fmt: skip


def run_load(tool: str, url: str, bodies: Path, duration: float) -> dict[str, Any]:
    """Run the load generator; its result line plus the CPU it used and the machine's busy share."""
    command, env = load_command(tool, url, bodies, duration)
    before_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, check=False)
    after_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"{command[0]} printed no result:\n{done.stdout}\n{done.stderr}")
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    used = (after_usage.ru_utime + after_usage.ru_stime) - (before_usage.ru_utime + before_usage.ru_stime)
    result["load_cpu_s"] = round(used, 2)
    return result


def warm_up(base_url: str, signer: Signer, count: int = 60) -> None:
    """Import, connect and compile in both gunicorn workers before the clock starts (these rows are not counted)."""
    with requests.Session() as session:
        for signed in signer.unique(count, prefix="8"):
            post(session, base_url, signed)


def measure(target: Target, bodies: Path, signer: Signer, args: argparse.Namespace) -> dict[str, Any]:
    background = common.wait_quiet(args.wait_quiet)
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="sd-ingest-") as tmp:
        backend = stack.enter_context(common.backend(target.backend)) if target.backend else None
        config = None
        if backend is not None:
            config = config_file(Path(tmp), backend.database_url, backend.queue_url)
            Store.from_url(backend.database_url, migrate=True).close()  # `socialdesk db upgrade`
        port = common.free_port()
        log = stack.enter_context((Path(tmp) / "server.log").open("wb"))
        env = {"SOCIALDESK_CONFIG": str(config)} if config else {}
        server = common.spawn(server_command(target, port, config, args.web_workers, args.threads), log=log, env=env)
        stack.callback(common.stop, server)
        base_url = f"http://127.0.0.1:{port}"
        common.wait_http(base_url + "/healthz")
        warm_up(base_url, signer)
        rows_before = common.inbox_count(backend.database_url) if backend else 0
        workers = common.children(server.pid)
        cpu_before, watch = sum(common.cpu_seconds(p) for p in workers), common.CpuWatch()
        result = run_load(args.tool, base_url + "/webhooks/meta", bodies, args.duration)
        result["cpu"] = watch.stop([server.pid, *workers])
        result["server_cpu_s"] = round(sum(common.cpu_seconds(p) for p in workers) - cpu_before, 2)
        time.sleep(0.5)  # requests the load generator gave up on at the cutoff may still be committing
        result["rows"] = common.inbox_count(backend.database_url) - rows_before if backend else None
        result["vm_hwm_kb"] = {str(p): common.status_kb(p, "VmHWM") for p in [server.pid, *workers]}
        result["worker_pids"] = workers
        result["background_busy"] = background
        return result


def summarise(target: Target, runs: list[dict[str, Any]], bare_rps: float | None) -> dict[str, Any]:
    """Medians over rounds, the ratio to bare Flask, the goal, and the lost-nothing check of each round."""
    rps = [r["requests"] / (r["duration_us"] / 1e6) for r in runs]
    p = {k: statistics.median(r["latency_us"][k] for r in runs) / 1000 for k in ("p50", "p95", "p99")}
    median_rps = statistics.median(rps)
    ratio = median_rps / bare_rps if bare_rps else None
    ok_2xx = [sum(n for s, n in r["statuses"].items() if s.startswith("2")) for r in runs]
    lost = [max(0, ok - r["rows"]) for ok, r in zip(ok_2xx, runs, strict=True) if r["rows"] is not None]
    return {
        "target": target.name,
        "note": target.note,
        "rps": round(median_rps, 1),
        "rps_rounds": [round(x, 1) for x in rps],
        "ratio_to_bare": round(ratio, 3) if ratio is not None else None,
        "latency_ms": {k: round(v, 2) for k, v in p.items()},
        "meets_goal": _goal(ratio, p["p99"]) if target.backend else None,
        "answers_2xx": ok_2xx,
        "rows": [r["rows"] for r in runs],
        "lost": lost if target.backend else None,
        "non_2xx": [r["requests"] - ok for r, ok in zip(runs, ok_2xx, strict=True)],
        "repeated_bodies": [r["wraps"] for r in runs],
        "worker_peak_rss_mib": round(max(max(_worker_hwm(r)) for r in runs) / 1024, 1),
        "runs": runs,
    }


def _goal(ratio: float | None, p99_ms: float) -> bool | None:
    return None if ratio is None else ratio >= GOAL_RATIO and p99_ms <= GOAL_P99_MS


def _worker_hwm(run: dict[str, Any]) -> list[int]:
    return [kb or 0 for pid, kb in run["vm_hwm_kb"].items() if int(pid) in run["worker_pids"]] or [0]


def report(summaries: list[dict[str, Any]], tool: str, duration: float, web_workers: int, threads: int) -> str:
    headers = ["target", "req/s", "× bare", "p50 ms", "p95 ms", "p99 ms", "goal", "2xx", "rows", "lost",
               "load cpu s", "server cpu s", "db cpu s", "busy", "foreign", "web RSS MiB"]  # fmt: skip
    rows = []
    for s in summaries:
        last = s["runs"][-1]
        goal = {True: "met", False: "missed", None: "-"}[s["meets_goal"]]
        rows.append([s["target"], s["rps"], s["ratio_to_bare"], *s["latency_ms"].values(), goal,
                     s["answers_2xx"][-1], s["rows"][-1], (s["lost"] or [None])[-1], last["load_cpu_s"],
                     last["server_cpu_s"], last["cpu"]["db_cpu_s"], f"{last['cpu']['machine_busy']:.0%}",
                     f"{last['cpu']['foreign_share']:.0%}",
                     s["worker_peak_rss_mib"]])  # fmt: skip
    goal = f"goal ≥ {GOAL_RATIO:.0%} of bare with p99 ≤ {GOAL_P99_MS:g} ms"
    kind = f"gthread --threads {threads}" if threads else "sync"
    head = f"ingest: gunicorn -w {web_workers} {kind}, {tool} -t2 -c16, {duration:g} s per target; {goal}"
    return head + "\n" + common.table(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per target (default 20)")
    parser.add_argument("--targets", default="bare,sqlite,postgres", help=f"comma-separated, of {', '.join(TARGETS)}")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the whole set; medians are reported")
    parser.add_argument("--tool", choices=("wrk", "python"), default="wrk" if shutil.which("wrk") else "python")
    parser.add_argument("--bodies", type=int, default=0, help="pre-generated requests (default: 6000/s × duration)")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn -w, the same for every target")
    parser.add_argument(
        "--threads",
        type=int,
        default=8,
        help="gunicorn gthread threads per worker, as `socialdesk serve --threads` (0: sync workers)",
    )
    parser.add_argument("--wait-quiet", type=float, default=0, help="wait up to N s for other work to stop")
    parser.add_argument("--out", default="ingest", help="results file: bench/results/<out>.json")
    args = parser.parse_args()
    common.exit_cleanly_on_sigterm()
    targets = [TARGETS[t] for t in args.targets.split(",")]
    if args.tool == "python":
        print("wrk not found (apt-get install wrk): using the Python load generator, which takes more CPU")
    signer = Signer()
    with tempfile.TemporaryDirectory(prefix="sd-bodies-") as tmp:
        bodies = Path(tmp) / "bodies.txt"
        count = write_wrk_file(bodies, signer.unique(args.bodies or int(6000 * args.duration)))
        print(f"{count:,} signed bodies with unique message ids; busy before start: {common.busy_procs() or 'none'}")
        runs: dict[str, list[dict[str, Any]]] = {t.name: [] for t in targets}
        for _ in range(args.rounds):
            for target in targets:
                runs[target.name].append(measure(target, bodies, signer, args))
    bare = runs.get("bare")
    bare_rps = statistics.median(r["requests"] / (r["duration_us"] / 1e6) for r in bare) if bare else None
    summaries = [summarise(t, runs[t.name], bare_rps) for t in targets]
    print(report(summaries, args.tool, args.duration, args.web_workers, args.threads))
    for s in summaries:
        if s["lost"] is not None:
            print(f"{s['target']}: inbox rows {s['rows']} vs 2xx answers {s['answers_2xx']}: lost {s['lost']}")
    print("(rows above 2xx: requests in flight when the load stopped, stored but never counted as answered)")
    path = common.write_results(args.out, {"args": vars(args), "targets": summaries})
    print(f"written {path.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
