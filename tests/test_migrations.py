"""The Alembic migrations build exactly the schema the code declares, on both backends, and carry data."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bridge.store import Store, head_revision, metadata, threads
from sandbox.stack import to_toml
from tests.conftest import raw_config
from tests.support import closed_port, socialdesk


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    return str(request.getfixturevalue("pg_url"))


def test_the_migrations_build_the_declared_schema(url: str) -> None:
    store = Store.from_url(url, migrate=True)
    with store.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_0002_links_the_threads_current_tickets(url: str) -> None:
    store = Store.from_url(url, migrate=False)
    store.upgrade("0001")
    now = time.time()
    row = {"platform": "facebook", "channel": "acme", "account_id": "1", "thread_id": "t", "reply_to": "r",
           "helpdesk": "zendesk", "created_at": now, "updated_at": now}  # fmt: skip
    with store.begin() as conn:
        rows = [{**row, "key": "with-ticket", "ticket_id": "42"}, {**row, "key": "none", "ticket_id": None}]
        conn.execute(sa.insert(threads), rows)
    store.upgrade()
    assert [(r["helpdesk"], r["ticket_id"]) for r in store.rows("ticket_links")] == [("zendesk", "42")]
    linked = store.thread_for_ticket("zendesk", "42")
    assert linked is not None and linked.key == "with-ticket"


def test_at_scale_an_outdated_schema_stops_the_worker_and_doctor_says_so(pg_url: str, tmp_path: Path) -> None:
    """Scale mode does not migrate by itself: a release started before `db upgrade` would fail on every
    event. It refuses to start instead, naming the command; doctor says the same."""
    Store.from_url(pg_url, migrate=False).upgrade("0001")
    path = tmp_path / "socialdesk.toml"
    path.write_text(to_toml(raw_config(database_url=pg_url, queue_url=f"sqlite:///{tmp_path}/queue.db")))
    wanted = f"the database schema is at revision 0001, this release needs {head_revision()}"
    for command in (("worker",), ("serve", "--port", "1")):
        refused = socialdesk(*command, "--config", str(path))
        assert refused.returncode == 1 and wanted in refused.stderr and "db upgrade" in refused.stderr
        assert "Traceback" not in refused.stderr
    assert wanted in socialdesk("doctor", "--config", str(path)).stdout

    assert socialdesk("db", "upgrade", "--config", str(path)).returncode == 0
    assert Store.from_url(pg_url).revision() == head_revision()


def store_commands(tmp_path: Path) -> list[tuple[str, ...]]:
    """Every command that reads the store besides serve, worker and doctor (``setup zendesk`` keeps secrets there)."""
    return [
        ("status",), ("dead-letters",), ("replay", "--all"), ("prune", "--older-than", "30"), ("sync-contacts",),
        ("report", "--month", "2026-11", "--out", str(tmp_path / "report")), ("setup", "zendesk"),
    ]  # fmt: skip


def refusals(config: Path, commands: list[tuple[str, ...]]) -> set[str]:
    """Each command's stderr, run side by side; each must fail in one line, without a traceback."""
    with ThreadPoolExecutor(max_workers=2) as pool:  # the machine's two cores
        results = list(pool.map(lambda command: socialdesk(*command, "--config", str(config)), commands))
    for command, result in zip(commands, results, strict=True):
        assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, (command, result.stderr)
    return {result.stderr.strip() for result in results}


def test_at_scale_every_command_refuses_an_unmigrated_store_naming_db_upgrade(pg_url: str, tmp_path: Path) -> None:
    """Before: "ProgrammingError: ... relation "inbox" does not exist" from status, dead-letters, replay, prune
    and report, and from `setup zendesk` only after it had created the webhooks in Zendesk. Zendesk is a closed
    port here: a command calling it first would say so instead."""
    raw = raw_config(database_url=pg_url, queue_url=f"sqlite:///{tmp_path}/queue.db",
                     zendesk_url=f"http://127.0.0.1:{closed_port()}")  # fmt: skip
    raw["bridge"]["public_url"] = "https://bridge.acme.example"
    path = tmp_path / "socialdesk.toml"
    path.write_text(to_toml(raw))
    wanted = (
        f"the database schema is at revision none, this release needs {head_revision()}: run `socialdesk db upgrade`"
    )
    assert refusals(path, [*store_commands(tmp_path), ("worker",)]) == {f"Error: {wanted}"}
    assert Store.from_url(pg_url, migrate=False).revision() is None  # nothing was created on the way


def test_an_sqlite_store_of_a_newer_release_is_refused_by_every_command_in_one_line(tmp_path: Path) -> None:
    """The embedded store migrates itself, but not backwards: started after a downgrade, every command said
    "CommandError: Can't locate revision identified by '0099'" (doctor alone said `db upgrade`, which cannot)."""
    url = f"sqlite:///{tmp_path}/store.db"
    with Store.from_url(url).begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    path = tmp_path / "socialdesk.toml"
    path.write_text(to_toml(raw_config(database_url=url, queue_url=f"sqlite:///{tmp_path}/queue.db")))
    wanted = (f"the database schema is at revision 0099, newer than this release knows (it needs {head_revision()}): "
              "run the release that made it")  # fmt: skip
    commands = [*store_commands(tmp_path), ("worker",), ("serve", "--port", "1"), ("db", "upgrade")]
    assert refusals(path, commands) == {f"Error: {wanted}"}
    assert f"✗ database schema: {wanted}" in socialdesk("doctor", "--config", str(path)).stdout.splitlines()


def _open_at_once(url: str, barrier: Barrier, results: Queue[str]) -> None:
    barrier.wait()  # every process reaches the migration together, as serve and worker started by one unit do
    try:
        Store.from_url(url, migrate=True)
        results.put("ok")
    except Exception as e:
        results.put(f"{type(e).__name__}: {str(e).splitlines()[0]}")


def test_processes_started_together_on_a_fresh_store_all_migrate_it(url: str) -> None:
    """Before: each process saw no schema and created it; the others died with 'table crm_cache already
    exists' (SQLite) or a duplicate pg_type key (PostgreSQL). Now one migrates and the others wait for it."""
    processes = 6
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(processes), context.Queue()
    started = [context.Process(target=_open_at_once, args=(url, barrier, results)) for _ in range(processes)]
    for process in started:
        process.start()
    outcomes = [results.get(timeout=60) for _ in started]
    for process in started:
        process.join(timeout=10)
    assert outcomes == ["ok"] * processes
    assert Store.from_url(url, migrate=False).revision() == head_revision()
