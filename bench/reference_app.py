"""The issue's reference design for the request path, for evidence only: how far one durable write per
webhook can go on this machine, without socialdesk.

Each request checks the ``X-Hub-Signature-256`` HMAC, parses the JSON, and inserts one row into the
same ``inbox`` table (same columns and indexes) with raw ``sqlite3``, in its own transaction with its
own commit: WAL, ``synchronous=FULL`` (socialdesk's durability) or, as a variant, ``NORMAL`` (no fsync
per commit). No SQLAlchemy, no group commit, no queue. The issue measured this design at 62 % of the
bare app; ``bench.ingest --targets bare,reference,reference-normal --threads 0`` measures it here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import threading
import time

from flask import Flask, Response, jsonify, request

from bridge import config as config_module

INSERT = (
    "INSERT INTO inbox (platform, account_id, message_id, channel, thread_key, kind, payload, platform_ts,"
    " received_at) VALUES ('facebook', ?, ?, 'acme-facebook', ?, 'message', ?, ?, ?)"
    " ON CONFLICT DO NOTHING"
)


def create_app(synchronous: str = "FULL") -> Flask:
    config = config_module.load()
    path = config.database_url.removeprefix("sqlite:///")
    secret = str(config.channels[0].secret("app_secret")).encode()
    app = Flask("reference")
    connection: sqlite3.Connection | None = None  # one per process, opened after gunicorn's fork
    turn = threading.Lock()  # under threaded workers, requests take turns on it

    @app.post("/webhooks/meta")
    def receive() -> tuple[Response, int]:
        nonlocal connection
        body = request.get_data(cache=False)
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-Hub-Signature-256", ""), expected):
            return jsonify(error="bad signature"), 401
        entry = json.loads(body)["entry"][0]
        messaging = entry["messaging"][0]
        row = (entry["id"], messaging["message"]["mid"], f"facebook:{entry['id']}:{messaging['sender']['id']}",
               body.decode(), messaging["timestamp"] / 1000, time.time())  # fmt: skip
        with turn:
            if connection is None:
                connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute(f"PRAGMA synchronous={'NORMAL' if synchronous == 'NORMAL' else 'FULL'}")
            connection.execute(INSERT, row)  # autocommit: one transaction and one commit per webhook
        return jsonify(ok=True), 200

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(ok=True)

    return app
