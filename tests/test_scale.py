"""Scale mode for real: PostgreSQL store, Redis queue, several workers, faults injected.

These tests use the PostgreSQL and Redis on 127.0.0.1 (see tests/conftest.py: they skip with a message
when those are not running, and fail instead under CI=true).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from bridge.store import head_revision
from sandbox.base import Fault
from sandbox.meta.facebook import MessageEvent
from sandbox.stack import PAGE_ID, Stack
from tests.conftest import unavailable
from tests.support import closed_port, reply_and_notify, settle, tickets

FAST_RECOVERY = {"lease_seconds": 8, "redispatch_after": 2}


@pytest.fixture
def scale_stack(tmp_path: Path, pg_url: str, redis_url: str) -> Iterator[Stack]:
    with Stack(tmp_path, database_url=pg_url, queue_url=redis_url, concurrency=4, bridge_options=FAST_RECOVERY) as s:
        yield s


def refs(stack: Stack, ticket: dict[str, Any]) -> list[str]:
    """The platform message ids written on a ticket as the customer's words, in order."""
    found = []
    for comment in stack.zendesk.comments(ticket["id"]):
        match = re.search(r"^ref: facebook/(\S+)$", comment["body"], re.MULTILINE)
        if match and comment["author_id"] == ticket["requester_id"]:
            found.append(match.group(1))
    return found


def conversation(stack: Stack, psid: str, count: int, start: datetime) -> list[MessageEvent]:
    """``count`` Messenger messages of one customer, a second apart, built but not sent."""
    return [
        stack.meta.customer_message(
            PAGE_ID, psid=psid, text=f"{psid} message {i}", timestamp=start + timedelta(seconds=i), send=False
        )
        for i in range(count)
    ]


def test_the_loop_on_postgres_and_redis(scale_stack: Stack) -> None:
    stack = scale_stack
    stack.meta.customer_message(PAGE_ID, psid="1001", text="hello from scale mode")
    ticket = stack.wait_for(lambda: tickets(stack) and tickets(stack)[0])
    reply_and_notify(stack, ticket["id"], "hello back")
    stack.wait_for(lambda: stack.meta.sent_messages)
    settle(stack)
    assert [s["text"] for s in stack.meta.sent_messages] == ["hello back"]
    assert stack.store.revision() == head_revision()


@pytest.mark.timeout(600)  # generous: a loaded 2-core machine is slow, not wrong
def test_duplicate_storm_makes_one_ticket_per_thread_and_one_comment_per_message(scale_stack: Stack) -> None:
    stack = scale_stack
    start = datetime.now(UTC) - timedelta(minutes=5)
    events = [e for t in range(20) for e in conversation(stack, f"20{t:02d}", 3, start)]
    deliveries = [e.payload for e in events for _ in range(10)]
    random.Random(7).shuffle(deliveries)
    statuses: list[int] = []

    def client(share: list[dict[str, Any]]) -> None:
        for payload in share:
            statuses.extend(r.status_code for r in stack.meta.deliver(payload))

    clients = [threading.Thread(target=client, args=(deliveries[i::8],)) for i in range(8)]
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    assert Counter(statuses) == {200: 600}
    stack.wait_for(lambda: stack.store.counts("inbox") == {"done": 60}, timeout=180)
    assert len(tickets(stack)) == 20
    by_psid = {t["external_id"].rsplit(":", 1)[-1]: t for t in tickets(stack)}
    for psid, ticket in by_psid.items():
        expected = [e.mid for e in events if e.psid == psid]
        assert sorted(refs(stack, ticket)) == sorted(expected)  # each message exactly once


@pytest.mark.timeout(600)  # generous: a loaded 2-core machine is slow, not wrong
def test_a_flushed_redis_loses_nothing(scale_stack: Stack, redis_url: str) -> None:
    stack = scale_stack
    start = datetime.now(UTC) - timedelta(minutes=5)
    events = [e for t in range(15) for e in conversation(stack, f"30{t:02d}", 3, start)]
    for i, event in enumerate(events):
        stack.meta.deliver(event.payload)
        if i == len(events) // 3:
            redis.Redis.from_url(redis_url).flushdb()  # every queued wake-up is gone
    redis.Redis.from_url(redis_url).flushdb()
    stack.wait_for(lambda: stack.store.counts("inbox") == {"done": 45}, timeout=180)
    assert len(tickets(stack)) == 15
    assert all(len(refs(stack, t)) == 3 for t in tickets(stack))


