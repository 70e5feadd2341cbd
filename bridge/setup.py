"""``socialdesk setup <helpdesk|telegram>``: point the helpdesk (or a platform) at the bridge, idempotently.

Zendesk has an API for webhooks and triggers, so setup creates them and stores the webhook's signing
secret in the store (the Zendesk view accepts it next to any configured one). Freshdesk has no API for
automation rules, so setup prints the exact rule to create by hand; ``socialdesk doctor`` checks it
afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from bridge import messages
from bridge.config import Config
from bridge.errors import BridgeError, ConfigError
from bridge.registry import build_channel, build_helpdesk, load_object
from bridge.store import Store

ZENDESK_SECRET_SETTING = "zendesk.webhook_secret"
ZENDESK_USER_SECRET_SETTING = "zendesk.user_webhook_secret"  # the user-events webhook's (a secret per webhook)
FRESHDESK_SECRET_HEADER = "X-Socialdesk-Secret"
Echo = Callable[[str], None]
_WEBHOOK_PATH = re.compile(r"/webhooks(/[^/]+){0,2}/*$")  # the bridge's own routes: /webhooks/<platform>[/<name>]


def endpoint(config: Config, path: str, public_url: str | None = None) -> str:
    """The address the platform is to call: the bridge's base URL (``--public-url``, else ``bridge.public_url``)
    plus ``path``. A base that is already a webhook's address is refused, not trimmed: it would have become
    ``.../webhooks/zendesk/webhooks/zendesk`` (every event then 404s), and guessing the base behind a proxy's
    path could point the platform at the wrong place."""
    base = public_url or config.public_url
    if not base:
        raise ConfigError("bridge.public_url: required for setup (the https address platforms can reach)")
    meant = base_of_webhook(base)
    if meant is not None:
        key = "--public-url" if public_url else "bridge.public_url"
        raise ConfigError(messages.public_url_is_a_webhook(key, base, meant, path))
    return base.rstrip("/") + path


def base_of_webhook(url: str) -> str | None:
    """The base URL in ``url`` when it ends in a webhook's path (``/webhooks``, ``/webhooks/zendesk``,
    ``/webhooks/telegram/<name>``) instead of at the bridge's base; None when it does not."""
    parts = urlsplit(url)
    found = _WEBHOOK_PATH.search(parts.path)
    if found is None:
        return None
    return urlunsplit(parts._replace(path=parts.path[: found.start()], query="", fragment=""))


def _require_helpdesk(config: Config, helpdesk: str) -> None:
    if config.helpdesk != helpdesk:
        raise ConfigError(
            f"bridge.helpdesk is {config.helpdesk!r} in {config.source}: run `socialdesk setup {config.helpdesk}`"
        )


def setup_zendesk(config: Config, store: Store, *, echo: Echo, dry_run: bool, public_url: str | None) -> None:
    _require_helpdesk(config, "zendesk")
    run = load_object("connectors.zendesk_setup:setup", "setup zendesk")
    url = endpoint(config, "/webhooks/zendesk", public_url)
    helpdesk = build_helpdesk(config)
    helpdesk.ping()  # before any change: an API user that cannot see every ticket is refused, as doctor refuses it
    report = run(helpdesk, url, dry_run=dry_run, approvals=config.approvals)
    for line in report.actions:
        echo(line)
    if report.signing_secret and not dry_run:
        store.set_setting(ZENDESK_SECRET_SETTING, report.signing_secret)
        echo("stored the webhook's signing secret in the bridge's database (not printed)")
    if report.user_signing_secret and not dry_run:
        store.set_setting(ZENDESK_USER_SECRET_SETTING, report.user_signing_secret)
        echo("stored the user-events webhook's signing secret in the bridge's database (not printed)")


