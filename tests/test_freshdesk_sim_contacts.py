"""The Freshdesk simulator's contact fields that hold social identities and extra emails: shapes and
uniqueness on create and update (sandbox/freshdesk/records.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.freshdesk import FreshdeskSimulator

KEY = "fd-key-for-tests"


@pytest.fixture
def sim() -> Iterator[FreshdeskSimulator]:
    with FreshdeskSimulator(api_key=KEY, webhook_secret="s") as simulator:
        yield simulator


@pytest.fixture
def api() -> requests.Session:
    session = requests.Session()
    session.auth = (KEY, "X")
    return session


def create(sim: FreshdeskSimulator, api: requests.Session, **fields: Any) -> requests.Response:
    return api.post(f"{sim.url}/api/v2/contacts", json=fields)


def update(sim: FreshdeskSimulator, api: requests.Session, contact_id: int, **fields: Any) -> requests.Response:
    return api.put(f"{sim.url}/api/v2/contacts/{contact_id}", json=fields)


def test_social_fields_are_strings_and_one_contacts(sim: FreshdeskSimulator, api: requests.Session) -> None:
    jane = create(sim, api, name="Jane", unique_external_id="salesforce:003A").json()["id"]
    joe = create(sim, api, name="Joe", unique_external_id="facebook:42", facebook_id="42").json()["id"]
    assert update(sim, api, jane, facebook_id=42).status_code == 400  # a number is no Facebook id here
    taken = update(sim, api, jane, facebook_id="42")
    assert taken.status_code == 409 and taken.json()["errors"][0]["additional_info"] == {"user_id": joe}
    assert update(sim, api, joe, facebook_id=None).status_code == 200  # cleared: free again
    assert update(sim, api, jane, facebook_id="42", twitter_id="jane").status_code == 200
    assert sim.user(jane)["facebook_id"] == "42"


@pytest.mark.parametrize(
    "other_emails",
    ["jane2@example.com", [1], ["not-an-email"], [f"j{i}@example.com" for i in range(10)]],
    ids=["not a list", "not strings", "malformed", "more than 9"],
)
def test_other_emails_are_a_short_list_of_addresses(
    sim: FreshdeskSimulator, api: requests.Session, other_emails: Any
) -> None:
    assert create(sim, api, name="Jane", email="jane@example.com", other_emails=other_emails).status_code == 400
    jane = create(sim, api, name="Jane", email="jane@example.com").json()["id"]
    assert update(sim, api, jane, other_emails=other_emails).status_code == 400


def test_an_email_is_one_contacts_whether_its_address_or_among_its_others(
    sim: FreshdeskSimulator, api: requests.Session
) -> None:
    jane = create(sim, api, name="Jane", email="jane@example.com", other_emails=["jd@example.com"]).json()["id"]
    assert create(sim, api, name="J", email="JD@example.com").status_code == 409
    joe = create(sim, api, name="Joe", email="joe@example.com").json()["id"]
    assert update(sim, api, joe, other_emails=["jane@example.com"]).status_code == 409
    assert update(sim, api, jane, other_emails=["jd@example.com", "jane.doe@example.com"]).status_code == 200


def test_an_update_leaves_a_contact_as_valid_as_a_new_one(sim: FreshdeskSimulator, api: requests.Session) -> None:
    """A malformed email, or no identifier left, is refused on update as on create; the contact is unchanged."""
    jane = create(sim, api, name="Jane", email="jane@example.com", phone="+351 21 000 0000").json()["id"]
    malformed = update(sim, api, jane, email="not-an-email")
    assert malformed.status_code == 400
    assert malformed.json()["errors"] == [create(sim, api, name="J", email="not-an-email").json()["errors"][0]]
    assert update(sim, api, jane, email=None).status_code == 200  # the phone is left
    bare = update(sim, api, jane, phone=None)
    assert (bare.status_code, bare.json()["errors"][0]["code"]) == (400, "missing_field")
    assert (sim.user(jane)["email"], sim.user(jane)["phone"]) == (None, "+351 21 000 0000")
    assert update(sim, api, jane, phone=None, email="jane@example.org").status_code == 200
