"""SalesforceCrm with the real simple-salesforce, over real sockets, against the Salesforce simulator."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bridge import errors
from bridge.events import AgentReply, Author, SocialEvent, ThreadState
from connectors.base import RebasedSession
from connectors.salesforce import ContactRow, CustomerRecord, FeatureUnavailable, SalesforceCrm
from connectors.salesforce.queries import e164, phone_spellings
from sandbox.base import Call, Fault
from sandbox.salesforce import DEFAULT_INSTANCE, DEFAULT_TOKEN, SalesforceSimulator
from tests.conftest import fixture_json

USER, PASSWORD, SECURITY_TOKEN = "bridge@acme.test", "s3cret-Passw0rd", "SECTOKENxyz"
CONSUMER_KEY = "3MVG9-consumer-key"
DATA = "/services/data/v59.0"
SOAP = "/services/Soap/u/"
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def shared(rsa_key: rsa.RSAPrivateKey) -> Iterator[SalesforceSimulator]:
    public = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    options: dict[str, Any] = {"password": PASSWORD, "security_token": SECURITY_TOKEN, "consumer_key": CONSUMER_KEY}
    with SalesforceSimulator(username=USER, jwt_public_key=public, **options) as simulator:
        yield simulator


@pytest.fixture
def sim(shared: SalesforceSimulator) -> SalesforceSimulator:
    shared.reset()
    return shared


class Loopback(RebasedSession):
    """Sends every listed host (the login host and the instance) to the simulator."""

    def __init__(self, sim: SalesforceSimulator, *hosts: str) -> None:
        super().__init__(nominal=f"https://{hosts[0]}", actual=sim.url)
        self.hosts = set(hosts)

    def rebase(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.netloc not in self.hosts:
            return url
        return urlunsplit((self._actual.scheme, self._actual.netloc, parts.path, parts.query, parts.fragment))


def make(sim: SalesforceSimulator, **kwargs: Any) -> SalesforceCrm:
    options: dict[str, Any] = {
        "instance_url": DEFAULT_INSTANCE,
        "access_token": DEFAULT_TOKEN,
        "session": RebasedSession(nominal=DEFAULT_INSTANCE, actual=sim.url),
        "timeout": 2,
        **kwargs,
    }
    return SalesforceCrm(**options)


@pytest.fixture
def crm(sim: SalesforceSimulator) -> SalesforceCrm:
    return make(sim, handle_field="Twitter_Handle__c")


def queries(sim: SalesforceSimulator) -> list[str]:
    return [c.query["q"] for c in sim.calls if c.path.rstrip("/").endswith(("/query", "/queryAll"))]


def api_calls(sim: SalesforceSimulator) -> list[Call]:
    return [c for c in sim.calls if c.path.startswith("/services/")]


def x_author() -> Author:
    """The author of the X fixture tweet."""
    user = fixture_json("x/x_tweet_create_events.json")["tweet_create_events"][0]["user"]
    return Author(id=user["id_str"], name=user["name"], handle=user["screen_name"], profile_url=user["url"])


def whatsapp_author() -> Author:
    value = fixture_json("meta/whatsapp_text_message.json")["entry"][0]["changes"][0]["value"]
    contact = value["contacts"][0]
    return Author(id=contact["wa_id"], name=contact["profile"]["name"], phone=f"+{contact['wa_id']}")


def tweet_event() -> SocialEvent:
    tweet = fixture_json("x/x_tweet_create_events.json")["tweet_create_events"][0]
    return SocialEvent(
        platform="x",
        channel="acme-x",
        account_id="2244994945",
        message_id=tweet["id_str"],
        thread_id=f"tweet:{tweet['in_reply_to_status_id_str']}",
        kind="comment",
        author=x_author(),
        text=tweet["text"],
        created_at=datetime.strptime(tweet["created_at"], "%a %b %d %H:%M:%S %z %Y"),
        reply_to=tweet["id_str"],
        url=f"https://x.com/{tweet['user']['screen_name']}/status/{tweet['id_str']}",
    )


def seed_jane(sim: SalesforceSimulator) -> tuple[str, str]:
    account = sim.add_account("Acme Corp", Type="Customer - Direct", Industry="Retail", AnnualRevenue=12000000.0)
    contact = sim.add_contact(
        "Jane Doe", Email="jane@example.com", Phone="+1 415 555 0100", Title="CTO", AccountId=account
    )
    for status in ("New", "Working", "Closed"):
        sim.add_case(contact_id=contact, account_id=account, status=status)
    return account, contact


def found(record: CustomerRecord | None) -> CustomerRecord:
    """The record a lookup must have found."""
    assert record is not None
    return record


def saved(sim: SalesforceSimulator, record_id: str | None) -> dict[str, Any]:
    """The simulator's copy of a record the connector must have written."""
    assert record_id is not None
    record = sim.record(record_id)
    assert record is not None
    return record


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        for secret in (PASSWORD, SECURITY_TOKEN, DEFAULT_TOKEN, "!AQ0AQ"):
            assert secret not in str(text)


