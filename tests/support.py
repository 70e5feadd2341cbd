"""Helpers shared by the end-to-end tests (a running :class:`sandbox.stack.Stack`)."""

from __future__ import annotations

from sandbox.stack import Stack


def tickets(stack: Stack) -> list[dict]:
    return stack.helpdesk.tickets


def one_ticket(stack: Stack) -> dict:
    return stack.wait_for(lambda: len(tickets(stack)) == 1 and tickets(stack)[0])


def settle(stack: Stack, timeout: float = 40) -> None:
    """Wait until nothing is pending in the store and the simulator's echoes are delivered."""
    stack.meta.wait_for_webhooks(10)
    stack.wait_for(stack.idle, timeout=timeout)


def reply_and_notify(stack: Stack, ticket_id: int, body: str, *, style: str = "event") -> None:
    stack.helpdesk.agent_comment(ticket_id, body, public=True)
    stack.helpdesk.fire_webhook(ticket_id, style=style)  # type: ignore[arg-type]


def notes(stack: Stack, ticket_id: int) -> list[str]:
    return [c["body"] for c in stack.helpdesk.comments(ticket_id) if not c["public"]]


FRESHDESK_STATUSES = {2: "open", 3: "pending", 4: "solved", 5: "closed"}


def status_of(stack: Stack, ticket: dict) -> str:
    """A ticket's status by Zendesk's names, whichever helpdesk holds it."""
    status = ticket["status"]
    return FRESHDESK_STATUSES.get(status, str(status)) if isinstance(status, int) else str(status)


REQUESTER_PATHS = {"zendesk": "/api/v2/users/create_or_update", "freshdesk": "/api/v2/contacts"}


def requester_calls(stack: Stack) -> int:
    """How many calls so far looked up or created a requester (users / contacts)."""
    return sum(1 for c in stack.helpdesk.calls if any(p in c.path for p in REQUESTER_PATHS.values()))
