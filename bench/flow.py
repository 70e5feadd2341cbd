"""A whole bridge for the pipeline and burst benchmarks, with every part in its own measurable process.

* this process: the simulators (Zendesk, Meta) from :class:`sandbox.stack.Stack`, the feeder, the clock;
* ``socialdesk serve --workers 2`` (gunicorn): receives the signed webhooks and stores them;
* ``socialdesk worker --concurrency 4`` (one or more processes): applies them to the Zendesk simulator.

Every answer the Zendesk simulator gives is logged with its status and the time it went out (a Flask
``after_request`` hook on the simulator's app), so calls can be matched to events afterwards.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from flask import Response, request

from bench import common
from bench.payloads import Plan, Signer, post
from bridge.events import Author
from bridge.registry import build_helpdesk
from sandbox.stack import Stack


@dataclass(frozen=True)
class Answer:
    """One request the Zendesk simulator answered: when the answer went out, and with what status."""

    at: float
    method: str
    path: str
    status: int
    body: bytes
    query: bytes = b""


class CallLog:
    """Records every answer of a simulator (its own ``calls`` list has no status: a 429 looks like a write)."""

    def __init__(self, app: Any) -> None:
        self.answers: list[Answer] = []
        app.after_request(self._record)

    def _record(self, response: Response) -> Response:
        body = request.get_data(cache=True)
        answer = Answer(time.time(), request.method, request.path, response.status_code, body, request.query_string)
        self.answers.append(answer)
        return response

    def since(self, mark: int) -> list[Answer]:
        return self.answers[mark:]


@dataclass(frozen=True)
class Sent:
    mid: str
    thread: int
    index: int
    timestamp: float  # the platform's timestamp (seconds; Messenger gives milliseconds)
    status: int


class Bridge:
    """Simulators here, web and worker(s) as ``socialdesk`` processes; see the module docstring."""

    def __init__(
        self, backend: common.Backend, workdir: Path, *, zendesk: dict[str, Any] | None = None, crm: bool = False
    ) -> None:
        self.backend, self.workdir = backend, workdir
        self.stack = Stack(
            workdir, database_url=backend.database_url, queue_url=backend.queue_url, start_worker=False,
            salesforce={} if crm else None, zendesk=zendesk,
        )  # fmt: skip
        self.crm_calls = CallLog(self.stack.salesforce.app) if self.stack.salesforce is not None else None
        self.calls = CallLog(self.stack.zendesk.app)
        self.signer = Signer(self.stack.meta)
        self.workers: list[Any] = []
        self._exit = ExitStack()

    def start(self) -> Bridge:
        self.stack.start()
        self._exit.callback(self.stack.stop)
        self.config = self.stack.write_config(self.workdir / "socialdesk.toml")
        self.log = self._exit.enter_context((self.workdir / "processes.log").open("ab"))
        self.port = common.free_port()
        serve = ["-m", "bridge.cli", "serve", "--config", str(self.config), "--port", str(self.port)]
        self.web = common.spawn([common.PYTHON, *serve, "--workers", "2"], log=self.log)
        self._exit.callback(common.stop, self.web)
        self.url = f"http://127.0.0.1:{self.port}"
        common.wait_http(self.url + "/healthz")
        return self

    def start_workers(self, processes: int, concurrency: int) -> float:
        """Start ``socialdesk worker`` processes; return the time they were started."""
        started = time.time()
        command = [common.PYTHON, "-m", "bridge.cli", "worker", "--config", str(self.config)]
        for _ in range(processes):
            proc = common.spawn([*command, "--concurrency", str(concurrency)], log=self.log)
            self.workers.append(proc)
            self._exit.callback(common.stop, proc)
        return started

    def stop(self) -> None:
        self._exit.close()

    def pids(self) -> list[int]:
        """Our processes: the web master and its workers, the bridge workers (this one is added by CpuWatch)."""
        return [self.web.pid, *common.children(self.web.pid), *(p.pid for p in self.workers)]

    def seed_known(self, plan: Plan) -> None:
        """Customers who wrote before: their helpdesk user exists and the bridge has it cached."""
        helpdesk = build_helpdesk(self.stack.config)
        for thread in range(plan.known):
            psid = plan.psid(thread)
            user_id = helpdesk.ensure_requester(platform="facebook", author=Author(id=psid))
            self.stack.store.remember_identity(f"zendesk:facebook:{psid}", user_id)
            if self.crm_calls is not None:  # and the CRM's answer (nobody) is cached, within its TTL
                self.stack.store.cache_crm(f"facebook:{psid}", None)

    def inbox(self) -> dict[str, int]:
        return self.stack.store.counts("inbox")

    def wait_applied(self, events: int, timeout: float) -> float:
        """Poll until every inbox row is finished (done, ignored or dead); return when that was seen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            counts = self.inbox()
            if sum(counts.values()) >= events and not counts.get("pending"):
                return time.time()
            time.sleep(0.25)
        raise TimeoutError(f"inbox not drained within {timeout}s: {self.inbox()}")

    def memory(self) -> dict[str, Any]:
        """Peak RSS (VmHWM, MiB) of each gunicorn web worker and each bridge worker, read while they run."""
        return {
            "web_workers_peak_rss_mib": [peak_mib(p) for p in common.children(self.web.pid)],
            "web_master_peak_rss_mib": peak_mib(self.web.pid),
            "worker_peak_rss_mib": [peak_mib(p.pid) for p in self.workers],
            "worker_cpu_s": [round(common.cpu_seconds(p.pid), 1) for p in self.workers],
        }


def peak_mib(pid: int) -> float:
    return round((common.status_kb(pid, "VmHWM") or 0) / 1024, 1)


@contextmanager
def bridge(backend: common.Backend, workdir: Path, **kwargs: Any) -> Iterator[Bridge]:
    running = Bridge(backend, workdir, **kwargs).start()
    try:
        yield running
    finally:
        running.stop()


def feed(running: Bridge, plan: Plan, *, rate: float | None = None, senders: int = 4) -> list[Sent]:
    """POST every planned message, signed, each thread's messages in order from one sender thread.

    ``rate``: events per second overall (paced on a schedule); None: as fast as the web app takes them.
    Each message is built when it is sent, so its platform timestamp is the moment it left.
    """
    order = plan.order()
    sent: list[Sent] = []
    start = time.monotonic() + 0.2

    def sender(k: int) -> None:
        with requests.Session() as session:
            for j, (thread, index) in enumerate(order):
                if thread % senders != k:
                    continue
                if rate:
                    time.sleep(max(0.0, start + j / rate - time.monotonic()))
                signed = running.signer.message(plan.psid(thread), index, text=f"thread {thread} message {index}")
                status = post(session, running.url, signed)
                sent.append(Sent(signed.mid, thread, index, signed.timestamp_ms / 1000, status))

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sent


def log_tail(path: Path, lines: int = 5) -> list[str]:
    """The last ERROR lines of the processes' log, and the last traceback in full, for the report."""
    with path.open("rb") as f:
        text = f.read().decode("utf-8", "replace").splitlines()
    errors = [x[:300] for x in text if " ERROR " in x][-lines:]
    starts = [i for i, x in enumerate(text) if x.startswith("Traceback")]
    if not starts:
        return errors
    end = next((i for i in range(starts[-1] + 1, len(text)) if not text[i].startswith((" ", "\t"))), len(text) - 1)
    return [*errors, *(x[:300] for x in text[starts[-1] : end + 1])]
