"""The dashboard in a real headless browser: Debian's Chromium (``/usr/bin/chromium``, package ``chromium``)
driven by Playwright (no browser download). The page loads with the user and password, its charts are SVG
drawn from the figures, changing a filter changes the figures, and the browser logs no error. A screenshot
is kept in ``test-artifacts/`` (its path printed). Without Chromium or Playwright the test skips, except in
CI (``CI=true``), where it fails: scripts/test.sh installs both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import unavailable
from tests.dashboard_data import PASSWORD, TOKEN, USER, dashboard_config, seeded
from tests.support import serve_bridge

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
NEEDED = {"needed_for": "the browser test of the dashboard", "how": "install it (see scripts/test.sh)"}


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    for stack in seeded(tmp_path_factory.mktemp("browser")):
        with serve_bridge(
            dashboard_config(stack, token=TOKEN, user=USER, password=PASSWORD, timezone="Europe/Lisbon")
        ) as served:
            yield served["url"]


@pytest.fixture
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        unavailable("the python package playwright", e, **NEEDED)
    if not CHROMIUM.exists():
        unavailable(f"Chromium at {CHROMIUM} (Debian package chromium)", FileNotFoundError(CHROMIUM), **NEEDED)
    with sync_playwright() as p:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


def figures(url: str, **params: str) -> dict[str, Any]:
    answer = requests.get(f"{url}/dashboard/api/figures", params=params, timeout=10,
                          headers={"Authorization": f"Bearer {TOKEN}"})  # fmt: skip
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def test_the_page_draws_the_figures_and_its_filters_change_them(
    bridge: str, browser: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert requests.get(f"{bridge}/dashboard", timeout=10).status_code == 401
    context = browser.new_context(http_credentials={"username": USER, "password": PASSWORD},
                                  viewport={"width": 1200, "height": 1600})  # fmt: skip
    page = context.new_page()
    problems: list[str] = []
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))

    loaded = page.goto(f"{bridge}/dashboard")
    assert loaded is not None and loaded.status == 200
    page.wait_for_selector("body[data-loaded]")
    week = figures(bridge)
    assert drawn(page) == (week["total"]["episodes"], week["total"]["messages"]) == (5, 5)
    assert card(page, "episodes") == "5" and card(page, "response rate") == "60.0 %"
    assert page.locator("#chart-volume rect.bar-episodes").count() == len(week["days"]) == 7
    assert page.locator("#chart-response circle.dot-median").count() == sum(
        1 for d in week["days"] if d["median_first_response"] is not None
    )
    assert "Europe/Lisbon" in page.inner_text("#rule") and "date of the customer's message" in page.inner_text("#rule")
    assert page.locator("#badge table tr").count() == 2  # acme-facebook's estimate
    assert "6 messages" not in page.inner_text("#status") and "0 waiting" in page.inner_text("#status")
    shown = [row.split("\t") for row in page.inner_text("#buckets").splitlines()[1:]]
    assert shown == [[name, str(n)] for name, n in buckets_in_order(week)]
    shot = ARTIFACTS / "dashboard.png"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(shot), full_page=True)
    with capsys.disabled():  # shown without -s too
        print(f"\nscreenshot of the dashboard: {shot}")

    # the page's own CSP forbids evaluating strings, so waits are on the attributes draw() sets, in one task
    page.select_option("#channel", "acme-instagram")
    page.wait_for_selector('body[data-channel="acme-instagram"]')
    assert drawn(page) == (2, 2) and card(page, "episodes") == "2" and card(page, "answered by a person") == "1"
    page.select_option("#channel", "all")
    page.wait_for_selector('body[data-channel="all"]')
    page.select_option("#period", "90d")
    page.wait_for_selector('body[data-period="90d"]')
    assert drawn(page) == (6, 6) and card(page, "episodes") == "6"
    assert page.locator("#chart-volume rect.bar-episodes").count() == 90
    assert problems == []
    context.close()


def buckets_in_order(body: dict[str, Any]) -> list[tuple[str, int]]:
    buckets = body["total"]["first_response"]["buckets"]
    return [(name, buckets[name]) for name in ("<=15m", "<=1h", "<=4h", "<=24h", "more")]


def drawn(page: Any) -> tuple[int, int]:
    """The episodes and messages the volume chart's bars add up to (their data-value)."""
    values = {kind: page.eval_on_selector_all(f"#chart-volume rect.bar-{kind}",
                                              "bars => bars.reduce((n, b) => n + Number(b.dataset.value), 0)")
              for kind in ("episodes", "messages")}  # fmt: skip
    return int(values["episodes"]), int(values["messages"])


def card(page: Any, name: str) -> str:
    text: str = page.inner_text(f'.card[data-figure="{name}"] b')
    return text


def test_an_answer_that_is_not_json_shows_its_status(bridge: str, browser: Any) -> None:
    context = browser.new_context(http_credentials={"username": USER, "password": PASSWORD})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.route("**/dashboard/api/status", lambda route: route.fulfill(
        status=502, content_type="text/html", body="<html><body>502 Bad Gateway</body></html>"))  # fmt: skip
    page.goto(f"{bridge}/dashboard")
    page.wait_for_selector("body[data-loaded]")  # the figures are drawn all the same
    page.wait_for_selector("#error:not([hidden])")
    assert page.inner_text("#error").startswith("502: ") and errors == []
    context.close()
