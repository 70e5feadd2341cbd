"""A store that is down or failing: every webhook route answers 503 with ``Retry-After``, never a 500, and
nothing is read from the store before a signature is verified; the line logged names the failure, never the
row's keys."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bridge import config as config_module
from bridge import logs
from bridge.setup import ZENDESK_SECRET_SETTING
from bridge.store import Store
from tests.conftest import APP_SECRET, PAGE_ID, ZD_SECRET, fixture_bytes, raw_config
from tests.support import closed_port
from webhooks import zendesk as zendesk_webhook
from webhooks.app import create_app
from webhooks.signatures import sign_generic, sign_meta, sign_zendesk

GENERIC_SECRET, TELEGRAM_SECRET, STORED_SECRET = "own-secret", "tg-secret-token", "stored-by-setup"
WA_PHONE_ID, WA_ID = "106540352242922", "16505551234"  # as in meta/whatsapp_text_message.json (Meta's example)
WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
ZENDESK_BODY = b'{"ticket_id": "4014"}'


def app_for(database_url: str, store: Store, **zendesk: Any) -> FlaskClient:
    raw = raw_config(database_url=database_url)
    raw["zendesk"].update(zendesk)
    raw["channels"] += [
        {"name": "own", "platform": "generic", "secret": GENERIC_SECRET, "callback_url": "http://127.0.0.1:9/cb"},
        {"name": "tg", "platform": "telegram", "bot_token": "7000000001:AAH-token", "secret_token": TELEGRAM_SECRET},
        {"name": "wa", "platform": "whatsapp", "account_id": WA_PHONE_ID, "access_token": "t", "app_secret": APP_SECRET,
         "verify_token": "v"},
    ]  # fmt: skip
    return create_app(config_module.parse(raw, env={}), store=store).test_client()


def meta(client: FlaskClient) -> TestResponse:
    body = fixture_bytes("meta/meta_messenger_text.json").replace(b"<PAGE_ID>", PAGE_ID.encode())
    body = body.replace(b"<PSID>", b"24680")
    headers = {"X-Hub-Signature-256": sign_meta(body, APP_SECRET)}
    return client.post("/webhooks/meta", data=body, headers=headers, content_type="application/json")


def generic(client: FlaskClient) -> TestResponse:
    message = {"message_id": "m-1", "thread_id": "order-1", "text": "Where is my parcel?",
               "author": {"id": "u-9", "name": "Jane Roe"}, "timestamp": "2024-05-10T12:00:00Z"}  # fmt: skip
    body, now = json.dumps(message).encode(), int(time.time())
    headers = {"X-Socialdesk-Timestamp": str(now), "X-Socialdesk-Signature": sign_generic(body, now, GENERIC_SECRET)}
    return client.post("/webhooks/generic/own", data=body, headers=headers, content_type="application/json")


def telegram(client: FlaskClient) -> TestResponse:
    body = fixture_bytes("telegram/telegram_update_message.json")
    headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
    return client.post("/webhooks/telegram/tg", data=body, headers=headers, content_type="application/json")


def whatsapp(client: FlaskClient) -> TestResponse:
    body = fixture_bytes("meta/whatsapp_text_message.json")
    headers = {"X-Hub-Signature-256": sign_meta(body, APP_SECRET)}
    return client.post("/webhooks/meta", data=body, headers=headers, content_type="application/json")


def zendesk(client: FlaskClient, secret: str | None = ZD_SECRET) -> TestResponse:
    body, stamp = ZENDESK_BODY, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {}
    if secret is not None:
        headers["X-Zendesk-Webhook-Signature-Timestamp"] = stamp
        headers["X-Zendesk-Webhook-Signature"] = sign_zendesk(body, stamp, secret)
    return client.post("/webhooks/zendesk", data=body, headers=headers, content_type="application/json")


ROUTES: list[Callable[[FlaskClient], TestResponse]] = [meta, generic, telegram, zendesk]


def assert_retry_later(response: TestResponse) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.get_json() == {"error": "storage unavailable, retry later"}
    assert int(response.headers["Retry-After"]) > 0


@pytest.fixture
def down() -> Iterator[tuple[FlaskClient, Store]]:
    """The app of a scale deployment whose PostgreSQL is down (nothing listens on its port)."""
    url = f"postgresql+psycopg://socialdesk@127.0.0.1:{closed_port()}/socialdesk"
    store = Store.from_url(url)
    yield app_for(url, store), store
    store.close()


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.__name__)
def test_postgresql_down_is_a_503_with_retry_after(down: tuple[FlaskClient, Store], route: Callable[..., Any]) -> None:
    client, _ = down
    assert_retry_later(route(client))
    assert_retry_later(route(client))  # and again: nothing half-open is left behind


def test_zendesk_with_only_a_stored_secret_is_a_503_while_postgresql_is_down() -> None:
    url = f"postgresql+psycopg://socialdesk@127.0.0.1:{closed_port()}/socialdesk"
    client = app_for(url, Store.from_url(url), webhook_secret="")
    assert_retry_later(zendesk(client, secret=STORED_SECRET))


def test_an_unsigned_zendesk_request_is_refused_before_any_store_read(down: tuple[FlaskClient, Store]) -> None:
    client, _ = down
    response = zendesk(client, secret=None)
    assert response.status_code == 401 and response.get_json() == {"error": "invalid signature"}


def settings_reads(store: Store) -> list[str]:
    """Every statement the store sends that reads the settings table (observed, not changed)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM settings" in statement:
            seen.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", record)
    return seen


