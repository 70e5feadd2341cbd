from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bridge import config as config_module
from bridge.errors import ConfigError
from tests.conftest import ZD_TOKEN, raw_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "socialdesk.toml"
    path.write_text(text)
    return path


GOOD = """
[bridge]
helpdesk = "zendesk"

[zendesk]
url = "https://acme.zendesk.com"
email = "bridge@acme.com"
api_token = "${ZENDESK_API_TOKEN}"
webhook_secret = "${ZENDESK_WEBHOOK_SECRET}"

[[channels]]
name = "acme-facebook"
platform = "facebook"
account_id = "1234567890"
access_token = "${FB_PAGE_TOKEN}"
app_secret = "${META_APP_SECRET}"
verify_token = "${META_VERIFY_TOKEN}"
"""
ENV = {
    "ZENDESK_API_TOKEN": "tok-123",
    "ZENDESK_WEBHOOK_SECRET": "whsec",
    "FB_PAGE_TOKEN": "EAAB-secret",
    "META_APP_SECRET": "appsecret",
    "META_VERIFY_TOKEN": "vt-4f1c9",
}


def test_loads_interpolates_and_defaults(tmp_path: Path) -> None:
    cfg = config_module.load(write(tmp_path, GOOD), env=ENV)
    assert cfg.database_url == "sqlite:///socialdesk.db"
    assert cfg.queue_url == "sqlite:///socialdesk-queue.db"
    assert cfg.helpdesk_section.secret("api_token") == "tok-123"
    channel = cfg.channels[0]
    assert channel.account_id == "1234567890"
    assert channel.get("api_url") == "https://graph.facebook.com/v21.0"
    assert channel.plain()["access_token"] == "EAAB-secret"


def test_secrets_never_appear_in_repr(tmp_path: Path) -> None:
    cfg = config_module.load(write(tmp_path, GOOD), env=ENV)
    text = repr(cfg) + str(cfg.channels) + str(cfg.helpdesk_section)
    for secret in ENV.values():
        assert secret not in text
    assert "***" in text


@pytest.mark.parametrize("key", ["database_url", "queue_url"])
def test_a_password_with_a_raw_at_sign_is_refused_without_being_shown(key: str) -> None:
    raw = raw_config(**{key: "postgresql+psycopg://sd:DB@PASS_6@127.0.0.1/sd"})
    with pytest.raises(ConfigError) as refused:
        config_module.parse(raw, env={})
    assert f"bridge.{key}" in str(refused.value) and "%40" in str(refused.value) and "PASS_6" not in str(refused.value)
    encoded = raw_config(**{key: "postgresql+psycopg://sd:DB%40PASS_6@127.0.0.1/sd"})
    assert getattr(config_module.parse(encoded, env={}), key).endswith("@127.0.0.1/sd")


def test_the_database_and_redis_passwords_never_appear_in_repr() -> None:
    raw = raw_config(database_url="postgresql+psycopg://sd:DbPassw0rd@db.internal/sd",
                     queue_url="redis://:RedisPassw0rd@cache.internal:6379/0")  # fmt: skip
    text = repr(config_module.parse(raw, env={}))
    assert "Config(" in text and "DbPassw0rd" not in text and "RedisPassw0rd" not in text


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r["zendesk"].pop("email"), "zendesk.email: required"),
        (
            lambda r: r["zendesk"].update(url="acme.zendesk.com"),
            "zendesk.url: 'acme.zendesk.com' is not an http(s) URL",
        ),
        (lambda r: r["zendesk"].pop("api_token"), "zendesk.api_token: required"),
        (lambda r: r["bridge"].update(helpdesk="jira"), "bridge.helpdesk: 'jira' is not one of zendesk, freshdesk"),
        (lambda r: r["channels"][0].update(platform="myspace"), "channels[0].platform: 'myspace' is not one of"),
        (lambda r: r["channels"][0].pop("app_secret"), "channels[acme-facebook].app_secret: required"),
        (lambda r: r["channels"][0].update(account_id=""), "channels[acme-facebook].account_id: required"),
        (lambda r: r["channels"][0].update(name="a b"), "channels[a b].name: use letters"),
        (lambda r: r["channels"].append(dict(r["channels"][0])), "channels[].name: duplicate acme-facebook"),
        (lambda r: r.pop("zendesk"), "[zendesk]: section required"),
        (
            lambda r: r["channels"][0].update(max_reply_parts=0),
            "channels[acme-facebook].max_reply_parts: 0 is not a whole number, 1 or more",
        ),
    ],
)
def test_bad_config_names_the_key(mutate: Callable[[dict[str, Any]], object], message: str) -> None:
    raw = raw_config()
    mutate(raw)
    with pytest.raises(ConfigError) as info:
        config_module.parse(raw, env={})
    assert message in str(info.value)
    assert ZD_TOKEN not in str(info.value)


def test_missing_environment_variable_is_named(tmp_path: Path) -> None:
    env = {k: v for k, v in ENV.items() if k != "FB_PAGE_TOKEN"}
    with pytest.raises(ConfigError, match=r"channels\[0\].access_token: environment variable FB_PAGE_TOKEN is not set"):
        config_module.load(write(tmp_path, GOOD), env=env)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        config_module.load(tmp_path / "nope.toml", env={})
    with pytest.raises(ConfigError, match="not valid TOML"):
        config_module.load(write(tmp_path, "[bridge\n"), env={})
