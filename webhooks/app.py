"""The Flask app factory: ``gunicorn 'webhooks.app:create_app()'``.

One blueprint per source; state in ``app.extensions``; one JSON error handler, so that bad input
always gets a short JSON 4xx and nothing ever answers with a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException, InternalServerError

from bridge import config as config_module
from bridge import logs
from bridge.config import Config
from bridge.store import Store
from webhooks import dashboard, freshdesk, generic, meta, metrics, openapi, telegram, x, zendesk
from webhooks.bodies import ChunkedBody
from webhooks.common import WebState, error_body, error_headers, state, storage
from webhooks.direct import DirectPost

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # 1 MiB: the largest Meta batch is far below it


def create_app(config: Config | None = None, *, store: Store | None = None) -> Flask:
    """Build the app from a loaded config (or ``$SOCIALDESK_CONFIG`` / ``./socialdesk.toml``)."""
    config = config or config_module.load()
    logs.use_pseudonyms(config)  # also when gunicorn runs this factory itself, without `socialdesk serve`
    app = Flask("socialdesk")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    store = store or Store.from_url(config.database_url)
    app.extensions["socialdesk"] = WebState(config=config, store=store)
    for blueprint in (meta.bp, zendesk.bp, freshdesk.bp, x.bp, telegram.bp, generic.bp, openapi.bp, metrics.bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(dashboard.bp)  # off (404) unless [dashboard] names a credential
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    app.add_url_rule("/healthz", "healthz", lambda: jsonify(ok=True))  # liveness: the process answers, no I/O
    app.add_url_rule("/readyz", "readyz", _ready)
    # POST /webhooks/meta, most of the traffic, is answered below Flask (webhooks.direct)
    receiver = meta.Receiver(config, store)
    app.wsgi_app = DirectPost(app.wsgi_app, meta.PATH, receiver.handle, max_body=MAX_BODY)  # type: ignore[method-assign]
    app.wsgi_app = ChunkedBody(app.wsgi_app, max_body=MAX_BODY)  # type: ignore[method-assign]
    app.wsgi_app = metrics.CountWebhooks(app.wsgi_app)  # type: ignore[method-assign]
    return app


def _ready() -> Response:
    """Readiness, for a load balancer or a Kubernetes probe: can this process store a webhook now? Only the
    store is asked (one trivial query): the request path uses nothing else, not even the queue. Down, it
    answers as a webhook would: 503 with ``Retry-After`` and a short JSON reason."""
    with storage("answer the readiness probe"):
        state().store.ping()
    return jsonify(ready=True)


def _http_error(e: HTTPException) -> tuple[Response, int, Headers]:
    # Headers, not a list: Flask keeps only the last of a repeated name from a list (two WWW-Authenticate challenges)
    return jsonify(error_body(e)), e.code or 500, Headers(error_headers(e))


def _unexpected(e: Exception) -> Any:
    """A bug must still answer in JSON, without a traceback; the log keeps the details."""
    log.exception("unexpected error while handling a webhook")
    return _http_error(InternalServerError())
