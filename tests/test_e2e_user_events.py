"""Zendesk user events, end to end: an agent merges or deletes a user socialdesk remembers (a synced Contact's, a
social identity's), Zendesk's simulator sends the signed event to the webhook ``setup zendesk`` made, and the
customer's next message goes to a live user, never to the merged or deleted one. Real clients over sockets."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from bridge.errors import BridgeError
from bridge.registry import build_helpdesk
from bridge.setup import setup_zendesk, zendesk_setup_state
from connectors.zendesk import ZendeskHelpdesk
from connectors.zendesk_setup import USER_EVENTS, setup
from sandbox.stack import PAGE_ID, Stack
from tests.support import settle, tickets
from webhooks.signatures import sign_zendesk


def _agent(stack: Stack) -> ZendeskHelpdesk:
    helpdesk = build_helpdesk(stack.config)
    assert isinstance(helpdesk, ZendeskHelpdesk)
    return helpdesk


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """Zendesk and Salesforce, set up by ``socialdesk setup zendesk``'s own function: the user-events webhook made,
    and its signing secret (its own: not the configured ticket webhook's) stored in the bridge's database."""
    with Stack(tmp_path, helpdesk="zendesk", salesforce={"cache_ttl": 0}) as running:
        setup_zendesk(running.config, running.store, echo=lambda _: None, dry_run=False, public_url=running.url)
        yield running


def comment(stack: Stack, user_id: str, text: str) -> dict[str, Any]:
    """A comment on a new post: a new thread, so a new ticket, whose requester the bridge chooses again."""
    before = len(tickets(stack))
    stack.meta.customer_comment(PAGE_ID, text=text, user_id=user_id, user_name="Hank S.")
    ticket = stack.wait_for(lambda: len(tickets(stack)) > before and tickets(stack)[-1])
    settle(stack)
    return ticket  # type: ignore[no-any-return]


def end_user(stack: Stack, name: str, email: str) -> int:
    """A user an agent made by hand (the duplicate a remembered user is merged into)."""
    user = {"name": name, "email": email, "role": "end-user"}
    return int(_agent(stack).api("POST", "/api/v2/users/create_or_update.json", {"user": user})["user"]["id"])


def merge(stack: Stack, source: int, target: int) -> None:
    """What an agent does with Merge End Users, through the API; then Zendesk's user.merged event is delivered."""
    _agent(stack).api("PUT", f"/api/v2/users/{source}/merge.json", {"user": {"id": target}})
    assert ("zen:event-type:user.merged", str(source), 200) in stack.zendesk.wait_user_events()


def live(stack: Stack, user_id: int) -> bool:
    return bool(stack.helpdesk.user(user_id)["active"])


def test_setup_subscribes_a_second_webhook_to_the_user_events_idempotently(stack: Stack) -> None:
    tickets_hook, users_hook = stack.zendesk.webhooks
    assert tickets_hook["subscriptions"] == ["conditional_ticket_events"]
    assert users_hook["subscriptions"] == list(USER_EVENTS) and users_hook["endpoint"] == tickets_hook["endpoint"]
    again = setup(_agent(stack), f"{stack.url}/webhooks/zendesk")
    assert len(stack.zendesk.webhooks) == 2 and all("would" not in a and "create" not in a for a in again.actions)
    assert again.signing_secret and again.user_signing_secret and again.user_signing_secret != again.signing_secret
    assert again.signing_secret not in repr(again) and again.user_signing_secret not in repr(again)
    config = replace(stack.config, public_url=stack.url)
    assert "user-events webhook" in zendesk_setup_state(config)  # doctor's line
    _agent(stack).api("DELETE", f"/api/v2/webhooks/{users_hook['id']}")
    with pytest.raises(BridgeError, match="create webhook 'socialdesk users'"):
        zendesk_setup_state(config)  # doctor reports it missing


def test_a_synced_contacts_user_merged_by_an_agent_gets_no_more_tickets_the_survivor_does(stack: Stack) -> None:
    assert stack.salesforce is not None
    hank = stack.salesforce.add_contact("Hank Scorpio", Email="hank@globex.example")
    stack.salesforce.add_persona(provider="Facebook", external_id="8301", parent_id=hank, name="hank")
    first = comment(stack, "8301", "Where is my doomsday device?")
    merged = int(first["requester_id"])
    assert stack.helpdesk.user(merged)["external_id"] == f"salesforce:{hank}"  # the Contact's user, remembered
    survivor = end_user(stack, "Hank (old account)", "h.scorpio@globex.example")

    merge(stack, merged, survivor)
    assert stack.store.identity(f"zendesk:salesforce:{hank}") is None  # forgotten: Zendesk soft-deleted it
    assert stack.store.identity("zendesk:facebook:8301") is None

    second = comment(stack, "8301", "Hello again??")
    assert second["requester_id"] == survivor and not live(stack, merged)
    assert len(tickets(stack)) == 2  # exactly one ticket more
    assert stack.store.identity(f"zendesk:salesforce:{hank}") == str(survivor)  # found by its email, remembered


def test_a_social_identitys_user_merged_by_an_agent_gets_no_more_tickets(tmp_path: Path) -> None:
    """No CRM: the identity's own user (external id facebook:<id>) merged into an agent's duplicate. A merge
    drops the merged user's external id and non-email identities, so the next message makes a live user by its
    key (the payload we could verify names no survivor to re-point to)."""
    with Stack(tmp_path, helpdesk="zendesk") as stack:
        setup_zendesk(stack.config, stack.store, echo=lambda _: None, dry_run=False, public_url=stack.url)
        merged = int(comment(stack, "8302", "my order?")["requester_id"])
        assert stack.store.identity("zendesk:facebook:8302") == str(merged)
        merge(stack, merged, end_user(stack, "Duplicate", "dup@example.org"))
        assert stack.store.identity("zendesk:facebook:8302") is None

        second = comment(stack, "8302", "still waiting")
        assert second["requester_id"] != merged and live(stack, second["requester_id"])
        assert len(tickets(stack)) == 2
        assert stack.store.identity("zendesk:facebook:8302") == str(second["requester_id"])


def test_a_deleted_user_gets_no_more_tickets_the_next_message_makes_a_live_one(stack: Stack) -> None:
    deleted = int(comment(stack, "8303", "hello")["requester_id"])
    _agent(stack).api("DELETE", f"/api/v2/users/{deleted}.json")
    assert ("zen:event-type:user.deleted", str(deleted), 200) in stack.zendesk.wait_user_events()
    assert stack.store.identity("zendesk:facebook:8303") is None

    second = comment(stack, "8303", "anyone?")
    assert second["requester_id"] != deleted and live(stack, second["requester_id"])
    assert len(tickets(stack)) == 2


def signed_post(stack: Stack, body: dict[str, Any], *, secret: str | None = None) -> requests.Response:
    raw = json.dumps(body).encode()
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    signature = sign_zendesk(raw, stamp, secret or stack.zendesk.webhook_secret)
    headers = {"Content-Type": "application/json", "X-Zendesk-Webhook-Signature-Timestamp": stamp,
               "X-Zendesk-Webhook-Signature": signature}  # fmt: skip
    return requests.post(f"{stack.url}/webhooks/zendesk", data=raw, headers=headers, timeout=10)


def user_event(event_type: str, user_id: str, event: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"account_id": 1, "detail": {"id": user_id, "role": "end-user"}, "event": event or {}, "id": "01H",
            "subject": f"zen:user:{user_id}", "time": "2026-12-06T20:00:00Z", "type": event_type,
            "zendesk_event_version": "2022-11-06"}  # fmt: skip


def test_a_user_event_with_a_bad_signature_is_refused_and_forgets_nothing(stack: Stack) -> None:
    stack.store.remember_identity("zendesk:facebook:8304", "4242")
    answer = signed_post(stack, user_event("zen:event-type:user.merged", "4242"), secret="not-the-secret")
    assert answer.status_code == 401 and answer.json() == {"error": "invalid signature"}
    assert stack.store.identity("zendesk:facebook:8304") == "4242"


@pytest.mark.parametrize(
    ("event_type", "event", "reason"),
    [
        ("zen:event-type:user.name_changed", {"current": "Hank", "previous": "H"}, "zendesk user.name_changed"),
        ("zen:event-type:user.active_changed", {"current": True, "previous": False}, "zendesk user made active"),
    ],
)
def test_a_user_event_that_retires_no_user_is_ignored_with_its_reason(
    stack: Stack, event_type: str, event: dict[str, Any], reason: str
) -> None:
    stack.store.remember_identity("zendesk:facebook:8305", "4343")
    answer = signed_post(stack, user_event(event_type, "4343", event))
    assert answer.status_code == 200 and answer.json()["ignored"] is True and reason in answer.json()["reason"]
    assert stack.store.identity("zendesk:facebook:8305") == "4343"


def test_a_user_made_inactive_is_forgotten_and_a_user_event_without_a_user_is_a_400(stack: Stack) -> None:
    stack.store.remember_identity("zendesk:facebook:8306", "4444")
    stack.store.remember_identity("zendesk:salesforce:003X", "4444")
    gone = signed_post(stack, user_event("zen:event-type:user.active_changed", "4444", {"current": False}))
    assert gone.status_code == 200 and gone.json()["forgotten"] == 2
    assert stack.store.identities_of(["zendesk:facebook:8306", "zendesk:salesforce:003X"]) == {}
    bad = signed_post(stack, {**user_event("zen:event-type:user.deleted", "x"), "detail": {}})
    assert bad.status_code == 400 and "user id" in bad.json()["error"]
