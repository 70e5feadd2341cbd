"""bridge.joins' decisions, as pure functions: what a new thread's CRM answer means for the identity's user."""

from __future__ import annotations

import pytest

from bridge.enrich import Lookup
from bridge.joins import Step, contact_of, decide


def found(contact_id: str = "003A", *, matched_by: str = "persona", object_type: str = "Contact") -> Lookup:
    return Lookup("found", {"id": contact_id, "object_type": object_type, "matched_by": matched_by, "name": "Hank"})


@pytest.mark.parametrize("how", ["persona", "email", "phone", "handle"])
def test_something_the_customer_owns_identifies_the_contact(how: str) -> None:
    contact = contact_of(found(matched_by=how))
    assert contact is not None and (contact.id, contact.matched_by) == ("003A", how)


@pytest.mark.parametrize(
    "lookup",
    [
        found(matched_by="name"),  # a name alone never joins
        Lookup("found", {"id": "003A", "object_type": "Contact", "matched_by": "phone", "also_matched": "1"}),
        found(matched_by=""),
        found("00QA", object_type="Lead"),  # sync-contacts makes users of Contacts only
        found("001A", object_type="Account"),
        Lookup("none", {}),
        Lookup("unavailable", {}, "down"),
        None,
    ],
    ids=["name", "a phone two contacts share", "no match kind", "lead", "account", "nobody", "crm down", "no crm"],
)
def test_anything_else_identifies_no_contact(lookup: Lookup | None) -> None:
    assert contact_of(lookup) is None


@pytest.mark.parametrize(
    ("joined_to", "lookup", "step"),
    [
        (None, found(), Step.JOIN),
        ("003A", found(), Step.AS_BEFORE),
        ("003A", found("003B"), Step.MOVE),  # the persona moved to another Contact
        ("003A", Lookup("none", {}), Step.UNDO),  # ... or to nobody
        ("003A", found("00QA", object_type="Lead"), Step.UNDO),
        ("003A", found(matched_by="name"), Step.UNDO),
        ("003A", Lookup("unavailable", {}, "down"), Step.AS_BEFORE),  # no news is no contradiction
        ("003A", None, Step.AS_BEFORE),  # a follow-up asks the CRM nothing
        (None, found(matched_by="name"), Step.AS_BEFORE),
        (None, Lookup("none", {}), Step.AS_BEFORE),
    ],
)
def test_decide(joined_to: str | None, lookup: Lookup | None, step: Step) -> None:
    assert decide(joined_to, lookup) is step
