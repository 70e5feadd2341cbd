"""A requester detail the helpdesk refuses (an email Zendesk and Freshdesk do not accept as one) degrades:
the requester is made without it and the value stays on the ticket; it never costs the customer's message
(it was dead-lettered, and `replay` failed the same way)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.stack import Stack
from tests.support import one_ticket, settle

EMAILS = ["lee@gmail", "lee@example.com\r\nBcc: all@example.com"]


@pytest.fixture(params=["zendesk", "freshdesk"])
def stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    with Stack(tmp_path, helpdesk=request.param, platforms=("generic",)) as running:
        yield running


@pytest.mark.parametrize("email", EMAILS, ids=["no-dot", "crlf"])
def test_a_refused_email_is_kept_on_the_ticket_and_the_message_delivered(stack: Stack, email: str) -> None:
    stack.web.customer_message("Where is my parcel?", thread_id="order-7", author_id="u-7", author_name="Lee",
                               email=email, phone="+4930123456")  # fmt: skip
    ticket = one_ticket(stack)
    settle(stack)
    assert stack.store.open_dead_letters() == []
    body = stack.helpdesk.comments(ticket["id"])[0]["body"]
    assert "Where is my parcel?" in body and repr(email) in body
    requester = stack.helpdesk.user(ticket["requester_id"])
    assert requester["name"] == "Lee" and not requester.get("email")
    assert requester["phone"] == "+4930123456"  # only what was refused is left out

    stack.web.customer_message("Any news?", thread_id="order-7", author_id="u-7", author_name="Lee", email=email)
    stack.wait_for(lambda: len(stack.helpdesk.comments(ticket["id"])) == 2)
    assert len(stack.helpdesk.tickets) == 1 and stack.store.open_dead_letters() == []
