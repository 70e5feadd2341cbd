"""Load and validate ``socialdesk.toml``: ``${ENV}`` interpolation, typed sections, secrets masked.

Configuration is read once, at the edge (the CLI or the app factory), and handed down; connectors
never read the environment. A bad file fails at start with a :class:`ConfigError` that names the key
and what is wrong, and never prints a secret's value.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.calendarbook import CalendarConfig, check_references, parse_calendars
from bridge.classify.plugins import ClassifierSettings
from bridge.classify.plugins import settings as classifier_settings
from bridge.errors import ConfigError
from bridge.rulebook import parse_rules
from bridge.rules import Rule

PLATFORMS = ("facebook", "instagram", "whatsapp", "x", "telegram", "generic")
HELPDESKS = ("zendesk", "freshdesk")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

#: Keys whose values are secrets: masked in repr, logs and messages.
SECRET_KEYS = frozenset(
    {
        "api_token", "oauth_token", "webhook_secret", "api_key", "access_token", "password", "security_token",
        "app_secret", "verify_token", "consumer_secret", "access_token_secret", "bearer_token", "bot_token",
        "secret_token", "secret",
    }
)  # fmt: skip

#: Required keys of each ``[[channels]]`` entry, by platform (see DESIGN.md).
CHANNEL_KEYS: dict[str, tuple[str, ...]] = {
    "facebook": ("access_token", "app_secret", "verify_token"),
    "instagram": ("access_token", "app_secret", "verify_token"),
    "whatsapp": ("access_token", "app_secret", "verify_token"),
    "x": ("consumer_key", "consumer_secret"),
    "telegram": ("bot_token", "secret_token"),
    "generic": ("secret", "callback_url"),
}
HELPDESK_KEYS: dict[str, tuple[str, ...]] = {
    "zendesk": ("url", "email"),  # webhook_secret: here, or stored by `socialdesk setup zendesk`
    "freshdesk": ("url", "api_key", "webhook_secret"),
}
DEFAULT_API_URLS = {
    "facebook": "https://graph.facebook.com/v21.0",
    "instagram": "https://graph.facebook.com/v21.0",
    "whatsapp": "https://graph.facebook.com/v21.0",
    "x": "https://api.x.com",
    "telegram": "https://api.telegram.org",
}


class Secret:
    """A secret value: ``str()`` and ``repr()`` show ``'***'``; :meth:`reveal` hands it to a connector."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Section:
    """A config table with secrets wrapped; :meth:`plain` unwraps them for a connector's constructor."""

    name: str
    values: Mapping[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def plain(self, *exclude: str) -> dict[str, Any]:
        return {k: v.reveal() if isinstance(v, Secret) else v for k, v in self.values.items() if k not in exclude}

    def secret(self, key: str) -> str | None:
        value = self.values.get(key)
        return value.reveal() if isinstance(value, Secret) else value


@dataclass(frozen=True)
class ChannelConfig(Section):
    platform: str = ""
    account_id: str = ""


@dataclass(frozen=True)
class Config:
    database_url: str = field(repr=False)  # may hold a password (postgresql://user:pw@..., redis://:pw@...)
    queue_url: str = field(repr=False)
    helpdesk: str
    public_url: str | None
    log_level: str
    helpdesk_section: Section
    channels: tuple[ChannelConfig, ...]
    salesforce: Section | None = None
    bridge: Mapping[str, Any] = field(default_factory=dict, repr=False)  # holds the two URLs too
    retention_days: float | None = None  # [bridge] retention_days: the worker prunes finished work older than that
    classifier: ClassifierSettings = field(default_factory=ClassifierSettings)  # [classifier]: see bridge.classify
    source: str = "<memory>"
    rules: tuple[Rule, ...] = ()  # [[rules]]: triage, in order (bridge.rules)
    calendars: Mapping[str, CalendarConfig] = field(default_factory=dict)  # [calendars.<name>] (bridge.calendarbook)

    def channel(self, name: str) -> ChannelConfig | None:
        return next((c for c in self.channels if c.name == name), None)

    def channels_for(self, *platforms: str) -> list[ChannelConfig]:
        return [c for c in self.channels if c.platform in platforms]


def default_path() -> Path:
    return Path(os.environ.get("SOCIALDESK_CONFIG") or "socialdesk.toml")


def load(path: str | Path | None = None, *, env: Mapping[str, str] | None = None) -> Config:
    """Read, interpolate and validate a config file."""
    path = Path(path) if path else default_path()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found (use --config or SOCIALDESK_CONFIG)") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return parse(raw, env=os.environ if env is None else env, source=str(path))


def parse(raw: Mapping[str, Any], *, env: Mapping[str, str], source: str = "<memory>") -> Config:
    """Validate an already-decoded TOML document (used by :func:`load`, the demo and the tests)."""
    data = _interpolate(raw, env, "")
    bridge = _table(data, "bridge")
    helpdesk = _choice(bridge, "bridge.helpdesk", HELPDESKS, default="zendesk")
    helpdesk_section = _section(data, helpdesk, HELPDESK_KEYS[helpdesk])
    if helpdesk == "zendesk" and not (helpdesk_section.get("api_token") or helpdesk_section.get("oauth_token")):
        raise ConfigError("zendesk.api_token: required (or zendesk.oauth_token)")
    channels = tuple(_channel(c, i) for i, c in enumerate(_list(data, "channels")))
    _unique([c.name for c in channels], "channels[].name")
    calendars = parse_calendars(data.get("calendars"))
    _refresh_minutes(bridge)
    check_references([(c.name, c.get("calendar")) for c in channels], calendars)
    return Config(
        database_url=_store_url(bridge, "database_url", "sqlite:///socialdesk.db"),
        queue_url=_store_url(bridge, "queue_url", "sqlite:///socialdesk-queue.db"),
        helpdesk=helpdesk,
        public_url=bridge.get("public_url"),
        log_level=str(bridge.get("log_level", "INFO")).upper(),
        helpdesk_section=helpdesk_section,
        channels=channels,
        salesforce=Section("salesforce", _wrap(data["salesforce"])) if "salesforce" in data else None,
        bridge=bridge,
        retention_days=_retention_days(bridge),
        classifier=classifier_settings(_table(data, "classifier")),
        source=source,
        rules=parse_rules(data.get("rules"), helpdesk=helpdesk),
        calendars=calendars,
    )


def _store_url(bridge: Mapping[str, Any], key: str, default: str) -> str:
    """A database or Redis URL. One "@" too many (a password with "@" not written "%40") would make the
    rest of the password read as the host name, and error messages print host names: refused here, without
    the value, since it holds the password."""
    url = str(bridge.get(key, default))
    authority = url.partition("://")[2].split("/", 1)[0]
    if authority.count("@") > 1:
        raise ConfigError(f"bridge.{key}: more than one '@' before the host: write an '@' in the password as %40")
    return url


def _interpolate(value: Any, env: Mapping[str, str], where: str) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, env, f"{where}.{k}" if where else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            if m.group(1) not in env:
                raise ConfigError(f"{where}: environment variable {m.group(1)} is not set")
            return env[m.group(1)]

        return _VAR.sub(sub, value)
    return value


def _table(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: must be a table")
    return value


def _list(data: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"{key}: must be an array of tables ([[{key}]])")
    return value


def _choice(table: Mapping[str, Any], key: str, allowed: tuple[str, ...], *, default: str) -> str:
    value = table.get(key.rsplit(".", 1)[-1], default)
    if value not in allowed:
        raise ConfigError(f"{key}: {value!r} is not one of {', '.join(allowed)}")
    return str(value)


def _retention_days(bridge: Mapping[str, Any]) -> float | None:
    value = bridge.get("retention_days")
    return None if value is None else retention_days(value, "bridge.retention_days")


def retention_days(value: object, where: str) -> float:
    """A number of days, 1 or more (finite: NaN would compare as "older" than everything on PostgreSQL)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 1:
        raise ConfigError(f"{where}: {value!r} is not a number of days, 1 or more")
    return float(value)


def _wrap(table: Mapping[str, Any]) -> dict[str, Any]:
    return {k: Secret(str(v)) if k in SECRET_KEYS and v is not None else v for k, v in table.items()}


def _require(table: Mapping[str, Any], keys: tuple[str, ...], where: str) -> None:
    for key in keys:
        value = table.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ConfigError(f"{where}.{key}: required")


def _section(data: Mapping[str, Any], name: str, required: tuple[str, ...]) -> Section:
    table = _table(data, name)
    if not table:
        raise ConfigError(f"[{name}]: section required because bridge.helpdesk = {name!r}")
    _require(table, required, name)
    _url(table, "url", name)
    return Section(name, _wrap(table))


def _url(table: Mapping[str, Any], key: str, where: str) -> None:
    value = table.get(key)
    if value is not None and not re.match(r"^https?://[^\s/]+", str(value)):
        raise ConfigError(f"{where}.{key}: {value!r} is not an http(s) URL")


def _channel(table: dict[str, Any], index: int) -> ChannelConfig:
    where = f"channels[{index}]"
    _require(table, ("name", "platform"), where)
    platform = _choice(table, f"{where}.platform", PLATFORMS, default="")
    where = f"channels[{table['name']}]"
    required = CHANNEL_KEYS[platform] + (() if platform in ("telegram", "generic", "x") else ("account_id",))
    _require(table, required, where)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", str(table["name"])):
        raise ConfigError(f"{where}.name: use letters, digits, '-', '_' or '.' only")
    values = dict(table)
    values.setdefault("api_url", DEFAULT_API_URLS.get(platform))
    _url(values, "api_url", where)
    _url(values, "callback_url", where)
    _positive_int(values, "max_reply_parts", where)
    return ChannelConfig(
        name=str(table["name"]),
        values=_wrap(values),
        platform=platform,
        account_id=str(table.get("account_id", "")),
    )


def _positive_int(table: Mapping[str, Any], key: str, where: str) -> None:
    value = table.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigError(f"{where}.{key}: {value!r} is not a whole number, 1 or more")


def _refresh_minutes(bridge: Mapping[str, Any]) -> None:
    """``schedule_refresh_minutes``: a minute step of the worker's crontab, so 1 to 59."""
    value = bridge.get("schedule_refresh_minutes")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 59):
        raise ConfigError(f"bridge.schedule_refresh_minutes: {value!r} is not a whole number from 1 to 59")


def _unique(names: list[str], key: str) -> None:
    seen = {n for n in names if names.count(n) > 1}
    if seen:
        raise ConfigError(f"{key}: duplicate {', '.join(sorted(seen))}")
