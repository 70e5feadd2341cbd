"""``reply_from``: mentions of the brand's main X account are ticketed, the agent's reply goes out from the
support account, threaded under the customer's post, said on the ticket; its echo is dropped on both channels.

End to end through a running bridge, the Zendesk simulator (and Freshdesk's for the reply and the hand-off)
and the X simulator playing both accounts of one app; every request the bridge makes to X is validated
against the X API v2 OpenAPI spec.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests

from bridge import config as config_module
from bridge.cli import EX_CONFIG
from bridge.errors import ConfigError
from connectors.x import oauth1_header
from sandbox.stack import HELPDESKS, X_USER, Stack, to_toml
from sandbox.x import Post, XSimulator
from tests.conftest import raw_config
from tests.support import notes, one_ticket, reply_and_notify, settle, socialdesk, tickets
from tests.test_cli import one_line_failure
from tests.test_x import assert_valid_request

BRAND = "Acme"
SUPPORT, SUPPORT_HANDLE = "1500000000000000077", "AcmeHelp"
SUPPORT_TOKEN, SUPPORT_TOKEN_SECRET = f"{SUPPORT}-sandbox-support-at", "sandbox-support-ats"


class SupportStack(Stack):
    """The sandbox with two X channels of one app: ``acme-x`` (@Acme), answered from ``acme-x-support``."""

    def __init__(self, workdir: Path, **options: Any) -> None:
        super().__init__(workdir, platforms=("x",), **options)
        self.x.username = BRAND
        self.x.accounts[X_USER] = replace(self.x.accounts[X_USER], username=BRAND, display_name=BRAND)
        self.x.users[X_USER] = (BRAND, BRAND)
        self.x.add_account(
            SUPPORT, SUPPORT_HANDLE, access_token=SUPPORT_TOKEN, access_token_secret=SUPPORT_TOKEN_SECRET
        )

    def raw_config(self) -> dict[str, Any]:
        raw = super().raw_config()
        [main] = raw["channels"]
        support = {**main, "name": "acme-x-support", "account_id": SUPPORT, "access_token": SUPPORT_TOKEN,
                   "access_token_secret": SUPPORT_TOKEN_SECRET}  # fmt: skip
        raw["channels"] = [{**main, "reply_from": "acme-x-support"}, support]
        return raw


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[SupportStack]:
    running = SupportStack(tmp_path, bridge_options={"redispatch_after": 2})
    with running:
        yield running


@pytest.fixture(params=HELPDESKS)
def on_both(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[SupportStack]:
    """The same, on Zendesk and on Freshdesk."""
    running = SupportStack(tmp_path, helpdesk=request.param, bridge_options={"redispatch_after": 2})
    with running:
        yield running


def posts_by(sim: XSimulator, author: str) -> list[Post]:
    return [p for p in sim.posts.values() if p.author_id == author]


def validated_posts(sim: XSimulator) -> list[dict[str, Any]]:
    calls = sim.calls_to("POST", "/2/tweets")
    for call in calls:
        assert_valid_request("POST", call.path, call.json)
    return [call.json for call in calls]


def answer(stack: Stack, body: str) -> dict[str, Any]:
    ticket = one_ticket(stack)
    reply_and_notify(stack, ticket["id"], body)
    return ticket


@pytest.mark.parametrize("shape", ["aaa", "xaa"])
def test_a_mention_of_the_brand_is_answered_by_the_support_account_and_its_echo_dropped(
    on_both: SupportStack, shape: str
) -> None:
    stack = on_both
    stack.x.shape, stack.x.self_serve = shape, False  # an Enterprise app: X lets it reply to any public post
    mention = stack.x.customer_post(f"@{BRAND} my flight was cancelled", user_id="42", username="sam")
    ticket = answer(stack, "Sorry Sam, rebooking you now.")
    assert ticket["external_id"] == f"x:{X_USER}:conversation:{mention.id}"  # the main channel's thread
    [reply] = stack.wait_for(lambda: posts_by(stack.x, SUPPORT))
    assert (reply.in_reply_to, reply.conversation_id, reply.text) == (
        mention.id, mention.id, "Sorry Sam, rebooking you now.",
    )  # fmt: skip
    assert validated_posts(stack.x) == [{"text": reply.text, "reply": {"in_reply_to_tweet_id": mention.id}}]
    assert posts_by(stack.x, X_USER) == []
    stack.wait_for(lambda: notes(stack, ticket["id"]))
    [note] = notes(stack, ticket["id"])
    assert "acme-x-support" in note and f"https://x.com/i/web/status/{reply.id}" in note
    for account in (SUPPORT, X_USER):  # X delivers it to the support account's subscription; to be sure, to both
        assert stack.x.deliver_post(reply, to=account).status_code == 200
    settle(stack)
    assert stack.store.rows("inbox", message_id=reply.id) == []  # dropped at the door, by its author
    kept = [row["message_id"] for row in stack.store.rows("inbox") if row["status"] != "ignored"]
    assert kept == [mention.id]  # X Activity's post.create of our own post is recorded as ignored, as before
    assert len(tickets(stack)) == 1 and len(stack.helpdesk.comments(ticket["id"])) == 3


def test_the_customer_answering_the_support_account_joins_the_ticket(stack: SupportStack) -> None:
    stack.x.self_serve = False
    mention = stack.x.customer_post(f"@{BRAND} where is my bag?", user_id="42", username="sam")
    answer(stack, "Checking with the airport.")
    [reply] = stack.wait_for(lambda: posts_by(stack.x, SUPPORT))
    settle(stack)  # the reply's id recorded: a v1 post names only the post it answers, found by that id
    follow_up = stack.x.customer_post(
        f"@{SUPPORT_HANDLE} @{BRAND} thanks, any news?", user_id="42", username="sam", in_reply_to=reply.id
    )
    settle(stack)
    [row] = stack.store.rows("inbox", message_id=follow_up.id)
    assert row["channel"] == "acme-x" and row["thread_key"] == f"x:{X_USER}:conversation:{mention.id}"
    assert len(tickets(stack)) == 1


@pytest.mark.parametrize("shape", ["aaa", "xaa"])
def test_the_customer_answering_only_the_support_account_joins_the_ticket(stack: SupportStack, shape: str) -> None:
    """X delivers a reply to @AcmeHelp's post to @AcmeHelp's subscription alone: it joins the main channel's
    thread that the support account answered, rather than opening a ticket on the support channel."""
    stack.x.shape, stack.x.self_serve = shape, False
    mention = stack.x.customer_post(f"@{BRAND} where is my bag?", user_id="42", username="sam")
    answer(stack, "Checking with the airport.")
    [reply] = stack.wait_for(lambda: posts_by(stack.x, SUPPORT))
    settle(stack)
    follow_up = stack.x.customer_post("thanks, any news?", user_id="42", username="sam", in_reply_to=reply.id,
                                      send=False)  # fmt: skip
    assert stack.x.deliver_post(stack.x.posts[follow_up.id], to=SUPPORT).json()["stored"] == 1
    settle(stack)
    [row] = stack.store.rows("inbox", message_id=follow_up.id)
    assert (row["channel"], row["thread_key"]) == ("acme-x", f"x:{X_USER}:conversation:{mention.id}")
    assert len(tickets(stack)) == 1


def test_on_a_self_serve_app_x_refuses_a_support_reply_the_customer_did_not_ask_for(stack: SupportStack) -> None:
    """X (2026-02-23): a self-serve app may reply only to a post whose author mentioned, answered or quoted
    the replying account. The customer named @Acme alone: X refuses @AcmeHelp, and the agent is told so."""
    stack.x.customer_post(f"@{BRAND} my flight was cancelled", user_id="42", username="sam")
    ticket = answer(stack, "Sorry Sam, rebooking you now.")
    stack.wait_for(lambda: notes(stack, ticket["id"]))
    [note] = notes(stack, ticket["id"])
    assert "could not deliver" in note and "mentioned, answered or quoted" in note and "acme-x-support" in note
    assert posts_by(stack.x, SUPPORT) == [] and posts_by(stack.x, X_USER) == []
    assert stack.store.rows("deliveries")[0]["status"] == "failed"


def test_on_a_self_serve_app_the_support_account_answers_a_customer_who_mentioned_it(stack: SupportStack) -> None:
    mention = stack.x.customer_post(f"@{BRAND} @{SUPPORT_HANDLE} my flight was cancelled", user_id="42", username="sam")
    answer(stack, "Sorry Sam, rebooking you now.")
    [reply] = stack.wait_for(lambda: posts_by(stack.x, SUPPORT))
    assert reply.in_reply_to == mention.id
    settle(stack)
    assert len(tickets(stack)) == 1


def test_the_private_hand_off_goes_from_the_support_account(on_both: SupportStack) -> None:
    stack = on_both
    stack.x.self_serve = False
    mention = stack.x.customer_post(f"@{BRAND} my booking ref is wrong", user_id="42", username="sam")
    answer(stack, "#private Please send us your booking reference here.")
    stack.wait_for(lambda: stack.x.sent_dms and posts_by(stack.x, SUPPORT))
    [dm] = stack.x.sent_dms
    assert (dm["participant_id"], dm["text"], stack.x.dm_senders[dm["id"]]) == (
        "42", "Please send us your booking reference here.", SUPPORT,
    )  # fmt: skip
    [notice] = posts_by(stack.x, SUPPORT)
    assert (notice.in_reply_to, notice.text) == (mention.id, "We've sent you a private message.")
    assert posts_by(stack.x, X_USER) == []


def test_a_direct_message_to_the_brand_is_answered_by_the_brand(stack: SupportStack) -> None:
    """A DM conversation cannot move to another account: the account the customer wrote to answers."""
    stack.x.customer_dm("hi, my refund?", user_id="43", username="kim")
    answer(stack, "Looking into it.")
    stack.wait_for(lambda: stack.x.sent_dms)
    [dm] = stack.x.sent_dms
    assert (dm["participant_id"], stack.x.dm_senders[dm["id"]]) == ("43", X_USER)


# -- the simulator holds the bridge to what X does ------------------------------------------------------------


def test_the_simulator_refuses_replies_and_quotes_x_refuses(stack: SupportStack) -> None:
    def post(body: dict[str, Any], *, token: str, token_secret: str) -> requests.Response:
        url = f"{stack.x.url}/2/tweets"
        auth = oauth1_header("POST", url, consumer_key="sandbox-ck", consumer_secret=stack.x.consumer_secret,
                             token=token, token_secret=token_secret, timestamp=int(stack.x.clock()),
                             nonce=f"n{len(stack.x.posts)}{body['text']}")  # fmt: skip
        assert_valid_request("POST", "/2/tweets", body)
        return requests.post(url, json=body, headers={"Authorization": auth}, timeout=10)

    support = {"token": SUPPORT_TOKEN, "token_secret": SUPPORT_TOKEN_SECRET}
    alone = stack.x.customer_post(f"@{BRAND} hello", user_id="42", username="sam", send=False)
    both = stack.x.customer_post(f"@{BRAND} @{SUPPORT_HANDLE} hi", user_id="44", username="ada", send=False)
    refused = post({"text": "hi", "reply": {"in_reply_to_tweet_id": alone.id}}, **support)
    assert refused.status_code == 403 and "not been mentioned or otherwise engaged" in refused.json()["detail"]
    assert post({"text": "q", "quote_tweet_id": alone.id}, **support).status_code == 403
    assert post({"text": "r", "reply": {"in_reply_to_tweet_id": both.id}}, **support).status_code == 201
    assert post({"text": "q2", "quote_tweet_id": both.id}, **support).status_code == 201
    stack.x.self_serve = False
    assert post({"text": "r3", "reply": {"in_reply_to_tweet_id": alone.id}}, **support).status_code == 201
    assert post({"text": "r4", "reply": {"in_reply_to_tweet_id": "99"}}, **support).status_code == 403  # unknown


# -- a misconfigured reply_from stops every command at start ----------------------------------------------------


def x_channel(name: str, account: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "platform": "x", "account_id": account, "consumer_key": "ck", "consumer_secret": "cs",
            "access_token": f"{account}-at", "access_token_secret": "ats", **extra}  # fmt: skip


@pytest.mark.parametrize(
    ("reply_from", "error"),
    [
        ("nobody", "channels[acme-x].reply_from: 'nobody' is not another configured channel"),
        ("acme-x", "channels[acme-x].reply_from: 'acme-x' is not another configured channel"),
        ("acme-facebook", "channels[acme-x].reply_from: 'acme-facebook' is a facebook channel, not x"),
        ("helper", "channels[acme-x].reply_from: 'helper' answers from another channel itself"),
    ],
)
def test_a_bad_reply_from_is_refused_naming_the_key(reply_from: str, error: str) -> None:
    raw = raw_config()
    raw["channels"] += [x_channel("acme-x", "11", reply_from=reply_from), x_channel("helper", "12", reply_from="x3"),
                        x_channel("x3", "13")]  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        config_module.parse(raw, env={})
    assert str(caught.value) == error


def test_reply_from_is_refused_on_instagram() -> None:
    raw = raw_config()
    ig = {"platform": "instagram", "access_token": "t", "app_secret": "s", "verify_token": "v"}
    raw["channels"] += [{**ig, "name": "ig", "account_id": "1", "reply_from": "ig-help"},
                        {**ig, "name": "ig-help", "account_id": "2"}]  # fmt: skip
    with pytest.raises(ConfigError, match=r"^channels\[ig\]\.reply_from: not supported on instagram"):
        config_module.parse(raw, env={})


def test_the_worker_does_not_start_with_a_bad_reply_from(tmp_path: Path) -> None:
    raw = raw_config(database_url=f"sqlite:///{tmp_path}/store.db", queue_url=f"sqlite:///{tmp_path}/queue.db")
    raw["channels"].append(x_channel("acme-x", "11", reply_from="acme-x-help"))
    path = tmp_path / "socialdesk.toml"
    path.write_text(to_toml(raw))
    line = one_line_failure(socialdesk("worker", "--config", str(path), timeout=60), EX_CONFIG)
    expected = "channels[acme-x].reply_from: 'acme-x-help' is not another configured channel"
    assert line == f"Error: configuration: {expected}", line
