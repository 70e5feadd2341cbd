"""X: the webhook (CRC, signatures, both payload families), XChannel against the simulator, end to end.

Every outbound request body is validated against the X API v2 OpenAPI spec in tests/fixtures.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import pytest
import referencing
import referencing.jsonschema
import requests
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bridge import config as config_module
from bridge import errors, messages, revocations
from bridge.events import Ignored, SocialEvent, ThreadState
from bridge.outbound import thread_state
from bridge.registry import build_channel
from bridge.store import Store
from connectors import xtext
from connectors.x import XChannel, account_from_token, oauth1_signature, signature_base_string
from sandbox.base import Call, Fault
from sandbox.x import XSimulator
from tests.conftest import fixture_bytes, fixture_json, raw_config
from tests.support import Bridge, serve_bridge
from webhooks import x as x_webhook
from webhooks.app import create_app
from webhooks.signatures import sign_x

BRAND, BRAND_NAME = "1111111111111111111", "AcmeSupport"
CONSUMER_KEY, CONSUMER_SECRET = "xvz1evFS4wEEPTGEFPHBog", "x-consumer-secret-not-real"
TOKEN, TOKEN_SECRET = f"{BRAND}-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", "x-token-secret-not-real"
BEARER = "x-oauth2-user-token-not-real"
CUSTOMER, CUSTOMER_HANDLE = "2222222222222222222", "OtherUser"
SECRETS = (CONSUMER_SECRET, TOKEN, TOKEN_SECRET, BEARER)
SPEC = fixture_json("specs/x_api_v2_openapi.json")

E = TypeVar("E", bound=errors.BridgeError)


# -- fixtures: one simulator, one bridge app on a real socket, per module ---------------------------------


def x_channel_config(api_url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "name": "acme-x", "platform": "x", "consumer_key": CONSUMER_KEY, "consumer_secret": CONSUMER_SECRET,
        "access_token": TOKEN, "access_token_secret": TOKEN_SECRET, "api_url": api_url, **overrides,
    }  # fmt: skip


def make_config(tmp: Path, api_url: str, **overrides: Any) -> config_module.Config:
    raw = raw_config(database_url=f"sqlite:///{tmp}/store.db", queue_url=f"sqlite:///{tmp}/queue.db")
    raw["channels"].append(x_channel_config(api_url, **overrides))
    return config_module.parse(raw, env={})


@pytest.fixture(scope="module")
def shared_sim() -> Iterator[XSimulator]:
    sim = XSimulator(
        consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET, access_token=TOKEN,
        access_token_secret=TOKEN_SECRET, user_id=BRAND, username=BRAND_NAME, bearer_tokens=(BEARER,),
    )  # fmt: skip
    with sim:
        yield sim


@pytest.fixture(scope="module")
def bridge(shared_sim: XSimulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    """The web app serving /webhooks/x on loopback, with its store; the simulator posts to it."""
    tmp = tmp_path_factory.mktemp("x")
    config = make_config(tmp, shared_sim.url)
    with serve_bridge(config) as running:
        yield running


@pytest.fixture
def sim(shared_sim: XSimulator, bridge: Bridge) -> XSimulator:
    shared_sim.reset()
    shared_sim.webhook_target = f"{bridge['url']}/webhooks/x"
    return shared_sim


@pytest.fixture
def store(bridge: Bridge) -> Store:
    return bridge["store"]


@pytest.fixture
def channel(sim: XSimulator) -> XChannel:
    return XChannel(
        name="acme-x", consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET, access_token=TOKEN,
        access_token_secret=TOKEN_SECRET, api_url=sim.url, timeout=5,
    )  # fmt: skip


@pytest.fixture
def client(tmp_path: Path) -> tuple[FlaskClient, Store]:
    config = make_config(tmp_path, "http://127.0.0.1:9")
    store = Store.from_url("sqlite://")  # in memory: the test client runs in this thread
    return create_app(config, store=store).test_client(), store


def signed_post(
    test_client: FlaskClient, body: bytes, *, secret: str = CONSUMER_SECRET, path: str = "/webhooks/x", **kwargs: str
) -> TestResponse:
    headers = {"x-twitter-webhooks-signature": kwargs.pop("signature", None) or sign_x(body, secret)}
    content_type = kwargs.pop("content_type", "application/json")
    return test_client.post(path, data=body, headers=headers, content_type=content_type)


def parse_all(
    config: config_module.Config, payload: Any, resolve: x_webhook.Resolver | None = None
) -> list[SocialEvent | Ignored]:
    with create_app(config, store=Store.from_url("sqlite://")).test_request_context():
        return list(x_webhook.parse(payload, config.channels_for("x"), resolve=resolve))


def parse_fixture(
    config: config_module.Config, payload: Any, resolve: x_webhook.Resolver | None = None
) -> list[SocialEvent]:
    """The customers' events in a payload (what is recorded as ignored: :func:`ignored_reasons`)."""
    return [e for e in parse_all(config, payload, resolve) if isinstance(e, SocialEvent)]


def ignored_reasons(config: config_module.Config, payload: Any, resolve: x_webhook.Resolver | None = None) -> list[str]:
    return [e.reason for e in parse_all(config, payload, resolve) if isinstance(e, Ignored)]


def config_for(tmp_path: Path, account_id: str) -> config_module.Config:
    return make_config(tmp_path, "http://127.0.0.1:9", account_id=account_id)


# -- the OpenAPI spec ----------------------------------------------------------------------------------------


def assert_valid_request(method: str, path: str, body: Any) -> None:
    """Validate a request against the operation in the X API v2 OpenAPI spec (path parameters and body)."""
    for template, operations in SPEC["paths"].items():
        pattern = "^" + "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else p for p in _pieces(template)) + "$"
        match = re.match(pattern, path)
        if match and method.lower() in operations:
            operation = operations[method.lower()]
            break
    else:
        raise AssertionError(f"{method} {path} is not an operation of the X API v2")
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path":
            assert re.fullmatch(parameter["schema"]["pattern"], match.group(parameter["name"]))
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    resource = referencing.Resource.from_contents(SPEC, default_specification=referencing.jsonschema.DRAFT202012)
    registry = referencing.Registry().with_resource("urn:x-api-v2", resource)
    jsonschema.Draft202012Validator({"$ref": "urn:x-api-v2" + schema["$ref"]}, registry=registry).validate(body)


def _pieces(template: str) -> list[str]:
    return [piece for piece in re.split(r"(\{[^}]+\})", template) if piece]


