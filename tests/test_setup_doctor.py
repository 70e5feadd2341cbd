"""`socialdesk setup zendesk` and `socialdesk doctor`, as an operator runs them, against the simulators."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge import config as config_module
from bridge.cli import EX_CONFIG
from bridge.registry import build_helpdesk
from bridge.setup import ZENDESK_USER_SECRET_SETTING, base_of_webhook
from bridge.store import head_revision
from connectors.zendesk import ZendeskHelpdesk
from connectors.zendesk_setup import (
    APPROVAL_TRIGGER_TITLE,
    APPROVE_MACRO,
    REJECT_MACRO,
    TRIGGER_TITLE,
    USER_EVENTS,
    VIA_API,
)
from sandbox.stack import (
    FRESHDESK_KEY,
    IG_ID,
    PAGE_ID,
    TG_TOKEN,
    WA_PHONE_ID,
    X_USER,
    ZENDESK_EMAIL,
    ZENDESK_TOKEN,
    Stack,
    to_toml,
)
from tests.conftest import raw_config
from tests.support import closed_port, socialdesk
from tests.test_cli import one_line_failure
from webhooks.app import create_app
from webhooks.signatures import sign_zendesk


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with Stack(tmp_path, start_worker=False) as running:
        yield running


def config_file(stack: Stack, path: Path, **zendesk: str) -> Path:
    raw = stack.raw_config()
    raw["zendesk"].pop("webhook_secret")
    raw["zendesk"].update(zendesk)
    raw["bridge"]["public_url"] = stack.url
    path.write_text(to_toml(raw))
    return path


def test_setup_zendesk_is_idempotent_and_stores_the_signing_secret(stack: Stack, tmp_path: Path) -> None:
    config = str(config_file(stack, tmp_path / "socialdesk.toml"))
    dry = socialdesk("setup", "zendesk", "--config", config, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would create webhook" in dry.stdout and "would create trigger" in dry.stdout
    assert stack.zendesk.webhooks == [] and stack.zendesk.triggers == []

    first = socialdesk("setup", "zendesk", "--config", config)
    assert first.returncode == 0, first.stderr
    webhook, users = stack.zendesk.webhooks
    assert users["subscriptions"] == list(USER_EVENTS) and users["endpoint"] == webhook["endpoint"]
    trigger, approval = stack.zendesk.triggers
    assert webhook["endpoint"] == f"{stack.url}/webhooks/zendesk" and webhook["status"] == "active"
    assert trigger["title"] == TRIGGER_TITLE
    assert {"field": "current_via_id", "operator": "is_not", "value": VIA_API} in trigger["conditions"]["all"]
    assert trigger["actions"][0]["value"][0] == webhook["id"]
    # approvals: a trigger on the approver's tags, and the two macros that set them
    assert approval["title"] == APPROVAL_TRIGGER_TITLE and approval["actions"] == trigger["actions"]
    tags = {"field": "current_tags", "operator": "includes", "value": "socialdesk_approve socialdesk_reject"}
    assert tags in approval["conditions"]["all"]
    assert {(m["title"], m["actions"][0]["field"], m["actions"][0]["value"]) for m in stack.zendesk.macros} == {
        (APPROVE_MACRO, "current_tags", "socialdesk_approve"),
        (REJECT_MACRO, "current_tags", "socialdesk_reject"),
    }
    assert stack.zendesk.webhook_secret not in first.stdout + first.stderr

    again = socialdesk("setup", "zendesk", "--config", config)
    assert "unchanged" in again.stdout and "create" not in again.stdout and "update" not in again.stdout
    assert len(stack.zendesk.webhooks) == 2 and len(stack.zendesk.triggers) == 2 and len(stack.zendesk.macros) == 2

    # the config has no webhook_secret: the stored one verifies Zendesk's signature
    app = create_app(config_module.load(config), store=stack.store).test_client()
    body = b'{"ticket_id": "1"}'
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {"X-Zendesk-Webhook-Signature": sign_zendesk(body, stamp, stack.zendesk.webhook_secret),
               "X-Zendesk-Webhook-Signature-Timestamp": stamp, "X-Zendesk-Webhook-Invocation-Id": "1"}  # fmt: skip
    assert app.post("/webhooks/zendesk", data=body, headers=headers, content_type="application/json").status_code == 200


def test_a_public_url_option_that_is_no_http_url_is_refused_before_any_call(stack: Stack, tmp_path: Path) -> None:
    """--public-url ftp://x was accepted: the webhook would have been set to POST ftp://x/webhooks/zendesk."""
    config = str(config_file(stack, tmp_path / "socialdesk.toml"))
    for command in ("zendesk", "freshdesk", "telegram"):
        refused = socialdesk("setup", command, "--config", config, "--public-url", "ftp://bridge.acme.example")
        assert refused.returncode == 2
        assert refused.stderr.strip().splitlines()[-1] == (
            "Error: Invalid value for '--public-url': 'ftp://bridge.acme.example' is not an http(s) URL"
        )
    assert stack.zendesk.calls == []


