"""Work that fails for good is parked with its reason, listed by `socialdesk dead-letters`, and re-run by
`socialdesk replay` once the cause is fixed."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest

from bridge import logs, messages
from sandbox.base import Fault
from sandbox.stack import PAGE_ID, WA_PHONE_ID, Stack
from tests.support import settle, socialdesk, tickets


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return socialdesk(*args, "--config", str(config))


def test_a_permanent_failure_is_dead_lettered_listed_and_replayed(tmp_path: Path) -> None:
    with Stack(tmp_path) as stack:
        config = stack.write_config(tmp_path / "socialdesk.toml")
        refusal = {"error": "RecordInvalid", "description": "Record validation errors"}  # a requester's is retried
        stack.helpdesk.inject(Fault(422, times=1, method="POST", path_prefix="/api/v2/tickets", body=refusal))
        stack.meta.customer_message(PAGE_ID, psid="9901", text="Please help")
        stack.wait_for(lambda: stack.store.open_dead_letters())
        settle(stack)
        assert tickets(stack) == []

        listed = cli(config, "dead-letters")
        assert listed.returncode == 0
        assert f"facebook:{PAGE_ID}:messenger:9901" in listed.stdout and "Zendesk rejected" in listed.stdout
        assert "1 dead letter(s)" in listed.stdout

        assert "name dead-letter IDs" in cli(config, "replay").stderr
        replayed = cli(config, "replay", "--all")
        assert replayed.returncode == 0 and "1 dead letter(s) queued again" in replayed.stdout
        stack.wait_for(lambda: tickets(stack))  # the cause is gone: the replay opens the ticket
        settle(stack)
        assert len(tickets(stack)) == 1 and stack.store.open_dead_letters() == []
        assert stack.store.counts("inbox") == {"done": 1}


def test_a_whatsapp_dead_letter_is_listed_by_the_pseudonym_its_log_lines_show_and_revealed_on_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listing is pasted where the logs go: a WhatsApp thread key holds the customer's number, so it names the
    thread as the worker's log lines do (the pseudonym keyed by the config's helpdesk credential, the same in every
    process); ``--reveal`` gives the stored key to the operator who must find the conversation."""
    monkeypatch.setattr(messages, "_pseudonym_key", messages._pseudonym_key)  # put back after the test
    with Stack(tmp_path, platforms=("whatsapp",)) as stack:
        config = stack.write_config(tmp_path / "socialdesk.toml")
        refusal = {"error": "RecordInvalid", "description": "Record validation errors"}
        stack.helpdesk.inject(Fault(422, times=1, method="POST", path_prefix="/api/v2/tickets", body=refusal))
        stack.meta.whatsapp_message(WA_PHONE_ID, wa_id="15551234567", text="Please help")
        [letter] = stack.wait_for(lambda: stack.store.open_dead_letters())
        listed, revealed = cli(config, "dead-letters"), cli(config, "dead-letters", "--reveal")
    logs.use_pseudonyms(stack.config)  # as the worker and serve key it
    assert letter["key"] == f"whatsapp:{WA_PHONE_ID}:chat:15551234567"
    assert messages.key_shown(letter["key"]) in listed.stdout and "15551234567" not in listed.stdout
    assert letter["key"] in revealed.stdout


def test_a_store_failure_in_the_worker_is_retried_not_dead_lettered(tmp_path: Path) -> None:
    # A database that is briefly unusable (locked, restarting; here a table taken away) is an outage like
    # any other: the event waits and goes through once the database is back.
    with Stack(tmp_path) as stack:
        db = sqlite3.connect(tmp_path / "socialdesk.db")
        db.execute("ALTER TABLE identities RENAME TO identities_away")
        db.commit()
        stack.meta.customer_message(PAGE_ID, psid="9902", text="Are you there?")
        [row] = stack.wait_for(lambda: [r for r in stack.store.rows("inbox") if r["attempts"]])
        assert "database is unavailable" in row["last_error"] and row["status"] == "pending"
        db.execute("ALTER TABLE identities_away RENAME TO identities")
        db.commit()
        stack.wait_for(lambda: stack.store.counts("inbox") == {"done": 1}, timeout=30)
        assert len(tickets(stack)) == 1 and stack.store.open_dead_letters() == []