def test_the_spec_validator_catches_a_bad_body() -> None:
    assert_valid_request("POST", "/2/tweets", {"text": "hi", "reply": {"in_reply_to_tweet_id": "123"}})
    with pytest.raises(jsonschema.ValidationError):
        assert_valid_request("POST", "/2/tweets", {"text": "hi", "reply": {"in_reply_to_tweet_id": 123}})
    with pytest.raises(jsonschema.ValidationError):
        assert_valid_request("POST", "/2/dm_conversations/with/42/messages", {"message": "hi"})
    with pytest.raises(AssertionError):
        assert_valid_request("POST", "/2/dm_conversations/with/not-a-number/messages", {"text": "hi"})


# -- signatures: the published vectors through the views -----------------------------------------------------


def test_crc_vector(tmp_path: Path) -> None:
    config = make_config(tmp_path, "http://127.0.0.1:9", consumer_secret="test", account_id=BRAND)
    test_client = create_app(config, store=Store.from_url("sqlite://")).test_client()
    response = test_client.get("/webhooks/x", query_string={"crc_token": "challenge_string"})
    assert response.status_code == 200
    assert response.get_json() == {"response_token": "sha256=SYYKwb5URQ4OnNXL3KWDH9ph6EIaP+4PTQFxLk5FIK4="}
    by_name = test_client.get("/webhooks/x/acme-x", query_string={"crc_token": "challenge_string"})
    assert by_name.get_json() == response.get_json()


def test_post_signature_vector(tmp_path: Path) -> None:
    config = make_config(tmp_path, "http://127.0.0.1:9", consumer_secret="test", account_id=BRAND)
    test_client = create_app(config, store=Store.from_url("sqlite://")).test_client()
    body = b'{"test_number":1,"test_string":"two"}'
    good = "sha256=YWHphPn/JFq43jkF0y4/w8R/SelmLjvpunhVFY8JhlI="
    accepted = signed_post(test_client, body, signature=good)
    assert accepted.status_code == 400  # past the signature: the body is just not an X payload
    assert accepted.get_json() == {"error": "expected an Account Activity (for_user_id) or X Activity (data) payload"}
    refused = signed_post(test_client, body, signature=good.replace("Y", "Z", 1))
    assert (refused.status_code, refused.get_json()) == (401, {"error": "invalid signature"})


def test_oauth1_signature_vector() -> None:
    """X's documented example ("Creating a signature"): the same base string and signature."""
    params = {
        "status": "Hello Ladies + Gentlemen, a signed OAuth request!", "include_entities": "true",
        "oauth_consumer_key": "xvz1evFS4wEEPTGEFPHBog", "oauth_nonce": "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
        "oauth_signature_method": "HMAC-SHA1", "oauth_timestamp": "1318622958",
        "oauth_token": "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", "oauth_version": "1.0",
    }  # fmt: skip
    base = signature_base_string("POST", "https://api.twitter.com/1.1/statuses/update.json", params)
    assert base.startswith("POST&https%3A%2F%2Fapi.twitter.com%2F1.1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue")
    assert "status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521" in base
    secret, token_secret = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw", "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"
    assert oauth1_signature(base, secret, token_secret) == "hCtSmYh+iHYCEqBWrE7C7hYmtUk="


# -- every fixture parsed ------------------------------------------------------------------------------------


def test_aaa_post_fixture_by_the_account_itself_is_an_echo(tmp_path: Path) -> None:
    """Our own post is no customer's, and is recorded as ignored (not dropped without a trace), under a key of
    its own: the post's id stays free for the thread a customer's reply to it joins (_stored_thread)."""
    payload = fixture_json("x/x_tweet_create_events.json")
    [echo] = parse_all(config_for(tmp_path, payload["for_user_id"]), payload)
    assert isinstance(echo, Ignored) and (echo.message_id, echo.reason) == ("own:1296887316556980230", "x own post")


def test_aaa_post_fixture_from_a_customer(tmp_path: Path) -> None:
    payload = fixture_json("x/x_tweet_create_events.json")
    payload["tweet_create_events"][0]["user"].update(id=9, id_str="9", screen_name="jane", name="Jane")
    [event] = parse_fixture(config_for(tmp_path, payload["for_user_id"]), payload)
    assert event.message_id == "1296887316556980230"  # id_str: the numeric id lost its last digits
    assert event.thread_id == "conversation:1296887091901718529"  # the post it answers (not stored here)
    assert event.reply_to == "1296887316556980230" and event.kind == "comment"
    assert event.text == (
        "See how @PennMedCDH are using X data to understand the COVID-19 health crisis 📊\n\n"
        "https://developer.x.com/en/use-cases/success-stories/penn"
    )
    assert event.created_at == datetime(2020, 8, 21, 19, 10, 5, tzinfo=UTC)
    assert (event.author.id, event.author.handle, event.author.name) == ("9", "jane", "Jane")
    assert event.url == "https://x.com/jane/status/1296887316556980230"


def test_aaa_dm_fixture(tmp_path: Path) -> None:
    payload = fixture_json("x/x_direct_message_events.json")
    [event] = parse_fixture(config_for(tmp_path, "4337869213"), payload)
    assert (event.message_id, event.thread_id, event.reply_to) == ("954491830116155396", "dm:3001969357", "3001969357")
    assert (event.kind, event.text, event.author.name, event.author.handle) == (
        "message", "Hello World!", "Jordan Brinks", "furiouscamper",
    )  # fmt: skip
    assert event.created_at == datetime.fromtimestamp(1516403560.557, UTC)


def test_aaa_dm_sent_by_the_account_is_an_echo(tmp_path: Path) -> None:
    payload = fixture_json("x/x_direct_message_events.json")
    [echo] = parse_all(config_for(tmp_path, "3001969357"), {**payload, "for_user_id": "3001969357"})
    assert isinstance(echo, Ignored) and (echo.message_id, echo.reason) == ("own:954491830116155396",
                                                                             "x own direct message")  # fmt: skip


def test_xaa_mention_by_the_account_itself_is_an_echo(tmp_path: Path) -> None:
    """A mention X delivers for a post of ours (the support account's reply that names the main one, reply_from)."""
    payload = fixture_json("x/x_xaa_post_mention_create.json")
    payload["data"]["payload"]["author_id"] = BRAND
    [echo] = parse_all(config_for(tmp_path, BRAND), payload)
    assert isinstance(echo, Ignored) and (echo.message_id, echo.reason) == ("own:2080765813578191303", "x own post")


def test_xaa_mention_fixture(tmp_path: Path) -> None:
    [event] = parse_fixture(config_for(tmp_path, BRAND), fixture_json("x/x_xaa_post_mention_create.json"))
    assert (event.message_id, event.thread_id) == ("2080765813578191303", "conversation:2080765813578191303")
    assert (event.text, event.author.id, event.author.handle) == ("hey @ExampleUser", CUSTOMER, CUSTOMER_HANDLE)
    assert event.created_at == datetime(2026, 7, 24, 21, 23, 23, tzinfo=UTC)


