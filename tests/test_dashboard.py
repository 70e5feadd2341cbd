"""GET /dashboard and its JSON (Flask's test client over conversations played through the real bridge): off
unless configured, 401 without the credential (compared in constant time), 400 naming a malformed parameter,
customers' text only when configured, filters that change the figures."""

from __future__ import annotations

import base64
import hmac
import json
import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from flask.testing import FlaskClient

from bridge import config as config_module
from bridge.errors import ConfigError
from bridge.store import Store
from sandbox.demo_dashboard import DASHBOARD
from sandbox.stack import Stack
from tests.conftest import raw_config
from tests.dashboard_data import PASSWORD, SECRET_TEXT, TOKEN, USER, dashboard_config, seeded
from tests.support import closed_port, socialdesk, start, stop, wait_until_up
from webhooks.app import create_app

API = "/dashboard/api/figures"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from seeded(tmp_path_factory.mktemp("dashboard"))


def client(stack: Stack, **dashboard: Any) -> FlaskClient:
    return create_app(dashboard_config(stack, **dashboard), store=stack.store).test_client()


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def figures(c: FlaskClient, **params: str) -> dict[str, Any]:
    answer = c.get(API, query_string=params, headers=BEARER)
    assert answer.status_code == 200, answer.get_json()
    body: dict[str, Any] = answer.get_json()
    return body


@pytest.mark.parametrize("path", ["/dashboard", API, "/dashboard/api/status", "/dashboard/static/dashboard.js"])
def test_off_unless_a_credential_is_configured(stack: Stack, path: str) -> None:
    answer = client(stack).get(path, headers=BEARER)
    assert answer.status_code == 404
    assert answer.get_json() == {"error": "the dashboard is off: set [dashboard] token, or user and password, "
                                          "in socialdesk.toml"}  # fmt: skip


@pytest.mark.parametrize("path", ["/dashboard", API, "/dashboard/static/dashboard.js"])
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {TOKEN}x"}, basic(USER, "wrong"),
     basic("someone", PASSWORD), {"Authorization": "Basic %%%"}, {"Authorization": TOKEN}],
)  # fmt: skip
def test_without_the_credential_401_offering_both_schemes(stack: Stack, path: str, headers: dict[str, str]) -> None:
    answer = client(stack, token=TOKEN, user=USER, password=PASSWORD).get(path, headers=headers)
    assert answer.status_code == 401
    assert answer.headers.getlist("WWW-Authenticate") == ["Basic realm=socialdesk", "Bearer"]
    assert "error" in answer.get_json() and TOKEN not in answer.get_data(as_text=True)


@pytest.mark.parametrize("headers", [BEARER, basic(USER, PASSWORD)])
def test_the_token_or_the_user_and_password_open_it(stack: Stack, headers: dict[str, str]) -> None:
    c = client(stack, token=TOKEN, user=USER, password=PASSWORD)
    page = c.get("/dashboard", headers=headers)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert c.get("/dashboard/static/dashboard.js", headers=headers).mimetype == "text/javascript"
    assert c.get(API, headers=headers).status_code == 200
    assert c.get("/dashboard/static/..%2Fdashboard.py", headers=headers).status_code == 404


def test_only_a_basic_auth_is_asked_when_no_token_is_set(stack: Stack) -> None:
    c = client(stack, user=USER, password=PASSWORD)
    assert c.get(API, headers=BEARER).headers.getlist("WWW-Authenticate") == ["Basic realm=socialdesk"]


