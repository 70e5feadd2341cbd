"""/webhooks/freshdesk through Flask's test client: the shared secret, both body shapes, dedupe, bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask, Response
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bridge import config as config_module
from bridge.config import Config
from bridge.store import Store
from sandbox.base import Call, Simulator
from sandbox.freshdesk import FreshdeskSimulator
from tests.conftest import raw_config
from webhooks import freshdesk
from webhooks.app import create_app

FD_KEY, FD_SECRET = "fd-api-key-not-a-real-one", "fd-webhook-secret"


def freshdesk_config(tmp_path: Path, helpdesk: str = "freshdesk") -> Config:
    raw = raw_config(database_url=f"sqlite:///{tmp_path}/store.db", queue_url=f"sqlite:///{tmp_path}/queue.db")
    if helpdesk == "freshdesk":
        raw.pop("zendesk")
        raw["bridge"]["helpdesk"] = "freshdesk"
        raw["freshdesk"] = {"url": "http://127.0.0.1:9", "api_key": FD_KEY, "webhook_secret": FD_SECRET}
    return config_module.parse(raw, env={})


def app_for(config: Config, store: Store) -> Flask:
    app = create_app(config, store=store)
    if "freshdesk" not in app.blueprints:  # webhooks/app.py registers it once the owner wires it in
        app.register_blueprint(freshdesk.bp)
    return app


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, Flask]:
    """One store and app for the module (building them is most of a test's time); emptied per test."""
    tmp = tmp_path_factory.mktemp("freshdesk-webhooks")
    store = Store.from_url(f"sqlite:///{tmp}/store.db")
    return store, app_for(freshdesk_config(tmp), store)


@pytest.fixture
def store(shared: tuple[Store, Flask]) -> Iterator[Store]:
    yield shared[0]
    with shared[0].engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM ticket_events"))


@pytest.fixture
def client(shared: tuple[Store, Flask], store: Store) -> FlaskClient:
    return shared[1].test_client()


@pytest.fixture(scope="module")
def delivered() -> Iterator[dict[str, Call]]:
    """What the simulator's automation really sends, in both styles, captured by a bare receiver."""
    target = Simulator()
    target.app.add_url_rule("/hook", "hook", lambda: Response("{}", 200), methods=["POST"])
    with target, FreshdeskSimulator(api_key=FD_KEY, webhook_secret=FD_SECRET) as sim:
        sim.webhook_target = f"{target.url}/hook"
        ticket_id = _ticket(sim)
        sim.agent_comment(ticket_id, "Your parcel left the warehouse")
        sim.fire_webhook(ticket_id, style="simple")
        sim.fire_webhook(ticket_id, style="custom")
        yield {"simple": target.calls[0], "custom": target.calls[1]}


def _ticket(sim: FreshdeskSimulator) -> int:
    body = {"subject": "Hi", "description": "<div>where is it</div>", "email": "dana@example.test"}
    response = requests.post(f"{sim.url}/api/v2/tickets", json=body, auth=(FD_KEY, "X"), timeout=5)
    assert response.status_code == 201
    return int(response.json()["id"])


def post(
    client: FlaskClient,
    body: bytes,
    *,
    secret: str | None = FD_SECRET,
    content_type: str = "application/json",
    **headers: str,
) -> TestResponse:
    sent = {freshdesk.SECRET_HEADER: secret} if secret is not None else {}
    return client.post("/webhooks/freshdesk", data=body, headers={**sent, **headers}, content_type=content_type)


def replay(client: FlaskClient, call: Call) -> TestResponse:
    headers = {k: v for k, v in call.headers.items() if k.lower() not in ("host", "content-length")}
    return client.post("/webhooks/freshdesk", data=call.body, headers=headers)


# -- what the automation sends ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["simple", "custom"])
def test_the_automation_body_records_the_ticket(
    client: FlaskClient, store: Store, delivered: dict[str, Call], style: str
) -> None:
    response = replay(client, delivered[style])

    assert response.status_code == 200
    assert response.get_json() == {"ok": True, "ticket_id": "1", "duplicate": False}
    [row] = store.rows("ticket_events")
    assert (row["helpdesk"], row["ticket_id"], row["status"]) == ("freshdesk", "1", "pending")


@pytest.mark.parametrize(
    "body",
    [{"ticket_id": 4014}, {"ticket_id": "4014"}, {"freshdesk_webhook": {"ticket_id": "4014", "ticket_subject": "x"}}],
)
def test_either_shape_with_a_number_or_digits(client: FlaskClient, store: Store, body: dict[str, Any]) -> None:
    assert post(client, json.dumps(body).encode()).get_json()["ticket_id"] == "4014"
    assert [r["ticket_id"] for r in store.rows("ticket_events")] == ["4014"]


# -- the shared secret ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "wrong", FD_SECRET + " ", FD_SECRET.upper(), "fd-webhook-secreü"])
def test_anything_but_the_secret_is_401(client: FlaskClient, store: Store, secret: str | None) -> None:
    response = post(client, b'{"ticket_id": 1}', secret=secret)

    assert response.status_code == 401
    assert response.get_json() == {"error": "invalid signature"}
    assert store.rows("ticket_events") == []


def test_the_secret_is_refused_when_freshdesk_is_not_the_helpdesk(tmp_path: Path, store: Store) -> None:
    client = app_for(freshdesk_config(tmp_path, helpdesk="zendesk"), store).test_client()

    assert post(client, b'{"ticket_id": 1}').status_code == 401
    assert store.rows("ticket_events") == []


# -- deduplication ----------------------------------------------------------------------------------------------------


def test_a_repeat_waiting_for_a_worker_is_one_event(
    client: FlaskClient, store: Store, delivered: dict[str, Call]
) -> None:
    answers = [replay(client, delivered["simple"]).get_json()["duplicate"] for _ in range(3)]

    assert answers == [False, True, True]
    assert len(store.rows("ticket_events")) == 1


def test_a_repeat_after_a_worker_picked_it_up_is_new_work(
    client: FlaskClient, store: Store, delivered: dict[str, Call]
) -> None:
    replay(client, delivered["simple"])
    store.claim_due()  # a worker took the first event (it may already have fetched the conversations)

    again = replay(client, delivered["simple"])

    assert again.get_json()["duplicate"] is False
    rows = store.rows("ticket_events")
    assert len(rows) == 2 and len({r["invocation_id"] for r in rows}) == 2


def test_a_different_body_or_delivery_header_is_new_work(client: FlaskClient, store: Store) -> None:
    post(client, b'{"ticket_id": 7, "latest_public_comment": "one"}')
    post(client, b'{"ticket_id": 7, "latest_public_comment": "two"}')
    post(client, b'{"ticket_id": 7, "latest_public_comment": "two"}', **{freshdesk.DELIVERY_HEADER: "reply-99"})

    assert len(store.rows("ticket_events")) == 3


def test_invocation_ids_change_with_the_minute_and_the_header() -> None:
    body = b'{"ticket_id": 7}'
    same = freshdesk.invocation_id(body, None, 1_700_000_000.0)

    assert freshdesk.invocation_id(body, None, 1_700_000_019.0) == same  # same minute bucket
    assert freshdesk.invocation_id(body, None, 1_700_000_060.0) != same
    assert freshdesk.invocation_id(body, "abc", 1_700_000_000.0) != same
    assert len(freshdesk.invocation_id(body, "x" * 500, 1e12)) <= 128  # fits ticket_events.invocation_id


# -- bad input --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [
        (b"{oops", "application/json", 400, "body is not valid JSON"),
        (b'{"ticket_id": 1}', "application/x-www-form-urlencoded", 415, "expected Content-Type: application/json"),
        (b"[1, 2]", "application/json", 400, "expected a JSON object"),
        (b'{"ticket_id": "{{ticket.id}}"}', "application/json", 400, freshdesk.BAD_TICKET_ID),
        (b'{"ticket_id": true}', "application/json", 400, freshdesk.BAD_TICKET_ID),
        (b'{"ticket_id": -3}', "application/json", 400, freshdesk.BAD_TICKET_ID),
        (b'{"ticket_id": "\xd9\xa3"}', "application/json", 400, freshdesk.BAD_TICKET_ID),  # Arabic-Indic digit
        (b'{"ticket_id": "' + b"9" * 30 + b'"}', "application/json", 400, freshdesk.BAD_TICKET_ID),
        (b'{"freshdesk_webhook": []}', "application/json", 400, freshdesk.BAD_TICKET_ID),
        (b'{"freshdesk_webhook": {"ticket_subject": "x"}}', "application/json", 400, freshdesk.BAD_TICKET_ID),
    ],
)
def test_bad_input_gets_a_short_json_4xx(
    client: FlaskClient, store: Store, body: bytes, content_type: str, status: int, error: str
) -> None:
    response = post(client, body, content_type=content_type)

    assert response.status_code == status
    assert response.get_json() == {"error": error}
    assert store.rows("ticket_events") == []


def test_storage_failure_is_503_so_freshdesk_retries(tmp_path: Path) -> None:
    broken = Store.from_url(f"sqlite:///{tmp_path}/broken.db")
    client = app_for(freshdesk_config(tmp_path), broken).test_client()
    with broken.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE ticket_events"))

    response = post(client, b'{"ticket_id": 1}')

    assert response.status_code == 503
    assert response.get_json() == {"error": "storage unavailable, retry later"}


def test_only_post_is_served(client: FlaskClient) -> None:
    response = client.get("/webhooks/freshdesk")
    assert response.status_code == 405 and "error" in response.get_json()
