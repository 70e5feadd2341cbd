"""The Zendesk simulator's user identities, user updates and merges answer as the users reference says
(tests/fixtures/specs/zendesk_oas_split/users-openapi-original.yml; sandbox/zendesk/identities.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import pytest
import requests

from sandbox.zendesk import ZendeskSimulator

EMAIL, TOKEN = "bridge@acme.test", "zd-token-for-tests"


@pytest.fixture
def sim() -> Iterator[ZendeskSimulator]:
    simulator = ZendeskSimulator(email=EMAIL, api_token=TOKEN)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def api() -> requests.Session:
    session = requests.Session()
    session.auth = (f"{EMAIL}/token", TOKEN)
    return session


def user(sim: ZendeskSimulator, api: requests.Session, **fields: Any) -> int:
    response = api.post(f"{sim.url}/api/v2/users/create_or_update.json", json={"user": fields})
    assert response.status_code in (200, 201), response.text
    return int(response.json()["user"]["id"])


def identity(sim: ZendeskSimulator, api: requests.Session, user_id: int, kind: str, value: str) -> requests.Response:
    return api.post(
        f"{sim.url}/api/v2/users/{user_id}/identities.json", json={"identity": {"type": kind, "value": value}}
    )


def test_an_identity_is_created_listed_and_deleted(sim: ZendeskSimulator, api: requests.Session) -> None:
    jane = user(sim, api, name="Jane", external_id="salesforce:003A")
    created = identity(sim, api, jane, "facebook", "855769377321")
    assert created.status_code == 201 and created.headers["Location"].endswith(".json")
    body = created.json()["identity"]
    assert {k: body[k] for k in ("user_id", "type", "value", "primary")} == {
        "user_id": jane,
        "type": "facebook",
        "value": "855769377321",
        "primary": False,
    }
    listed = api.get(f"{sim.url}/api/v2/users/{jane}/identities.json").json()["identities"]
    assert [i["id"] for i in listed] == [body["id"]]
    assert api.delete(f"{sim.url}/api/v2/users/{jane}/identities/{body['id']}.json").status_code == 204
    assert api.get(f"{sim.url}/api/v2/users/{jane}/identities.json").json()["identities"] == []


@pytest.mark.parametrize("kind", ["any_channel", "foreign", "messaging", "sdk", "instagram"])
def test_types_the_create_endpoint_does_not_list_are_refused(
    sim: ZendeskSimulator, api: requests.Session, kind: str
) -> None:
    response = identity(sim, api, user(sim, api, name="Jane"), kind, "17841400000000042")
    assert response.status_code == 422 and response.json()["error"] == "RecordInvalid"


def test_a_value_is_one_users_and_an_email_identity_matches_the_user(
    sim: ZendeskSimulator, api: requests.Session
) -> None:
    jane, joe = user(sim, api, name="Jane"), user(sim, api, name="Joe", email="joe@example.com")
    assert identity(sim, api, jane, "twitter", "jane").status_code == 201
    taken = identity(sim, api, joe, "twitter", "JANE")
    assert taken.status_code == 422 and taken.json()["details"]["value"][0]["error"] == "DuplicateValue"
    assert identity(sim, api, jane, "email", "joe@example.com").status_code == 422  # Joe's address
    assert identity(sim, api, jane, "email", "jane@example.com").status_code == 201
    assert user(sim, api, name="Jane again", email="jane@example.com") == jane  # create_or_update matches it


def test_a_user_has_one_facebook_identity_only(sim: ZendeskSimulator, api: requests.Session) -> None:
    """Managing end users: "You can also add multiple phone numbers, Google accounts, and X (formerly Twitter)
    accounts. Note that you can only add one Facebook account." A second page's PSID is refused; a second number not."""
    jane = user(sim, api, name="Jane")
    assert identity(sim, api, jane, "facebook", "855769377321").status_code == 201

    second = identity(sim, api, jane, "facebook", "1254477777772919")

    assert second.status_code == 422 and second.json()["error"] == "RecordInvalid"
    assert identity(sim, api, jane, "phone_number", "+447700900555").status_code == 201
    assert identity(sim, api, jane, "phone_number", "+447700900556").status_code == 201
    assert [i["type"] for i in sim.identities_of(jane)] == ["facebook", "phone_number", "phone_number"]