def test_a_public_url_that_is_a_webhooks_address_is_refused_before_any_call(stack: Stack, tmp_path: Path) -> None:
    """--public-url https://host/webhooks/zendesk was taken as the base: Zendesk's webhook was set to POST
    .../webhooks/zendesk/webhooks/zendesk, where every event 404s. Refused (not trimmed: a guessed base behind a
    proxy's path could be wrong too), in one line naming the base URL to give."""
    config = str(config_file(stack, tmp_path / "socialdesk.toml"))
    given = "https://bridge.acme.example/webhooks/zendesk"
    refused = socialdesk("setup", "zendesk", "--config", config, "--public-url", given)
    assert one_line_failure(refused, EX_CONFIG) == (
        f"Error: --public-url: {given} is a webhook's address; give the bridge's base URL "
        "(https://bridge.acme.example): setup adds /webhooks/zendesk"
    )
    assert stack.zendesk.calls == [] and stack.zendesk.webhooks == []


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("https://bridge.acme.example/webhooks/zendesk", "https://bridge.acme.example"),
        ("https://webhooks.acme.example/webhooks/freshdesk/", "https://webhooks.acme.example"),
        ("https://acme.example/bridge/webhooks/telegram/acme-telegram", "https://acme.example/bridge"),
        ("https://acme.example:8443/webhooks", "https://acme.example:8443"),
        ("https://acme.example/webhooks/meta?x=1", "https://acme.example"),
        ("https://acme.example", None),
        ("https://acme.example/", None),
        ("https://acme.example/webhooks-proxy", None),
        ("https://acme.example/bridge", None),
    ],
)
def test_the_base_url_in_a_webhooks_address(url: str, base: str | None) -> None:
    assert base_of_webhook(url) == base


def test_a_configured_public_url_that_is_a_webhooks_address_is_named_by_setup_and_doctor(
    stack: Stack, tmp_path: Path
) -> None:
    path = config_file(stack, tmp_path / "socialdesk.toml", webhook_secret="s3cret")
    path.write_text(path.read_text().replace(f'"{stack.url}"', f'"{stack.url}/webhooks/telegram/acme-telegram/"'))
    refused = socialdesk("setup", "zendesk", "--config", str(path))
    assert one_line_failure(refused, EX_CONFIG).startswith(
        f"Error: bridge.public_url: {stack.url}/webhooks/telegram/acme-telegram/ is a webhook's address; give the "
        f"bridge's base URL ({stack.url}): setup adds /webhooks/zendesk"
    )
    assert stack.zendesk.webhooks == []
    doctor = socialdesk("doctor", "--config", str(path))
    assert doctor.returncode == 1
    assert f"✗ zendesk setup: bridge.public_url: {stack.url}/webhooks/telegram/acme-telegram/ is a webhook's" in (
        doctor.stdout
    )


