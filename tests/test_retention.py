"""Retention: finished work older than ``[bridge] retention_days`` is forgotten, nightly by the worker or by
`socialdesk prune` (the text of messages, finished ticket notices, replayed dead letters); what the bridge
still needs (keys, pending work, open dead letters, threads, deliveries, identities, the CRM cache) stays.
On SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bridge import config as config_module
from bridge.errors import ConfigError
from bridge.events import Author, SocialEvent
from bridge.ingest import IngestRow
from bridge.leases import Leases
from bridge.queue import Queue, Worker, make_huey
from bridge.registry import build_runtime
from bridge.retention import DAY
from bridge.store import PRUNE_CHUNK, Store, metadata
from sandbox.stack import to_toml
from tests.conftest import PAGE_ID, raw_config
from tests.support import socialdesk

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


def history(store: Store) -> None:
    """Forty days of finished work, plus what must survive any retention."""
    now = time.time()

    def message(mid: str, days_ago: float) -> list[IngestRow]:
        at, thread = now - days_ago * DAY, f"facebook:{PAGE_ID}:messenger:{mid}"
        return [("facebook", PAGE_ID, mid, "acme-facebook", thread, "message", "{}", at, at, "pending", None)]

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

    old_customer = SocialEvent(
        platform="facebook", channel="acme-facebook", account_id=PAGE_ID, message_id="m_old_0",
        thread_id="messenger:m_old_0", kind="message", author=Author(id="4242"), text="hello",
        created_at=datetime.fromtimestamp(now - 40 * DAY, UTC), reply_to="4242",
    )  # fmt: skip
    store.claim_thread(old_customer, "zendesk")
    age(store, "threads", "updated_at", 40)
    store.start_delivery(helpdesk="zendesk", comment_id="c_old", ticket_id="7", thread_key="k", at=now)
    store.finish_delivery("zendesk", "c_old", status="sent", platform="facebook", message_ids=["out_old"])
    age(store, "sent_messages", "sent_at", 40)
    age(store, "deliveries", "created_at", 40)
    store.cache_crm("facebook:4242", {"name": "Ada"})
    age(store, "crm_cache", "fetched_at", 40)
    store.remember_identity("zendesk:facebook:4242", "501")
    for thread, status in (("k-acked", "sent"), ("k-ack-due", "due")):  # an old ack sent, and one still to send
        store.plan_ack(thread_key=thread, episode_at=now, ticket_id="7", public=False, status=status,
                       text="Hi Ada, we answer by 9:00 tomorrow.", reason=None, due_at=now)  # fmt: skip
    age(store, "auto_acks", "updated_at", 40)


def snapshot(store: Store, *tables: str) -> dict[str, list[dict[str, Any]]]:
    return {t: sorted(store.rows(t), key=repr) for t in tables}


def test_prune_forgets_finished_work_older_than_the_cutoff_and_keeps_what_is_still_needed(database_url: str) -> None:
    store = Store.from_url(database_url, migrate=True)
    history(store)
    untouched = ("threads", "deliveries", "sent_messages", "crm_cache", "identities")
    kept = snapshot(store, *untouched)
    assert all(kept.values())  # each holds a forty-day-old row that must survive
    before = time.time() - 30 * DAY
    expected = {"inbox": OLD_DONE + 2, "ticket_events": 1, "dead_letters": 1, "auto_acks": 1}

    assert store.prune(before, dry_run=True) == expected
    assert {r["payload"] for r in store.rows("inbox")} == {"{}"}  # a dry run changes nothing

    assert store.prune(before) == expected
    texts = {r["message_id"]: r["payload"] for r in store.rows("inbox")}
    assert len(texts) == OLD_DONE + 5  # every message's keys stay
    assert {m for m, text in texts.items() if text} == {"m_pending", "m_dead", "m_new"}
    assert store.counts("inbox") == {"dead": 1, "done": OLD_DONE + 2, "ignored": 1, "pending": 1}
    assert sorted(r["invocation_id"] for r in store.rows("ticket_events")) == ["t_new_done", "t_old_pending"]
    assert [d["key"] for d in store.open_dead_letters()] == ["k-dead"] and len(store.rows("dead_letters")) == 1
    assert snapshot(store, *untouched) == kept
    assert [a["thread_key"] for a in store.rows("auto_acks")] == ["k-ack-due"]
    assert store.prune(before) == dict.fromkeys(expected, 0)  # nothing left to do

    # A platform redelivering a forty-day-old message is still refused: its key was kept.
    at = time.time() - 40 * DAY
    thread = f"facebook:{PAGE_ID}:messenger:m_old_7"
    assert store.ingest_batch(
        [[("facebook", PAGE_ID, "m_old_7", "acme-facebook", thread, "message", "{}", at, at, "pending", None)]]
    ) == [0]


def test_the_worker_prunes_at_0317_utc_when_retention_days_is_set(tmp_path: Path) -> None:
    raw = raw_config(database_url=f"sqlite:///{tmp_path}/store.db", queue_url=f"sqlite:///{tmp_path}/queue.db")
    raw["bridge"]["retention_days"] = 30
    runtime = build_runtime(config_module.parse(raw, env={}))
    history(runtime.store)
    queue = Queue(make_huey(runtime.config.queue_url), lambda: runtime)
    worker = Worker(runtime, queue)
    assert worker.prune is not None and worker._options["periodic"]
    due = {t.name for t in queue.huey.read_periodic(datetime(2026, 11, 24, 3, 17))}
    assert "socialdesk.prune" in due and not queue.huey.read_periodic(datetime(2026, 11, 24, 3, 18))

    with runtime.leases.hold("prune", "another-worker"):
        worker.prune.call_local()  # another worker's run is under way: this one does nothing
    assert len([r for r in runtime.store.rows("inbox") if r["payload"]]) == OLD_DONE + 5
    worker.prune.call_local()  # what the consumer's scheduler runs at 03:17 UTC
    assert {r["message_id"] for r in runtime.store.rows("inbox") if r["payload"]} == {"m_pending", "m_dead", "m_new"}

    without = build_runtime(config_module.parse(raw_config(), env={}))
    assert Worker(without, Queue(make_huey(f"sqlite:///{tmp_path}/q2.db"), lambda: without)).prune is None


@pytest.mark.parametrize("value", [0, -3, "30", True, float("nan"), float("inf")])
def test_a_retention_that_is_not_a_number_of_days_stops_at_start(value: Any) -> None:
    raw = raw_config()
    raw["bridge"]["retention_days"] = value
    with pytest.raises(ConfigError, match=r"bridge\.retention_days: .* is not a number of days, 1 or more"):
        config_module.parse(raw, env={})


def test_socialdesk_prune_dry_run_then_for_real_one_at_a_time(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/store.db"
    path = tmp_path / "socialdesk.toml"
    path.write_text(to_toml(raw_config(database_url=database, queue_url=f"sqlite:///{tmp_path}/queue.db")))
    store = Store.from_url(database)
    history(store)

    def prune(*args: str) -> subprocess.CompletedProcess[str]:
        return socialdesk("prune", "--config", str(path), *args)

    refused = prune()
    assert refused.returncode == 2 and "--older-than DAYS, or set [bridge] retention_days" in refused.stderr
    for bad in ("nan", "0.5"):
        rejected = prune("--older-than", bad)
        assert (
            rejected.returncode == 2
            and "--older-than: " in rejected.stderr
            and "not a number of days" in rejected.stderr
        )
    said = (
        f"finished more than 30 days ago: messages' text {OLD_DONE + 2}, ticket notices 1, replayed dead letters 1, "
        "acknowledgements 1"
    )
    dry = prune("--older-than", "30", "--dry-run")
    assert dry.returncode == 0 and dry.stdout.strip() == f"would forget, {said}"
    with Leases(store, ttl=60).hold("prune", "a-worker"):
        busy = prune("--older-than", "30")
    assert busy.returncode == 1 and "another prune is running" in busy.stderr
    done = prune("--older-than", "30")
    assert done.returncode == 0 and done.stdout.strip() == f"forgot, {said}"
    assert {r["message_id"] for r in store.rows("inbox") if r["payload"]} == {"m_pending", "m_dead", "m_new"}
