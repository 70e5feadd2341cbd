"""The demo's approval round trip: a reply under a crisis post waits for an approver, then goes out once.

The rule (:data:`RULE`, one of the demo's ``[[rules]]``) marks the comments on one post: an agent's reply
there is held (an internal note says so, nothing is posted); the agent's own approval is refused (Zendesk's
audits say who added the tag); another agent applies the macro "Approve social reply" (which adds the tag
``socialdesk_approve``), the helpdesk calls the bridge, and the reply is posted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.stack import PAGE_ID, Stack

Echo = Callable[[str], None]

CRISIS_POST = f"{PAGE_ID}_9001"
RULE: dict[str, Any] = {"name": "crisis-post", "when": {"post": CRISIS_POST}, "then": {"approval": True}}
COMMENT = "Your app has been down all morning. Is anyone there?"
REPLY = "We are sorry: the outage is fixed since 11:20, and we are checking every order placed this morning."


def approval(stack: Stack, echo: Echo) -> tuple[bool, str]:
    echo("\n8. Approvals: a reply under a crisis post waits for an approver")
    echo(f"   rule {RULE['name']}: when {RULE['when']} then {RULE['then']}")
    stack.meta.add_post(PAGE_ID, "Service update: our app is down, we are on it", post_id=CRISIS_POST)
    known = {t["id"] for t in stack.helpdesk.tickets}
    comment = stack.meta.customer_comment(PAGE_ID, post_id=CRISIS_POST, text=COMMENT, user_id="7700555",
                                          user_name="Lee Park")  # fmt: skip
    echo(f"   Lee comments under it: {COMMENT!r}")
    try:
        ticket = stack.wait_for(lambda: next((t for t in stack.helpdesk.tickets if t["id"] not in known), None))
        stack.wait_for(stack.idle)
        stack.helpdesk.agent_comment(ticket["id"], REPLY, public=True)
        stack.helpdesk.fire_webhook(ticket["id"])
        held = stack.wait_for(lambda: [n for n in _notes(stack, ticket) if "waiting for approval" in n])
        posted_before = _replies(stack, comment.comment_id)
        echo(f"   the agent answers; on ticket #{ticket['id']}, an internal note: {held[0].splitlines()[0]!r}")
        if stack.helpdesk is stack.zendesk:  # Freshdesk's API does not say who added a tag (README, Approvals)
            _approve(stack, ticket, None)  # the agent who wrote it
            refused = stack.wait_for(lambda: [n for n in _notes(stack, ticket) if n.startswith("socialdesk ignored")])
            echo(f"   the agent approves their own reply: refused, a note says {refused[0]!r}")
        echo("   a supervisor applies the macro “Approve social reply” (tag socialdesk_approve)")
        _approve(stack, ticket, stack.helpdesk.add_agent("Sam Supervisor", "sam.supervisor@socialdesk.test"))
        posted = stack.wait_for(lambda: _replies(stack, comment.comment_id))
        stack.wait_for(stack.idle)
    except TimeoutError:
        return False, "the approval round trip did not finish within 30 s (run with --verbose to see why)"
    echo(f"   posted under Lee's comment: {posted[0]!r}")
    ok = posted_before == [] and _replies(stack, comment.comment_id) == [REPLY]
    return ok, "the reply under the crisis post waited for approval, then went out once"


def _approve(stack: Stack, ticket: dict[str, Any], by: int | None) -> None:
    stack.helpdesk.add_tags(ticket["id"], "socialdesk_approve", author_id=by)
    stack.helpdesk.fire_webhook(ticket["id"], style="trigger")


def _replies(stack: Stack, comment_id: str) -> list[str]:
    return [str(r["message"]) for r in stack.meta.comment_replies if r["parent_id"] == comment_id]


def _notes(stack: Stack, ticket: dict[str, Any]) -> list[str]:
    return [str(c["body"]) for c in stack.helpdesk.comments(ticket["id"]) if not c["public"]]
