"""GET /metrics: Prometheus's text format, scraped over real sockets after real traffic through the simulators,
parsed with prometheus_client's own parser; labels never carry an id; the token; gunicorn's processes added up;
the worker's own endpoint."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from bridge import config as config_module
from bridge import metrics
from bridge.errors import ConfigError
from bridge.store import Store
from sandbox.stack import PAGE_ID, PLATFORMS, Stack, channel_name, to_toml
from tests.conftest import VERIFY_TOKEN, raw_config
from tests.support import one_ticket, reply_and_notify, settle, start, stop, wait_until_up
from webhooks.app import create_app

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
# step: the bot's five kinds; route: /webhooks/<route>
LABELS = {"platform", "route", "outcome", "channel", "status", "connector", "queue", "step", "le"}
CHANNELS = {channel_name(p) for p in PLATFORMS}
SECRET = "m-s3cret-for-scrapes"  # [metrics] asks for 16 characters or more


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(url: str, **headers: str) -> Samples:
    response = requests.get(f"{url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with Stack(tmp_path) as running:
        yield running


def test_a_conversation_shows_in_the_series_and_no_label_carries_an_id(stack: Stack) -> None:
    before = scrape(stack.url)
    post_id = stack.meta.add_post(PAGE_ID, "New mugs!")
    comment = stack.meta.customer_comment(PAGE_ID, post_id=post_id, text="Dishwasher safe?", user_id="31337",
                                          user_name="Jane Roe")  # fmt: skip
    ticket = one_ticket(stack)
    reply_and_notify(stack, ticket["id"], "Yes!")
    stack.wait_for(lambda: stack.meta.comment_replies)
    settle(stack)
    after = scrape(stack.url)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("socialdesk_webhooks_received_total", route="meta", outcome="accepted") >= 1
    assert grew("socialdesk_webhooks_received_total", route="zendesk", outcome="accepted") >= 1
    assert grew("socialdesk_ingest_lag_seconds_count", platform="facebook") >= 1
    assert grew("socialdesk_webhook_seconds_count", route="meta") >= 1
    assert grew("socialdesk_events_done_total", platform="facebook") == 1
    assert grew("socialdesk_replies_delivered_total", channel="acme-facebook") == 1
    assert grew("socialdesk_first_response_seconds_count", channel="acme-facebook") == 1
    assert grew("socialdesk_first_response_seconds_bucket", channel="acme-facebook", le="900.0") == 1
    assert grew("socialdesk_connector_calls_total", connector="zendesk", outcome="ok") >= 3
    assert grew("socialdesk_connector_calls_total", connector="acme-facebook", outcome="ok") >= 1
    assert value(after, "socialdesk_queue_depth", queue="inbox") == 0
    assert value(after, "socialdesk_dead_letters_open") == 0

    ids = {str(ticket["id"]), comment.comment_id, post_id, PAGE_ID, "31337", stack.meta.comment_replies[0]["id"]}
    ids |= {str(c["id"]) for c in stack.helpdesk.comments(ticket["id"])}
    ours = [(name, labels) for name, labels in after if name.startswith("socialdesk_")]
    assert len(ours) > 50
    for name, labels in ours:  # python_gc_..., process_...: prometheus_client's own, labelled by generation
        assert {k for k, _ in labels} <= LABELS, name
        # a platform label names a platform (the webhook counters said platform="meta", "zendesk": their route)
        assert dict(labels).get("platform", "facebook") in PLATFORMS, (name, labels)
        assert dict(labels).get("route", "meta") in metrics.ROUTES, (name, labels)
        values = [v for k, v in labels if k != "le"]  # a bucket's bound is a number, not an id
        assert not any(v == i or (len(i) > 3 and i in v) for v in values for i in ids), (name, labels)
        assert dict(labels).get("channel", "acme-web") in CHANNELS, (name, labels)  # this process's stacks


def test_refused_webhooks_are_counted_as_such(stack: Stack) -> None:
    before = scrape(stack.url)
    unsigned = {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=00"}
    refused = requests.post(f"{stack.url}/webhooks/meta", data=b"{}", headers=unsigned, timeout=10)
    assert refused.status_code == 401
    handshake = {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"}
    assert requests.get(f"{stack.url}/webhooks/meta", params=handshake, timeout=10).status_code == 403
    after = scrape(stack.url)
    grown = value(after, "socialdesk_webhooks_received_total", route="meta", outcome="refused") - value(
        before, "socialdesk_webhooks_received_total", route="meta", outcome="refused"
    )
    assert grown == 2


def test_the_stores_state_is_read_at_scrape_time(tmp_path: Path) -> None:
    with Stack(tmp_path, start_worker=False) as stack:
        stack.meta.customer_message(PAGE_ID, psid="5", text="anyone?")
        stack.wait_for(lambda: stack.store.counts("inbox").get("pending"))
        [row] = stack.store.rows("inbox")
        stack.store.dead_letter("inbox", [row["id"]], key="k", error="boom")
        stack.store.pause("zendesk", time.time() + 120, "429")
        stack.meta.customer_message(PAGE_ID, psid="6", text="hello?")
        stack.wait_for(lambda: stack.store.counts("inbox").get("pending"))
        samples = scrape(stack.url)
    assert value(samples, "socialdesk_queue_depth", queue="inbox") == 1
    assert 0 <= value(samples, "socialdesk_queue_oldest_age_seconds", queue="inbox") < 60
    assert value(samples, "socialdesk_dead_letters_open") == 1
    assert 100 < value(samples, "socialdesk_connector_paused_seconds", connector="zendesk") <= 120


def test_a_configured_token_is_required(tmp_path: Path) -> None:
    raw = {**raw_config(), "metrics": {"token": SECRET}}
    app = create_app(config_module.parse(raw, env={}), store=Store.from_url(f"sqlite:///{tmp_path}/s.db"))
    client = app.test_client()
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {SECRET}"}):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401 and refused.get_json() == {"error": "a bearer token is required"}
        assert refused.headers["WWW-Authenticate"].lower().startswith("bearer")
        assert SECRET.encode() not in refused.data
    allowed = client.get("/metrics", headers={"Authorization": f"Bearer {SECRET}"})
    assert allowed.status_code == 200 and b"socialdesk_queue_depth" in allowed.data


def test_a_user_and_password_can_be_asked_instead(tmp_path: Path) -> None:
    """As Prometheus's basic_auth sends them; the same check as the dashboard's (bridge.access)."""
    raw = {**raw_config(), "metrics": {"user": "prometheus", "password": SECRET}}
    client = create_app(
        config_module.parse(raw, env={}), store=Store.from_url(f"sqlite:///{tmp_path}/s.db")
    ).test_client()
    login = "Basic " + base64.b64encode(f"prometheus:{SECRET}".encode()).decode()
    for headers in ({}, {"Authorization": f"Bearer {SECRET}"}, {"Authorization": login.replace("cHJv", "cHJw")}):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401 and refused.get_json() == {"error": "a user and password is required"}
        assert refused.headers.getlist("WWW-Authenticate") == ["Basic realm=socialdesk"]
    assert client.get("/metrics", headers={"Authorization": login}).status_code == 200


def write_config(tmp_path: Path) -> str:
    raw = raw_config(database_url=f"sqlite:///{tmp_path}/store.db", queue_url=f"sqlite:///{tmp_path}/queue.db")
    path = tmp_path / "socialdesk.toml"
    path.write_text(to_toml(raw))
    return str(path)


@pytest.mark.parametrize("given", [True, False], ids=["PROMETHEUS_MULTIPROC_DIR", "serve's own folder"])
def test_gunicorns_processes_are_added_up_and_a_previous_runs_series_are_gone(tmp_path: Path, given: bool) -> None:
    port, log = free_port(), tmp_path / "serve.log"
    series = tmp_path / "series" if given else tmp_path / f"socialdesk-metrics-127.0.0.1-{port}"
    series.mkdir()
    (series / "counter_4242.db").write_bytes(b"left by a previous run")
    env = {"PROMETHEUS_MULTIPROC_DIR": str(series)} if given else {"TMPDIR": str(tmp_path)}
    server = start(["serve", "--config", write_config(tmp_path), "--port", str(port), "--workers", "3"], log, env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/healthz", server, log)
        assert not (series / "counter_4242.db").exists()
        for i in range(30):  # a new connection each: gunicorn's processes take them in turn, as they come
            token = VERIFY_TOKEN if i % 3 else "wrong"
            params = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": str(i)}
            requests.get(f"{base}/webhooks/meta", params=params, timeout=10)
        scrapes = [scrape(base) for _ in range(6)]
    finally:
        stop(server)
    for samples in scrapes:  # whichever process answers, it reports them all
        assert value(samples, "socialdesk_webhooks_received_total", route="meta", outcome="accepted") == 20
        assert value(samples, "socialdesk_webhooks_received_total", route="meta", outcome="refused") == 10
    assert list(series.glob("counter_*.db")) if given else not series.exists()  # serve's own: removed at exit


def test_the_worker_serves_its_own_series_on_its_metrics_port(tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "worker.log"
    worker = start(["worker", "--config", write_config(tmp_path), "--metrics-port", str(port)], log, {})
    try:
        wait_until_up(f"http://127.0.0.1:{port}/metrics", worker, log)
        samples = scrape(f"http://127.0.0.1:{port}")
    finally:
        stop(worker)
    assert value(samples, "socialdesk_queue_depth", queue="inbox") == 0
    assert "worker metrics: http://127.0.0.1:" in log.read_text()


@pytest.mark.parametrize(
    ("table", "wanted"),
    [({"episode_quiet_hours": 0}, "metrics.episode_quiet_hours"),
     ({"episode_quiet_hours": "24"}, "metrics.episode_quiet_hours"),
     ({"token": ""}, "metrics.token"), ({"tokn": SECRET}, "metrics.tokn"),
     ({"user": "prometheus"}, "metrics.password"), ({"password": SECRET}, "metrics.user")],
)  # fmt: skip
def test_the_metrics_table_is_checked_naming_the_key(table: dict[str, object], wanted: str) -> None:
    with pytest.raises(ConfigError) as refused:
        config_module.parse({**raw_config(), "metrics": table}, env={})
    assert wanted in str(refused.value) and SECRET not in str(refused.value)


@pytest.mark.parametrize("table", [{"token": "short"}, {"user": "prometheus", "password": "fifteen-chars-x"}])
def test_a_short_credential_is_refused_naming_the_key_never_the_value(table: dict[str, str]) -> None:
    """/metrics shows customers' figures: a guessable token was accepted ("short" worked)."""
    with pytest.raises(ConfigError) as refused:
        config_module.parse({**raw_config(), "metrics": table}, env={})
    key, value = next((k, v) for k, v in table.items() if k != "user")
    assert str(refused.value).startswith(f"metrics.{key}: must be at least 16 characters")
    assert "secrets.token_urlsafe(24)" in str(refused.value) and value not in str(refused.value)


def test_the_token_is_a_secret_and_the_quiet_period_has_a_default() -> None:
    settings = config_module.parse({**raw_config(), "metrics": {"token": SECRET}}, env={}).metrics
    assert SECRET not in repr(settings) and settings.token is not None and settings.token.reveal() == SECRET
    assert config_module.parse(raw_config(), env={}).metrics.quiet == 24 * 3600
