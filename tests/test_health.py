"""``/healthz`` (liveness: the process answers) and ``/readyz`` (readiness: it can store a webhook now), over
a real socket, with a store that answers and one that is really down."""

from __future__ import annotations

from pathlib import Path

import requests

from bridge import config as config_module
from tests.conftest import raw_config
from tests.support import closed_port, serve_bridge
from webhooks.common import STORAGE_RETRY_AFTER


def test_ready_when_the_store_answers(tmp_path: Path) -> None:
    raw = raw_config(database_url=f"sqlite:///{tmp_path}/store.db", queue_url=f"sqlite:///{tmp_path}/queue.db")
    with serve_bridge(config_module.parse(raw, env={})) as bridge:
        ready = requests.get(f"{bridge['url']}/readyz", timeout=10)
        assert ready.status_code == 200 and ready.json() == {"ready": True}
        assert requests.get(f"{bridge['url']}/healthz", timeout=10).json() == {"ok": True}


def test_not_ready_while_the_database_is_down_but_still_alive(tmp_path: Path) -> None:
    """A PostgreSQL that refuses connections: /readyz answers 503 with Retry-After and a short reason (no host,
    no password), so a load balancer sends the platforms' webhooks elsewhere; /healthz stays 200, so nothing
    restarts a process that would not fix the database. Before: no /readyz (404)."""
    url = f"postgresql+psycopg://bridge:pg-s3cret@127.0.0.1:{closed_port()}/socialdesk"
    raw = raw_config(database_url=url, queue_url=f"sqlite:///{tmp_path}/queue.db")
    with serve_bridge(config_module.parse(raw, env={})) as bridge:
        ready = requests.get(f"{bridge['url']}/readyz", timeout=30)
        assert ready.status_code == 503, ready.text
        assert ready.json() == {"error": "storage unavailable, retry later"}
        assert ready.headers["Retry-After"] == str(STORAGE_RETRY_AFTER)
        assert requests.get(f"{bridge['url']}/healthz", timeout=10).status_code == 200
