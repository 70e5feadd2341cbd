"""The Salesforce simulator against the vendor fixtures, over real sockets with plain ``requests``."""

from __future__ import annotations

import json
import xml.dom.minidom
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
import requests

from sandbox.base import Fault
from sandbox.salesforce import DEFAULT_TOKEN, SalesforceSimulator, SoqlError, parse
from sandbox.salesforce.soql import Comparison, Constant
from tests.conftest import FIXTURES, fixture_json

SF = "salesforce"
V = "/services/data/v59.0"
AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}


@pytest.fixture(scope="module")
def shared() -> Iterator[SalesforceSimulator]:
    with SalesforceSimulator(username="bridge@acme.test", password="pw", security_token="TOKEN") as simulator:
        yield simulator


@pytest.fixture
def sim(shared: SalesforceSimulator) -> SalesforceSimulator:
    shared.reset()
    return shared


def get(sim: SalesforceSimulator, path: str, **params: str) -> requests.Response:
    return requests.get(f"{sim.url}{path}", params=params, headers=AUTH, timeout=5)


def query(
    sim: SalesforceSimulator, soql: str, *, all_rows: bool = False, headers: dict[str, str] | None = None
) -> requests.Response:
    endpoint = "queryAll" if all_rows else "query"
    response = requests.get(
        f"{sim.url}{V}/{endpoint}/", params={"q": soql}, headers={**AUTH, **(headers or {})}, timeout=5
    )
    return response


def ids(response: requests.Response) -> list[str]:
    return [r["Id"] for r in response.json()["records"]]


def patch(sim: SalesforceSimulator, path: str, body: dict[str, Any]) -> requests.Response:
    return requests.patch(f"{sim.url}{V}{path}", data=json.dumps(body), headers=AUTH, timeout=5)


# -- query shapes --------------------------------------------------------------------------------------------


def test_query_answer_has_the_fixture_shape(sim: SalesforceSimulator) -> None:
    account = sim.add_account("Acme Corp", Type="Customer - Direct", AnnualRevenue=12000000.0)
    contact = sim.add_contact(
        "Jane Doe", Email="jane@example.com", Phone="+1 415 555 0100", Title="CTO", AccountId=account
    )
    sim.update("Contact", contact, {"Twitter_Handle__c": "janedoe"})
    sim.add_case(contact_id=contact)
    sim.add_case(contact_id=contact, status="Working")
    sim.add_case(contact_id=contact, status="Closed")
    soql = (
        "SELECT Id, Name, Email, Phone, MobilePhone, Title, Twitter_Handle__c, Owner.Name, Account.Name, "
        "Account.Type, Account.AnnualRevenue, (SELECT Id, CaseNumber, Status FROM Cases WHERE IsClosed = false) "
        "FROM Contact WHERE Email = 'jane@example.com'"
    )
    body = query(sim, soql).json()
    expected = fixture_json("salesforce/query_response.example.json")
    assert list(body) == list(expected)
    [record] = body["records"]
    [wanted] = expected["records"]
    assert list(record) == list(wanted)
    assert list(record["Owner"]) == list(wanted["Owner"]) and list(record["Account"]) == list(wanted["Account"])
    assert record["attributes"] == {"type": "Contact", "url": f"{V}/sobjects/Contact/{contact}"}
    assert (record["Name"], record["MobilePhone"], record["Account"]["AnnualRevenue"]) == ("Jane Doe", None, 12e6)
    assert record["Owner"]["Name"] == "Sam Seller"
    assert record["Cases"]["totalSize"] == 2 and [c["Status"] for c in record["Cases"]["records"]] == [
        "New",
        "Working",
    ]
    assert list(record["Cases"]["records"][0]) == list(wanted["Cases"]["records"][0])


def test_empty_relationships_and_subqueries_are_null(sim: SalesforceSimulator) -> None:
    sim.add_contact("Solo Person")
    [record] = query(sim, "SELECT Id, Account.Name, (SELECT Id FROM Cases) FROM Contact").json()["records"]
    assert record["Account"] is None and record["Cases"] is None


