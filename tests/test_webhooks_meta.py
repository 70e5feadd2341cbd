"""/webhooks/meta through Flask's test client: signed vendor payloads in, inbox rows out, bad input 4xx."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server
from werkzeug.test import Client, TestResponse

from bridge.config import Config
from bridge.events import Ignored, SocialEvent
from bridge.store import Store
from sandbox.base import shutdown
from tests.conftest import APP_SECRET, PAGE_ID, VERIFY_TOKEN, fixture_bytes
from webhooks.app import create_app
from webhooks.direct import DirectPost
from webhooks.meta import parse
from webhooks.signatures import sign_meta

PSID = "2468013579"


def materialise(name: str) -> bytes:
    """A vendor fixture with its placeholders filled in with our page and a customer PSID."""
    return fixture_bytes(f"meta/{name}").replace(b"<PAGE_ID>", PAGE_ID.encode()).replace(b"<PSID>", PSID.encode())


@pytest.fixture
def store(config: Config) -> Store:
    return Store.from_url(config.database_url)


@pytest.fixture
def client(config: Config, store: Store) -> FlaskClient:
    return create_app(config, store=store).test_client()


def post(
    client: FlaskClient,
    body: bytes,
    *,
    secret: str = APP_SECRET,
    content_type: str = "application/json",
    signature: str | None = None,
) -> TestResponse:
    headers = {"X-Hub-Signature-256": signature if signature is not None else sign_meta(body, secret)}
    return client.post("/webhooks/meta", data=body, headers=headers, content_type=content_type)


def parsed(config: Config, body: Any) -> list[SocialEvent | Ignored]:
    app = create_app(config, store=Store.from_url("sqlite://"))
    with app.test_request_context():
        return list(parse(body, config.channels_for("facebook")))


def events_of(config: Config, name: str) -> list[SocialEvent | Ignored]:
    return parsed(config, json.loads(materialise(name)))


def only_events(items: list[SocialEvent | Ignored]) -> list[SocialEvent]:
    events = [e for e in items if isinstance(e, SocialEvent)]
    assert len(events) == len(items), items
    return events


def shown(items: list[SocialEvent | Ignored]) -> list[tuple[str, ...]]:
    """Each event as (kind, thread, text), each ignored one as ("ignored", reason)."""
    return [(e.kind, e.thread_id, e.text) if isinstance(e, SocialEvent) else ("ignored", e.reason) for e in items]


def ignored_rows(store: Store) -> list[tuple[str, str]]:
    return [(r["status"], r["last_error"]) for r in store.rows("inbox")]


# -- the handshake ----------------------------------------------------------------------------------------


def test_handshake_echoes_the_challenge(client: FlaskClient) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    response = client.get("/webhooks/meta", query_string=query)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "1158201444"
    assert response.mimetype == "text/plain"  # echoed as HTML, a crafted challenge would be a page


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "x"}, 403),
        ({"hub.mode": "subscribe", "hub.challenge": "x"}, 403),
        ({"hub.verify_token": VERIFY_TOKEN, "hub.challenge": "x"}, 400),
    ],
)
def test_handshake_refusals(client: FlaskClient, query: dict[str, str], status: int) -> None:
    response = client.get("/webhooks/meta", query_string=query)
    assert response.status_code == status
    assert "error" in response.get_json()
    assert response.get_data(as_text=True) != "x"


# -- every Facebook fixture parsed ------------------------------------------------------------------------


def test_customer_comment_becomes_a_thread_event(config: Config) -> None:
    body = json.loads(materialise("meta_page_feed_comment.json"))
    body["entry"][0]["changes"][0]["value"]["from"] = {"id": "555", "name": "Jane Roe"}
    [event] = only_events(parsed(config, body))
    assert event.kind == "comment"
    assert event.message_id == "901097836652708_903438993085259"
    assert event.thread_id == "comment:901097836652708_903438993085259"  # a top-level comment starts a thread
    assert event.reply_to == "901097836652708_903438993085259"
    assert event.author.id == "555" and event.author.name == "Jane Roe"
    assert event.text == "and the next one"
    assert event.created_at.timestamp() == 1449135003
    assert event.url and "1234567890321_901097836652708" in event.url
    assert event.thread_key == f"facebook:{PAGE_ID}:comment:901097836652708_903438993085259"


def test_reply_to_a_comment_joins_the_top_level_thread(config: Config) -> None:
    body = json.loads(materialise("meta_page_feed_comment.json"))
    value = body["entry"][0]["changes"][0]["value"]
    value.update(comment_id="901097836652708_999", parent_id="901097836652708_903438993085259", **{"from": {"id": "7"}})
    [event] = only_events(parsed(config, body))
    assert event.thread_id == "comment:901097836652708_903438993085259"
    assert event.message_id == "901097836652708_999"


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        # from.id is the page itself: our own comment, an echo
        ("meta_page_feed_comment.json", [("ignored", "facebook feed change by the page")]),
        # the page (a moderator) removed it: a note saying so, not "the customer removed it"
        (
            "meta_page_feed_comment_remove.json",
            [
                (
                    "notice",
                    "comment:905578656204626_905579239537901",
                    "The page removed the Facebook comment 905578656204626_905579239537901."
                    " The customer did not remove it.",
                )
            ],
        ),
        # restfb's page id is not ours: recorded as such (the echo itself: test_meta_events)
        ("meta_messenger_echo_full.json", [("ignored", "facebook account without a channel")]),
        ("meta_page_feed_visitor_post.json", [("comment", "post:1234567890321_7293787835232", "Let's check this")]),
        ("meta_messenger_text.json", [("message", f"messenger:{PSID}", "hello, world!")]),
        (
            "meta_messenger_fallback_attachment_full.json",
            [("message", f"messenger:{PSID}", "This is where I want to go: https://youtu.be/bbo_fZAjIhg")],
        ),
    ],
)
def test_every_facebook_fixture(config: Config, fixture: str, expected: list[tuple[str, ...]]) -> None:
    assert shown(events_of(config, fixture)) == expected


@pytest.mark.parametrize(
    ("item", "link", "kind"),
    [("photo", "https://www.example.org/test.jpg", "image"), ("video", "https://www.example.org/test.mp4", "video")],
)
def test_a_visitor_post_with_a_photo_or_a_video_is_a_thread(config: Config, item: str, link: str, kind: str) -> None:
    """restfb's recorded feed-photo-add-message.json / feed-video-add.json, posted by a visitor (they were
    logged as "feed photo/add ignored": the customer's words were lost)."""
    value = {"item": item, "verb": "add", "created_time": 1448555796, "post_id": f"{PAGE_ID}_900767076685784",
             f"{item}_id": 900767076685784, "sender_id": 8423678347823, "sender_name": "John Doe", "link": link,
             "message": "The mug arrived broken, see for yourself"}  # fmt: skip
    body = {
        "object": "page",
        "entry": [{"id": PAGE_ID, "time": 1448555800, "changes": [{"field": "feed", "value": value}]}],
    }
    [event] = only_events(parsed(config, body))
    assert (event.kind, event.thread_id) == ("comment", f"post:{PAGE_ID}_900767076685784")
    assert event.author.id == "8423678347823" and event.text == "The mug arrived broken, see for yourself"
    assert [(a.url, a.kind) for a in event.attachments] == [(link, kind)]
    value["sender_id"] = int(PAGE_ID)  # the page's own photo post: not a customer's
    assert shown(parsed(config, body)) == [("ignored", "facebook feed change by the page")]