# -- lookup --------------------------------------------------------------------------------------------------


def test_lookup_through_a_persona_in_two_calls(sim: SalesforceSimulator, crm: SalesforceCrm) -> None:
    account, contact = seed_jane(sim)
    author = x_author()
    assert author.handle is not None
    persona = sim.add_persona(provider="Twitter", external_id=author.id, parent_id=contact, name=author.handle)
    record = crm.lookup(platform="x", author=author)
    assert isinstance(record, CustomerRecord)
    assert (record.id, record.object_type, record.matched_by, record.persona_id) == (
        contact,
        "Contact",
        "persona",
        persona,
    )
    assert (record.name, record.email, record.title, record.owner_name) == (
        "Jane Doe",
        "jane@example.com",
        "CTO",
        "Sam Seller",
    )
    assert (record.account_id, record.account_name, record.account_type) == (account, "Acme Corp", "Customer - Direct")
    assert (record.account_industry, record.account_annual_revenue, record.open_cases) == ("Retail", 12e6, 2)
    assert record.url == f"{DEFAULT_INSTANCE}/lightning/r/Contact/{contact}/view"
    assert record.fields["Account.Industry"] == "Retail" and record.contact_id == contact and record.lead_id is None
    assert record.as_fields()["open_cases"] == "2" and json.dumps(record.as_fields())
    assert len(api_calls(sim)) == 2
    persona_soql, record_soql = queries(sim)
    assert "FROM SocialPersona WHERE Provider = 'Twitter' AND ExternalId = '2244994945'" in persona_soql
    assert "(SELECT Id FROM Cases WHERE IsClosed = false)" in record_soql


def test_persona_parents_can_be_leads_and_accounts(sim: SalesforceSimulator, crm: SalesforceCrm) -> None:
    lead = sim.add_lead("Lee Lead", company="Lead Co", Email="lee@lead.test")
    account = sim.add_account("Big Account", Industry="Energy")
    sim.add_case(account_id=account)
    sim.add_persona(provider="Facebook", external_id="fb-1", parent_id=lead, name="lee")
    sim.add_persona(provider="Instagram", external_id="ig-1", parent_id=account, name="big")
    as_lead = crm.lookup(platform="facebook", author=Author(id="fb-1"))
    assert as_lead is not None
    assert (as_lead.object_type, as_lead.id, as_lead.account_name, as_lead.lead_id) == ("Lead", lead, "Lead Co", lead)
    as_account = crm.lookup(platform="instagram", author=Author(id="ig-1"))
    assert as_account is not None
    assert (as_account.object_type, as_account.account_id, as_account.account_industry) == (
        "Account",
        account,
        "Energy",
    )
    assert as_account.open_cases == 1 and as_account.name == "Big Account"


def test_lookup_by_email_when_there_is_no_persona(sim: SalesforceSimulator, crm: SalesforceCrm) -> None:
    _, contact = seed_jane(sim)
    sim.add_contact("Someone Else", Email="else@example.com")
    record = crm.lookup(platform="facebook", author=Author(id="psid-9", email="JANE@Example.com"))
    assert record is not None
    assert (record.id, record.matched_by, record.persona_id) == (contact, "email", None)
    assert len(api_calls(sim)) == 2


def test_a_persona_parked_on_the_default_account_is_nobody_yet(sim: SalesforceSimulator) -> None:
    default = sim.add_account("Social Customers")
    _, contact = seed_jane(sim)
    persona = sim.add_persona(provider="Facebook", external_id="psid-1", parent_id=default, name="jd")
    crm = make(sim, default_account_id=default[:15])  # the 15-character form from the Salesforce UI
    record = crm.lookup(platform="facebook", author=Author(id="psid-1", email="jane@example.com"))
    assert record is not None
    assert (record.id, record.matched_by, record.persona_id) == (contact, "email", persona)
    assert len(api_calls(sim)) == 2


