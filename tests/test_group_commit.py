"""Group commit on the webhook path: concurrent webhooks share one commit, each still gets its own answer.

Through a real threaded server (as gunicorn's gthread workers run the app), on SQLite and PostgreSQL.
A batch is made deterministic by holding the database's write lock from another connection: the first
webhook leads and waits on the lock, the next ones queue behind it and form the following batch.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from werkzeug.serving import make_server

from bridge import config as config_module
from bridge.groupcommit import GroupCommit
from bridge.store import Store
from sandbox.base import shutdown
from tests.conftest import APP_SECRET, PAGE_ID, raw_config
from webhooks.app import create_app
from webhooks.meta import parse
from webhooks.signatures import sign_meta

POISON = "m_poison"


def messenger_body(*mids: str, psid: str = "4242") -> bytes:
    messaging = [
        {"sender": {"id": psid}, "recipient": {"id": PAGE_ID}, "timestamp": 1_700_000_000_000 + i,
         "message": {"mid": mid, "text": f"message {mid}"}}
        for i, mid in enumerate(mids)
    ]  # fmt: skip
    return json.dumps({"object": "page", "entry": [{"id": PAGE_ID, "time": 1, "messaging": messaging}]}).encode()


@dataclass
class Server:
    url: str
    store: Store
    session: requests.Session

    def post(self, *mids: str) -> tuple[int, dict[str, Any]]:
        body = messenger_body(*mids)
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign_meta(body, APP_SECRET)}
        response = requests.post(f"{self.url}/webhooks/meta", data=body, headers=headers, timeout=60)
        return response.status_code, response.json()

    def stored_mids(self) -> list[str]:
        return sorted(r["message_id"] for r in self.store.rows("inbox"))


@contextmanager
def serve(database_url: str, tmp_path: Path) -> Iterator[Server]:
    raw = raw_config(database_url=database_url, queue_url=f"sqlite:///{tmp_path}/queue.db")
    config = config_module.parse(raw, env={})
    store = Store.from_url(database_url, migrate=True)
    server = make_server("127.0.0.1", 0, create_app(config, store=store), threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        with requests.Session() as session:
            yield Server(f"http://127.0.0.1:{server.port}", store, session)
    finally:
        shutdown(server)
        store.close()


# -- the two backends: how to hold the write lock, how to make a batch fail --------------------------------


@dataclass
class Backend:
    url: str
    hold_write_lock: Callable[[], AbstractContextManager[None]]
    poison: Callable[[], None]  # from now on, a batch holding message POISON fails


def sqlite_backend(tmp_path: Path) -> Backend:
    path = tmp_path / "store.db"

    @contextmanager
    def hold() -> Iterator[None]:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")  # the write lock: the leader's INSERT waits (busy_timeout)
        try:
            yield
        finally:
            db.execute("ROLLBACK")
            db.close()

    def poison() -> None:  # the batch's transaction fails at the poisoned INSERT
        with sqlite3.connect(path) as db:
            db.execute(
                f"CREATE TRIGGER poison BEFORE INSERT ON inbox WHEN NEW.message_id = '{POISON}' "
                "BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
            )

    return Backend(f"sqlite:///{path}", hold, poison)


def pg_backend(pg_url: str) -> Backend:
    engine = sa.create_engine(pg_url)

    @contextmanager
    def hold() -> Iterator[None]:
        with engine.connect() as conn, conn.begin() as tx:
            conn.execute(sa.text("LOCK TABLE inbox IN EXCLUSIVE MODE"))  # inserts wait, reads do not
            yield
            tx.rollback()

    def poison() -> None:  # a deferred constraint trigger: every INSERT passes, the COMMIT fails
        with engine.begin() as conn:
            conn.execute(sa.text(
                "CREATE FUNCTION poisoned() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'poisoned at commit'; END $$"
            ))  # fmt: skip
            conn.execute(sa.text(
                "CREATE CONSTRAINT TRIGGER poison AFTER INSERT ON inbox DEFERRABLE INITIALLY DEFERRED "
                f"FOR EACH ROW WHEN (NEW.message_id = '{POISON}') EXECUTE FUNCTION poisoned()"
            ))  # fmt: skip

    return Backend(pg_url, hold, poison)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return sqlite_backend(tmp_path)
    return pg_backend(request.getfixturevalue("pg_url"))


def wait_until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def one_batch(server: Server, backend: Backend, batch: list[tuple[str, ...]]) -> tuple[Any, list[Any]]:
    """Post ``("m_lead",)`` and, while it holds the lead blocked on the write lock, every webhook of
    ``batch`` in order (each queued before the next is sent); then release the lock. Returns the leader's
    answer and the batch's answers, in order."""
    group: GroupCommit[Any, int] = server.store._ingests
    with ThreadPoolExecutor(len(batch) + 1) as pool:
        with backend.hold_write_lock():
            leader = pool.submit(server.post, "m_lead")
            wait_until(lambda: group.writing)
            queued = []
            for i, mids in enumerate(batch, start=1):
                queued.append(pool.submit(server.post, *mids))
                wait_until(lambda i=i: group.waiting == i)  # type: ignore[misc]
        return leader.result(), [f.result() for f in queued]


