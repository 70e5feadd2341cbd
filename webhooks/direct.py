"""One POST route answered below Flask: the webhook that carries most of the traffic, without Flask's
request machinery.

``/webhooks/meta`` receives Facebook, Messenger, Instagram and WhatsApp: on an outage day it is most of
what the bridge receives, and its request path is only verify, parse, one durable write and a short JSON
answer. Flask's request context, URL matching and ``jsonify`` cost more CPU per webhook than that work
itself (``bench/RESULTS.md``, the ingest benchmark), so :class:`DirectPost` wraps the Flask app's WSGI
callable (as werkzeug's ``ProxyFix`` does): a POST to its path goes to a plain handler, everything else
(the same path's GET handshake included) to Flask. The answers are Flask's: the same JSON bodies, the
same 413 for a body over the limit, a JSON 500 without a traceback for a bug.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES, parse_options_header
from werkzeug.wsgi import get_input_stream

from webhooks.common import error_body, error_headers

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)

#: ``handle(body, mimetype, environ)`` returns the 200 answer's JSON or raises an ``HTTPException``.
Handler = Callable[[bytes, str, "WSGIEnvironment"], dict[str, Any]]


class DirectPost:
    """WSGI middleware: POST ``path`` is answered by ``handle``, every other request by ``app``."""

    def __init__(self, app: WSGIApplication, path: str, handle: Handler, *, max_body: int) -> None:
        self.app, self.path, self.handle, self.max_body = app, path, handle, max_body

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != self.path:
            return self.app(environ, start_response)
        try:
            body = get_input_stream(environ, max_content_length=self.max_body).read()
            mimetype = parse_options_header(environ.get("CONTENT_TYPE"))[0].lower()  # as Flask does
            status, answer, extra = 200, self.handle(body, mimetype, environ), []
        except HTTPException as e:
            status, answer, extra = e.code or 500, error_body(e), error_headers(e)
        except Exception:  # a bug still answers in JSON, without a traceback; the log keeps the details
            log.exception("unexpected error while handling a webhook")
            status, answer, extra = 500, error_body(InternalServerError()), []
        return respond(start_response, status, answer, extra)


def respond(
    start_response: StartResponse, status: int, answer: dict[str, Any], extra: list[tuple[str, str]]
) -> list[bytes]:
    """A short JSON answer written as Flask's ``jsonify`` would, with ``extra`` headers (``Retry-After``...)."""
    data = json.dumps(answer, separators=(",", ":")).encode() + b"\n"
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *extra]
    start_response(f"{status} {HTTP_STATUS_CODES.get(status, '')}".rstrip(), headers)
    return [data]