def test_the_credential_is_compared_in_constant_time(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    c = client(stack, token=TOKEN, user=USER, password=PASSWORD)
    assert c.get(API, headers={"Authorization": "Bearer x"}).status_code == 401  # a shorter one too: no early exit
    assert compared == [(b"x", TOKEN.encode())]
    compared.clear()
    assert c.get(API, headers=basic("intruder", PASSWORD)).status_code == 401
    assert compared == [(b"intruder", USER.encode()), (PASSWORD.encode(), PASSWORD.encode())]  # both, always


@pytest.mark.parametrize(
    ("params", "named"),
    [({"period": "7x"}, "period"), ({"period": "2026-13"}, "period"), ({"period": "0d"}, "period"),
     ({"period": "2026-02-30..2026-03-02"}, "period"), ({"period": "2026-11-10..2026-11-01"}, "period"),
     ({"period": "2026-01-01..2027-06-01"}, "period"), ({"period": "367d"}, "period"), ({"period": "999d"}, "period"),
     ({"period": "9999-12-31..9999-12-31"}, "period"), ({"period": "9999-12"}, "period"),
     ({"channel": "nope"}, "channel"), ({"channel": "acme-facebook'--"}, "channel"),
     ({"tz": "Mars/Olympus"}, "tz"), ({"tz": "Europe/../UTC"}, "tz"), ({"tz": "\x00"}, "tz")],
)  # fmt: skip
def test_a_malformed_parameter_is_a_400_naming_it(stack: Stack, params: dict[str, str], named: str) -> None:
    answer = client(stack, token=TOKEN).get(API, query_string=params, headers=BEARER)
    assert answer.status_code == 400
    assert answer.get_json()["error"].startswith(f"{named}: ")


def test_no_message_text_unless_configured(stack: Stack) -> None:
    hidden = client(stack, token=TOKEN)
    body = hidden.get(API, query_string={"period": "90d"}, headers=BEARER).get_data(as_text=True)
    assert SECRET_TEXT not in body and '"text"' not in body
    assert SECRET_TEXT not in hidden.get("/dashboard", headers=BEARER).get_data(as_text=True)
    shown = figures(client(stack, token=TOKEN, show_text=True), period="90d")
    assert shown["text_shown"] is True
    assert [w["text"] for w in shown["waiting"] if w["channel"] == "acme-instagram"] == [SECRET_TEXT]


def test_the_filters_change_the_figures(stack: Stack) -> None:
    c = client(stack, token=TOKEN)
    week, quarter = figures(c), figures(c, period="90d")
    assert (week["total"]["episodes"], quarter["total"]["episodes"]) == (5, 6)
    facebook, instagram = figures(c, channel="acme-facebook"), figures(c, channel="acme-instagram")
    assert (facebook["total"]["episodes"], facebook["total"]["answered"]) == (3, 2)
    assert (instagram["total"]["episodes"], instagram["total"]["answered"]) == (2, 1)
    assert [w["channel"] for w in instagram["waiting"]] == ["acme-instagram"]
    assert 600 <= instagram["total"]["first_response"]["median"] < 660  # 10 minutes before the reply was delivered
    assert instagram["total"]["first_response"]["buckets"]["<=15m"] == 1
    assert [b["channel"] for b in facebook["badges"]] == ["acme-facebook"] and instagram["badges"] == []


def test_the_same_figures_and_waiting_texts_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    for stack in seeded(tmp_path, database_url=pg_url):
        c = client(stack, token=TOKEN, show_text=True)
        week, quarter = figures(c), figures(c, period="90d", channel="acme-facebook")
        assert (week["total"]["episodes"], week["total"]["answered"], quarter["total"]["episodes"]) == (5, 3, 4)
        assert [w.get("text") for w in quarter["waiting"]] == ["Hello, a question about my order", SECRET_TEXT]
        assert c.get("/dashboard/api/status", headers=BEARER).get_json()["inbox"]["counts"] == {"done": 6}


def test_the_charts_add_up_to_the_figures_and_the_rule_and_zone_are_stated(stack: Stack) -> None:
    body = figures(client(stack, token=TOKEN), period="30d", tz="America/Sao_Paulo")
    points, total = body["days"], body["total"]
    assert len(points) == 30 and body["query"]["last_day"] == points[-1]["day"]
    assert sum(p["episodes"] for p in points) == total["episodes"] == 5
    assert sum(p["answered"] for p in points) == total["answered"] == sum(total["first_response"]["buckets"].values())
    assert body["query"]["tz"] == "America/Sao_Paulo" and "(America/Sao_Paulo)" in body["query"]["label"]
    assert "date of the customer's message" in body["attribution"] and "America/Sao_Paulo" in body["attribution"]
    assert "thread_key" not in json.dumps(body) and "messenger:" not in json.dumps(body)  # no thread key (user id)


def test_the_operational_state_is_socialdesk_status(stack: Stack) -> None:
    c = client(stack, token=TOKEN)
    answer = c.get("/dashboard/api/status", headers=BEARER)
    assert answer.status_code == 200 and c.get("/dashboard/api/status").status_code == 401
    state = answer.get_json()
    assert state["inbox"]["counts"] == {"done": 6} and state["dead_letters"] == 0 and state["paused"] == {}
    assert state["deliveries"]["counts"] == {"sent": 3} and "status" not in figures(c)


def test_the_operational_state_names_no_customer_and_quotes_no_error(stack: Stack, tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path}/store.db")
    store.record_join({"identity_key": "zendesk:facebook:PSID-77", "contact_id": "003CONTACT77", "user_id": "U-4242",
                       "other_user_id": "U-9090", "action": "merged", "reason": "same e-mail as Contact Jane"},
                      user_id="U-4242")  # fmt: skip
    store.ingest_batch([[("facebook", "page", "m1", "acme-facebook", "facebook:page:messenger:PSID-77", "message", "{}",
                          time.time(), time.time(), "pending", None)]])  # fmt: skip
    store.postpone("inbox", [store.rows("inbox")[0]["id"]], delay=30, error="Zendesk said: VENDOR-ERROR-TEXT")
    raw = {**stack.raw_config(), "salesforce": {"instance_url": "https://acme.my.salesforce.com", "access_token": "t"},
           "dashboard": {"token": TOKEN}}  # fmt: skip
    c = create_app(config_module.parse(raw, env={}), store=store).test_client()
    body = c.get("/dashboard/api/status", headers=BEARER).get_data(as_text=True)
    inbox = json.loads(body)["inbox"]
    assert (inbox["counts"], inbox["pending"], inbox["retrying"]) == ({"pending": 1}, 1, 1)  # the counts still there
    for secret in ("PSID-77", "003CONTACT77", "U-4242", "U-9090", "Jane", "VENDOR-ERROR-TEXT"):
        assert secret not in body


def test_the_choice_1d_is_labelled_as_what_it_counts_today_since_local_midnight(stack: Stack) -> None:
    c = client(stack, token=TOKEN)
    options = dict(re.findall(r'<option value="(\w+)"[^>]*>([^<]*)</option>', c.get("/dashboard", headers=BEARER)
                              .get_data(as_text=True)))  # fmt: skip
    day = figures(c, period="1d", tz="Pacific/Kiritimati")["query"]
    today = datetime.now(ZoneInfo("Pacific/Kiritimati")).date().isoformat()
    assert (day["first_day"], day["last_day"], options["1d"]) == (today, today, "today")


def test_a_month_and_a_span_of_days_in_the_view_s_time_zone(stack: Stack) -> None:
    c = client(stack, token=TOKEN, timezone="Europe/Lisbon")
    month = figures(c, period="2026-03")
    assert (month["query"]["first_day"], month["query"]["last_day"], month["query"]["tz"]) == (
        "2026-03-01", "2026-03-31", "Europe/Lisbon")  # fmt: skip
    assert len(month["days"]) == 31 and month["total"]["episodes"] == 0
    span = figures(c, period="2026-10-24..2026-10-25", tz="UTC")["query"]
    assert (span["first_day"], span["last_day"], span["tz"]) == ("2026-10-24", "2026-10-25", "UTC")


@pytest.mark.parametrize(
    ("table", "named"),
    [({"user": "lead"}, "dashboard.password"), ({"password": PASSWORD}, "dashboard.user"),
     ({"timezone": "Lisbon"}, "dashboard.timezone"), ({"token": ""}, "dashboard.token"),
     ({"show_text": "yes"}, "dashboard.show_text"), ({"tokn": "x"}, "dashboard.tokn"),
     ({"token": "short"}, "dashboard.token: must be at least 16 characters"),
     ({"user": USER, "password": "fifteen-chars-x"}, "dashboard.password: must be at least 16 characters")],
)  # fmt: skip
def test_a_bad_dashboard_table_is_refused_naming_the_key(table: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        config_module.parse({**raw_config(), "dashboard": table}, env={})


def test_the_secrets_stay_secret(tmp_path: Path) -> None:
    settings = config_module.parse({**raw_config(), "dashboard": {"token": TOKEN, "user": USER, "password": PASSWORD}},
                                   env={}).dashboard  # fmt: skip
    assert TOKEN not in repr(settings) and PASSWORD not in repr(settings)


def test_the_demo_ends_with_the_dashboard_and_serve_opens_it_as_printed(tmp_path: Path) -> None:
    kept = tmp_path / "demo"
    result = socialdesk("demo", "--workdir", str(kept))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ the dashboard shows the week's figures behind its password (401 without it)" in result.stdout
    login = (DASHBOARD["user"], DASHBOARD["password"])
    assert result.stdout.splitlines()[-1] == (
        f"Dashboard: `socialdesk serve --config {kept / 'socialdesk.toml'}`, then open http://127.0.0.1:8000/dashboard "
        f"(user {login[0]}, password {login[1]})."
    )
    port, log = closed_port(), tmp_path / "serve.log"
    server = start(["serve", "--config", str(kept / "socialdesk.toml"), "--port", str(port), "--workers", "1"], log,
                   {"TMPDIR": str(tmp_path)})  # fmt: skip
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", server, log)
        page = requests.get(f"http://127.0.0.1:{port}/dashboard", auth=login, timeout=10)
        shown = requests.get(f"http://127.0.0.1:{port}/dashboard/api/figures", auth=login, timeout=10).json()
    finally:
        stop(server)
    assert page.status_code == 200 and 'src="dashboard/static/dashboard.js"' in page.text
    said = re.search(r"this week (\d+) episodes, (\d+) answered by a person", result.stdout)
    assert said is not None and int(said[1]) >= 8  # the demo's conversations, the same once it has stopped
    assert (shown["total"]["episodes"], shown["total"]["answered"]) == (int(said[1]), int(said[2]))


def test_a_store_that_is_down_is_a_503_with_retry_after_and_the_page_still_loads() -> None:
    url = f"postgresql+psycopg://socialdesk@127.0.0.1:{closed_port()}/socialdesk"
    raw = {**raw_config(database_url=url), "dashboard": {"token": TOKEN}}
    c = create_app(config_module.parse(raw, env={}), store=Store.from_url(url)).test_client()
    for path in (API, "/dashboard/api/status"):
        answer = c.get(path, headers=BEARER)
        assert answer.status_code == 503 and int(answer.headers["Retry-After"]) > 0
        assert answer.get_json() == {"error": "storage unavailable, retry later"}
    assert c.get("/dashboard", headers=BEARER).status_code == 200  # static: the page says what failed itself