def test_the_stored_secret_is_read_once_for_many_requests(pg_url: str) -> None:
    """A burst of requests signed with an unknown secret costs one settings read, not one each; a secret
    rotated by `socialdesk setup zendesk` is still taken once the recheck interval has passed."""
    store = Store.from_url(pg_url, migrate=True)
    store.set_setting(ZENDESK_SECRET_SETTING, STORED_SECRET)
    client = app_for(pg_url, store, webhook_secret="")
    reads = settings_reads(store)
    assert zendesk(client, secret=STORED_SECRET).status_code == 200
    assert [zendesk(client, secret="forged").status_code for _ in range(20)] == [401] * 20
    assert zendesk(client, secret=None).status_code == 401
    assert len(reads) == 1

    store.set_setting(ZENDESK_SECRET_SETTING, "rotated")
    time.sleep(zendesk_webhook.STORED_SECRET_RECHECK)
    assert zendesk(client, secret="rotated").status_code == 200
    assert len(reads) == 2
    store.close()


def test_a_failing_postgresql_store_is_a_503_on_every_route(pg_url: str) -> None:
    """PostgreSQL is up but the store fails (its tables are gone: a botched restore, a wrong schema)."""
    store = Store.from_url(pg_url, migrate=True)
    store.set_setting(ZENDESK_SECRET_SETTING, STORED_SECRET)
    client = app_for(pg_url, store, webhook_secret="")
    with store.engine.begin() as conn:
        for table in ("inbox", "ticket_events", "settings"):
            conn.execute(sa.text(f"ALTER TABLE {table} RENAME TO {table}_gone"))
    for route in (meta, generic, telegram):
        assert_retry_later(route(client))
    assert_retry_later(zendesk(client, secret=STORED_SECRET))
    store.close()


@pytest.mark.parametrize(
    ("route", "table", "quoted"),
    [(whatsapp, "inbox", [WA_ID, WAMID.removeprefix("wamid.")[:20]]),
     (zendesk, "ticket_events", [hashlib.sha256(ZENDESK_BODY).hexdigest()])],
    ids=["whatsapp", "zendesk"],
)  # fmt: skip
def test_a_refused_row_is_logged_by_its_kind_never_its_keys(
    pg_url: str, caplog: pytest.LogCaptureFixture, route: Callable[..., Any], table: str, quoted: list[str]
) -> None:
    """PostgreSQL refuses the webhook's row (a constraint the schema should not have: a restore from another
    release). Its error's DETAIL, 'Failing row contains (...)', quotes the row: the thread key
    whatsapp:<number id>:chat:<wa_id> (the customer's phone number) and the wamid (which encodes it), or a
    Zendesk webhook's invocation id; SQLAlchemy's text adds the statement's parameters. The sender is asked to
    retry; the log line says which refusal it was (the operator's lead), not the row."""
    caplog.set_level(logging.DEBUG)
    store = Store.from_url(pg_url, migrate=True)
    client = app_for(pg_url, store)
    with store.engine.begin() as conn:
        conn.execute(sa.text(f"ALTER TABLE {table} ADD CONSTRAINT from_another_release CHECK (id < 0)"))
    assert_retry_later(route(client))
    store.close()
    texts = ["\n".join(logs.formatter(form).format(r) for r in caplog.records) for form in logs.FORMATS]
    assert [value for text in texts for value in quoted if value in text] == []
    assert all("Failing row" not in text and "[parameters" not in text for text in texts)
    [line] = [r.getMessage() for r in caplog.records if r.name == "webhooks.common"]
    assert "CheckViolation" in line and "from_another_release" in line, line
