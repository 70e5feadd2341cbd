"""Hostile input that gets past the signature check (a sender's bug, or someone holding the secret):
whatever it is, a 4xx or stored, never a 500, and never the loss of the other events beside it."""

from __future__ import annotations

import copy
import fcntl
import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from werkzeug.exceptions import RequestEntityTooLarge

from bridge import config as config_module
from bridge.store import Store
from tests.conftest import APP_SECRET, PAGE_ID, ZD_SECRET, fixture_json, raw_config
from tests.support import serve_bridge
from webhooks.app import MAX_BODY, create_app
from webhooks.signatures import sign_generic, sign_meta, sign_x, sign_zendesk

TG_SECRET, GEN_SECRET, X_SECRET, X_ID = "tg-secret", "gen-secret", "x-consumer-secret", "1111111111"


def full_config(tmp: Path, **bridge: Any) -> config_module.Config:
    raw = raw_config(database_url=f"sqlite:///{tmp}/store.db", queue_url=f"sqlite:///{tmp}/queue.db")
    raw["bridge"].update(bridge)
    raw["channels"] += [
        {"name": "acme-web", "platform": "generic", "secret": GEN_SECRET, "callback_url": "http://127.0.0.1:9/cb"},
        {"name": "acme-telegram", "platform": "telegram", "bot_token": "7000000001:AAH-x", "secret_token": TG_SECRET,
         "api_url": "http://127.0.0.1:9"},
        {"name": "acme-x", "platform": "x", "consumer_key": "ck", "consumer_secret": X_SECRET,
         "access_token": f"{X_ID}-tok", "access_token_secret": "ts", "api_url": "http://127.0.0.1:9"},
    ]  # fmt: skip
    return config_module.parse(raw, env={})


@pytest.fixture
def app_and_store(tmp_path: Path) -> tuple[FlaskClient, Store]:
    config = full_config(tmp_path)
    store = Store.from_url(config.database_url)
    return create_app(config, store=store).test_client(), store


