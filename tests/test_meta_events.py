"""Meta's other webhook events, from recorded deliveries (restfb's test resources) and Meta's references,
posted signed through /webhooks/meta: each one reaches the ticket, or the inbox as ignored with its reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from bridge import config as config_module
from bridge.config import Config
from bridge.events import SocialEvent
from bridge.store import Store
from tests.conftest import APP_SECRET, PAGE_ID, fixture_bytes, raw_config
from webhooks.app import create_app
from webhooks.signatures import sign_meta

RESTFB_PAGES = (b"12345654332", b"682498302938465")  # the page ids of restfb's recorded Messenger deliveries
PSID = "987654321432"
IG_ID = "17841400000000001"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """Our page, and the WhatsApp number of Meta's examples."""
    raw = raw_config(database_url=f"sqlite:///{tmp_path}/store.db", queue_url=f"sqlite:///{tmp_path}/queue.db")
    raw["channels"].append({"name": "acme-whatsapp", "platform": "whatsapp", "account_id": "106540352242922",
                            "access_token": "t", "app_secret": APP_SECRET, "verify_token": "v"})  # fmt: skip
    raw["channels"].append({"name": "acme-instagram", "platform": "instagram", "account_id": IG_ID,
                            "access_token": "t", "app_secret": APP_SECRET, "verify_token": "v"})  # fmt: skip
    return config_module.parse(raw, env={})


@pytest.fixture
def store(config: Config) -> Store:
    return Store.from_url(config.database_url)


@pytest.fixture
def client(config: Config, store: Store) -> FlaskClient:
    return create_app(config, store=store).test_client()


def load(name: str) -> Any:
    """A recorded payload, addressed to our page (restfb's page id and Meta's placeholders replaced)."""
    raw = fixture_bytes(f"meta/{name}")
    for page in RESTFB_PAGES:
        raw = raw.replace(page, PAGE_ID.encode())
    raw = raw.replace(b"<PAGE_ID>", PAGE_ID.encode()).replace(b"PAGE_ID", PAGE_ID.encode())
    raw = raw.replace(b"<IGID>", IG_ID.encode()).replace(b"<IGSID>", PSID.encode()).replace(b"<MESSAGE_ID>", b"m_ig")
    raw = raw.replace(b'"id": "0"', f'"id": "{IG_ID}"'.encode())  # instagram_comment.json: the dashboard's test entry
    return json.loads(raw.replace(b"<PSID>", PSID.encode()).replace(b"USER_ID", PSID.encode()))


def post(client: FlaskClient, payload: Any) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    response = client.post("/webhooks/meta", data=body, content_type="application/json",
                           headers={"X-Hub-Signature-256": sign_meta(body, APP_SECRET)})  # fmt: skip
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()  # type: ignore[no-any-return]


def rows(store: Store) -> list[dict[str, Any]]:
    return list(store.rows("inbox"))


def events(store: Store) -> list[SocialEvent]:
    return [SocialEvent.from_json(r["payload"]) for r in rows(store) if r["status"] == "pending"]


def reasons(store: Store) -> list[str]:
    return [r["last_error"] for r in rows(store) if r["status"] == "ignored"]


# -- Messenger: what the customer says ---------------------------------------------------------------------


def test_an_unsend_is_a_removal_not_a_new_message(client: FlaskClient, store: Store) -> None:
    """restfb's messaging-message-isdeleted.json was a new public comment "(no text)" that reopened the ticket."""
    post(client, load("messenger_message_isdeleted.json"))
    [event] = events(store)
    assert (event.kind, event.message_id, event.thread_id) == ("remove", "message_id#deleted", f"messenger:{PSID}")


@pytest.mark.parametrize(
    ("fixture", "text"),
    [
        ("messenger_location.json", "[location] https://maps.google.com/?q=12.34,43.21"),
        ("messenger_button_template.json", "[button template] buttons: Visit Messenger BUTTON_URL"),
        ("messenger_product_template.json", "[product] Some product title $40 https://fb.cdn.com/sdsd"),
        ("messenger_message_isunsupported.json", "[unsupported message type]"),
    ],
)
def test_what_a_message_carries_is_written_out(client: FlaskClient, store: Store, fixture: str, text: str) -> None:
    """These reached the agent as "(no text)"."""
    post(client, load(fixture))
    [event] = events(store)
    assert (event.kind, event.text) == ("message", text)