@pytest.mark.parametrize(
    "stored", ["+1 650-555-1234", "+1 650 555 1234", "(650) 555-1234", "650-555-1234", "16505551234"]
)
def test_whatsapp_number_matches_however_it_was_typed(
    sim: SalesforceSimulator, crm: SalesforceCrm, stored: str
) -> None:
    contact = sim.add_contact("Sheena Nelson", MobilePhone=stored)
    sim.add_contact("Other Person", Phone="+1 650 555 9999")
    record = crm.lookup(platform="whatsapp", author=whatsapp_author())
    assert record is not None
    assert (record.id, record.matched_by, record.phone) == (contact, "phone", stored)


def test_a_number_two_contacts_share_is_counted(sim: SalesforceSimulator, crm: SalesforceCrm) -> None:
    """The first is shown (enrichment as before); ``also_matched`` tells bridge.joins not to join either."""
    sim.add_contact("Sheena Nelson", Phone="+16505551234")
    sim.add_contact("Sam Nelson", MobilePhone="(650) 555-1234")
    sim.add_contact("Other Person", Email="other@example.com")
    record = crm.lookup(platform="whatsapp", author=whatsapp_author())
    assert record is not None and (record.matched_by, record.also_matched) == ("phone", 1)
    assert record.as_fields()["also_matched"] == "1"
    alone = crm.lookup(platform="whatsapp", author=Author(id="15550001111", email="other@example.com"))
    assert alone is not None and alone.also_matched is None and "also_matched" not in alone.as_fields()


def test_whatsapp_id_without_phone_is_read_as_international(sim: SalesforceSimulator, crm: SalesforceCrm) -> None:
    contact = sim.add_contact("Sheena Nelson", Phone="+16505551234")
    author = whatsapp_author()
    record = crm.lookup(platform="whatsapp", author=Author(id=author.id, name=author.name))
    assert record is not None
    assert record.id == contact and record.matched_by == "phone"


def test_phone_normalisation() -> None:
    assert e164("16505551234", international=True) == "+16505551234"
    assert e164("+44 7700 900123") == "+447700900123"
    assert e164("(415) 555-0100") is None  # no country code and no region: never guessed
    assert e164("(415) 555-0100", region="US") == "+14155550100"
    assert e164("0041 44 668 18 00") is None and e164("not a number", international=True) is None
    assert {"(650) 555-1234", "+1 650-555-1234", "6505551234", "16505551234"} <= set(phone_spellings("+16505551234"))


def test_lookup_by_handle_field(sim: SalesforceSimulator, crm: SalesforceCrm) -> None:
    contact = sim.add_contact("Jane Doe", Twitter_Handle__c="@xdevelopers")
    record = crm.lookup(platform="x", author=x_author())
    assert record is not None
    assert (record.id, record.matched_by) == (contact, "handle")


def test_email_beats_phone_beats_handle(sim: SalesforceSimulator, crm: SalesforceCrm) -> None:
    by_handle = sim.add_contact("By Handle", Twitter_Handle__c="someone")
    by_phone = sim.add_contact("By Phone", Phone="+16505551234")
    by_email = sim.add_contact("By Email", Email="someone@example.com")
    author = Author(id="1", handle="someone", email="someone@example.com", phone="+16505551234")
    assert found(crm.lookup(platform="x", author=author)).id == by_email
    assert found(crm.lookup(platform="x", author=Author(id="1", handle="someone", phone="+16505551234"))).id == by_phone
    assert found(crm.lookup(platform="x", author=Author(id="1", handle="someone"))).id == by_handle


def test_nobody_matches(sim: SalesforceSimulator, crm: SalesforceCrm) -> None:
    seed_jane(sim)
    assert crm.lookup(platform="x", author=Author(id="nobody", handle="ghost", email="ghost@example.com")) is None
    sim.reset_calls()
    assert crm.lookup(platform="facebook", author=Author(id="psid-only")) is None
    assert len(api_calls(sim)) == 1  # the persona query; nothing to match a Contact on


