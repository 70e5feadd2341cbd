"""A remembered helpdesk user deleted since (by an agent; on Zendesk, without the user-events webhook to tell the
bridge): the next new thread's ticket create is refused for its requester, the user is forgotten and the event
retried on a live user, never a dead letter. Both helpdesk simulators, real clients over sockets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.base import Fault
from sandbox.stack import HELPDESKS, PAGE_ID, Stack
from tests.support import settle, tickets


@pytest.fixture(params=HELPDESKS)
def stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    with Stack(tmp_path, helpdesk=request.param) as running:
        yield running


def comment(stack: Stack, user_id: str, text: str) -> dict[str, Any]:
    """A comment on a new post: a new thread, so a new ticket, for the remembered user."""
    before = len(tickets(stack))
    stack.meta.customer_comment(PAGE_ID, text=text, user_id=user_id, user_name="Hank S.")
    ticket = stack.wait_for(lambda: len(tickets(stack)) > before and tickets(stack)[-1], timeout=40)
    settle(stack)
    return ticket  # type: ignore[no-any-return]


#: Each helpdesk's refusal of a ticket's requester, as its simulator answers a deleted one (the bodies of
#: sandbox/zendesk/wire.py ``record_invalid`` and sandbox/freshdesk/wire.py ``error``).
REFUSALS: dict[str, tuple[int, dict[str, Any]]] = {
    "zendesk": (422, {"error": "RecordInvalid", "description": "Record validation errors",
                      "details": {"requester": [{"description": "Requester: is invalid", "error": "InvalidValue"}]}}),
    "freshdesk": (400, {"description": "Validation failed", "errors": [
        {"field": "requester_id", "message": "There is no contact matching the given requester_id",
         "code": "invalid_value"}]}),
}  # fmt: skip


def delete_user(stack: Stack, user_id: int) -> None:
    """What an agent does in the helpdesk, with no word to the bridge (no user-events webhook is set up)."""
    if stack.helpdesk_name == "zendesk":
        stack.zendesk.delete_user_permanently(user_id)
    else:
        stack.freshdesk.delete_contact_permanently(user_id)


def test_a_deleted_remembered_user_is_forgotten_and_the_message_lands_on_a_live_one(stack: Stack) -> None:
    deleted = int(comment(stack, "8401", "hello")["requester_id"])
    assert stack.store.identity(f"{stack.helpdesk_name}:facebook:8401") == str(deleted)
    delete_user(stack, deleted)

    second = comment(stack, "8401", "anyone there?")
    live = int(second["requester_id"])
    assert live != deleted and any(int(u["id"]) == live for u in stack.helpdesk.users)
    assert len(tickets(stack)) == 2  # exactly one ticket more
    assert stack.store.identity(f"{stack.helpdesk_name}:facebook:8401") == str(live)
    assert stack.store.open_dead_letters() == []
    assert stack.store.counts("inbox") == {"done": 2}


def test_a_requester_refused_again_after_it_was_forgotten_is_a_dead_letter_saying_so(stack: Stack) -> None:
    """The guard against a loop: forgetting the user did not help (the same user found again, suspended, say)."""
    status, body = REFUSALS[stack.helpdesk_name]
    stack.helpdesk.inject(Fault(status, times=3, method="POST", path_prefix="/api/v2/tickets", body=body))
    stack.meta.customer_comment(PAGE_ID, text="hello?", user_id="8402", user_name="Hank S.")
    [letter] = stack.wait_for(lambda: stack.store.open_dead_letters(), timeout=40)
    assert "requester was refused twice" in letter["error"]
    calls = [(c.method, c.path.removesuffix(".json")) for c in stack.helpdesk.calls]
    creates = [c for c in calls if c == ("POST", "/api/v2/tickets")]
    assert len(creates) == 2 and tickets(stack) == []  # refused twice, not tried a third time
