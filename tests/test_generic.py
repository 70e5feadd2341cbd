"""Own channels: the schema-validated, signed webhook; GenericChannel's signed callback; end to end."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bridge import config as config_module
from bridge import errors
from bridge.events import SocialEvent, ThreadState
from bridge.outbound import thread_state
from bridge.ports import KeyedReplies, PrivateReplies
from bridge.registry import build_channel
from bridge.store import Store
from connectors.http import GenericChannel
from sandbox.base import Fault
from sandbox.generic import OwnChannelSimulator
from tests.conftest import raw_config
from tests.support import Bridge, serve_bridge
from webhooks import generic as generic_webhook
from webhooks.app import create_app
from webhooks.signatures import sign_generic, verify_generic

SECRET = "own-channel-shared-secret"
NAME = "acme-web"


def generic_config(
    tmp: Path, callback_url: str = "http://127.0.0.1:9/callback", **overrides: Any
) -> config_module.Config:
    raw = raw_config(database_url=f"sqlite:///{tmp}/store.db", queue_url=f"sqlite:///{tmp}/queue.db")
    raw["channels"].append(
        {"name": NAME, "platform": "generic", "secret": SECRET, "callback_url": callback_url, **overrides}
    )
    return config_module.parse(raw, env={})


@pytest.fixture(scope="module")
def shared_sim() -> Iterator[OwnChannelSimulator]:
    sim = OwnChannelSimulator(secret=SECRET)
    with sim:
        yield sim


@pytest.fixture(scope="module")
def bridge(shared_sim: OwnChannelSimulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bridge]:
    config = generic_config(tmp_path_factory.mktemp("generic"), shared_sim.callback_url)
    with serve_bridge(config) as running:
        yield running


@pytest.fixture
def sim(shared_sim: OwnChannelSimulator, bridge: Bridge) -> OwnChannelSimulator:
    shared_sim.reset()
    shared_sim.webhook_target = f"{bridge['url']}/webhooks/generic/{NAME}"
    return shared_sim


@pytest.fixture
def channel(sim: OwnChannelSimulator) -> GenericChannel:
    return GenericChannel(name=NAME, secret=SECRET, callback_url=sim.callback_url, timeout=5)


@pytest.fixture
def client(tmp_path: Path) -> tuple[FlaskClient, Store]:
    store = Store.from_url("sqlite://")
    return create_app(generic_config(tmp_path), store=store).test_client(), store


def message(**changes: Any) -> dict[str, Any]:
    base = {
        "message_id": "m-1", "thread_id": "order-1234", "text": "My parcel never came.",
        "author": {"id": "u-9", "name": "Jane Roe", "email": "jane@example.com", "phone": "+4930123456"},
        "timestamp": "2024-05-10T12:00:00Z",
    }  # fmt: skip
    base.update(changes)
    return base


def post(
    test_client: FlaskClient, payload: Any, *, secret: str = SECRET, skew: int = 0, name: str = NAME, **kwargs: Any
) -> TestResponse:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    timestamp = int(time.time()) + skew
    headers = {
        "X-Socialdesk-Timestamp": str(timestamp),
        "X-Socialdesk-Signature": sign_generic(body, timestamp, secret),
    }
    headers.update(kwargs.pop("headers", {}))
    content_type = kwargs.pop("content_type", "application/json")
    return test_client.post(f"/webhooks/generic/{name}", data=body, headers=headers, content_type=content_type)


def thread(thread_id: str = "order-1234", last: str | None = "m-1") -> ThreadState:
    return ThreadState(
        key=f"generic:{NAME}:{thread_id}", platform="generic", channel=NAME, account_id=NAME, thread_id=thread_id,
        reply_to=last or thread_id, last_inbound_at=None, last_inbound_message_id=last, ticket_id="31",
    )  # fmt: skip


# -- the schema and the webhook ------------------------------------------------------------------------------


def test_the_schema_is_valid_and_shipped_in_the_package() -> None:
    schema = generic_webhook.schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(schema["required"]) == {"message_id", "thread_id", "author", "text", "timestamp"}
    assert schema["properties"]["author"]["required"] == ["id", "name"]


def test_a_message_becomes_an_event(client: tuple[FlaskClient, Store]) -> None:
    test_client, store = client
    response = post(test_client, message(url="https://acme.example.com/t/1", extra={"plan": "gold"}))
    assert response.get_json() == {"ok": True, "received": 1, "stored": 1}
    [row] = store.rows("inbox")
    event = SocialEvent.from_json(row["payload"])
    assert (event.platform, event.account_id, event.message_id, event.thread_id) == (
        "generic",
        NAME,
        "m-1",
        "order-1234",
    )
    assert (event.author.email, event.author.phone, event.author.name) == (
        "jane@example.com",
        "+4930123456",
        "Jane Roe",
    )
    assert event.created_at == datetime(2024, 5, 10, 12, tzinfo=UTC) and event.kind == "message"
    assert (event.reply_to, event.url, event.extra) == ("m-1", "https://acme.example.com/t/1", {"plan": "gold"})
    assert post(test_client, message()).get_json()["stored"] == 0  # a resent message is stored once


def test_edits_offsets_and_attachments(client: tuple[FlaskClient, Store]) -> None:
    test_client, store = client
    edit = message(message_id="m-1e", kind="edit", timestamp="2024-05-10T14:00:00+02:00",
                   attachments=[{"url": "https://cdn.example.com/p.jpg", "kind": "image"}])  # fmt: skip
    assert post(test_client, edit).status_code == 200
    event = SocialEvent.from_json(store.rows("inbox")[0]["payload"])
    assert event.kind == "edit" and event.created_at == datetime(2024, 5, 10, 12, tzinfo=UTC)
    assert event.attachments[0].url == "https://cdn.example.com/p.jpg"


@pytest.mark.parametrize(
    ("payload", "kwargs", "status", "error"),
    [
        (message(), {"secret": "other"}, 401, "invalid signature"),
        (message(), {"skew": -301}, 401, "invalid signature"),  # replayed after 5 minutes
        (message(), {"skew": 400}, 401, "invalid signature"),
        (message(), {"headers": {"X-Socialdesk-Signature": ""}}, 401, "invalid signature"),
        (message(), {"headers": {"X-Socialdesk-Timestamp": "soon"}}, 401, "invalid signature"),
        (message(), {"name": "acme-facebook"}, 404, "unknown channel"),
        (message(), {"content_type": "text/plain"}, 415, "expected Content-Type: application/json"),
        (b"{nope", {}, 400, "body is not valid JSON"),
        ([], {}, 400, "invalid message: message: [] is not of type 'object'"),
        ({k: v for k, v in message().items() if k != "text"}, {}, 400,
         "invalid message: message: 'text' is a required property"),
        (message(author={"id": "u-9"}), {}, 400, "invalid message: author: 'name' is a required property"),
        (message(author={"id": "u", "name": "J", "email": "not-an-email"}), {}, 400,
         "invalid message: author/email: 'not-an-email' is not a 'email'"),
        (message(author={"id": "u", "name": "J", "phone": "call me"}), {}, 400,
         "invalid message: author/phone: 'call me' does not match '^\\\\+?[0-9][0-9 ().-]{2,30}$'"),
        (message(timestamp="yesterday"), {}, 400,
         "invalid message: timestamp: 'yesterday' does not match '^[0-9]{4}-"),
        (message(timestamp="2024-13-10T12:00:00Z"), {}, 400, "invalid message: timestamp: not a valid date and time"),
        (message(thread_id=""), {}, 400, "invalid message: thread_id: '' should be non-empty"),
        (message(text=["hi"]), {}, 400, "invalid message: text: ['hi'] is not of type 'string'"),  # never "(no text)"
        (message(surprise=True), {}, 400,
         "invalid message: message: Additional properties are not allowed ('surprise' was unexpected)"),
        (message(text="x" * 100_001), {}, 400, "invalid message: text: 'xxxxxxxx"),
    ],
)  # fmt: skip
def test_bad_input_gets_a_short_json_4xx(
    client: tuple[FlaskClient, Store],
    payload: bytes | list[Any] | dict[str, Any],
    kwargs: dict[str, Any],
    status: int,
    error: str,
) -> None:
    test_client, store = client
    response = post(test_client, payload, **kwargs)
    assert response.status_code == status
    assert response.get_json()["error"].startswith(error) and len(response.get_json()["error"]) <= 200
    assert store.rows("inbox") == []


# -- GenericChannel against the receiver ------------------------------------------------------------------------


def test_reply_is_posted_signed_to_the_callback(sim: OwnChannelSimulator, channel: GenericChannel) -> None:
    now = datetime(2024, 5, 10, 12, 5, tzinfo=UTC)
    delivery = channel.send_reply(thread(), "  We have sent a new parcel.  ", now=now)
    [received] = sim.received
    assert received["type"] == "reply" and received["text"] == "We have sent a new parcel."
    assert (received["thread_id"], received["in_reply_to"], received["ticket_id"]) == ("order-1234", "m-1", "31")
    assert received["sent_at"] == "2024-05-10T12:05:00+00:00" and delivery.message_ids == (received["message_id"],)
    [call] = sim.calls_to("POST", "/callback")
    assert verify_generic(
        call.body, call.headers["X-Socialdesk-Signature"], call.headers["X-Socialdesk-Timestamp"], [SECRET]
    )
    assert call.headers["Idempotency-Key"] == received["id"] and SECRET.encode() not in call.body


def test_a_keyed_reply_sent_again_after_a_lost_answer_is_received_once(
    sim: OwnChannelSimulator, channel: GenericChannel
) -> None:
    sim.lose_answer("/callback", "POST")  # stored, then a proxy answers 502 on the way back
    with pytest.raises(errors.Unavailable):
        channel.send_keyed_reply(thread(), "Hi", now=datetime.now(UTC), key="reply-7")
    delivery = channel.send_keyed_reply(thread(), "Hi", now=datetime.now(UTC), key="reply-7")
    [received] = sim.received
    assert received["id"] == "reply-7" and delivery.message_ids == (received["message_id"],)
    assert [c.headers["Idempotency-Key"] for c in sim.calls_to("POST", "/callback")] == ["reply-7", "reply-7"]


def test_a_receiver_with_another_secret_refuses_it(sim: OwnChannelSimulator) -> None:
    wrong = GenericChannel(name=NAME, secret="not-the-secret", callback_url=sim.callback_url)
    with pytest.raises(errors.AuthError) as exc_info:
        wrong.send_reply(thread(), "Hi", now=datetime.now(UTC))
    assert exc_info.value.http_status == 401 and sim.refused == 1 and sim.received == []
    assert "not-the-secret" not in str(exc_info.value)


def test_a_stale_clock_is_refused_by_the_receiver(sim: OwnChannelSimulator) -> None:
    stale = GenericChannel(name=NAME, secret=SECRET, callback_url=sim.callback_url, clock=lambda: time.time() - 600)
    with pytest.raises(errors.AuthError):
        stale.send_reply(thread(), "Hi", now=datetime.now(UTC))


@pytest.mark.parametrize(
    ("status", "headers", "expected", "retry_after"),
    [
        (429, {"Retry-After": "30"}, errors.RateLimited, 30.0),
        (503, {}, errors.Unavailable, None),
        (404, {}, errors.NotFound, None),
        (422, {}, errors.PermanentError, None),
    ],
)
def test_callback_errors(
    sim: OwnChannelSimulator,
    channel: GenericChannel,
    status: int,
    headers: dict[str, str],
    expected: type[errors.BridgeError],
    retry_after: float | None,
) -> None:
    sim.inject(Fault(status, path_prefix="/callback", headers=headers, body={"error": "nope"}))
    with pytest.raises(errors.BridgeError) as exc_info:
        channel.send_reply(thread(), "Hi", now=datetime.now(UTC))
    error = exc_info.value
    assert type(error) is expected and error.retry_after == retry_after and error.platform == "generic"
    assert error.message.startswith("could not deliver the reply to http://127.0.0.1")


def test_timeout_is_an_unknown_outcome_and_the_url_never_shows(sim: OwnChannelSimulator) -> None:
    secret_url = f"{sim.callback_url}?token=callback-token-123"
    slow = GenericChannel(name=NAME, secret=SECRET, callback_url=secret_url, timeout=0.3)
    sim.inject(Fault(201, path_prefix="/callback", delay=1.0, body={"message_id": "late"}))
    with pytest.raises(errors.UnknownOutcome) as exc_info:
        slow.send_reply(thread(), "Hi", now=datetime.now(UTC))
    error = exc_info.value
    assert "callback-token-123" not in f"{error} {error!r} {error.__cause__!r}" and "callback-token-123" not in repr(
        slow
    )


def test_empty_reply_and_ping(sim: OwnChannelSimulator, channel: GenericChannel) -> None:
    with pytest.raises(errors.PermanentError):
        channel.send_reply(thread(), "   ", now=datetime.now(UTC))
    assert sim.calls == []
    assert channel.ping() == "http://127.0.0.1" and sim.received == []


def test_registry_builds_it(tmp_path: Path, sim: OwnChannelSimulator) -> None:
    channel_config = generic_config(tmp_path, sim.callback_url).channel(NAME)
    assert channel_config is not None
    channel = build_channel(channel_config)
    assert isinstance(channel, GenericChannel) and channel.account_id == NAME and SECRET not in repr(channel)
    assert isinstance(channel, KeyedReplies) and not isinstance(channel, PrivateReplies)


# -- end to end ----------------------------------------------------------------------------------------------------


def test_message_in_reply_out(sim: OwnChannelSimulator, bridge: Bridge, channel: GenericChannel) -> None:
    store: Store = bridge["store"]
    sent = sim.customer_message(
        "Where is my order?", thread_id="order-77", author_id="u-1", author_name="Ana", email="ana@example.com",
        timestamp=datetime.now(UTC) - timedelta(minutes=3),
    )  # fmt: skip
    assert sent.response is not None
    assert sent.response.status_code == 200 and sent.response.json()["stored"] == 1
    [row] = store.rows("inbox", platform="generic", message_id=sent.payload["message_id"])
    event = SocialEvent.from_json(row["payload"])
    assert (event.thread_id, event.author.email) == ("order-77", "ana@example.com")
    store.claim_thread(event, "zendesk")
    store.update_thread(event.thread_key, last_inbound_message_id=event.message_id, ticket_id="12")
    thread_row = store.thread(event.thread_key)
    assert thread_row is not None
    channel.send_reply(thread_state(thread_row), "It ships today.", now=datetime.now(UTC))
    [received] = sim.received
    assert (received["thread_id"], received["in_reply_to"], received["text"]) == (
        "order-77", sent.payload["message_id"], "It ships today.",
    )  # fmt: skip


def test_a_stale_customer_message_is_refused(sim: OwnChannelSimulator, bridge: Bridge) -> None:
    response = sim.deliver(message(message_id="stale"), timestamp=int(time.time()) - 3600)
    assert (response.status_code, response.json()) == (401, {"error": "invalid signature"})
    assert bridge["store"].rows("inbox", platform="generic", message_id="stale") == []