def test_xaa_dm_fixture(tmp_path: Path) -> None:
    [event] = parse_fixture(config_for(tmp_path, BRAND), fixture_json("x/x_xaa_dm_received.json"))
    assert (event.message_id, event.thread_id, event.text) == ("2080765901528535096", f"dm:{CUSTOMER}", "hello!")
    assert (event.author.name, event.author.handle) == ("OtherUser", "OtherUser")


def test_xaa_other_events_and_other_accounts_are_ignored(tmp_path: Path) -> None:
    config = config_for(tmp_path, BRAND)
    own_post = fixture_json("x/x_xaa_event_envelope.json")  # post.create: our own posts
    assert parse_fixture(config, own_post) == [] and ignored_reasons(config, own_post) == ["x own post"]
    other_account = fixture_json("x/x_xaa_post_mention_create.json")
    assert parse_fixture(config_for(tmp_path, "42"), other_account) == []
    [no_channel] = parse_all(config_for(tmp_path, "42"), other_account)
    assert isinstance(no_channel, Ignored) and (no_channel.channel, no_channel.account_id, no_channel.reason) == (
        "", "1111111111111111111", "x event for an account with no channel",
    )  # fmt: skip


@pytest.mark.parametrize(
    "name",
    [
        "x_tweet_create_events.json",
        "x_direct_message_events.json",
        "x_xaa_post_mention_create.json",
        "x_xaa_dm_received.json",
        "x_xaa_event_envelope.json",
    ],
)
def test_every_fixture_is_acknowledged_through_the_view(client: tuple[FlaskClient, Store], name: str) -> None:
    test_client, store = client
    body = fixture_bytes(f"x/{name}")
    response = signed_post(test_client, body)
    assert response.status_code == 200 and response.get_json()["ok"] is True
    customers = 1 if name in ("x_xaa_post_mention_create.json", "x_xaa_dm_received.json") else 0  # our account only
    [row] = store.rows("inbox")  # the others: another account's, or our own post, recorded as ignored
    assert (row["status"] == "pending") == bool(customers) and response.get_json()["stored"] == 1
    assert signed_post(test_client, body).get_json()["stored"] == 0  # a redelivery stores nothing


def test_long_posts_are_read_in_full(tmp_path: Path) -> None:
    config = config_for(tmp_path, BRAND)
    long_text = "My order #1234 arrived broken. " * 12
    v1 = {"for_user_id": BRAND, "tweet_create_events": [{
        "id_str": "5", "text": long_text[:140], "truncated": True, "user": {"id_str": "9", "screen_name": "j"},
        "extended_tweet": {"full_text": long_text}, "created_at": "Fri Aug 21 19:10:05 +0000 2020"}]}  # fmt: skip
    v2 = fixture_json("x/x_xaa_post_mention_create.json")
    v2["data"]["payload"]["note_tweet"] = {"text": long_text}
    assert [e.text for e in parse_fixture(config, v1) + parse_fixture(config, v2)] == [long_text, long_text]


def test_reposts_are_dropped_and_text_is_unescaped(tmp_path: Path) -> None:
    config = config_for(tmp_path, BRAND)
    post = {"id_str": "7", "text": "a &amp; b &lt;3", "user": {"id_str": "9"}, "created_at": "x"}
    [event] = parse_fixture(config, {"for_user_id": BRAND, "tweet_create_events": [post]})
    assert event.text == "a & b <3"
    repost = {**post, "retweeted_status": {"id_str": "1"}}
    assert ignored_reasons(config, {"for_user_id": BRAND, "tweet_create_events": [repost]}) == ["x repost"]
    assert parse_fixture(config, {"for_user_id": BRAND, "tweet_create_events": [repost]}) == []
    xaa = fixture_json("x/x_xaa_post_mention_create.json")
    xaa["data"]["payload"]["referenced_tweets"] = [{"type": "retweeted", "id": "1"}]
    assert parse_fixture(config, xaa) == [] and ignored_reasons(config, xaa) == ["x repost"]


def test_a_v1_reply_joins_the_thread_of_the_post_it_answers(tmp_path: Path) -> None:
    config = config_for(tmp_path, BRAND)
    threads = {"100": "conversation:50"}
    resolve: x_webhook.Resolver = lambda account, post_id: threads.get(post_id) if account == BRAND else None  # noqa: E731
    first = {"id_str": "200", "in_reply_to_status_id_str": "100", "text": "still broken", "user": {"id_str": "9"}}
    second = {"id_str": "300", "in_reply_to_status_id_str": "200", "text": "hello?", "user": {"id_str": "9"}}
    stray = {"id_str": "400", "in_reply_to_status_id_str": "399", "text": "hm", "user": {"id_str": "9"}}
    payload = {"for_user_id": BRAND, "tweet_create_events": [first, second, stray]}
    events = parse_fixture(config, payload, resolve=resolve)
    assert [e.thread_id for e in events] == ["conversation:50", "conversation:50", "conversation:399"]


def test_a_reply_to_our_own_sent_post_is_found_through_the_store(client: tuple[FlaskClient, Store]) -> None:
    test_client, store = client
    mention = {"id_str": "500", "text": "@AcmeSupport help", "user": {"id_str": "9"}}
    assert signed_post(test_client, json.dumps({"for_user_id": BRAND, "tweet_create_events": [mention]}).encode())
    key = f"x:{BRAND}:conversation:500"
    store.start_delivery(helpdesk="zendesk", comment_id="c1", ticket_id="1", thread_key=key, at=time.time())
    store.finish_delivery("zendesk", "c1", status="sent", platform="x", message_ids=["600"])  # our reply
    reply = {"id_str": "700", "in_reply_to_status_id_str": "600", "text": "thanks", "user": {"id_str": "9"}}
    response = signed_post(test_client, json.dumps({"for_user_id": BRAND, "tweet_create_events": [reply]}).encode())
    assert response.get_json()["stored"] == 1
    assert {row["thread_key"] for row in store.rows("inbox")} == {key}


def test_deleted_post_becomes_a_remove_event_for_a_known_thread(tmp_path: Path) -> None:
    config = config_for(tmp_path, BRAND)
    deletion = {"status": {"id": "100", "user_id": "9"}, "timestamp_ms": "1700000000000"}
    resolve: x_webhook.Resolver = lambda account, post_id: "conversation:100" if post_id == "100" else None  # noqa: E731
    [event] = parse_fixture(config, {"for_user_id": BRAND, "tweet_delete_events": [deletion]}, resolve=resolve)
    assert (event.kind, event.message_id, event.thread_id) == ("remove", "100#remove", "conversation:100")
    unknown = {"for_user_id": BRAND, "tweet_delete_events": [deletion]}
    assert parse_fixture(config, unknown) == []
    assert ignored_reasons(config, unknown) == ["x deleted post of no known thread"]


