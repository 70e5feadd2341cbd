"""One customer, one helpdesk user (bridge.joins), end to end on both helpdesks: Salesforce simulator →
``sync-contacts`` → a social message → the ticket on the synced user, with the real clients over sockets."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge import status, sync
from bridge.events import Author
from connectors.zendesk import ZendeskHelpdesk
from sandbox.stack import HELPDESKS, PAGE_ID, WA_PHONE_ID, Stack
from tests.support import settle, socialdesk, step_runtime, tickets


@pytest.fixture(params=HELPDESKS)
def stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """``cache_ttl = 0``: every new thread asks the CRM again (how a contradiction is seen); the Contact's name
    mapped to a user field (the CRM's profile, written in the user call)."""
    stack = Stack(tmp_path, helpdesk=request.param, salesforce={})
    stack.salesforce_options = {"cache_ttl": 0, "user_fields": {"name": stack.helpdesk.add_user_field("crm_name")}}
    with stack as running:
        yield running


@pytest.fixture(params=HELPDESKS)
def unjoined(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    with Stack(tmp_path, helpdesk=request.param, salesforce={"join_users": False}) as running:
        yield running


def contact(stack: Stack, name: str = "Hank Scorpio", email: str = "hank@globex.example") -> str:
    assert stack.salesforce is not None
    return stack.salesforce.add_contact(name, Email=email)


def persona(stack: Stack, user_id: str, contact_id: str) -> str:
    assert stack.salesforce is not None
    return stack.salesforce.add_persona(provider="Facebook", external_id=user_id, parent_id=contact_id, name="hank")


def synced(stack: Stack) -> dict[str, dict[str, Any]]:
    """Run sync-contacts; the helpdesk's users by external id."""
    summary = sync.sync_contacts(step_runtime(stack))
    assert not summary.failed
    return users(stack)


def users(stack: Stack) -> dict[str, dict[str, Any]]:
    return {str(u["external_id"]): u for u in stack.helpdesk.users if u.get("external_id")}


def crm_calls(stack: Stack) -> int:
    assert stack.salesforce is not None
    return len([c for c in stack.salesforce.calls if "/services/data/" in c.path])


def comment(stack: Stack, user_id: str, text: str, name: str = "Hank S.") -> dict[str, Any]:
    """A comment on a new post: a new thread (a new ticket) from the same Facebook user."""
    before = len(tickets(stack))
    stack.meta.customer_comment(PAGE_ID, text=text, user_id=user_id, user_name=name)
    return stack.wait_for(lambda: len(tickets(stack)) > before and tickets(stack)[-1])  # type: ignore[no-any-return]


def identity_of(stack: Stack, user_id: Any) -> list[str]:
    """The social identities the helpdesk shows on the user: Zendesk identities, Freshdesk's facebook_id."""
    if stack.helpdesk_name == "zendesk":
        return [f"{i['type']}:{i['value']}" for i in stack.zendesk.identities_of(user_id)]
    found = stack.freshdesk.user(user_id).get("facebook_id")
    return [f"facebook:{found}"] if found else []


def crm_name(stack: Stack, user_id: Any) -> object:
    """The user field the CRM's profile fills (Zendesk: user_fields by key; Freshdesk: custom_fields by name)."""
    user = stack.helpdesk.user(user_id)
    fields = user.get("user_fields") if stack.helpdesk_name == "zendesk" else user.get("custom_fields")
    return (fields or {}).get(stack.salesforce_options["user_fields"]["name"])  # type: ignore[index]


def profile_notes(stack: Stack, user_id: Any) -> str:
    user = stack.helpdesk.user(user_id)
    return str(user.get("notes") or user.get("description") or "")


def helpdesk_calls(stack: Stack, since: int) -> list[str]:
    return [
        f"{c.method} {re.sub(r'/[0-9]+', '/N', c.path)}"
        for c in stack.helpdesk.calls[since:]
        if c.path.startswith("/api/v2/")
    ]


def joins(stack: Stack) -> list[dict[str, Any]]:
    return sorted(stack.store.rows("user_joins"), key=lambda r: int(r["id"]))


#: A known customer's first message, joined to the synced Contact's user: the count may only go down.
JOIN_CALLS = {
    "zendesk": ["POST /api/v2/users/N/identities.json", "POST /api/v2/tickets.json"],
    "freshdesk": ["GET /api/v2/contacts", "PUT /api/v2/contacts/N", "POST /api/v2/tickets"],
}


def test_a_contacts_message_lands_on_the_synced_user_with_the_identity_and_no_later_crm_call(stack: Stack) -> None:
    hank = contact(stack)
    persona(stack, "8101", hank)
    synced_user = synced(stack)[f"salesforce:{hank}"]
    count = len(stack.helpdesk.users)

    mark = len(stack.helpdesk.calls)
    stack.meta.customer_message(PAGE_ID, psid="8101", text="Where is my doomsday device?")
    ticket = stack.wait_for(lambda: tickets(stack) and tickets(stack)[0])
    assert ticket["requester_id"] == synced_user["id"]
    settle(stack)
    # once per identity. Zendesk: the identity on the user sync-contacts made and remembered (it wrote the CRM's
    # user fields: no user call), the ticket. Freshdesk: the synced contact read by its key (no upsert; the read
    # shows its facebook_id), one PUT with the profile and the identity, the ticket
    assert helpdesk_calls(stack, mark) == JOIN_CALLS[stack.helpdesk_name]
    assert len(stack.helpdesk.users) == count  # no social user made
    assert identity_of(stack, synced_user["id"]) == ["facebook:8101"]
    assert crm_name(stack, synced_user["id"]) == "Hank Scorpio"  # the CRM's fields on it
    [row] = joins(stack)
    assert row["action"] == "joined" and row["contact_id"] == hank and "matched by persona" in row["reason"]

    calls = crm_calls(stack)
    stack.meta.customer_message(PAGE_ID, psid="8101", text="Hello??")
    stack.wait_for(lambda: len(stack.helpdesk.comments(ticket["id"])) >= 2)
    settle(stack)
    assert crm_calls(stack) == calls  # the identity goes straight to the user
    assert len(tickets(stack)) == 1 and len(joins(stack)) == 1


def test_a_social_user_made_before_the_crm_knew_is_merged_on_zendesk_and_linked_on_freshdesk(stack: Stack) -> None:
    hank = contact(stack)
    synced_user = synced(stack)[f"salesforce:{hank}"]
    first = comment(stack, "8102", "I am nobody yet")  # no persona: a social user, as without joins
    social = users(stack)["facebook:8102"]
    assert first["requester_id"] == social["id"]

    persona(stack, "8102", hank)  # Salesforce learns who it is
    second = comment(stack, "8102", "Now you know me")
    settle(stack)
    assert second["requester_id"] == synced_user["id"]
    [row] = joins(stack)
    assert (row["user_id"], row["other_user_id"], row["contact_id"]) == (
        str(synced_user["id"]),
        str(social["id"]),
        hank,
    )
    if stack.helpdesk_name == "zendesk":  # merged: the earlier ticket is the Contact's user's too
        assert row["action"] == "merged"
        assert stack.zendesk.user(social["id"])["active"] is False
        assert {t["requester_id"] for t in tickets(stack)} == {synced_user["id"]}
        assert identity_of(stack, synced_user["id"]) == ["facebook:8102"]
    else:  # linked: both contacts kept and noted, the earlier ticket where it was
        assert row["action"] == "linked"
        assert next(t for t in tickets(stack) if t["id"] == first["id"])["requester_id"] == social["id"]
        assert f"new conversations go to user {synced_user['id']}" in profile_notes(stack, social["id"])
        assert f"also user {social['id']}" in profile_notes(stack, synced_user["id"])
    shown = status.report(stack.config, stack.store)
    assert shown["joins"]["last_24h"] == {row["action"]: 1}
    assert any(f"user {social['id']}" in line for line in status.render(shown))  # socialdesk status says it
    mark = len(stack.helpdesk.calls)
    third = comment(stack, "8102", "and again")
    settle(stack)
    assert third["requester_id"] == synced_user["id"] and len(joins(stack)) == 1
    assert len(helpdesk_calls(stack, mark)) == 1  # a joined identity's new thread: the ticket alone


def test_join_users_false_keeps_the_social_user(unjoined: Stack) -> None:
    stack = unjoined
    hank = contact(stack)
    persona(stack, "8103", hank)
    synced(stack)
    stack.meta.customer_message(PAGE_ID, psid="8103", text="hi")
    ticket = stack.wait_for(lambda: tickets(stack) and tickets(stack)[0])
    settle(stack)
    assert ticket["requester_id"] == users(stack)["facebook:8103"]["id"]
    assert identity_of(stack, users(stack)[f"salesforce:{hank}"]["id"]) == []
    assert joins(stack) == []


def test_a_name_alone_never_joins(stack: Stack) -> None:
    """A Contact and a synced user named as the commenter, but nothing the customer owns matches: no join."""
    hank = contact(stack)
    synced(stack)
    ticket = comment(stack, "8104", "It's me, Hank", name="Hank Scorpio")
    settle(stack)
    assert ticket["requester_id"] == users(stack)["facebook:8104"]["id"]
    assert identity_of(stack, users(stack)[f"salesforce:{hank}"]["id"]) == []
    assert joins(stack) == []


def test_a_join_the_crm_contradicts_is_undone_for_the_next_tickets_and_noted(stack: Stack) -> None:
    assert stack.salesforce is not None
    hank, frank = contact(stack), contact(stack, "Frank Grimes", "frank@globex.example")
    link = persona(stack, "8105", hank)
    hank_user, frank_user = (synced(stack)[f"salesforce:{c}"] for c in (hank, frank))
    assert comment(stack, "8105", "first")["requester_id"] == hank_user["id"]

    stack.salesforce.update("SocialPersona", link, {"ParentId": frank})  # the persona was Frank's all along
    moved = comment(stack, "8105", "second")
    settle(stack)
    assert moved["requester_id"] == frank_user["id"]
    assert identity_of(stack, hank_user["id"]) == [] and identity_of(stack, frank_user["id"]) == ["facebook:8105"]
    assert f"is no longer Salesforce Contact {hank}" in profile_notes(stack, hank_user["id"])
    assert [r["action"] for r in joins(stack)] == ["joined", "undone", "joined"]

    stack.salesforce.delete("SocialPersona", link)  # and then nobody's: the identity's own user again
    alone = comment(stack, "8105", "third")
    settle(stack)
    assert alone["requester_id"] not in (hank_user["id"], frank_user["id"])
    assert identity_of(stack, frank_user["id"]) == []
    assert [r["action"] for r in joins(stack)][-1] == "undone"


@pytest.mark.parametrize("stack", ["zendesk"], indirect=True)
def test_a_user_zendesk_refuses_to_merge_is_linked_and_noted(stack: Stack) -> None:
    """The identity's user is an agent (who once wrote in as a customer): Zendesk merges end users only."""
    hank = contact(stack)
    synced_user = synced(stack)[f"salesforce:{hank}"]
    agent = stack.zendesk.agent_id
    desk = step_runtime(stack).helpdesk  # made by socialdesk (matched by email): its external id the identity's
    assert isinstance(desk, ZendeskHelpdesk)
    desk.api("PUT", f"/api/v2/users/{agent}.json", {"user": {"external_id": "facebook:8106"}})
    stack.store.remember_identity("zendesk:facebook:8106", str(agent))
    persona(stack, "8106", hank)
    ticket = comment(stack, "8106", "it's me")
    settle(stack)
    assert ticket["requester_id"] == synced_user["id"]
    [row] = joins(stack)
    assert row["action"] == "linked" and "refused to merge it (Zendesk rejected" in row["reason"]
    assert stack.zendesk.user(agent)["active"] is True and stack.zendesk.user(agent)["role"] == "agent"
    assert f"new conversations go to user {synced_user['id']}" in profile_notes(stack, agent)


@pytest.mark.parametrize("stack", ["zendesk"], indirect=True)
def test_a_link_note_answered_with_a_gateways_502_after_it_was_written_is_written_once(stack: Stack) -> None:
    """The user's notes are a read, then a PUT of the whole text: retried within the call after a proxy's 502 (Zendesk
    had written it), the line was appended twice; taken as unknown without more (as a timeout was), the customer's
    message was a dead letter. Now taken as written (bridge.notes): once, and the message reaches its ticket."""
    hank = contact(stack)
    synced_user = synced(stack)[f"salesforce:{hank}"]
    agent = stack.zendesk.agent_id
    desk = step_runtime(stack).helpdesk
    assert isinstance(desk, ZendeskHelpdesk)
    desk.api("PUT", f"/api/v2/users/{agent}.json", {"user": {"external_id": "facebook:8107"}})
    stack.store.remember_identity("zendesk:facebook:8107", str(agent))
    persona(stack, "8107", hank)
    stack.zendesk.lose_answer(f"/api/v2/users/{agent}.json", "PUT", status=502)
    ticket = comment(stack, "8107", "it's me again")
    settle(stack)
    assert ticket["requester_id"] == synced_user["id"] and stack.store.open_dead_letters() == []
    assert profile_notes(stack, agent).count(f"new conversations go to user {synced_user['id']}") == 1


@pytest.mark.parametrize("stack", ["freshdesk"], indirect=True)
def test_a_freshdesk_link_note_answered_with_a_gateways_502_after_it_was_written_is_written_once(stack: Stack) -> None:
    """Freshdesk links, and notes both contacts: a read of the description, then a PUT of the whole text. The PUT is
    idempotent alone, so a proxy's 502 after Freshdesk wrote it was retried, and the retry read the note just
    written and appended it again. Taken as written, as on Zendesk: once, and the message reaches its ticket."""
    hank = contact(stack)
    synced_user = synced(stack)[f"salesforce:{hank}"]
    first = comment(stack, "8109", "I am nobody yet")  # no persona: a contact of its own
    social = first["requester_id"]
    persona(stack, "8109", hank)
    stack.freshdesk.lose_answer(f"/api/v2/contacts/{social}", "PUT", status=502)
    second = comment(stack, "8109", "Now you know me")
    settle(stack)
    assert second["requester_id"] == synced_user["id"] and stack.store.open_dead_letters() == []
    assert profile_notes(stack, social).count(f"new conversations go to user {synced_user['id']}") == 1


@pytest.mark.parametrize("stack", ["zendesk"], indirect=True)
def test_a_social_user_remembered_over_a_join_is_joined_again(stack: Stack) -> None:
    """Two workers on two new threads of one customer: one joins the identity; the other, without the CRM's
    answer (down or over budget), makes the social user and remembers it after the join was recorded. The next
    thread the CRM identifies goes to the Contact's user again, that social user merged. (Freshdesk's requester
    look-up finds the joined contact by its facebook_id once attached: no second contact to remember.)"""
    hank = contact(stack)
    persona(stack, "8107", hank)
    synced_user = synced(stack)[f"salesforce:{hank}"]
    assert comment(stack, "8107", "first")["requester_id"] == synced_user["id"]
    desk = step_runtime(stack).helpdesk  # the other worker's user and its late write, as it left them
    stray = desk.ensure_requester(platform="facebook", author=Author(id="8107", name="Hank S."))
    stack.store.remember_identity(f"{stack.helpdesk_name}:facebook:8107", stray)

    later = comment(stack, "8107", "second")
    settle(stack)
    assert later["requester_id"] == synced_user["id"]
    row = joins(stack)[-1]
    assert (row["action"], row["user_id"], row["other_user_id"]) == ("merged", str(synced_user["id"]), stray)
    assert stack.zendesk.user(stray)["active"] is False
    assert row["reason"].endswith("; facebook identity attached")  # refused as taken: by this user


@pytest.mark.parametrize("stack", ["freshdesk"], indirect=True)
def test_an_identity_another_contact_holds_leaves_the_join_and_the_crm_fields_in_place(stack: Stack) -> None:
    """Freshdesk's one write (profile + facebook_id) refused because another contact has that facebook_id: the
    profile is written alone, the identity left where it is, the join recorded saying so."""
    hank, frank = contact(stack), contact(stack, "Frank Grimes", "frank@globex.example")
    by_key = synced(stack)
    stack.freshdesk.agent_edits_user(by_key[f"salesforce:{frank}"]["id"], facebook_id="8107")
    persona(stack, "8107", hank)
    ticket = comment(stack, "8107", "who has my id?")
    settle(stack)
    hank_user = by_key[f"salesforce:{hank}"]["id"]
    assert ticket["requester_id"] == hank_user
    assert crm_name(stack, hank_user) == "Hank Scorpio" and identity_of(stack, hank_user) == []
    [row] = joins(stack)
    assert row["action"] == "joined" and "identity not attached" in row["reason"]


@pytest.mark.parametrize("stack", ["zendesk"], indirect=True)
def test_a_merge_whose_record_was_lost_is_recorded_on_the_retry(stack: Stack) -> None:
    """The worker merged the social user, then died (or the merge's answer was lost) before the join's row: the
    store still names the social user. The next attempt merges again without harm and records it once."""
    hank = contact(stack)
    synced_user = synced(stack)[f"salesforce:{hank}"]
    social = comment(stack, "8108", "I am nobody yet")["requester_id"]
    persona(stack, "8108", hank)
    desk = step_runtime(stack).helpdesk
    assert isinstance(desk, ZendeskHelpdesk)
    desk.merge_user(str(social), str(synced_user["id"]), made_as="facebook:8108")  # the lost attempt's call

    later = comment(stack, "8108", "Now you know me")
    settle(stack)
    assert later["requester_id"] == synced_user["id"]
    [row] = joins(stack)
    assert (row["action"], row["other_user_id"]) == ("merged", str(social))
    assert {t["requester_id"] for t in tickets(stack)} == {synced_user["id"]}
    assert identity_of(stack, synced_user["id"]) == ["facebook:8108"]


#: A Contact sync-contacts has not run for yet: its user is made by the join.
UNSYNCED_JOIN_CALLS = {
    "zendesk": [
        "POST /api/v2/users/create_or_update.json",  # the Contact's user with the CRM's profile
        "POST /api/v2/users/N/identities.json",  # create_or_update adds no identity to a user it updates
        "POST /api/v2/tickets.json",
    ],
    "freshdesk": ["GET /api/v2/contacts", "POST /api/v2/contacts", "POST /api/v2/tickets"],
}


def test_a_contact_not_synced_yet_gets_its_user_made_with_the_identity(stack: Stack) -> None:
    """Freshdesk: the contact created with the CRM's fields and facebook_id in one call (the read found none)."""
    hank = contact(stack)
    persona(stack, "8108", hank)
    mark = len(stack.helpdesk.calls)
    ticket = comment(stack, "8108", "first time here")
    settle(stack)
    user = users(stack)[f"salesforce:{hank}"]
    assert ticket["requester_id"] == user["id"] and len(users(stack)) == 1
    assert identity_of(stack, user["id"]) == ["facebook:8108"] and crm_name(stack, user["id"]) == "Hank Scorpio"
    assert helpdesk_calls(stack, mark) == UNSYNCED_JOIN_CALLS[stack.helpdesk_name]
    [row] = joins(stack)
    assert row["action"] == "joined" and "facebook" in row["reason"] and "not attached" not in row["reason"]
    if stack.helpdesk_name == "zendesk":  # remembered as the sync remembers it: the Contact's next identity, 2 calls
        assert stack.store.identity(f"zendesk:salesforce:{hank}") == str(user["id"])


@pytest.mark.parametrize(("helpdesk", "bulk"), [("zendesk", False), ("zendesk", True), ("freshdesk", False)])
def test_sync_contacts_writes_the_crm_user_fields_and_remembers_each_contacts_user(
    tmp_path: Path, helpdesk: str, bulk: bool
) -> None:
    """The sync owns the synced user's CRM fields (``[salesforce] user_fields``), and the store keeps which user it
    made or matched, from Zendesk's create_or_update answer or its bulk job's results (``id``)."""
    zendesk = {"data_imports": True} if bulk else {}
    stack = Stack(tmp_path, helpdesk=helpdesk, salesforce={}, zendesk=zendesk)
    stack.salesforce_options = {"user_fields": {"account_name": stack.helpdesk.add_user_field("crm_account")}}
    with stack:
        assert stack.salesforce is not None
        globex = stack.salesforce.add_account("Globex")
        hank = stack.salesforce.add_contact("Hank Scorpio", Email="hank@globex.example", AccountId=globex)
        user = synced(stack)[f"salesforce:{hank}"]
        fields = user.get("user_fields") if helpdesk == "zendesk" else user.get("custom_fields")
        assert (fields or {}).get(stack.salesforce_options["user_fields"]["account_name"]) == "Globex"
        assert stack.store.identity(f"{helpdesk}:salesforce:{hank}") == str(user["id"])


def test_a_contact_field_freshdesk_refuses_costs_the_sync_that_field_not_the_contact(tmp_path: Path) -> None:
    """A mapped contact field Freshdesk refuses (gone since the mapping was written: ``invalid_field``) is left out
    of the sync's create and update, as the join's create leaves it out: the Contact's user is still made, then
    updated, with its other fields, and remembered; no Contact fails for it."""
    stack = Stack(tmp_path, helpdesk="freshdesk", salesforce={})
    kept = stack.helpdesk.add_user_field("crm_account")
    stack.salesforce_options = {"user_fields": {"account_name": kept, "account_type": "crm_tier_deleted"}}
    with stack:
        assert stack.salesforce is not None
        globex = stack.salesforce.add_account("Globex", Type="Enterprise")
        hank = stack.salesforce.add_contact("Hank Scorpio", Email="hank@globex.example", AccountId=globex)
        user = synced(stack)[f"salesforce:{hank}"]  # created
        assert (user.get("custom_fields") or {}).get(kept) == "Globex"
        assert stack.store.identity(f"freshdesk:salesforce:{hank}") == str(user["id"])
        stack.salesforce.update("Contact", hank, {"Email": "hank@globex.test"})
        user = synced(stack)[f"salesforce:{hank}"]  # updated
        assert user["email"] == "hank@globex.test" and (user.get("custom_fields") or {}).get(kept) == "Globex"


def test_a_user_field_value_zendesk_refuses_costs_the_joined_user_that_field_not_the_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The join makes a Contact's user the sync has not made yet with the CRM's profile; a value a user field does not
    take (Salesforce's "Enterprise" where the dropdown's options are tags) refused that write, 422 RecordInvalid,
    and the customer's message with it. The user is made again without that field, named in the log; the ticket
    lands on it, with the identity, as a join's does."""
    stack = Stack(tmp_path, helpdesk="zendesk", salesforce={})
    tier = stack.zendesk.add_user_field("crm_tier", "dropdown", options=["enterprise", "smb"])
    stack.salesforce_options = {"user_fields": {"name": stack.zendesk.add_user_field("crm_name"), "account_type": tier}}
    with stack:
        assert stack.salesforce is not None
        globex = stack.salesforce.add_account("Globex", Type="Enterprise")
        hank = stack.salesforce.add_contact("Hank Scorpio", Email="hank@globex.example", AccountId=globex)
        persona(stack, "8108", hank)
        mark = len(stack.helpdesk.calls)
        ticket = comment(stack, "8108", "first time here")
        settle(stack)
        user = users(stack)[f"salesforce:{hank}"]
        assert ticket["requester_id"] == user["id"] and identity_of(stack, user["id"]) == ["facebook:8108"]
        assert user["user_fields"] == {"crm_tier": None, "crm_name": "Hank Scorpio"}
        assert helpdesk_calls(stack, mark) == [  # the refused write, then the user without the field
            "POST /api/v2/users/create_or_update.json",
            *UNSYNCED_JOIN_CALLS["zendesk"],
        ]
        [row] = joins(stack)
        assert row["action"] == "joined" and row["user_id"] == str(user["id"])
    [said] = [r.getMessage() for r in caplog.records if "crm_tier" in r.getMessage()]
    assert said.endswith(" written without user field crm_tier: zendesk refused the CRM's value"), said


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_sync_contacts_names_a_mapped_user_field_the_helpdesk_does_not_have(tmp_path: Path, helpdesk: str) -> None:
    """A user field mapped in ``[salesforce] user_fields`` that the helpdesk does not have: Zendesk drops it without a
    word, so `socialdesk sync-contacts` said "created 1" and exit 0 of a value that went nowhere (only doctor told);
    Freshdesk refused each write naming it, written again without it, one warning per Contact. The sync now looks
    at the helpdesk's user fields once, leaves that one out, and says so once, naming the key; the others go."""
    stack = Stack(tmp_path, helpdesk=helpdesk, salesforce={}, start_worker=False)
    kept = stack.helpdesk.add_user_field("crm_account")
    stack.salesforce_options = {"user_fields": {"account_name": kept, "account_type": "crm_tier_gone"}}
    with stack:
        assert stack.salesforce is not None
        globex = stack.salesforce.add_account("Globex", Type="Enterprise")
        hank = stack.salesforce.add_contact("Hank Scorpio", Email="hank@globex.example", AccountId=globex)
        config = stack.write_config(tmp_path / "socialdesk.toml")
        run = socialdesk("sync-contacts", "--config", str(config))
        creates = [c for c in stack.helpdesk.calls if c.method == "POST" and c.path.startswith("/api/v2/contacts")]
        user = users(stack)[f"salesforce:{hank}"]
    assert run.returncode == 0 and "created 1," in run.stdout, run.stdout + run.stderr
    said = (f"salesforce.user_fields.account_type: {helpdesk} has no user field 'crm_tier_gone': left out of every "
            f"user this run (create it in {helpdesk}, or correct the key; `socialdesk doctor` checks every mapped "
            "field)")  # fmt: skip
    [line] = [line for line in run.stderr.splitlines() if "crm_tier_gone" in line]
    assert line.endswith(f" WARNING bridge.sync: {said}"), run.stderr
    assert (user.get("user_fields" if helpdesk == "zendesk" else "custom_fields") or {}).get(kept) == "Globex"
    assert helpdesk == "zendesk" or len(creates) == 1  # Freshdesk: one create, not a refused one and another


def test_a_synced_user_deleted_since_is_found_again_by_its_key_one_user_one_ticket(tmp_path: Path) -> None:
    """The user the store remembers for the Contact is gone (permanently deleted in Zendesk): the identity's 404
    makes the join forget it and find or make the user by its key, as before the sync remembered users."""
    with Stack(tmp_path, helpdesk="zendesk", salesforce={}) as stack:
        hank = contact(stack)
        persona(stack, "8111", hank)
        gone = synced(stack)[f"salesforce:{hank}"]["id"]
        stack.zendesk.delete_user_permanently(gone)
        mark = len(stack.helpdesk.calls)
        ticket = comment(stack, "8111", "still there?")
        settle(stack)
        user = users(stack)[f"salesforce:{hank}"]
        assert user["id"] != gone and ticket["requester_id"] == user["id"]
        assert [u["id"] for u in stack.helpdesk.users if u["role"] == "end-user"] == [user["id"]]
        assert len(tickets(stack)) == 1 and identity_of(stack, user["id"]) == ["facebook:8111"]
        assert helpdesk_calls(stack, mark) == [
            "POST /api/v2/users/N/identities.json",  # 404: no such user
            *UNSYNCED_JOIN_CALLS["zendesk"],
        ]
        assert stack.store.identity(f"zendesk:salesforce:{hank}") == str(user["id"])  # remembered again
        [row] = joins(stack)
        assert (row["action"], row["user_id"]) == ("joined", str(user["id"]))


@pytest.mark.parametrize("shared", [False, True], ids=["one contact", "two contacts"])
def test_a_phone_two_contacts_share_joins_neither(tmp_path: Path, shared: bool) -> None:
    """WhatsApp's number matched to a Contact's Phone: the customer's own (one Contact), or a line two Contacts
    share (a switchboard, a household), where picking one would be a guess: a social user, no join."""
    with Stack(tmp_path, helpdesk="zendesk", salesforce={}, platforms=("whatsapp",)) as stack:
        assert stack.salesforce is not None
        hank = stack.salesforce.add_contact("Hank Scorpio", Phone="+44 7700 900555")
        if shared:
            stack.salesforce.add_contact("Frank Grimes", Phone="+447700900555")
        stack.meta.whatsapp_message(WA_PHONE_ID, wa_id="447700900555", name="Hank", text="hi")
        ticket = stack.wait_for(lambda: tickets(stack) and tickets(stack)[0])
        settle(stack)
        joined = users(stack).get(f"salesforce:{hank}")
        if shared:
            assert ticket["requester_id"] == users(stack)["whatsapp:447700900555"]["id"] and joins(stack) == []
        else:
            assert joined is not None and ticket["requester_id"] == joined["id"]
            assert [r["action"] for r in joins(stack)] == ["joined"]


@pytest.mark.parametrize("stack", ["zendesk"], indirect=True)
def test_a_user_socialdesk_did_not_make_is_linked_not_merged(stack: Stack) -> None:
    """The identity's remembered user is one Zendesk had before (an own channel's author matched by email, say):
    merging would fold someone's account into the Contact's for good. Only the identity's own user is merged."""
    hank = contact(stack)
    synced_user = synced(stack)[f"salesforce:{hank}"]
    desk = step_runtime(stack).helpdesk
    assert isinstance(desk, ZendeskHelpdesk)
    lisa = desk.api("POST", "/api/v2/users/create_or_update.json", {"user": {"name": "Lisa", "email": "l@x.example"}})
    lisa = lisa["user"]
    stack.store.remember_identity("zendesk:facebook:8109", str(lisa["id"]))
    persona(stack, "8109", hank)
    ticket = comment(stack, "8109", "it's me")
    settle(stack)
    assert ticket["requester_id"] == synced_user["id"]
    [row] = joins(stack)
    assert row["action"] == "linked" and "not socialdesk's user for the facebook identity" in row["reason"]
    assert stack.zendesk.user(lisa["id"])["active"] is True


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_a_whatsapp_join_records_and_logs_no_phone_number(
    tmp_path: Path, helpdesk: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The join's reason said the identity with its value ('phone_number identity 447700900555 attached'): stored
    in user_joins, logged, shown by socialdesk status. Now the identity's type, and the key with its pseudonym."""
    caplog.set_level(logging.INFO)
    with Stack(tmp_path, helpdesk=helpdesk, salesforce={}, platforms=("whatsapp",)) as stack:
        assert stack.salesforce is not None
        stack.salesforce.add_contact("Hank Scorpio", Phone="+44 7700 900555")
        stack.meta.whatsapp_message(WA_PHONE_ID, wa_id="447700900555", name="Hank", text="hi")
        stack.wait_for(lambda: tickets(stack))
        settle(stack)
        [row] = joins(stack)
        shown = "\n".join(status.render(status.report(stack.config, stack.store)))
    assert row["action"] == "joined" and "phone" in row["reason"] and "7700900555" not in row["reason"]
    assert "joined: Salesforce Contact" in shown and "7700900555" not in shown
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "bridge.joins")
    assert "joined: user" in logged and "7700900555" not in logged  # every line: test_e2e_log_privacy
