"""``GET /metrics``: the bridge's series in Prometheus's text format (:mod:`bridge.metrics`), and the WSGI
middleware that counts and times every webhook request, those answered below Flask included.

With ``[metrics] token`` set, a scrape must carry ``Authorization: Bearer <token>``, with ``user`` and
``password`` basic auth (either, when both are set; compared in constant time, :mod:`bridge.access`); otherwise
it gets a 401. Without it the endpoint is open, as exporters usually are: bind the bridge
to a private network or set the token.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import Blueprint, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bridge import metrics
from webhooks.access import authorize
from webhooks.common import state, storage

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape() -> Response:
    _authorize()
    with storage("report the metrics"):
        body = generate_latest(metrics.registry(state().store))
    return Response(body, content_type=CONTENT_TYPE_LATEST)


def _authorize() -> None:
    authorize(state().config.metrics.credential, off=None)


class CountWebhooks:
    """WSGI middleware: every answered request to ``/webhooks/<route>`` counted by route and outcome, and timed."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started, path = time.perf_counter(), str(environ.get("PATH_INFO", ""))
        if not path.startswith("/webhooks/"):
            return self.app(environ, start_response)

        def counting(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> object:
            metrics.webhook_answered(path, int(status.split(" ", 1)[0]), time.perf_counter() - started)
            return start_response(status, headers, exc_info)  # type: ignore[arg-type]

        return self.app(environ, counting)  # type: ignore[arg-type]