def test_account_id_can_come_from_the_access_token(tmp_path: Path) -> None:
    config = make_config(tmp_path, "http://127.0.0.1:9")  # no account_id: the token starts with it
    channel_config = config.channel("acme-x")
    assert channel_config is not None
    assert x_webhook.account_of(channel_config) == BRAND == account_from_token(TOKEN)
    assert build_channel(channel_config).account_id == BRAND


# -- what X sends besides customers' words: recorded as ignored, with a reason per kind ------------------------


@pytest.mark.parametrize(
    ("name", "account", "reasons"),
    [
        ("x_aaa_favorite_events.COMPOSED.json", "2244994945", ["x like"]),
        ("x_aaa_follow_events.COMPOSED.json", "2244994945", ["x follow", "x unfollow"]),
        ("x_aaa_direct_message_indicate_typing_events.json", "4337869213", ["x typing indicator"]),
        ("x_aaa_direct_message_mark_read_events.json", "4337869213", ["x direct message read"]),
        ("x_aaa_tweet_delete_events.json", "930524282358325248", ["x own post deleted"]),
        ("x_xaa_like_create.json", BRAND, ["x like"]),
        ("x_xaa_post_repost_create.json", BRAND, ["x repost"]),
    ],
)
def test_likes_follows_reposts_typing_and_reads_are_recorded_as_ignored_once(
    tmp_path: Path, name: str, account: str, reasons: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    config = config_for(tmp_path, account)
    body = fixture_bytes(f"x/{name}")
    assert parse_fixture(config, json.loads(body)) == []
    assert ignored_reasons(config, json.loads(body)) == reasons
    test_client = create_app(config, store=(store := Store.from_url("sqlite://"))).test_client()
    with caplog.at_level("INFO", logger="webhooks.x"):
        response = signed_post(test_client, body)
    assert response.get_json() == {"ok": True, "received": len(reasons), "stored": len(reasons)}
    logged = [r.getMessage() for r in caplog.records if "recorded as ignored" in r.getMessage()]
    assert [line.rsplit("(", 1)[-1].rstrip(")") for line in logged] == reasons  # in the log too, one line each
    assert signed_post(test_client, body).get_json()["stored"] == 0  # a redelivery is the same event
    assert sorted((r["status"], r["last_error"]) for r in store.rows("inbox")) == sorted(
        ("ignored", reason) for reason in reasons
    )


def test_a_revocation_is_accepted_recorded_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """X's documented user_event has no for_user_id: it was answered 400, a delivery X counts as failed."""
    config = config_for(tmp_path, "63046977")
    store = Store.from_url("sqlite://")
    test_client = create_app(config, store=store).test_client()
    with caplog.at_level("WARNING", logger="webhooks.x"):
        response = signed_post(test_client, fixture_bytes("x/x_aaa_user_event_revoke.json"))
    assert (response.status_code, response.get_json()["stored"]) == (200, 1)
    [row] = store.rows("inbox")
    assert (row["status"], row["last_error"], row["account_id"], row["channel"]) == (
        "ignored", "x app access revoked", "63046977", "acme-x",
    )  # fmt: skip
    assert any("acme-x" in r.getMessage() and "revoked" in r.getMessage() for r in caplog.records)
    assert (store.setting("x_revoked:63046977") or "").startswith("2018-05-24T09:48:12+00:00|")
    again = signed_post(test_client, fixture_bytes("x/x_aaa_user_event_revoke.json"))
    assert (again.status_code, again.get_json()["stored"]) == (200, 0)  # X's redelivery: the same event


def test_an_x_activity_revocation_is_recorded_too(client: tuple[FlaskClient, Store], tmp_path: Path) -> None:
    test_client, store = client
    response = signed_post(test_client, fixture_bytes("x/x_xaa_oauth_revoke.json"))  # its filter is empty
    assert response.status_code == 200
    assert [(r["status"], r["last_error"]) for r in store.rows("inbox")] == [("ignored", "x app access revoked")]
    assert (store.setting(f"x_revoked:{BRAND}") or "").startswith("2026-07-23T21:44:05+00:00|")
    revoked, renewed = (
        make_config(tmp_path, "http://127.0.0.1:9"),
        make_config(tmp_path, "http://127.0.0.1:9", access_token=TOKEN + "2"),
    )
    assert revocations.revoked_at(store, revoked.channels_for("x")[0], BRAND) == "2026-07-23T21:44:05+00:00"
    assert revocations.revoked_at(store, renewed.channels_for("x")[0], BRAND) is None  # authorised again
    assert TOKEN not in (store.setting(f"x_revoked:{BRAND}") or "")


def test_a_quote_post_of_the_brand_is_the_customer_speaking(tmp_path: Path) -> None:
    """X Activity's post.quote.create was 'acknowledged and ignored': the customer's words went nowhere."""
    [quote] = parse_fixture(config_for(tmp_path, BRAND), fixture_json("x/x_xaa_post_quote_create.json"))
    assert (quote.kind, quote.text, quote.author.id) == ("comment", "Adding some context to this.", CUSTOMER)
    assert (quote.thread_id, quote.reply_to) == ("conversation:2090000000000000002", "2090000000000000002")
    assert [(a.kind, a.url) for a in quote.attachments] == [
        ("quoted post", "https://x.com/i/web/status/2080761390344937796")
    ]


def test_an_account_activity_quote_shows_what_it_quotes(tmp_path: Path) -> None:
    config = config_for(tmp_path, "1079578364904648705")
    payload = fixture_json("x/x_aaa_quote_tweet.COMPOSED.json")
    [quote] = parse_fixture(config, payload)
    assert (quote.text, quote.thread_id, quote.reply_to) == (
        "Quote test", "conversation:1081260794069671936", "1081260794069671936",
    )  # fmt: skip
    assert [(a.kind, a.url) for a in quote.attachments] == [
        ("quoted post", "https://x.com/infinite_scream/status/1079578364904648705")
    ]
    quoted_status = payload["tweet_create_events"][0]
    retweet = {**quoted_status, "id_str": "1081260794069671999", "retweeted_status": quoted_status}
    assert ignored_reasons(config, {**payload, "tweet_create_events": [retweet]}) == ["x repost of a quote"]


def test_a_quote_without_words_of_its_own_is_recorded_as_ignored(tmp_path: Path) -> None:
    payload = fixture_json("x/x_xaa_post_quote_create.json")
    payload["data"]["payload"]["text"] = "https://t.co/xxxxxxxx"
    assert ignored_reasons(config_for(tmp_path, BRAND), payload) == ["x quote without text"]


def test_a_video_is_linked_to_its_best_mp4_not_its_thumbnail(tmp_path: Path) -> None:
    [post] = parse_fixture(config_for(tmp_path, "2244994945"), fixture_json("x/x_aaa_video_tweet.COMPOSED.json"))
    assert [(a.kind, a.url) for a in post.attachments] == [
        ("video", "https://video.twimg.com/ext_tw_video/869317980307415040/pu/vid/720x1280/octt5pFbISkef8RB.mp4"),
        ("video", "https://video.twimg.com/tweet_video/DBMDLy_U0AAqUWP.mp4"),
    ]


def test_an_x_activity_post_links_its_media(tmp_path: Path) -> None:
    """v2 posts carry media keys, the media in ``includes.media`` (shaped by the v2 spec's Media schema):
    they were not read at all."""
    media = [
        {"media_key": "3_1", "type": "photo", "url": "https://pbs.twimg.com/media/FxAbC.jpg", "width": 1200},
        {"media_key": "7_2", "type": "video", "preview_image_url": "https://pbs.twimg.com/ext_tw_video_thumb/2.jpg",
         "variants": [{"bit_rate": 632000, "content_type": "video/mp4", "url": "https://video.twimg.com/v/low.mp4"},
                      {"content_type": "application/x-mpegURL", "url": "https://video.twimg.com/v/pl.m3u8"},
                      {"bit_rate": 2176000, "content_type": "video/mp4", "url": "https://video.twimg.com/v/high.mp4"}]},
    ]  # fmt: skip
    resource = referencing.Resource.from_contents(SPEC, default_specification=referencing.jsonschema.DRAFT202012)
    registry = referencing.Registry().with_resource("urn:x-api-v2", resource)
    for item in media:
        validator = {"$ref": "urn:x-api-v2#/components/schemas/Media"}
        jsonschema.Draft202012Validator(validator, registry=registry).validate(item)
    payload = fixture_json("x/x_xaa_post_mention_create.json")
    payload["data"]["payload"]["attachments"] = {"media_keys": ["3_1", "7_2"]}
    payload["data"]["includes"]["media"] = media
    [post] = parse_fixture(config_for(tmp_path, BRAND), payload)
    assert [(a.kind, a.url) for a in post.attachments] == [
        ("image", "https://pbs.twimg.com/media/FxAbC.jpg"),
        ("video", "https://video.twimg.com/v/high.mp4"),
    ]


def test_a_removed_post_is_named_a_post_and_a_direct_message_a_direct_message(tmp_path: Path) -> None:
    config = config_for(tmp_path, BRAND)
    deletion = {"for_user_id": BRAND, "tweet_delete_events": [{"status": {"id": "100", "user_id": "9"}}]}
    [removed] = parse_fixture(config, deletion, resolve=lambda _account, _post: "conversation:100")
    assert messages.edited_note(removed).startswith("The customer removed their X post (100#remove)")
    [dm] = parse_fixture(config, fixture_json("x/x_xaa_dm_received.json"))
    assert "X direct message" in messages.edited_note(replace(dm, kind="remove"))


# -- bad input ---------------------------------------------------------------------------------------------


GOOD = fixture_bytes("x/x_xaa_dm_received.json")


@pytest.mark.parametrize(
    ("body", "kwargs", "status", "error"),
    [
        (GOOD, {"signature": "sha256=" + "A" * 44}, 401, "invalid signature"),
        (GOOD, {"secret": "another-app"}, 401, "invalid signature"),
        (GOOD, {"signature": "sha256=ünïcode"}, 401, "invalid signature"),
        (GOOD, {"content_type": "text/plain"}, 415, "expected Content-Type: application/json"),
        (b"{not json", {}, 400, "body is not valid JSON"),
        (b"[]", {}, 400, "expected a JSON object"),
        (json.dumps({"for_user_id": BRAND, "tweet_create_events": {}}).encode(), {}, 400,
         "tweet_create_events must be an array"),
        (GOOD, {"path": "/webhooks/x/nope"}, 404, "unknown X channel"),
        (GOOD, {"path": "/webhooks/x/acme-facebook"}, 404, "unknown X channel"),
    ],
)  # fmt: skip
def test_bad_input_gets_a_short_json_4xx(
    client: tuple[FlaskClient, Store], body: bytes, kwargs: dict[str, str], status: int, error: str
) -> None:
    test_client, store = client
    response = signed_post(test_client, body, **kwargs)
    assert (response.status_code, response.get_json()) == (status, {"error": error})
    assert store.rows("inbox") == []


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"data": [1]}, "not an object"),
        ({"data": {"filter": {}}}, "missing event_type"),
        ({"data": {"event_type": "dm.received", "filter": {"user_id": BRAND}}}, "missing payload"),
        ({"for_user_id": BRAND, "tweet_create_events": [{"id": 1}]}, "missing id_str"),
        ({"for_user_id": BRAND, "tweet_create_events": [{"id_str": "1"}]}, "missing user.id_str"),
        ({"for_user_id": BRAND, "direct_message_events": [{"type": "message_create", "id": "9"}]},
         "missing message_create.sender_id"),
        # a field of the wrong type: was a ticket "(no text)", or (an item that is no object) no trace at all
        ({"for_user_id": BRAND, "tweet_create_events": [{"id_str": "1", "user": {"id_str": CUSTOMER},
                                                         "text": ["hi"]}]}, "text is a list, not a string"),
        ({"for_user_id": BRAND, "tweet_create_events": [{"id_str": "1", "user": {"id_str": CUSTOMER}, "text": "hi",
                                                         "extended_tweet": "hi"}]},
         "extended_tweet is a string, not an object"),
        ({"for_user_id": BRAND, "tweet_create_events": ["junk"]}, "not an object but a string"),
        ({"for_user_id": BRAND, "direct_message_events": [{"type": "message_create", "id": "9", "message_create": {
            "sender_id": CUSTOMER, "message_data": {"text": {"t": 1}}}}]},
         "message_create.message_data.text is an object, not a string"),
        ({"data": {"event_type": "post.mention.create", "filter": {"user_id": BRAND},
                   "payload": {"id": "5", "author_id": CUSTOMER, "text": 5}}}, "text is a number, not a string"),
    ],
)  # fmt: skip
def test_an_unusable_event_is_recorded_as_ignored(
    client: tuple[FlaskClient, Store], payload: dict[str, Any], reason: str
) -> None:
    test_client, store = client
    body = json.dumps(payload).encode()
    assert signed_post(test_client, body).get_json() == {"ok": True, "received": 1, "stored": 1}
    assert [(r["status"], r["last_error"]) for r in store.rows("inbox")] == [("ignored", f"x unusable event: {reason}")]
    assert signed_post(test_client, body).get_json()["stored"] == 0  # a redelivery is the same record


