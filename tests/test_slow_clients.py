"""A few clients that dribble a request (1 byte a second, never finishing) do not stall the webhooks:
`socialdesk serve` runs for real (gunicorn) on loopback, and a valid webhook is still answered at once.
With sync or threaded workers each dribbler held a worker or a thread (a webhook waited 19 to 40 s)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sandbox.stack import to_toml
from tests.conftest import APP_SECRET, PAGE_ID, fixture_bytes, raw_config
from webhooks.signatures import sign_meta

SLOW_CLIENTS = 24  # more than 2 workers × 8 threads, the most connections threaded workers served at once
DRIBBLE_SECONDS = 20  # each slow client gives up by itself after this long


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[str]:
    """`socialdesk serve` with two workers, as an operator starts it; stopped with its process group."""
    path = tmp_path / "socialdesk.toml"
    raw = raw_config(database_url=f"sqlite:///{tmp_path}/store.db", queue_url=f"sqlite:///{tmp_path}/q.db")
    path.write_text(to_toml(raw))
    port, log = free_port(), (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "bridge.cli", "serve", "--config", str(path), "--port",
                               str(port), "--workers", "2"], stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def wait_until_up(base: str) -> None:
    for _ in range(150):
        try:
            if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError("socialdesk serve did not start")


def dribble(port: int, stop: threading.Event) -> None:
    """A client that announces a 100 kB webhook and sends it one byte a second."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"POST /webhooks/meta HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
        s.sendall(b"Content-Length: 100000\r\n\r\n")
        for _ in range(DRIBBLE_SECONDS):
            if stop.wait(1):
                return
            try:
                s.sendall(b" ")
            except OSError:
                return


def test_slow_clients_do_not_hold_up_a_valid_webhook(serve: str) -> None:
    port, stop = int(serve.rsplit(":", 1)[1]), threading.Event()
    slow = [threading.Thread(target=dribble, args=(port, stop), daemon=True) for _ in range(SLOW_CLIENTS)]
    for client in slow:
        client.start()
    try:
        time.sleep(2)  # every slow client is connected and inside its body
        body = fixture_bytes("meta/meta_messenger_text.json").replace(b"<PAGE_ID>", PAGE_ID.encode())
        body = body.replace(b"<PSID>", b"1234")
        headers = {"X-Hub-Signature-256": sign_meta(body, APP_SECRET), "Content-Type": "application/json"}
        for _ in range(4):  # several, so that each worker process is asked
            started = time.monotonic()
            response = requests.post(f"{serve}/webhooks/meta", data=body, headers=headers, timeout=10)
            assert response.status_code == 200
            assert time.monotonic() - started < 2
    finally:
        stop.set()
        for client in slow:
            client.join(timeout=5)
