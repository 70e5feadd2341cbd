"""Verifiers against the vendors' published vectors (tests/fixtures/SOURCES.md), plus the unhappy paths."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from webhooks.signatures import (
    sign_generic,
    sign_meta,
    sign_x,
    sign_zendesk,
    verify_generic,
    verify_meta,
    verify_shared_secret,
    verify_telegram,
    verify_x,
    verify_zendesk,
    x_crc_response,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ZENDESK_VECTORS = json.loads((FIXTURES / "zendesk" / "webhooks" / "signature_test_vectors.json").read_text())
CURRENT = ZENDESK_VECTORS["current_doc_formula_vector"]
OLD_DOC = ZENDESK_VECTORS["official_old_doc_vector"]
CURRENT_TIME = datetime(2021, 3, 25, 5, 9, 27, tzinfo=UTC)

META_SECRET = "test_app_secret"
X_BODY = b'{"test_number":1,"test_string":"two"}'
X_SIGNATURE = "sha256=YWHphPn/JFq43jkF0y4/w8R/SelmLjvpunhVFY8JhlI="
GENERIC_BODY = b'{"message":"hello"}'
GENERIC_TIME = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
GENERIC_TS = int(GENERIC_TIME.timestamp())

# Headers a client controls: none of them may raise, none may verify.
GARBAGE_HEADERS = [
    None,
    "",
    " ",
    "sha256=",
    "sha256",
    "sha1=1c041e1c07f50386213ac582d2e17d24d70f1ed4",
    "v1=",
    "sha256=ü€\u0000",
    "\udc80",
    "=" * 10_000,
]


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / "meta" / name).read_bytes()


# --- Meta -------------------------------------------------------------------------------------

META_VECTORS = [
    (
        "whatsapp_text_message.json",
        985,
        "sha256=1c041e1c07f50386213ac582d2e17d24d70f1ed42949a6e5a5607057b805b5fc",
    ),
    (
        "meta_page_feed_comment.json",
        634,
        "sha256=c59abb446834bfa1f7afab719aa5467970b7ab2f879b60b6894d202d740d03e8",
    ),
]


@pytest.mark.parametrize(("name", "size", "signature"), META_VECTORS)
def test_meta_published_vectors(name: str, size: int, signature: str) -> None:
    body = fixture_bytes(name)
    assert len(body) == size, "fixture changed: recompute the vector in SOURCES.md"
    assert sign_meta(body, META_SECRET) == signature
    assert verify_meta(body, signature, [META_SECRET])


@pytest.mark.parametrize(("name", "size", "signature"), META_VECTORS)
def test_meta_refuses_tampered_body_and_wrong_secret(name: str, size: int, signature: str) -> None:
    body = fixture_bytes(name)
    assert not verify_meta(body + b" ", signature, [META_SECRET])
    assert not verify_meta(body.replace(b"1", b"2", 1), signature, [META_SECRET])
    assert not verify_meta(body, signature, ["another_secret"])
    assert not verify_meta(body, signature.upper(), [META_SECRET])


def test_meta_hashes_the_raw_escaped_bytes_not_the_parsed_json() -> None:
    body = fixture_bytes("whatsapp_text_message.json")
    reencoded = json.dumps(json.loads(body)).encode()
    assert reencoded != body
    assert not verify_meta(reencoded, sign_meta(body, META_SECRET), [META_SECRET])


# --- Zendesk ----------------------------------------------------------------------------------


def test_zendesk_current_vector_verifies_with_a_frozen_clock() -> None:
    body = CURRENT["body"].encode()
    assert sign_zendesk(body, CURRENT["timestamp"], CURRENT["signing_secret"]) == CURRENT["signature"]
    assert verify_zendesk(
        body, CURRENT["signature"], CURRENT["timestamp"], [CURRENT["signing_secret"]], now=CURRENT_TIME
    )


def test_zendesk_old_doc_vector_does_not_verify_with_the_current_formula() -> None:
    body, timestamp, secret = OLD_DOC["body"].encode(), OLD_DOC["timestamp"], OLD_DOC["signing_secret"]
    now = datetime.fromisoformat(timestamp)
    assert not verify_zendesk(body, OLD_DOC["signature"], timestamp, [secret], now=now)
    # ... and the vector's own note on what the current formula gives holds.
    assert sign_zendesk(body, timestamp, secret) == OLD_DOC["timestamp_plus_body_would_give"]


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(0), True),
        (timedelta(minutes=5), True),  # tolerance is inclusive
        (-timedelta(minutes=5), True),
        (timedelta(minutes=5, seconds=1), False),  # stale: a replay
        (-timedelta(minutes=5, seconds=1), False),  # from the future
        (timedelta(days=365), False),
        (-timedelta(days=365), False),
    ],
)
def test_zendesk_timestamp_tolerance(offset: timedelta, expected: bool) -> None:
    body = CURRENT["body"].encode()
    result = verify_zendesk(
        body, CURRENT["signature"], CURRENT["timestamp"], [CURRENT["signing_secret"]], now=CURRENT_TIME + offset
    )
    assert result is expected


def test_zendesk_tolerance_is_configurable() -> None:
    later = CURRENT_TIME + timedelta(minutes=30)
    args = (CURRENT["body"].encode(), CURRENT["signature"], CURRENT["timestamp"], [CURRENT["signing_secret"]])
    assert not verify_zendesk(*args, now=later)
    assert verify_zendesk(*args, now=later, tolerance=timedelta(hours=1))


def test_zendesk_default_clock_is_now() -> None:
    body, secret = b'{"ticket_id":"1"}', "s3cret"
    fresh = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert verify_zendesk(body, sign_zendesk(body, fresh, secret), fresh, [secret])
    assert not verify_zendesk(body, CURRENT["signature"], CURRENT["timestamp"], [CURRENT["signing_secret"]])


def test_zendesk_naive_clock_is_taken_as_utc() -> None:
    naive = CURRENT_TIME.replace(tzinfo=None)
    args = (CURRENT["body"].encode(), CURRENT["signature"], CURRENT["timestamp"], [CURRENT["signing_secret"]])
    assert verify_zendesk(*args, now=naive)


@pytest.mark.parametrize(
    "timestamp",
    [
        None,
        "",
        "yesterday",
        "2021-03-25",  # no time, no offset
        "2021-03-25\udc8005:09:27+00:00",  # fromisoformat takes any separator
        "2021-03-25é05:09:27+00:00",
        "2021-03-25T05:09:27",  # no offset: ambiguous
        "2021-13-45T99:99:99Z",
        "1616648967",
        "0001-01-01T00:00:00+23:59",
        "9999-12-31T23:59:59-23:59",
        "\udc80",
        "2021-03-25T05:09:27Z\x00",
        "20210325T050927Z",  # basic format: not what Zendesk sends
        "2021-03-25 05:09:27Z",
        "2021-03-25T05:09:27.1234567Z",
    ],
)
def test_zendesk_garbage_timestamp_is_refused(timestamp: str | None) -> None:
    secret = CURRENT["signing_secret"]
    body = CURRENT["body"].encode()
    signature = sign_zendesk(body, timestamp or "", secret) if (timestamp or "").isascii() else "x"
    assert verify_zendesk(body, signature, timestamp, [secret], now=CURRENT_TIME) is False


def test_zendesk_timestamp_is_signed_as_received() -> None:
    # Same instant, other spelling: the signature covers the header text, not the instant.
    other_spelling = "2021-03-25T05:09:27+00:00"
    args = (CURRENT["body"].encode(), CURRENT["signature"], other_spelling, [CURRENT["signing_secret"]])
    assert not verify_zendesk(*args, now=CURRENT_TIME)


def test_zendesk_secret_is_not_base64_decoded() -> None:
    decoded = "this_secret_is_for_testing_only"
    args = (CURRENT["body"].encode(), CURRENT["signature"], CURRENT["timestamp"], [decoded])
    assert not verify_zendesk(*args, now=CURRENT_TIME)


# --- X ----------------------------------------------------------------------------------------


def test_x_crc_published_vector() -> None:
    assert x_crc_response("challenge_string", "test") == {
        "response_token": "sha256=SYYKwb5URQ4OnNXL3KWDH9ph6EIaP+4PTQFxLk5FIK4="
    }


def test_x_crc_tolerates_odd_tokens() -> None:
    for token in ["", "\udc80", "é" * 1000]:
        assert x_crc_response(token, "test")["response_token"].startswith("sha256=")


def test_x_post_published_vector() -> None:
    assert sign_x(X_BODY, "test") == X_SIGNATURE
    assert verify_x(X_BODY, X_SIGNATURE, ["test"])
    assert not verify_x(X_BODY + b"\n", X_SIGNATURE, ["test"])
    assert not verify_x(X_BODY, X_SIGNATURE, ["other"])


# --- Telegram and shared secrets ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "secret", "expected"),
    [
        ("tok_123-ABC", "tok_123-ABC", True),
        ("tok_123-abc", "tok_123-ABC", False),
        ("tok_123-ABC ", "tok_123-ABC", False),
        ("tok_123", "tok_123-ABC", False),
        ("", "", False),  # an unset secret never opens the door
        (None, "", False),
        ("anything", "", False),
        ("ü", "ü", True),
    ],
)
def test_telegram(header: str | None, secret: str, expected: bool) -> None:
    assert verify_telegram(header, secret) is expected


def test_shared_secret_accepts_any_configured_secret() -> None:
    assert verify_shared_secret("new", ["old", "new"])
    assert verify_shared_secret("old", ["old", "new"])
    assert not verify_shared_secret("neither", ["old", "new"])
    assert not verify_shared_secret("new", [])


def test_a_bare_string_is_one_secret_not_many_characters() -> None:
    assert verify_shared_secret("secret", "secret")
    assert not verify_shared_secret("s", "secret")


# --- generic (own channels) ---------------------------------------------------------------------


def test_generic_round_trip_and_format() -> None:
    signature = sign_generic(GENERIC_BODY, GENERIC_TS, "k")
    assert signature.startswith("v1=") and len(signature) == 3 + 64
    assert verify_generic(GENERIC_BODY, signature, str(GENERIC_TS), ["k"], now=GENERIC_TIME)


def test_generic_signs_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"k", f"{GENERIC_TS}.".encode() + GENERIC_BODY, hashlib.sha256).hexdigest()
    assert sign_generic(GENERIC_BODY, GENERIC_TS, "k") == "v1=" + expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0, True), (300, True), (-300, True), (301, False), (-301, False), (86_400, False)],
)
def test_generic_timestamp_tolerance(seconds: int, expected: bool) -> None:
    signature = sign_generic(GENERIC_BODY, GENERIC_TS, "k")
    now = GENERIC_TIME + timedelta(seconds=seconds)
    assert verify_generic(GENERIC_BODY, signature, str(GENERIC_TS), ["k"], now=now) is expected


@pytest.mark.parametrize(
    "timestamp",
    [None, "", " 1714564800", "+1714564800", "1_714_564_800", "١٧١٤٥٦٤٨٠٠", "1714564800.0", "9" * 5000, "-1"],
)
def test_generic_garbage_timestamp_is_refused(timestamp: str | None) -> None:
    signature = sign_generic(GENERIC_BODY, GENERIC_TS, "k")
    assert verify_generic(GENERIC_BODY, signature, timestamp, ["k"], now=GENERIC_TIME) is False


def test_generic_timestamp_is_covered_by_the_signature() -> None:
    signature = sign_generic(GENERIC_BODY, GENERIC_TS, "k")
    moved = str(GENERIC_TS + 1)
    assert not verify_generic(GENERIC_BODY, signature, moved, ["k"], now=GENERIC_TIME)


def test_generic_sender_may_send_old_and_new_signatures_while_rotating() -> None:
    both = sign_generic(GENERIC_BODY, GENERIC_TS, "old") + ", " + sign_generic(GENERIC_BODY, GENERIC_TS, "new")
    assert verify_generic(GENERIC_BODY, both, str(GENERIC_TS), ["new"], now=GENERIC_TIME)
    assert not verify_generic(GENERIC_BODY, both, str(GENERIC_TS), ["other"], now=GENERIC_TIME)


# --- common to every HMAC verifier ----------------------------------------------------------------

Verify = Callable[[bytes, str | None, list[str]], bool]
Sign = Callable[[bytes, str], str]


def _zendesk_verify(body: bytes, header: str | None, secrets: list[str]) -> bool:
    return verify_zendesk(body, header, CURRENT["timestamp"], secrets, now=CURRENT_TIME)


def _zendesk_sign(body: bytes, secret: str) -> str:
    return sign_zendesk(body, CURRENT["timestamp"], secret)


def _generic_verify(body: bytes, header: str | None, secrets: list[str]) -> bool:
    return verify_generic(body, header, str(GENERIC_TS), secrets, now=GENERIC_TIME)


def _generic_sign(body: bytes, secret: str) -> str:
    return sign_generic(body, GENERIC_TS, secret)


SCHEMES: list[Any] = [
    pytest.param(sign_meta, verify_meta, id="meta"),
    pytest.param(_zendesk_sign, _zendesk_verify, id="zendesk"),
    pytest.param(sign_x, verify_x, id="x"),
    pytest.param(_generic_sign, _generic_verify, id="generic"),
]


@pytest.mark.parametrize(("sign", "verify"), SCHEMES)
def test_rotation_any_configured_secret_verifies(sign: Sign, verify: Verify) -> None:
    body = b'{"rotated": true}'
    assert verify(body, sign(body, "new"), ["old", "new"])
    assert verify(body, sign(body, "old"), ["old", "new"])
    assert not verify(body, sign(body, "retired"), ["old", "new"])


@pytest.mark.parametrize(("sign", "verify"), SCHEMES)
def test_tampered_body_fails(sign: Sign, verify: Verify) -> None:
    body = b'{"amount": 10}'
    assert not verify(b'{"amount": 99}', sign(body, "k"), ["k"])
    assert not verify(b"", sign(body, "k"), ["k"])


@pytest.mark.parametrize(("sign", "verify"), SCHEMES)
def test_empty_or_no_secret_never_verifies(sign: Sign, verify: Verify) -> None:
    body = b"{}"
    assert not verify(body, sign(body, ""), [""])
    assert not verify(body, sign(body, ""), [])


@pytest.mark.parametrize(("sign", "verify"), SCHEMES)
@pytest.mark.parametrize("header", GARBAGE_HEADERS)
def test_garbage_headers_give_false_without_raising(sign: Sign, verify: Verify, header: str | None) -> None:
    assert verify(b"{}", header, ["k"]) is False


@pytest.mark.parametrize("header", GARBAGE_HEADERS)
def test_garbage_shared_secret_headers_give_false(header: str | None) -> None:
    assert verify_shared_secret(header, ["k"]) is False
    assert verify_telegram(header, "k") is False