def test_a_tapped_button_is_the_customer_speaking(client: FlaskClient, store: Store) -> None:
    """restfb's messaging-postback-referral.json (no title): was dropped, no ticket and no log line."""
    post(client, load("messenger_postback_referral.json"))
    [event] = events(store)
    assert (event.kind, event.thread_id, event.author.id) == ("message", f"messenger:{PSID}", PSID)
    assert event.text == "[button tapped] (a button without a title) (payload: USER_DEFINED_PAYLOAD)"
    redelivered = post(client, load("messenger_postback_referral.json"))
    assert redelivered["stored"] == 0  # a postback without a mid still has one id per real tap


def test_a_chat_plugin_guest_is_their_own_thread_and_author(client: FlaskClient, store: Store) -> None:
    """restfb's messaging-postback-chat.json: the guest has ``sender.user_ref`` and no ``sender.id``."""
    post(client, load("messenger_postback_chat_plugin.json"))
    [event] = events(store)
    assert event.thread_id == f"messenger-guest:{PSID}" and event.reply_to == PSID
    assert event.author.id == f"user_ref:{PSID}" and event.author.name == "Messenger guest"
    assert event.text == "[button tapped] (a button without a title) (payload: hey)"


# -- Messenger: everything else, recorded or noted ------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("messenger_read.json", "messenger read receipt"),
        ("messenger_delivery.json", "messenger delivery receipt"),
        ("messenger_optin.json", "messenger opt-in"),
        ("messenger_referral.json", "messenger referral"),
        ("messenger_account_linking.json", "messenger account linking"),
        ("messenger_policy_enforcement.json", "messenger policy enforcement"),
        ("meta_messenger_echo_full.json", "messenger echo of the account's own message"),
    ],
)
def test_events_no_one_answers_are_recorded_with_their_reason(
    client: FlaskClient, store: Store, fixture: str, reason: str
) -> None:
    assert post(client, load(fixture)) == {"ok": True, "received": 1, "stored": 1}
    assert reasons(store) == [reason] and events(store) == []
    assert post(client, load(fixture))["stored"] == 0  # a redelivery is the same record


@pytest.mark.parametrize(
    ("fixture", "note"),
    [
        ("messenger_reaction_react.json", "The customer reacted 😢 to a message (original_message_id) on Messenger."),
        ("messenger_reaction_unreact.json", "The customer removed their reaction to a message (original_message_id)"
                                            " on Messenger."),
        ("messenger_request_thread_control.json", "Messenger handover: app REQUESTED_OWNER_APP_ID asks for control"
                                                  " of this conversation. Metadata: METADATA"),
        ("messenger_pass_thread_control.json", "Messenger handover: control of this conversation was passed from"
                                               " app 263902037430900. Metadata: Additional content that the caller"
                                               " wants to set"),
    ],
)  # fmt: skip
def test_reactions_and_handovers_are_notes_for_the_thread(
    client: FlaskClient, store: Store, fixture: str, note: str
) -> None:
    payload = load(fixture)
    control = payload["entry"][0]["messaging"][0].get("pass_thread_control")
    if control:  # Meta's reference shows a placeholder here
        control["previous_owner_app_id"] = "263902037430900"
    post(client, payload)
    [event] = events(store)
    assert (event.kind, event.thread_id, event.text) == ("notice", f"messenger:{PSID}", note)
    assert event.extra["notice"] in ("messenger reaction", "messenger handover")


# -- the page's feed: edits, hides, removals ---------------------------------------------------------------


def test_a_comment_hidden_by_the_page_is_not_removed_by_the_customer(client: FlaskClient, store: Store) -> None:
    """restfb's feed-comment-hide.json: the sender is the page (was dropped as the page's own change; a hide
    by anyone else was "The customer removed their Facebook message")."""
    post(client, load("feed_comment_hide.json"))
    post(client, load("feed_comment_unhide.json"))
    hide, unhide = events(store)
    assert (hide.kind, hide.thread_id) == ("notice", "comment:900728623356296_900744590021366")
    assert (
        hide.text
        == "The page hid the Facebook comment 900728623356296_900744590021366. The customer did not remove it."
    )
    assert unhide.text == "The page made visible again the Facebook comment 900728623356296_900744590021366."
    assert hide.extra["notice"] == "facebook comment hidden by the page"


def test_a_hidden_visitor_post_is_a_note_too(client: FlaskClient, store: Store) -> None:
    """restfb's feed-status-hide-25.json: the sender is the post's author, but only a page hides."""
    post(client, load("feed_status_hide.json"))
    [event] = events(store)
    assert (event.kind, event.thread_id) == ("notice", "post:1234567890321_7293787835232")
    assert "The page hid the Facebook post" in event.text


