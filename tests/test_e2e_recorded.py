"""Every recorded inbound payload of ``tests/fixtures`` (see fixtures/SOURCES.md), signed as its platform signs
it, posted to a running bridge's webhook and taken through the worker to the Zendesk and the Freshdesk
simulators: what a customer wrote reaches a ticket, and anything else is recorded ignored with its reason. The
other tests parse these files or stop at the inbox; only this one follows each to its end, where a word can
still be lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.stack import HELPDESKS, IG_ID, PAGE_ID, X_USER, Stack
from tests.conftest import FIXTURES, fixture_bytes
from tests.support import settle

PSID = "987654321432"  # the customer of restfb's recorded Messenger deliveries: one thread for all
META_PAGES = (b"12345654332", b"682498302938465", b"1234567890321", b"<PAGE_ID>", b"PAGE_ID")
VISITOR = {"id": "8423678347823", "name": "John Doe"}  # the visitor of restfb's feed-post-add-25.json
TELEGRAM_COMPOSED = "telegram/telegram_messages.COMPOSED.json"
TELEGRAM_CASES = [case for case in json.loads(fixture_bytes(TELEGRAM_COMPOSED)) if case != "_comment"]


@pytest.fixture(params=HELPDESKS)
def stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """A bridge with every platform of these payloads, writing to Zendesk, then to Freshdesk."""
    platforms = ("facebook", "instagram", "whatsapp", "x", "telegram")
    with Stack(tmp_path, platforms=platforms, helpdesk=request.param) as running:
        yield running


def meta_payload(name: str) -> Any:
    """A recorded Meta payload addressed to the stack's page / Instagram account (ids and placeholders
    replaced); an event recorded without its envelope is wrapped in Messenger's. ``file.json@visitor``: the
    page's own feed change of that capture made by a visitor instead (restfb recorded the page's only)."""
    name, _, visitor = name.partition("@")
    payload = _meta_payload(name)
    if visitor:
        value = payload["entry"][0]["changes"][0]["value"]
        value.pop("sender_name", None)
        value.update(sender_id=int(VISITOR["id"]), **({"from": VISITOR} if "from" in value else {}))
    return payload


def _meta_payload(name: str) -> Any:
    raw = fixture_bytes(f"meta/{name}")
    for page in META_PAGES:
        raw = raw.replace(page, PAGE_ID.encode())
    raw = raw.replace(b"<PSID>", PSID.encode()).replace(b"USER_ID", PSID.encode()).replace(b"<IGID>", IG_ID.encode())
    payload = json.loads(raw)
    if "entry" not in payload:
        payload = {"object": "page", "entry": [{"id": PAGE_ID, "time": 1, "messaging": [payload]}]}
    if payload["object"] == "instagram":
        payload["entry"][0]["id"] = IG_ID
    return payload


def x_payload(name: str) -> Any:
    """A recorded X payload whose subscribed account is the stack's."""
    raw = fixture_bytes(f"x/{name}")
    payload = json.loads(raw)
    account = payload.get("for_user_id") or payload.get("data", {}).get("filter", {}).get("user_id")
    return json.loads(raw.replace(account.encode(), X_USER.encode())) if account else payload


def telegram_payload(name: str) -> Any:
    """A recorded update; ``telegram_messages.COMPOSED.json#case``: one of that file's messages in an update."""
    if "#" in name:
        file, case = name.split("#")
        return {"update_id": 880000 + TELEGRAM_CASES.index(case), "message": json.loads(fixture_bytes(file))[case]}
    return json.loads(fixture_bytes(name))


def snapshot(stack: Stack) -> tuple[set[int], dict[int, int]]:
    """The inbox rows and each ticket's number of comments, before a delivery."""
    rows = {int(r["id"]) for r in stack.store.rows("inbox")}
    return rows, {int(t["id"]): len(stack.helpdesk.comments(t["id"])) for t in stack.helpdesk.tickets}


