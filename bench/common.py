"""What every benchmark shares: the machine, the backends, processes and their memory, tables and JSON."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import redis
import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
PG_ADMIN_URL = os.environ.get("SOCIALDESK_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SOCIALDESK_BENCH_REDIS", "redis://127.0.0.1:6379/13")  # the tests use db 15
BACKENDS = ("sqlite", "postgres")


# -- the machine ---------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """nproc, CPU model, RAM, load: recorded with every result, since figures mean nothing without them."""
    model = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor(),
    )  # fmt: skip
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "code": code_version(),
    }


def code_version() -> dict[str, Any]:
    """The commit measured, and the files of the product changed but not committed (read-only git)."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    status = subprocess.run(
        [*git, "status", "--porcelain", "--", "bridge", "webhooks", "connectors", "sandbox"],
        capture_output=True,
        text=True,
    ).stdout
    return {"commit": head, "uncommitted": [line[3:] for line in status.splitlines()]}


def busy_procs() -> list[str]:
    """Other processes using CPU right now (another engineer's test run skews every figure): name them."""
    out = subprocess.run(["ps", "-eo", "pcpu,pid,args", "--sort=-pcpu"], capture_output=True, text=True).stdout
    rows = [line.strip() for line in out.splitlines()[1:6]]
    return [r[:120] for r in rows if r and float(r.split()[0]) >= 5.0 and str(os.getpid()) != r.split()[1]]


def background_busy(seconds: float = 2.0) -> float:
    """Share of the machine busy over ``seconds`` while none of our load runs (others' work skews results)."""
    before = system_cpu()
    time.sleep(seconds)
    return round(busy_share(before, system_cpu()), 3)


def wait_quiet(max_wait: float, threshold: float = 0.15) -> float:
    """Wait (up to ``max_wait`` s) until the machine is nearly idle; return the last busy share seen."""
    deadline = time.monotonic() + max_wait
    busy = background_busy()
    while busy > threshold and time.monotonic() < deadline:
        print(f"machine {busy:.0%} busy with other work ({', '.join(busy_procs()) or '?'}); waiting", flush=True)
        time.sleep(10)
        busy = background_busy()
    return busy


# -- output --------------------------------------------------------------------------------------------------


def write_results(name: str, data: dict[str, Any]) -> Path:
    """bench/results/<name>.json, with the machine and the code measured (warns if it changed meanwhile)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    info = machine() | {"code_at_start": CODE_AT_START}
    if info["code"] != CODE_AT_START:
        print(f"warning: the code changed during the run: {CODE_AT_START} → {info['code']}")
    path.write_text(json.dumps({"machine": info, **data}, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in cells]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (``p`` in 0-100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


# -- processes -----------------------------------------------------------------------------------------------


def exit_cleanly_on_sigterm() -> None:
    """A SIGTERM unwinds like Ctrl-C, so that the servers and workers we started are stopped and the
    benchmark's PostgreSQL schema is dropped (by default Python would die and leave them running)."""
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(command: Sequence[str], *, log: IO[bytes], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a process in its own session (so that stopping it stops its children, and nothing else)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.Popen(list(command), cwd=ROOT, env=full_env, stdout=log, stderr=log, start_new_session=True)


def stop(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM the process group we started, SIGKILL it if it does not go."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def children(pid: int) -> list[int]:
    """Direct children of a process (gunicorn's master → its workers)."""
    found: list[int] = []
    with contextlib.suppress(FileNotFoundError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def status_kb(pid: int, field: str) -> int | None:
    """A ``kB`` field of /proc/<pid>/status: VmHWM (peak RSS), VmRSS."""
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def system_cpu() -> tuple[float, float, float]:
    """(busy, total, steal) jiffies of the whole machine, from /proc/stat. Steal: time the hypervisor gave
    our virtual CPUs' turn to someone else (a noisy neighbour on the host), counted as busy."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values)), float(values[7])


def busy_share(before: tuple[float, ...], after: tuple[float, ...]) -> float:
    """Share of all cores busy between two :func:`system_cpu` samples (0-1)."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total else 0.0


def proc_cpu() -> dict[int, tuple[str, float]]:
    """pid → (command name, CPU seconds so far) of every process on the machine."""
    snapshot = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            fields = stat.rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            snapshot[int(entry.name)] = (stat[stat.index("(") + 1 : stat.rindex(")")], cpu)
    return snapshot


DB_PROCESSES = ("postgres", "redis-server")


class CpuWatch:
    """Who used the CPU between start and stop: our processes, the databases, and everyone else.

    "Foreign" CPU is other people's work on the same machine (another engineer's test run): it takes
    cores from the benchmark, so every result carries it. Processes that exited in between are not
    seen (their time is in neither group), so the foreign figure is a lower bound.
    """

    def __init__(self) -> None:
        self.system, self.procs = system_cpu(), proc_cpu()

    def stop(self, ours: Sequence[int]) -> dict[str, Any]:
        system, procs, tick = system_cpu(), proc_cpu(), os.sysconf("SC_CLK_TCK")
        mine = {*ours, os.getpid()}
        groups: dict[str, float] = {"ours": 0.0, "db": 0.0, "foreign": 0.0}
        foreign: dict[str, float] = {}
        for pid, (name, cpu) in procs.items():
            used = cpu - self.procs.get(pid, (name, 0.0))[1]
            group = "ours" if pid in mine else "db" if name in DB_PROCESSES else "foreign"
            groups[group] += used
            if group == "foreign":
                foreign[name] = foreign.get(name, 0.0) + used
        core_s = (system[1] - self.system[1]) / tick
        top = sorted(foreign.items(), key=lambda kv: -kv[1])[:3]
        return {
            "core_s": round(core_s, 1),
            "machine_busy": round(busy_share(self.system, system), 3),
            **{f"{k}_cpu_s": round(v, 1) for k, v in groups.items()},
            "foreign_share": round(groups["foreign"] / core_s, 3) if core_s else 0.0,
            "steal_share": round((system[2] - self.system[2]) / tick / core_s, 3) if core_s else 0.0,
            "foreign_top": [f"{name} {used:.1f}s" for name, used in top if used >= 0.5],
        }


# -- backends ------------------------------------------------------------------------------------------------


@dataclass
class Backend:
    """Where the store and the queue live for one run."""

    name: str
    database_url: str
    queue_url: str
    schema: str | None = None


@contextlib.contextmanager
def backend(name: str) -> Iterator[Backend]:
    """``sqlite``: store and queue in a temp dir. ``postgres``: a fresh schema in `test` + a Redis db, emptied."""
    if name == "sqlite":
        with tempfile.TemporaryDirectory(prefix="sd-bench-") as tmp:
            yield Backend(name, f"sqlite:///{tmp}/socialdesk.db", f"sqlite:///{tmp}/socialdesk-queue.db")
        return
    schema = f"sd_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    queue = redis.Redis.from_url(REDIS_URL)
    queue.flushdb()
    try:
        yield Backend(name, f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}", REDIS_URL, schema)
    finally:
        queue.flushdb()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def inbox_count(database_url: str) -> int:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM inbox")).scalar_one())
    finally:
        engine.dispose()


CODE_AT_START = code_version()