def test_a_removal_by_the_page_and_by_the_customer(client: FlaskClient, store: Store) -> None:
    removal = load("meta_page_feed_comment_remove.json")  # from.id is the page
    post(client, removal)
    value = removal["entry"][0]["changes"][0]["value"]
    value["from"] = {"id": "555", "name": "Jane Roe"}
    post(client, removal)
    by_page, by_customer = events(store)
    assert by_page.kind == "notice" and "The page removed the Facebook comment" in by_page.text
    assert by_customer.kind == "remove" and by_customer.author.id == "555"


def test_an_edit_carries_its_new_text_and_what_it_edits(client: FlaskClient, store: Store) -> None:
    """restfb's feed-post-edit.json, by a visitor: the worker makes it a message when its thread has no ticket."""
    post(client, load("feed_post_edit.json"))
    [event] = events(store)
    assert (event.kind, event.text, event.thread_id) == ("edit", "Let's check this", "post:1234567890321_7293787835232")
    assert event.extra == {"edited_kind": "comment", "original_id": "1234567890321_7293787835232"}


def test_derived_ids_differ_per_real_change_and_not_per_redelivery(client: FlaskClient, store: Store) -> None:
    """feed-status-hide-25.json carries no created_time: every hide of a post had the id
    ``<post>#hide@``, so a second hide (after an unhide) was dropped as a redelivery."""
    first = load("feed_status_hide.json")
    again = load("feed_status_hide.json")
    again["entry"][0]["time"] = 1463129999  # the same post hidden again later
    assert post(client, first)["stored"] == 1
    assert post(client, again)["stored"] == 1
    assert post(client, first)["stored"] == 0 and post(client, again)["stored"] == 0  # true redeliveries
    ids = [r["message_id"] for r in rows(store)]
    assert len(set(ids)) == 2 and all(i.startswith("1234567890321_7293787835232#hide:") for i in ids)


# -- WhatsApp ------------------------------------------------------------------------------------------------


def test_a_whatsapp_user_id_change_does_not_sink_its_post(client: FlaskClient, store: Store) -> None:
    """A ``user_changed_user_id`` system message has no ``from`` and no ``contacts``: the whole POST was a 400
    "missing messages.from", and the customer's text in it was refused with it."""
    payload = load("whatsapp_system_user_changed_user_id.json")
    text = json.loads(fixture_bytes("meta/whatsapp_text_message.json"))
    payload["entry"].extend(text["entry"])
    assert post(client, payload) == {"ok": True, "received": 2, "stored": 2}
    message, note = sorted(events(store), key=lambda e: e.kind)
    assert (message.kind, message.text) == ("message", "Does it come in another color?")
    assert (note.kind, note.thread_id) == ("notice", "chat:US.13491208655302741918")
    assert note.text.startswith("WhatsApp: User Sheena Nelson's user id changed.")


def test_a_whatsapp_system_message_naming_no_earlier_customer_is_recorded(client: FlaskClient, store: Store) -> None:
    payload = load("whatsapp_system_user_changed_user_id.json")
    del payload["entry"][0]["changes"][0]["value"]["messages"][0]["system"]["previous_user_id"]
    post(client, payload)
    assert reasons(store) == ["whatsapp user changed user id of an unknown customer"] and events(store) == []


def test_one_post_mixing_messages_receipts_unusable_and_unknown_events_keeps_each(
    client: FlaskClient, store: Store
) -> None:
    """Entries as Meta batches them: a message, a read receipt, an event missing its sender, an unknown field
    and the page's own comment. Each is stored or recorded once with its reason; none sinks the others."""
    text, read, own_comment = (
        load("meta_messenger_text.json"),
        load("messenger_read.json"),
        load("meta_page_feed_comment.json"),
    )
    senderless = {**text["entry"][0]["messaging"][0], "message": {"mid": "m_no_sender", "text": "hi"}}
    del senderless["sender"]
    entries = [
        *text["entry"], *read["entry"], {"id": PAGE_ID, "time": 1, "messaging": [senderless]},
        {"id": PAGE_ID, "time": 2, "changes": [{"field": "mystery_field", "value": {"x": 1}}]}, *own_comment["entry"],
    ]  # fmt: skip
    payload = {"object": "page", "entry": entries}
    assert post(client, payload) == {"ok": True, "received": 5, "stored": 5}
    assert [e.text for e in events(store)] == ["hello, world!"]
    assert sorted(reasons(store)) == [
        "facebook feed change by the page", "facebook field mystery_field",
        "messenger read receipt", "missing sender.id",
    ]  # fmt: skip
    assert post(client, payload)["stored"] == 0  # a redelivery of the whole POST is the same records


# -- signed but malformed: recorded as ignored with the reason, never half-taken -----------------------------------