def test_an_account_activity_array_of_an_unknown_kind_is_recorded(tmp_path: Path) -> None:
    """X adds event arrays over time: one this version does not know was dropped, "received": 0, no trace."""
    quote = fixture_json("x/x_aaa_quote_tweet.COMPOSED.json")
    vote = {"id": "77", "timestamp_ms": "1546456790000", "user": {"id_str": CUSTOMER}}
    payload = {**quote, "poll_vote_events": [vote], "other_events": {"not": "a list"}}
    config = config_for(tmp_path, quote["for_user_id"])
    assert ignored_reasons(config, payload) == ["x account activity event of another kind"]
    assert [e.text for e in parse_fixture(config, payload)] == ["Quote test"]  # the rest is kept


def test_one_unusable_event_does_not_sink_its_post(tmp_path: Path) -> None:
    """A POST with a quote of the brand, a like and a broken post: the quote reaches the inbox, the like and
    the broken post are recorded as ignored (the whole POST was a 400, which X sends again and again)."""
    quote, likes = (
        fixture_json("x/x_aaa_quote_tweet.COMPOSED.json"),
        fixture_json("x/x_aaa_favorite_events.COMPOSED.json"),
    )
    broken = {**quote["tweet_create_events"][0], "id_str": "1081260794069671999", "user": {}}
    payload = {
        **quote,
        "tweet_create_events": [broken, *quote["tweet_create_events"]],
        "favorite_events": likes["favorite_events"],
    }
    config = config_for(tmp_path, quote["for_user_id"])
    store = Store.from_url("sqlite://")
    response = signed_post(create_app(config, store=store).test_client(), json.dumps(payload).encode())
    assert response.get_json() == {"ok": True, "received": 3, "stored": 3}
    assert sorted((r["status"], r["last_error"]) for r in store.rows("inbox")) == [
        ("ignored", "x like"), ("ignored", "x unusable event: missing user.id_str"), ("pending", None),
    ]  # fmt: skip
    [row] = [r for r in store.rows("inbox") if r["status"] == "pending"]
    assert SocialEvent.from_json(row["payload"]).text == "Quote test"


