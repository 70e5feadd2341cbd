"""Shared test fixtures: the vendor fixtures folder and a config builder."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from bridge import config as config_module

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"  # vendor payloads copied into the repo: see fixtures/SOURCES.md

PAGE_ID = "1234567890321"
PAGE_TOKEN = "page-token-not-a-real-one"
APP_SECRET = "test_app_secret"
VERIFY_TOKEN = "verify-me"
ZD_EMAIL = "bridge@acme.test"
ZD_TOKEN = "zd-token-not-a-real-one"
ZD_SECRET = "zd-webhook-secret"


def fixture_bytes(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes()


def fixture_json(relative: str) -> Any:
    return json.loads(fixture_bytes(relative))


def raw_config(
    *,
    zendesk_url: str = "http://127.0.0.1:9",
    graph_url: str = "http://127.0.0.1:9/v21.0",
    database_url: str = "sqlite://",
    queue_url: str = "sqlite:///queue.db",
) -> dict[str, Any]:
    return {
        "bridge": {"database_url": database_url, "queue_url": queue_url, "helpdesk": "zendesk"},
        "zendesk": {"url": zendesk_url, "email": ZD_EMAIL, "api_token": ZD_TOKEN, "webhook_secret": ZD_SECRET},
        "channels": [
            {
                "name": "acme-facebook",
                "platform": "facebook",
                "account_id": PAGE_ID,
                "access_token": PAGE_TOKEN,
                "app_secret": APP_SECRET,
                "verify_token": VERIFY_TOKEN,
                "api_url": graph_url,
            }
        ],
    }


@pytest.fixture
def config(tmp_path: Path) -> config_module.Config:
    raw = raw_config(database_url=f"sqlite:///{tmp_path}/store.db", queue_url=f"sqlite:///{tmp_path}/queue.db")
    return config_module.parse(raw, env={})


# -- real PostgreSQL and Redis for scale mode ------------------------------------------------------------------

PG_ADMIN_URL = os.environ.get("SOCIALDESK_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SOCIALDESK_TEST_REDIS", "redis://127.0.0.1:6379/15")


def unavailable(
    what: str,
    error: Exception,
    *,
    needed_for: str = "the scale-mode tests",
    how: str = "start it (see scripts/services.sh)",
) -> None:
    message = f"{what} is needed for {needed_for} ({error}); {how}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)  # CI must run them, never skip them
    pytest.skip(message)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema in the `test` database, dropped afterwards."""
    schema = f"sd_{uuid.uuid4().hex[:10]}"
    try:
        admin = sa.create_engine(PG_ADMIN_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except Exception as e:
        unavailable("PostgreSQL on 127.0.0.1:5432 (database test)", e)
    yield f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """Redis database 15, emptied before and after."""
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
        client.flushdb()
    except Exception as e:
        unavailable("Redis on 127.0.0.1:6379", e)
    yield REDIS_URL
    client.flushdb()
    client.close()
