"""Helpers shared by the end-to-end tests (a running :class:`sandbox.stack.Stack`)."""

from __future__ import annotations

from sandbox.stack import Stack


def tickets(stack: Stack) -> list[dict]:
    return stack.zendesk.tickets


def one_ticket(stack: Stack) -> dict:
    return stack.wait_for(lambda: len(tickets(stack)) == 1 and tickets(stack)[0])


def settle(stack: Stack, timeout: float = 20) -> None:
    """Wait until nothing is pending in the store and the simulator's echoes are delivered."""
    stack.meta.wait_for_webhooks(10)
    stack.wait_for(stack.idle, timeout=timeout)


def reply_and_notify(stack: Stack, ticket_id: int, body: str, *, style: str = "event") -> None:
    stack.zendesk.agent_comment(ticket_id, body, public=True)
    stack.zendesk.fire_webhook(ticket_id, style=style)  # type: ignore[arg-type]


def notes(stack: Stack, ticket_id: int) -> list[str]:
    return [c["body"] for c in stack.zendesk.comments(ticket_id) if not c["public"]]