def test_a_visitor_status_with_several_photos_links_them_all(config: Config) -> None:
    """restfb's recorded feed-status-add-photos.json, by a visitor: only a single ``photo`` was read."""
    photos = [f"https://scontent-frt3-1.xx.fbcdn.net/exampleimage{n}.png" for n in (1, 2, 3)]
    value = {"item": "status", "verb": "add", "photos": photos, "post_id": f"{PAGE_ID}_930145403745849",
             "from": {"name": "Tester", "id": "77"}, "published": 1, "created_time": 1448633038,
             "message": "This is just a short test message"}  # fmt: skip
    body = {"object": "page", "entry": [{"id": PAGE_ID, "time": 1, "changes": [{"field": "feed", "value": value}]}]}
    [event] = only_events(parsed(config, body))
    assert [(a.url, a.kind) for a in event.attachments] == [(url, "image") for url in photos]


def test_messenger_reply_event_inside_an_envelope(config: Config) -> None:
    event = json.loads(materialise("meta_messenger_reply_event.json"))
    body = {"object": "page", "entry": [{"id": PAGE_ID, "time": 1, "messaging": [event]}]}
    [found] = only_events(parsed(config, body))
    assert found.message_id == "m_1457764197618:41d102a3e1ae206a38"
    assert found.created_at.year == 2016  # milliseconds understood


