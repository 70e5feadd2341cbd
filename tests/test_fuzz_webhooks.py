"""Fuzzing every webhook endpoint: random bytes, and vendor payloads mutated then *correctly signed*, so that
the mutations get past the signature check and reach the parsers. Whatever arrives: never a 5xx.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge import config as config_module
from bridge.store import Store
from tests.conftest import APP_SECRET, FIXTURES, PAGE_ID, VERIFY_TOKEN, ZD_SECRET, raw_config
from webhooks.app import create_app
from webhooks.signatures import sign_meta, sign_zendesk

IG_ID = "17841400000000001"
WA_PHONE_ID = "106540352242922"

json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_value = st.recursive(json_leaf, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                                             kids, max_size=4),
                          max_leaves=12)  # fmt: skip


def mutate(value: Any, data: st.DataObject, depth: int = 0) -> Any:
    """Walk a payload and, here and there, drop a key, change a type, or put a random value."""
    choice = data.draw(st.integers(0, 9), label=f"mutate@{depth}")
    if choice == 0:
        return data.draw(json_value)
    if isinstance(value, dict):
        keys = list(value)
        out = {k: mutate(v, data, depth + 1) for k, v in value.items()}
        if keys and choice == 1:
            out.pop(data.draw(st.sampled_from(keys)))
        return out
    if isinstance(value, list):
        return [mutate(v, data, depth + 1) for v in value] + ([data.draw(json_value)] if choice == 2 else [])
    return value


def fixture(name: str) -> Any:
    raw = (FIXTURES / name).read_text().replace("<PAGE_ID>", PAGE_ID).replace("<PSID>", "2468")
    return json.loads(raw.replace("<IGID>", IG_ID))


META_FIXTURES = [p.relative_to(FIXTURES).as_posix() for p in sorted((FIXTURES / "meta").glob("*.json"))]
ZENDESK_FIXTURES = [
    "zendesk/webhooks/event_ticket_comment_added.RECONSTRUCTED.json",
    "zendesk/webhooks/trigger_webhook_body.TEMPLATE.json",
    "zendesk/webhooks/event_envelope.community_post_created.official.json",
]


def meta_headers(body: bytes) -> dict[str, str]:
    return {"X-Hub-Signature-256": sign_meta(body, APP_SECRET)}


def zendesk_headers(body: bytes) -> dict[str, str]:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"X-Zendesk-Webhook-Signature-Timestamp": stamp, "X-Zendesk-Webhook-Signature": sign_zendesk(body, stamp,
            ZD_SECRET), "X-Zendesk-Webhook-Invocation-Id": "fuzz"}  # fmt: skip


#: endpoint → (signer, vendor payloads to mutate)
ENDPOINTS: dict[str, tuple[Callable[[bytes], dict[str, str]], list[str]]] = {
    "/webhooks/meta": (meta_headers, META_FIXTURES),
    "/webhooks/zendesk": (zendesk_headers, ZENDESK_FIXTURES),
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    raw = raw_config()
    base = raw["channels"][0]
    raw["channels"] += [
        {**base, "name": "acme-instagram", "platform": "instagram", "account_id": IG_ID},
        {**base, "name": "acme-whatsapp", "platform": "whatsapp", "account_id": WA_PHONE_ID},
    ]
    config = config_module.parse(raw, env={})
    path: Path = tmp_path_factory.mktemp("fuzz") / "store.db"
    return create_app(config, store=Store.from_url(f"sqlite:///{path}")).test_client()


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("path", sorted(ENDPOINTS))
@FUZZ
@given(data=st.data())
def test_mutated_signed_vendor_payloads_never_5xx(client: FlaskClient, path: str, data: st.DataObject) -> None:
    sign, names = ENDPOINTS[path]
    payload = mutate(fixture(data.draw(st.sampled_from(names))), data)
    body = json.dumps(payload).encode()
    response = client.post(path, data=body, headers=sign(body), content_type="application/json")
    assert response.status_code < 500, (response.status_code, response.get_data(as_text=True), payload)
    assert response.is_json


@pytest.mark.parametrize("path", sorted(ENDPOINTS))
@FUZZ
@given(body=st.binary(max_size=2048), content_type=st.sampled_from(["application/json", "text/plain", ""]))
def test_random_signed_bytes_never_5xx(client: FlaskClient, path: str, body: bytes, content_type: str) -> None:
    sign, _ = ENDPOINTS[path]
    response = client.post(path, data=body, headers=sign(body), content_type=content_type)
    assert response.status_code < 500 and response.is_json


@FUZZ
@given(query=st.dictionaries(st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge", "x"]),
                             st.text(max_size=40), max_size=4))  # fmt: skip
def test_meta_handshake_never_5xx(client: FlaskClient, query: dict[str, str]) -> None:
    response = client.get("/webhooks/meta", query_string=query)
    assert response.status_code < 500
    if response.status_code == 200:
        assert query.get("hub.verify_token") == VERIFY_TOKEN
