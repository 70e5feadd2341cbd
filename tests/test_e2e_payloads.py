"""X and Telegram payloads end to end through a running bridge (issue 14): what a customer says reaches the
ticket, and what is no customer's words is recorded as ignored, visible in ``socialdesk status`` and, for a
revoked X app, in ``socialdesk doctor``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.stack import X_USER, Stack
from tests.support import one_ticket, reply_and_notify, settle, socialdesk, tickets


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with Stack(tmp_path, platforms=("x", "telegram")) as running:
        yield running


def status_json(stack: Stack, tmp_path: Path) -> dict[str, Any]:
    done = socialdesk("status", "--json", "--config", str(stack.write_config(tmp_path / "socialdesk.toml")))
    assert done.returncode in (0, 1), done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def public_comments(stack: Stack, ticket_id: int) -> list[str]:
    return [c["body"] for c in stack.helpdesk.comments(ticket_id) if c["public"]]


@pytest.mark.parametrize("shape", ["aaa", "xaa"])
def test_a_quote_of_the_brand_opens_a_ticket_and_the_reply_answers_the_quote(stack: Stack, shape: str) -> None:
    ours = stack.x.account_post("Our new blender is out!")
    quote = stack.x.customer_quote("Mine is louder than a jet", quoted=ours.id, user_id="77", username="lou",
                                   shape=shape)  # fmt: skip
    assert quote.response is not None and quote.response.status_code == 200
    ticket = one_ticket(stack)
    assert ticket["external_id"] == f"x:{X_USER}:conversation:{quote.id}"
    [body] = public_comments(stack, ticket["id"])
    assert "Mine is louder than a jet" in body
    assert f"[quoted post] https://x.com/{'AcmeSupport' if shape == 'aaa' else 'i/web'}/status/{ours.id}" in body
    reply_and_notify(stack, ticket["id"], "Sorry Lou, that is not right: DM us?")
    answer = stack.wait_for(lambda: [p for p in stack.x.posts.values() if p.in_reply_to == quote.id])
    assert answer[0].text == "Sorry Lou, that is not right: DM us?"


def test_a_revoked_x_app_is_accepted_and_shown_by_status_and_doctor(stack: Stack, tmp_path: Path) -> None:
    response = stack.x.revoke_access()
    assert response is not None and (response.status_code, response.json()["stored"]) == (200, 1)
    assert status_json(stack, tmp_path)["ignored"]["x app access revoked"] == {"last_24h": 1, "total": 1}
    doctor = socialdesk("doctor", "--config", str(tmp_path / "socialdesk.toml"))
    assert doctor.returncode == 1
    [line] = [line for line in doctor.stdout.splitlines() if "channel acme-x" in line]
    assert line.startswith("✗ channel acme-x (x): the user revoked the app's access at 20")
    assert line.endswith("; it can no longer reply")
    assert tickets(stack) == []
    settle(stack)


def test_a_telegram_photo_with_a_caption_reaches_the_ticket_named(stack: Stack) -> None:
    stack.telegram.customer_photo("My grinder arrived like this", user_id=5601, first_name="Ana")
    [body] = public_comments(stack, one_ticket(stack)["id"])
    assert body.startswith(
        "My grinder arrived like this\n[photo] 1280×960, 82 KB; see it in the Telegram chat (file_id"
    )
    assert stack.telegram.bot_token not in body


def test_a_pinned_message_opens_no_ticket_and_the_reply_quotes_the_customer(stack: Stack, tmp_path: Path) -> None:
    group = {"id": -1001700000009, "title": "Acme community", "type": "supergroup"}
    asked = stack.telegram.customer_message("Where is my order #5521?", user_id=4242, first_name="Ana", chat=group)
    ticket = one_ticket(stack)
    pin = stack.telegram.pin(asked, by_user_id=5551)
    assert pin.response is not None and pin.response.json() == {"ok": True, "received": 1, "stored": 1}
    settle(stack)
    assert len(tickets(stack)) == 1 and len(public_comments(stack, ticket["id"])) == 1
    assert status_json(stack, tmp_path)["ignored"]["telegram service message: pinned message"]["total"] == 1
    reply_and_notify(stack, ticket["id"], "It ships tomorrow, Ana.")
    [sent] = stack.wait_for(lambda: stack.telegram.sent)
    assert (sent["chat_id"], sent["reply_parameters"]["message_id"]) == (group["id"], asked.message_id)


def test_a_group_that_became_a_supergroup_still_gets_the_reply(stack: Stack, tmp_path: Path) -> None:
    group: dict[str, Any] = {"id": -4700000007, "title": "Acme fans", "type": "group"}
    stack.telegram.customer_message("Is the shop open today?", user_id=4242, first_name="Ana", chat=group)
    ticket = one_ticket(stack)
    supergroup = stack.telegram.migrate_group(group["id"], by_user_id=5551)
    settle(stack)
    ignored = status_json(stack, tmp_path)["ignored"]
    assert ignored["telegram service message: group migrated to a supergroup"]["total"] == 1
    assert ignored["telegram service message: supergroup migrated from a group"]["total"] == 1
    reply_and_notify(stack, ticket["id"], "Yes, until 6 pm.")
    [sent] = stack.wait_for(lambda: stack.telegram.sent)
    assert (sent["chat_id"], sent["text"]) == (supergroup, "Yes, until 6 pm.")
    assert len(tickets(stack)) == 1