# -- the tests ------------------------------------------------------------------------------------------------


def test_concurrent_webhooks_each_get_their_own_count_and_every_row_is_there(backend: Backend, tmp_path: Path) -> None:
    """200 webhooks from 24 threads at once, a quarter of them redeliveries of an earlier one."""
    with serve(backend.url, tmp_path) as server:
        firsts = [(f"m_{i}a", f"m_{i}b") for i in range(150)]
        redeliveries = [firsts[i] for i in range(0, 150, 3)]
        for mids in redeliveries:  # delivered once before the storm
            assert server.post(*mids) == (200, {"ok": True, "received": 2, "stored": 2})
        requests_ = firsts + redeliveries
        with ThreadPoolExecutor(24) as pool:
            answers = list(pool.map(lambda mids: server.post(*mids), requests_))
        assert all(status == 200 for status, _ in answers)
        stored = [body["stored"] for _, body in answers]
        assert stored == [0 if i % 3 == 0 else 2 for i in range(150)] + [0] * len(redeliveries)
        assert server.stored_mids() == sorted(m for mids in firsts for m in mids)


def test_a_batch_really_shares_one_commit(backend: Backend, tmp_path: Path) -> None:
    with serve(backend.url, tmp_path) as server:
        lead, batch = one_batch(server, backend, [("m_1",), ("m_2", "m_3"), ("m_4",)])
        assert lead == (200, {"ok": True, "received": 1, "stored": 1})
        assert [body["stored"] for _, body in batch] == [1, 2, 1]
        assert server.stored_mids() == ["m_1", "m_2", "m_3", "m_4", "m_lead"]


def test_a_duplicate_inside_one_batch_is_stored_once_and_reported_once(backend: Backend, tmp_path: Path) -> None:
    with serve(backend.url, tmp_path) as server:
        _, batch = one_batch(server, backend, [("m_1", "m_2"), ("m_2",), ("m_1", "m_3"), ("m_lead",)])
        assert [status for status, _ in batch] == [200, 200, 200, 200]
        assert [body["stored"] for _, body in batch] == [2, 0, 1, 0]
        assert server.stored_mids() == ["m_1", "m_2", "m_3", "m_lead"]


def test_a_failing_batch_answers_503_to_each_of_its_webhooks_and_stores_none_of_them(
    backend: Backend, tmp_path: Path
) -> None:
    with serve(backend.url, tmp_path) as server:
        backend.poison()
        lead, batch = one_batch(server, backend, [("m_1",), ("m_2", POISON), ("m_3",)])
        assert lead[0] == 200  # its own batch, committed before
        assert [status for status, _ in batch] == [503, 503, 503]
        assert all("retry later" in body["error"] for _, body in batch)
        assert server.stored_mids() == ["m_lead"]
        # the senders deliver again; without the poisoned message in its batch, each is stored
        assert [server.post("m_1")[1]["stored"], server.post("m_3")[1]["stored"]] == [1, 1]
        assert server.stored_mids() == ["m_1", "m_3", "m_lead"]