@pytest.mark.parametrize(
    "author",
    [
        Author(id="1", handle="ghost' OR Name != '"),
        Author(id="1", email="ghost@example.com' OR Email != '"),
        Author(id="x' OR ExternalId != '", handle="a\\' OR Name != \\'"),
    ],
)
def test_soql_injection_is_inert(sim: SalesforceSimulator, crm: SalesforceCrm, author: Author) -> None:
    seed_jane(sim)
    sim.add_contact("Victim Two", Email="two@example.com", Twitter_Handle__c="two")
    sim.add_persona(provider="Twitter", external_id="42", parent_id=sim.records("Contact")[0]["Id"], name="p")
    assert crm.lookup(platform="x", author=author) is None
    assert any("\\'" in soql for soql in queries(sim))  # the quotes went over escaped
    assert len(sim.records("Contact")) == 2  # which an unescaped query would have returned (see the sim tests)


# -- write-back --------------------------------------------------------------------------------------------


def test_ensure_persona_creates_once(sim: SalesforceSimulator, crm: SalesforceCrm) -> None:
    _, contact = seed_jane(sim)
    author = x_author()
    persona = crm.ensure_persona(platform="x", author=author, parent_id=contact)
    stored = saved(sim, persona)
    assert (stored["Provider"], stored["ExternalId"], stored["Name"]) == ("Twitter", author.id, "XDevelopers")
    assert (stored["ParentId"], stored["ProfileUrl"], stored["RealName"]) == (contact, author.profile_url, "X Dev")
    assert crm.ensure_persona(platform="x", author=author, parent_id=contact) == persona
    assert len(sim.calls_to("POST", f"{DATA}/sobjects/SocialPersona")) == 1
    assert len(sim.records("SocialPersona")) == 1


def test_unknown_people_get_the_default_account_then_move_to_their_contact(sim: SalesforceSimulator) -> None:
    default = sim.add_account("Social Customers")
    crm = make(sim, default_account_id=default)
    persona = crm.ensure_persona(platform="facebook", author=Author(id="psid-7", name="Pat"), parent_id=None)
    assert saved(sim, persona)["ParentId"] == default and saved(sim, persona)["Name"] == "Pat"
    contact = sim.add_contact("Pat Smith")
    assert crm.ensure_persona(platform="facebook", author=Author(id="psid-7"), parent_id=contact) == persona
    assert saved(sim, persona)["ParentId"] == contact


def test_no_persona_without_a_parent(sim: SalesforceSimulator, crm: SalesforceCrm) -> None:
    assert crm.ensure_persona(platform="facebook", author=Author(id="psid-8"), parent_id=None) is None
    assert sim.calls_to("POST", DATA) == [] and sim.records("SocialPersona") == []


def test_record_post_is_idempotent_on_r6postid(sim: SalesforceSimulator, crm: SalesforceCrm) -> None:
    _, contact = seed_jane(sim)
    event = tweet_event()
    persona = crm.ensure_persona(platform="x", author=event.author, parent_id=contact)
    first = crm.record_post(event, persona_id=persona, who_id=contact)
    again = crm.record_post(event, persona_id=persona, who_id=contact)  # a redelivered webhook
    assert first == again and len(sim.records("SocialPost")) == 1
    post = saved(sim, first)
    assert post["R6PostId"] == f"x:{event.message_id}" and post["ExternalPostId"] == event.message_id
    assert (post["Content"], post["Handle"], post["Provider"]) == (event.text, "XDevelopers", "Twitter")
    assert (post["MessageType"], post["PersonaId"], post["WhoId"], post["IsOutbound"]) == (
        "Tweet",
        persona,
        contact,
        None,
    )
    assert post["Posted"] == "2020-08-21T19:10:05.000+0000" and post["PostUrl"] == event.url
    upserts = sim.calls_to("PATCH", f"{DATA}/sobjects/SocialPost/R6PostId/")
    assert upserts[0].path.endswith(f"/R6PostId/x:{event.message_id}")
    assert "Provider" not in upserts[-1].json  # the update path leaves create-only fields out


def test_record_reply_links_the_outbound_post(sim: SalesforceSimulator, crm: SalesforceCrm) -> None:
    event = tweet_event()
    inbound = crm.record_post(event)
    thread = ThreadState(
        key="x:2244994945:tweet:1",
        platform="x",
        channel="acme-x",
        account_id="2244994945",
        thread_id=event.thread_id,
        reply_to=event.message_id,
        last_inbound_at=event.created_at,
        last_inbound_message_id=event.message_id,
        ticket_id="42",
    )
    reply = AgentReply("42", "9001", "Thanks, we are on it!", "77", "Alex Agent", T0)
    outbound = crm.record_reply(reply, thread=thread, message_id="1300000000000000001", reply_to_id=inbound)
    post = saved(sim, outbound)
    assert (post["IsOutbound"], post["ReplyToId"], post["MessageType"]) == (True, inbound, "Reply")
    assert (post["Content"], post["ResponseContextExternalId"]) == ("Thanks, we are on it!", event.message_id)
    assert post["R6PostId"] == "x:1300000000000000001" and post["Handle"] == "Alex Agent"