def zendesk_setup_state(config: Config) -> str:
    """For ``socialdesk doctor``: whether what setup makes (the webhook, the triggers, the approvers' macros) is in
    place, from setup's own dry run; the line names each thing checked."""
    run = load_object("connectors.zendesk_setup:setup", "setup zendesk")
    report = run(
        build_helpdesk(config), endpoint(config, "/webhooks/zendesk"), dry_run=True, approvals=config.approvals
    )
    missing = [line.removeprefix("would ") for line in report.actions if line.startswith("would ")]
    if missing:
        raise BridgeError(f"not set up ({'; '.join(missing)}): run `socialdesk setup zendesk`")
    return "in place: " + ", ".join(report.checked)


def setup_freshdesk(config: Config, *, echo: Echo, public_url: str | None) -> None:
    """Freshdesk has no automation API: print the rule, exactly, with the secret masked, and the ticket
    field the bridge keeps its thread key in. The API key is checked first (one ``agents/me`` call)."""
    _require_helpdesk(config, "freshdesk")
    url = endpoint(config, "/webhooks/freshdesk", public_url)
    build_helpdesk(config).ping()  # before the rule: an agent that cannot see every ticket is refused, as by doctor
    field = config.helpdesk_section.get("thread_key_field")
    if field:
        echo(f"1. Check that the ticket field {field} exists (Admin → Ticket Fields, single-line text).")
    else:
        echo("1. Optional: create a single-line text ticket field (Admin → Ticket Fields), say \"socialdesk "
             "thread\", and set freshdesk.thread_key_field to its name (cf_socialdesk_thread): each ticket then "
             "shows its social thread, and the bridge finds a ticket by it after a crash (without it, by the "
             "requester and the message).")  # fmt: skip
    echo("2. Create this rule: Admin → Workflows → Automations → Ticket updates → New rule")
    echo("  Name:        socialdesk: deliver public agent replies")
    echo("  When:        Reply is sent, OR Note is added (type: Public), OR Status is changed to Resolved"
         "  (performed by: Agent)")  # fmt: skip
    echo("  Conditions:  Ticket → Tags → contains any of → socialdesk")
    echo("  Action:      Trigger webhook")
    echo(f"    Request type: POST    URL: {url}")
    echo(f"    Custom header: {FRESHDESK_SECRET_HEADER}: <the value of freshdesk.webhook_secret>")
    echo('    Content: JSON, advanced:  {"ticket_id": "{{ticket.id}}"}')
    _freshdesk_approvals(config, url, echo)
    echo("Then run `socialdesk doctor` to check that the API key works and the webhook reaches the bridge.")


def _freshdesk_approvals(config: Config, url: str, echo: Echo) -> None:
    """Approvals (bridge.approvals): two scenario automations for approvers, and the rule that calls the bridge."""
    approve, reject = config.approvals.approve_tag, config.approvals.reject_tag
    echo("3. For replies held for approval: Admin → Workflows → Scenario Automations → New scenario, twice")
    echo(f'  "Approve social reply":  Add tag {approve};  Add note (private): Approved for social')
    echo(f'  "Reject social reply":   Add tag {reject};  Add note (private): Rejected for social')
    echo("  and this rule: Admin → Workflows → Automations → Ticket updates → New rule")
    echo("  Name:        socialdesk: approve or reject held social replies")
    echo("  When:        Note is added (type: Private)  (performed by: Agent)")
    echo(f"  Conditions:  Ticket → Tags → contains any of → {approve}, {reject}")
    echo(f"  Action:      Trigger webhook, as in 2 (POST {url}, the same header and content)")


def setup_telegram(config: Config, *, echo: Echo, dry_run: bool, public_url: str | None) -> None:
    channels = config.channels_for("telegram")
    if not channels:
        raise ConfigError(f'no Telegram channel in {config.source}: add a [[channels]] with platform = "telegram"')
    for channel in channels:
        url = endpoint(config, f"/webhooks/telegram/{channel.name}", public_url)
        if dry_run:
            echo(f"would call setWebhook for {channel.name} → {url}")
            continue
        connector = build_channel(channel)
        connector.set_webhook(url, channel.secret("secret_token"))  # type: ignore[attr-defined]
        echo(f"setWebhook for {channel.name} → {url} (with its secret token)")
