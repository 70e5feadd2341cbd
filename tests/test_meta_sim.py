"""The Meta Graph API simulator: it must speak Meta's shapes, since every Meta test relies on it.

Customer payloads are compared with the vendor fixtures in ``tests/fixtures/meta`` key by key,
signatures with the documented formula and vectors, and Graph's answers with Graph's error shape.
Everything goes over real sockets: the simulator posts to a small receiving server started here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import request

from sandbox.base import Call, Simulator
from sandbox.meta import MetaSimulator
from webhooks.signatures import verify_meta

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "meta"
SECRET = "test_app_secret"
PAGE, TOKEN = "1234567890321", "EAAGm0PX4ZCpsBAPAGETOKEN"
OTHER_PAGE, OTHER_TOKEN = "5550001112223", "EAAGm0PX4ZCpsBOTHERTOKEN"
HOUR, DAY = 3600.0, 86_400.0


class Receiver(Simulator):
    """Stands in for the bridge's ``/webhooks/meta``: records what Meta posted, answers ``status``."""

    name = "receiver"

    def __init__(self) -> None:
        super().__init__()
        self.status, self.delay = 200, 0.0
        self.app.add_url_rule("/webhooks/meta", "post", self._post, methods=["POST"])
        self.app.add_url_rule("/webhooks/meta", "get", lambda: request.args.get("hub.challenge", ""), methods=["GET"])

    def _post(self) -> tuple[str, int]:
        time.sleep(self.delay)
        return "", self.status

    @property
    def received(self) -> list[Call]:
        return self.calls_to("POST", "/webhooks/meta")


@pytest.fixture(scope="module")
def shared_receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


@pytest.fixture
def receiver(shared_receiver: Receiver) -> Receiver:
    # One receiver for the module: stopping a server costs half a second (serve_forever's poll interval).
    shared_receiver.reset_calls()
    shared_receiver.status, shared_receiver.delay = 200, 0.0
    return shared_receiver


