"""socialdesk's own webhook signature, for channels we define ourselves: made by the own-channel connector
(our replies to the brand's callback) and checked by the generic webhook (the brand's messages to us). It
lives in the core so that neither side imports the other (``connectors/`` never import ``webhooks/``)."""

from __future__ import annotations

import hashlib
import hmac


def sign_generic(body: bytes, timestamp: int, secret: str) -> str:
    """Return the signature header of socialdesk's own scheme.

    ``v1=`` + hex HMAC-SHA256(secret, f"{timestamp}." + body), ``timestamp`` in Unix seconds.
    """
    message = f"{timestamp}.".encode("ascii") + body
    return "v1=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