def test_doctor_without_a_public_url_says_which_checks_it_left_out(stack: Stack, tmp_path: Path) -> None:
    """Before: no zendesk setup line and no webhooks line, nothing saying they were never checked."""
    path = config_file(stack, tmp_path / "socialdesk.toml", webhook_secret="s3cret")
    assert socialdesk("setup", "zendesk", "--config", str(path), "--public-url", stack.url).returncode == 0
    raw = stack.raw_config()
    raw["zendesk"]["webhook_secret"] = "s3cret"
    path.write_text(to_toml(raw))  # no public_url
    result = socialdesk("doctor", "--config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        "- bridge.public_url: not set, so zendesk setup and webhooks reachable not checked: set bridge.public_url "
        "to the https address platforms reach"
    ) in result.stdout.splitlines()
    assert "✗" not in result.stdout and "zendesk setup:" not in result.stdout
    assert "webhooks reachable:" not in result.stdout


def test_doctor_names_each_channel_whose_token_is_for_another_account(tmp_path: Path) -> None:
    """account_id one digit short passed doctor ("✓ channel acme-facebook (facebook): Page 1234567890") and every
    message for the page was then dropped as "facebook account without a channel". Each channel's token says which
    account it is (Facebook's /me, X's /2/users/me, Telegram's getMe); where one token serves several accounts
    (WhatsApp, Instagram with a Page token), Graph's "does not exist" for the configured id says it."""
    bot = TG_TOKEN.split(":", 1)[0]
    wrong = {"facebook": PAGE_ID[:-1], "instagram": IG_ID[:-1], "whatsapp": WA_PHONE_ID[:-1], "x": X_USER[:-1],
             "telegram": bot + "0"}  # fmt: skip
    with Stack(tmp_path, platforms=tuple(wrong), start_worker=False) as stack:
        raw = stack.raw_config()
        (tmp_path / "right.toml").write_text(to_toml(raw))
        right = socialdesk("doctor", "--config", str(tmp_path / "right.toml"))
        for channel in raw["channels"]:
            channel["account_id"] = wrong[channel["platform"]]
        (tmp_path / "wrong.toml").write_text(to_toml(raw))
        result = socialdesk("doctor", "--config", str(tmp_path / "wrong.toml"))
    assert all(f"✓ channel acme-{platform} ({platform}): " in right.stdout for platform in wrong), right.stdout
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    for platform, token_id, noun in (("facebook", PAGE_ID, "Page"), ("x", X_USER, "X user"), ("telegram", bot, "bot")):
        said = f"the token is for {noun} {token_id}, but account_id is {wrong[platform]!r}: set account_id"
        assert f'✗ channel acme-{platform} ({platform}): {platform}: {said} = "{token_id}"' in lines, result.stdout
    for platform, product, noun in (("instagram", "Instagram", "Instagram account"),
                                    ("whatsapp", "WhatsApp", "phone number id")):  # fmt: skip
        said = f"{product} has no {noun} {wrong[platform]!r} that this token can use: account_id is the"
        assert any(line.startswith(f"✗ channel acme-{platform} ({platform}): {platform}: {said}") for line in lines)


def test_setup_zendesk_finds_its_own_trigger_among_hundreds(stack: Stack, tmp_path: Path) -> None:
    """A large account's triggers span pages: setup read only the first and added a trigger every run."""
    helpdesk = build_helpdesk(stack.config)
    assert isinstance(helpdesk, ZendeskHelpdesk)
    other = {"conditions": {"all": [{"field": "status", "operator": "is", "value": "new"}]},
             "actions": [{"field": "status", "value": "open"}]}  # fmt: skip
    for n in range(150):  # the account's own triggers: socialdesk's comes after them, on the second page
        helpdesk.api("POST", "/api/v2/triggers.json", {"trigger": {"title": f"Team rule {n}", **other}})
    config = str(config_file(stack, tmp_path / "socialdesk.toml"))
    assert socialdesk("setup", "zendesk", "--config", config).returncode == 0

    again = socialdesk("setup", "zendesk", "--config", config)
    assert again.returncode == 0 and "unchanged" in again.stdout and "create" not in again.stdout, again.stdout
    assert [t["title"] for t in stack.zendesk.triggers].count(TRIGGER_TITLE) == 1


