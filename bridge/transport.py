"""What a failed HTTP call tried and why it failed, in words: ``127.0.0.1:9`` and ``connection refused``.

``requests`` wraps the cause three deep (ConnectionError → MaxRetryError → NewConnectionError → the
``OSError``) and prints every layer with the pool's repr; an operator needs the host and the last cause.
"""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

import requests


def target(e: requests.RequestException) -> str:
    """``host:port`` of the request that failed (never its path or query: they may carry a token)."""
    url = e.request.url if e.request is not None else None
    if not url:
        return "the server"
    parts = urlsplit(str(url))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


def cause(e: BaseException) -> str:
    """The innermost reason, lower case, one line: ``connection refused``, ``timed out``..."""
    root = _innermost(e)
    if isinstance(root, TimeoutError | requests.Timeout):
        return "timed out"
    if isinstance(root, ssl.SSLError):
        return f"TLS failed: {root.reason or root}"
    if isinstance(root, OSError) and root.strerror:
        return root.strerror[0].lower() + root.strerror[1:]
    text = str(root).strip().splitlines()
    return text[0][:200] if text else type(root).__name__


def _innermost(e: BaseException) -> BaseException:
    seen: set[int] = set()
    while id(e) not in seen:
        seen.add(id(e))
        inner = _inner(e)
        if inner is None:
            break
        e = inner
    return e


def _inner(e: BaseException) -> BaseException | None:
    reason = getattr(e, "reason", None)  # urllib3's MaxRetryError and ProtocolError keep the cause here
    if isinstance(reason, BaseException):
        return reason
    if e.__cause__ is not None:
        return e.__cause__
    first = e.args[0] if e.args else None
    return first if isinstance(first, BaseException) else None