def test_the_test_client_writes_alone_without_any_writer_thread(config: config_module.Config) -> None:
    store = Store.from_url(config.database_url)
    client = create_app(config, store=store).test_client()
    threads_before = threading.active_count()
    for mids in [("m_1",), ("m_1", "m_2")]:
        body = messenger_body(*mids)
        response = client.post("/webhooks/meta", data=body, content_type="application/json",
                               headers={"X-Hub-Signature-256": sign_meta(body, APP_SECRET)})  # fmt: skip
        assert response.status_code == 200
    assert [r["message_id"] for r in store.rows("inbox")] == ["m_1", "m_2"]
    assert threading.active_count() == threads_before
    assert not store._ingests.writing and store._ingests.waiting == 0


# -- GroupCommit itself ------------------------------------------------------------------------------------------


def test_group_commit_batches_concurrent_callers_and_gives_each_its_own_result() -> None:
    batches: list[list[int]] = []
    first_entered, release_first = threading.Event(), threading.Event()

    def write(items: Any) -> list[int]:
        batches.append(list(items))
        if len(batches) == 1:
            first_entered.set()
            assert release_first.wait(10)
        return [item * 10 for item in items]

    group: GroupCommit[int, int] = GroupCommit(write)
    with ThreadPoolExecutor(8) as pool:
        leader = pool.submit(group.submit, 0)
        assert first_entered.wait(10)
        followers = [pool.submit(group.submit, i) for i in range(1, 8)]
        wait_until(lambda: group.waiting == 7)
        release_first.set()
        assert leader.result() == 0
        assert [f.result() for f in followers] == [i * 10 for i in range(1, 8)]
    assert batches[0] == [0]
    assert sorted(batches[1]) == list(range(1, 8))  # one batch for all that waited
    assert not group.writing and group.waiting == 0


def test_group_commit_fails_every_caller_of_a_failing_batch_and_goes_on() -> None:
    entered, release = threading.Event(), threading.Event()
    calls = 0

    def write(items: Any) -> list[str]:
        nonlocal calls
        calls += 1
        if calls == 1:
            entered.set()
            assert release.wait(10)
        if "bad" in items:
            raise RuntimeError("the commit failed")
        return [f"ok {item}" for item in items]

    group: GroupCommit[str, str] = GroupCommit(write)
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(group.submit, "first")
        assert entered.wait(10)
        batch = [pool.submit(group.submit, item) for item in ("a", "bad", "b")]
        wait_until(lambda: group.waiting == 3)
        release.set()
        assert first.result() == "ok first"
        for future in batch:
            with pytest.raises(RuntimeError, match="the commit failed"):
                future.result()
    assert group.submit("after") == "ok after"


def test_after_a_fork_the_child_does_not_wait_for_the_parents_batch() -> None:
    """gunicorn forks its workers: a batch the parent was writing at the fork is not the child's."""
    entered, release = threading.Event(), threading.Event()

    def write(items: Any) -> list[str]:
        if not entered.is_set():
            entered.set()
            assert release.wait(10)
        return list(items)

    group: GroupCommit[str, str] = GroupCommit(write)
    with ThreadPoolExecutor(1) as pool:
        parent = pool.submit(group.submit, "parent")
        assert entered.wait(10)
        # the child: the parent's batch is still "being written" in its copy of the state
        answer = in_child(lambda: b"ok" if group.submit("child") == "child" else b"wrong", timeout=10)
        release.set()
        assert parent.result() == "parent"
    assert answer == b"ok", "the child waited for a batch that is not its own"