@pytest.mark.timeout(600)  # generous: a loaded 2-core machine is slow, not wrong
def test_helpdesk_storm_delays_but_dead_letters_nothing(scale_stack: Stack) -> None:
    stack = scale_stack
    stack.zendesk.inject(Fault(429, times=10, path_prefix="/api/v2/", headers={"Retry-After": "1"},
                               body={"error": "APIRateLimitExceeded"}))  # fmt: skip
    stack.zendesk.inject(Fault(503, times=5, path_prefix="/api/v2/"))
    start = datetime.now(UTC) - timedelta(minutes=5)
    for t in range(10):
        for event in conversation(stack, f"40{t:02d}", 2, start):
            stack.meta.deliver(event.payload)
    stack.wait_for(lambda: stack.store.counts("inbox") == {"done": 20}, timeout=240)
    for ticket in tickets(stack):
        reply_and_notify(stack, ticket["id"], f"answer {ticket['id']}")
    stack.wait_for(lambda: len(stack.meta.sent_messages) == 10, timeout=240)
    settle(stack, timeout=60)
    assert stack.zendesk._faults == []  # the storm really happened: every fault was served
    assert stack.store.open_dead_letters() == []
    assert len(tickets(stack)) == 10


class PrivateRedis:
    """A redis-server of this test's own, on a free port, that the test can take down and bring back."""

    def __init__(self, workdir: Path) -> None:
        self.port, self.workdir = closed_port(), workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", str(self.workdir)]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        Stack.wait_for(self._answers, timeout=20)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
        except redis.RedisError:
            return False


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        unavailable("redis-server (Debian package redis-server)", FileNotFoundError("redis-server"))
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.mark.timeout(600)  # generous: a loaded 2-core machine is slow, not wrong
def test_redis_down_mid_call_delays_but_dead_letters_nothing(
    tmp_path: Path, pg_url: str, private_redis: PrivateRedis
) -> None:
    # Zendesk answers slowly, then 503: the workers are inside their calls, about to retry, when Redis
    # (queue and pause board) goes away for a few seconds. Their retries must wait for it, not dead-letter.
    with Stack(tmp_path, database_url=pg_url, queue_url=private_redis.url, concurrency=4,
               bridge_options=FAST_RECOVERY) as stack:  # fmt: skip
        stack.zendesk.inject(Fault(503, times=4, path_prefix="/api/v2/", delay=1.5))
        start = datetime.now(UTC) - timedelta(minutes=5)
        for t in range(5):
            for event in conversation(stack, f"50{t:02d}", 2, start):
                stack.meta.deliver(event.payload)
        stack.wait_for(lambda: stack.zendesk.calls, timeout=60)  # a worker is inside a call
        private_redis.kill()
        time.sleep(4)
        private_redis.start()
        stack.wait_for(lambda: stack.store.counts("inbox") == {"done": 10}, timeout=240)
        settle(stack, timeout=60)
        assert stack.zendesk._faults == []  # every slow 503 was served
        assert stack.store.open_dead_letters() == []
        assert len(tickets(stack)) == 5 and all(len(refs(stack, t)) == 2 for t in tickets(stack))


# -- SIGKILL at random points -----------------------------------------------------------------------------------


class Workers:
    """``socialdesk worker`` processes, killed with SIGKILL at random once ready and restarted; each one's
    log in ``logs``, numbered in the order they started."""

    def __init__(self, config: Path, count: int, logs: Path) -> None:
        self.env = {**os.environ, "SOCIALDESK_CONFIG": str(config)}
        self.logs = logs
        logs.mkdir()
        self.spawned = 0
        self.procs = [self._spawn() for _ in range(count)]
        self.kills = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._rampage, daemon=True)

    def _spawn(self) -> tuple[subprocess.Popen[bytes], Path]:
        self.spawned += 1
        log = self.logs / f"worker-{self.spawned:03d}.log"
        command = [sys.executable, "-m", "bridge.cli", "worker", "--concurrency", "2"]
        with log.open("ab") as out:
            return subprocess.Popen(command, env=self.env, stdout=out, stderr=out, start_new_session=True), log

    def _rampage(self) -> None:
        rng = random.Random(11)
        while not self.stop.wait(rng.uniform(0.4, 1.2)):
            index = rng.randrange(len(self.procs))
            proc, log = self.procs[index]
            if b"worker ready" not in log.read_bytes():
                # still starting, holding no work: killing it tests nothing, and on a loaded machine (startup
                # longer than a worker's life here) most restarts died unready and the work hardly moved
                continue
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            self.kills += 1
            self.procs[index] = self._spawn()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for proc, _ in self.procs:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.timeout(600)