def test_merge_moves_tickets_and_email_identities_and_loses_the_rest(
    sim: ZendeskSimulator, api: requests.Session
) -> None:
    social = user(sim, api, name="J", external_id="facebook:42", email="j@example.com")
    contact = user(sim, api, name="Jane", external_id="salesforce:003A")
    assert identity(sim, api, social, "facebook", "42").status_code == 201
    ticket = api.post(
        f"{sim.url}/api/v2/tickets.json", json={"ticket": {"requester_id": social, "comment": {"body": "hi"}}}
    ).json()["ticket"]
    merged = api.put(f"{sim.url}/api/v2/users/{social}/merge.json", json={"user": {"id": contact}})
    assert merged.status_code == 200 and merged.json()["user"]["id"] == contact
    assert sim.tickets[0]["id"] == ticket["id"] and sim.tickets[0]["requester_id"] == contact
    assert [(i["type"], i["value"]) for i in sim.identities_of(contact)] == [("email", "j@example.com")]
    assert sim.user(social)["active"] is False and sim.user(social)["external_id"] is None
    assert identity(sim, api, contact, "facebook", "42").status_code == 201  # the lost identity is free again


def test_agents_cannot_be_merged(sim: ZendeskSimulator, api: requests.Session) -> None:
    contact = user(sim, api, name="Jane", external_id="salesforce:003A")
    refused = api.put(f"{sim.url}/api/v2/users/{sim.agent_id}/merge.json", json={"user": {"id": contact}})
    assert refused.status_code == 422 and refused.json()["error"] == "RecordInvalid"
    into_agent = api.put(f"{sim.url}/api/v2/users/{contact}/merge.json", json={"user": {"id": sim.agent_id}})
    assert into_agent.status_code == 422
    assert api.put(f"{sim.url}/api/v2/users/{contact}/merge.json", json={"user": {"id": 1}}).status_code == 404


def test_update_user_sets_notes(sim: ZendeskSimulator, api: requests.Session) -> None:
    jane = user(sim, api, name="Jane")
    updated = api.put(f"{sim.url}/api/v2/users/{jane}.json", json={"user": {"notes": "VIP"}})
    assert updated.status_code == 200 and sim.user(jane)["notes"] == "VIP"
    bad = api.put(f"{sim.url}/api/v2/users/{jane}.json", json={"user": {"email": "jane@nowhere"}})
    assert bad.status_code == 422


@pytest.mark.parametrize(
    ("role", "restriction", "restricted"),
    [("admin", None, False), ("agent", None, False), ("agent", "groups", True), ("agent", "assigned", True),
     ("agent", "organization", True)],
)  # fmt: skip
def test_users_me_says_which_tickets_the_api_user_sees(
    role: Literal["admin", "agent"], restriction: Literal["groups", "assigned", "organization"] | None, restricted: bool
) -> None:
    """The Users API: ``restricted_agent`` is "false for admins and unrestricted agents, true for other agents";
    ``ticket_restriction`` is one of "organization", "groups", "assigned", "requested" or null."""
    with ZendeskSimulator(
        email=EMAIL, api_token=TOKEN, api_user_role=role, api_user_ticket_restriction=restriction
    ) as sim:
        me = requests.get(f"{sim.url}/api/v2/users/me.json", auth=(f"{EMAIL}/token", TOKEN)).json()["user"]
        jane = sim.user(sim.agent_id)

    assert (me["id"], me["role"], me["ticket_restriction"], me["restricted_agent"]) == (
        sim.api_user_id, role, restriction, restricted,
    )  # fmt: skip
    assert (jane["ticket_restriction"], jane["restricted_agent"]) == (None, False)  # another agent's own


@pytest.mark.parametrize(("role", "restriction"), [("admin", "groups"), ("agent", "requested"), ("agent", "all")])
def test_only_an_agent_can_be_restricted_and_only_as_zendesk_restricts_agents(role: str, restriction: str) -> None:
    with pytest.raises(ValueError, match="ticket restriction"):
        ZendeskSimulator(email=EMAIL, api_token=TOKEN, api_user_role=role, api_user_ticket_restriction=restriction)  # type: ignore[arg-type]


# -- user field values: what each type takes ("About custom field types"; sandbox/zendesk/fields.py) ---------------

