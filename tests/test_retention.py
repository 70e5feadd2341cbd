"""Retention: finished work older than ``[bridge] retention_days`` is deleted, nightly by the worker or by
`socialdesk prune`; what the bridge still needs (pending work, open dead letters, threads, deliveries,
identities) stays. On SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bridge import config as config_module
from bridge.errors import ConfigError
from bridge.ingest import IngestRow
from bridge.queue import Queue, Worker, make_huey
from bridge.registry import build_runtime
from bridge.store import PRUNE_CHUNK, Store, metadata
from sandbox.stack import to_toml
from tests.conftest import PAGE_ID, raw_config

DAY = 86400.0
OLD_DONE = PRUNE_CHUNK + 500  # more than one chunk


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    return str(request.getfixturevalue("pg_url"))


def age(store: Store, table: str, column: str, days: float, **where: Any) -> None:
    """Make rows look ``days`` older (test setup: the store stamps them with the current time)."""
    t = metadata.tables[table]
    with store.begin() as conn:
        conn.execute(
            sa.update(t).where(*(t.c[k] == v for k, v in where.items())).values({column: t.c[column] - days * DAY})
        )


def count(store: Store, table: str) -> int:
    with store.begin() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(metadata.tables[table])).scalar_one())


def history(store: Store) -> None:
    """Forty days of finished work, plus what must survive any retention."""
    now = time.time()

    def message(mid: str, days_ago: float) -> list[IngestRow]:
        at, thread = now - days_ago * DAY, f"facebook:{PAGE_ID}:messenger:{mid}"
        return [("facebook", PAGE_ID, mid, "acme-facebook", thread, "message", "{}", at, at)]

    store.ingest_batch([message(f"m_old_{i}", 40) for i in range(OLD_DONE)])
    store.ingest_batch([message(m, 40) for m in ("m_ignored", "m_pending", "m_dead", "m_replayed")])
    store.ingest_batch([message("m_new", 0)])
    ids = {r["message_id"]: r["id"] for r in store.rows("inbox")}
    store.finish("inbox", [ids[f"m_old_{i}"] for i in range(OLD_DONE)] + [ids["m_new"]], "done")
    store.finish("inbox", [ids["m_ignored"]], "ignored")
    store.dead_letter("inbox", [ids["m_dead"]], key="k-dead", error="refused")  # open: stays, and its row
    store.dead_letter("inbox", [ids["m_replayed"]], key="k-replayed", error="refused")
    [replayed] = [d["id"] for d in store.open_dead_letters() if d["key"] == "k-replayed"]
    store.replay([replayed])
    store.finish("inbox", [ids["m_replayed"]], "done")
    age(store, "dead_letters", "replayed_at", 40, id=replayed)

    for invocation in ("t_old_done", "t_old_pending", "t_new_done"):
        store.record_ticket_event("zendesk", "7", invocation)
    events = {r["invocation_id"]: r["id"] for r in store.rows("ticket_events")}
    store.finish("ticket_events", [events["t_old_done"], events["t_new_done"]], "done")
    age(store, "ticket_events", "received_at", 40, invocation_id="t_old_done")
    age(store, "ticket_events", "received_at", 40, invocation_id="t_old_pending")

    for comment, days_ago in (("c_old", 40), ("c_new", 0)):
        store.start_delivery(helpdesk="zendesk", comment_id=comment, ticket_id="7", thread_key="k", at=now)
        store.finish_delivery("zendesk", comment, status="sent", platform="facebook", message_ids=[f"out_{comment}"])
        age(store, "sent_messages", "sent_at", days_ago, message_id=f"out_{comment}")
        age(store, "deliveries", "created_at", days_ago, comment_id=comment)

    store.cache_crm("facebook:old", {"name": "Ada"})
    store.cache_crm("facebook:new", None)
    age(store, "crm_cache", "fetched_at", 40, key="facebook:old")
    store.remember_identity("zendesk:facebook:old", "501")


def test_prune_deletes_finished_work_older_than_the_cutoff_and_keeps_what_is_still_needed(database_url: str) -> None:
    store = Store.from_url(database_url, migrate=True)
    history(store)
    kept = {t: count(store, t) for t in ("deliveries", "threads", "identities")}
    before = time.time() - 30 * DAY
    expected = {"inbox": OLD_DONE + 2, "ticket_events": 1, "sent_messages": 1, "dead_letters": 1, "crm_cache": 1}

    assert store.prune(before, dry_run=True) == expected
    assert count(store, "inbox") == OLD_DONE + 5  # a dry run deletes nothing

    assert store.prune(before) == expected
    assert sorted(r["message_id"] for r in store.rows("inbox")) == ["m_dead", "m_new", "m_pending"]
    assert store.counts("inbox") == {"dead": 1, "done": 1, "pending": 1}
    assert sorted(r["invocation_id"] for r in store.rows("ticket_events")) == ["t_new_done", "t_old_pending"]
    assert [r["message_id"] for r in store.rows("sent_messages")] == ["out_c_new"]
    assert [d["key"] for d in store.open_dead_letters()] == ["k-dead"] and count(store, "dead_letters") == 1
    assert [r["key"] for r in store.rows("crm_cache")] == ["facebook:new"]
    assert {t: count(store, t) for t in kept} == kept == {"deliveries": 2, "threads": 0, "identities": 1}
    assert store.prune(before) == dict.fromkeys(expected, 0)  # nothing left to do


def test_the_worker_prunes_nightly_when_retention_days_is_set(tmp_path: Path) -> None:
    raw = raw_config(database_url=f"sqlite:///{tmp_path}/store.db", queue_url=f"sqlite:///{tmp_path}/queue.db")
    raw["bridge"]["retention_days"] = 30
    runtime = build_runtime(config_module.parse(raw, env={}))
    history(runtime.store)
    worker = Worker(runtime, Queue(make_huey(runtime.config.queue_url), lambda: runtime))
    assert worker.prune is not None and worker._options["periodic"]
    worker.prune.call_local()  # what the consumer's scheduler runs at 03:17 UTC
    assert runtime.store.counts("inbox") == {"dead": 1, "done": 1, "pending": 1}

    without = build_runtime(config_module.parse(raw_config(), env={}))
    assert Worker(without, Queue(make_huey(f"sqlite:///{tmp_path}/q2.db"), lambda: without)).prune is None


@pytest.mark.parametrize("value", [0, -3, "30", True])
def test_a_retention_that_is_not_a_number_of_days_stops_at_start(value: Any) -> None:
    raw = raw_config()
    raw["bridge"]["retention_days"] = value
    with pytest.raises(ConfigError, match=r"bridge\.retention_days: .* is not a number of days, 1 or more"):
        config_module.parse(raw, env={})


def test_socialdesk_prune_dry_run_then_for_real(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/store.db"
    path = tmp_path / "socialdesk.toml"
    path.write_text(to_toml(raw_config(database_url=database, queue_url=f"sqlite:///{tmp_path}/queue.db")))
    history(Store.from_url(database))

    def prune(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "bridge.cli", "prune", "--config", str(path), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, env=dict(os.environ))

    refused = prune()
    assert refused.returncode == 2 and "--older-than DAYS, or set [bridge] retention_days" in refused.stderr
    dry = prune("--older-than", "30", "--dry-run")
    assert dry.returncode == 0 and f"would delete, finished more than 30 days ago: inbox {OLD_DONE + 2}," in dry.stdout
    assert "inbox 0" not in dry.stdout
    done = prune("--older-than", "30")
    assert done.returncode == 0 and f"deleted, finished more than 30 days ago: inbox {OLD_DONE + 2}," in done.stdout
    assert Store.from_url(database).counts("inbox") == {"dead": 1, "done": 1, "pending": 1}
