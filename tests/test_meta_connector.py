"""FacebookChannel against the Meta simulator, with the real ``requests`` over real sockets."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from bridge import errors
from bridge.events import ThreadState
from bridge.ports import SocialChannel
from bridge.text import split_text
from connectors.meta import FacebookChannel, messenger_policy
from sandbox.base import Fault
from sandbox.meta import MetaSimulator

SECRET = "test_app_secret"
PAGE, TOKEN = "1234567890321", "EAAGm0PX4ZCpsBAsecretPAGEtoken"
PSID = "2400012345678901"
PREFIX = "/v21.0"


@pytest.fixture
def sim() -> Iterator[MetaSimulator]:
    with MetaSimulator(SECRET, {PAGE: TOKEN}, page_names={PAGE: "Acme Support"}) as simulator:
        yield simulator


@pytest.fixture
def channel(sim: MetaSimulator) -> FacebookChannel:
    return make_channel(sim)


def make_channel(sim: MetaSimulator, **kwargs: Any) -> FacebookChannel:
    options: dict[str, Any] = {"timeout": 5.0, **kwargs}
    options.setdefault("account_id", PAGE)
    return FacebookChannel(name="acme-facebook", access_token=TOKEN, api_url=f"{sim.url}{PREFIX}", **options)


def thread(thread_id: str, reply_to: str, last_inbound_at: datetime | None = None) -> ThreadState:
    return ThreadState(
        key=f"facebook:{PAGE}:{thread_id}",
        platform="facebook",
        channel="acme-facebook",
        account_id=PAGE,
        thread_id=thread_id,
        reply_to=reply_to,
        last_inbound_at=last_inbound_at,
        last_inbound_message_id=None,
        ticket_id="42",
    )


def customer_comment(sim: MetaSimulator) -> str:
    comment_id: str = sim.customer_comment(
        PAGE, text="Where is my order?", user_id="6523100", user_name="Dana", send=False
    )["comment_id"]
    return comment_id


def messenger_thread(sim: MetaSimulator, *, age: timedelta, now: datetime) -> ThreadState:
    """A Messenger thread whose customer last wrote ``age`` before ``now`` (the simulator saw it too)."""
    sim.customer_message(PAGE, psid=PSID, text="Hello?", timestamp=now - age, send=False)
    return thread(f"messenger:{PSID}", PSID, now - age)


def assert_no_token(*texts: object) -> None:
    for text in texts:
        assert TOKEN not in str(text)


def raised(exc_info: pytest.ExceptionInfo[errors.BridgeError]) -> errors.BridgeError:
    error = exc_info.value
    assert_no_token(error, error.message, repr(error), error.__cause__, repr(error.__cause__))
    assert error.platform == "facebook"
    return error


def test_implements_the_social_channel_port(channel: FacebookChannel) -> None:
    port: SocialChannel = channel
    assert (port.platform, port.name, port.account_id) == ("facebook", "acme-facebook", PAGE)


# -- comments ----------------------------------------------------------------------------------------------


def test_comment_reply_goes_under_the_comment(sim: MetaSimulator, channel: FacebookChannel) -> None:
    comment_id = customer_comment(sim)
    delivery = channel.send_reply(thread(f"comment:{comment_id}", comment_id), "On its way!", now=datetime.now(UTC))
    [call] = sim.calls_to("POST", f"{PREFIX}/{comment_id}/comments")
    assert sim.comment_replies == [{"parent_id": comment_id, "message": "On its way!", "id": delivery.message_ids[0]}]
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "access_token" not in call.query and TOKEN.encode() not in call.body  # the header only


def test_reply_under_a_visitor_post(sim: MetaSimulator, channel: FacebookChannel) -> None:
    post_id = sim.add_post(PAGE, "My blender broke")
    delivery = channel.send_reply(thread(f"post:{post_id}", post_id), "Sorry to hear!", now=datetime.now(UTC))
    assert sim.comment_replies == [{"parent_id": post_id, "message": "Sorry to hear!", "id": delivery.message_ids[0]}]


def test_long_comment_reply_is_split_at_8000(sim: MetaSimulator, channel: FacebookChannel) -> None:
    comment_id = customer_comment(sim)
    text = "This is a rather long sentence about your order. " * 200  # 10,000 characters
    delivery = channel.send_reply(thread(f"comment:{comment_id}", comment_id), text, now=datetime.now(UTC))
    assert [r["message"] for r in sim.comment_replies] == split_text(text, 8000)
    assert len(delivery.message_ids) == 2 and all(len(r["message"]) <= 8000 for r in sim.comment_replies)


# -- Messenger windows -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "messaging_type", "tag"),
    [
        (timedelta(minutes=5), "RESPONSE", None),
        (timedelta(hours=23, minutes=50), "RESPONSE", None),
        (timedelta(hours=24, minutes=1), "MESSAGE_TAG", "HUMAN_AGENT"),
        (timedelta(days=3), "MESSAGE_TAG", "HUMAN_AGENT"),
        (timedelta(days=6, hours=23), "MESSAGE_TAG", "HUMAN_AGENT"),
    ],
)
def test_messenger_window_decides_the_messaging_type(
    sim: MetaSimulator, channel: FacebookChannel, age: timedelta, messaging_type: str, tag: str | None
) -> None:
    now = datetime.now(UTC)
    delivery = channel.send_reply(messenger_thread(sim, age=age, now=now), "We're on it.", now=now)
    [sent] = sim.sent_messages
    assert (sent["messaging_type"], sent["tag"], sent["recipient"]) == (messaging_type, tag, PSID)
    assert delivery.message_ids == (sent["message_id"],)
    [call] = sim.calls_to("POST", f"{PREFIX}/{PAGE}/messages")
    assert call.json["recipient"] == {"id": PSID} and call.json["message"] == {"text": "We're on it."}


def test_after_seven_days_the_reply_is_refused_without_a_call(sim: MetaSimulator, channel: FacebookChannel) -> None:
    now = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
    last = now - timedelta(days=8)
    with pytest.raises(errors.WindowClosed) as exc_info:
        channel.send_reply(thread(f"messenger:{PSID}", PSID, last), "Sorry for the wait", now=now)
    error = raised(exc_info)
    assert "7 days" in error.message and "2024-05-02 12:00 UTC" in error.message
    assert not error.retryable and sim.calls == []


def test_unknown_last_message_time_lets_messenger_decide(sim: MetaSimulator, channel: FacebookChannel) -> None:
    sim.customer_message(PAGE, psid=PSID, text="hi", timestamp=time.time() - 2 * 86_400, send=False)
    with pytest.raises(errors.WindowClosed) as exc_info:
        channel.send_reply(thread(f"messenger:{PSID}", PSID, None), "Hello", now=datetime.now(UTC))
    assert raised(exc_info).code == "10/2018278"


def test_window_policy_boundaries() -> None:
    now = datetime(2024, 5, 10, tzinfo=UTC)
    assert messenger_policy(now - timedelta(days=7), now) == ("MESSAGE_TAG", "HUMAN_AGENT")
    with pytest.raises(errors.WindowClosed):
        messenger_policy(now - timedelta(days=7, seconds=1), now)


def test_a_long_messenger_reply_becomes_ordered_parts_of_at_most_2000(
    sim: MetaSimulator, channel: FacebookChannel
) -> None:
    now = datetime.now(UTC)
    text = " ".join(f"Step {i}: check the cable, then restart the router." for i in range(90))[:4500]
    assert len(text) == 4500
    delivery = channel.send_reply(messenger_thread(sim, age=timedelta(hours=1), now=now), text, now=now)
    sent = [m["text"] for m in sim.sent_messages]
    assert len(sent) == 3 and all(len(part) <= 2000 for part in sent)
    assert sent == split_text(text, 2000)
    assert "".join(sent).replace(" ", "") == text.replace(" ", "")
    assert delivery.message_ids == tuple(m["message_id"] for m in sim.sent_messages)


# -- Graph errors ------------------------------------------------------------------------------------------


def test_expired_token_is_an_auth_error(sim: MetaSimulator, channel: FacebookChannel) -> None:
    comment_id = customer_comment(sim)
    sim.expire_token(PAGE)
    with pytest.raises(errors.AuthError) as exc_info:
        channel.send_reply(thread(f"comment:{comment_id}", comment_id), "Hi", now=datetime.now(UTC))
    error = raised(exc_info)
    assert "expired or was revoked" in error.message and error.code == "190/463" and not error.retryable
    with pytest.raises(errors.AuthError):
        channel.ping()


def test_deleted_comment_is_not_found(sim: MetaSimulator, channel: FacebookChannel) -> None:
    comment_id = customer_comment(sim)
    sim.delete_comment(comment_id, send=False)
    with pytest.raises(errors.NotFound) as exc_info:
        channel.send_reply(thread(f"comment:{comment_id}", comment_id), "Hi", now=datetime.now(UTC))
    assert "deleted" in raised(exc_info).message


def test_person_unavailable_is_permanent(sim: MetaSimulator, channel: FacebookChannel) -> None:
    now = datetime.now(UTC)
    state = messenger_thread(sim, age=timedelta(hours=1), now=now)
    sim.block(PAGE, PSID)
    with pytest.raises(errors.PermanentError) as exc_info:
        channel.send_reply(state, "Hi", now=now)
    assert type(exc_info.value) is errors.PermanentError and raised(exc_info).code == "551/1545041"


@pytest.mark.parametrize(("code", "regain_minutes", "retry_after"), [(32, 3, 180.0), (613, 1, 60.0), (4, 9, 60.0)])
def test_throttled_is_rate_limited_with_graphs_wait(
    sim: MetaSimulator, channel: FacebookChannel, code: int, regain_minutes: int, retry_after: float
) -> None:
    comment_id = customer_comment(sim)
    sim.throttle(code=code, regain_minutes=regain_minutes)
    with pytest.raises(errors.RateLimited) as exc_info:
        channel.send_reply(thread(f"comment:{comment_id}", comment_id), "Hi", now=datetime.now(UTC))
    error = raised(exc_info)
    assert error.retryable and error.retry_after == retry_after and sim.comment_replies == []


def graph_error(code: int, subcode: int | None = None, **extra: Any) -> dict[str, Any]:
    error: dict[str, Any] = {"message": f"(#{code}) simulated", "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": {**error, **extra, "fbtrace_id": "AbCdEfGh123"}}


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected", "retry_after"),
    [
        (500, graph_error(2, is_transient=True), {}, errors.Unavailable, None),
        (500, graph_error(1), {}, errors.UnknownOutcome, None),  # "API Unknown" to a send: maybe posted
        (400, graph_error(1200), {}, errors.Unavailable, None),
        (400, graph_error(9999, is_transient=True), {}, errors.Unavailable, None),
        (503, graph_error(9999), {"Retry-After": "12"}, errors.Unavailable, 12.0),
        (400, graph_error(100), {}, errors.PermanentError, None),
        (400, graph_error(368), {}, errors.PermanentError, None),
        (400, graph_error(10, 2018108), {}, errors.WindowClosed, None),
        (400, graph_error(10, 2018065), {}, errors.WindowClosed, None),
        (403, graph_error(200), {}, errors.AuthError, None),
        (400, graph_error(102), {}, errors.AuthError, None),
        (400, graph_error(100, 2018001), {}, errors.NotFound, None),
        (400, graph_error(80006), {}, errors.RateLimited, 60.0),
        (403, graph_error(17), {"X-Page-Usage": '{"estimated_time_to_regain_access": 2}'}, errors.RateLimited, 120.0),
        (400, graph_error(4), {"Retry-After": "30"}, errors.RateLimited, 30.0),
        (502, "<html>Bad Gateway</html>", {}, errors.UnknownOutcome, None),  # a proxy's, after Meta may have posted
        (522, "<html>Connection timed out</html>", {}, errors.UnknownOutcome, None),
        (503, "<html>Service Unavailable</html>", {}, errors.Unavailable, None),
        (429, "", {"Retry-After": "7"}, errors.RateLimited, 7.0),
        (404, "not json", {}, errors.NotFound, None),
    ],
)
def test_graph_error_table(
    sim: MetaSimulator,
    channel: FacebookChannel,
    status: int,
    body: dict[str, Any] | str,
    headers: dict[str, str],
    expected: type[errors.BridgeError],
    retry_after: float | None,
) -> None:
    comment_id = customer_comment(sim)
    sim.inject(Fault(status, path_prefix=f"{PREFIX}/", headers=headers, body=body))
    with pytest.raises(errors.BridgeError) as exc_info:
        channel.send_reply(thread(f"comment:{comment_id}", comment_id), "Hi", now=datetime.now(UTC))
    error = raised(exc_info)
    assert type(error) is expected and error.retry_after == retry_after and error.http_status == status
    assert error.message.startswith("could not reply to the Facebook comment")


def test_token_is_scrubbed_from_graphs_own_message(sim: MetaSimulator, channel: FacebookChannel) -> None:
    comment_id = customer_comment(sim)
    sim.inject(Fault(400, body={"error": {"message": f"Malformed access token {TOKEN}", "code": 190}}))
    with pytest.raises(errors.AuthError) as exc_info:
        channel.send_reply(thread(f"comment:{comment_id}", comment_id), "Hi", now=datetime.now(UTC))
    assert "***" not in raised(exc_info).message  # the table's words, not Graph's, are shown for 190
    sim.inject(Fault(400, body={"error": {"message": f"odd: {TOKEN}", "code": 12345}}))
    with pytest.raises(errors.PermanentError) as other:
        channel.send_reply(thread(f"comment:{comment_id}", comment_id), "Hi", now=datetime.now(UTC))
    assert "odd: ***" in raised(other).message


# -- transport -----------------------------------------------------------------------------------------------


def test_timeout_after_sending_is_an_unknown_outcome(sim: MetaSimulator) -> None:
    now = datetime.now(UTC)
    state = messenger_thread(sim, age=timedelta(hours=1), now=now)
    sim.slow_down(1.5)
    with pytest.raises(errors.UnknownOutcome) as exc_info:
        make_channel(sim, timeout=0.3).send_reply(state, "Hello", now=now)
    assert not raised(exc_info).retryable
    assert len(sim.sent_messages) == 1  # why it must not be resent: Meta did deliver it


def test_slow_ping_is_retryable(sim: MetaSimulator) -> None:
    sim.slow_down(1.5)
    with pytest.raises(errors.Unavailable) as exc_info:
        make_channel(sim, timeout=0.3).ping()
    raised(exc_info)


def test_refused_connection_is_unavailable() -> None:
    with socket.socket() as s:  # bound but never listening: refused, and no one else can take the port
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        channel = FacebookChannel(
            name="x", account_id=PAGE, access_token=TOKEN, api_url=f"http://127.0.0.1:{port}{PREFIX}", timeout=2
        )
        with pytest.raises(errors.Unavailable) as exc_info:
            channel.send_reply(thread("comment:1_2", "1_2"), "Hi", now=datetime.now(UTC))
    raised(exc_info)


# -- partial delivery ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "after_first",
    [
        lambda sim: sim.expire_token(PAGE),
        lambda sim: sim.throttle(code=613),  # retryable, but retrying would resend part 1
    ],
    ids=["expired", "throttled"],
)
def test_failure_after_the_first_part_says_what_was_delivered(
    sim: MetaSimulator, after_first: Callable[[MetaSimulator], None]
) -> None:
    now = datetime.now(UTC)
    state = messenger_thread(sim, age=timedelta(hours=1), now=now)
    responses: list[int] = []

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        responses.append(response.status_code)
        if len(responses) == 1:  # the first part went out: now make the platform fail
            after_first(sim)

    session = requests.Session()
    session.hooks["response"].append(hook)
    text = "Please try the following steps one by one. " * 105  # about 4,500 characters: 3 parts
    with pytest.raises(errors.BridgeError) as exc_info:
        make_channel(sim, session=session).send_reply(state, text, now=now)
    error = raised(exc_info)
    assert isinstance(error, errors.PartiallyDelivered) and not error.retryable
    assert error.message.startswith("only 1 of 3 parts of the reply were delivered")
    assert error.message_ids == (sim.sent_messages[0]["message_id"],)
    assert "part 2 failed" in error.message and len(sim.sent_messages) == 1


# -- the rest ------------------------------------------------------------------------------------------------


def test_ping_returns_the_page_name(channel: FacebookChannel) -> None:
    assert channel.ping() == "Acme Support"


def test_ping_refuses_a_page_token_for_another_page_than_account_id(sim: MetaSimulator) -> None:
    """account_id one digit short passed as "Page 1234567890", and every message for the page was then dropped
    as "facebook account without a channel". The Page token's /me is the page: its id must be account_id."""
    short = PAGE[:-1]
    with pytest.raises(errors.ConfigError) as exc_info:
        make_channel(sim, account_id=short).ping()
    assert (
        exc_info.value.message
        == f'the token is for Page {PAGE}, but account_id is {short!r}: set account_id = "{PAGE}"'
    )
    assert_no_token(exc_info.value.message)