def test_paging_follows_next_records_url_like_the_fixture(sim: SalesforceSimulator) -> None:
    sim.page_size = 3
    made = [sim.add_contact(f"Person {i:02d}") for i in range(8)]
    first = query(sim, "SELECT Id FROM Contact ORDER BY Name").json()
    shape = fixture_json("salesforce/query_more_page.example.json")
    assert list(first) == list(shape) and first["totalSize"] == 8 and first["done"] is False
    assert first["nextRecordsUrl"].startswith(f"{V}/query/01g") and first["nextRecordsUrl"].endswith("-3")
    seen = [r["Id"] for r in first["records"]]
    page = first
    while not page["done"]:
        page = requests.get(f"{sim.url}{page['nextRecordsUrl']}", headers=AUTH, timeout=5).json()
        seen += [r["Id"] for r in page["records"]]
    assert seen == made and "nextRecordsUrl" not in page


def test_batch_size_header_is_honoured_within_limits(sim: SalesforceSimulator) -> None:
    sim.page_size = 2000
    for i in range(250):
        sim.insert("Contact", {"LastName": f"L{i}"})
    small = query(sim, "SELECT Id FROM Contact", headers={"Sforce-Query-Options": "batchSize=100"}).json()
    assert len(small["records"]) == 200  # Salesforce's minimum batch size is 200
    default = query(sim, "SELECT Id FROM Contact").json()
    assert len(default["records"]) == 250 and default["done"] is True


def test_unknown_query_locator(sim: SalesforceSimulator) -> None:
    response = get(sim, f"{V}/query/01gD0000002HU6KIAW-2000")
    assert response.status_code == 400 and response.json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


# -- SOQL semantics ------------------------------------------------------------------------------------------


def test_where_operators(sim: SalesforceSimulator) -> None:
    a = sim.add_contact("Ann Alpha", Email="ANN@example.com", Title="CEO")
    b = sim.add_contact("Bob Beta", Email="bob@example.com", Title="CTO")
    c = sim.add_contact("Cid Gamma", Email=None, Title="Chief 100% Officer")
    cases = {
        "Email = 'ann@EXAMPLE.com'": [a],
        "Email != 'bob@example.com'": [a, c],
        "Email = null": [c],
        "Email != null": [a, b],
        "Title IN ('CEO', 'cto')": [a, b],
        "Title NOT IN ('CEO')": [b, c],
        "Name LIKE 'b%'": [b],
        "Title LIKE '%100\\% O%'": [c],
        "NOT (Title = 'CEO')": [b, c],
        "(Title = 'CEO' OR Title = 'CTO') AND Email LIKE '%bob%'": [b],
        f"Id = '{a[:15]}'": [a],
    }
    for where, expected in cases.items():
        assert ids(query(sim, f"SELECT Id FROM Contact WHERE {where} ORDER BY Name")) == expected, where


def test_order_by_limit_offset_and_nulls(sim: SalesforceSimulator) -> None:
    sim.add_contact("Ann A", Title="b")
    sim.add_contact("Ann B", Title=None)
    sim.add_contact("Ann C", Title="a")
    names: Callable[[str], list[str]] = lambda soql: [r["Name"] for r in query(sim, soql).json()["records"]]  # noqa: E731
    assert names("SELECT Name FROM Contact ORDER BY Title") == ["Ann B", "Ann C", "Ann A"]
    assert names("SELECT Name FROM Contact ORDER BY Title DESC NULLS LAST") == ["Ann A", "Ann C", "Ann B"]
    assert names("SELECT Name FROM Contact ORDER BY Name DESC LIMIT 2 OFFSET 1") == ["Ann B", "Ann A"]


