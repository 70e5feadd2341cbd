"""``GET /dashboard``: the service figures and the bridge's state in a browser, and the JSON the page reads.

Off unless ``[dashboard]`` names a credential (a ``token``, and/or a ``user`` and ``password``): then every
path below ``/dashboard`` answers 404 with a line saying how to turn it on. On, a request without the
credential gets a 401 with ``WWW-Authenticate`` (basic first, so that a browser asks for the user and
password). The page is static (HTML, a small script drawing inline SVG, CSS: nothing from another host, the
bridge often runs without internet) and reads ``/dashboard/api/figures`` and ``/dashboard/api/status`` in
parallel (:mod:`bridge.dashboard`).
"""

from __future__ import annotations

import time
from importlib import resources
from typing import Any

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import BadRequest, NotFound

from bridge import dashboard
from webhooks.access import authorize
from webhooks.common import state, storage

bp = Blueprint("dashboard", __name__)
OFF = "the dashboard is off: set [dashboard] token, or user and password, in socialdesk.toml"
#: The page's own files, nothing else: a name is looked up here, never joined to a path.
FILES = {"dashboard.js": "text/javascript", "dashboard.css": "text/css", "favicon.svg": "image/svg+xml"}
#: Only this host's files, no inline script or style, no framing: message text can never run as code.
POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " \
         "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"  # fmt: skip


@bp.before_request
def _authorize() -> None:
    authorize(state().config.dashboard.credential, off=NotFound(OFF))


@bp.get("/dashboard")
def page() -> Response:
    return _file("dashboard.html", "text/html")


@bp.get("/dashboard/static/<name>")
def static_file(name: str) -> Response:
    if name not in FILES:
        raise NotFound("no such file")
    return _file(name, FILES[name])


def _file(name: str, mimetype: str) -> Response:
    body = resources.files("webhooks").joinpath("static", name).read_bytes()
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/dashboard/api/figures")
def api_figures() -> Response:
    s, now = state(), time.time()
    try:
        query = dashboard.parse_query(request.args, s.config, now=now)
    except dashboard.BadParameter as e:
        raise BadRequest(str(e)) from None
    with storage("read the figures"):
        body = dashboard.view(s.store, s.config, query, now=now)
    return _fresh(body)


@bp.get("/dashboard/api/status")
def api_status() -> Response:
    with storage("read the status"):
        return _fresh(dashboard.operations(state().store, state().config))


def _fresh(body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response