def test_org_without_social_customer_service(sim: SalesforceSimulator, crm: SalesforceCrm) -> None:
    _, contact = seed_jane(sim)
    sim.social_enabled = False
    author = Author(id="psid-1", email="jane@example.com")
    assert found(crm.lookup(platform="facebook", author=author)).id == contact  # email still works
    assert crm.social_available is False
    sim.reset_calls()
    assert found(crm.lookup(platform="facebook", author=author)).matched_by == "email"
    assert len(api_calls(sim)) == 1  # the persona query is off now
    sim.reset_calls()
    with pytest.raises(FeatureUnavailable) as exc_info:
        crm.ensure_persona(platform="facebook", author=author, parent_id=contact)
    with pytest.raises(FeatureUnavailable):
        crm.record_post(tweet_event())
    assert api_calls(sim) == [] and isinstance(exc_info.value, errors.PermanentError)
    assert "Social Customer Service is not enabled" in str(exc_info.value) and not exc_info.value.retryable


def test_social_missing_found_on_the_first_write(sim: SalesforceSimulator) -> None:
    sim.social_enabled = False
    crm = make(sim)
    with pytest.raises(FeatureUnavailable) as exc_info:
        crm.record_post(tweet_event())
    assert exc_info.value.code == "NOT_FOUND" and crm.social_available is False
    calls = len(api_calls(sim))
    with pytest.raises(FeatureUnavailable):
        crm.record_post(tweet_event())
    assert len(api_calls(sim)) == calls == 1


# -- contact sync --------------------------------------------------------------------------------------------


def test_contacts_since_pages_through_next_records_url(sim: SalesforceSimulator, crm: SalesforceCrm) -> None:
    sim.page_size = 3
    account = sim.add_account("Acme Corp")
    made = [sim.add_contact(f"Person {i}", at=T0 + timedelta(seconds=i), AccountId=account) for i in range(8)]
    batches = list(crm.contacts_since(None, batch_size=5))
    assert [len(b) for b in batches] == [5, 3]
    rows = [row for batch in batches for row in batch]
    assert [r.id for r in rows] == made and all(isinstance(r, ContactRow) for r in rows)
    assert rows[0].external_id == f"salesforce:{made[0]}" and rows[0].account_name == "Acme Corp"
    assert rows[-1].modstamp == T0 + timedelta(seconds=7) and rows[0].to_json()["modstamp"].startswith("2024-05-01")
    assert len(sim.calls_to("GET", f"{DATA}/query/01g")) == 2  # 8 records, pages of 3
    assert sim.calls_to("GET", f"{DATA}/query")[0].headers["Sforce-Query-Options"] == "batchSize=200"


def test_a_synced_contact_carries_what_a_look_up_says_of_it(sim: SalesforceSimulator, crm: SalesforceCrm) -> None:
    """The sync writes the mapped ``user_fields`` a join wrote: the same fields, its Account's and its open Cases
    among them, but for how a look-up matched (the sync matched nothing)."""
    _, jane = seed_jane(sim)
    [[row]] = list(crm.contacts_since(None))
    looked_up = found(crm.lookup(platform="x", author=Author(id="1", email="jane@example.com"))).as_fields()
    assert row.id == jane and row.fields == {k: v for k, v in looked_up.items() if k != "matched_by"}
    assert (row.fields["account_type"], row.fields["open_cases"]) == ("Customer - Direct", "2")