@pytest.mark.parametrize(
    ("query", "error"), [({}, "crc_token is required"), ({"crc_token": "a" * 2000}, "crc_token is too long")]
)
def test_bad_crc_requests(client: tuple[FlaskClient, Store], query: dict[str, str], error: str) -> None:
    response = client[0].get("/webhooks/x", query_string=query)
    assert (response.status_code, response.get_json()) == (400, {"error": error})


# -- XChannel against the simulator ---------------------------------------------------------------------------


def thread(thread_id: str, last: str | None = None, reply_to: str = "") -> ThreadState:
    return ThreadState(
        key=f"x:{BRAND}:{thread_id}", platform="x", channel="acme-x", account_id=BRAND, thread_id=thread_id,
        reply_to=reply_to or thread_id.split(":")[1], last_inbound_at=None, last_inbound_message_id=last, ticket_id="1",
    )  # fmt: skip


def customer_thread(sim: XSimulator) -> tuple[ThreadState, str]:
    first = sim.customer_post("@AcmeSupport my order?", user_id=CUSTOMER, username=CUSTOMER_HANDLE, send=False)
    latest = sim.customer_post("hello??", user_id=CUSTOMER, username=CUSTOMER_HANDLE, in_reply_to=first.id, send=False)
    return thread(f"conversation:{first.conversation_id}", latest.id, first.id), latest.id


def requests_made(sim: XSimulator, method: str, prefix: str) -> list[Call]:
    calls = sim.calls_to(method, prefix)
    for call in calls:
        assert_valid_request(method, call.path, call.json)
        authorization = call.headers.get("Authorization", "")  # carries the access token, never a secret
        assert CONSUMER_SECRET not in authorization and TOKEN_SECRET not in authorization
    return calls


def raised(exc_info: pytest.ExceptionInfo[E]) -> E:
    error = exc_info.value
    for text in (error, error.message, repr(error), error.__cause__, repr(error.__cause__)):
        assert not any(secret in str(text) for secret in SECRETS)
    assert error.platform == "x"
    return error


def test_reply_answers_the_latest_post_of_the_customer(sim: XSimulator, channel: XChannel) -> None:
    state, latest = customer_thread(sim)
    delivery = channel.send_reply(state, "We're on it, sorry for the wait!", now=datetime.now(UTC))
    [call] = requests_made(sim, "POST", "/2/tweets")
    assert call.json == {"text": "We're on it, sorry for the wait!", "reply": {"in_reply_to_tweet_id": latest}}
    assert (
        call.headers["Authorization"].startswith("OAuth ")
        and 'oauth_signature_method="HMAC-SHA1"' in call.headers["Authorization"]
    )
    post = sim.posts[delivery.message_ids[0]]
    assert (post.author_id, post.in_reply_to, post.conversation_id) == (BRAND, latest, state.thread_id.split(":")[1])


def test_a_long_reply_becomes_a_numbered_chain_of_valid_posts(sim: XSimulator, channel: XChannel) -> None:
    state, latest = customer_thread(sim)
    text = " ".join(
        f"Step {i}: open https://help.acme.example.com/articles/{i}/how-to-reset-your-device and follow it."
        for i in range(1, 15)
    )
    delivery = channel.send_reply(state, text, now=datetime.now(UTC))
    calls = requests_made(sim, "POST", "/2/tweets")
    assert len(calls) == len(delivery.message_ids) >= 3
    texts = [c.json["text"] for c in calls]
    assert all(xtext.is_valid_post(t) and xtext.weighted_length(t) <= 280 for t in texts)
    assert [t.rsplit(" ", 1)[1] for t in texts] == [f"({i}/{len(texts)})" for i in range(1, len(texts) + 1)]
    targets = [c.json["reply"]["in_reply_to_tweet_id"] for c in calls]
    assert targets == [latest, *delivery.message_ids[:-1]]  # each part answers the previous one


def test_a_reply_over_the_channels_max_reply_parts_is_refused_before_posting(sim: XSimulator, tmp_path: Path) -> None:
    state, _ = customer_thread(sim)
    channel = build_channel(make_config(tmp_path, sim.url, max_reply_parts=2).channel("acme-x"))  # type: ignore[arg-type]
    with pytest.raises(errors.PermanentError) as refused:
        channel.send_reply(state, "word " * 150, now=datetime.now(UTC))  # 3 posts
    assert refused.value.code == "too_long" and "at most 2" in refused.value.message
    assert requests_made(sim, "POST", "/2/tweets") == []
    assert len(channel.send_reply(state, "word " * 100, now=datetime.now(UTC)).message_ids) == 2