def test_datetime_filters_need_unquoted_literals(sim: SalesforceSimulator) -> None:
    base = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    early = sim.add_contact("Early Bird", at=base)
    late = sim.add_contact("Late Comer", at=base + timedelta(seconds=1))
    assert ids(query(sim, "SELECT Id FROM Contact WHERE SystemModstamp >= 2024-05-01T12:00:01Z")) == [late]
    assert ids(query(sim, "SELECT Id FROM Contact WHERE SystemModstamp >= 2024-05-01T14:00:00+02:00")) == [
        early,
        late,
    ]
    quoted = query(sim, "SELECT Id FROM Contact WHERE SystemModstamp >= '2024-05-01T12:00:00Z'")
    assert quoted.status_code == 400
    assert quoted.json()[0]["errorCode"] == "INVALID_FIELD" and "dateTime" in quoted.json()[0]["message"]


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Contact WHERE Name = 'a' AND Name = 'b' OR Name = 'c'", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE Name = 'unterminated", "MALFORMED_QUERY"),
        ("SELECT Id FROM Contact WHERE Name = 'x' garbage", "MALFORMED_QUERY"),
        ("SELECT Id, Nope__c FROM Contact", "INVALID_FIELD"),
        ("SELECT Id, Boss.Name FROM Contact", "INVALID_FIELD"),
        ("SELECT Id FROM Widget__c", "INVALID_TYPE"),
        ("SELECT Id, (SELECT Id FROM Widgets) FROM Contact", "INVALID_FIELD"),
        ("SELECT Id FROM Contact WHERE Email = 42", "INVALID_FIELD"),
    ],
)
def test_bad_queries_answer_json_error_lists(sim: SalesforceSimulator, soql: str, code: str) -> None:
    response = query(sim, soql)
    assert response.status_code == 400
    [error] = response.json()
    assert set(error) == {"message", "errorCode"} and error["errorCode"] == code


def test_soql_injection_changes_an_unescaped_query_but_not_an_escaped_one(sim: SalesforceSimulator) -> None:
    """The parser is honest: unescaped, a handle rewrites the query; escaped, it stays one literal."""
    sim.add_contact("Victim One", Twitter_Handle__c="victim1")
    sim.add_contact("Victim Two", Twitter_Handle__c="victim2")
    handle = "nobody' OR Name != '"
    raw = f"SELECT Id FROM Contact WHERE Twitter_Handle__c = '{handle}'"
    assert len(ids(query(sim, raw))) == 2
    escaped = "SELECT Id FROM Contact WHERE Twitter_Handle__c = 'nobody\\' OR Name != \\''"
    assert ids(query(sim, escaped)) == []
    where = parse(escaped).where
    assert isinstance(where, Comparison) and isinstance(where.value, Constant)
    assert where.value.value == handle  # one literal, holding the whole handle


def test_tokenizer_escapes_and_errors() -> None:
    query_ = parse(r"SELECT Id FROM Contact WHERE Name = 'O\'Brien \\ \n'")
    assert isinstance(query_.where, Comparison) and isinstance(query_.where.value, Constant)
    assert query_.where.value.value == "O'Brien \\ \n"
    with pytest.raises(SoqlError) as error:
        parse(r"SELECT Id FROM Contact WHERE Name = 'bad \q escape'")
    assert error.value.code == "MALFORMED_QUERY"


# -- deleted records -----------------------------------------------------------------------------------------