def test_cursor_boundary_same_second_records_are_neither_missed_nor_doubled(
    sim: SalesforceSimulator, crm: SalesforceCrm
) -> None:
    sim.page_size = 2
    earlier = [sim.add_contact(f"Early {i}", at=T0 - timedelta(minutes=5)) for i in range(2)]
    same_second = [sim.add_contact(f"Same {i}", at=T0 + timedelta(milliseconds=100 * i)) for i in range(5)]
    first = [row for batch in crm.contacts_since(None, batch_size=3) for row in batch]
    assert [r.id for r in first] == earlier + same_second  # one pass: each once, across batches and pages
    cursor = max(r.modstamp for r in first)
    late = sim.add_contact("Late In The Same Second", at=T0 + timedelta(milliseconds=900))
    after = sim.add_contact("Next Second", at=T0 + timedelta(seconds=1))
    second = [row for batch in crm.contacts_since(cursor, batch_size=3, overlap=timedelta(0)) for row in batch]
    ids = [r.id for r in second]
    assert len(ids) == len(set(ids)) and set(ids) == {*same_second, late, after}
    assert {r.id for r in first} | set(ids) == {*earlier, *same_second, late, after}
    assert "SystemModstamp >= 2024-05-01T12:00:00+00:00" in queries(sim)[-1]


def test_default_overlap_rereads_the_last_minute(sim: SalesforceSimulator, crm: SalesforceCrm) -> None:
    old = sim.add_contact("Old", at=T0 - timedelta(minutes=5))
    recent = sim.add_contact("Recent", at=T0 - timedelta(seconds=30))
    rows = [r.id for batch in crm.contacts_since(T0) for r in batch]
    assert rows == [recent] and old not in rows


def test_deleted_contacts_come_from_query_all(sim: SalesforceSimulator, crm: SalesforceCrm) -> None:
    keep = sim.add_contact("Keep", at=T0)
    gone_before = sim.add_contact("Gone Before", at=T0)
    gone_after = sim.add_contact("Gone After", at=T0)
    sim.delete("Contact", gone_before, at=T0 - timedelta(hours=1))
    sim.delete("Contact", gone_after, at=T0 + timedelta(hours=1))
    rows = [r for batch in crm.deleted_contacts_since(T0, overlap=timedelta(0)) for r in batch]
    assert [(r.id, r.deleted) for r in rows] == [(gone_after, True)]
    assert sim.calls_to("GET", f"{DATA}/queryAll") and keep not in [r.id for r in rows]
    live = [r.id for batch in crm.contacts_since(None) for r in batch]
    assert live == [keep]


# -- limits --------------------------------------------------------------------------------------------------


def test_usage_is_read_from_sforce_limit_info(sim: SalesforceSimulator, crm: SalesforceCrm) -> None:
    assert crm.usage() is None and crm.over_budget() is False
    sim.api_usage(3997, 5000)
    crm.lookup(platform="x", author=Author(id="1", handle="nobody"))  # two calls
    assert crm.usage() == (3999, 5000) and crm.over_budget() is False
    crm.ping()
    crm.lookup(platform="x", author=Author(id="1"))
    assert crm.usage() == (4000, 5000) and crm.over_budget() is True
    assert make(sim, usage_threshold=0.95).over_budget() is False


