"""The demo's last step: the dashboard (``/dashboard``) shows the demo's
conversations behind a password, and how to open it again afterwards (``socialdesk serve`` on its kept files)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import requests

from sandbox.stack import Stack

Echo = Callable[[str], None]
#: The demo's ``[dashboard]`` table: a user and password for a demo on this machine, printed for that reason.
DASHBOARD = {"user": "demo", "password": "demo-dashboard-password", "timezone": "UTC"}
CONFIG_NAME = "socialdesk.toml"


def check(stack: Stack, workdir: Path | None, echo: Echo, *, step: int) -> tuple[bool, str]:
    """Ask the dashboard's JSON for this week, as the page does; with ``workdir``, keep a config to serve it."""
    api = f"{stack.url}/dashboard/api/figures"
    refused = requests.get(api, timeout=10).status_code
    shown = requests.get(api, auth=(DASHBOARD["user"], DASHBOARD["password"]), timeout=10)
    total = shown.json()["total"] if shown.ok else {"episodes": 0, "answered": 0}
    login = f"user {DASHBOARD['user']}, password {DASHBOARD['password']}"
    echo(f"\n{step}. The dashboard at {stack.url}/dashboard ({login}): this week {total['episodes']} episodes, "
         f"{total['answered']} answered by a person")  # fmt: skip
    if workdir is not None:
        stack.write_config(workdir / CONFIG_NAME)
    ok = refused == 401 and shown.ok and total["episodes"] > 0
    return ok, "the dashboard shows the week's figures behind its password (401 without it)"


def how_to_open(workdir: Path | None) -> str:
    """The lines that end the demo: where the dashboard is once the demo has stopped."""
    login = f"user {DASHBOARD['user']}, password {DASHBOARD['password']}"
    if workdir is None:
        return ("Dashboard: run `socialdesk demo --workdir DIR`, then `socialdesk serve --config DIR/socialdesk.toml` "
                f"and open http://127.0.0.1:8000/dashboard ({login}).")  # fmt: skip
    return (f"Dashboard: `socialdesk serve --config {workdir / CONFIG_NAME}`, then open "
            f"http://127.0.0.1:8000/dashboard ({login}).")  # fmt: skip