def test_direct_message_goes_to_the_participant(sim: XSimulator, channel: XChannel) -> None:
    dm = sim.customer_dm("where is my parcel?", user_id=CUSTOMER, username=CUSTOMER_HANDLE, send=False)
    delivery = channel.send_reply(thread(f"dm:{CUSTOMER}", dm.id), "Checking now!", now=datetime.now(UTC))
    [call] = requests_made(sim, "POST", "/2/dm_conversations/")
    assert call.path == f"/2/dm_conversations/with/{CUSTOMER}/messages" and call.json == {"text": "Checking now!"}
    assert sim.sent_dms == [{"participant_id": CUSTOMER, "text": "Checking now!", "id": delivery.message_ids[0]}]


def test_a_direct_message_over_10000_characters_is_refused(sim: XSimulator) -> None:
    """X API reference, POST /2/dm_conversations/with/:participant_id/messages: "Text messages support up
    to 10,000 characters"."""
    sim.customer_dm("where is my parcel?", user_id=CUSTOMER, username=CUSTOMER_HANDLE, send=False)
    url, headers = f"{sim.url}/2/dm_conversations/with/{CUSTOMER}/messages", {"Authorization": f"Bearer {BEARER}"}

    longest = requests.post(url, json={"text": "é" * 10_000}, headers=headers, timeout=5)
    too_long = requests.post(url, json={"text": "a" * 10_001}, headers=headers, timeout=5)

    assert (longest.status_code, too_long.status_code) == (201, 400)
    problem = too_long.json()
    assert (problem["title"], problem["status"]) == ("Invalid Request", 400)
    assert problem["type"] == "https://api.x.com/2/problems/invalid-request" and "$.text" in problem["detail"]
    assert [len(dm["text"]) for dm in sim.sent_dms] == [10_000]


def test_bearer_token_mode(sim: XSimulator) -> None:
    bearer = XChannel(
        name="acme-x", consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET, bearer_token=BEARER,
        account_id=BRAND, api_url=sim.url,
    )  # fmt: skip
    assert bearer.ping() == f"@{BRAND_NAME}"
    assert sim.calls[-1].headers["Authorization"] == f"Bearer {BEARER}"


def test_ping_refuses_credentials_of_another_user_than_account_id(sim: XSimulator) -> None:
    """/2/users/me's data.id is the account the credentials act as, and X's webhooks name the account by it."""
    other = "2222222222222222222"
    wrong = XChannel(
        name="acme-x", consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET, access_token=TOKEN,
        access_token_secret=TOKEN_SECRET, account_id=other, api_url=sim.url,
    )  # fmt: skip
    with pytest.raises(errors.ConfigError) as exc_info:
        wrong.ping()
    assert (
        exc_info.value.message
        == f'the token is for X user {BRAND}, but account_id is {other!r}: set account_id = "{BRAND}"'
    )


def test_wrong_secret_is_an_auth_error(sim: XSimulator) -> None:
    wrong = XChannel(
        name="acme-x", consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET, access_token=TOKEN,
        access_token_secret="not-the-secret", api_url=sim.url,
    )  # fmt: skip
    with pytest.raises(errors.AuthError) as exc_info:
        wrong.ping()
    assert raised(exc_info).http_status == 401 and "credentials" in exc_info.value.message


def test_duplicate_content_is_permanent_not_auth(sim: XSimulator, channel: XChannel) -> None:
    state, _ = customer_thread(sim)
    channel.send_reply(state, "Thanks for your patience.", now=datetime.now(UTC))
    with pytest.raises(errors.PermanentError) as exc_info:
        channel.send_reply(state, "Thanks for your patience.", now=datetime.now(UTC))
    error = raised(exc_info)
    assert type(error) is errors.PermanentError and error.http_status == 403 and "duplicate" in error.message


def test_reply_to_a_deleted_post_is_not_found(sim: XSimulator, channel: XChannel) -> None:
    with pytest.raises(errors.NotFound) as exc_info:
        channel.send_reply(thread("conversation:123", "456"), "Hello", now=datetime.now(UTC))
    assert "deleted" in raised(exc_info).message


def test_429_waits_until_the_reset_of_the_window(sim: XSimulator, channel: XChannel) -> None:
    state, _ = customer_thread(sim)
    sim.exhaust("POST /2/tweets")
    with pytest.raises(errors.RateLimited) as exc_info:
        channel.send_reply(state, "Hi", now=datetime.now(UTC))
    error = raised(exc_info)
    assert error.retry_after is not None
    assert error.http_status == 429 and 895 <= error.retry_after <= 900  # the 15-minute window, from the headers
    before = len(sim.calls)
    with pytest.raises(errors.RateLimited) as again:
        channel.send_reply(state, "Hi", now=datetime.now(UTC))
    assert again.value.code == "window" and len(sim.calls) == before  # refused here, no request sent


def test_remaining_zero_stops_calls_before_x_refuses_them(sim: XSimulator, channel: XChannel) -> None:
    sim.limits["GET /2/users/me"] = 1
    try:
        assert channel.ping() == f"@{BRAND_NAME}"
        with pytest.raises(errors.RateLimited):
            channel.ping()
        assert len(sim.calls_to("GET", "/2/users/me")) == 1
    finally:
        sim.limits["GET /2/users/me"] = 75


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected", "retry_after"),
    [
        (503, {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": 503},
         {}, errors.Unavailable, None),
        (500, "<html>oops</html>", {"retry-after": "7"}, errors.UnknownOutcome, None),  # a post: maybe published
        (503, "<html>busy</html>", {"retry-after": "7"}, errors.Unavailable, 7.0),
        (429, {"title": "UsageCapExceeded", "detail": "Usage cap exceeded: Monthly product cap",
               "type": "https://api.x.com/2/problems/usage-capped"}, {}, errors.RateLimited, None),
        (400, {"errors": [{"message": "$.text: is missing"}], "title": "Invalid Request",
               "detail": "One or more parameters to your request was invalid.",
               "type": "https://api.x.com/2/problems/invalid-request"}, {}, errors.PermanentError, None),
        (403, {"title": "Forbidden", "detail": "You are not permitted to perform this action.", "type": "about:blank"},
         {}, errors.AuthError, None),
    ],
)  # fmt: skip
def test_error_table(
    sim: XSimulator,
    channel: XChannel,
    status: int,
    body: dict[str, Any] | str,
    headers: dict[str, str],
    expected: type[errors.BridgeError],
    retry_after: float | None,
) -> None:
    state, _ = customer_thread(sim)
    sim.inject(Fault(status, path_prefix="/2/", headers=headers, body=body))
    with pytest.raises(errors.BridgeError) as exc_info:
        channel.send_reply(state, "Hi", now=datetime.now(UTC))
    error = raised(exc_info)
    assert type(error) is expected and error.http_status == status and error.retry_after == retry_after
    assert error.message.startswith("could not reply on X")