def outcome(stack: Stack, before: tuple[set[int], dict[int, int]]) -> list[str]:
    """What became of a delivery: each new comment on a ticket, each new inbox row not done."""
    settle(stack)
    rows, counts = before
    seen = [f"{r['status']}: {r['last_error']}" for r in stack.store.rows("inbox") if int(r["id"]) not in rows]
    said = []
    for ticket in stack.helpdesk.tickets:
        for c in stack.helpdesk.comments(ticket["id"])[counts.get(int(ticket["id"]), 0) :]:
            said.append(f"{'public' if c['public'] else 'note'}: {c['body']}")
    return [s for s in seen if not s.startswith("done")] + said


def post(stack: Stack, name: str) -> None:
    """POST a recorded payload signed as its platform signs it (Meta: hex HMAC of the body with the app
    secret; X: base64 HMAC with the consumer secret; Telegram: the secret-token header)."""
    if name.startswith("meta/"):
        [response] = stack.meta.deliver(meta_payload(name[5:]))
    elif name.startswith("x/"):
        response = stack.x.deliver(x_payload(name[2:]))
    else:
        response = stack.telegram.deliver(telegram_payload(name))
    assert response.status_code == 200, response.text


def deliver(stack: Stack, name: str) -> list[str]:
    """``name`` posted after what it needs (:data:`FIRST`), and what became of it."""
    for needed in FIRST.get(name, ()):
        post(stack, needed)
    settle(stack)
    before = snapshot(stack)
    post(stack, name)
    return outcome(stack, before)


MESSENGER_TEXT, VISITOR_POST = "meta/meta_messenger_text.json", "meta/meta_page_feed_visitor_post.json"
#: what must have reached the bridge before a payload that speaks of it (a reaction is a note on its thread's
#: ticket); each test has a bridge of its own, so none depends on another having run
FIRST: dict[str, tuple[str, ...]] = {
    **{f"meta/{name}": (MESSENGER_TEXT,) for name in (
        "messenger_reaction_react.json", "messenger_reaction_unreact.json", "messenger_message_isdeleted.json",
        "messenger_request_thread_control.json", "messenger_pass_thread_control.json")},
    "meta/feed_post_edit.json": (VISITOR_POST,),
    "meta/feed_status_hide.json": (VISITOR_POST,),
}  # fmt: skip


def every_inbound_fixture() -> set[str]:
    """The payloads a platform posts to the bridge, as kept in tests/fixtures (a new file must be added below)."""
    files = {f"{p.parent.name}/{p.name}" for d in ("meta", "x", "telegram") for p in (FIXTURES / d).glob("*.json")}
    visitors = {f"meta/{name}@visitor" for name in VISITOR_VARIANTS}
    return (files - {TELEGRAM_COMPOSED}) | {f"{TELEGRAM_COMPOSED}#{case}" for case in TELEGRAM_CASES} | visitors


VISITOR_VARIANTS = ("feed_comment_photo.json", "feed_comment_video.json", "feed_status_photos.json")


def public(words: str) -> str:
    return f"public: {words}"


def ignored(reason: str) -> str:
    return f"ignored: {reason}"