#: (type, options or pattern, a value it takes, one it does not)
FIELD_VALUES: list[tuple[str, dict[str, Any], object, object]] = [
    ("dropdown", {"options": ["enterprise", "smb"]}, "enterprise", "Enterprise"),  # the option's tag, not its name
    ("integer", {}, "42", "4.2"),
    ("decimal", {}, "4.20", "four"),
    ("checkbox", {}, True, "maybe"),
    ("date", {}, "2026-01-05", "05/01/2026"),
    ("regexp", {"regexp": r"\A[A-Z]{2}-\d{4}\Z"}, "GB-1234", "gb-12"),
]


@pytest.mark.parametrize(("kind", "shape", "taken", "refused"), FIELD_VALUES, ids=[f[0] for f in FIELD_VALUES])
def test_a_user_field_takes_the_values_of_its_type_and_refuses_the_whole_write_otherwise(
    sim: ZendeskSimulator, api: requests.Session, kind: str, shape: dict[str, Any], taken: object, refused: object
) -> None:
    """A value the field's type does not take: 422 RecordInvalid naming the field (its title, and its key as
    ``field_key``), and nothing of the write is kept, neither the user's name nor its other fields."""
    key, note = sim.add_user_field("crm_value", kind, **shape), sim.add_user_field("crm_note")
    jane = user(sim, api, name="Jane", external_id="salesforce:003A", user_fields={key: taken, note: "first"})
    assert sim.user(jane)["user_fields"] == {key: taken, note: "first"}

    answer = api.post(
        f"{sim.url}/api/v2/users/create_or_update.json",
        json={
            "user": {
                "external_id": "salesforce:003A",
                "name": "Jane Renamed",
                "user_fields": {key: refused, note: "second"},
            }
        },
    )

    assert answer.status_code == 422, answer.text
    assert answer.json() == {
        "error": "RecordInvalid",
        "description": "Record validation errors",
        "details": {"base": [{"description": "Crm value: is invalid", "error": "InvalidValue", "field_key": key}]},
    }
    assert (sim.user(jane)["name"], sim.user(jane)["user_fields"]) == ("Jane", {key: taken, note: "first"})
    cleared = api.put(f"{sim.url}/api/v2/users/{jane}.json", json={"user": {"user_fields": {key: None}}})
    assert cleared.status_code == 200 and sim.user(jane)["user_fields"][key] is None  # null clears any field


def test_the_user_fields_list_shows_each_fields_type_options_and_pattern(
    sim: ZendeskSimulator, api: requests.Session
) -> None:
    """User Fields reference: ``custom_field_options`` (``name`` and ``value``) on a dropdown, and
    ``regexp_for_validation`` on every field, null but for a regexp field."""
    sim.add_user_field("crm_tier", "dropdown", options=["enterprise", "smb"])
    sim.add_user_field("crm_code", "regexp", regexp=r"\A\d+\Z")
    listed = {f["key"]: f for f in api.get(f"{sim.url}/api/v2/user_fields.json").json()["user_fields"]}
    tier, code = listed["crm_tier"], listed["crm_code"]
    assert (tier["type"], tier["regexp_for_validation"], code["type"]) == ("dropdown", None, "regexp")
    assert [(o["name"], o["value"]) for o in tier["custom_field_options"]] == [("Enterprise", "enterprise"),
                                                                              ("Smb", "smb")]  # fmt: skip
    assert code["regexp_for_validation"] == r"\A\d+\Z" and "custom_field_options" not in code


def test_a_bulk_job_reports_the_refused_user_field_of_its_item_and_writes_the_others(
    sim: ZendeskSimulator, api: requests.Session
) -> None:
    """A failed item as Zendesk shapes it (community post 4408861015066): ``UserUpdateError``, the reason as text,
    ``status`` Failed, no ``index``; the job's other items are written."""
    sim.data_imports = True
    key = sim.add_user_field("crm_tier", "dropdown", options=["enterprise"])
    users = [{"name": "Ada", "external_id": "salesforce:003A", "user_fields": {key: "enterprise"}},
             {"name": "Bob", "external_id": "salesforce:003B", "user_fields": {key: "Platinum"}}]  # fmt: skip
    job = api.post(f"{sim.url}/api/v2/users/create_or_update_many.json", json={"users": users}).json()["job_status"]
    ada, bob = api.get(job["url"]).json()["job_status"]["results"]
    assert (ada["status"], ada["action"], ada["success"]) == ("Created", "create", True) and "index" not in ada
    assert bob == {"id": 1, "error": "UserUpdateError", "details": "Crm tier: is invalid", "status": "Failed"}
    assert [u["external_id"] for u in sim.users if u["external_id"]] == ["salesforce:003A"]