def test_timeout_after_sending_is_an_unknown_outcome(sim: XSimulator) -> None:
    state, _ = customer_thread(sim)
    sim.inject(Fault(201, path_prefix="/2/tweets", delay=1.0, body={"data": {"id": "1", "text": "Hi"}}))
    slow = XChannel(
        name="acme-x", consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET, access_token=TOKEN,
        access_token_secret=TOKEN_SECRET, api_url=sim.url, timeout=0.3,
    )  # fmt: skip
    with pytest.raises(errors.UnknownOutcome) as exc_info:
        slow.send_reply(state, "Hi", now=datetime.now(UTC))
    assert not raised(exc_info).retryable


def test_a_failure_inside_a_chain_reports_what_was_posted(sim: XSimulator, channel: XChannel) -> None:
    state, _ = customer_thread(sim)
    text = "This is a sentence that keeps the explanation going for a while. " * 9
    seen: list[int] = []

    def after_first(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        seen.append(response.status_code)
        if len(seen) == 1:
            sim.exhaust("POST /2/tweets")

    channel._session.hooks["response"].append(after_first)
    with pytest.raises(errors.PartiallyDelivered) as exc_info:
        channel.send_reply(state, text, now=datetime.now(UTC))
    error = raised(exc_info)
    assert error.message.startswith("only 1 of 3 parts") and len(error.message_ids) == 1
    assert error.message_ids[0] in sim.posts


def test_unknown_threads_and_bad_ids_are_refused_without_a_call(sim: XSimulator, channel: XChannel) -> None:
    for state in (thread("comment:1"), thread("conversation:abc", None, "abc"), thread("dm:x1")):
        with pytest.raises(errors.PermanentError):
            channel.send_reply(state, "Hi", now=datetime.now(UTC))
    assert sim.calls == []


def test_configuration_errors_and_repr(sim: XSimulator) -> None:
    with pytest.raises(errors.ConfigError, match="account_id"):
        XChannel(name="a", consumer_key="k", consumer_secret="s", bearer_token="b")
    with pytest.raises(errors.ConfigError, match="bearer_token"):
        XChannel(name="a", consumer_key="k", consumer_secret="s", account_id="1")
    channel = XChannel(
        name="acme-x", consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET, access_token=TOKEN,
        access_token_secret=TOKEN_SECRET, bearer_token=BEARER, api_url=sim.url,
    )  # fmt: skip
    assert "acme-x" in repr(channel) and not any(secret in repr(channel) for secret in SECRETS)


# -- end to end: the customer on X → inbox; the agent's reply → X; the echo dropped ----------------------------


def stored(store: Store, message_id: str) -> SocialEvent:
    [row] = store.rows("inbox", platform="x", message_id=message_id)
    return SocialEvent.from_json(row["payload"])


def claimed_thread(store: Store, event: SocialEvent) -> ThreadState:
    """What the core does with the first event of a thread, in short: claim it, record the latest post."""
    store.claim_thread(event, "zendesk")
    store.update_thread(event.thread_key, last_inbound_message_id=event.message_id, ticket_id="42")
    row = store.thread(event.thread_key)
    assert row is not None
    return thread_state(row)


def record_delivery(store: Store, event: SocialEvent, message_ids: tuple[str, ...]) -> None:
    """What the reply pipeline records around a send: the delivery row and the ids it posted."""
    comment_id = f"c-{message_ids[0]}"
    store.start_delivery(helpdesk="zendesk", comment_id=comment_id, ticket_id="42", thread_key=event.thread_key, at=0)
    store.finish_delivery("zendesk", comment_id, status="sent", platform="x", message_ids=message_ids)


@pytest.mark.parametrize("shape", ["aaa", "xaa"])
def test_mention_in_reply_out_echo_dropped(sim: XSimulator, store: Store, shape: str) -> None:
    sim.shape, sim.echoes = shape, True
    mention = sim.customer_post("@AcmeSupport my blender broke", user_id=CUSTOMER, username=CUSTOMER_HANDLE)
    assert mention.response is not None
    assert mention.response.status_code == 200 and mention.response.json()["stored"] == 1
    event = stored(store, mention.id)
    assert (event.thread_id, event.author.handle, event.text) == (
        f"conversation:{mention.id}", CUSTOMER_HANDLE, "@AcmeSupport my blender broke",
    )  # fmt: skip
    channel_config = config_module.parse(
        {**raw_config(), "channels": [x_channel_config(sim.url)]}, env={}).channel("acme-x")  # fmt: skip
    assert channel_config is not None
    channel = build_channel(channel_config)
    before = {r["id"] for r in store.rows("inbox")}
    delivery = channel.send_reply(
        claimed_thread(store, event), "So sorry! DM us your order number.", now=datetime.now(UTC)
    )
    assert sim.posts[delivery.message_ids[0]].in_reply_to == mention.id
    record_delivery(store, event, delivery.message_ids)
    assert sim.wait_for_webhooks()
    echo_body, echo_status = sim.deliveries[-1]
    assert echo_status == 200 and delivery.message_ids[0] in echo_body.decode()
    assert store.rows("inbox", platform="x", message_id=delivery.message_ids[0]) == []  # the echo is not a message
    echoes = [r["last_error"] for r in store.rows("inbox", status="ignored") if r["id"] not in before]
    assert echoes == ["x own post"]  # the echo is recorded, though (not dropped without a trace)
    follow_up = sim.customer_post(
        "thanks", user_id=CUSTOMER, username=CUSTOMER_HANDLE, in_reply_to=delivery.message_ids[0]
    )
    assert follow_up.response is not None
    assert follow_up.response.json()["stored"] == 1
    assert stored(store, follow_up.id).thread_id == event.thread_id  # the customer's answer joins the thread


def test_dm_in_reply_out(sim: XSimulator, store: Store) -> None:
    sim.shape, sim.echoes = "aaa", True
    dm = sim.customer_dm("hi, need help", user_id="3333", username="carla", display_name="Carla")
    event = stored(store, dm.id)
    assert (event.thread_id, event.author.name, event.kind) == ("dm:3333", "Carla", "message")
    channel = XChannel(
        name="acme-x", consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET, access_token=TOKEN,
        access_token_secret=TOKEN_SECRET, api_url=sim.url,
    )  # fmt: skip
    delivery = channel.send_reply(claimed_thread(store, event), "Hello Carla!", now=datetime.now(UTC))
    assert sim.sent_dms[-1]["participant_id"] == "3333"
    assert sim.wait_for_webhooks() and sim.deliveries[-1][1] == 200
    assert store.rows("inbox", platform="x", message_id=delivery.message_ids[0]) == []
    [echo] = store.rows("inbox", platform="x", message_id=f"own:{delivery.message_ids[0]}")  # recorded, though
    assert (echo["status"], echo["last_error"]) == ("ignored", "x own direct message")


def test_crc_from_the_simulator(sim: XSimulator) -> None:
    assert sim.crc_check("fresh-challenge-123")