def test_setup_freshdesk_prints_the_rule(tmp_path: Path) -> None:
    with Stack(tmp_path, helpdesk="freshdesk", start_worker=False) as stack:
        raw = stack.raw_config()
        raw["bridge"]["public_url"] = "https://bridge.acme.example"
        raw["freshdesk"] |= {"webhook_secret": "fd-hook-456"}
        del raw["freshdesk"]["thread_key_field"]
        path = tmp_path / "fd.toml"
        path.write_text(to_toml(raw))
        result = socialdesk("setup", "freshdesk", "--config", str(path))
        assert stack.freshdesk.calls_to("GET", "/api/v2/agents/me")  # the key is checked first
    assert result.returncode == 0, result.stderr
    assert "https://bridge.acme.example/webhooks/freshdesk" in result.stdout
    assert "X-Socialdesk-Secret" in result.stdout and '{"ticket_id": "{{ticket.id}}"}' in result.stdout
    assert "Reply is sent, OR Note is added (type: Public)" in result.stdout  # public notes reach customers too
    assert "OR Status is changed to Resolved" in result.stdout  # #17: solved without a reply, resolution time
    assert "freshdesk.thread_key_field" in result.stdout  # not configured: the field is recommended
    assert (
        "Add tag socialdesk_approve" in result.stdout
        and "contains any of → socialdesk_approve, socialdesk_reject" in result.stdout
    )
    assert "fd-hook-456" not in result.stdout and FRESHDESK_KEY not in result.stdout


def test_doctor_passes_on_a_healthy_bridge_and_names_what_is_broken(stack: Stack, tmp_path: Path) -> None:
    bad = socialdesk("doctor", "--config", str(config_file(stack, tmp_path / "bad.toml", api_token="wrong-token")))
    assert bad.returncode == 1
    assert "✗ zendesk credentials" in bad.stdout
    assert "✗ zendesk webhook secret: missing" in bad.stdout
    assert "wrong-token" not in bad.stdout and ZENDESK_TOKEN not in bad.stdout

    config = str(config_file(stack, tmp_path / "good.toml", webhook_secret="s3cret"))
    before = socialdesk("doctor", "--config", config)
    assert before.returncode == 1 and "✗ zendesk setup: not set up (create webhook" in before.stdout
    assert "run `socialdesk setup zendesk`" in before.stdout

    assert socialdesk("setup", "zendesk", "--config", config).returncode == 0
    good = socialdesk("doctor", "--config", config)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "✗" not in good.stdout
    for line in ("✓ database", "✓ zendesk credentials", "✓ channel acme-facebook (facebook)",
                 "✓ webhooks reachable"):  # fmt: skip
        assert line in good.stdout
    assert ("✓ zendesk setup: in place: webhook, user-events webhook, trigger (public comment or solved, tag "
            "socialdesk, not via API), trigger "
            "(tag socialdesk_approve or socialdesk_reject), macro 'Approve social reply', macro 'Reject social "
            "reply'\n") in good.stdout  # fmt: skip

    stack.store.set_setting(ZENDESK_USER_SECRET_SETTING, "")  # a database set up again: the stored secrets lost
    lost = socialdesk("doctor", "--config", config)  # the configured webhook_secret verifies ticket events only
    assert lost.returncode == 1 and "✗ zendesk webhook secret: the user-events webhook's is missing" in lost.stdout
    assert socialdesk("setup", "zendesk", "--config", config).returncode == 0

    helpdesk = build_helpdesk(stack.config)
    assert isinstance(helpdesk, ZendeskHelpdesk)
    [approve] = [m for m in stack.zendesk.macros if m["title"] == APPROVE_MACRO]
    helpdesk.api("PUT", f"/api/v2/macros/{approve['id']}.json", {"macro": {"active": False}})  # an admin's doing
    off = socialdesk("doctor", "--config", config)
    assert off.returncode == 1 and f"✗ zendesk setup: not set up (update macro {APPROVE_MACRO!r}" in off.stdout