def test_deleted_records_only_in_query_all(sim: SalesforceSimulator) -> None:
    keep = sim.add_contact("Keep Me")
    gone = sim.add_contact("Gone Away")
    sim.delete("Contact", gone)
    assert ids(query(sim, "SELECT Id FROM Contact")) == [keep]
    rows = query(sim, "SELECT Id, IsDeleted FROM Contact WHERE IsDeleted = true", all_rows=True).json()["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in rows] == [(gone, True)]
    assert get(sim, f"{V}/sobjects/Contact/{gone}").status_code == 404
    response = requests.delete(f"{sim.url}{V}/sobjects/Contact/{keep}", headers=AUTH, timeout=5)
    assert response.status_code == 204
    kept = sim.record(keep)
    assert kept is not None and kept["IsDeleted"] is True


# -- sObject writes ------------------------------------------------------------------------------------------


def test_upsert_on_r6postid_creates_then_updates(sim: SalesforceSimulator) -> None:
    path = f"/sobjects/SocialPost/R6PostId/{quote('x:123', safe='')}"
    created = patch(sim, path, {"Name": "Tweet", "Provider": "Twitter", "Content": "hello"})
    assert created.status_code == 201
    body = created.json()
    assert set(body) == set(fixture_json("salesforce/upsert_created_201.response.json"))
    assert body["created"] is True and body["success"] is True and body["id"].startswith("0ST")
    updated = patch(sim, path, {"Content": "hello again"})
    assert updated.status_code == 200 and updated.json() == {**body, "created": False}
    assert [p["Content"] for p in sim.records("SocialPost")] == ["hello again"]
    assert sim.records("SocialPost")[0]["R6PostId"] == "x:123"


def test_upsert_update_refuses_create_only_fields(sim: SalesforceSimulator) -> None:
    path = "/sobjects/SocialPost/R6PostId/k1"
    assert patch(sim, path, {"Name": "p", "Provider": "Twitter"}).status_code == 201
    again = patch(sim, path, {"Name": "p", "Provider": "Twitter"})
    assert again.status_code == 400
    assert again.json()[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE" and again.json()[0]["fields"] == [
        "Provider"
    ]


def test_upsert_before_api_46_answers_204(sim: SalesforceSimulator) -> None:
    path = "/services/data/v45.0/sobjects/SocialPost/R6PostId/old"
    assert requests.patch(f"{sim.url}{path}", data='{"Name": "p"}', headers=AUTH, timeout=5).status_code == 201
    assert requests.patch(f"{sim.url}{path}", data='{"Name": "q"}', headers=AUTH, timeout=5).status_code == 204


def test_upsert_with_several_matches_answers_300(sim: SalesforceSimulator) -> None:
    for _ in range(2):
        sim.insert("SocialPost", {"Name": "dup", "R6PostId": "same"})
    response = patch(sim, "/sobjects/SocialPost/R6PostId/same", {"Content": "x"})
    assert response.status_code == 300 and len(response.json()) == 2


def test_upsert_on_a_field_that_is_no_external_id(sim: SalesforceSimulator) -> None:
    response = patch(sim, "/sobjects/SocialPersona/ExternalId/123", {"Name": "x"})
    assert response.status_code == 404
    assert response.json() == [fixture_json("salesforce/upsert_wrong_external_id_field.error.json")]


def test_create_validates_like_salesforce(sim: SalesforceSimulator) -> None:
    contact = sim.add_contact("Jane Doe")
    url = f"{sim.url}{V}/sobjects/SocialPersona/"
    post: Callable[[dict[str, Any]], requests.Response] = lambda body: requests.post(  # noqa: E731
        url, data=json.dumps(body), headers=AUTH, timeout=5
    )
    missing = post({"Provider": "Twitter"}).json()[0]
    assert missing["errorCode"] == "REQUIRED_FIELD_MISSING" and missing["fields"] == ["Name", "ParentId"]
    bad_pick = post({"Name": "j", "Provider": "MySpace", "ParentId": contact}).json()[0]
    assert bad_pick["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert post({"Name": "j", "Provider": "Twitter", "ParentId": "nope"}).json()[0]["errorCode"] == "MALFORMED_ID"
    assert post({"Name": "j", "Provider": "Twitter", "Bogus": 1}).json()[0]["errorCode"] == "INVALID_FIELD"
    case = sim.add_case()
    wrong = post({"Name": "j", "Provider": "Twitter", "ParentId": case}).json()[0]
    assert wrong["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"
    ok = post({"Name": "j", "Provider": "Twitter", "ParentId": contact, "ExternalId": "42"})
    assert ok.status_code == 201
    persona = sim.record(ok.json()["id"])
    assert persona is not None and persona["ParentId"] == contact


# -- social objects switched off -----------------------------------------------------------------------------


def test_org_without_social_customer_service(sim: SalesforceSimulator) -> None:
    sim.social_enabled = False
    response = query(sim, "SELECT Id FROM SocialPersona")
    assert response.status_code == 400 and response.json()[0]["errorCode"] == "INVALID_TYPE"
    assert "sObject type 'SocialPersona' is not supported" in response.json()[0]["message"]
    upsert = patch(sim, "/sobjects/SocialPost/R6PostId/x", {"Name": "p"})
    assert upsert.status_code == 404 and upsert.json()[0]["errorCode"] == "NOT_FOUND"


# -- auth, limits --------------------------------------------------------------------------------------------


def test_expired_session_answers_the_fixture_body(sim: SalesforceSimulator) -> None:
    sim.expire_sessions()
    response = query(sim, "SELECT Id FROM Contact")
    assert response.status_code == 401
    assert response.json() == fixture_json("salesforce/error_401_invalid_session.json")


def test_limit_info_header_counts_calls_and_runs_out(sim: SalesforceSimulator) -> None:
    sim.api_usage(4998, 5000)
    first = query(sim, "SELECT Id FROM Contact")
    assert first.headers["Sforce-Limit-Info"] == "api-usage=4999/5000"
    assert query(sim, "SELECT Id FROM Contact").headers["Sforce-Limit-Info"] == "api-usage=5000/5000"
    refused = query(sim, "SELECT Id FROM Contact")
    assert refused.status_code == 403 and refused.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    fixture_lines = (FIXTURES / "salesforce/limit_info_headers.txt").read_text().splitlines()
    assert any(line.startswith("Sforce-Limit-Info: api-usage=") for line in fixture_lines)


def test_soap_login_answers_the_minimal_fixture_shape(sim: SalesforceSimulator) -> None:
    body = _soap_login_body("bridge@acme.test", "pwTOKEN")
    response = requests.post(f"{sim.url}/services/Soap/u/59.0", data=body, headers={"SOAPAction": "login"}, timeout=5)
    assert response.status_code == 200
    ours = xml.dom.minidom.parseString(response.content)
    theirs = xml.dom.minidom.parse(str(FIXTURES / "salesforce/soap_login_response.minimal.xml"))
    tags: Callable[[xml.dom.minidom.Document], list[str]] = lambda doc: [  # noqa: E731
        n.tagName for n in doc.getElementsByTagName("result")[0].childNodes if n.nodeType == 1
    ]
    assert tags(ours) == tags(theirs)
    session_text = ours.getElementsByTagName("sessionId")[0].firstChild
    assert isinstance(session_text, xml.dom.minidom.Text)
    session = session_text.data
    server_text = ours.getElementsByTagName("serverUrl")[0].firstChild
    assert isinstance(server_text, xml.dom.minidom.Text)
    server = server_text.data
    assert server == "https://acme.my.salesforce.com/services/Soap/u/59.0/00D000000000001"
    headers = {"Authorization": f"Bearer {session}"}
    assert requests.get(f"{sim.url}{V}/query/", params={"q": "SELECT Id FROM Contact"}, headers=headers).ok


def test_soap_login_refuses_a_wrong_password(sim: SalesforceSimulator) -> None:
    body = _soap_login_body("bridge@acme.test", "wrong")
    response = requests.post(f"{sim.url}/services/Soap/u/59.0", data=body, timeout=5)
    assert response.status_code == 500
    doc = xml.dom.minidom.parseString(response.content)
    code = doc.getElementsByTagName("sf:exceptionCode")[0].firstChild
    assert isinstance(code, xml.dom.minidom.Text)
    assert code.data == "INVALID_LOGIN"


def test_faults_come_before_the_api(sim: SalesforceSimulator) -> None:
    sim.inject(Fault(503, path_prefix=V, body=[{"message": "down", "errorCode": "SERVER_UNAVAILABLE"}]))
    assert query(sim, "SELECT Id FROM Contact").status_code == 503
    assert query(sim, "SELECT Id FROM Contact").status_code == 200


def _soap_login_body(username: str, password: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8" ?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:urn="urn:partner.soap.sforce.com"><env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com">'
        f"<n1:username>{username}</n1:username><n1:password>{password}</n1:password></n1:login></env:Body>"
        "</env:Envelope>"
    )