@pytest.fixture
def sim(receiver: Receiver) -> Iterator[MetaSimulator]:
    simulator = MetaSimulator(
        SECRET,
        {PAGE: TOKEN, OTHER_PAGE: OTHER_TOKEN},
        webhook_target=f"{receiver.url}/webhooks/meta",
        page_names={PAGE: "Acme Support"},
    )
    with simulator:
        yield simulator


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def shape(value: Any) -> Any:
    """The key structure of a JSON value: dicts by key, lists by their first item, leaves as "·"."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return "·"


def graph(sim: MetaSimulator, method: str, path: str, *, token: str | None = TOKEN, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, f"{sim.url}/v21.0{path}", headers=headers, timeout=5, **kwargs)


def send(sim: MetaSimulator, psid: str, text: str = "Hello", **fields: Any) -> requests.Response:
    body = {"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": text}, **fields}
    return graph(sim, "POST", f"/{PAGE}/messages", json=body)


def assert_graph_error(
    response: requests.Response, status: int, code: int, subcode: int | None = None
) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    expected = {"message", "type", "code", "fbtrace_id"} | ({"error_subcode"} if subcode is not None else set())
    assert set(error) - {"is_transient"} == expected
    assert (error["code"], error.get("error_subcode")) == (code, subcode)
    assert isinstance(error["message"], str) and isinstance(error["fbtrace_id"], str) and error["fbtrace_id"]
    return error


# -- customer payloads: the fixtures' shapes -------------------------------------------------------------


def test_customer_comment_has_the_fixture_shape_and_is_delivered_signed(sim: MetaSimulator, receiver: Receiver) -> None:
    sent = sim.customer_comment(PAGE, text="My order never came", user_id="6523100", user_name="Dana")
    assert shape(sent["payload"]) == shape(fixture("meta_page_feed_comment.json"))
    value = sent["payload"]["entry"][0]["changes"][0]["value"]
    assert value["parent_id"] == value["post_id"] == sent["post_id"]  # a top-level comment
    assert value["post_id"].startswith(f"{PAGE}_") and value["comment_id"] == sent["comment_id"]
    assert value["from"] == {"id": "6523100", "name": "Dana"}
    assert sent["response"] is not None and sent["response"].status_code == 200
    [call] = receiver.received
    assert json.loads(call.body) == sent["payload"]


def test_reply_to_a_comment_names_it_as_parent_and_replies_stay_two_levels(sim: MetaSimulator) -> None:
    top = sim.customer_comment(PAGE, text="Hello?", user_id="1", user_name="A", send=False)
    reply = sim.customer_comment(PAGE, parent_id=top["comment_id"], text="Anyone?", user_id="2", user_name="B")
    deeper = sim.customer_comment(PAGE, parent_id=reply["comment_id"], text="!", user_id="3", user_name="C")
    assert reply["parent_id"] == deeper["parent_id"] == top["comment_id"]
    assert reply["post_id"] == deeper["post_id"] == top["post_id"]
    assert shape(reply["payload"]) == shape(fixture("meta_page_feed_comment.json"))


def test_comment_on_a_given_post_uses_that_post(sim: MetaSimulator) -> None:
    post_id = sim.add_post(PAGE, "Our new opening hours")
    sent = sim.customer_comment(PAGE, post_id=post_id, text="Nice", user_id="1", user_name="A", send=False)
    assert sent["post_id"] == post_id and sent["comment_id"].startswith(post_id.split("_")[1] + "_")


@pytest.mark.parametrize(
    ("fixture_name", "options", "event_only"),
    [
        ("meta_messenger_text.json", {"text": "hello, world!", "quick_reply": "RED"}, False),
        (
            "meta_messenger_fallback_attachment_full.json",
            {"text": "look", "attachments": [{"type": "fallback", "payload": {"url": "https://x.test", "title": "T"}}]},
            False,
        ),
        ("meta_messenger_reply_event.json", {"text": "this one", "reply_to": "m_earlier"}, True),
    ],
    ids=["text", "fallback-attachment", "reply"],
)
def test_customer_message_has_the_fixture_shape(
    sim: MetaSimulator, fixture_name: str, options: dict[str, Any], event_only: bool
) -> None:
    sent = sim.customer_message(PAGE, psid="2400012345", send=False, **options)
    produced = sent["payload"]["entry"][0]["messaging"][0] if event_only else sent["payload"]
    assert shape(produced) == shape(fixture(fixture_name))
    event = sent["payload"]["entry"][0]["messaging"][0]
    assert event["sender"] == {"id": "2400012345"} and event["recipient"] == {"id": PAGE}
    assert event["timestamp"] == sent["timestamp"] and event["timestamp"] > 10_000_000_000  # milliseconds


def test_message_timestamp_is_the_customers(sim: MetaSimulator) -> None:
    sent = sim.customer_message(PAGE, psid="1", text="hi", timestamp=1_700_000_000.25, send=False)
    entry = sent["payload"]["entry"][0]
    assert entry["time"] == entry["messaging"][0]["timestamp"] == 1_700_000_000_250


def test_deleting_a_comment_sends_the_remove_change(sim: MetaSimulator, receiver: Receiver) -> None:
    top = sim.customer_comment(PAGE, text="oops", user_id="9", user_name="Z", send=False)
    sim.delete_comment(top["comment_id"])
    payload = json.loads(receiver.received[-1].body)
    assert shape(payload) == shape(fixture("meta_page_feed_comment_remove.json"))
    assert payload["entry"][0]["changes"][0]["value"]["verb"] == "remove"


# -- signing and delivery --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("meta_page_feed_comment.json", "sha256=c59abb446834bfa1f7afab719aa5467970b7ab2f879b60b6894d202d740d03e8"),
        ("whatsapp_text_message.json", "sha256=1c041e1c07f50386213ac582d2e17d24d70f1ed42949a6e5a5607057b805b5fc"),
    ],
)
def test_signature_matches_the_published_vectors(sim: MetaSimulator, name: str, expected: str) -> None:
    assert sim.sign((FIXTURES / name).read_bytes()) == expected


def test_every_delivery_is_signed_over_the_raw_body(sim: MetaSimulator, receiver: Receiver) -> None:
    sim.customer_comment(PAGE, text="Ça coûte 10 €/mois?", user_id="1", user_name="Zoë")
    sim.customer_message(PAGE, psid="77", text="日本語 ok")
    for call in receiver.received:
        digest = hmac.new(SECRET.encode(), call.body, hashlib.sha256).hexdigest()
        assert call.headers["X-Hub-Signature-256"] == f"sha256={digest}"
        assert (
            call.headers["X-Hub-Signature"] == "sha1=" + hmac.new(SECRET.encode(), call.body, hashlib.sha1).hexdigest()
        )
        assert verify_meta(call.body, call.headers["X-Hub-Signature-256"], [SECRET])  # the production verifier
        assert call.headers["Content-Type"] == "application/json"


def test_body_is_escaped_like_metas(sim: MetaSimulator, receiver: Receiver) -> None:
    sim.customer_comment(PAGE, text="Café / ok", user_id="1", user_name="A")
    body = receiver.received[0].body
    assert body.isascii() and b"Caf\\u00e9 \\/ ok" in body
    assert json.loads(body)["entry"][0]["changes"][0]["value"]["message"] == "Café / ok"


def test_deliver_repeats_the_same_signed_bytes(sim: MetaSimulator, receiver: Receiver) -> None:
    payload = sim.customer_message(PAGE, psid="5", text="again", send=False)["payload"]
    responses = sim.deliver(payload, times=3)
    assert [r.status_code for r in responses] == [200, 200, 200]
    bodies = {(c.body, c.headers["X-Hub-Signature-256"]) for c in receiver.received}
    assert len(receiver.received) == 3 and len(bodies) == 1


def test_batch_puts_several_entries_in_one_post(sim: MetaSimulator, receiver: Receiver) -> None:
    first = sim.customer_message(PAGE, psid="5", text="one", send=False)["payload"]
    second = sim.customer_message(OTHER_PAGE, psid="6", text="two", send=False)["payload"]
    assert sim.batch([first, second]).status_code == 200
    [call] = receiver.received
    assert [e["id"] for e in json.loads(call.body)["entry"]] == [PAGE, OTHER_PAGE]


def test_subscription_handshake(sim: MetaSimulator) -> None:
    response = sim.verify_subscription("my-verify-token", challenge="42424242")
    assert response.text == "42424242"


def test_delivery_answers_are_recorded(sim: MetaSimulator, receiver: Receiver) -> None:
    receiver.status = 503
    sent = sim.customer_message(PAGE, psid="5", text="x")
    assert sent["response"] is not None and sent["response"].status_code == 503
    assert sim.deliveries[-1][1] == 503


# -- echoes ----------------------------------------------------------------------------------------------


def test_send_api_echo_comes_after_the_answer_with_the_same_mid(sim: MetaSimulator, receiver: Receiver) -> None:
    sim.echoes = True
    receiver.delay = 1.0
    sim.customer_message(PAGE, psid="2400012345", text="hi", send=False)
    started = time.monotonic()
    answer = send(sim, "2400012345", "Hello from Acme").json()
    assert time.monotonic() - started < 0.8  # not held up by the slow receiver
    assert sim.wait_for_webhooks(timeout=5)
    payload = json.loads(receiver.received[-1].body)
    event = payload["entry"][0]["messaging"][0]
    assert event["sender"] == {"id": PAGE} and event["recipient"] == {"id": "2400012345"}
    assert event["message"]["mid"] == answer["message_id"] and event["message"]["is_echo"] is True
    assert isinstance(event["message"]["app_id"], int) and event["message"]["text"] == "Hello from Acme"
    echo_fixture = fixture("meta_messenger_echo_full.json")
    assert set(event["message"]) <= set(echo_fixture["entry"][0]["messaging"][0]["message"])
    assert shape({**payload, "entry": []}) == shape({**echo_fixture, "entry": []})


def test_comment_reply_echo_is_a_feed_change_from_the_page(sim: MetaSimulator, receiver: Receiver) -> None:
    sim.echoes = True
    top = sim.customer_comment(PAGE, text="Where is my parcel?", user_id="1", user_name="A", send=False)
    answer = graph(sim, "POST", f"/{top['comment_id']}/comments", data={"message": "On its way"}).json()
    assert sim.wait_for_webhooks(timeout=5)
    payload = json.loads(receiver.received[-1].body)
    assert shape(payload) == shape(fixture("meta_page_feed_comment.json"))
    value = payload["entry"][0]["changes"][0]["value"]
    assert value["from"]["id"] == PAGE and value["comment_id"] == answer["id"]
    assert value["parent_id"] == top["comment_id"] and value["message"] == "On its way"


def test_no_echo_unless_asked(sim: MetaSimulator, receiver: Receiver) -> None:
    sim.customer_message(PAGE, psid="1", text="hi", send=False)
    send(sim, "1")
    assert sim.wait_for_webhooks(timeout=1) and receiver.received == []


# -- Graph: Send API, comments, objects --------------------------------------------------------------------


@pytest.mark.parametrize("where", ["query", "form", "json", "bearer", "oauth"])
def test_access_token_is_read_from_every_documented_place(sim: MetaSimulator, where: str) -> None:
    sim.customer_message(PAGE, psid="7", text="hi", send=False)
    body = {"recipient": {"id": "7"}, "messaging_type": "RESPONSE", "message": {"text": "yo"}}
    url, headers = f"{sim.url}/v21.0/me/messages", {}
    kwargs: dict[str, Any] = {"json": body}
    if where == "query":
        url += f"?access_token={TOKEN}"
    elif where == "form":
        kwargs = {
            "data": {k: json.dumps(v) if isinstance(v, dict) else v for k, v in body.items()} | {"access_token": TOKEN}
        }
    elif where == "json":
        kwargs = {"json": {**body, "access_token": TOKEN}}
    else:
        headers = {"Authorization": f"{'Bearer' if where == 'bearer' else 'OAuth'} {TOKEN}"}
    response = requests.post(url, headers=headers, timeout=5, **kwargs)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["recipient_id"] == "7" and answer["message_id"].startswith("m_")
    assert sim.sent_messages == [
        {"page": PAGE, "recipient": "7", "text": "yo", "messaging_type": "RESPONSE", "tag": None,
         "message_id": answer["message_id"]}
    ]  # fmt: skip


def test_page_comment_reply_is_recorded(sim: MetaSimulator) -> None:
    top = sim.customer_comment(PAGE, text="Hi", user_id="1", user_name="A", send=False)
    response = graph(sim, "POST", f"/{top['comment_id']}/comments", json={"message": "Hello!"})
    assert response.status_code == 200
    new_id = response.json()["id"]
    assert new_id.startswith(top["post_id"].split("_")[1] + "_")
    assert sim.comment_replies == [{"parent_id": top["comment_id"], "message": "Hello!", "id": new_id}]


@pytest.mark.parametrize(
    ("age", "messaging_type", "tag", "allowed"),
    [
        (1 * HOUR, "RESPONSE", None, True),
        (25 * HOUR, "RESPONSE", None, False),
        (25 * HOUR, "UPDATE", None, False),
        (3 * DAY, "MESSAGE_TAG", "HUMAN_AGENT", True),
        (8 * DAY, "MESSAGE_TAG", "HUMAN_AGENT", False),
        (8 * DAY, "MESSAGE_TAG", "ACCOUNT_UPDATE", True),
    ],
)
def test_send_windows_are_measured_from_the_last_customer_message(
    sim: MetaSimulator, age: float, messaging_type: str, tag: str | None, allowed: bool
) -> None:
    sim.customer_message(PAGE, psid="42", text="help", timestamp=time.time() - age, send=False)
    response = send(sim, "42", messaging_type=messaging_type, **({"tag": tag} if tag else {}))
    if allowed:
        assert response.status_code == 200, response.text
    else:
        error = assert_graph_error(response, 400, 10, 2018278)
        assert "This message is sent outside of allowed window." in error["message"]
        assert error["type"] == "OAuthException" and sim.sent_messages == []


def test_a_newer_customer_message_reopens_the_window(sim: MetaSimulator) -> None:
    sim.customer_message(PAGE, psid="42", text="old", timestamp=time.time() - 3 * DAY, send=False)
    assert send(sim, "42").status_code == 400
    sim.customer_message(PAGE, psid="42", text="new", send=False)
    assert send(sim, "42").status_code == 200


def test_graph_errors_have_grahs_shape(sim: MetaSimulator) -> None:
    sim.customer_message(PAGE, psid="42", text="hi", send=False)
    top = sim.customer_comment(PAGE, text="Hi", user_id="1", user_name="A", send=False)
    sim.delete_comment(top["comment_id"], send=False)

    error = assert_graph_error(send(sim, "42", "x" * 2001), 400, 100)
    assert error["message"] == "(#100) Length of param message[text] must be less than or equal to 2000"
    assert send(sim, "42", "x" * 2000).status_code == 200
    error = assert_graph_error(send(sim, "unknown-psid"), 400, 100, 2018001)
    assert error["message"] == "(#100) No matching user found"
    error = assert_graph_error(send(sim, "42", messaging_type="MESSAGE_TAG"), 400, 100)
    assert "Tag is required" in error["message"]
    error = assert_graph_error(
        graph(sim, "POST", f"/{top['comment_id']}/comments", data={"message": "x"}), 400, 100, 33
    )
    assert error["message"].startswith(f"Unsupported post request. Object with ID '{top['comment_id']}' does not exist")
    assert error["type"] == "GraphMethodException"
    error = assert_graph_error(graph(sim, "GET", f"/{top['comment_id']}"), 400, 100, 33)
    assert error["message"].startswith("Unsupported get request.")
    assert_graph_error(graph(sim, "GET", "/me", token=None), 400, 104)
    assert_graph_error(graph(sim, "GET", "/me", token="garbage"), 400, 190)
    assert_graph_error(graph(sim, "POST", f"/{OTHER_PAGE}/messages", json={}), 403, 200)
    assert_graph_error(graph(sim, "GET", "/me/nothing_here"), 400, 2500)


@pytest.mark.parametrize("quick", [None, [{"content_type": "text", "title": "Yes", "payload": "YES"}]])
def test_an_empty_text_is_refused_with_or_without_quick_replies(sim: MetaSimulator, quick: Any) -> None:
    """Quick Replies reference: ``text`` is "Non-empty message text"; the simulator took "" and sent nothing visible."""
    sim.customer_message(PAGE, psid="42", text="hi", send=False)
    message = {"text": "", **({"quick_replies": quick} if quick else {})}
    body = {"recipient": {"id": "42"}, "messaging_type": "RESPONSE", "message": message}

    error = assert_graph_error(graph(sim, "POST", f"/{PAGE}/messages", json=body), 400, 100)

    assert "non-empty" in error["message"] and sim.sent_messages == []


@pytest.mark.parametrize(
    "template",
    [{"name": "hello_world", "language": "en_US"}, {"language": {"code": "en_US"}}, {"name": "hello_world"},
     {"name": "hello_world", "language": {"policy": "deterministic"}}],
    ids=["language-as-text", "no-name", "no-language", "no-code"],
)  # fmt: skip
def test_a_whatsapp_template_needs_its_name_and_language_code(template: dict[str, Any]) -> None:
    """The template object's ``name`` and ``language`` (with ``code``) are required: each missing is Graph's #100,
    never the simulator breaking; with both, the approved ``hello_world`` is sent."""
    phone, token, customer = "106540352242922", "EAAJB-wa-token", "16505551234"
    with MetaSimulator(SECRET, whatsapp={phone: token}, whatsapp_numbers={phone: "15550783881"}) as wa:
        wa.whatsapp_message(phone, wa_id=customer, text="hi", send=False)
        url, headers = f"{wa.url}/v21.0/{phone}/messages", {"Authorization": f"Bearer {token}"}
        body = {"messaging_product": "whatsapp", "to": customer, "type": "template"}

        refused = requests.post(url, json={**body, "template": template}, headers=headers, timeout=5)
        good = {"name": "hello_world", "language": {"code": "en_US"}}
        sent = requests.post(url, json={**body, "template": good}, headers=headers, timeout=5)

    assert_graph_error(refused, 400, 100)
    assert "template['" in refused.json()["error"]["message"]
    assert sent.status_code == 200 and sent.json()["messages"][0]["message_status"] == "accepted"


def test_expired_token_answers_190_463(sim: MetaSimulator) -> None:
    sim.expire_token(PAGE)
    response = graph(sim, "GET", "/me")
    error = assert_graph_error(response, 400, 190, 463)
    assert error["message"].startswith("Error validating access token: Session has expired on ")
    assert error["type"] == "OAuthException" and "invalid_token" in response.headers["WWW-Authenticate"]
    assert graph(sim, "GET", "/me", token=OTHER_TOKEN).status_code == 200  # only that page's token


def test_blocked_person_answers_551(sim: MetaSimulator) -> None:
    sim.customer_message(PAGE, psid="42", text="hi", send=False)
    sim.block(PAGE, "42")
    assert "isn't available" in assert_graph_error(send(sim, "42"), 400, 551, 1545041)["message"]


def test_private_reply_to_a_comment_only_once(sim: MetaSimulator) -> None:
    top = sim.customer_comment(PAGE, text="DM me", user_id="3141", user_name="A", send=False)
    body = {"recipient": {"comment_id": top["comment_id"]}, "message": {"text": "Sent you a DM"}}
    first = graph(sim, "POST", "/me/messages", json=body)
    assert first.status_code == 200 and first.json()["recipient_id"] == "3141"
    assert_graph_error(graph(sim, "POST", "/me/messages", json=body), 400, 10900)


@pytest.mark.parametrize(
    ("path", "fields", "expected"),
    [
        ("/me", None, {"id": PAGE, "name": "Acme Support"}),
        (f"/{OTHER_PAGE}", "name", {"name": f"Page {OTHER_PAGE}", "id": OTHER_PAGE}),
        (f"/{PAGE}", "id,name,link", {"id": PAGE, "name": "Acme Support", "link": f"https://www.facebook.com/{PAGE}"}),
    ],
)
def test_get_page(sim: MetaSimulator, path: str, fields: str | None, expected: dict[str, str]) -> None:
    response = graph(sim, "GET", path, params={"fields": fields} if fields else None)
    assert response.status_code == 200 and response.json() == expected
    assert response.headers["facebook-api-version"] == "v21.0"


def test_get_comment_default_and_chosen_fields(sim: MetaSimulator) -> None:
    top = sim.customer_comment(PAGE, text="Hi", user_id="1", user_name="A", created_time=1_700_000_000, send=False)
    reply = sim.customer_comment(PAGE, parent_id=top["comment_id"], text="Hey", user_id="2", user_name="B", send=False)
    default = graph(sim, "GET", f"/{top['comment_id']}").json()
    assert list(default) == ["created_time", "from", "message", "id"]
    assert default["created_time"] == "2023-11-14T22:13:20+0000" and default["from"] == {"name": "A", "id": "1"}
    chosen = graph(sim, "GET", f"/{reply['comment_id']}", params={"fields": "parent{id},comment_count"}).json()
    assert chosen["parent"]["id"] == top["comment_id"] and chosen["id"] == reply["comment_id"]
    assert graph(sim, "GET", f"/{top['comment_id']}", params={"fields": "comment_count"}).json()["comment_count"] == 1
    error = assert_graph_error(graph(sim, "GET", f"/{top['comment_id']}", params={"fields": "likes_x"}), 400, 100)
    assert error["message"] == "(#100) Tried accessing nonexisting field (likes_x) on node type (Comment)"


# -- throttling and slowness -------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "status", "buc_type"), [(4, 403, None), (32, 403, "pages"), (613, 400, "messenger")])
def test_throttle_answers_graphs_rate_limit_errors(
    sim: MetaSimulator, code: int, status: int, buc_type: str | None
) -> None:
    sim.throttle(2, code=code, regain_minutes=7)
    for _ in range(2):
        response = graph(sim, "GET", "/me")
        error = assert_graph_error(response, status, code)
        assert error["is_transient"] is True
        assert set(json.loads(response.headers["X-App-Usage"])) == {"call_count", "total_cputime", "total_time"}
        if buc_type:
            [usage] = json.loads(response.headers["X-Business-Use-Case-Usage"])[PAGE]
            assert usage["type"] == buc_type and usage["estimated_time_to_regain_access"] == 7
    assert graph(sim, "GET", "/me").status_code == 200


def test_slow_down_applies_the_call_then_answers_late(sim: MetaSimulator) -> None:
    sim.customer_message(PAGE, psid="42", text="hi", send=False)
    sim.slow_down(0.6)
    started = time.monotonic()
    assert send(sim, "42").status_code == 200
    assert time.monotonic() - started >= 0.6 and len(sim.sent_messages) == 1