def test_workers_killed_at_random_lose_nothing_and_double_nothing(tmp_path: Path, pg_url: str, redis_url: str) -> None:
    with Stack(tmp_path, database_url=pg_url, queue_url=redis_url, start_worker=False,
               bridge_options=FAST_RECOVERY) as stack:  # fmt: skip
        workers = Workers(stack.write_config(tmp_path / "socialdesk.toml"), 2, tmp_path / "workers")
        workers.thread.start()
        try:
            sent = crash_phase_inbound(stack)
            crash_phase_outbound(stack)
            while workers.kills < 20:
                time.sleep(0.2)
        finally:
            workers.close()
        stack.start_worker_now()  # a calm worker finishes whatever the last kill interrupted
        settle(stack, timeout=60)
        check_crash_outcome(stack, sent, workers.kills)


def crash_phase_inbound(stack: Stack) -> dict[str, list[str]]:
    """100 customers × 5 messages, each customer's messages in one POST in shuffled order."""
    start = datetime.now(UTC) - timedelta(minutes=10)
    sent: dict[str, list[str]] = {}
    rng = random.Random(3)
    for t in range(100):
        events = conversation(stack, f"9{t:03d}", 5, start)
        sent[events[0].psid] = [e.mid for e in events]
        rng.shuffle(events)
        stack.meta.batch([e.payload for e in events])
    wait_while_moving(stack, lambda: stack.store.counts("inbox") == {"done": 500})
    return sent


def crash_phase_outbound(stack: Stack) -> None:
    for ticket in tickets(stack):
        reply_and_notify(stack, ticket["id"], f"reply for ticket {ticket['id']}", style="trigger")
    wait_while_moving(stack, lambda: len(stack.store.rows("deliveries")) == 100 and stack.idle())


STALL = 90.0  # nothing finished for this long: stuck (a killed worker's threads are free again after 8 s here)


def wait_while_moving(stack: Stack, done: Callable[[], bool]) -> None:
    """Wait until ``done()`` while work gets finished: fail naming what is stuck when no inbox row, ticket
    event or delivery has changed status for ``STALL`` seconds. A loaded machine is slow, not stuck: at load 9
    on 2 cores most restarted workers are killed again before they are ready, and a fixed 240 s failed once."""
    last, since, started = progress(stack), time.monotonic(), time.monotonic()
    while not done():
        now = progress(stack)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > STALL:
            raise AssertionError(f"nothing finished for {STALL:.0f}s ({time.monotonic() - started:.0f}s in all):\n"
                                 + stuck_work(stack))  # fmt: skip
        time.sleep(0.5)
    print(f"done in {time.monotonic() - started:.0f}s")


def progress(stack: Stack) -> tuple[Any, ...]:
    """What changes as work gets finished: the rows by status and the deliveries (a retry is no progress)."""
    return tuple(sorted(stack.store.counts(t).items()) for t in ("inbox", "ticket_events", "deliveries"))


def stuck_work(stack: Stack) -> str:
    """The unfinished rows, the leases held and the dead letters: what a stall left behind."""
    now, lines = time.time(), [f"{t}: {stack.store.counts(t)}" for t in ("inbox", "ticket_events")]
    for table in ("inbox", "ticket_events"):
        for r in stack.store.rows(table):
            if r["status"] != "done":
                row = f"{table} {r['id']} {r.get('thread_key', '')} {r['status']} attempts={r['attempts']}"
                due = f"in {r['next_attempt_at'] - now:.0f}s" if r["next_attempt_at"] > now else "now"
                lines.append(f"{row} due {due} attempted={bool(r.get('attempted_at'))} error={r['last_error']!r}")
    lines += [f"lease {r['key']} {r['owner']} until {r['until'] - now:+.0f}s" for r in stack.store.rows("leases")]
    lines += [f"dead letter {r}" for r in stack.store.open_dead_letters()]
    return "\n".join(lines[:60])


def check_crash_outcome(stack: Stack, sent: dict[str, list[str]], kills: int) -> None:
    assert kills >= 20
    assert len(tickets(stack)) == 100, "one ticket per thread, whatever was killed"
    for ticket in tickets(stack):
        assert refs(stack, ticket) == sent[ticket["external_id"].rsplit(":", 1)[-1]]  # once each, in order
    posted = Counter(s["text"] for s in stack.meta.sent_messages)
    deliveries = stack.store.rows("deliveries")
    assert len(deliveries) == 100
    for delivery in deliveries:
        times = posted[f"reply for ticket {delivery['ticket_id']}"]
        if delivery["status"] == "sent":
            assert times == 1
        else:  # killed mid-send: maybe posted, never twice, and the agent is told
            assert delivery["status"] == "unknown" and times <= 1
            assert any("does not know whether" in c["body"] for c in stack.zendesk.comments(delivery["ticket_id"]))
    assert stack.store.open_dead_letters() == []