def test_an_api_user_that_cannot_see_every_ticket_fails_doctor_and_setup_and_stops_the_worker(tmp_path: Path) -> None:
    """Zendesk answers "not found" about a ticket hidden from a restricted agent as about a deleted one, and the
    bridge opens a new ticket for a deleted one: doctor names the user, why, and what to change; setup stops
    before any change; the worker, whose crash recovery looks tickets up as that user, does not start (it
    started, and ran until a "not found" opened a duplicate or parked a message)."""
    restricted = {"api_user_role": "agent", "api_user_ticket_restriction": "groups"}
    with Stack(tmp_path, start_worker=False, zendesk=restricted) as stack:
        config = str(config_file(stack, tmp_path / "socialdesk.toml", webhook_secret="s3cret"))
        doctor = socialdesk("doctor", "--config", config)
        setup = socialdesk("setup", "zendesk", "--config", config)
        worker = socialdesk("worker", "--config", config, timeout=30)

        assert stack.zendesk.webhooks == [] and stack.zendesk.triggers == []
    said = (f"✗ zendesk credentials: zendesk: {ZENDESK_EMAIL} is an agent restricted to the tickets of its groups: "
            "socialdesk needs an API user that sees every ticket, or it could take a ticket hidden from it for a "
            "deleted one and open a duplicate; make it an admin, or give it access to all tickets (Admin Center > "
            "People > Team > Roles on Enterprise plans, else the agent's profile: Access)")  # fmt: skip
    assert doctor.returncode == 1 and said in doctor.stdout.splitlines()
    assert setup.returncode != 0 and "Traceback" not in setup.stderr
    assert "restricted to the tickets of its groups" in setup.stdout + setup.stderr
    assert one_line_failure(worker, EX_CONFIG) == said.replace("✗ zendesk credentials: ", "Error: ")
    assert ZENDESK_TOKEN not in doctor.stdout + setup.stdout + setup.stderr + worker.stderr


@pytest.mark.parametrize("scope", [2, 3])
def test_a_freshdesk_agent_that_cannot_see_every_ticket_fails_doctor_and_setup(tmp_path: Path, scope: int) -> None:
    """As for Zendesk: a group or restricted agent may get "not found" about a ticket outside its scope, which the
    bridge would take for a deleted ticket and open a duplicate: doctor names the agent, why, and what to change;
    setup prints no rule; the worker does not start."""
    with Stack(
        tmp_path, helpdesk="freshdesk", start_worker=False, freshdesk={"api_agent_ticket_scope": scope}
    ) as stack:
        raw = stack.raw_config()
        raw["bridge"]["public_url"] = stack.url
        path = tmp_path / "socialdesk.toml"
        path.write_text(to_toml(raw))
        doctor = socialdesk("doctor", "--config", str(path))
        setup = socialdesk("setup", "freshdesk", "--config", str(path))
        worker = socialdesk("worker", "--config", str(path), timeout=30)
    scoped = {2: "has group access (the tickets of its groups and those assigned to it)",
              3: "has restricted access (only the tickets assigned to it)"}[scope]  # fmt: skip
    said = (f"✗ freshdesk credentials: freshdesk: bridge@socialdesk.test {scoped}: socialdesk needs an API user that "
            "sees every ticket, or it could take a ticket hidden from it for a deleted one and open a duplicate; an "
            "admin can give it global access (Admin > Agents > the agent > Edit > Scope: Global access, or All "
            "tickets)")  # fmt: skip
    assert doctor.returncode == 1 and said in doctor.stdout.splitlines()
    assert setup.returncode != 0 and "Traceback" not in setup.stderr
    assert scoped in setup.stdout + setup.stderr and "Trigger webhook" not in setup.stdout
    assert one_line_failure(worker, EX_CONFIG) == said.replace("✗ freshdesk credentials: ", "Error: ")
    assert FRESHDESK_KEY not in doctor.stdout + setup.stdout + setup.stderr + worker.stderr


