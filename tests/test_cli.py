"""The commands as an operator runs them: real processes, real sockets."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from bridge.store import Store
from sandbox.stack import to_toml
from tests.conftest import APP_SECRET, PAGE_ID, VERIFY_TOKEN, ZD_TOKEN, fixture_bytes, raw_config
from tests.support import socialdesk
from webhooks.signatures import sign_meta


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_runs_the_whole_loop_and_says_so() -> None:
    result = socialdesk("demo")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All good: 11/11 checks" in result.stdout
    assert "✗" not in result.stdout


def test_bad_config_stops_at_start_naming_the_key_without_the_secret(tmp_path: Path) -> None:
    raw = raw_config()
    raw["channels"][0].pop("app_secret")
    path = tmp_path / "socialdesk.toml"
    path.write_text(to_toml(raw))
    for command in ("worker", "serve"):
        result = socialdesk(command, "--config", str(path))
        assert result.returncode != 0
        assert "channels[acme-facebook].app_secret: required" in result.stderr
        assert ZD_TOKEN not in result.stderr + result.stdout
        assert "Traceback" not in result.stderr


def test_missing_config_file_is_explained(tmp_path: Path) -> None:
    result = socialdesk("worker", env={"SOCIALDESK_CONFIG": str(tmp_path / "missing.toml")})
    assert result.returncode != 0 and "missing.toml not found" in result.stderr


def test_serve_runs_gunicorn_and_stores_a_signed_webhook(tmp_path: Path) -> None:
    """Also: its access log leaves query strings out, since Meta's handshake carries the verify token."""
    database = f"sqlite:///{tmp_path}/store.db"
    path = tmp_path / "socialdesk.toml"
    path.write_text(to_toml(raw_config(database_url=database, queue_url=f"sqlite:///{tmp_path}/q.db")))
    port, log = free_port(), tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "bridge.cli", "serve", "--config", str(path), "--port",
                                   str(port), "--workers", "2"], stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        body = fixture_bytes("meta/meta_messenger_text.json").replace(b"<PAGE_ID>", PAGE_ID.encode())
        body = body.replace(b"<PSID>", b"1234")
        headers = {"X-Hub-Signature-256": sign_meta(body, APP_SECRET), "Content-Type": "application/json"}
        response = requests.post(f"{base}/webhooks/meta", data=body, headers=headers, timeout=10)
        assert response.status_code == 200 and response.json()["stored"] == 1
        forged = requests.post(f"{base}/webhooks/meta", data=body, headers={**headers, "X-Hub-Signature-256": "x"},
                               timeout=10)  # fmt: skip
        assert forged.status_code == 401 and forged.json() == {"error": "invalid signature"}
        handshake = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
        assert requests.get(f"{base}/webhooks/meta", params=handshake, timeout=10).text == "1158201444"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    [row] = Store.from_url(database).rows("inbox")
    assert json.loads(row["payload"])["text"] == "hello, world!"
    logged = log.read_text()
    assert "GET /webhooks/meta HTTP/1.1" in logged and VERIFY_TOKEN not in logged
