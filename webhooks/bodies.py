"""A body over the limit is a 413 whatever its transfer encoding, on every route.

werkzeug enforces ``MAX_CONTENT_LENGTH`` on a chunked body (no ``Content-Length``) by reading up to the
limit and stopping there: the body is cut short, silently, and a signed one then fails its signature
check, a 401 "invalid signature" that sends an operator looking for a wrong secret. :class:`ChunkedBody`
reads a chunked body first, one byte past the limit: over it, a 413 as Flask gives for a too-large
``Content-Length``; within it, the body is handed on with its length, so that the routes below (Flask's
and :class:`webhooks.direct.DirectPost`) see one kind of request only.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wsgi import get_input_stream

from webhooks.common import error_body
from webhooks.direct import respond

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class ChunkedBody:
    """WSGI middleware: a chunked request body read whole (413 over ``max_body``), then passed on sized."""

    def __init__(self, app: WSGIApplication, *, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not _chunked(environ):
            return self.app(environ, start_response)
        body = get_input_stream(environ, max_content_length=self.max_body + 1).read()
        if len(body) > self.max_body:
            return respond(start_response, 413, error_body(RequestEntityTooLarge()), [])
        environ.update({"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))})
        return self.app(environ, start_response)


def _chunked(environ: WSGIEnvironment) -> bool:
    """A body whose end only the server knows (gunicorn and werkzeug say so with ``wsgi.input_terminated``)."""
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    return chunked and not environ.get("CONTENT_LENGTH") and bool(environ.get("wsgi.input_terminated"))