def mutated(fixture: str, path: tuple[str | int, ...], value: Any) -> Any:
    """``fixture`` with the field at ``path`` replaced by ``value``."""
    payload = load(fixture)
    node = payload
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return payload


MESSENGER_EVENT = ("entry", 0, "messaging", 0)
FEED_VALUE = ("entry", 0, "changes", 0, "value")
WHATSAPP_MESSAGE = ("entry", 0, "changes", 0, "value", "messages", 0)


@pytest.mark.parametrize(
    ("fixture", "path", "value", "reason"),
    [
        ("meta_messenger_text.json", (*MESSENGER_EVENT, "message", "text"), ["hello"],
         "message.text is a list, not a string"),
        ("meta_messenger_text.json", ("entry", 0, "messaging"), "nope", "messaging is a string, not a list"),
        ("meta_messenger_text.json", (*MESSENGER_EVENT, "message"), "hello", "message is a string, not an object"),
        ("meta_messenger_text.json", (*MESSENGER_EVENT, "message", "attachments"), {"type": "image"},
         "message.attachments is an object, not a list of objects"),
        ("messenger_message_edit.json", (*MESSENGER_EVENT, "message_edit", "text"), 5,
         "message_edit.text is a number, not a string"),
        ("messenger_postback_referral.json", (*MESSENGER_EVENT, "postback", "title"), {"en": "Start"},
         "postback.title is an object, not a string"),
        ("meta_page_feed_visitor_post.json", (*FEED_VALUE, "message"), ["Let's check this"],
         "message is a list, not a string"),
        ("meta_page_feed_visitor_post.json", (*FEED_VALUE,), "Let's check this", "value is a string, not an object"),
        ("meta_page_feed_visitor_post.json", ("entry", 0, "changes"), {"field": "feed"},
         "changes is an object, not a list"),
        ("instagram_comment.json", (*FEED_VALUE, "text"), ["This is an example."],
         "comments.text is a list, not a string"),
        ("instagram_dm.json", (*MESSENGER_EVENT, "message", "text"), True, "message.text is a boolean, not a string"),
        ("whatsapp_text_message.json", (*WHATSAPP_MESSAGE, "text", "body"), ["Does it come in another color?"],
         "messages.text.body is a list, not a string"),
        ("whatsapp_text_message.json", (*WHATSAPP_MESSAGE[:-1],), "nope", "messages is a string, not a list"),
        ("whatsapp_image_no_caption.json", (*WHATSAPP_MESSAGE, "image", "caption"), ["a caption"],
         "messages.image.caption is a list, not a string"),
    ],
)  # fmt: skip
def test_a_field_of_the_wrong_type_is_recorded_with_its_reason_not_taken_as_absent(
    client: FlaskClient, store: Store, fixture: str, path: tuple[str | int, ...], value: Any, reason: str
) -> None:
    """A signed message whose text was a list opened a ticket "(no text)"; ``"messaging": "nope"`` was answered
    200 received 0, leaving no trace. Each is now one record, ignored with its reason (status counts it), and a
    redelivery is the same record. A 200 all the same: Meta retries a webhook answered otherwise, then
    unsubscribes the app (Messenger Platform FAQ)."""
    payload = mutated(fixture, path, value)
    assert post(client, payload) == {"ok": True, "received": 1, "stored": 1}
    assert events(store) == [] and reasons(store) == [reason]
    assert post(client, payload)["stored"] == 0


def test_a_malformed_part_is_logged_and_its_neighbours_are_kept(
    client: FlaskClient, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Garbage beside a customer's message in one entry, and a ``messaging`` of the wrong type beside a feed
    comment in another: the message and the comment reach the inbox, each bad part is recorded and logged."""
    message = load("meta_messenger_text.json")["entry"][0]
    message["messaging"].insert(0, "junk")
    comment = load("meta_page_feed_visitor_post.json")["entry"][0]
    comment["messaging"] = {"sender": {"id": PSID}}
    payload = {"object": "page", "entry": [message, comment]}
    with caplog.at_level("INFO", logger="webhooks.meta"):
        assert post(client, payload) == {"ok": True, "received": 4, "stored": 4}
    assert sorted(e.text for e in events(store)) == ["Let's check this", "hello, world!"]
    assert sorted(reasons(store)) == ["messaging is an object, not a list", "messaging item is a string, not an object"]
    logged = [r.getMessage() for r in caplog.records if "recorded as ignored" in r.getMessage()]
    assert len(logged) == 2 and all("facebook" in line for line in logged)
    assert post(client, payload)["stored"] == 0