def in_child(work: Callable[[], bytes], timeout: float = 20) -> bytes | None:
    """Run ``work`` in a forked child and return what it returned; None when it did not answer in time
    (the child is killed then)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write_end, work())
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        answered = select.select([read_end], [], [], timeout)[0]
        if not answered:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return os.read(read_end, 64) if answered else None
    finally:
        os.close(read_end)


def test_two_web_processes_on_one_sqlite_file_take_turns_and_lose_nothing(config: config_module.Config) -> None:
    """Two stores stand for two gunicorn workers: their batches queue on the file lock, not on SQLite's
    busy handler; every webhook gets its own count and every row is there."""
    stores = [Store.from_url(config.database_url), Store.from_url(config.database_url)]
    events = {mid: event for mid, event in messenger_events(config, [f"m_{i}" for i in range(120)])}
    work = [(stores[i % 2], [events[f"m_{i}"]]) for i in range(120)] + [(stores[1], [events["m_7"]])]
    with ThreadPoolExecutor(16) as pool:
        counts = list(pool.map(lambda job: job[0].ingest(job[1]), work))
    assert [c for i, c in enumerate(counts[:120]) if i != 7] == [1] * 119
    assert sorted([counts[7], counts[120]]) == [0, 1]  # m_7 twice at once: stored once, reported once
    assert sorted(r["message_id"] for r in stores[0].rows("inbox")) == sorted(events)
    assert Path(f"{stores[0].engine.url.database}-ingest.lock").exists()


def messenger_events(config: config_module.Config, mids: list[str]) -> Iterator[tuple[str, Any]]:
    app = create_app(config, store=Store.from_url("sqlite://"))
    with app.test_request_context():
        for event in parse(json.loads(messenger_body(*mids)), config.channels_for("facebook")):
            yield event.message_id, event


# -- the writer's own connection ------------------------------------------------------------------------------


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    store = Store.from_url(pg_url, migrate=True)
    yield store
    store.close()


@pytest.fixture
def pg_events(pg_url: str) -> dict[str, Any]:
    return dict(messenger_events(config_module.parse(raw_config(database_url=pg_url), env={}), ["m_1", "m_2", "m_3"]))


def writer_backend(store: Store) -> int:
    """The PostgreSQL backend pid of the store's ingest writer connection."""
    return int(store._inbox_writer._connection.dbapi_connection.info.backend_pid)


def test_a_webhook_after_the_database_dropped_the_writers_connection_is_still_stored(
    pg_store: Store, pg_events: dict[str, Any]
) -> None:
    """The ingest writer keeps its connection (no checkout and pre-ping per batch); when PostgreSQL ended
    it meanwhile (a restart, an idle timeout), the next batch is written on a new one, not answered 503."""
    store, events = pg_store, pg_events
    assert store.ingest([events["m_1"]]) == 1
    old_pid = writer_backend(store)
    with store.begin() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": old_pid}).scalar_one()
    assert store.ingest([events["m_2"], events["m_1"]]) == 1
    assert writer_backend(store) != old_pid
    assert sorted(r["message_id"] for r in store.rows("inbox")) == ["m_1", "m_2"]


def test_a_forked_child_writes_on_its_own_connection_and_the_parents_still_works(
    pg_store: Store, pg_events: dict[str, Any]
) -> None:
    store, events = pg_store, pg_events
    assert store.ingest([events["m_1"]]) == 1
    parent_pid = writer_backend(store)
    answer = in_child(lambda: str(writer_backend(store) if store.ingest([events["m_2"]]) == 1 else 0).encode())
    assert answer is not None, "the child did not answer"
    assert int(answer or b"0") not in (0, parent_pid)
    assert store.ingest([events["m_3"]]) == 1
    assert writer_backend(store) == parent_pid
    assert sorted(r["message_id"] for r in store.rows("inbox")) == ["m_1", "m_2", "m_3"]
