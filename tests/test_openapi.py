"""The bridge's own OpenAPI description: complete, and every endpoint fuzzed from it (schemathesis)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis import Case

from bridge import config as config_module
from bridge.store import Store
from tests.conftest import raw_config
from webhooks.app import create_app


def make_app() -> Flask:
    raw = raw_config()
    raw["channels"] += [
        {"name": "acme-x", "platform": "x", "account_id": "9999", "consumer_key": "ck", "consumer_secret": "cs",
         "access_token": "9999-at", "access_token_secret": "ats", "api_url": "http://127.0.0.1:9"},
        {"name": "acme-telegram", "platform": "telegram", "bot_token": "123:abc", "secret_token": "tg-secret",
         "api_url": "http://127.0.0.1:9"},
        {"name": "acme-web", "platform": "generic", "secret": "web-secret", "callback_url": "http://127.0.0.1:9/cb"},
    ]  # fmt: skip
    path = Path(tempfile.mkdtemp(prefix="openapi-")) / "store.db"
    return create_app(config_module.parse(raw, env={}), store=Store.from_url(f"sqlite:///{path}"))


APP = make_app()
schema = schemathesis.openapi.from_wsgi("/openapi.json", APP)


def test_every_route_is_described_and_every_description_is_a_route() -> None:
    document = APP.test_client().get("/openapi.json").get_json()
    described = {path.replace("{name}", "<name>") for path in document["paths"]}
    routes = {rule.rule for rule in APP.url_map.iter_rules() if rule.endpoint not in ("static", "openapi.openapi")}
    assert described == routes


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_5xx(case: Case[Any]) -> None:
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
    text = case.path in ("/metrics", "/webhooks/meta")  # a plain-text 200: the series, the handshake
    if case.method in ("GET", "POST") and not (text and response.status_code == 200):
        assert response.headers.get("content-type", [""])[0].startswith("application/json"), (case.method, case.path)
