"""/webhooks/zendesk through Flask's test client: both body shapes, dedupe, signatures, bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bridge.config import Config
from bridge.store import Store
from tests.conftest import ZD_SECRET, fixture_json
from webhooks.app import create_app
from webhooks.signatures import sign_zendesk


@pytest.fixture
def store(config: Config) -> Store:
    return Store.from_url(config.database_url)


@pytest.fixture
def client(config: Config, store: Store) -> FlaskClient:
    return create_app(config, store=store).test_client()


def stamp(offset: timedelta = timedelta(0)) -> str:
    return (datetime.now(UTC) + offset).strftime("%Y-%m-%dT%H:%M:%SZ")


def post(
    client: FlaskClient,
    body: bytes,
    *,
    invocation: str = "8350205582",
    timestamp: str | None = None,
    secret: str = ZD_SECRET,
    signature: str | None = None,
    content_type: str = "application/json",
) -> TestResponse:
    timestamp = timestamp or stamp()
    headers = {
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
        "X-Zendesk-Webhook-Signature": signature if signature is not None else sign_zendesk(body, timestamp, secret),
        "X-Zendesk-Webhook-Invocation-Id": invocation,
        "X-Zendesk-Webhook-Id": "01F1KRFQ6BG29CNWFR60NK5FNY",
    }
    return client.post("/webhooks/zendesk", data=body, headers=headers, content_type=content_type)


def event_body() -> bytes:
    body = fixture_json("zendesk/webhooks/event_ticket_comment_added.RECONSTRUCTED.json")
    body.pop("_NOTE")
    return json.dumps(body).encode()


def test_event_subscription_envelope_records_the_ticket(client: FlaskClient, store: Store) -> None:
    response = post(client, event_body())
    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "ticket_id": "35436", "duplicate": False}
    [row] = store.rows("ticket_events")
    assert (row["helpdesk"], row["ticket_id"], row["status"]) == ("zendesk", "35436", "pending")


def test_trigger_body_with_rendered_placeholders(client: FlaskClient, store: Store) -> None:
    template = fixture_json("zendesk/webhooks/trigger_webhook_body.TEMPLATE.json")
    template.pop("_NOTE")
    rendered = {k: v.replace("{{ticket.id}}", "4014") for k, v in template.items()}
    assert post(client, json.dumps(rendered).encode()).status_code == 200
    assert [r["ticket_id"] for r in store.rows("ticket_events")] == ["4014"]


def test_same_invocation_is_recorded_once(client: FlaskClient, store: Store) -> None:
    for _ in range(5):
        assert post(client, event_body()).status_code == 200
    assert post(client, event_body()).get_json()["duplicate"] is True
    assert len(store.rows("ticket_events")) == 1
    post(client, event_body(), invocation="8350205583")  # a new invocation is new work
    assert len(store.rows("ticket_events")) == 2


def test_other_event_types_are_acknowledged_and_ignored(client: FlaskClient, store: Store) -> None:
    body = fixture_json("zendesk/webhooks/event_envelope.community_post_created.official.json")
    response = post(client, json.dumps(body).encode())
    assert response.status_code == 200 and response.get_json() == {"ok": True, "ignored": True}
    assert store.rows("ticket_events") == []


BODY = json.dumps({"ticket_id": "77"}).encode()


@pytest.mark.parametrize(
    ("body", "kwargs", "status", "error"),
    [
        (BODY, {"signature": ""}, 401, "invalid signature"),
        (BODY, {"secret": "wrong"}, 401, "invalid signature"),
        (BODY, {"timestamp": timedelta(minutes=-6)}, 401, "invalid signature"),  # replayed, stale
        (BODY, {"timestamp": timedelta(minutes=6)}, 401, "invalid signature"),
        (BODY, {"timestamp": "yesterday"}, 401, "invalid signature"),
        (b"{oops", {}, 400, "body is not valid JSON"),
        (BODY, {"content_type": "application/x-www-form-urlencoded"}, 415, "expected Content-Type: application/json"),
        (b"[1, 2]", {}, 400, "expected a JSON object"),
        (b'{"ticket_id": "{{ticket.id}}"}', {}, 400, "missing or invalid ticket id (expected detail.id or ticket_id)"),
        (b'{"comment": "hi"}', {}, 400, "missing or invalid ticket id (expected detail.id or ticket_id)"),
        (
            b'{"type": "zen:event-type:ticket.comment_added", "detail": []}',
            {},
            400,
            "missing or invalid ticket id (expected detail.id or ticket_id)",
        ),
    ],
)
def test_bad_input_gets_a_short_json_4xx(
    client: FlaskClient, store: Store, body: bytes, kwargs: dict[str, Any], status: int, error: str
) -> None:
    if isinstance(kwargs.get("timestamp"), timedelta):  # computed now, not at import: the suite takes minutes
        kwargs = {**kwargs, "timestamp": stamp(kwargs["timestamp"])}
    response = post(client, body, **kwargs)
    assert response.status_code == status
    assert response.get_json() == {"error": error}
    assert store.rows("ticket_events") == []


def test_unknown_routes_and_methods_answer_json(client: FlaskClient) -> None:
    assert client.get("/webhooks/zendesk").status_code == 405
    assert client.get("/webhooks/zendesk").get_json() == {"error": "The method is not allowed for the requested URL."}
    assert client.get("/nope").status_code == 404
    assert "error" in client.get("/nope").get_json()
