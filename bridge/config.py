"""Load and validate ``socialdesk.toml``: ``${ENV}`` interpolation, one declared schema, secrets masked.

Configuration is read once, at the edge (the CLI or the app factory), and handed down; connectors
never read the environment. Every section, key and value is checked at start against the pydantic
models below (unknown keys refused, with the likely intended key), and a bad file fails with one
:class:`ConfigError` line that names the key and what is wrong. A value is never shown when it is a
secret or came from the environment: the key is named, and ``${VAR}`` as written in the file.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from bridge.access import DEFAULT_TIMEZONE, Credential, DashboardSettings
from bridge.approvals import APPROVE_TAG, REJECT_TAG, ApprovalSettings
from bridge.calendarbook import CalendarConfig, check_references, parse_calendars
from bridge.classify.model import LANGUAGES, UNDETERMINED
from bridge.classify.plugins import ClassifierSettings
from bridge.classify.plugins import settings as classifier_settings
from bridge.errors import ConfigError
from bridge.figures import DEFAULT_QUIET_HOURS
from bridge.quick import QuickConfig
from bridge.quickbook import parse_quick
from bridge.replies import (
    DEFAULT_DELAY,
    DEFAULT_DISCLOSURE,
    AckConfig,
    TemplateError,
    check_templates,
)
from bridge.replyfrom import check as check_reply_from
from bridge.rulebook import check_names, parse_rules
from bridge.rules import Rule
from bridge.tablekeys import BadKey, check_crm_field, check_languages, entry_path

PLATFORMS = ("facebook", "instagram", "whatsapp", "x", "telegram", "generic")
HELPDESKS = ("zendesk", "freshdesk")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"[A-Za-z0-9_.-]+")

#: Keys whose values are secrets: masked in repr, logs and messages.
SECRET_KEYS = frozenset(
    {
        "api_token", "oauth_token", "webhook_secret", "api_key", "access_token", "password", "security_token",
        "app_secret", "verify_token", "consumer_secret", "access_token_secret", "bearer_token", "bot_token",
        "secret_token", "secret", "token",
    }
)  # fmt: skip
#: Keys whose values are never shown in a message either (a store URL may hold a password).
_UNSHOWN_KEYS = SECRET_KEYS | {"database_url", "queue_url"}

DEFAULT_API_URLS = {
    "facebook": "https://graph.facebook.com/v21.0",
    "instagram": "https://graph.facebook.com/v21.0",
    "whatsapp": "https://graph.facebook.com/v21.0",
    "x": "https://api.x.com",
    "telegram": "https://api.telegram.org",
}
DEFAULT_PRIVATE_MARKER = "#private"
DEFAULT_PRIVATE_TAG = "socialdesk_private"
DEFAULT_PRIVATE_NOTICE = "We've sent you a private message."
DEFAULT_CACHE_TTL = 3600.0


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
    """A config table with secrets wrapped and defaults filled in; :meth:`plain` unwraps for a connector."""

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
class MetricsSettings:
    """``[metrics]``: ``token``, when set, is the bearer token ``GET /metrics`` asks for (401 without it), and/or
    ``user`` and ``password`` (basic auth, as Prometheus's ``basic_auth`` sends);
    ``episode_quiet_hours``: the quiet period after which a customer's message opens an episode (bridge.figures);
    ``no_answer_rules`` / ``no_answer_tags``: a message one of these rules fired on, or that got one of these tags,
    needs no answer (its episode is left out of the response rate when all its messages are such)."""

    token: Secret | None = None
    credential: Credential = field(default_factory=Credential)  # the token and/or a user and password (basic)
    episode_quiet_hours: float = DEFAULT_QUIET_HOURS
    no_answer_rules: frozenset[str] = frozenset()
    no_answer_tags: frozenset[str] = frozenset()

    @property
    def quiet(self) -> float:
        """The quiet period in seconds."""
        return self.episode_quiet_hours * 3600.0


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
    acks: Mapping[str, AckConfig] = field(default_factory=dict)  # channel name → its [channels.ack] (bridge.replies)
    quick: Mapping[str, QuickConfig] = field(default_factory=dict)  # channel name → its [channels.quick] (bridge.quick)
    log_format: str = "text"  # [bridge] log_format: "text" or "json" (one object per line)
    lease_seconds: float = 120.0  # [bridge] lease_seconds: how soon a dead worker's threads are free again
    redispatch_after: float = 60.0  # [bridge] redispatch_after: an unfinished inbox row is re-enqueued after that
    metrics: MetricsSettings = field(default_factory=MetricsSettings)  # [metrics]: GET /metrics, episodes
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)  # [dashboard]: GET /dashboard (access)
    approvals: ApprovalSettings = field(default_factory=ApprovalSettings)  # [approvals]: bridge.approvals

    def channel(self, name: str) -> ChannelConfig | None:
        return next((c for c in self.channels if c.name == name), None)

    def channels_for(self, *platforms: str) -> list[ChannelConfig]:
        return [c for c in self.channels if c.platform in platforms]


# -- value types: each refuses a bad value with a message that never needs the value itself ---------------------

_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)


def _fail(message: str, **context: Any) -> PydanticCustomError:
    return PydanticCustomError("config", message, context)


def _http_url(value: str) -> str:
    try:
        _HTTP_URL.validate_python(value)
    except ValidationError:
        raise _fail("is not an http(s) URL") from None
    return value


def _telegram_secret(value: str) -> str:
    """setWebhook's ``secret_token``: "1-256 characters. Only characters A-Z, a-z, 0-9, _ and - are allowed"
    (core.telegram.org/bots/api#setwebhook). Another was accepted, and refused by Telegram at ``setup telegram``.
    The message never shows the value: it is a secret."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value):
        raise _fail("must be 1-256 of A-Z, a-z, 0-9, '_' and '-' (Telegram's rule for a webhook's secret token)")
    return value


LOGIN_MIN = 16  # characters of a [dashboard] / [metrics] token or password
_MAKE_ONE = 'python3 -c "import secrets; print(secrets.token_urlsafe(24))"'


def _long_login(value: str) -> str:
    """These pages show customers' figures (the dashboard, with ``show_text``, their words): a token or password
    of any length was accepted ("short" worked). The message never shows the value: it is a secret."""
    if len(value) < LOGIN_MIN:
        raise _fail(f"must be at least {LOGIN_MIN} characters (make one: {_MAKE_ONE})")
    return value


def _template_code(value: str) -> str:
    """A WhatsApp template's language code as Meta lists them: ``en``, ``en_US``, ``fil``, ``prs_AF`` (developers.
    facebook.com/documentation/business-messaging/whatsapp/templates/supported-languages; case-sensitive, an
    underscore). ``en-US`` or ``english`` was accepted and every re-engagement template then refused by Meta."""
    if not re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", value):
        raise _fail("is not a WhatsApp template language code like en, en_US or pt_BR")
    return value


_FRESHDESK_FIELD = re.compile(r"cf_[a-z0-9_]+")


def _freshdesk_field(value: str) -> str:
    """Freshdesk's API names a custom ticket field ``cf_<name>`` (the connector's own rule, and what
    ``custom_fields`` in a ticket's JSON is keyed by: github.com/sjkingo/python-freshdesk/issues/78). Refused at
    load with the likely name: it was said only when the connector was built (worker, doctor), not by serve."""
    problem = _freshdesk_field_problem(value)
    if problem:
        raise _fail(problem)
    return value


def _freshdesk_field_problem(value: str) -> str | None:
    """What is wrong with a Freshdesk custom ticket field's name, with the likely name; None if nothing."""
    if _FRESHDESK_FIELD.fullmatch(value):
        return None
    guess = "cf_" + re.sub(r"[^a-z0-9_]+", "_", value.lower().removeprefix("cf_")).strip("_")
    hint = f"did you mean {guess}?" if len(guess) > 3 else "cf_ and lowercase letters, digits or '_'"
    return f"is not a Freshdesk custom field name ({hint})"


def is_http_url(value: str) -> bool:
    """What ``bridge.public_url`` accepts, for the options that stand in for it (``setup --public-url``)."""
    try:
        _HTTP_URL.validate_python(value)
    except ValidationError:
        return False
    return True


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "required")
    return value


def _text_of_number(value: object) -> object:
    """Ids and tokens written as TOML integers (``account_id = 1234567890``) are read as their text."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


def _channel_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise _fail("is not a name: use letters, digits, '-', '_' or '.' only")
    return value


def _store_url(value: str) -> str:
    """A database or Redis URL. One "@" too many (a password with "@" not written "%40") would make the
    rest of the password read as the host name, and error messages print host names: refused here."""
    authority = value.partition("://")[2].split("/", 1)[0]
    if authority.count("@") > 1:
        raise _fail("more than one '@' before the host: write an '@' in the password as %40")
    return value


#: What a store URL may start with: the backends bridge.store and bridge.queue drive. Checked here, at load, so
#: that a wrong one is refused naming its key alone: a driver's own message quoted the value (the whole of it
#: when it held no ':', as a token pasted into the wrong variable does), and serve started with it.
DATABASE_SCHEMES = ("sqlite://", "postgresql://", "postgresql+psycopg://")
QUEUE_SCHEMES = ("sqlite:///", "redis://", "rediss://")


def _database_url(value: str) -> str:
    if value.startswith("postgres:"):  # Heroku's spelling, which SQLAlchemy refuses
        raise _fail("must start with postgresql:// (PostgreSQL is postgresql://, not postgres://)")
    return _one_of_schemes(value, DATABASE_SCHEMES)


def _queue_url(value: str) -> str:
    return _one_of_schemes(value, QUEUE_SCHEMES)


def _one_of_schemes(value: str, schemes: tuple[str, ...]) -> str:
    if not value.startswith(schemes):
        raise _fail(f"must start with {', '.join(schemes[:-1])} or {schemes[-1]}")
    return value


def _api_version(value: str) -> str:
    if not re.fullmatch(r"\d{2,3}\.0", value):
        raise _fail("must look like 59.0")
    return value


def is_days(value: object) -> TypeGuard[int | float]:
    """A number of days, 1 or more (finite: NaN would compare as "older" than everything on PostgreSQL)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and value >= 1


def _days(value: object) -> float:
    if not is_days(value):
        raise _fail("is not a number of days, 1 or more")
    return float(value)


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail("is not a whole number, 1 or more")
    return value


def _minute_step(value: object) -> int:
    """A minute step of the worker's crontab, so 1 to 59."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 59:
        raise _fail("is not a whole number from 1 to 59")
    return value


def retention_days(value: object, where: str) -> float:
    """:func:`is_days` for a value given outside the file (``prune --older-than``)."""
    if not is_days(value):
        raise ConfigError(f"{where}: {value!r} is not a number of days, 1 or more")
    return float(value)


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail("is not a time zone name (like Europe/Lisbon)") from None
    return value


Url = Annotated[str, AfterValidator(_http_url)]
Text = Annotated[str, BeforeValidator(_text_of_number), AfterValidator(_not_blank)]  # required, not blank
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
DatabaseUrl = Annotated[str, AfterValidator(_store_url), AfterValidator(_database_url)]
QueueUrl = Annotated[str, AfterValidator(_store_url), AfterValidator(_queue_url)]
LogLevel = Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], BeforeValidator(_upper)]
Days = Annotated[float, PlainValidator(_days)]
Count = Annotated[int, PlainValidator(_count)]
MinuteStep = Annotated[int, PlainValidator(_minute_step)]
ChannelName = Annotated[str, AfterValidator(_not_blank), AfterValidator(_channel_name)]
TimeZone = Annotated[str, AfterValidator(_time_zone)]
Share = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
LoginSecret = Annotated[Text, AfterValidator(_long_login)]


# -- the schema --------------------------------------------------------------------------------------------------


class _Table(BaseModel):
    """Every table refuses keys it does not declare, and TOML types are taken as written (no "30" → 30)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class BridgeSettings(_Table):
    database_url: DatabaseUrl = "sqlite:///socialdesk.db"
    queue_url: QueueUrl = "sqlite:///socialdesk-queue.db"
    helpdesk: Literal["zendesk", "freshdesk"] = "zendesk"
    public_url: Url | None = None
    log_level: LogLevel = "INFO"
    log_format: Literal["text", "json"] = "text"
    retention_days: Days | None = None
    lease_seconds: Seconds = 120.0
    redispatch_after: Seconds = 60.0
    schedule_refresh_minutes: MinuteStep = 15  # how often the worker re-reads the helpdesk's schedules
    rules_field: str | None = None  # the ticket field (id or name) the triage rules' explanation is written to


class ZendeskSettings(_Table):
    url: Url
    email: Text
    api_token: str | None = None
    oauth_token: str | None = None
    webhook_secret: str | None = None  # here, or stored by `socialdesk setup zendesk`
    timeout: Seconds | None = None

    @model_validator(mode="after")
    def _one_token(self) -> ZendeskSettings:
        if not (self.api_token or self.oauth_token):
            raise _fail("required (or zendesk.oauth_token)", key="api_token")
        return self


class FreshdeskSettings(_Table):
    url: Url
    api_key: Text
    webhook_secret: Text
    thread_key_field: Annotated[str, AfterValidator(_freshdesk_field)] | None = None
    custom_fields: dict[Annotated[str, AfterValidator(_freshdesk_field)], str | int | float | bool] | None = None
    rate_limit_reserve: Annotated[int, Field(ge=0)] | None = None
    timeout: Seconds | None = None


class SalesforceSettings(_Table):
    """Connection keys go to :class:`connectors.salesforce.SalesforceCrm` (its own defaults apply when
    absent); the enrichment and sync keys below them are read by the bridge, with their defaults here."""

    instance_url: Url | None = None
    access_token: str | None = None
    username: str | None = None
    password: str | None = None
    security_token: str | None = None
    domain: str | None = None
    consumer_key: str | None = None
    private_key_file: str | None = None
    api_version: Annotated[str, AfterValidator(_api_version)] | None = None
    fields: dict[Literal["contact", "account", "lead"], list[str]] | None = None
    handle_field: str | None = None
    default_account_id: str | None = None
    default_region: str | None = None
    usage_threshold: Share | None = None
    usage_recheck: Seconds | None = None
    timeout: Seconds | None = None
    vip_field: str = "account_type"
    vip_values: list[str] = []
    ticket_fields: dict[str, str] = {}  # CRM attribute → ticket field id (Zendesk) or name (Freshdesk)
    user_fields: dict[str, str] = {}  # CRM attribute → user field key (Zendesk) or contact field name (Freshdesk)
    user_notes: bool = True  # the CRM's summary in the user's notes (Zendesk) / contact's description (Freshdesk)
    crm_note: bool = False  # the CRM's summary as an internal note on each new ticket too: one more call
    cache_ttl: Annotated[float, Field(ge=0, allow_inf_nan=False)] = DEFAULT_CACHE_TTL
    retry_seconds: Seconds = 60.0
    write_back: bool = False
    on_delete: Literal["ignore", "tag", "suspend"] = "ignore"
    sync_every_minutes: Annotated[int, Field(ge=0)] = 0
    join_users: bool = True  # a customer the CRM knows is their Contact's helpdesk user (bridge.joins)


class ClassifierTable(_Table):
    """``[classifier]``: the keys and their types; what each kind needs is checked by
    :func:`bridge.classify.plugins.settings`, which makes the settings from it."""

    kind: str | None = None
    path: str | None = None
    url: str | None = None
    api_key: str | None = None
    timeout: Seconds | None = None
    options: dict[str, Any] | None = None


TemplateSet = str | dict[str, str]  # one template, or one per language with a "default"


class AckTable(_Table):
    """``[channels.ack]``: automatic acknowledgements (:mod:`bridge.replies`); templates checked at start."""

    instant: TemplateSet | None = None
    away: TemplateSet | None = None
    apology: TemplateSet | None = None
    delay: Annotated[float, Field(ge=0, allow_inf_nan=False)] = DEFAULT_DELAY
    public: bool = False
    disclosure: str = DEFAULT_DISCLOSURE

    @model_validator(mode="after")
    def _templates(self) -> AckTable:
        for kind in ("instant", "away", "apology"):
            try:
                check_templates(_templates(getattr(self, kind)) or {"default": ""}, kind)
            except TemplateError as e:
                raise _fail(e.problem, key=e.key) from None
        return self

    def settings(self) -> AckConfig:
        """The checked table as :class:`bridge.replies.AckConfig`."""
        return AckConfig(
            instant=_templates(self.instant), away=_templates(self.away), apology=_templates(self.apology),
            delay=self.delay, public=self.public, disclosure=self.disclosure,
        )  # fmt: skip


def _templates(value: TemplateSet | None) -> dict[str, str] | None:
    return {"default": value} if isinstance(value, str) else value


class _Channel(_Table):
    name: ChannelName
    calendar: str | None = None  # a [calendars.<name>]: its business hours and promise for this channel
    ack: AckTable | None = None  # automatic acknowledgements (bridge.replies)
    quick: dict[str, Any] | None = None  # quick answers, checked by bridge.quickbook (which names the key)
    reply_from: str | None = None  # the channel whose account posts the public replies (bridge.replyfrom)
    timeout: Seconds | None = None
    private_marker: str = DEFAULT_PRIVATE_MARKER
    private_tag: str = DEFAULT_PRIVATE_TAG
    private_notice: str = DEFAULT_PRIVATE_NOTICE


class _SplitChannel(_Channel):
    max_reply_parts: Count | None = None  # a longer reply is refused (connectors.base.send_parts)


class _MetaChannel(_SplitChannel):
    account_id: Text  # page id, Instagram user id, WhatsApp phone number id
    access_token: Text
    app_secret: Text
    verify_token: Text
    api_url: Url = DEFAULT_API_URLS["facebook"]


class FacebookChannel(_MetaChannel):
    platform: Literal["facebook"]


class InstagramChannel(_MetaChannel):
    platform: Literal["instagram"]


class WhatsAppChannel(_MetaChannel):
    platform: Literal["whatsapp"]
    reengagement_template: str | None = None
    template_language: Annotated[str, AfterValidator(_template_code)] | None = None


class XChannel(_SplitChannel):
    platform: Literal["x"]
    account_id: Text | None = None  # read from the token when absent
    consumer_key: Text
    consumer_secret: Text
    access_token: str | None = None
    access_token_secret: str | None = None
    bearer_token: str | None = None
    api_url: Url = DEFAULT_API_URLS["x"]


class TelegramChannel(_SplitChannel):
    platform: Literal["telegram"]
    account_id: Text | None = None  # read from the token when absent
    bot_token: Text
    secret_token: Annotated[str, AfterValidator(_telegram_secret)]
    api_url: Url = DEFAULT_API_URLS["telegram"]


class GenericChannel(_Channel):
    platform: Literal["generic"]
    account_id: Text | None = None  # read from the token when absent
    secret: Text
    callback_url: Url


AnyChannel = Annotated[
    FacebookChannel | InstagramChannel | WhatsAppChannel | XChannel | TelegramChannel | GenericChannel,
    Field(discriminator="platform"),
]
CHANNEL_MODELS: dict[str, type[_Channel]] = {
    "facebook": FacebookChannel, "instagram": InstagramChannel, "whatsapp": WhatsAppChannel, "x": XChannel,
    "telegram": TelegramChannel, "generic": GenericChannel,
}  # fmt: skip


class _Login(_Table):
    """A page's credential (``[metrics]``, ``[dashboard]``): a bearer ``token`` and/or a ``user`` with a
    ``password`` (basic auth), which go together."""

    token: LoginSecret | None = None
    user: Text | None = None
    password: LoginSecret | None = None

    @model_validator(mode="after")
    def _pair(self) -> _Login:
        if (self.user is None) != (self.password is None):
            missing, given = ("password", "user") if self.password is None else ("user", "password")
            raise _fail(f"required with {given}", key=missing)
        return self

    def credential(self) -> Credential:
        wrap = {k: Secret(v) if v else None for k, v in (("token", self.token), ("password", self.password))}
        return Credential(token=wrap["token"], user=self.user, password=wrap["password"])


class MetricsTable(_Login):
    """``[metrics]``: see :class:`MetricsSettings`."""

    episode_quiet_hours: Seconds = DEFAULT_QUIET_HOURS  # hours, any positive number
    no_answer_rules: list[Text] = []  # names of [[rules]]: checked against them
    # a tag as rules write them: "no reply" would be two tags in the helpdesk, and never match (it was accepted)
    no_answer_tags: list[Annotated[str, Field(pattern=r"^[\w:-]{1,32}$")]] = []


class DashboardTable(_Login):
    """``[dashboard]``: see :class:`bridge.access.DashboardSettings`."""

    show_text: bool = False
    timezone: TimeZone = DEFAULT_TIMEZONE


_TAG = r"^[a-z0-9_:-]{1,32}$"  # a tag as both helpdesks keep it: no spaces, lower case (Zendesk lowers it)


class ApprovalsTable(_Table):
    """``[approvals]``: :class:`bridge.approvals.ApprovalSettings`; agents and approvers by helpdesk id, email or
    name."""

    agents: list[Text] = []
    approvers: list[Text] = []  # who may answer (empty: any agent but the reply's author)
    approve_tag: Annotated[str, Field(pattern=_TAG)] = APPROVE_TAG
    reject_tag: Annotated[str, Field(pattern=_TAG)] = REJECT_TAG

    @model_validator(mode="after")
    def _two_tags(self) -> ApprovalsTable:
        if self.approve_tag == self.reject_tag:
            raise _fail("must differ from approve_tag", key="reject_tag")
        return self

    def settings(self) -> ApprovalSettings:
        return ApprovalSettings(tuple(self.agents), self.approve_tag, self.reject_tag, tuple(self.approvers))


class ConfigFile(_Table):
    """The whole ``socialdesk.toml``."""

    bridge: BridgeSettings = BridgeSettings()
    zendesk: ZendeskSettings | None = None
    freshdesk: FreshdeskSettings | None = None
    salesforce: SalesforceSettings | None = None
    classifier: ClassifierTable = ClassifierTable()
    metrics: MetricsTable = MetricsTable()
    dashboard: DashboardTable = DashboardTable()
    approvals: ApprovalsTable = ApprovalsTable()
    channels: list[AnyChannel] = []
    rules: list[dict[str, Any]] = []  # each rule is checked by bridge.rulebook, which names the rule and the key
    calendars: dict[str, Any] | None = None  # each calendar is checked by bridge.calendarbook

    @model_validator(mode="after")
    def _consistent(self) -> ConfigFile:
        helpdesk = self.bridge.helpdesk
        if getattr(self, helpdesk) is None:
            raise _fail(f"section required because bridge.helpdesk = {helpdesk!r}", path=f"[{helpdesk}]")
        names = [c.name for c in self.channels]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise _fail(f"duplicate {', '.join(duplicates)}", path="channels[].name")
        return self


SECTIONS: dict[str, type[_Table]] = {
    "bridge": BridgeSettings, "zendesk": ZendeskSettings, "freshdesk": FreshdeskSettings,
    "salesforce": SalesforceSettings, "classifier": ClassifierTable, "metrics": MetricsTable,
    "dashboard": DashboardTable,
    "approvals": ApprovalsTable,
}  # fmt: skip


# -- loading -----------------------------------------------------------------------------------------------------


def default_path() -> Path:
    return Path(os.environ.get("SOCIALDESK_CONFIG") or "socialdesk.toml")


def load(path: str | Path | None = None, *, env: Mapping[str, str] | None = None) -> Config:
    """Read, interpolate and validate a config file."""
    path = Path(path) if path else default_path()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found (use --config or SOCIALDESK_CONFIG)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {path} cannot be read ({getattr(e, 'strerror', None) or e})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    here = Path(os.path.abspath(path)).parent
    return parse(raw, env=os.environ if env is None else env, source=str(path), here=here)


def parse(
    raw: Mapping[str, Any], *, env: Mapping[str, str], source: str = "<memory>", here: Path | None = None
) -> Config:
    """Validate an already-decoded TOML document (used by :func:`load`, the demo and the tests). ``here``: the
    file's folder, which its relative paths are read from (None: left as written, for a document in memory)."""
    interpolate = _Interpolation(env, raw)
    data = interpolate(raw)
    try:
        checked = _anchored(ConfigFile.model_validate(data), here)
    except ValidationError as e:
        raise ConfigError(_one_line(e, raw, interpolate.templates)) from None
    try:
        return _config(checked, source)
    except ConfigError as e:  # rules, calendars, channels' links: checked past the schema, on the values
        raise ConfigError(interpolate.redact(str(e))) from None


# -- relative paths: from the file's folder, as alembic's %(here)s, whatever folder a command is started in --------

_SQLITE_FILE = re.compile(r"(sqlite(?:\+\w+)?:///)([^?]*)(.*)", re.DOTALL)


def _anchored(checked: ConfigFile, here: Path | None) -> ConfigFile:
    """The file's relative paths made absolute from its folder ``here``: read from the current directory,
    ``status`` run elsewhere quietly made and read a new empty store ("inbox empty", its ``--max-lag`` always
    passing), and a worker and a ``serve`` started in two folders used two stores."""
    if here is None:
        return checked
    bridge = checked.bridge.model_copy(update={"database_url": sqlite_from(checked.bridge.database_url, here),
                                               "queue_url": sqlite_from(checked.bridge.queue_url, here)})  # fmt: skip
    salesforce = checked.salesforce
    if salesforce is not None and salesforce.private_key_file:
        salesforce = salesforce.model_copy(update={"private_key_file": str(here / salesforce.private_key_file)})
    return checked.model_copy(update={"bridge": bridge, "salesforce": salesforce})


def sqlite_from(url: str, here: Path) -> str:
    """An SQLite URL whose file is relative, with the file under ``here``; any other URL unchanged (an absolute
    file ``sqlite:////srv/x.db``, ``:memory:``, a ``file:`` URI, PostgreSQL, Redis)."""
    match = _SQLITE_FILE.fullmatch(url)
    if match is None:
        return url
    scheme, path, rest = match.groups()
    if not path or path == ":memory:" or path.startswith("file:") or os.path.isabs(path):
        return url
    return f"{scheme}{here / path}{rest}"


def _config(checked: ConfigFile, source: str) -> Config:
    bridge = checked.bridge
    helpdesk = getattr(checked, bridge.helpdesk)
    rules = parse_rules(checked.rules, helpdesk=bridge.helpdesk)  # before the calendars, which rules may name
    classifier = classifier_settings(checked.classifier.model_dump(exclude_none=True))
    check_names(checked.rules, _condition_values(checked, classifier))
    if classifier.kind == "default":
        _check_template_languages(checked)
    _check_crm_names(checked.salesforce)
    if bridge.helpdesk == "freshdesk":
        _check_freshdesk_ticket_fields(checked)
    return Config(
        database_url=bridge.database_url,
        queue_url=bridge.queue_url,
        helpdesk=bridge.helpdesk,
        public_url=bridge.public_url,
        log_level=bridge.log_level,
        helpdesk_section=_section(bridge.helpdesk, helpdesk),
        channels=_channels(checked),
        salesforce=_section("salesforce", checked.salesforce) if checked.salesforce else None,
        bridge=bridge.model_dump(),
        retention_days=bridge.retention_days,
        classifier=classifier,
        source=source,
        rules=rules,
        calendars=_calendars(checked, rules),
        acks={c.name: c.ack.settings() for c in checked.channels if c.ack is not None},
        quick=_quick(checked),
        log_format=bridge.log_format,
        lease_seconds=bridge.lease_seconds,
        redispatch_after=bridge.redispatch_after,
        metrics=_metrics(checked.metrics, checked.rules),
        dashboard=_dashboard(checked.dashboard),
        approvals=checked.approvals.settings(),
    )


def _condition_values(checked: ConfigFile, classifier: ClassifierSettings) -> dict[str, tuple[str, ...]]:
    """What a rule's ``channel``, ``platform`` and ``language`` may name; languages only for the default
    classifier (an operator's own gives codes of its own)."""
    known = {"channel": tuple(c.name for c in checked.channels), "platform": PLATFORMS}
    return known | ({"language": (*LANGUAGES, UNDETERMINED)} if classifier.kind == "default" else {})


def _check_template_languages(checked: ConfigFile) -> None:
    """The per-language texts of acknowledgements, quick answers and rules' ``then.ack`` name languages the
    default classifier gives (an operator's own classifier has codes of its own: not checked)."""
    tables: list[tuple[str, object]] = []
    for channel in checked.channels:
        tables += [(f"channels[{channel.name}].ack", channel.ack.model_dump() if channel.ack else None),
                   (f"channels[{channel.name}].quick", channel.quick)]  # fmt: skip
    for index, rule in enumerate(checked.rules):
        tables.append((f"{entry_path('rules', rule, index)}.then", rule.get("then")))
    try:
        for where, table in tables:
            check_languages(table, where, LANGUAGES)
    except BadKey as e:
        raise ConfigError(f"{e.key}: {e.message}") from None


def _check_crm_names(salesforce: SalesforceSettings | None) -> None:
    """``vip_field`` and the keys of ``ticket_fields`` / ``user_fields`` are fields of the CRM's record."""
    if salesforce is None:
        return
    names = [("vip_field", salesforce.vip_field)]
    names += [(f"{table}.{name}", name) for table in ("ticket_fields", "user_fields")
              for name in getattr(salesforce, table)]  # fmt: skip
    try:
        for key, name in names:
            check_crm_field(name, key)
    except BadKey as e:
        raise ConfigError(f"salesforce.{e.key}: {e.message}") from None


def _check_freshdesk_ticket_fields(checked: ConfigFile) -> None:
    """On Freshdesk, ``[salesforce] ticket_fields``' values and ``[bridge] rules_field`` are keys of the ticket's
    ``custom_fields`` (the create and update calls), so ``cf_`` names as ``[freshdesk] custom_fields``' keys are;
    another was refused only by Freshdesk, on each new ticket (the CRM's or the rules' fields lost)."""
    named = [("bridge.rules_field", checked.bridge.rules_field)]
    if checked.salesforce is not None:
        named += [(f"salesforce.ticket_fields.{k}", v) for k, v in checked.salesforce.ticket_fields.items()]
    for key, value in named:
        problem = _freshdesk_field_problem(value) if value is not None else None
        if problem:
            raise ConfigError(f"{key}: {value!r} {problem}")


def _channels(checked: ConfigFile) -> tuple[ChannelConfig, ...]:
    channels = tuple(_channel(c) for c in checked.channels)
    check_reply_from(channels)
    _check_one_channel_per_account(channels)
    return channels


def _check_one_channel_per_account(channels: tuple[ChannelConfig, ...]) -> None:
    """Two channels for one account (a copied [[channels]] table) were accepted: the account's webhooks went to
    one of them, and the other's settings were never used."""
    seen: dict[tuple[str, str], str] = {}
    for channel in channels:
        key = (channel.platform, channel.account_id)
        if channel.account_id and key in seen:
            raise ConfigError(f"channels[{channel.name}].account_id: channels[{seen[key]}] already serves this "
                              f"{channel.platform} account (one channel per account)")  # fmt: skip
        seen.setdefault(key, channel.name)


def _quick(checked: ConfigFile) -> dict[str, QuickConfig]:
    helpdesk = checked.bridge.helpdesk
    return {
        c.name: parse_quick(c.quick, channel=c.name, platform=c.platform, helpdesk=helpdesk)
        for c in checked.channels
        if c.quick is not None
    }


def _metrics(table: MetricsTable, rules: list[dict[str, Any]]) -> MetricsSettings:
    token = Secret(table.token) if table.token else None
    named = {str(r.get("name")) for r in rules}
    unknown = sorted(set(table.no_answer_rules) - named)
    if unknown:
        raise ConfigError(f"metrics.no_answer_rules: no rule is named {unknown[0]!r}")
    return MetricsSettings(token=token, credential=table.credential(), episode_quiet_hours=table.episode_quiet_hours,
                           no_answer_rules=frozenset(table.no_answer_rules),
                           no_answer_tags=frozenset(table.no_answer_tags))  # fmt: skip


def _dashboard(table: DashboardTable) -> DashboardSettings:
    return DashboardSettings(credential=table.credential(), show_text=table.show_text, timezone=table.timezone)


def _calendars(checked: ConfigFile, rules: tuple[Rule, ...]) -> dict[str, CalendarConfig]:
    calendars = parse_calendars(checked.calendars)
    named = [(f"channels[{c.name}].calendar", c.calendar) for c in checked.channels]
    check_references(named + [(f"rules[{r.name}].then.calendar", r.then.calendar) for r in rules], calendars)
    return calendars


def _wrap(table: Mapping[str, Any]) -> dict[str, Any]:
    return {k: Secret(str(v)) if k in SECRET_KEYS and v is not None else v for k, v in table.items()}


def _section(name: str, model: _Table) -> Section:
    return Section(name, _wrap(model.model_dump(exclude_none=True)))


def _channel(model: _Channel) -> ChannelConfig:
    values = model.model_dump(exclude_none=True)
    return ChannelConfig(
        name=model.name, values=_wrap(values), platform=values["platform"], account_id=values.get("account_id", "")
    )


# -- ${VAR} interpolation, remembering what the file said so that messages show that, never the value ------------

Loc = tuple[int | str, ...]


@dataclass
class _Interpolation:
    env: Mapping[str, str]
    raw: Mapping[str, Any]
    templates: dict[Loc, str] = field(default_factory=dict)  # where a value came from ${VAR}: what the file says
    used: dict[str, str] = field(default_factory=dict)  # each variable read: its value

    def __call__(self, value: Any, loc: Loc = ()) -> Any:
        if isinstance(value, dict):
            return {k: self(v, (*loc, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v, (*loc, i)) for i, v in enumerate(value)]
        if not isinstance(value, str) or not _VAR.search(value):
            return value
        self.templates[loc] = value
        return _VAR.sub(lambda m: self._variable(m.group(1), loc), value)

    def _variable(self, name: str, loc: Loc) -> str:
        if name not in self.env:
            raise ConfigError(f"{_key(loc, self.raw)}: environment variable {name} is not set")
        self.used[name] = self.env[name]
        return self.env[name]

    def redact(self, message: str) -> str:
        """``message`` with every value read from the environment written as the file says it, ``${VAR}``
        (longest first, so that a value inside another is not half replaced)."""
        for name, value in sorted(self.used.items(), key=lambda item: -len(item[1])):
            message = message.replace(value, f"${{{name}}}") if value else message
        return message


# -- one line per bad file: the first problem, its key, and the value only when it is safe to show --------------


def _one_line(error: ValidationError, raw: Mapping[str, Any], templates: Mapping[Loc, str]) -> str:
    # an unknown key first: a misspelt required key is both, and its "did you mean" is the useful line
    problems = sorted(error.errors(include_url=False), key=lambda p: p["type"] != "extra_forbidden")
    first = _describe(problems[0], raw, templates)
    more = len(problems) - 1
    return first + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


def _describe(problem: ErrorDetails, raw: Mapping[str, Any], templates: Mapping[Loc, str]) -> str:
    loc, context = _loc(problem), problem.get("ctx") or {}
    if "path" in context:
        return f"{context['path']}: {problem['msg']}"
    if problem["type"] == "extra_forbidden":
        return _unknown(loc, raw)
    if problem["type"].startswith("union_tag"):  # the channel's platform: missing, or not one we know
        loc, problem = (*loc, "platform"), {**problem, "input": context.get("tag")}
    if "key" in context:
        loc = (*loc, context["key"])
    return f"{_key(loc, raw)}: {_shown(loc, problem, templates)}{_problem(problem)}"


def _loc(problem: ErrorDetails) -> Loc:
    """The key's place in the file: pydantic's path without the channel's platform tag or "[key]"."""
    loc = tuple(p for p in problem["loc"] if p != "[key]")
    return loc[:2] + loc[3:] if loc[:1] == ("channels",) and len(loc) > 2 else loc


_REQUIRED = ("missing", "blank", "union_tag_not_found")
_TYPES = {
    "model_type": "a table", "model_attributes_type": "a table", "dict_type": "a table", "list_type": "an array",
    "string_type": "text", "int_type": "a whole number", "float_type": "a number", "bool_type": "true or false",
}  # fmt: skip


def _problem(problem: ErrorDetails) -> str:
    kind, context = problem["type"], problem.get("ctx") or {}
    if kind in _REQUIRED:
        return "required"
    if kind in ("literal_error", "union_tag_invalid"):
        allowed = context.get("expected") or context.get("expected_tags") or ""
        return "is not one of " + ", ".join(re.findall(r"'([^']*)'", str(allowed)))
    if kind in _TYPES:
        return f"must be {_TYPES[kind]}"
    message = str(problem["msg"])
    return re.sub(r"^(Input|String|Value) should (be|have|match)", r"must \2", message)


def _shown(loc: Loc, problem: ErrorDetails, templates: Mapping[Loc, str]) -> str:
    """What the file says, quoted, when it is safe to show: ``'${VAR}'`` for an interpolated value (its
    value may be a secret: a token pasted into the wrong variable), nothing for a secret key."""
    value, last = problem.get("input"), next((p for p in reversed(loc) if isinstance(p, str)), "")
    if problem["type"] in _REQUIRED or last in _UNSHOWN_KEYS:
        return ""
    if loc in templates:
        return f"{templates[loc]!r} (from the environment) "
    shown = isinstance(value, str | int | float) and len(repr(value)) <= 80
    return f"{value!r} " if shown else ""


def _unknown(loc: Loc, raw: Mapping[str, Any]) -> str:
    """``retension_days`` → "unknown key (did you mean `retention_days`?)"; sections by their TOML header."""
    name = str(loc[-1])
    if len(loc) == 1:
        return _unknown_section(name, raw.get(name))
    moved = _MOVED.get((str(loc[-2]), name))
    if moved:
        return f"{_key(loc, raw)}: unknown key ({moved})"
    known = _known_keys(loc, raw)
    guess = difflib.get_close_matches(name, known, n=1)
    where = f" for platform {_platform(loc, raw)}" if loc[0] == "channels" and not guess else ""
    return f"{_key(loc, raw)}: unknown key{where}" + (f" (did you mean `{guess[0]}`?)" if guess else "")


#: Keys that were once elsewhere: (table, key) → where the setting is now.
_MOVED = {
    ("ack", "quiet_hours"): "the quiet period that starts a new episode is `episode_quiet_hours` under [metrics], "
    "one for the acknowledgements and the figures",
}


def _unknown_section(name: str, value: object) -> str:
    header = f"[[{name}]]" if isinstance(value, list) else f"[{name}]" if isinstance(value, dict) else name
    in_bridge = difflib.get_close_matches(name, list(BridgeSettings.model_fields), n=1)
    if in_bridge and not isinstance(value, dict | list):  # helpdsk = "freshdesk" above [bridge]
        return f"{name}: unknown key at the top of the file (did you mean `{in_bridge[0]}` under [bridge]?)"
    guess = difflib.get_close_matches(name, list(ConfigFile.model_fields), n=1)
    shown = (header.replace(name, guess[0]) if guess else "").strip()
    return f"{header}: unknown section" + (f" (did you mean `{shown}`?)" if guess else "")


def _known_keys(loc: Loc, raw: Mapping[str, Any]) -> list[str]:
    model: type[_Table] | None = SECTIONS.get(str(loc[0])) if len(loc) == 2 else None
    if loc[0] == "channels" and len(loc) == 3:
        model = CHANNEL_MODELS.get(_platform(loc, raw))
    return list(model.model_fields) if model else []


def _platform(loc: Loc, raw: Mapping[str, Any]) -> str:
    return str(_channel_table(raw, loc[1]).get("platform", "?"))


def _channel_table(raw: Mapping[str, Any], index: int | str) -> Mapping[str, Any]:
    channels = raw.get("channels")
    ok = isinstance(channels, list) and isinstance(index, int) and index < len(channels)
    table = channels[index] if ok else None  # type: ignore[index]
    return table if isinstance(table, dict) else {}


def _key(loc: Loc, raw: Mapping[str, Any]) -> str:
    """``bridge.log_level``, ``channels[acme-facebook].app_secret`` (the index when the name is no good)."""
    text = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            name = _channel_table(raw, part).get("name") if loc[:1] == ("channels",) and i == 1 else None
            good = isinstance(name, str) and _NAME.fullmatch(name) and not _VAR.search(name)
            text += f"[{name if good else part}]"
        else:
            text += f".{part}" if text else part
    return text