class Clock:
    """A monotonic clock the test moves (``now += seconds``)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_old_usage_reading_is_checked_again(sim: SalesforceSimulator) -> None:
    """Over budget, no lookup calls Salesforce, so only a stale reading lets it learn the rolling usage fell."""
    clock = Clock()
    crm = make(sim, clock=clock, usage_recheck=900)
    sim.api_usage(95_000, 100_000)
    crm.lookup(platform="x", author=Author(id="1"))
    assert crm.usage() == (95_001, 100_000) and crm.over_budget() is True
    clock.now += 899
    assert crm.over_budget() is True  # within the interval: still cache only
    sim.api_usage(1_000, 100_000)  # the 24 h window moved on
    clock.now += 1
    assert crm.over_budget() is False  # the reading is stale: one real call may renew it
    crm.lookup(platform="x", author=Author(id="1"))
    assert crm.usage() == (1_001, 100_000) and crm.over_budget() is False
    sim.api_usage(99_000, 100_000)
    crm.lookup(platform="x", author=Author(id="1"))
    assert crm.over_budget() is True  # a fresh reading past the threshold counts again at once


def test_exhausted_daily_limit_is_rate_limited(sim: SalesforceSimulator, crm: SalesforceCrm) -> None:
    sim.api_usage(5000, 5000)
    with pytest.raises(errors.RateLimited) as exc_info:
        crm.lookup(platform="x", author=Author(id="1"))
    error = exc_info.value
    assert (error.code, error.http_status, error.retry_after, error.retryable) == (
        "REQUEST_LIMIT_EXCEEDED",
        403,
        900.0,
        True,
    )
    assert crm.usage() == (5000, 5000) and crm.over_budget()


# -- sessions and authentication -----------------------------------------------------------------------------


def password_crm(sim: SalesforceSimulator, **kwargs: Any) -> SalesforceCrm:
    creds = {"username": USER, "password": PASSWORD, "security_token": SECURITY_TOKEN, "domain": "acme.my"}
    return make(sim, **{**creds, **kwargs})


def test_expired_session_logs_in_once_and_succeeds(sim: SalesforceSimulator) -> None:
    _, contact = seed_jane(sim)
    crm = password_crm(sim)
    sim.expire_sessions()
    assert found(crm.lookup(platform="x", author=Author(id="1", email="jane@example.com"))).id == contact
    [login] = sim.calls_to("POST", SOAP)
    assert login.headers["Soapaction"] == "login" and f"<n1:username>{USER}</n1:username>".encode() in login.body
    assert len(sim.calls_to("GET", f"{DATA}/query")) == 3  # the refused query, then the two of a lookup


def test_persistent_401_is_an_auth_error_after_exactly_one_login(sim: SalesforceSimulator) -> None:
    crm = password_crm(sim)
    body = fixture_json("salesforce/error_401_invalid_session.json")
    sim.inject(Fault(401, times=10, path_prefix=DATA, body=body))
    with pytest.raises(errors.AuthError) as exc_info:
        crm.lookup(platform="x", author=Author(id="1"))
    assert exc_info.value.code == "INVALID_SESSION_ID" and exc_info.value.http_status == 401
    assert len(sim.calls_to("POST", SOAP)) == 1 and len(sim.calls_to("GET", DATA)) == 2
    assert_no_secret(exc_info.value, repr(exc_info.value), exc_info.value.__cause__)


def test_access_token_alone_cannot_log_in_again(sim: SalesforceSimulator, crm: SalesforceCrm) -> None:
    sim.expire_sessions()
    with pytest.raises(errors.AuthError) as exc_info:
        crm.ping()
    assert exc_info.value.code == "INVALID_SESSION_ID" and sim.calls_to("POST", SOAP) == []


def test_username_password_login_on_login_salesforce_com(sim: SalesforceSimulator) -> None:
    session = Loopback(sim, "login.salesforce.com", "acme.my.salesforce.com")
    crm = SalesforceCrm(username=USER, password=PASSWORD, security_token=SECURITY_TOKEN, session=session, timeout=2)
    assert crm.ping() == USER
    [login] = sim.calls_to("POST", SOAP)
    assert login.path == "/services/Soap/u/59.0" and login.headers["Host"] == urlsplit(sim.url).netloc
    assert sim.calls_to("GET", "/services/oauth2/userinfo")[0].headers["Authorization"].startswith("Bearer 00D")


def test_wrong_password_is_an_auth_error_without_secrets(sim: SalesforceSimulator) -> None:
    crm = password_crm(sim, password="wrong-" + PASSWORD, access_token=None)
    with pytest.raises(errors.AuthError) as exc_info:
        crm.ping()
    assert exc_info.value.code == "INVALID_LOGIN" and not exc_info.value.retryable
    assert_no_secret(exc_info.value, repr(exc_info.value), exc_info.value.__cause__, repr(crm))


def test_jwt_bearer_flow(sim: SalesforceSimulator, rsa_key: rsa.RSAPrivateKey, tmp_path: Path) -> None:
    key_file = tmp_path / "server.key"
    pem = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key_file.write_bytes(pem)
    session = Loopback(sim, "login.salesforce.com", "acme.my.salesforce.com")
    crm = SalesforceCrm(username=USER, consumer_key=CONSUMER_KEY, private_key_file=str(key_file), session=session)
    _, contact = seed_jane(sim)
    assert found(crm.lookup(platform="x", author=Author(id="1", email="jane@example.com"))).id == contact
    [token_call] = sim.calls_to("POST", "/services/oauth2/token")
    form = dict(pair.split("=", 1) for pair in token_call.body.decode().split("&"))
    claims = jwt.decode(form["assertion"], options={"verify_signature": False})
    assert (claims["iss"], claims["sub"], claims["aud"]) == (CONSUMER_KEY, USER, "https://login.salesforce.com")
    assert set(fixture_json("salesforce/oauth_token_response.example.json")) == {
        "access_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
    }
    sim.expire_sessions()
    assert crm.ping() == USER and len(sim.calls_to("POST", "/services/oauth2/token")) == 2


def test_a_plain_http_instance_url_is_reached_without_a_session(sim: SalesforceSimulator) -> None:
    crm = SalesforceCrm(instance_url=sim.url, access_token=DEFAULT_TOKEN)
    assert crm.ping() == USER
    crm = SalesforceCrm(instance_url=sim.url, username=USER, password=PASSWORD, security_token=SECURITY_TOKEN)
    assert crm.ping() == USER and len(sim.calls_to("POST", SOAP)) == 1


# -- errors --------------------------------------------------------------------------------------------------


def test_server_errors_are_retryable(sim: SalesforceSimulator, crm: SalesforceCrm) -> None:
    sim.inject(Fault(503, path_prefix=DATA, body=[{"message": "down", "errorCode": "SERVER_UNAVAILABLE"}]))
    with pytest.raises(errors.Unavailable) as exc_info:
        crm.lookup(platform="x", author=Author(id="1"))
    assert exc_info.value.retryable and exc_info.value.http_status == 503


def test_every_call_has_a_timeout(sim: SalesforceSimulator) -> None:
    crm = make(sim, timeout=0.3)
    sim.inject(Fault(200, path_prefix=DATA, delay=0.8))
    with pytest.raises(errors.Unavailable) as exc_info:
        crm.lookup(platform="x", author=Author(id="1"))
    assert "timed out" in str(exc_info.value)
    login_crm = password_crm(sim, access_token=None, timeout=0.3)
    sim.inject(Fault(200, path_prefix=SOAP, delay=0.8))
    with pytest.raises(errors.Unavailable):
        login_crm.ping()  # simple-salesforce sends its login without a timeout: ours applies


def test_nothing_listening_is_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    crm = SalesforceCrm(instance_url=f"http://127.0.0.1:{port}", access_token=DEFAULT_TOKEN, timeout=1)
    with pytest.raises(errors.Unavailable):
        crm.ping()


def test_a_misconfigured_field_is_a_permanent_error_naming_it(sim: SalesforceSimulator) -> None:
    sim.add_contact("Jane Doe", Email="jane@example.com")
    crm = make(sim, fields={"contact": ["Name", "Shoe_Size__c"]})
    with pytest.raises(errors.PermanentError) as exc_info:
        crm.lookup(platform="x", author=Author(id="1", email="jane@example.com"))
    assert exc_info.value.code == "INVALID_FIELD" and "Shoe_Size__c" in exc_info.value.message


def test_configured_fields_are_fetched(sim: SalesforceSimulator) -> None:
    account = sim.add_account("Acme", Phone="+1 212 555 0000")
    sim.add_contact("Jane Doe", Email="jane@example.com", AccountId=account, Twitter_Handle__c="jd")
    crm = make(sim, fields={"contact": ["Name", "Twitter_Handle__c"], "account": ["Name", "Phone"]})
    record = crm.lookup(platform="x", author=Author(id="1", email="jane@example.com"))
    assert record is not None
    assert record.fields["Twitter_Handle__c"] == "jd" and record.fields["Account.Phone"] == "+1 212 555 0000"
    assert record.title is None and record.owner_name is None and record.account_name == "Acme"


# -- configuration and secrets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"access_token": None}, "set instance_url + access_token"),
        ({"usage_threshold": 1.5}, "usage_threshold"),
        ({"handle_field": "Name = '' OR Id"}, "handle_field"),
        ({"fields": {"opportunity": ["Name"]}}, "unknown object"),
        ({"fields": {"contact": ["Name, (SELECT Id FROM Users)"]}}, "not a Salesforce field name"),
        ({"default_account_id": "003D00000000001IAA"}, "default_account_id"),
        ({"domain": "https://evil.example.com/path?x"}, "domain"),
        ({"api_version": "v59"}, "api_version"),
        (
            {"access_token": None, "username": USER, "consumer_key": "k", "private_key_file": "/nope.key"},
            "private_key_file",
        ),
    ],
)
def test_configuration_errors(sim: SalesforceSimulator, kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises(errors.ConfigError) as exc_info:
        make(sim, **kwargs)
    assert fragment in str(exc_info.value)


def test_repr_masks_secrets(sim: SalesforceSimulator) -> None:
    crm = password_crm(sim)
    text = repr(crm)
    assert "acme.my.salesforce.com" in text and USER in text and "access_token" in text
    assert_no_secret(text)


def test_ping_names_the_user(sim: SalesforceSimulator, crm: SalesforceCrm) -> None:
    assert crm.ping() == USER
