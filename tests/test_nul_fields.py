"""A NUL character in what a customer sends (PostgreSQL cannot store one in text) is cleaned out of every
stored field in one place, so that the message reaches the ticket instead of a dead letter; and an error
the store does raise is recorded by what failed, never with the row's values (customer data)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from sandbox.stack import Stack
from tests.support import one_ticket, settle


@pytest.fixture
def stack(tmp_path: Path, pg_url: str) -> Iterator[Stack]:
    with Stack(tmp_path, platforms=("generic",), database_url=pg_url) as running:
        yield running


def test_a_nul_in_any_field_reaches_the_ticket_without_it(stack: Stack) -> None:
    stack.web.customer_message(
        "My parcel\x00 never came.", thread_id="order-1", author_id="u-9", author_name="Lee\x00 Roe",
        reply_to="msg\x00-1", url="https://shop.example/orders/1\x00",
    )  # fmt: skip
    ticket = one_ticket(stack)
    settle(stack)
    assert stack.store.open_dead_letters() == []
    assert "My parcel never came." in stack.helpdesk.comments(ticket["id"])[0]["body"]
    assert stack.helpdesk.user(ticket["requester_id"])["name"] == "Lee Roe"
    [thread] = stack.store.rows("threads")
    assert thread["reply_to"] == "msg-1"


def test_a_database_error_is_dead_lettered_by_what_failed_not_with_the_row(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    """The store refuses the thread's row (here a constraint an operator added): the dead letter and the
    log say which check failed, never the SQL parameters or PostgreSQL's "Failing row contains (...)"."""
    with stack.store.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE threads ADD CONSTRAINT short_reply_to CHECK (length(reply_to) < 8)"))
    stack.web.customer_message(
        "My card 4111 is charged twice", thread_id="order-2", author_id="u-9", author_name="Lee Roe",
        reply_to="a-long-reply-target",
    )  # fmt: skip
    [letter] = stack.wait_for(stack.store.open_dead_letters)
    assert "short_reply_to" in letter["error"]
    assert "short_reply_to" in caplog.text
    for private in ("4111", "Lee Roe", "a-long-reply-target", "u-9"):
        assert private not in letter["error"] and private not in caplog.text
