"""The ceiling for bench/ingest.py: a bare Flask app that reads the body and answers 200, nothing else.

Served with the same gunicorn settings as socialdesk (``gunicorn -w 2 -k gthread --threads 8 ...``),
so that the ratio socialdesk / bare is what the bridge's own work costs on the request path.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify, request


def create_app() -> Flask:
    app = Flask("bare")

    @app.post("/webhooks/meta")
    def receive() -> tuple[Response, int]:
        request.get_data(cache=False)
        return jsonify(ok=True), 200

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(ok=True)

    return app
