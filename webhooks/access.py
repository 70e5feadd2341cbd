"""The credential check of the bridge's own pages (``/dashboard``, ``/metrics``): :mod:`bridge.access` decides,
this answers in HTTP."""

from __future__ import annotations

from flask import request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from bridge.access import Credential

WANTED = {"basic": "a user and password", "bearer": "a bearer token"}


def authorize(credential: Credential, *, off: Exception | None) -> None:
    """The request carries ``credential``, or a 401 offering its schemes; none configured: ``off`` raised
    (None: open, as ``/metrics`` is without a token)."""
    if not credential.configured:
        if off is not None:
            raise off
        return
    if not credential.accepts(request.headers.get("Authorization", "")):
        challenges = [WWWAuthenticate(s, {"realm": "socialdesk"} if s == "basic" else None)
                      for s in credential.schemes()]  # fmt: skip
        wanted = " or ".join(WANTED[s] for s in credential.schemes())
        raise Unauthorized(f"{wanted} is required", www_authenticate=challenges)