@pytest.mark.parametrize(
    "name",
    [
        "instagram_comment.json",
        "instagram_dm.json",
        "whatsapp_text_message.json",
        "whatsapp_status_sent.json",
        "whatsapp_status_failed.json",
    ],
)
def test_other_meta_objects_are_acknowledged_without_a_channel(client: FlaskClient, store: Store, name: str) -> None:
    response = post(client, materialise(name))
    assert response.status_code == 200
    [(status, reason)] = ignored_rows(store)  # recorded, with the reason, for `socialdesk status`
    assert status == "ignored" and reason.endswith("without a channel")


# -- the POST path -------------------------------------------------------------------------------------------


def test_message_is_stored_once_per_delivery(client: FlaskClient, store: Store) -> None:
    body = materialise("meta_messenger_text.json")
    for _ in range(50):
        assert post(client, body).status_code == 200
    rows = store.rows("inbox")
    assert len(rows) == 1
    assert rows[0]["status"] == "pending" and rows[0]["thread_key"] == f"facebook:{PAGE_ID}:messenger:{PSID}"


def test_several_entries_and_events_in_one_post(client: FlaskClient, store: Store) -> None:
    events = [
        {"sender": {"id": f"9{i}"}, "recipient": {"id": PAGE_ID}, "timestamp": 1700000000000 + i,
         "message": {"mid": f"m_{i}", "text": f"hello {i}"}}
        for i in range(6)
    ]  # fmt: skip
    body = {"object": "page", "entry": [{"id": PAGE_ID, "time": 1, "messaging": events[:3]},
                                        {"id": PAGE_ID, "time": 1, "messaging": events[3:]}]}  # fmt: skip
    response = post(client, json.dumps(body).encode())
    assert response.get_json() == {"ok": True, "received": 6, "stored": 6}
    assert len(store.rows("inbox")) == 6


def test_dashboard_test_event_for_entry_zero_is_harmless(client: FlaskClient, store: Store) -> None:
    body = {"object": "page", "entry": [{"id": "0", "time": 1, "changes": [{"field": "feed", "value": {}}]}]}
    response = post(client, json.dumps(body).encode())
    assert response.status_code == 200
    assert ignored_rows(store) == [("ignored", "facebook account without a channel")]


def test_unknown_but_signed_field_is_acknowledged(client: FlaskClient, store: Store) -> None:
    body = {"object": "page", "entry": [{"id": PAGE_ID, "time": 1, "changes": [{"field": "ratings", "value": {}}]}]}
    assert post(client, json.dumps(body).encode()).status_code == 200
    assert ignored_rows(store) == [("ignored", "facebook field ratings")]


GOOD = materialise("meta_messenger_text.json")


def test_the_content_type_is_read_without_regard_to_case(client: FlaskClient, store: Store) -> None:
    """Media types are case-insensitive (RFC 9110): the Meta route answered 415 where the others took it."""
    assert post(client, GOOD, content_type="Application/JSON; charset=UTF-8").status_code == 200
    assert len(store.rows("inbox")) == 1


@pytest.mark.parametrize(
    ("body", "kwargs", "status", "error"),
    [
        (GOOD, {"signature": ""}, 401, "invalid signature"),
        (GOOD, {"signature": "sha256=" + "0" * 64}, 401, "invalid signature"),
        (GOOD, {"secret": "another-app"}, 401, "invalid signature"),
        (GOOD, {"signature": "sha1=abc"}, 401, "invalid signature"),
        (b"{not json", {}, 400, "body is not valid JSON"),
        (b"\xff\xfe", {}, 400, "body is not valid JSON"),
        (GOOD, {"content_type": "text/plain"}, 415, "expected Content-Type: application/json"),
        (b"[]", {}, 400, "expected an object with an entry array"),
        (b'{"object": "page"}', {}, 400, "expected an object with an entry array"),
        (b'{"object": "page", "entry": [1]}', {}, 400, "entry items must be objects"),
        (b'{"object": "myspace", "entry": []}', {}, 400, "unsupported object 'myspace'"),
        (b'{"object": ["page"], "entry": []}', {}, 400, "unsupported object \"['page']\""),
    ],
)
def test_bad_input_gets_a_short_json_4xx(
    client: FlaskClient, store: Store, body: bytes, kwargs: dict[str, Any], status: int, error: str
) -> None:
    response = post(client, body, **kwargs)
    assert response.status_code == status
    assert response.get_json() == {"error": error}
    assert store.rows("inbox") == []


