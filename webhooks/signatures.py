"""Pure webhook signature verifiers and the matching signers. No Flask, no I/O.

Every verifier takes the raw body exactly as received (verify before you parse), the header values
(``None`` when a header is missing) and the configured secrets. Several secrets are accepted so a
secret can be rotated without downtime. Verifiers never raise on what a client sent: a missing,
empty or malformed header, a garbage timestamp or a non-ASCII signature all give ``False``. Every
comparison is constant time, and empty secrets are ignored so that an unset ``${VAR}`` in the
configuration can never turn into "anyone may post".

==========  =========================================  =============================================
Source      Headers                                    Signature
==========  =========================================  =============================================
Meta        X-Hub-Signature-256                        ``sha256=`` + hex HMAC-SHA256(app secret, body)
Zendesk     X-Zendesk-Webhook-Signature(-Timestamp)    base64 HMAC-SHA256(secret, timestamp + body)
X           x-twitter-webhooks-signature               ``sha256=`` + base64 HMAC-SHA256(secret, body)
Telegram    X-Telegram-Bot-Api-Secret-Token            the secret token itself
Freshdesk   a configured header                        the shared secret itself
generic     X-Socialdesk-Signature / -Timestamp        ``v1=`` + hex HMAC-SHA256(secret, "ts." + body)
==========  =========================================  =============================================
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from bridge.signing import sign_generic as sign_generic  # the verifier below checks it; re-exported

DEFAULT_TOLERANCE = timedelta(minutes=5)
# A Unix time in seconds has 10 digits until the year 2286; refuse absurd lengths before int().
_MAX_UNIX_DIGITS = 12
_ISO8601 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})", re.ASCII)


def sign_meta(body: bytes, secret: str) -> str:
    """Return the ``X-Hub-Signature-256`` value Meta sends for ``body``."""
    return "sha256=" + _hmac(secret, body).hex()


def verify_meta(body: bytes, header: str | None, secrets: Sequence[str]) -> bool:
    """Check Meta's ``X-Hub-Signature-256`` header against any of the app secrets."""
    if not header:
        return False
    return _matches_any(header, [sign_meta(body, secret) for secret in _usable(secrets)])


def sign_zendesk(body: bytes, timestamp: str, secret: str) -> str:
    """Return the ``X-Zendesk-Webhook-Signature`` value for ``body`` sent at ``timestamp``.

    The current documented formula: base64(HMAC-SHA256(key=secret as UTF-8, msg=timestamp + body)).
    The secret is used as a string, not base64-decoded, although it looks like base64.
    """
    return _b64(_hmac(secret, timestamp.encode("utf-8") + body))


def verify_zendesk(
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    secrets: Sequence[str],
    *,
    now: datetime | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> bool:
    """Check a Zendesk webhook signature and refuse a timestamp more than ``tolerance`` off.

    ``timestamp`` is the ``X-Zendesk-Webhook-Signature-Timestamp`` header, ISO 8601 such as
    ``2021-03-25T05:09:27Z``; it is signed as received. ``now`` defaults to the current UTC time.
    """
    if not signature or not timestamp:
        return False
    sent = _parse_iso8601(timestamp)
    if sent is None or not _within(sent, _utc(now), tolerance):
        return False
    expected = [sign_zendesk(body, timestamp, secret) for secret in _usable(secrets)]
    return _matches_any(signature, expected)


def sign_x(body: bytes, secret: str) -> str:
    """Return the ``x-twitter-webhooks-signature`` value X sends for ``body``."""
    return "sha256=" + _b64(_hmac(secret, body))


def verify_x(body: bytes, header: str | None, secrets: Sequence[str]) -> bool:
    """Check X's ``x-twitter-webhooks-signature`` header against any of the consumer secrets."""
    if not header:
        return False
    return _matches_any(header, [sign_x(body, secret) for secret in _usable(secrets)])


def x_crc_response(token: str, consumer_secret: str) -> dict[str, str]:
    """Answer X's challenge-response check (``GET ?crc_token=...``) as a JSON-ready dict."""
    signed = sign_x(token.encode("utf-8", "surrogatepass"), consumer_secret)
    return {"response_token": signed}


def verify_telegram(header: str | None, secret_token: str) -> bool:
    """Check Telegram's ``X-Telegram-Bot-Api-Secret-Token`` header against the configured token."""
    return verify_shared_secret(header, [secret_token])


def verify_shared_secret(header: str | None, secrets: Sequence[str]) -> bool:
    """Check a header that carries a shared secret verbatim (Freshdesk, Telegram)."""
    if not header:
        return False
    return _matches_any(header, _usable(secrets))


def verify_generic(
    body: bytes,
    signature_header: str | None,
    timestamp_header: str | None,
    secrets: Sequence[str],
    *,
    now: datetime | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> bool:
    """Check socialdesk's own signature scheme and refuse a timestamp more than ``tolerance`` off.

    The signature header may carry several comma-separated signatures, so that a sender can sign
    with its old and new secret while it rotates them; one match is enough.
    """
    if not signature_header or not timestamp_header:
        return False
    sent = _parse_unix(timestamp_header)
    if sent is None or abs(int(_utc(now).timestamp()) - sent) > tolerance.total_seconds():
        return False
    expected = [sign_generic(body, sent, secret) for secret in _usable(secrets)]
    return any(_matches_any(given.strip(), expected) for given in signature_header.split(","))


def _hmac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _usable(secrets: Sequence[str]) -> list[str]:
    # A bare str is a Sequence[str] too: treat it as one secret, not as one secret per character.
    candidates: Iterable[str] = (secrets,) if isinstance(secrets, str) else secrets
    return [secret for secret in candidates if secret]


def _matches_any(given: str, expected: Iterable[str]) -> bool:
    # Compare bytes: hmac.compare_digest raises TypeError on non-ASCII str, which a client controls.
    given_bytes = given.encode("utf-8", "backslashreplace")
    results = [hmac.compare_digest(given_bytes, e.encode("utf-8", "backslashreplace")) for e in expected]
    return any(results)


def _parse_iso8601(value: str) -> datetime | None:
    # fromisoformat alone is too lenient: any separator (even a lone surrogate that would then
    # fail to encode), trailing NULs, no offset. Zendesk sends "2021-03-25T05:09:27Z".
    if not _ISO8601.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:  # well formed but impossible, such as month 13
        return None


def _parse_unix(value: str) -> int | None:
    # Stricter than int(): no sign, no spaces, no underscores, no non-ASCII digits.
    if not (value.isascii() and value.isdigit() and len(value) <= _MAX_UNIX_DIGITS):
        return None
    return int(value)


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _within(sent: datetime, now: datetime, tolerance: timedelta) -> bool:
    return abs(now - sent) <= tolerance
