"""Who may read the bridge's own pages: a configured token (``Authorization: Bearer``) and/or a user and
password (HTTP basic auth), compared in constant time. Used by ``/dashboard`` and ``/metrics``.

Never in a URL or a cookie: a token in a query string ends up in access logs and browser history, and a
cookie would need CSRF protection. A browser uses basic auth (it asks once, then sends it with every request
of the page, the page's own ``fetch`` included); a script or a proxy in front of the bridge sends the token.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bridge.config import Secret

DEFAULT_TIMEZONE = "UTC"


@dataclass(frozen=True)
class Credential:
    """What a request must carry. Neither set: nothing is accepted (the caller decides what "off" means)."""

    token: Secret | None = None
    user: str | None = None
    password: Secret | None = None

    @property
    def configured(self) -> bool:
        return self.token is not None or (self.user is not None and self.password is not None)

    def accepts(self, authorization: str) -> bool:
        """Whether an ``Authorization`` header value carries the token or the user and password."""
        scheme, _, given = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and self.token is not None:
            return _same(given.strip(), self.token.reveal())
        if scheme.lower() == "basic" and self.user is not None and self.password is not None:
            user, password = _basic(given.strip())
            # both compared, always: which one was wrong must not show in the time taken
            return _same(user, self.user) & _same(password, self.password.reveal())
        return False

    def schemes(self) -> list[str]:
        """The ``WWW-Authenticate`` schemes to offer, basic first (the one a browser can answer)."""
        return [s for s, on in (("basic", self.user is not None), ("bearer", self.token is not None)) if on]


@dataclass(frozen=True)
class DashboardSettings:
    """``[dashboard]``: the credential ``GET /dashboard`` asks for (none: the dashboard is off), whether it
    shows customers' message text (``show_text``, default no) and the time zone it opens in."""

    credential: Credential = Credential()
    show_text: bool = False
    timezone: str = DEFAULT_TIMEZONE


def _same(given: str, expected: str) -> bool:
    """Constant time in the value compared (hmac.compare_digest); bytes, so that any text can be compared."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


def _basic(encoded: str) -> tuple[str, str]:
    """``user:password`` of a basic-auth header value; a broken one is a user and password that match nothing."""
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", "\x00"
    return user, password