def test_repr_shows_no_token(channel: FacebookChannel) -> None:
    assert "acme-facebook" in repr(channel) and PAGE in repr(channel)
    assert_no_token(repr(channel), str(channel), vars(channel).get("name"))


def test_unknown_thread_kind_and_empty_text_are_refused_without_a_call(
    sim: MetaSimulator, channel: FacebookChannel
) -> None:
    with pytest.raises(errors.PermanentError):
        channel.send_reply(thread("dm:1", "1"), "Hi", now=datetime.now(UTC))
    with pytest.raises(errors.PermanentError):
        channel.send_reply(thread("comment:1_2", "1_2"), "   ", now=datetime.now(UTC))
    assert sim.calls == []


def test_requests_carry_no_token_outside_the_header(sim: MetaSimulator, channel: FacebookChannel) -> None:
    now = datetime.now(UTC)
    channel.send_reply(messenger_thread(sim, age=timedelta(hours=1), now=now), "Hi", now=now)
    channel.ping()
    for call in sim.calls:
        assert call.headers["Authorization"] == f"Bearer {TOKEN}"
        assert TOKEN not in call.path + json.dumps(call.query) and TOKEN.encode() not in call.body


def test_display_name_reads_the_user_profile_api(sim: MetaSimulator, channel: FacebookChannel) -> None:
    sim.set_profile(PAGE, PSID, "Grace", "Hopper")
    with pytest.raises(errors.PermanentError):  # Meta answers only about people who wrote to the page
        channel.display_name(PSID)
    sim.customer_message(PAGE, psid=PSID, text="hi", send=False)
    assert channel.display_name(PSID) == "Grace Hopper"
    with pytest.raises(errors.PermanentError) as refused:  # no profile access for this one
        channel.display_name("2400099999999999")
    assert TOKEN not in str(refused.value)
