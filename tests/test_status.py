"""`socialdesk status` as the operator on call runs it: is the bridge keeping up, and if not, why."""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bridge.config import parse
from bridge.events import Ignored
from bridge.ingest import IngestRow
from bridge.pauses import RedisPauses
from bridge.status import render, report
from bridge.store import Store, ingest_row
from sandbox.stack import to_toml
from tests.conftest import PAGE_ID, raw_config
from tests.support import closed_port, socialdesk


def status(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return socialdesk("status", "--config", str(config), *args)


def row(message_id: str, received_at: float) -> IngestRow:
    thread = f"facebook:{PAGE_ID}:messenger:{message_id}"
    return (
        "facebook",
        PAGE_ID,
        message_id,
        "acme-facebook",
        thread,
        "message",
        "{}",
        received_at,
        received_at,
        "pending",
        None,
    )


def backlog(store: Store) -> None:
    """Four customers' messages: one waiting a quarter of an hour and retried after a 503, one just in, one
    done, one dead-lettered."""
    now = time.time()
    store.ingest_batch([[row("m_old", now - 1000)], [row("m_new", now)], [row("m_done", now)], [row("m_dead", now)]])
    ids = {r["message_id"]: r["id"] for r in store.rows("inbox")}
    store.postpone("inbox", [ids["m_old"]], delay=30, error="Zendesk is unavailable (503)")
    store.finish_event(ids["m_done"], f"facebook:{PAGE_ID}:messenger:m_done")
    store.dead_letter("inbox", [ids["m_dead"]], key="k", error="Zendesk rejected the request")


def seconds(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    assert found, text
    return float(found.group(1))


def write_config(tmp_path: Path, database_url: str, queue_url: str) -> Path:
    path = tmp_path / "socialdesk.toml"
    path.write_text(to_toml(raw_config(database_url=database_url, queue_url=queue_url)))
    return path


def assert_report(report: dict[str, Any]) -> None:
    inbox = report["inbox"]
    assert inbox["counts"] == {"pending": 2, "done": 1, "dead": 1}
    assert inbox["pending"] == 2 and 999 <= inbox["oldest_pending_age_s"] < 1200
    assert inbox["retrying"] == 1 and inbox["last_error"] == "Zendesk is unavailable (503)"
    assert report["ticket_events"] == {"counts": {}, "pending": 0, "retrying": 0, "last_error": None,
                                       "oldest_pending_age_s": None}  # fmt: skip
    assert report["dead_letters"] == 1
    assert list(report["paused"]) == ["zendesk"] and 200 < report["paused"]["zendesk"] <= 300


def test_status_says_how_far_behind_it_is_why_and_fails_a_lag_probe(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/store.db"
    config = write_config(tmp_path, database, f"sqlite:///{tmp_path}/queue.db")
    store = Store.from_url(database)
    backlog(store)
    store.pause("zendesk", time.time() + 300, "429 Too Many Requests")

    as_json = status(config, "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert_report(json.loads(as_json.stdout))

    text = status(config).stdout
    assert 999 <= seconds(r"2 waiting, the oldest for ([\d.]+) s", text) < 1200
    assert "1 being retried, the oldest of them after: Zendesk is unavailable (503)" in text
    assert "zendesk for " in text and "1 open: `socialdesk dead-letters`" in text

    probe = status(config, "--max-lag", "60")
    assert probe.returncode == 1
    assert seconds(r"behind: inbox: the oldest of 2 waiting has waited ([\d.]+) s \(limit 60 s\)", probe.stderr) >= 999
    assert status(config, "--max-lag", "3600").returncode == 0


def test_an_idle_bridge_passes_the_probe(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/store.db", f"sqlite:///{tmp_path}/queue.db")
    result = status(config, "--max-lag", "0")
    assert result.returncode == 0, result.stderr
    assert "paused         nothing" in result.stdout and "dead letters   none" in result.stdout


def test_at_scale_the_pauses_come_from_redis_where_the_workers_share_them(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    with_password = pg_url.replace("postgres@", "postgres:pg-s3cret@", 1)  # trust auth: the password is not checked
    config = write_config(tmp_path, with_password, redis_url)
    store = Store.from_url(pg_url, migrate=True)
    backlog(store)
    RedisPauses(redis_url).pause("zendesk", time.time() + 300, "429 Too Many Requests")

    result = status(config, "--json")
    assert result.returncode == 0, result.stderr
    assert_report(json.loads(result.stdout))
    assert json.loads(result.stdout)["store"].startswith("postgresql+psycopg://postgres:***@127.0.0.1:5432/test?")
    assert "pg-s3cret" not in result.stdout + status(config).stdout


def test_a_password_in_the_database_urls_query_is_masked_too(tmp_path: Path, pg_url: str) -> None:
    """libpq takes the password as ``?password=``, which SQLAlchemy's ``hide_password`` does not hide: the store
    line of ``status`` (and doctor's, and the ready lines) showed it."""
    Store.from_url(pg_url, migrate=True)  # status reads a current schema
    config = write_config(tmp_path, f"{pg_url}&password=pg-s3cret", f"sqlite:///{tmp_path}/queue.db")
    result = status(config, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["store"].endswith("&password=***")
    assert "pg-s3cret" not in result.stdout + status(config).stdout


def test_status_started_in_another_folder_reads_the_store_beside_its_config(tmp_path: Path) -> None:
    """The trial's `cd elsewhere && socialdesk status --config app/socialdesk.toml`: a new empty store made there,
    "inbox empty", exit 0 (the real one held done=2). Relative paths are read from the config's folder."""
    app, elsewhere = tmp_path / "app", tmp_path / "elsewhere"
    app.mkdir()
    elsewhere.mkdir()
    config = write_config(app, "sqlite:///store.db", "sqlite:///queue.db")
    backlog(Store.from_url(f"sqlite:///{app}/store.db"))

    result = socialdesk("status", "--json", "--config", str(config), cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["inbox"]["counts"] == {"pending": 2, "done": 1, "dead": 1}
    assert json.loads(result.stdout)["store"] == f"sqlite:///{app}/store.db"
    assert list(elsewhere.iterdir()) == []
    shown = socialdesk("status", "--config", str(config), cwd=elsewhere).stdout
    assert shown.splitlines()[0] == f"store          sqlite:///{app}/store.db"


def test_with_the_database_down_every_command_says_so_in_one_line(tmp_path: Path) -> None:
    config = write_config(tmp_path, f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/test", "redis://x")
    for command in (["status"], ["dead-letters"], ["prune", "--older-than", "30"]):
        result = socialdesk(*command, "--config", str(config))
        assert result.returncode == 1, command
        assert result.stderr.startswith("Error: store: the database is unavailable (connection failed"), result.stderr
        assert "Traceback" not in result.stderr


def test_with_redis_down_status_still_shows_the_store_and_says_the_pauses_are_unknown(
    tmp_path: Path, pg_url: str
) -> None:
    config = write_config(tmp_path, pg_url, f"redis://127.0.0.1:{closed_port()}/0")
    backlog(Store.from_url(pg_url, migrate=True))
    result = status(config)
    assert result.returncode == 0, result.stderr
    assert "2 waiting, the oldest for" in result.stdout
    assert "paused         unknown: the pause board in Redis is unreachable" in result.stdout
    report = json.loads(status(config, "--json").stdout)
    assert report["paused"] is None and report["inbox"]["pending"] == 2


def test_what_was_ignored_is_counted_by_reason_once_per_real_event(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/store.db"
    config = write_config(tmp_path, database, f"sqlite:///{tmp_path}/queue.db")
    store = Store.from_url(database)
    at = datetime.now(UTC)
    receipt = Ignored("facebook", "acme-facebook", PAGE_ID, "read:42@1", "messenger read receipt", at)
    assert store.ingest([receipt, replace(receipt, message_id="read:42@2")]) == 2
    assert store.ingest([receipt]) == 0  # a redelivery is not a second event
    store.ingest_batch([[row("m_edit", time.time())]])
    old = Ignored("x", "acme-x", "9", "like:1", "x favorite", at - timedelta(days=2))
    store.ingest_batch([[(*ingest_row(old, time.time() - 2 * 86_400)[:-2], "ignored", old.reason)]])
    edit_id = next(r["id"] for r in store.rows("inbox") if r["message_id"] == "m_edit")
    store.finish_event(edit_id, f"facebook:{PAGE_ID}:messenger:m_edit", ignored="edit of a message never seen")

    report = json.loads(status(config, "--json").stdout)
    assert report["ignored"] == {
        "edit of a message never seen": {"last_24h": 1, "total": 1},
        "messenger read receipt": {"last_24h": 2, "total": 2},
        "x favorite": {"last_24h": 0, "total": 1},
    }
    assert report["inbox"]["counts"] == {"ignored": 4}
    text = status(config).stdout
    assert re.search(r"\nignored +by reason, last 24 h \(all time\):\n +1 \(1\)  edit of a message never seen\n", text)
    assert re.search(r"\n +2 \(2\)  messenger read receipt\n +0 \(1\)  x favorite\n", text), text


def test_status_counts_the_acknowledgements_of_the_day_and_says_why_none_went(tmp_path: Path) -> None:
    raw = raw_config(database_url=f"sqlite:///{tmp_path}/store.db", queue_url=f"sqlite:///{tmp_path}/queue.db")
    raw["channels"][0]["ack"] = {"instant": "Thanks {first_name}!"}
    config = parse(raw, env={})
    store = Store.from_url(config.database_url)
    now = time.time()
    for i, (status_, reason) in enumerate([("sent", None), ("none", "negative sentiment: apology template not "
                                           "configured"), ("none", "negative sentiment: apology template not "
                                           "configured"), ("cancelled", "an agent answered first")]):  # fmt: skip
        store.plan_ack(thread_key=f"k{i}", episode_at=now, ticket_id="7", public=False, status=status_,
                       text=None, reason=reason, due_at=None)  # fmt: skip
    found = report(config, store)
    assert found["acks"]["last_24h"] == {"sent": 1, "none": 2, "cancelled": 1}
    lines = render(found)
    assert "acks (24 h)    cancelled=1  none=2  sent=1" in lines
    assert lines[lines.index("acks (24 h)    cancelled=1  none=2  sent=1") + 1].split() == [
        "2", "negative", "sentiment:", "apology", "template", "not", "configured",
    ]  # fmt: skip
