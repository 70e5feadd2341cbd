"""Shared test fixtures: the vendor fixtures folder and a config builder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bridge import config as config_module

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"

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