NO_TICKET = "in a thread without a ticket"
#: each recorded payload -> each comment it added to a ticket and each reason it was ignored: how they begin,
#: then (after a "…") what follows somewhere after
EXPECTED: dict[str, list[str]] = {
    "meta/feed_comment_edited.json": [ignored("facebook feed change by the page")],  # sender_id is the page
    "meta/feed_comment_photo.json": [ignored("facebook feed change by the page")],
    "meta/feed_comment_photo.json@visitor": [public("and the next one\n[image] https://scontent-fra3-1.xx.fbcdn.net/")],
    "meta/feed_comment_video.json": [ignored("facebook feed change by the page")],
    "meta/feed_comment_video.json@visitor": [public("and the next one\n[video] https://example.fbcdn.net/video.mp4")],
    "meta/feed_status_photos.json": [ignored("facebook feed change by the page")],
    "meta/feed_status_photos.json@visitor": [public("This is just a short test message\n[image] https://scontent-frt3"
                                                    "-1.xx.fbcdn.net/exampleimage1.png\n[image] …exampleimage3.png")],
    "meta/feed_comment_hide.json": [ignored(f"facebook comment hidden by the page {NO_TICKET}")],
    "meta/feed_comment_unhide.json": [ignored(f"facebook comment shown again by the page {NO_TICKET}")],
    "meta/feed_post_edit.json": [f"note: The customer edited their Facebook comment ({PAGE_ID}_7293787835232#edit:"
                                 "…New text:…Let's check this"],
    "meta/feed_status_hide.json": [f"note: The page hid the Facebook post {PAGE_ID}_7293787835232. The customer did"
                                   " not remove it."],
    "meta/instagram_comment.json": [public("This is an example.")],
    "meta/instagram_dm.json": [public("<MESSAGE_CONTENT>")],  # Meta's placeholders
    "meta/messenger_account_linking.json": [ignored("messenger account linking")],
    "meta/messenger_button_template.json": [public("[button template] buttons: Visit Messenger BUTTON_URL")],
    "meta/messenger_delivery.json": [ignored("messenger delivery receipt")],
    "meta/messenger_location.json": [public("[location] https://maps.google.com/?q=12.34,43.21")],
    "meta/messenger_message_isdeleted.json": ["note: The customer removed their Messenger message (message_id#"],
    "meta/messenger_message_edit.json": [public("[edited] hello, world!")],  # its original never arrived
    "meta/messenger_quick_reply.json": [public("quick reply text")],
    "meta/messenger_sticker.json": [public("(no text)\n[sticker] https://scontent.xx.fbcdn.net/sticker.png")],
    "meta/messenger_message_isunsupported.json": [public("[unsupported message type]")],
    "meta/messenger_optin.json": [ignored("messenger opt-in")],
    "meta/messenger_pass_thread_control.json": ["note: Messenger handover: control of this conversation was passed"],
    "meta/messenger_policy_enforcement.json": [ignored("messenger policy enforcement")],
    "meta/messenger_postback_chat_plugin.json": [public("[button tapped] (a button without a title) (payload: hey)")],
    "meta/messenger_postback_referral.json": [public("[button tapped] (a button without a title) (payload: "
                                                     "USER_DEFINED_PAYLOAD)")],
    "meta/messenger_product_template.json": [public("[product] Some product title $40 https://fb.cdn.com/sdsd")],
    "meta/messenger_reaction_react.json": ["note: The customer reacted 😢 to a message (original_message_id)"],
    "meta/messenger_reaction_unreact.json": ["note: The customer removed their reaction to a message"],
    "meta/messenger_read.json": [ignored("messenger read receipt")],
    "meta/messenger_referral.json": [ignored("messenger referral")],
    "meta/messenger_request_thread_control.json": ["note: Messenger handover: app REQUESTED_OWNER_APP_ID asks for"],
    "meta/meta_messenger_echo_full.json": [ignored("messenger echo of the account's own message")],
    "meta/meta_messenger_fallback_attachment_full.json": [public("This is where I want to go: "
                                                                 "https://youtu.be/bbo_fZAjIhg")],
    "meta/meta_messenger_reply_event.json": [public("hello, world!")],
    "meta/meta_messenger_text.json": [public("hello, world!")],
    "meta/meta_page_feed_comment.json": [ignored("facebook feed change by the page")],  # from.id is the page
    "meta/meta_page_feed_comment_remove.json": [ignored(f"facebook comment removed by the page {NO_TICKET}")],
    "meta/meta_page_feed_visitor_post.json": [public("Let's check this")],
    "meta/whatsapp_image_no_caption.json": [public("(no text)\n[image] whatsapp-media:1013859600285441\n…— WhatsApp")],
    "meta/whatsapp_interactive_button_reply.json": [public("Opening hours")],
    "meta/whatsapp_status_failed.json": [ignored("receipt for a message the bridge did not send")],
    "meta/whatsapp_status_sent.json": [ignored("receipt for a message the bridge did not send")],
    # the earlier user id (a BSUID) never wrote here: test_e2e_meta_events has the note on its ticket
    "meta/whatsapp_system_user_changed_user_id.json": [ignored(f"whatsapp user changed user id {NO_TICKET}")],
    "meta/whatsapp_text_message.json": [public("Does it come in another color?")],
    "telegram/telegram_callback_query.COMPOSED.json": [public("[button tapped] Talk to a person (payload: "
                                                              "quick:person)")],
    "telegram/telegram_message_migrate_to_chat_id.aiogram.json": [ignored("telegram service message: group migrated "
                                                                          "to a supergroup")],
    "telegram/telegram_message_photo_no_caption.recorded.json": [public("[photo] 640×1280, 32 KB; see it in the "
                                                                        "Telegram chat (file_id AgACAgIAAxkBAAN0")],
    "telegram/telegram_message_with_dice.aiogram.json": [public("[dice] 🎲 rolled 6")],
    "telegram/telegram_message_with_photo.aiogram.json": [public("photo description\n[photo] 90×51, 1 KB")],
    f"{TELEGRAM_COMPOSED}#chat_shared": [public("[shared chat] Bo's Bakery, @bosbakery (chat id -1001999999999)")],
    f"{TELEGRAM_COMPOSED}#empty": [ignored("telegram empty message")],
    f"{TELEGRAM_COMPOSED}#forum_topic_closed": [ignored("telegram service message: forum topic closed")],
    f"{TELEGRAM_COMPOSED}#forum_topic_created": [ignored("telegram service message: forum topic created")],
    f"{TELEGRAM_COMPOSED}#forum_topic_reopened": [ignored("telegram service message: forum topic reopened")],
    f"{TELEGRAM_COMPOSED}#left_chat_member": [ignored("telegram service message: left chat member")],
    f"{TELEGRAM_COMPOSED}#migrate_from_chat_id": [ignored("telegram service message: supergroup migrated from a "
                                                          "group")],
    f"{TELEGRAM_COMPOSED}#new_chat_members": [ignored("telegram service message: new chat members")],
    f"{TELEGRAM_COMPOSED}#pinned_message": [ignored("telegram service message: pinned message")],
    f"{TELEGRAM_COMPOSED}#story": [public("[story] forwarded from Bo's Bakery https://t.me/bosbakery/s/5")],
    "telegram/telegram_update_message.json": [public("/start")],
    "x/x_aaa_direct_message_indicate_typing_events.json": [ignored("x typing indicator")],
    "x/x_aaa_direct_message_mark_read_events.json": [ignored("x direct message read")],
    "x/x_aaa_favorite_events.COMPOSED.json": [ignored("x like")],
    "x/x_aaa_follow_events.COMPOSED.json": [ignored("x follow"), ignored("x unfollow")],
    "x/x_aaa_quote_tweet.COMPOSED.json": [public("Quote test\n[quoted post] https://x.com/")],
    "x/x_aaa_tweet_delete_events.json": [ignored("x own post deleted")],
    "x/x_aaa_user_event_revoke.json": [ignored("x app access revoked")],
    "x/x_aaa_video_tweet.COMPOSED.json": [public("@XDevelopers the blender in action https://t.co/TLSTTOvvmP\n"
                                                 "[video] https://video.twimg.com/ext_tw_video/")],
    "x/x_direct_message_events.json": [public("Hello World!")],
    "x/x_tweet_create_events.json": [ignored("x own post")],  # the account's own post (user = for_user_id): an echo
    "x/x_xaa_dm_received.json": [public("hello!")],
    "x/x_xaa_event_envelope.json": [ignored("x own post")],
    "x/x_xaa_like_create.json": [ignored("x like")],
    "x/x_xaa_oauth_revoke.json": [ignored("x app access revoked")],
    "x/x_xaa_post_mention_create.json": [public("hey @ExampleUser")],
    "x/x_xaa_post_quote_create.json": [public("Adding some context to this.\n[quoted post] "
                                              "https://x.com/i/web/status/2080761390344937796")],
    "x/x_xaa_post_repost_create.json": [ignored("x repost")],
}  # fmt: skip


def test_every_recorded_payload_is_expected_below() -> None:
    assert set(EXPECTED) == every_inbound_fixture()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_recorded_payload_reaches_the_ticket_or_is_recorded_ignored(stack: Stack, name: str) -> None:
    got = deliver(stack, name)
    assert len(got) == len(EXPECTED[name]) and all(map(matches, got, EXPECTED[name])), got


def matches(got: str, expected: str) -> bool:
    """``got`` begins with ``expected``'s first part and holds its other parts ("…"-separated) in order."""
    first, *rest = expected.split("…")
    at = len(first) if got.startswith(first) else -1
    for part in rest:
        at = got.find(part, at) if at >= 0 else -1
    return at >= 0
