"""The marks a retry looks for after a lost answer (:func:`bridge.messages.holds_mark`), and what a customer's edit
or removal is called in its note (:func:`bridge.messages.where`). Pure: no helpdesk."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bridge import messages
from bridge.events import Author, SocialEvent

MARK = "ref: telegram/12"

HOLDS = [
    # a mark ends its line: the text's end, a line break (Zendesk's body, Freshdesk's body_text), blanks before it
    ("the text's end", f"hi\n\n— Telegram message via socialdesk (acme-telegram)\n{MARK}", True),
    ("a line break", f"{MARK}\nmore", True),
    ("a CR LF", f"{MARK}\r\nmore", True),
    ("blanks, then the end", f"{MARK}  ", True),
    ("a no-break space, then a line break", f"{MARK}\u00a0\nmore", True),
    ("a tag left in the plain text", f"<div>{MARK}</div>", True),
    ("the mark alone", MARK, True),
    ("a longer one later, then its own", f"ref: telegram/123\n{MARK}", True),
    # anything that could continue an id makes it the start of a longer mark
    ("a digit", "ref: telegram/123", False),
    ("a letter", "ref: telegram/12a", False),
    ("an underscore", "ref: telegram/12_3", False),
    ("a hyphen", "ref: telegram/12-3", False),
    ("a dot", "ref: telegram/12.3", False),
    ("a colon", "ref: telegram/12:3", False),
    ("a hash", "ref: telegram/12#edit1", False),
    ("a slash", "ref: telegram/12/3", False),
    ("an equals sign", "ref: telegram/12=", False),
    ("a space and more", "ref: telegram/12 b", False),
    ("nowhere", "hello", False),
    ("another platform's", "ref: generic/12", False),
]


@pytest.mark.parametrize(("case", "text", "held"), HOLDS, ids=[case for case, _, _ in HOLDS])
def test_a_mark_is_held_only_where_its_line_ends(case: str, text: str, held: bool) -> None:
    assert messages.holds_mark(text, MARK) is held, case


def test_every_mark_the_bridge_writes_is_held_by_what_it_is_written_in_and_not_by_a_longer_ones() -> None:
    """The customer's words, an edit's note, and the CRM note's first line, as the bridge writes them; the mark of
    a message whose id is a prefix of theirs is not held."""
    twelve, longer = _event(message_id="12"), _event(message_id="123")
    crm = "Salesforce Contact: Jane Doe — Buyer\nOpen cases: 0"
    assert messages.holds_mark(messages.customer_body(twelve), messages.reference(twelve))
    assert not messages.holds_mark(messages.customer_body(longer), messages.reference(twelve))
    assert messages.holds_mark(messages.change_note(twelve), messages.change_reference(twelve))
    assert messages.holds_mark(crm, crm.splitlines()[0])
    assert not messages.holds_mark(crm, "Salesforce Contact: Jane Doe")


def test_a_mark_with_pattern_characters_is_taken_as_written() -> None:
    mark = "ref: generic/a.b*(c)"
    assert messages.holds_mark(f"x\n{mark}", mark)
    assert not messages.holds_mark("x\nref: generic/aXb*(c)", mark)


WHERE = [
    ("a comment", {"kind": "comment"}, "Facebook comment"),
    ("a comment's edit", {"kind": "edit", "extra": {"edited_kind": "comment", "original_id": "1_2"}},
     "Facebook comment"),
    ("a comment's removal", {"kind": "remove"}, "Facebook comment"),
    ("a visitor post's removal", {"kind": "remove", "thread_id": "post:1_9"}, "Facebook comment"),
    ("a Messenger message's edit", {"kind": "edit", "thread_id": "messenger:77",
                                    "extra": {"edited_kind": "message"}}, "Messenger message"),
    ("an Instagram DM's edit", {"platform": "instagram", "kind": "edit", "thread_id": "dm:5",
                                "extra": {"edited_kind": "message"}}, "Instagram message"),
    ("a Telegram message's edit", {"platform": "telegram", "kind": "edit", "thread_id": "chat:5"},
     "Telegram message"),
    ("a WhatsApp message's removal", {"platform": "whatsapp", "kind": "remove", "thread_id": "chat:155"},
     "WhatsApp message"),
    ("an X post's removal", {"platform": "x", "kind": "remove", "thread_id": "post:100"}, "X post"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "changes", "named"), WHERE, ids=[case for case, _, _ in WHERE])
def test_an_edit_or_a_removal_is_named_as_what_it_changes(case: str, changes: dict[str, object], named: str) -> None:
    assert messages.where(replace(_event(), **changes)) == named, case  # type: ignore[arg-type]


def _event(message_id: str = "1_2") -> SocialEvent:
    return SocialEvent(
        platform="facebook", channel="acme-facebook", account_id="1", message_id=message_id,
        thread_id="comment:1_2", kind="comment", author=Author(id="9", name="Bea"), text="Soup vegan?",
        created_at=datetime(2026, 12, 6, tzinfo=UTC), reply_to="1_2",
    )  # fmt: skip


def test_freshdesk_finds_a_mark_by_its_html_lines_whatever_body_text_joins_them_with() -> None:
    """Freshdesk documents no rule for how ``body_text`` joins a note's ``<div>`` lines: joined by a space, the CRM
    note's first line runs into the next one and is not held there; the HTML the bridge wrote still has the line."""
    from connectors.freshdesk.helpdesk import _holds, to_html

    crm = "Salesforce Contact: Jane Doe — Buyer\nOpen cases: 0"
    note = {"body": to_html(crm), "body_text": crm.replace("\n", " ")}
    first = crm.splitlines()[0]
    assert not messages.holds_mark(str(note["body_text"]), first)
    assert _holds(note, "body_text", "body", first)
    assert not _holds(note, "body_text", "body", "Salesforce Contact: Jane Doe")
