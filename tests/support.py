"""Helpers shared by the tests: the end-to-end ones (a running :class:`sandbox.stack.Stack`) and those
that serve the bridge's web app on a real socket."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypedDict

import requests
import sqlalchemy as sa
from werkzeug.serving import make_server

from bridge.config import Config
from bridge.registry import Runtime, build_runtime
from bridge.retry import RetryPolicy
from bridge.store import Store
from sandbox.base import QuietHandler, shutdown
from sandbox.stack import Stack
from webhooks.app import create_app


class Bridge(TypedDict):
    """The bridge's web app on a real socket, with its config and store (see :func:`serve_bridge`)."""

    config: Config
    store: Store
    url: str


@contextmanager
def serve_bridge(config: Config) -> Iterator[Bridge]:
    """Serve the web app for ``config`` on loopback (a simulator can post its webhooks to ``url``)."""
    store = Store.from_url(config.database_url)
    server = make_server("127.0.0.1", 0, create_app(config, store=store), threaded=True, request_handler=QuietHandler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield {"config": config, "store": store, "url": f"http://127.0.0.1:{server.server_port}"}
    finally:
        shutdown(server)


class Clock:
    """A monotonic clock the test moves by hand: pass it as a simulator's ``clock`` (its rate-limit windows)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class WallClock:
    """The wall clock, moved forward by the test (:meth:`advance`): postponed work comes due, pauses end."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def step_runtime(stack: Stack, *, clock: WallClock | None = None, config: Config | None = None) -> Runtime:
    """A worker's runtime for a stack started without one: the test runs each step itself
    (``inbound.process_thread``, ``outbound.sync_ticket``), retries within a call do not sleep, and the
    retry policy reads ``clock`` (the wall clock by default). ``config``: another than the stack's."""
    runtime = build_runtime(config or stack.config, store=stack.store)
    runtime.policy = RetryPolicy(runtime.policy.pauses, sleep=lambda _seconds: None, clock=clock or WallClock())
    return runtime


@contextmanager
def recorded_first(stack: Stack, sql: str) -> Iterator[None]:
    """``sql`` runs once on the store's connection right before the first update that records a delivery
    "unknown": another worker's record committed between this worker's read and its write."""
    done: list[bool] = []

    def first(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if not done and statement.startswith("UPDATE deliveries") and "unknown" in (parameters or ()):
            done.append(True)
            cursor.execute(sql)

    sa.event.listen(stack.store.engine, "before_cursor_execute", first)
    try:
        yield
    finally:
        sa.event.remove(stack.store.engine, "before_cursor_execute", first)
    assert done, "no delivery was recorded unknown"


def tickets(stack: Stack) -> list[dict[str, Any]]:
    return stack.helpdesk.tickets


def one_ticket(stack: Stack) -> dict[str, Any]:
    ticket: dict[str, Any] = stack.wait_for(lambda: len(tickets(stack)) == 1 and tickets(stack)[0])
    return ticket


def settle(stack: Stack, timeout: float = 40) -> None:
    """Wait until nothing is pending in the store and the simulator's echoes are delivered."""
    stack.meta.wait_for_webhooks(10)
    stack.wait_for(stack.idle, timeout=timeout)


def reply_and_notify(stack: Stack, ticket_id: int, body: str, *, style: str = "event") -> None:
    stack.helpdesk.agent_comment(ticket_id, body, public=True)
    stack.helpdesk.fire_webhook(ticket_id, style=style)  # type: ignore[arg-type]


def notes(stack: Stack, ticket_id: int) -> list[str]:
    return [c["body"] for c in stack.helpdesk.comments(ticket_id) if not c["public"]]


def unmarked(note: str) -> str:
    """The words of a note for a customer's edit or removal or a platform's notice, without the mark of its event
    that closes it (:func:`bridge.messages.change_reference`), checked to be there."""
    words, _, mark = note.rpartition("\n\n")
    assert re.fullmatch(r"note ref: [0-9a-f]{16}", mark), note
    return words


FRESHDESK_STATUSES = {2: "open", 3: "pending", 4: "solved", 5: "closed"}


def status_of(stack: Stack, ticket: dict[str, Any]) -> str:
    """A ticket's status by Zendesk's names, whichever helpdesk holds it."""
    status = ticket["status"]
    return FRESHDESK_STATUSES.get(status, str(status)) if isinstance(status, int) else str(status)


REQUESTER_PATHS = {"zendesk": "/api/v2/users/create_or_update", "freshdesk": "/api/v2/contacts"}


def requester_calls(stack: Stack) -> int:
    """How many calls so far looked up or created a requester (users / contacts)."""
    return sum(1 for c in stack.helpdesk.calls if any(p in c.path for p in REQUESTER_PATHS.values()))


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then closed): a service that is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def socialdesk(
    *args: str, env: dict[str, str] | None = None, timeout: float = 90, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``socialdesk ARGS`` as an operator would: its own process, its output captured (started in ``cwd``)."""
    return subprocess.run([sys.executable, "-m", "bridge.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, cwd=cwd)  # fmt: skip


def start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``socialdesk ARGS`` running in its own session, its output in ``log`` (stopped by :func:`stop`)."""
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-m", "bridge.cli", *args], stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **env}, start_new_session=True)  # fmt: skip


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until ``url`` answers (a process started by :func:`start`); its log if it dies or never does."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise AssertionError(log.read_text())
