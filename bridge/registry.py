"""Build connectors from config. The only place where ``bridge`` reaches into ``connectors``.

Connectors are named by dotted path and imported on demand (as sentry-python's integration registry
does), so a missing optional dependency fails with a clear "could not enable" message.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bridge import drivers
from bridge.approvals import ApprovalSettings
from bridge.classify.plugins import build_classifier
from bridge.config import ChannelConfig, Config, Section
from bridge.errors import ConfigError
from bridge.holding import Approvers
from bridge.leases import Leases
from bridge.pauses import pause_board
from bridge.ports import Crm, Helpdesk, SocialChannel
from bridge.retry import RetryPolicy
from bridge.routing import Triage
from bridge.rules import Classified, needs_classifier
from bridge.store import Store

HELPDESKS = {
    "zendesk": "connectors.zendesk:ZendeskHelpdesk",
    "freshdesk": "connectors.freshdesk:FreshdeskHelpdesk",
}
CRMS = {"salesforce": "connectors.salesforce:SalesforceCrm"}
CHANNELS = {
    "facebook": "connectors.meta:FacebookChannel",
    "instagram": "connectors.meta:InstagramChannel",
    "whatsapp": "connectors.whatsapp:WhatsAppChannel",
    "x": "connectors.x:XChannel",
    "telegram": "connectors.telegram:TelegramChannel",
    "generic": "connectors.http:GenericChannel",
}


def load_object(path: str, what: str) -> Any:
    """Import ``module:attribute``; a missing module or name is a :class:`ConfigError` naming ``what``."""
    module_name, _, attr = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"{what}: could not enable {path} ({e})") from e


def _construct(cls: type[Any], values: dict[str, Any], **extra: Any) -> Any:
    """Call ``cls`` with the config keys its constructor accepts (unknown keys are other layers')."""
    params = inspect.signature(cls).parameters
    kwargs = {k: v for k, v in {**values, **extra}.items() if k in params and v is not None}
    return cls(**kwargs)


def build_helpdesk(config: Config) -> Helpdesk:
    section: Section = config.helpdesk_section
    cls = load_object(HELPDESKS[config.helpdesk], f"bridge.helpdesk = {config.helpdesk}")
    return _construct(cls, section.plain())  # type: ignore[no-any-return]


def build_crm(config: Config) -> Crm | None:
    """The CRM named by ``[salesforce]``, or None when the section is absent."""
    if config.salesforce is None:
        return None
    cls = load_object(CRMS["salesforce"], "[salesforce]")
    return _construct(cls, config.salesforce.plain())  # type: ignore[no-any-return]


def build_channel(channel: ChannelConfig) -> SocialChannel:
    cls = load_object(CHANNELS[channel.platform], f"channels[{channel.name}]")
    return _construct(cls, channel.plain())  # type: ignore[no-any-return]


@dataclass
class Runtime:
    """Everything a worker needs, built once per process from the config."""

    config: Config
    store: Store
    helpdesk: Helpdesk
    channels: dict[str, SocialChannel]
    policy: RetryPolicy
    crm: Crm | None = None
    lease_ttl: float = 120.0  # how soon a dead worker's threads are free again
    triage: Triage = field(default_factory=Triage)  # the [[rules]], their names resolved once
    classify: Callable[[str], Classified] | None = None  # sentiment, urgency, language for the rules
    approvers: Approvers = field(default_factory=lambda: Approvers(ApprovalSettings()))  # [approvals]
    leases: Leases = field(init=False)
    last_classified: tuple[str, Classified] | None = field(default=None, repr=False)  # bridge.triage.classified

    def __post_init__(self) -> None:
        self.leases = Leases(self.store, self.lease_ttl)


def build_runtime(config: Config, *, store: Store | None = None) -> Runtime:
    drivers.require(config.queue_url, "queue_url")  # before the store migrates: a missing driver stops it first
    store = store or Store.from_url(config.database_url)
    return Runtime(
        config=config,
        store=store,
        helpdesk=build_helpdesk(config),
        channels={c.name: build_channel(c) for c in config.channels},
        policy=RetryPolicy(pause_board(config.queue_url, store)),
        crm=build_crm(config),
        lease_ttl=config.lease_seconds,
        triage=Triage(config.rules, explain_in=str(config.bridge.get("rules_field") or "") or None),
        approvers=Approvers(config.approvals),
        # the rules' sentiment, urgency and language: the classifier runs only when a rule asks for one of them
        classify=build_classifier(config.classifier).classify if _needs_classifier(config) else None,
    )


def _needs_classifier(config: Config) -> bool:
    """The rules look at sentiment, urgency or language, or a channel acknowledges (never cheerfully to anger) or
    has quick answers (never to anger either, and in the customer's language)."""
    return needs_classifier(config.rules) or bool(config.acks) or bool(config.quick)
