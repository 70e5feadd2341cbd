"""`socialdesk sync-contacts` as a process: Salesforce simulator → helpdesk simulator, killed and resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sandbox.stack import Stack
from tests.support import socialdesk


@pytest.fixture
def stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """A Zendesk account as Zendesk sets one up (bulk user imports off), unless the param says otherwise."""
    helpdesk, on_delete, zendesk = getattr(request, "param", ("zendesk", "suspend", {}))
    salesforce = {"on_delete": on_delete}
    with Stack(tmp_path, helpdesk=helpdesk, start_worker=False, salesforce=salesforce, zendesk=zendesk) as running:
        yield running


def seed(stack: Stack, count: int, start: datetime) -> list[str]:
    """Contacts stamped seven to a second, so that same-second groups straddle every batch boundary."""
    assert stack.salesforce is not None
    return [
        stack.salesforce.add_contact(
            f"Customer {i:04d}", Email=f"c{i}@example.com", at=start + timedelta(seconds=i // 7)
        )
        for i in range(count)
    ]


def sync(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return socialdesk("sync-contacts", "--config", str(config), *args, timeout=300)


def synced(stack: Stack) -> Counter[str]:
    return Counter(
        u["external_id"] for u in stack.helpdesk.users if str(u.get("external_id")).startswith("salesforce:")
    )


@pytest.mark.parametrize("stack", [("zendesk", "suspend", {"data_imports": True})], indirect=True)
def test_interrupted_sync_resumes_with_no_duplicates_and_no_misses(stack: Stack, tmp_path: Path) -> None:
    ids = seed(stack, 2500, datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    config = stack.write_config(tmp_path / "socialdesk.toml")
    stack.zendesk.slow_after_commit("/api/v2/users/create_or_update_many", "POST", seconds=0.4, times=100)
    command = [sys.executable, "-m", "bridge.cli", "sync-contacts", "--config", str(config)]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        stack.wait_for(lambda: sum(synced(stack).values()) >= 800, timeout=120)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert sum(synced(stack).values()) < 2500  # really interrupted
    stack.zendesk.clear_faults()
    resumed = sync(config)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    counts = synced(stack)
    assert set(counts) == {f"salesforce:{i}" for i in ids}  # no miss, at every cursor boundary
    assert set(counts.values()) == {1}  # no duplicate
    created = int(resumed.stdout.split("created ")[1].split(",")[0])
    assert 0 < created < 2500  # the second run started from the saved cursor, not from zero


def test_changes_and_deletions_flow_on_the_next_run(stack: Stack, tmp_path: Path) -> None:
    assert stack.salesforce is not None
    ids = seed(stack, 30, datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    config = stack.write_config(tmp_path / "socialdesk.toml")
    assert sync(config).returncode == 0
    later = datetime.now(UTC)
    stack.salesforce.update("Contact", ids[3], {"LastName": "Renamed"}, at=later)
    stack.salesforce.delete("Contact", ids[4], at=later)
    result = sync(config)
    assert result.returncode == 0, result.stderr
    assert "deleted handled 1" in result.stdout
    users = {u["external_id"]: u for u in stack.helpdesk.users}
    assert users[f"salesforce:{ids[3]}"]["name"] == "Customer Renamed"
    assert users[f"salesforce:{ids[4]}"]["suspended"] is True
    assert set(synced(stack).values()) == {1}


@pytest.mark.parametrize(
    "stack",
    [("zendesk", "suspend", {}), ("zendesk", "tag", {"data_imports": True}), ("freshdesk", "tag", {})],
    indirect=True,
)
def test_deletions_change_existing_users_and_create_none(stack: Stack, tmp_path: Path) -> None:
    """The first run reads the whole recycle bin, and a Contact may be created and deleted between runs:
    neither ever had a helpdesk user, and the deletion pass must not make one."""
    assert stack.salesforce is not None
    t0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    kept, synced_then_deleted = seed(stack, 2, t0)
    binned = stack.salesforce.add_contact("Binned Customer", Email="binned@example.com", at=t0)
    stack.salesforce.delete("Contact", binned, at=t0 + timedelta(seconds=5))  # in the bin before the first run
    config = stack.write_config(tmp_path / "socialdesk.toml")
    first = sync(config)
    assert first.returncode == 0, first.stdout + first.stderr
    assert set(synced(stack)) == {f"salesforce:{kept}", f"salesforce:{synced_then_deleted}"}
    assert "skipped 1 " in first.stdout and "deleted handled 0" in first.stdout
    later = datetime.now(UTC)
    brief = stack.salesforce.add_contact("Brief Customer", Email="brief@example.com", at=later)
    stack.salesforce.delete("Contact", brief, at=later + timedelta(seconds=1))  # created and deleted between runs
    stack.salesforce.delete("Contact", synced_then_deleted, at=later + timedelta(seconds=1))
    second = sync(config)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "deleted handled 1" in second.stdout and second.stdout.strip().endswith("failed 0")
    assert set(synced(stack)) == {f"salesforce:{kept}", f"salesforce:{synced_then_deleted}"}
    gone = next(u for u in stack.helpdesk.users if u.get("external_id") == f"salesforce:{synced_then_deleted}")
    assert "salesforce_deleted" in gone["tags"]


@pytest.mark.parametrize(
    "stack",
    [("zendesk", "suspend", {}), ("zendesk", "suspend", {"data_imports": True}), ("freshdesk", "suspend", {})],
    indirect=True,
)
def test_a_restored_contact_loses_only_what_the_deletion_did(stack: Stack, tmp_path: Path) -> None:
    """Undeleted from the recycle bin, the Contact is live again: the sync's tags come off and the sync's
    suspension is lifted; an agent's own tags stay, and a user an agent suspended stays suspended."""
    assert stack.salesforce is not None
    restored, agents_pick = seed(stack, 2, datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    config = stack.write_config(tmp_path / "socialdesk.toml")
    assert sync(config).returncode == 0
    user = {u["external_id"]: u["id"] for u in stack.helpdesk.users}
    suspension = {"suspended": True} if stack.helpdesk_name == "zendesk" else {}  # Freshdesk has none
    stack.helpdesk.agent_edits_user(user[f"salesforce:{agents_pick}"], tags=["abusive"], **suspension)
    stack.helpdesk.agent_edits_user(user[f"salesforce:{restored}"], tags=["key_account"])
    later = datetime.now(UTC)
    stack.salesforce.delete("Contact", restored, at=later)
    assert sync(config).returncode == 0
    deleted = stack.helpdesk.user(user[f"salesforce:{restored}"])["tags"]
    assert "suspended_in_crm" in deleted and "key_account" in deleted  # the agent's tag survives the deletion
    stack.salesforce.update("Contact", restored, {"IsDeleted": False}, at=later + timedelta(seconds=1))
    stack.salesforce.update("Contact", agents_pick, {"LastName": "Renamed"}, at=later + timedelta(seconds=1))
    third = sync(config)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "updated 2," in third.stdout
    users = {u["external_id"]: u for u in stack.helpdesk.users}
    back, kept_out = users[f"salesforce:{restored}"], users[f"salesforce:{agents_pick}"]
    assert back["tags"] == ["key_account"] and back.get("suspended") in (False, None)
    assert kept_out["tags"] == ["abusive"] and kept_out["name"] == "Customer Renamed"
    if suspension:
        assert kept_out["suspended"] is True  # not the sync's suspension: no suspended_in_crm tag


def test_a_default_zendesk_account_gets_every_contact_one_request_each(stack: Stack, tmp_path: Path) -> None:
    """Bulk user imports are off on a Zendesk account until Zendesk Support turns them on: the bulk
    endpoint answers 403 once, and every contact of every batch is sent on its own."""
    ids = seed(stack, 150, datetime(2026, 1, 5, 9, 0, tzinfo=UTC))  # two batches
    config = stack.write_config(tmp_path / "socialdesk.toml")

    result = sync(config)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "created 150," in result.stdout and result.stdout.strip().endswith("failed 0")
    assert result.stderr.count("bulk user imports are off") == 1  # said once, in the log
    assert set(synced(stack)) == {f"salesforce:{i}" for i in ids} and set(synced(stack).values()) == {1}
    assert len(stack.zendesk.calls_to("POST", "/api/v2/users/create_or_update_many")) == 1
    assert len(stack.zendesk.calls_to("POST", "/api/v2/users/create_or_update.json")) == 150


@pytest.mark.parametrize(
    "stack", [("zendesk", "ignore", {}), ("zendesk", "ignore", {"data_imports": True})], ids=["one by one", "bulk job"],
    indirect=True,
)  # fmt: skip
def test_a_user_field_value_zendesk_refuses_costs_the_contact_that_field_not_its_user(
    stack: Stack, tmp_path: Path
) -> None:
    """A mapped user field whose value Zendesk refuses (Salesforce's "Enterprise" where the dropdown's options are
    tags: 422 RecordInvalid naming the field) failed the Contact: its user neither made nor updated, and the run
    exited 1. The Contact is sent again without that field, as the Freshdesk sync leaves a refused field out, its
    other fields written; the run names the field once, by its key, with the Contacts it was left out of."""
    assert stack.salesforce is not None
    sim, sf = stack.zendesk, stack.salesforce
    mapped = {"account_name": sim.add_user_field("crm_account"),
              "account_type": sim.add_user_field("crm_tier", "dropdown", options=["enterprise", "smb"])}  # fmt: skip
    stack.salesforce_options = {**(stack.salesforce_options or {}), "user_fields": mapped}
    accounts = {"Globex": "Enterprise", "Initech": "smb", "Acme": "Partner"}  # Salesforce's Type: two are no tag
    hank, homer, marge = (
        sf.add_contact(f"Customer of {a}", AccountId=sf.add_account(a, Type=t)) for a, t in accounts.items()
    )
    config = stack.write_config(tmp_path / "socialdesk.toml")

    first = sync(config)
    sf.update("Contact", hank, {"Email": "hank@globex.test"})
    again = sync(config)  # the users are there: updated, the refused field left out again

    left_out = ", ".join(sorted([f"salesforce:{hank}", f"salesforce:{marge}"]))
    for run, done in ((first, "created 3,"), (again, "created 0,")):
        assert run.returncode == 0 and done in run.stdout and run.stdout.strip().endswith("failed 0"), run.stdout
        [said] = [line for line in run.stderr.splitlines() if "crm_tier" in line]
        assert said.endswith(
            " WARNING bridge.sync: salesforce.user_fields.account_type: zendesk refused the value of user field "
            f"'crm_tier' for 2 contact(s) ({left_out}): left out of their user, their other"
            " fields written (the CRM's value is not one the field takes: compare its type and options in zendesk with"
            " the values in Salesforce)"
        ), said
        assert "Enterprise" not in run.stderr  # a Contact's value is never logged
    users = {u["external_id"]: u for u in sim.users if u.get("external_id")}
    assert users[f"salesforce:{hank}"]["user_fields"] == {"crm_account": "Globex", "crm_tier": None}
    assert users[f"salesforce:{hank}"]["email"] == "hank@globex.test"
    assert users[f"salesforce:{homer}"]["user_fields"] == {"crm_account": "Initech", "crm_tier": "smb"}
    assert users[f"salesforce:{marge}"]["user_fields"]["crm_account"] == "Acme"
    assert stack.store.identity(f"zendesk:salesforce:{marge}") == str(users[f"salesforce:{marge}"]["id"])


@pytest.mark.parametrize("stack", [("zendesk", "ignore", {"data_imports": True})], indirect=True)
def test_a_contact_a_bulk_job_fails_is_reported_by_zendesks_reason_never_its_text(stack: Stack, tmp_path: Path) -> None:
    """A job's failed item gives its reason as text quoting the value (``"details": "Email: lee@@initech.test is
    not properly formatted"``): the run says the field and Zendesk's code, from the Contact's own request, and
    neither its output nor its log carries the text; the job's other Contacts are written."""
    assert stack.salesforce is not None
    sf = stack.salesforce
    ada = sf.add_contact("Ada Customer", Email="ada@globex.test")
    lee = sf.add_contact("Lee Customer", Email="lee@@initech.test")
    config = stack.write_config(tmp_path / "socialdesk.toml")

    run = sync(config)

    assert run.returncode == 1 and "created 1," in run.stdout, run.stdout
    assert f"  failed salesforce:{lee}: invalid email (InvalidFormat)" in run.stdout.splitlines(), run.stdout
    assert "lee@@" not in run.stdout + run.stderr and "not properly formatted" not in run.stdout + run.stderr
    assert [u["external_id"] for u in stack.zendesk.users if u.get("external_id")] == [f"salesforce:{ada}"]


@pytest.mark.parametrize("stack", [("freshdesk", "tag", {})], indirect=True)
def test_freshdesk_contacts_one_by_one_and_dry_run(stack: Stack, tmp_path: Path) -> None:
    ids = seed(stack, 120, datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    config = stack.write_config(tmp_path / "socialdesk.toml")
    stack.salesforce.delete("Contact", ids[0])  # type: ignore[union-attr]
    dry = sync(config, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip().splitlines()[-1] == (  # it said "created 0, updated 0": nothing of what it would do
        "dry run: 119 contact(s) would be sent to freshdesk (each created or updated there); 1 deleted in Salesforce "
        "would be tagged where freshdesk has their user; nothing was changed"
    )
    assert synced(stack) == Counter()  # a dry run writes nothing...
    first = sync(config)
    assert first.returncode == 0, first.stderr
    assert "created 119" in first.stdout  # ...and saved no cursor
    assert set(synced(stack)) == {f"salesforce:{i}" for i in ids[1:]}
    again = sync(config)
    assert "created 0" in again.stdout and set(synced(stack).values()) == {1}


def test_the_worker_runs_the_sync_periodically(tmp_path: Path) -> None:
    from bridge.queue import Queue, Worker, make_huey
    from bridge.registry import build_runtime

    with Stack(tmp_path, start_worker=False, salesforce={"sync_every_minutes": 15}) as stack:
        ids = seed(stack, 12, datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
        runtime = build_runtime(stack.config, store=stack.store)
        worker = Worker(runtime, Queue(make_huey(stack.queue_url), lambda: runtime))
        assert worker.contact_sync is not None
        assert "bridge.queue.socialdesk.sync_contacts" in worker.queue.huey._registry._registry
        worker.contact_sync.call_local()  # what the consumer's scheduler runs every 15 minutes
        assert set(synced(stack)) == {f"salesforce:{i}" for i in ids}
        assert stack.store.acquire_lease("sync-contacts", "someone-else", ttl=1)  # released after the run