@pytest.mark.parametrize(
    ("helpdesk", "path"), [("zendesk", "/api/v2/users/me.json"), ("freshdesk", "/api/v2/agents/me")]
)
def test_a_helpdesk_url_where_no_helpdesk_answers_is_named_by_doctor_setup_and_the_worker(
    tmp_path: Path, helpdesk: str, path: str
) -> None:
    """The helpdesk's url set to an address that is not its API (here the bridge's own, a mistake one step away:
    both are URLs in the same file) answers the API user's read with a 404. The worker's start check stopped on it
    with "Error: zendesk: not found in Zendesk (HTTP 404)", doctor said the same: neither named the key nor what
    was asked. Now all three name the key, the address and the request."""
    with Stack(tmp_path, helpdesk=helpdesk, start_worker=False) as stack:
        raw = stack.raw_config()
        raw[helpdesk]["url"] = raw["bridge"]["public_url"] = stack.url
        config = tmp_path / "socialdesk.toml"
        config.write_text(to_toml(raw))
        doctor = socialdesk("doctor", "--config", str(config))
        setup = socialdesk("setup", helpdesk, "--config", str(config))
        worker = socialdesk("worker", "--config", str(config), timeout=30)
    example = f"https://acme.{helpdesk}.com"
    said = (f"{helpdesk}.url: no helpdesk API at {stack.url} (GET {path} answered no API user); {helpdesk}.url is "
            f"the account's address, like {example} (HTTP 404)")  # fmt: skip
    assert f"✗ {helpdesk} credentials: {said}" in doctor.stdout.splitlines()
    assert one_line_failure(worker, EX_CONFIG) == f"Error: {said}"
    assert setup.returncode == 1 and f"Error: {said}" in setup.stderr.splitlines()


@pytest.mark.parametrize("credential", ["api_token", "oauth_token"])
def test_refused_zendesk_credentials_are_named_by_their_keys(tmp_path: Path, credential: str) -> None:
    """A 401 said "check email and API token", also to an operator whose config has an oauth_token and no API
    token: the worker's start check, doctor and setup now name the keys to check."""
    with Stack(tmp_path, start_worker=False) as stack:
        raw = stack.raw_config()
        raw["zendesk"].pop("api_token")
        raw["zendesk"][credential] = "not-the-token"
        config = tmp_path / "socialdesk.toml"
        config.write_text(to_toml(raw))
        doctor = socialdesk("doctor", "--config", str(config))
        worker = socialdesk("worker", "--config", str(config), timeout=30)
    said = "zendesk: Zendesk refused the credentials (check zendesk.email, zendesk.api_token or oauth_token) (HTTP 401)"
    assert f"✗ zendesk credentials: {said}" in doctor.stdout.splitlines()
    assert one_line_failure(worker, EX_CONFIG) == f"Error: {said}"
    assert "not-the-token" not in doctor.stdout + worker.stderr


def test_setup_telegram_registers_the_webhook_with_its_secret(tmp_path: Path) -> None:
    with Stack(tmp_path, start_worker=False, platforms=("telegram",)) as stack:
        path = tmp_path / "socialdesk.toml"
        path.write_text(to_toml(stack.raw_config()))
        dry = socialdesk(
            "setup", "telegram", "--config", str(path), "--public-url", "https://bridge.acme.example", "--dry-run"
        )
        assert dry.returncode == 0 and "would call setWebhook" in dry.stdout and stack.telegram.webhook == {}
        done = socialdesk("setup", "telegram", "--config", str(path), "--public-url", "https://bridge.acme.example")
        assert done.returncode == 0, done.stderr
        assert stack.telegram.webhook["url"] == "https://bridge.acme.example/webhooks/telegram/acme-telegram"
        assert stack.telegram.webhook["secret_token"] == stack.telegram.secret_token
        assert stack.telegram.secret_token is not None
        assert stack.telegram.secret_token not in done.stdout + done.stderr


def test_doctor_on_freshdesk_checks_the_ticket_fields(tmp_path: Path) -> None:
    with Stack(tmp_path, helpdesk="freshdesk", start_worker=False) as stack:
        raw = stack.raw_config()
        raw["bridge"]["public_url"] = stack.url
        good = tmp_path / "good.toml"
        good.write_text(to_toml(raw))
        healthy = socialdesk("doctor", "--config", str(good))
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
        assert "✓ freshdesk credentials" in healthy.stdout
        assert f"✓ freshdesk setup: ticket fields present: {stack.freshdesk.thread_key_field}" in healthy.stdout

        raw["freshdesk"]["thread_key_field"] = "cf_not_created"  # every ticket create would fail with a 400
        bad = tmp_path / "bad.toml"
        bad.write_text(to_toml(raw))
        broken = socialdesk("doctor", "--config", str(bad))
        assert broken.returncode == 1, broken.stdout
        assert f"✗ freshdesk setup: {NO_THREAD_KEY_FIELD}" in broken.stdout.splitlines()

        del raw["freshdesk"]["thread_key_field"]  # optional: a lost create is found by its requester and message
        bad.write_text(to_toml(raw))
        unset = socialdesk("doctor", "--config", str(bad))
        assert unset.returncode == 0, unset.stdout
        assert ("✓ freshdesk setup: no custom ticket field written; a lost ticket create is found by its requester "
                "and message (no thread_key_field)") in unset.stdout.splitlines()  # fmt: skip