def signed(path: str, body: bytes) -> dict[str, str]:
    if path == "/webhooks/meta":
        return {"X-Hub-Signature-256": sign_meta(body, APP_SECRET)}
    if path == "/webhooks/zendesk":
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"X-Zendesk-Webhook-Signature-Timestamp": stamp,
                "X-Zendesk-Webhook-Signature": sign_zendesk(body, stamp, ZD_SECRET)}  # fmt: skip
    if path == "/webhooks/x":
        return {"x-twitter-webhooks-signature": sign_x(body, X_SECRET)}
    if path == "/webhooks/telegram/acme-telegram":
        return {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    ts = int(time.time())
    return {"X-Socialdesk-Timestamp": str(ts), "X-Socialdesk-Signature": sign_generic(body, ts, GEN_SECRET)}


ENDPOINTS = ["/webhooks/meta", "/webhooks/zendesk", "/webhooks/x", "/webhooks/telegram/acme-telegram",
             "/webhooks/generic/acme-web"]  # fmt: skip


# -- 1. an integer literal of more than 4,300 digits ----------------------------------------------------------


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_huge_integer_literal_is_a_400_not_a_500(app_and_store: tuple[FlaskClient, Store], path: str) -> None:
    client, _ = app_and_store
    body = b'{"n": ' + b"1" * 5000 + b"}"
    response = client.post(path, data=body, headers=signed(path, body), content_type="application/json")
    assert response.status_code == 400, (response.status_code, response.get_json())


# -- 2. a lone surrogate (a truncated emoji) in a signed body -------------------------------------------------


def messenger_batch() -> dict[str, Any]:
    raw = json.dumps(fixture_json("meta/meta_messenger_text.json")).replace("<PAGE_ID>", PAGE_ID)
    payload: dict[str, Any] = json.loads(raw.replace("<PSID>", "2468"))
    good = payload["entry"][0]["messaging"][0]
    bad = copy.deepcopy(good)
    bad["message"]["mid"] = "mid.truncated-emoji"
    bad["message"]["text"] = "thanks \ud83d"  # an emoji cut in half: the JSON carries "\ud83d" alone
    payload["entry"][0]["messaging"].append(bad)
    return payload


def test_a_lone_surrogate_in_one_message_does_not_lose_the_rest_of_the_batch(
    app_and_store: tuple[FlaskClient, Store],
) -> None:
    client, store = app_and_store
    body = json.dumps(messenger_batch()).encode()  # ensure_ascii: the body is valid UTF-8 JSON
    response = client.post("/webhooks/meta", data=body, headers=signed("/webhooks/meta", body),
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 200, response.get_json()
    texts = {r["message_id"]: json.loads(r["payload"])["text"] for r in store.rows("inbox")}
    assert texts["mid.truncated-emoji"] == "thanks \ufffd"  # the half emoji becomes U+FFFD, the rest is kept
    assert len(texts) == 2


def telegram(n: int, *, date: int = 1700000000) -> dict[str, Any]:
    chat, sender = {"id": 42, "type": "private"}, {"id": 42, "first_name": "Ann"}
    return {"update_id": n, "message": {"message_id": n, "date": date, "chat": chat, "from": sender, "text": "hi"}}


def test_a_lone_surrogate_does_not_fail_the_webhooks_sharing_its_commit(tmp_path: Path) -> None:
    """Group commit: an innocent Telegram update that shared a commit with a generic message carrying half an
    emoji got its 500. The SQLite ingest lock is held for a moment (as another serve process committing
    would), so that the three webhooks are written together once it is released."""
    results: dict[str, int] = {}
    with serve_bridge(full_config(tmp_path)) as bridge:

        def post(path: str, payload: dict[str, Any], name: str) -> None:
            body = json.dumps(payload).encode()
            headers = {**signed(path, body), "Content-Type": "application/json"}
            results[name] = requests.post(bridge["url"] + path, data=body, headers=headers, timeout=30).status_code

        poisoned = generic_message(message_id="m-1", text="merci \ud83d")
        posts = [
            threading.Thread(target=post, args=("/webhooks/telegram/acme-telegram", telegram(1), "first")),
            threading.Thread(target=post, args=("/webhooks/telegram/acme-telegram", telegram(2), "innocent")),
            threading.Thread(target=post, args=("/webhooks/generic/acme-web", poisoned, "poisoned")),
        ]
        with open(f"{tmp_path}/store.db-ingest.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another process is committing
            for thread in posts:
                thread.start()
                time.sleep(0.4)  # the first leads and waits for the lock; the others queue behind it
            fcntl.flock(lock, fcntl.LOCK_UN)
        for thread in posts:
            thread.join(30)
        stored = {r["message_id"] for r in bridge["store"].rows("inbox")}
    assert results == {"first": 200, "innocent": 200, "poisoned": 200}
    assert len(stored) == 3


# -- 3. timestamps out of datetime's range ---------------------------------------------------------------------


def generic_message(**changes: Any) -> dict[str, Any]:
    return {"message_id": "m-9", "thread_id": "t-9", "text": "hi", "author": {"id": "u", "name": "Bo"},
            "timestamp": "2024-05-10T12:00:00Z", **changes}  # fmt: skip


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/webhooks/generic/acme-web", generic_message(timestamp="0001-01-01T00:00:00+01:00")),
        ("/webhooks/telegram/acme-telegram", telegram(7, date=10**20)),
        ("/webhooks/x", {"for_user_id": X_ID, "direct_message_events": [{"type": "message_create", "id": "d1",
         "created_timestamp": "not-a-number", "message_create": {"sender_id": "22", "message_data": {"text": "hi"}}}]}),
        ("/webhooks/x", {"data": {"event_type": "post.mention.create", "filter": {"user_id": X_ID}, "payload": {
         "id": "p1", "author_id": "22", "text": "hi", "created_at": "0001-01-01T00:00:00+01:00"}}}),
    ],
    ids=["generic-year-1", "telegram-date-1e20", "x-dm-created_timestamp", "x-v2-created_at-year-1"],
)  # fmt: skip
def test_out_of_range_timestamps_are_not_a_500(
    app_and_store: tuple[FlaskClient, Store], path: str, payload: dict[str, Any]
) -> None:
    client, _ = app_and_store
    body = json.dumps(payload).encode()
    response = client.post(path, data=body, headers=signed(path, body), content_type="application/json")
    assert response.status_code < 500, (response.status_code, response.get_json())


# -- 4. a signed body over the limit, sent chunked (no Content-Length) -----------------------------------------


def padded(size: int) -> bytes:
    """A Messenger delivery of exactly ``size`` bytes: one message, then a pad Meta's parser passes over."""
    body = json.dumps(messenger_batch()).encode()
    return body[:-1] + b', "pad": "' + b"x" * (size - len(body) - 11) + b'"}'


def post_chunked(url: str, path: str, body: bytes) -> requests.Response:
    headers = {**signed(path, body), "Content-Type": "application/json"}
    chunks = (body[i : i + 64 * 1024] for i in range(0, len(body), 64 * 1024))  # requests sends it chunked
    response = requests.post(url + path, data=chunks, headers=headers, timeout=30)
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    return response


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_signed_chunked_body_over_the_limit_is_a_413_not_a_401(tmp_path: Path, path: str) -> None:
    """werkzeug read a chunked body up to the limit and stopped, cutting it short without a word: the signature
    of what was left failed, 401 "invalid signature", and the operator looked for a wrong secret."""
    with serve_bridge(full_config(tmp_path)) as bridge:
        response = post_chunked(bridge["url"], path, padded(MAX_BODY + 1))
        stored = bridge["store"].rows("inbox")
    assert (response.status_code, response.json()) == (413, {"error": RequestEntityTooLarge.description})
    assert stored == []


def test_a_signed_chunked_body_of_the_limit_exactly_is_stored(tmp_path: Path) -> None:
    with serve_bridge(full_config(tmp_path)) as bridge:
        body = padded(MAX_BODY)
        response = post_chunked(bridge["url"], "/webhooks/meta", body)
        stored = bridge["store"].rows("inbox")
    assert len(body) == MAX_BODY
    assert (response.status_code, response.json()["stored"]) == (200, len(messenger_batch()["entry"][0]["messaging"]))
    assert len(stored) == response.json()["stored"]