def test_one_unusable_change_is_recorded_and_its_neighbours_are_stored(client: FlaskClient, store: Store) -> None:
    """A feed change without its post_id (was a 400 for the whole POST: Meta sends it again for days, and
    every other event of the POST with it)."""
    broken = {"field": "feed", "value": {"item": "comment", "verb": "add", "from": {"id": "5"}}}
    body = json.loads(materialise("meta_messenger_text.json"))
    body["entry"][0]["changes"] = [broken]
    response = post(client, json.dumps(body).encode())
    assert response.status_code == 200 and response.get_json() == {"ok": True, "received": 2, "stored": 2}
    assert sorted(ignored_rows(store), key=str) == [("ignored", "missing post_id"), ("pending", None)]
    assert post(client, json.dumps(body).encode()).get_json()["stored"] == 0  # a redelivery is recognised


def test_oversized_body_is_refused(client: FlaskClient) -> None:
    body = b'{"object": "page", "entry": [], "pad": "' + b"x" * (1024 * 1024) + b'"}'
    response = post(client, body)
    assert response.status_code == 413
    assert "error" in response.get_json()


def test_a_nul_in_an_id_is_refused_not_retried_forever(pg_url: str, config: Config) -> None:
    # PostgreSQL cannot store NUL: without the check this webhook is a 503 on every redelivery, for ever.
    client = create_app(config, store=Store.from_url(pg_url, migrate=True)).test_client()
    response = post(client, GOOD.replace(b"mid.1457764197618", b"mid.14\\u0000x"))
    assert response.status_code == 400
    assert response.get_json() == {"error": "identifiers must not contain NUL characters"}
    assert post(client, GOOD.replace(b"hello", b"he\\u0000llo")).status_code == 200  # in the text it is fine


def test_storage_failure_is_a_503_and_loses_nothing_stored(tmp_path: Path, config: Config) -> None:
    path = tmp_path / "store.db"
    store = Store.from_url(f"sqlite:///{path}")
    client = create_app(config, store=store).test_client()
    assert post(client, GOOD).status_code == 200
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE inbox RENAME TO inbox_offline")
    db.commit()
    other = GOOD.replace(b"mid.1457764197618", b"mid.2")
    response = post(client, other)
    assert response.status_code == 503
    assert response.get_json() == {"error": "storage unavailable, retry later"}
    db.execute("ALTER TABLE inbox_offline RENAME TO inbox")
    db.commit()
    assert post(client, other).status_code == 200  # Meta's redelivery succeeds
    assert len(store.rows("inbox")) == 2


# -- the route below Flask (webhooks.direct) ---------------------------------------------------------------


def test_a_chunked_body_is_read_whole_through_a_real_server(config: Config, store: Store) -> None:
    """A body without Content-Length (chunked) is read to its end, as Flask's ``get_data`` would."""
    body = materialise("meta_messenger_text.json")
    server = make_server("127.0.0.1", 0, create_app(config, store=store), threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign_meta(body, APP_SECRET)}
        chunks = (body[i : i + 100] for i in range(0, len(body), 100))
        url = f"http://127.0.0.1:{server.port}/webhooks/meta"
        response = requests.post(url, data=chunks, headers=headers, timeout=10)
    finally:
        shutdown(server)
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert (response.status_code, response.json()) == (200, {"ok": True, "received": 1, "stored": 1})
    assert len(store.rows("inbox")) == 1


def test_a_bug_behind_the_direct_route_answers_json_500_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    def broken(raw: bytes, mimetype: str, environ: Any) -> dict[str, Any]:
        raise KeyError("secret-looking detail")

    app = DirectPost(Flask("unused"), "/webhooks/meta", broken, max_body=1024)
    response = Client(app).post("/webhooks/meta", data=b"{}", content_type="application/json")
    assert response.status_code == 500
    assert response.get_json() == {"error": "Internal Server Error"}
    assert "secret-looking" not in response.get_data(as_text=True)
    assert "secret-looking detail" in caplog.text  # the log keeps the details


def test_the_direct_route_takes_only_its_post_everything_else_goes_to_flask(client: FlaskClient) -> None:
    assert client.put("/webhooks/meta", data=b"{}").status_code == 405
    assert client.post("/webhooks/meta/", data=b"{}").status_code == 404
    assert client.get("/healthz").get_json() == {"ok": True}