NO_THREAD_KEY_FIELD = ("freshdesk.thread_key_field: Freshdesk has no ticket field 'cf_not_created' (create it in "
                       "Admin → Ticket Fields as single-line text, or correct the setting)")  # fmt: skip


@pytest.mark.parametrize(
    ("helpdesk", "section", "key", "said"),
    [
        ("freshdesk", "freshdesk", "thread_key_field", NO_THREAD_KEY_FIELD),
        ("zendesk", "bridge", "rules_field", "bridge.rules_field: the helpdesk has no ticket field '360099999999'"),
    ],
)
def test_a_worker_whose_ticket_field_is_missing_refuses_to_start(
    tmp_path: Path, helpdesk: str, section: str, key: str, said: str
) -> None:
    """A ticket field the config names that the helpdesk lacks made every new ticket fail with a 400 and become a
    dead letter, and only doctor said why: the worker started anyway. Its start now runs doctor's field checks
    and stops in one line naming the key, as for an API user it refuses."""
    with Stack(tmp_path, helpdesk=helpdesk, start_worker=False) as stack:
        raw = stack.raw_config()
        raw[section][key] = "cf_not_created" if helpdesk == "freshdesk" else "360099999999"
        config = tmp_path / "socialdesk.toml"
        config.write_text(to_toml(raw))
        worker = socialdesk("worker", "--config", str(config), timeout=30)
        doctor = socialdesk("doctor", "--config", str(config))
    assert one_line_failure(worker, EX_CONFIG) == f"Error: {said}"  # a restart would not help: no restart loop
    assert doctor.returncode == 1 and said in doctor.stdout


def test_setup_for_the_other_helpdesk_says_which_to_run(stack: Stack, tmp_path: Path) -> None:
    config = str(config_file(stack, tmp_path / "socialdesk.toml"))  # a Zendesk bridge
    wrong = socialdesk("setup", "freshdesk", "--config", config)
    assert wrong.returncode != 0 and "Traceback" not in wrong.stderr
    assert "run `socialdesk setup zendesk`" in wrong.stdout + wrong.stderr


def test_doctor_on_a_fresh_install_creates_the_embedded_store_and_checks_everything(tmp_path: Path) -> None:
    """Before: '✗ database: OperationalError: ... no such table: inbox', and no later check ran. The embedded
    store migrates itself (serve and worker do it too); each failure is one readable line."""
    port = closed_port()
    local = f"http://127.0.0.1:{port}"
    raw = raw_config(zendesk_url=local, graph_url=f"{local}/v21.0", database_url=f"sqlite:///{tmp_path}/store.db",
                     queue_url=f"sqlite:///{tmp_path}/queue.db")  # fmt: skip
    raw["bridge"]["public_url"] = local
    path = tmp_path / "socialdesk.toml"
    path.write_text(to_toml(raw))
    result = socialdesk("doctor", "--config", str(path))
    lines = result.stdout.splitlines()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"✓ database: sqlite:///{tmp_path}/store.db (new: schema created)" in lines
    assert f"✓ database schema: revision {head_revision()}" in lines
    refused = f"connection to 127.0.0.1:{port} failed (connection refused)"
    assert f"✗ zendesk credentials: zendesk: {refused}" in lines
    assert f"✗ channel acme-facebook (facebook): facebook: {refused}" in lines
    assert f"✗ webhooks reachable: GET http://127.0.0.1:{port}/healthz: connection refused" in lines
    assert "✓ dead letters: none" in lines

    again = socialdesk("doctor", "--config", str(path))
    assert f"✓ database: sqlite:///{tmp_path}/store.db" in again.stdout.splitlines()  # created once
