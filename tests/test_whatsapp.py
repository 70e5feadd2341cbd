"""WhatsApp Cloud API end to end: webhook payloads in (fixtures and the simulator's), replies out through
the WhatsAppChannel to the Graph API simulator, statuses back through a bridge app on a real socket."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from bridge import config as config_module
from bridge import errors
from bridge.config import Config
from bridge.events import Attachment, Ignored, SocialEvent, ThreadState
from bridge.ports import SocialChannel
from bridge.registry import build_channel
from bridge.store import Store
from bridge.text import split_text
from connectors.whatsapp import WhatsAppChannel
from sandbox.base import QuietHandler, shutdown
from sandbox.meta import MetaSimulator
from tests.conftest import APP_SECRET, fixture_bytes, fixture_json, raw_config
from webhooks.app import create_app
from webhooks.meta import parse

PHONE_ID, WABA_ID, NUMBER = "106540352242922", "102290129340398", "15550783881"  # as in the fixtures
TOKEN = "EAAJB-not-a-real-whatsapp-system-user-token"
CUSTOMER = "16505551234"
PREFIX = "/v21.0"
VECTOR = "sha256=1c041e1c07f50386213ac582d2e17d24d70f1ed42949a6e5a5607057b805b5fc"  # SOURCES.md


def wa_config(tmp: Path, graph_url: str = "http://127.0.0.1:9/v21.0", **extra: Any) -> Config:
    raw = raw_config(database_url=f"sqlite:///{tmp}/store.db", queue_url=f"sqlite:///{tmp}/queue.db")
    raw["channels"].append(
        {"name": "acme-whatsapp", "platform": "whatsapp", "account_id": PHONE_ID, "access_token": TOKEN,
         "app_secret": APP_SECRET, "verify_token": "v", "api_url": graph_url, **extra}
    )  # fmt: skip
    return config_module.parse(raw, env={})


@pytest.fixture(scope="module")
def shared_sim() -> Iterator[MetaSimulator]:
    names = {PHONE_ID: "Acme Coffee"}
    with MetaSimulator(
        APP_SECRET, whatsapp={PHONE_ID: TOKEN}, whatsapp_numbers={PHONE_ID: NUMBER}, whatsapp_names=names
    ) as sim:
        sim.add_template("we_are_here", "en_US")
        yield sim


@pytest.fixture(scope="module")
def bridge(shared_sim: MetaSimulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The socialdesk web app on a real socket, as Meta reaches it; the simulator posts to it."""
    config = wa_config(tmp_path_factory.mktemp("wa"), f"{shared_sim.url}{PREFIX}")
    store = Store.from_url(config.database_url)
    server = make_server("127.0.0.1", 0, create_app(config, store=store), threaded=True, request_handler=QuietHandler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    shared_sim.webhook_target = f"http://127.0.0.1:{server.server_port}/webhooks/meta"
    yield store
    shutdown(server)


@pytest.fixture
def sim(shared_sim: MetaSimulator) -> MetaSimulator:
    shared_sim.reset_calls()
    shared_sim.clear_faults()
    shared_sim.wa_statuses = False
    shared_sim.wa_sent_messages.clear()
    shared_sim.renew_token(PHONE_ID)
    return shared_sim


def make_channel(sim: MetaSimulator, **kwargs: Any) -> WhatsAppChannel:
    options: dict[str, Any] = {"timeout": 5.0, **kwargs}
    options.setdefault("account_id", PHONE_ID)
    return WhatsAppChannel(name="acme-whatsapp", access_token=TOKEN, api_url=f"{sim.url}{PREFIX}", **options)


@pytest.fixture
def channel(sim: MetaSimulator) -> WhatsAppChannel:
    return make_channel(sim)


def state(customer: str, last: datetime | None, last_id: str | None = None) -> ThreadState:
    return ThreadState(
        key=f"whatsapp:{PHONE_ID}:chat:{customer}", platform="whatsapp", channel="acme-whatsapp", account_id=PHONE_ID,
        thread_id=f"chat:{customer}", reply_to=customer, last_inbound_at=last, last_inbound_message_id=last_id,
        ticket_id="9",
    )  # fmt: skip


def customer_wrote(sim: MetaSimulator, customer: str, age: timedelta, now: datetime) -> ThreadState:
    """A thread whose customer last wrote ``age`` before ``now`` (the simulator saw it too)."""
    sent = sim.whatsapp_message(PHONE_ID, wa_id=customer, text="Hello?", timestamp=now - age, send=False)
    return state(customer, now - age, sent.message_id)


def parsed(config: Config, payload: Any) -> list[SocialEvent]:
    """The events for tickets in ``payload`` (what is recorded as ignored: :func:`reasons`)."""
    return [e for e in everything(config, payload) if isinstance(e, SocialEvent)]


def everything(config: Config, payload: Any) -> list[SocialEvent | Ignored]:
    with create_app(config, store=Store.from_url("sqlite://")).test_request_context():
        return list(parse(payload, config.channels_for("whatsapp")))


def reasons(config: Config, payload: Any) -> list[str]:
    return [e.reason for e in everything(config, payload) if isinstance(e, Ignored)]


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return "·"


def with_message(message: dict[str, Any], contacts: list[Any] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = fixture_json("meta/whatsapp_text_message.json")
    value = payload["entry"][0]["changes"][0]["value"]
    value["messages"] = [{"from": CUSTOMER, "id": "wamid.X", "timestamp": "1749416383", **message}]
    if contacts is not None:
        value["contacts"] = contacts
    return payload


# -- the fixtures, parsed ------------------------------------------------------------------------------------


def test_text_message_fixture(tmp_path: Path) -> None:
    [event] = parsed(wa_config(tmp_path), fixture_json("meta/whatsapp_text_message.json"))
    assert (event.platform, event.kind, event.account_id) == ("whatsapp", "message", PHONE_ID)
    assert event.message_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    assert event.thread_id == f"chat:{CUSTOMER}" and event.reply_to == CUSTOMER
    assert event.author.id == CUSTOMER and event.author.name == "Sheena Nelson" and event.author.phone == "+16505551234"
    assert event.text == "Does it come in another color?"
    assert event.created_at == datetime.fromtimestamp(1749416383, UTC)
    assert event.thread_key == f"whatsapp:{PHONE_ID}:chat:{CUSTOMER}"


@pytest.mark.parametrize(
    ("name", "status", "target", "error_code", "error_title"),
    [
        ("whatsapp_status_sent.json", "sent", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=", "", ""),
        (
            "whatsapp_status_failed.json", "failed", "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA",
            "131049", "This message was not delivered to maintain healthy ecosystem engagement.",
        ),
    ],
)  # fmt: skip
def test_status_fixtures(
    tmp_path: Path, name: str, status: str, target: str, error_code: str, error_title: str
) -> None:
    [event] = parsed(wa_config(tmp_path), fixture_json(f"meta/{name}"))
    assert (event.kind, event.message_id, event.text) == ("status", f"{target}#{status}", "")
    assert event.thread_id == f"chat:{CUSTOMER}" and event.author.id == CUSTOMER
    assert event.extra["status"] == status and event.extra["target_id"] == target
    assert (event.extra["error_code"], event.extra["error_title"]) == (error_code, error_title)


def test_the_channel_is_the_phone_number_not_the_business_account(tmp_path: Path) -> None:
    raw = raw_config()
    raw["channels"] = [{"name": "waba", "platform": "whatsapp", "account_id": WABA_ID, "access_token": "t",
                        "app_secret": APP_SECRET, "verify_token": "v"}]  # fmt: skip
    config = config_module.parse(raw, env={})
    assert parsed(config, fixture_json("meta/whatsapp_text_message.json")) == []
    assert reasons(config, fixture_json("meta/whatsapp_text_message.json")) == ["whatsapp number without a channel"]


@pytest.mark.parametrize(
    ("message", "text", "attachments"),
    [
        ({"type": "image", "image": {"caption": "the crack", "mime_type": "image/jpeg", "id": "1003"}},
         "the crack", [("image", "whatsapp-media:1003", None)]),
        ({"type": "image", "image": {"mime_type": "image/jpeg", "id": "1004"}}, "",
         [("image", "whatsapp-media:1004", None)]),
        ({"type": "image", "image": {"mime_type": "image/jpeg"}}, "[image]", []),
        ({"type": "document", "document": {"filename": "invoice.pdf", "mime_type": "application/pdf", "id": "7"}},
         "", [("document", "whatsapp-media:7", "invoice.pdf")]),
        ({"type": "sticker", "sticker": {"mime_type": "image/webp", "id": "55", "animated": False}}, "",
         [("sticker", "whatsapp-media:55", None)]),
        ({"type": "audio", "audio": {"mime_type": "audio/ogg", "id": "56", "voice": True}}, "",
         [("audio", "whatsapp-media:56", None)]),
        ({"type": "location", "location": {"latitude": 52.52, "longitude": 13.405, "name": "Shop", "address": "Main"}},
         "[location] Shop, Main https://maps.google.com/?q=52.52,13.405", []),
        ({"type": "contacts", "contacts": [{"name": {"formatted_name": "Jo"}, "phones": [{"phone": "+1 650"}]}]},
         "[contacts] Jo +1 650", []),
        ({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": "r", "title": "Refund",
          "description": "Money back"}}}, "Refund — Money back", []),
        ({"type": "button", "button": {"payload": "P", "text": "Track my order"}}, "Track my order", []),
        ({"type": "order", "order": {"catalog_id": "c1", "product_items": [{}, {}], "text": "asap"}},
         "[order] 2 items from catalog c1: asap", []),
        ({"type": "unsupported", "errors": [{"code": 131051, "title": "Message type unknown"}]},
         "[unsupported message type: unsupported]", []),
        ({"type": "unsupported", "unsupported": {"type": "edit"}}, "[unsupported message type: edit]", []),
        ({"type": "hologram", "hologram": {"id": "1"}}, "[unsupported message type: hologram]", []),
        ({"type": "location", "location": {}}, "[unsupported message type: location]", []),
    ],
    ids=["image", "image-no-caption", "image-no-id", "document", "sticker", "voice", "location", "contacts",
         "list-reply", "button", "order", "unsupported", "unsupported-named", "unknown-type", "empty-location"],
)  # fmt: skip
def test_every_message_type_becomes_an_event(
    tmp_path: Path, message: dict[str, Any], text: str, attachments: list[tuple[str, str, str | None]]
) -> None:
    [event] = parsed(wa_config(tmp_path), with_message(message))
    assert event.kind == "message" and event.text == text
    assert [(a.kind, a.url, a.name) for a in event.attachments] == attachments


def test_reactions_are_notes_not_customer_messages(tmp_path: Path) -> None:
    """They were dropped with an info line: now a note for the thread's ticket (ignored when it has none)."""
    message = {"type": "reaction", "reaction": {"message_id": "wamid.OURS", "emoji": "👍"}}
    [event] = parsed(wa_config(tmp_path), with_message(message))
    assert (event.kind, event.thread_id) == ("notice", f"chat:{CUSTOMER}")
    assert event.text == "The customer reacted 👍 to a message (wamid.OURS) on WhatsApp."
    assert event.extra == {"notice": "whatsapp reaction"}
    message["reaction"] = {"message_id": "wamid.OURS", "emoji": ""}  # WhatsApp's way of taking it back
    [event] = parsed(wa_config(tmp_path), with_message(message))
    assert event.text == "The customer removed their reaction to a message (wamid.OURS) on WhatsApp."


def test_a_number_change_is_a_note_on_the_old_numbers_thread(tmp_path: Path) -> None:
    """``user_changed_number`` (from: the old number) was a public comment from the customer: now a note."""
    system = {"body": "User A changed from 16505551234 to 16505559999", "wa_id": "16505559999",
              "type": "user_changed_number"}  # fmt: skip
    [event] = parsed(wa_config(tmp_path), with_message({"type": "system", "system": system}))
    assert (event.kind, event.thread_id, event.extra) == ("notice", f"chat:{CUSTOMER}",
                                                          {"notice": "whatsapp user changed number"})  # fmt: skip
    assert event.text.startswith("WhatsApp: User A changed from 16505551234 to 16505559999.")


def test_quoted_message_and_ad_referral_are_kept(tmp_path: Path) -> None:
    message = {"type": "text", "text": {"body": "this one"}, "context": {"from": NUMBER, "id": "wamid.Q"},
               "referral": {"source_url": "https://fb.me/ad", "source_type": "ad"}}  # fmt: skip
    [event] = parsed(wa_config(tmp_path), with_message(message))
    assert event.extra == {"quoted_id": "wamid.Q", "referral_url": "https://fb.me/ad"}


def test_a_customer_known_only_by_business_scoped_user_id(tmp_path: Path) -> None:
    payload = with_message({"type": "text", "text": {"body": "hi"}}, contacts=[{"profile": {"name": "Ana"},
                           "user_id": "US.13491208655302741918"}])  # fmt: skip
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    del message["from"]
    [event] = parsed(wa_config(tmp_path), payload)
    assert event.thread_id == "chat:US.13491208655302741918" and event.reply_to == "US.13491208655302741918"
    assert event.author.name == "Ana" and event.author.phone is None


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda v: v["metadata"].pop("phone_number_id"), "missing metadata.phone_number_id"),
        (lambda v: v["messages"][0].pop("id"), "missing messages.id"),
        (lambda v: v["messages"][0].pop("from"), "missing messages.from"),
        (lambda v: v.update(statuses=[{"id": "wamid.1", "status": "sent"}]), "missing statuses.recipient_user_id"),
    ],
)
def test_a_malformed_value_is_recorded_as_ignored_not_a_400(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], object], error: str
) -> None:
    config = wa_config(tmp_path)
    store = Store.from_url(config.database_url)
    payload = fixture_json("meta/whatsapp_text_message.json")
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"] = []
    mutate(value)
    body = json.dumps(payload).encode()
    sim = MetaSimulator(APP_SECRET)  # not started: only its signer is used
    client = create_app(config, store=store).test_client()
    response = client.post("/webhooks/meta", data=body, headers={"X-Hub-Signature-256": sim.sign(body)},
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 200  # was a 400 for the whole POST: redelivered for days, neighbours too
    assert ("ignored", error) in [(r["status"], r["last_error"]) for r in store.rows("inbox")]


def test_the_published_signature_vector_verifies_through_the_view(tmp_path: Path) -> None:
    config = wa_config(tmp_path)
    store = Store.from_url(config.database_url)
    client = create_app(config, store=store).test_client()
    body = fixture_bytes("meta/whatsapp_text_message.json")
    assert len(body) == 985
    response = client.post("/webhooks/meta", data=body, headers={"X-Hub-Signature-256": VECTOR},
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 200 and response.get_json() == {"ok": True, "received": 1, "stored": 1}
    [row] = store.rows("inbox")
    assert row["platform"] == "whatsapp" and row["thread_key"] == f"whatsapp:{PHONE_ID}:chat:{CUSTOMER}"
    tampered = client.post("/webhooks/meta", data=body.replace(b"color", b"colour"),
                           headers={"X-Hub-Signature-256": VECTOR}, content_type="application/json")  # fmt: skip
    assert tampered.status_code == 401 and tampered.get_json() == {"error": "invalid signature"}


# -- the simulator speaks the fixtures' shapes ---------------------------------------------------------------


def test_simulated_message_and_statuses_have_the_fixture_shapes(sim: MetaSimulator) -> None:
    message = sim.whatsapp_message(PHONE_ID, wa_id=CUSTOMER, name="Sheena", text="Blue?", send=False)
    assert shape(message.payload) == shape(fixture_json("meta/whatsapp_text_message.json"))
    assert message.payload["entry"][0]["changes"][0]["value"]["metadata"] == {
        "display_phone_number": NUMBER, "phone_number_id": PHONE_ID
    }  # fmt: skip
    for status, name in (("sent", "whatsapp_status_sent.json"), ("failed", "whatsapp_status_failed.json")):
        made = sim.whatsapp_status(PHONE_ID, message_id="wamid.A", recipient=CUSTOMER, status=status,
                                   error_code=131049 if status == "failed" else None, send=False)  # fmt: skip
        assert shape(made.payload) == shape(fixture_json(f"meta/{name}"))
    assert sim.sign(fixture_bytes("meta/whatsapp_text_message.json")) == VECTOR


def graph(sim: MetaSimulator, body: dict[str, Any], token: str = TOKEN) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.post(f"{sim.url}{PREFIX}/{PHONE_ID}/messages", json=body, headers=headers, timeout=5)


@pytest.mark.parametrize(
    ("body", "status", "code", "subcode", "words"),
    [
        ({"to": CUSTOMER, "type": "text", "text": {"body": "hi"}}, 400, 100, None, "messaging_product"),
        ({"messaging_product": "whatsapp", "to": "491700000000", "type": "text", "text": {"body": "hi"}},
         400, 131047, 2494010, "Re-engagement message"),
        ({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text", "text": {"body": "x" * 4097}},
         400, 100, None, "4096"),
        ({"messaging_product": "whatsapp", "to": CUSTOMER, "type": "template",
          "template": {"name": "nope", "language": {"code": "en_US"}}}, 404, 132001, None, "does not exist"),
    ],
    ids=["no-product", "never-wrote", "too-long", "unknown-template"],
)  # fmt: skip
def test_simulated_cloud_api_errors_have_whatsapps_shape(
    sim: MetaSimulator, body: dict[str, Any], status: int, code: int, subcode: int | None, words: str
) -> None:
    sim.whatsapp_message(PHONE_ID, wa_id=CUSTOMER, text="hi", send=False)
    response = graph(sim, body)
    assert response.status_code == status
    error = response.json()["error"]
    assert (error["code"], error.get("error_subcode")) == (code, subcode) and error["fbtrace_id"]
    assert words in error["message"] + error.get("error_data", {}).get("details", "")
    if code != 100:
        assert error["error_data"]["messaging_product"] == "whatsapp" and error["message"].startswith(f"(#{code}) ")
    assert sim.wa_sent_messages == []


def test_simulated_send_answers_like_the_cloud_api(sim: MetaSimulator) -> None:
    sim.whatsapp_message(PHONE_ID, wa_id=CUSTOMER, text="hi", send=False)
    body = {"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text", "text": {"body": "hello"}}
    answer = graph(sim, body).json()
    assert answer == {"messaging_product": "whatsapp", "contacts": [{"input": CUSTOMER, "wa_id": CUSTOMER}],
                      "messages": [{"id": answer["messages"][0]["id"]}]}  # fmt: skip
    assert graph(sim, body, token="garbage").json()["error"]["code"] == 190


# -- replies through the connector ---------------------------------------------------------------------------


def test_implements_the_port_and_the_registry_passes_the_template_keys(
    tmp_path: Path, channel: WhatsAppChannel
) -> None:
    port: SocialChannel = channel
    assert (port.platform, port.name, port.account_id) == ("whatsapp", "acme-whatsapp", PHONE_ID)
    config = wa_config(tmp_path, reengagement_template="we_are_here", template_language="de")
    channel_config = config.channel("acme-whatsapp")
    assert channel_config is not None
    built = build_channel(channel_config)
    assert isinstance(built, WhatsAppChannel) and built.account_id == PHONE_ID
    assert (built.reengagement_template, built.template_language) == ("we_are_here", "de")
    assert TOKEN not in repr(built) and "acme-whatsapp" in repr(built)


def test_reply_in_the_window_quotes_the_customers_last_message(sim: MetaSimulator, channel: WhatsAppChannel) -> None:
    now = datetime.now(UTC)
    thread = customer_wrote(sim, CUSTOMER, timedelta(hours=2), now)
    delivery = channel.send_reply(thread, "Yes, in blue and green.", now=now)
    [call] = sim.calls_to("POST", f"{PREFIX}/{PHONE_ID}/messages")
    assert call.headers["Authorization"] == f"Bearer {TOKEN}" and TOKEN.encode() not in call.body
    assert call.json == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": CUSTOMER, "type": "text",
        "text": {"preview_url": False, "body": "Yes, in blue and green."},
        "context": {"message_id": thread.last_inbound_message_id},
    }  # fmt: skip
    [sent] = sim.wa_sent_messages
    assert delivery == type(delivery)(message_ids=(sent["message_id"],)) and sent["message_id"].startswith("wamid.")


def test_a_long_reply_is_split_at_4096_and_only_the_first_part_quotes(
    sim: MetaSimulator, channel: WhatsAppChannel
) -> None:
    now = datetime.now(UTC)
    thread = customer_wrote(sim, CUSTOMER, timedelta(minutes=5), now)
    text = "Please descale the machine, then run two empty cycles before brewing again. " * 120  # ~9,100 chars
    delivery = channel.send_reply(thread, text, now=now)
    sent = sim.wa_sent_messages
    assert [m["text"] for m in sent] == split_text(text, 4096) and len(sent) == 3
    assert [m["context"] for m in sent] == [thread.last_inbound_message_id, None, None]
    assert delivery.message_ids == tuple(m["message_id"] for m in sent)


def test_window_closed_without_a_template_raises_and_sends_nothing(
    sim: MetaSimulator, channel: WhatsAppChannel
) -> None:
    now = datetime(2025, 6, 9, 12, tzinfo=UTC)
    with pytest.raises(errors.WindowClosed) as exc_info:
        channel.send_reply(state(CUSTOMER, now - timedelta(hours=25)), "Sorry for the delay", now=now)
    error = exc_info.value
    assert error.platform == "whatsapp" and not error.retryable
    assert "24 hours" in error.message and "2025-06-08 11:00 UTC" in error.message and "not sent" in error.message
    assert sim.calls == []


def test_window_closed_with_a_template_sends_it_and_tells_the_agent(sim: MetaSimulator) -> None:
    now = datetime.now(UTC)
    thread = customer_wrote(sim, "4915112345678", timedelta(hours=30), now)
    delivery = make_channel(sim, reengagement_template="we_are_here").send_reply(thread, "Still there?", now=now)
    [sent] = sim.wa_sent_messages
    assert (sent["type"], sent["template"], sent["language"], sent["to"]) == (
        "template", "we_are_here", "en_US", "4915112345678"
    )  # fmt: skip
    assert delivery.message_ids == (sent["message_id"],)
    assert delivery.note and "re-engagement template 'we_are_here'" in delivery.note
    assert "not delivered" in delivery.note and "24 hours" in delivery.note


@pytest.mark.parametrize("template", [None, "we_are_here"])
def test_whatsapps_own_131047_leads_to_the_same_two_outcomes(sim: MetaSimulator, template: str | None) -> None:
    silent = "447700900123"  # wrote 2 days ago, but the core does not know when
    sim.whatsapp_message(PHONE_ID, wa_id=silent, text="hi", timestamp=datetime.now(UTC) - timedelta(days=2), send=False)
    channel = make_channel(sim, reengagement_template=template)
    if template is None:
        with pytest.raises(errors.WindowClosed) as exc_info:
            channel.send_reply(state(silent, None), "Hello", now=datetime.now(UTC))
        assert exc_info.value.code == "131047" and isinstance(exc_info.value.__cause__, errors.WindowClosed)
        assert sim.wa_sent_messages == []
    else:
        delivery = channel.send_reply(state(silent, None), "Hello", now=datetime.now(UTC))
        assert [m["type"] for m in sim.wa_sent_messages] == ["template"] and delivery.note


@pytest.mark.parametrize(
    ("code", "expected", "retryable"),
    [
        (131047, errors.WindowClosed, False),
        (131026, errors.PermanentError, False),
        (131056, errors.RetryableError, True),
        (130429, errors.RateLimited, True),
        (131048, errors.RateLimited, True),
        (131000, errors.Unavailable, True),
        (131016, errors.Unavailable, True),
        (131008, errors.PermanentError, False),
        (100, errors.PermanentError, False),
        (131049, errors.PermanentError, False),
        (132001, errors.PermanentError, False),
    ],
)
def test_the_error_table(sim: MetaSimulator, code: int, expected: type[errors.BridgeError], retryable: bool) -> None:
    now = datetime.now(UTC)
    thread = customer_wrote(sim, CUSTOMER, timedelta(minutes=1), now)
    sim.whatsapp_fault(code)
    with pytest.raises(errors.BridgeError) as exc_info:
        make_channel(sim).send_reply(thread, "Hi", now=now)
    error = exc_info.value
    assert type(error) is expected and error.retryable is retryable and error.code == str(code)
    assert error.platform == "whatsapp" and TOKEN not in str(error)
    assert sim.wa_sent_messages == []


def test_expired_token_is_an_auth_error(sim: MetaSimulator, channel: WhatsAppChannel) -> None:
    now = datetime.now(UTC)
    thread = customer_wrote(sim, CUSTOMER, timedelta(minutes=1), now)
    sim.expire_token(PHONE_ID)
    with pytest.raises(errors.AuthError) as exc_info:
        channel.send_reply(thread, "Hi", now=now)
    assert "expired or was revoked" in exc_info.value.message and exc_info.value.code == "190/463"


def test_timeout_after_sending_is_an_unknown_outcome(sim: MetaSimulator) -> None:
    now = datetime.now(UTC)
    thread = customer_wrote(sim, CUSTOMER, timedelta(minutes=1), now)
    sim.slow_down(1.0)
    with pytest.raises(errors.UnknownOutcome):
        make_channel(sim, timeout=0.3).send_reply(thread, "Hello", now=now)
    assert len(sim.wa_sent_messages) == 1  # why it must not be resent: WhatsApp did send it


def test_unknown_thread_kind_and_empty_text_are_refused_without_a_call(
    sim: MetaSimulator, channel: WhatsAppChannel
) -> None:
    wrong = ThreadState(**{**state(CUSTOMER, None).__dict__, "thread_id": "dm:1"})
    with pytest.raises(errors.PermanentError):
        channel.send_reply(wrong, "Hi", now=datetime.now(UTC))
    with pytest.raises(errors.PermanentError):
        channel.send_reply(state(CUSTOMER, None), " \n ", now=datetime.now(UTC))
    assert sim.calls == []


def test_a_customer_without_a_phone_number_is_addressed_by_user_id(
    sim: MetaSimulator, channel: WhatsAppChannel
) -> None:
    now = datetime.now(UTC)
    thread = customer_wrote(sim, "US.13491208655302741918", timedelta(minutes=1), now)
    channel.send_reply(thread, "Hi Ana", now=now)
    [call] = sim.calls_to("POST", f"{PREFIX}/{PHONE_ID}/messages")
    assert call.json["recipient"] == "US.13491208655302741918" and "to" not in call.json


def test_ping_names_the_number(channel: WhatsAppChannel) -> None:
    assert channel.ping() == f"Acme Coffee ({NUMBER})"


@pytest.mark.parametrize("wrong", [NUMBER.lstrip("+").replace(" ", ""), PHONE_ID[:-1]])
def test_ping_names_a_phone_number_id_the_token_cannot_use_as_the_wrong_account_id(
    sim: MetaSimulator, wrong: str
) -> None:
    """The phone number, or an id one digit short: Graph's "does not exist" (100/33), said as a wrong account_id."""
    with pytest.raises(errors.ConfigError) as exc_info:
        make_channel(sim, account_id=wrong).ping()
    assert exc_info.value.message == (
        f"WhatsApp has no phone number id {wrong!r} that this token can use: account_id is the phone number id "
        "(WhatsApp Manager, API Setup), not the number nor the business account id"
    )


# -- end to end: customer → signed webhook → bridge app → inbox; our messages come back as statuses --------


def test_messages_and_the_statuses_of_our_reply_reach_the_inbox(
    sim: MetaSimulator, channel: WhatsAppChannel, bridge: Store
) -> None:
    store = bridge
    sim.wa_statuses = True
    photo = sim.whatsapp_message(PHONE_ID, wa_id="33612345678", name="Élodie", kind="image", text="cracked")
    sticker = sim.whatsapp_message(PHONE_ID, wa_id="33612345678", name="Élodie", kind="sticker")
    assert photo.response is not None and photo.response.status_code == 200
    now = datetime.now(UTC)
    delivery = channel.send_reply(state("33612345678", now, photo.message_id), "We'll replace it.", now=now)
    assert sim.wait_for_webhooks(timeout=5)
    rows = {r["message_id"]: r for r in store.rows("inbox") if r["platform"] == "whatsapp"}
    event = SocialEvent.from_json(rows[photo.message_id]["payload"])
    assert event.text == "cracked" and event.author.phone == "+33612345678" and event.author.name == "Élodie"
    assert event.attachments == (Attachment(url=event.attachments[0].url, kind="image"),)
    sent_sticker = SocialEvent.from_json(rows[sticker.message_id]["payload"])
    assert (sent_sticker.text, [a.kind for a in sent_sticker.attachments]) == ("", ["sticker"])  # shown once
    [ours] = delivery.message_ids
    statuses = [SocialEvent.from_json(rows[f"{ours}#{s}"]["payload"]) for s in ("sent", "delivered")]
    assert all(s.kind == "status" and s.extra["target_id"] == ours for s in statuses)
    assert {s.thread_key for s in statuses} == {f"whatsapp:{PHONE_ID}:chat:33612345678"}
    assert ours not in rows  # no echo of our own message: only its statuses


def test_a_failed_delivery_comes_back_as_a_failed_status(
    sim: MetaSimulator, channel: WhatsAppChannel, bridge: Store
) -> None:
    store = bridge
    sim.wa_statuses = True
    now = datetime.now(UTC)
    thread = customer_wrote(sim, "5511987654321", timedelta(minutes=1), now)
    sim.undeliverable("5511987654321")
    [ours] = channel.send_reply(thread, "Olá!", now=now).message_ids
    assert sim.wait_for_webhooks(timeout=5)
    [row] = store.rows("inbox", message_id=f"{ours}#failed")
    failed = SocialEvent.from_json(row["payload"])
    assert failed.extra["error_code"] == "131026" and failed.extra["error_title"] == "Message Undeliverable"
