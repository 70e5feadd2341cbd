"""The Freshdesk simulator answers like Freshdesk: shapes checked against the reference's own examples."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from flask import Response

from sandbox.base import Fault, Simulator
from sandbox.freshdesk import SECRET_HEADER, FreshdeskSimulator
from tests.conftest import fixture_bytes, fixture_json

KEY, SECRET = "fd-key-for-tests", "fd-webhook-secret"
LAG = 30.0  # seconds the search index lags behind


def header_names(name: str) -> list[str]:
    """The header names of a ``fixtures/freshdesk/*headers*.txt`` capture."""
    lines = fixture_bytes(f"freshdesk/{name}").decode().splitlines()[1:]
    return [line.split(":", 1)[0] for line in lines if ":" in line]


def curl_body(name: str) -> Any:
    """The JSON body of a reference ``curl ... -d '{...}'`` example."""
    return json.loads(fixture_bytes(name).decode().split("-d '")[1].split("'")[0])


class Clock:
    """A monotonic clock the test moves by hand (the simulator's rate window and search lag use it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def sim(clock: Clock) -> Iterator[FreshdeskSimulator]:
    with FreshdeskSimulator(api_key=KEY, webhook_secret=SECRET, search_lag=LAG, clock=clock) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def api(sim: FreshdeskSimulator) -> requests.Session:
    session = requests.Session()
    session.auth = (KEY, "X")
    return session


@pytest.fixture
def receiver() -> Iterator[Simulator]:
    """Somewhere to deliver webhooks: a bare simulator records every request it gets."""
    target = Simulator()
    target.app.add_url_rule("/hook", "hook", lambda: Response("{}", 200), methods=["POST"])
    with target:
        yield target


def post(api: requests.Session, sim: FreshdeskSimulator, path: str, body: Any, status: int) -> Any:
    response = api.post(f"{sim.url}/api/v2{path}", json=body)
    assert response.status_code == status, response.text
    return response.json()


def new_contact(api: requests.Session, sim: FreshdeskSimulator, external_id: str, **fields: Any) -> dict[str, Any]:
    return dict(post(api, sim, "/contacts", {"name": "Jane", "unique_external_id": external_id, **fields}, 201))


def new_ticket(api: requests.Session, sim: FreshdeskSimulator, **fields: Any) -> dict[str, Any]:
    body = {"subject": "Hello", "description": "<div>my order</div>", "email": "tom@outerspace.test", **fields}
    return dict(post(api, sim, "/tickets", {k: v for k, v in body.items() if v is not None}, 201))


# -- the edge ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("auth", [None, ("wrong-key", "X"), (KEY.upper(), "X")])
def test_only_the_api_key_authenticates(sim: FreshdeskSimulator, auth: tuple[str, str] | None) -> None:
    response = requests.get(f"{sim.url}/api/v2/agents/me", auth=auth, timeout=5)
    assert response.status_code == 401
    assert response.json() == {
        "code": "invalid_credentials",
        "message": "You have to be logged in to perform this action.",
    }


def test_the_password_is_ignored_and_me_is_the_api_agent(sim: FreshdeskSimulator) -> None:
    response = requests.get(f"{sim.url}/api/v2/agents/me", auth=(KEY, "anything"), timeout=5)

    assert response.status_code == 200
    me = response.json()
    assert me["id"] == sim.api_user_id and me["contact"]["email"] == "bridge@socialdesk.test"


@pytest.mark.parametrize("scope", [1, 2, 3])
def test_agents_me_says_which_tickets_the_api_agent_sees(scope: Any) -> None:
    """Freshdesk API v2, Agents: ``ticket_scope`` is "Ticket permission of the agent (1 -> Global Access,
    2 -> Group Access, 3 -> Restricted Access)"; an admin changes it later (Admin > Agents > Edit > Scope)."""
    with FreshdeskSimulator(api_key=KEY, api_agent_ticket_scope=scope) as scoped:
        me = requests.get(f"{scoped.url}/api/v2/agents/me", auth=(KEY, "X"), timeout=5).json()
        other = requests.get(f"{scoped.url}/api/v2/agents/{scoped.agent_id}", auth=(KEY, "X"), timeout=5).json()
        scoped.scope_api_agent(1)
        widened = requests.get(f"{scoped.url}/api/v2/agents/me", auth=(KEY, "X"), timeout=5).json()

    assert (me["id"], me["ticket_scope"], other["ticket_scope"]) == (scoped.api_user_id, scope, 1)
    assert widened["ticket_scope"] == 1


@pytest.mark.parametrize("scope", [0, 4, True, "global"])
def test_only_freshdesks_ticket_scopes_can_be_set(scope: Any) -> None:
    with pytest.raises(ValueError, match="ticket_scope is one of"):
        FreshdeskSimulator(api_key=KEY, api_agent_ticket_scope=scope)


def test_rate_limit_headers_are_those_of_the_fixture(sim: FreshdeskSimulator, api: requests.Session) -> None:
    response = api.get(f"{sim.url}/api/v2/agents/me")
    for name in header_names("rate_limit_headers_200.txt"):
        assert name in response.headers
    assert response.headers["X-Ratelimit-Total"] == "700"
    assert response.headers["X-Freshdesk-Api-Version"] == "latest=v2; requested=v2"


def test_budget_answers_429_with_retry_after_then_refills() -> None:
    clock = Clock()
    with FreshdeskSimulator(api_key=KEY, rate_limit_per_minute=2, time_scale=0.5, clock=clock) as small:
        session = requests.Session()
        session.auth = (KEY, "X")
        remaining = [session.get(f"{small.url}/api/v2/agents/me").headers["X-Ratelimit-Remaining"] for _ in range(2)]
        clock.now += 10
        limited = session.get(f"{small.url}/api/v2/agents/me")
        clock.now += 20  # the window is 60 s × 0.5
        refilled = session.get(f"{small.url}/api/v2/agents/me")

    assert remaining == ["1", "0"]
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "20"
    assert {n for n in header_names("rate_limit_429_headers.txt")} <= set(limited.headers)
    assert "X-Ratelimit-Remaining" not in limited.headers  # the documented 429 carries Retry-After only
    assert refilled.status_code == 200


def test_injected_faults_answer_before_the_api(sim: FreshdeskSimulator, api: requests.Session) -> None:
    sim.inject(Fault(503, method="GET", path_prefix="/api/v2/agents", body={"code": "down"}))
    assert api.get(f"{sim.url}/api/v2/agents/me").status_code == 503
    assert api.get(f"{sim.url}/api/v2/agents/me").status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "status", "body"),
    [
        ({"data": "{oops", "headers": {"Content-Type": "application/json"}}, 400, {"code": "invalid_json"}),
        ({"data": "[]", "headers": {"Content-Type": "application/json"}}, 400, {"code": "invalid_json"}),
        ({"data": "name=Jane", "headers": {"Content-Type": "text/plain"}}, 415, {"code": "invalid_content_type"}),
    ],
)
def test_unreadable_bodies(sim: FreshdeskSimulator, api: requests.Session, kwargs: Any, status: int, body: Any) -> None:
    response = api.post(f"{sim.url}/api/v2/contacts", **kwargs)
    assert response.status_code == status
    assert response.json()["code"] == body["code"]


def test_wrong_method_and_unknown_path(sim: FreshdeskSimulator, api: requests.Session) -> None:
    wrong = api.delete(f"{sim.url}/api/v2/contacts")
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"
    assert "GET,POST" in wrong.json()["message"] or "POST,GET" in wrong.json()["message"]
    assert api.get(f"{sim.url}/api/v2/nothing").status_code == 404
    assert api.get(f"{sim.url}/api/v2/tickets/999999").status_code == 404


# -- contacts ---------------------------------------------------------------------------------------------------------


def test_contact_has_the_shape_of_the_reference(sim: FreshdeskSimulator, api: requests.Session) -> None:
    request_body = curl_body("freshdesk/contact_create.curl.txt")
    created = post(api, sim, "/contacts", request_body, 201)

    expected = fixture_json("freshdesk/contact_create.response.json")
    assert set(expected) - {"other_companies"} <= set(created)
    assert (created["name"], created["email"], created["other_emails"]) == (
        "Super Man",
        "superman@freshdesk.com",
        expected["other_emails"],
    )
    assert api.get(f"{sim.url}/api/v2/contacts/{created['id']}").json() == created


def test_missing_name_is_the_documented_validation_error(sim: FreshdeskSimulator, api: requests.Session) -> None:
    body = post(api, sim, "/contacts", {"email": "no-name@example.test"}, 400)
    assert body == fixture_json("freshdesk/error_400_validation.response.json")


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"name": "A", "unique_external_id": "x:1", "handle": "a"}, "handle", "invalid_field"),
        ({"name": 5, "unique_external_id": "x:2"}, "name", "datatype_mismatch"),
        ({"name": "A", "email": "not-an-email"}, "email", "invalid_value"),
        ({"name": "A"}, "email", "missing_field"),  # no identifier at all
    ],
)
def test_contact_validation(sim: FreshdeskSimulator, api: requests.Session, body: Any, field: str, code: str) -> None:
    answer = post(api, sim, "/contacts", body, 400)
    assert answer["description"] == "Validation failed"
    assert [(e["field"], e["code"]) for e in answer["errors"]] == [(field, code)]


def test_duplicate_unique_value_is_409_naming_the_owner(sim: FreshdeskSimulator, api: requests.Session) -> None:
    owner = new_contact(api, sim, "facebook:dup-1", email="dup@example.test")

    answer = post(api, sim, "/contacts", {"name": "Other", "unique_external_id": "facebook:dup-1"}, 409)

    assert answer == {
        "description": "Validation failed",
        "errors": [
            {
                "field": "unique_external_id",
                "additional_info": {"user_id": owner["id"]},
                "message": "It should be a unique value",
                "code": "duplicate_value",
            }
        ],
    }


def test_list_contacts_filters_by_unique_external_id(sim: FreshdeskSimulator, api: requests.Session) -> None:
    wanted = new_contact(api, sim, "x:filter-1")
    new_contact(api, sim, "x:filter-10")

    found = api.get(f"{sim.url}/api/v2/contacts", params={"unique_external_id": "x:filter-1"}).json()

    assert [c["id"] for c in found] == [wanted["id"]]
    bad = api.get(f"{sim.url}/api/v2/contacts", params={"external": "x"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "invalid_field"


def test_race_next_contact_makes_the_next_create_a_duplicate(sim: FreshdeskSimulator, api: requests.Session) -> None:
    sim.race_next_contact(name="Winner", unique_external_id="x:race-1")

    answer = post(api, sim, "/contacts", {"name": "Loser", "unique_external_id": "x:race-1"}, 409)

    [winner] = [u for u in sim.users if u["unique_external_id"] == "x:race-1"]
    assert winner["name"] == "Winner"
    assert answer["errors"][0]["additional_info"] == {"user_id": winner["id"]}


# -- tickets ----------------------------------------------------------------------------------------------------------


def test_ticket_from_the_reference_example(sim: FreshdeskSimulator, api: requests.Session) -> None:
    request_body = curl_body("freshdesk/ticket_create.curl.txt")

    created = post(api, sim, "/tickets", request_body, 201)

    expected = fixture_json("freshdesk/ticket_create.response.json")
    assert set(expected) <= set(created)
    assert {k: created[k] for k in ("priority", "status", "source", "cc_emails", "reply_cc_emails")} == {
        "priority": 1,
        "status": 2,
        "source": 2,
        "cc_emails": expected["cc_emails"],
        "reply_cc_emails": expected["reply_cc_emails"],
    }
    requester = sim.user(created["requester_id"])
    assert requester["email"] == "tom@outerspace.com"  # created from the email, as Freshdesk does
    shown = api.get(f"{sim.url}/api/v2/tickets/{created['id']}").json()
    assert shown["description_text"] == "Details about the issue..." and "deleted" not in shown


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"source": 6}, "source", "invalid_value"),  # Facebook: a choice of the field, not accepted on create
        ({"status": "2"}, "status", "datatype_mismatch"),
        ({"priority": 9}, "priority", "invalid_value"),
        ({"tags": "a,b"}, "tags", "datatype_mismatch"),
        ({"custom_fields": {"cf_nope": "x"}}, "cf_nope", "invalid_field"),
        ({"custom_fields": {"cf_socialdesk_thread": "x" * 256}}, "cf_socialdesk_thread", "invalid_value"),
        ({"requester_id": 987654}, "requester_id", "invalid_value"),
        ({"external_id": "abc"}, "external_id", "invalid_field"),  # Freshdesk tickets have none
    ],
)
def test_ticket_validation(sim: FreshdeskSimulator, api: requests.Session, fields: Any, field: str, code: str) -> None:
    body = {"subject": "Hi", "description": "<div>x</div>", "email": "v@example.test", **fields}
    if "requester_id" in fields:
        body.pop("email")
    answer = post(api, sim, "/tickets", body, 400)
    assert (field, code) in [(e["field"], e["code"]) for e in answer["errors"]]


def test_a_ticket_by_facebook_id_needs_that_contact(sim: FreshdeskSimulator, api: requests.Session) -> None:
    """The reference (Create a Ticket): "A contact should exist with this facebook_id in Freshdesk". Unlike an
    unknown email, phone or X handle, an unknown facebook_id makes no contact and no ticket."""
    owner = new_contact(api, sim, "facebook:fb-ticket-1", facebook_id="fb-ticket-1")
    contacts, tickets = len(sim.users), len(sim.tickets)

    answer = post(api, sim, "/tickets", {"subject": "Hi", "description": "x", "facebook_id": "fb-nobody"}, 400)

    assert [(e["field"], e["code"]) for e in answer["errors"]] == [("facebook_id", "invalid_value")]
    assert (len(sim.users), len(sim.tickets)) == (contacts, tickets)
    assert new_ticket(api, sim, email=None, facebook_id="fb-ticket-1")["requester_id"] == owner["id"]


def test_a_ticket_by_phone_without_email_needs_a_name(sim: FreshdeskSimulator, api: requests.Session) -> None:
    """The reference (Create a Ticket): "If the phone number is set and the email address is not, then the name
    attribute is mandatory". Refused with the documented missing-field item; nothing is made."""
    contacts, tickets = len(sim.users), len(sim.tickets)

    for name in ({}, {"name": None}, {"name": ""}):
        body = {"subject": "Hi", "description": "x", "phone": "+15550100", **name}
        assert post(api, sim, "/tickets", body, 400) == {"description": "Validation failed", "errors": [missing_name()]}
    assert (len(sim.users), len(sim.tickets)) == (contacts, tickets)
    named = new_ticket(api, sim, email=None, phone="+15550100", name="Pat")
    assert (sim.user(named["requester_id"])["name"], sim.user(named["requester_id"])["phone"]) == ("Pat", "+15550100")
    assert new_ticket(api, sim, phone="+15550101")["status"] == 2  # with an email, no name needed


def missing_name() -> dict[str, Any]:
    """The reference's own validation example's item: ``name``, ``missing_field``."""
    return dict(fixture_json("freshdesk/error_400_validation.response.json")["errors"][0])


def test_update_list_and_deleted_tickets(sim: FreshdeskSimulator, api: requests.Session) -> None:
    ticket = new_ticket(api, sim, custom_fields={"cf_socialdesk_thread": "t:upd"})
    updated = api.put(f"{sim.url}/api/v2/tickets/{ticket['id']}", json={"status": 4}).json()
    assert updated["status"] == 4

    listed = api.get(f"{sim.url}/api/v2/tickets", params={"order_by": "created_at", "per_page": "100"}).json()
    item = next(t for t in listed if t["id"] == ticket["id"])
    assert "description" not in item and item["custom_fields"]["cf_socialdesk_thread"] == "t:upd"

    sim.set_status(ticket["id"], "deleted")
    listed = api.get(f"{sim.url}/api/v2/tickets", params={"per_page": 100}).json()
    assert ticket["id"] not in [t["id"] for t in listed]
    assert api.get(f"{sim.url}/api/v2/tickets/{ticket['id']}").json()["deleted"] is True


def test_updated_since_must_be_iso(sim: FreshdeskSimulator, api: requests.Session) -> None:
    response = api.get(f"{sim.url}/api/v2/tickets", params={"updated_since": "yesterday"})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "updated_since"


def listed(api: requests.Session, sim: FreshdeskSimulator, **params: Any) -> list[dict[str, Any]]:
    response = api.get(f"{sim.url}/api/v2/tickets", params={"per_page": 100, **params})
    assert response.status_code == 200, response.text
    return list(response.json())


def test_a_requesters_tickets_updated_since_come_newest_first_with_descriptions_when_included(
    sim: FreshdeskSimulator, api: requests.Session
) -> None:
    """List All Tickets' ``requester_id`` and ``updated_since`` filters, ``order_by``/``order_type`` and
    ``include=description`` (developers.freshdesk.com/api/#list_all_tickets)."""
    mine = new_contact(api, sim, f"facebook:{time.monotonic_ns()}")
    first, second = (new_ticket(api, sim, email=None, requester_id=mine["id"]) for _ in range(2))
    new_ticket(api, sim)  # someone else's
    old = new_ticket(api, sim, email=None, requester_id=mine["id"])
    sim.backdate(old["id"], datetime(2024, 1, 1, tzinfo=UTC))
    since = {"requester_id": mine["id"], "updated_since": "2024-06-01T00:00:00Z"}

    tickets = listed(api, sim, **since, order_by="created_at", order_type="desc", include="description")
    assert [t["id"] for t in tickets] == [second["id"], first["id"]]  # the same second: by id, newest first
    assert tickets[0]["description"] == "<div>my order</div>" and tickets[0]["description_text"] == "my order"
    assert all("description" not in t for t in listed(api, sim, **since))  # only when included
    assert [t["id"] for t in listed(api, sim, requester_id=mine["id"], order_type="asc")] == [first["id"], second["id"]]
    everyone = listed(api, sim, updated_since="2023-01-01T00:00:00Z", order_type="asc")
    assert everyone[0]["id"] == old["id"] and old["id"] not in [t["id"] for t in listed(api, sim)]  # past 30 days
    [embedded] = listed(api, sim, requester_id=mine["id"], updated_since="2023-12-31T00:00:00Z", order_by="updated_at",
                        order_type="asc", include="requester")[:1]  # fmt: skip
    assert embedded["id"] == old["id"] and embedded["requester"] == {k: mine[k] for k in embedded["requester"]}
    assert set(embedded["requester"]) == {"email", "id", "mobile", "name", "phone"}


def test_the_predefined_filters_list_deleted_and_spam_tickets_apart(
    sim: FreshdeskSimulator, api: requests.Session
) -> None:
    kept, gone = new_ticket(api, sim), new_ticket(api, sim)
    sim.set_status(gone["id"], "deleted")
    assert gone["id"] in [t["id"] for t in listed(api, sim, filter="deleted")]
    assert kept["id"] not in [t["id"] for t in listed(api, sim, filter="deleted")]
    assert gone["id"] not in [t["id"] for t in listed(api, sim, filter="new_and_my_open")]
    assert kept["id"] in [t["id"] for t in listed(api, sim, filter="new_and_my_open")]
    assert listed(api, sim, filter="watching") == [] and listed(api, sim, filter="spam") == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"include": "conversations"}, "include"),  # the list embeds requester, stats, description only
        ({"include": "stats"}, "include"),  # documented, not simulated: refused, never answered wrong
        ({"filter": "all_tickets"}, "filter"),
        ({"requester_id": "jane"}, "requester_id"),
        ({"order_type": "newest"}, "order_type"),
        ({"order_by": "priority"}, "order_by"),
        ({"agent_id": "1"}, "agent_id"),  # a search field, not a list filter
        ({"requester_id": "1", "email": "a@b.test"}, "email"),  # combinations the reference does not document
        ({"filter": "deleted", "requester_id": "1"}, "requester_id"),
        ({"requester_id": "1", "company_id": "2"}, "company_id"),
    ],
)
def test_the_ticket_list_refuses_what_it_does_not_document(
    sim: FreshdeskSimulator, api: requests.Session, params: dict[str, str], field: str
) -> None:
    response = api.get(f"{sim.url}/api/v2/tickets", params=params)
    assert response.status_code == 400, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]


# -- conversations ----------------------------------------------------------------------------------------------------


def test_reply_and_note_answer_like_the_reference(sim: FreshdeskSimulator, api: requests.Session) -> None:
    ticket = new_ticket(api, sim)
    reply = post(api, sim, f"/tickets/{ticket['id']}/reply", {"body": "We are working on this issue."}, 201)
    note = post(api, sim, f"/tickets/{ticket['id']}/notes", {"body": "Hi tom, Still Angry", "private": False}, 201)

    assert set(reply) == set(fixture_json("freshdesk/ticket_reply.response.json"))
    assert set(note) == set(fixture_json("freshdesk/ticket_note.response.json"))
    assert (note["private"], note["incoming"], note["user_id"]) == (False, False, sim.api_user_id)
    listed = api.get(f"{sim.url}/api/v2/tickets/{ticket['id']}/conversations").json()
    assert [(c["id"], c["source"]) for c in listed] == [(reply["id"], 0), (note["id"], 2)]


def test_conversation_sources_are_the_documented_values(sim: FreshdeskSimulator, api: requests.Session) -> None:
    table = fixture_bytes("freshdesk/conversation_source_values.excerpt.txt").decode()
    documented = dict(line.rsplit("\t", 1) for line in table.splitlines() if "\t" in line and line[-1].isdigit())
    ticket = new_ticket(api, sim)

    reply = sim.agent_comment(ticket["id"], "a reply")
    note = sim.agent_comment(ticket["id"], "a note", public=False)

    assert (reply["source"], note["source"]) == (int(documented["Reply"]), int(documented["Note"]))


@pytest.mark.parametrize(
    ("path", "body", "field", "code"),
    [
        ("notes", {}, "body", "missing_field"),
        ("notes", {"body": "x", "private": "yes"}, "private", "datatype_mismatch"),
        ("notes", {"body": "x", "user_id": 42}, "user_id", "invalid_value"),
        ("reply", {"body": "x", "private": True}, "private", "invalid_field"),
    ],
)
def test_conversation_validation(
    sim: FreshdeskSimulator, api: requests.Session, path: str, body: Any, field: str, code: str
) -> None:
    ticket = new_ticket(api, sim)
    answer = post(api, sim, f"/tickets/{ticket['id']}/{path}", body, 400)
    assert [(e["field"], e["code"]) for e in answer["errors"]] == [(field, code)]


def test_a_contact_may_write_an_incoming_note_but_not_a_reply(sim: FreshdeskSimulator, api: requests.Session) -> None:
    contact = new_contact(api, sim, "x:incoming-1")
    ticket = new_ticket(api, sim, email=None, requester_id=contact["id"])
    note = {"body": "still waiting", "incoming": True, "private": False, "user_id": contact["id"]}

    assert post(api, sim, f"/tickets/{ticket['id']}/notes", note, 201)["incoming"] is True
    post(api, sim, f"/tickets/{ticket['id']}/reply", {"body": "x", "user_id": contact["id"]}, 400)
    assert sim.comments(ticket["id"])[-1] | {"created_at": None} == {
        "id": sim.comments(ticket["id"])[-1]["id"],
        "body": "still waiting",
        "html_body": "still waiting",
        "public": True,
        "private": False,
        "incoming": True,
        "author_id": contact["id"],
        "source": 2,
        "created_at": None,
    }


def test_conversations_paginate_with_link_headers(sim: FreshdeskSimulator, api: requests.Session) -> None:
    ticket = new_ticket(api, sim)
    for n in range(5):
        sim.agent_comment(ticket["id"], f"reply {n}")

    url: str | None = f"{sim.url}/api/v2/tickets/{ticket['id']}/conversations?per_page=2"
    bodies, pages = [], 0
    while url:
        response = api.get(url)
        bodies += [c["body_text"] for c in response.json()]
        url, pages = response.links.get("next", {}).get("url"), pages + 1

    assert bodies == [f"reply {n}" for n in range(5)] and pages == 3
    assert 'rel="next"' in api.get(f"{sim.url}/api/v2/tickets/{ticket['id']}/conversations?per_page=2").headers["Link"]


# -- search -----------------------------------------------------------------------------------------------------------


def test_search_lags_behind_then_finds_custom_fields(
    sim: FreshdeskSimulator, api: requests.Session, clock: Clock
) -> None:
    new_ticket(api, sim, custom_fields={"cf_socialdesk_thread": "facebook:1:comment:lag"}, tags=["vip"])
    query = {"query": "\"cf_socialdesk_thread:'facebook:1:comment:lag' AND tag:'vip'\""}

    at_once = api.get(f"{sim.url}/api/v2/search/tickets", params=query).json()
    clock.now += LAG
    later = api.get(f"{sim.url}/api/v2/search/tickets", params=query).json()

    assert at_once == {"results": [], "total": 0}
    assert later["total"] == 1
    assert later["results"][0]["custom_fields"]["cf_socialdesk_thread"] == "facebook:1:comment:lag"


@pytest.mark.parametrize("query", ["cf_socialdesk_thread:'x'", '"nope:1"', '"status:"', '"' + "a" * 600 + '"'])
def test_search_refuses_malformed_queries(sim: FreshdeskSimulator, api: requests.Session, query: str) -> None:
    response = api.get(f"{sim.url}/api/v2/search/tickets", params={"query": query})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "query"


# -- playing the agent ------------------------------------------------------------------------------------------------


def test_agent_comment_comments_and_status(sim: FreshdeskSimulator, api: requests.Session) -> None:
    ticket = new_ticket(api, sim)
    reply = sim.agent_comment(ticket["id"], "Sorry <3\nWe'll check")
    sim.set_status(ticket["id"], "solved")

    first, last = sim.comments(ticket["id"])
    assert (first["body"], first["author_id"], first["public"]) == ("my order", ticket["requester_id"], True)
    assert last == reply and (last["public"], last["incoming"], last["author_id"]) == (True, False, sim.agent_id)
    assert last["html_body"] == "<div>Sorry &lt;3</div><div>We&#x27;ll check</div>"
    assert next(t for t in sim.tickets if t["id"] == ticket["id"])["status"] == 4
    with pytest.raises(ValueError):
        sim.set_status(ticket["id"], "archived")


@pytest.mark.parametrize("style", ["simple", "custom"])
def test_fire_webhook_posts_the_automation_body_with_the_secret(
    sim: FreshdeskSimulator, api: requests.Session, receiver: Simulator, style: Any
) -> None:
    ticket = new_ticket(api, sim)
    sim.agent_comment(ticket["id"], "Here you go")
    sim.webhook_target = f"{receiver.url}/hook"

    assert sim.fire_webhook(ticket["id"], style=style).status_code == 200

    [delivered] = receiver.calls
    assert delivered.headers[SECRET_HEADER] == SECRET
    body = delivered.json
    ids = body["freshdesk_webhook"]["ticket_id"] if style == "simple" else int(body["ticket_id"])
    assert ids == ticket["id"]
    assert "Here you go" in json.dumps(body)


def test_slow_after_commit_applies_the_request_but_loses_the_answer(
    sim: FreshdeskSimulator, api: requests.Session
) -> None:
    before = len(sim.tickets)
    sim.slow_after_commit("/api/v2/tickets", "POST", 0.5)
    body = {"subject": "Slow", "description": "<div>x</div>", "email": "slow@example.test"}

    with pytest.raises(requests.Timeout):
        api.post(f"{sim.url}/api/v2/tickets", json=body, timeout=0.2)

    deadline = time.monotonic() + 5  # applied before the answer was held back; allow a loaded machine
    while len(sim.tickets) == before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(sim.tickets) == before + 1 and sim.tickets[-1]["subject"] == "Slow"
