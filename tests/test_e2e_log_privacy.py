"""No customer's phone number in the bridge's log lines (bridge.messages.key_shown): a WhatsApp conversation run
through the whole bridge (webhook, worker, CRM join, agent reply, delivery receipt) with the real clients over
sockets, every record of socialdesk's own loggers formatted as ``text`` and as ``json`` (bridge.logs)."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from pathlib import Path

import pytest

from bridge import logs, messages
from sandbox.base import Fault
from sandbox.stack import HELPDESKS, WA_PHONE_ID, Stack
from tests.support import notes, one_ticket, reply_and_notify, settle

WA_ID = "15551234567"
ACKS = {"whatsapp": {"ack": {"instant": "Thanks {first_name}!", "delay": 0}}}
OURS = ("bridge", "connectors", "webhooks", "socialdesk")  # urllib3 at DEBUG prints URLs: the operator's choice


def logged(caplog: pytest.LogCaptureFixture, form: str) -> str:
    formatter = logs.formatter(form)
    return "\n".join(formatter.format(r) for r in caplog.records if r.name.split(".")[0] in OURS)


def whatsapp_conversation(stack: Stack) -> list[str]:
    """A first message, its ticket created after a 429, joined to a Salesforce Contact by its phone and acknowledged;
    the agent's answer, reported failed; a second message the helpdesk refuses (dead-lettered). The WhatsApp
    message ids involved (a wamid encodes the customer's number)."""
    assert stack.salesforce is not None
    stack.salesforce.add_contact("Hank Scorpio", Phone="+1 555 123 4567")
    limited = Fault(429, method="POST", path_prefix="/api/v2/tickets", headers={"Retry-After": "1"})
    stack.helpdesk.inject(limited)
    first = stack.meta.whatsapp_message(WA_PHONE_ID, wa_id=WA_ID, name="Hank", text="Where is order 42?")
    ticket = one_ticket(stack)
    stack.wait_for(lambda: stack.meta.wa_sent_messages)  # the acknowledgement
    settle(stack)
    reply_and_notify(stack, ticket["id"], "It arrives tomorrow.")
    [_, sent] = stack.wait_for(lambda: len(stack.meta.wa_sent_messages) == 2 and stack.meta.wa_sent_messages)
    stack.meta.whatsapp_status(WA_PHONE_ID, message_id=sent["message_id"], recipient=WA_ID, status="failed",
                               error_code=131026)  # fmt: skip
    stack.wait_for(lambda: notes(stack, ticket["id"]))
    settle(stack)
    stack.helpdesk.inject(Fault(422, path_prefix="/api/v2/tickets"))
    second = stack.meta.whatsapp_message(WA_PHONE_ID, wa_id=WA_ID, name="Hank", text="Hello?")
    stack.wait_for(lambda: stack.store.open_dead_letters())
    settle(stack)
    return [first.message_id, sent["message_id"], second.message_id]


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_a_whatsapp_conversation_logs_no_phone_number(
    tmp_path: Path, helpdesk: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The lines named the thread by its key, whatsapp:<number id>:chat:<wa_id>, and the delivery by its wamid
    ("inbox 12 (whatsapp:106540352242922:chat:15551234567) ...", "delivered comment ... as wamid.HBgL..."). They
    still name it, by the customer's pseudonym."""
    caplog.set_level(logging.DEBUG)
    with Stack(tmp_path, helpdesk=helpdesk, salesforce={}, platforms=("whatsapp",), platform_options=ACKS) as stack:
        wamids = whatsapp_conversation(stack)
        thread_key = stack.store.rows("threads")[0]["key"]
    assert WA_ID in thread_key  # the store keeps the real key: replies go back to it
    texts = {form: logged(caplog, form) for form in logs.FORMATS}
    assert [form for form, text in texts.items() if "5551234567" in text] == []
    assert [(form, m) for form, text in texts.items() for m in wamids if m.removeprefix("wamid.")[:20] in text] == []
    for form, text in texts.items():  # the lines are there, naming the thread
        assert messages.key_shown(thread_key) in text, form
        for line in ("opened ticket", "auto-ack 1 sent for", "delivered comment", "dead-lettered"):
            assert line in text, (form, line)


def test_a_key_is_shown_with_its_customer_as_a_pseudonym_the_same_everywhere() -> None:
    thread, identity, author = f"whatsapp:{WA_PHONE_ID}:chat:{WA_ID}", f"zendesk:whatsapp:{WA_ID}", f"whatsapp:{WA_ID}"
    token = messages.pseudonym(WA_ID)
    assert messages.key_shown(thread) == f"whatsapp:{WA_PHONE_ID}:chat:{token}"
    assert messages.key_shown(identity) == f"zendesk:whatsapp:{token}"
    assert messages.key_shown(author) == f"whatsapp:{token}"
    assert messages.key_shown("wamid.HBgLMTU1NTEyMzQ1NjcVAgA=#delivered").endswith("#delivered")
    assert "HBgL" not in messages.key_shown("wamid.HBgLMTU1NTEyMzQ1NjcVAgA=#delivered")
    email = messages.pseudonym("ann@example.com")
    assert messages.key_shown("generic:web:mail:ann@example.com") == f"generic:web:mail:{email}"
    assert messages.key_shown("generic:web:chat:+44 7700 900555").count("7700") == 0
    assert messages.key_shown("generic:web:order-42") == "generic:web:order-42"
    assert messages.key_shown("facebook:104729384756120:comment:1_2") == "facebook:104729384756120:comment:1_2"


def test_a_wamid_holds_the_number_and_is_shown_by_its_pseudonym() -> None:
    """Meta's own example (the Cloud API webhooks overview): the message id's base64 decodes to a phone number."""
    payload = json.loads((Path(__file__).parent / "fixtures/meta/whatsapp_text_message.json").read_text())
    wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert b"16503879439" in base64.b64decode(wamid.removeprefix("wamid."))
    assert messages.key_shown(wamid) == "wamid." + messages.pseudonym(wamid)


def test_the_pseudonym_is_keyed_by_the_installation_not_guessable_from_the_number(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A plain digest of a phone number is undone by hashing every number: the key is the helpdesk credential's,
    taken by every process from the config (bridge.logs.use_pseudonyms)."""
    monkeypatch.setattr(messages, "_pseudonym_key", messages._pseudonym_key)  # put back after the test
    messages.use_pseudonym_key("zendesk:one-token")
    one = messages.pseudonym(WA_ID)
    messages.use_pseudonym_key("zendesk:another-token")
    assert messages.pseudonym(WA_ID) != one
    messages.use_pseudonym_key("zendesk:one-token")
    assert messages.pseudonym(WA_ID) == one  # stable: one installation names a customer alike
    assert hashlib.sha256(WA_ID.encode()).hexdigest()[:10] not in one
