"""What the Salesforce connector hands back: plain, JSON-friendly dataclasses, and its own error.

* :class:`CustomerRecord` is the customer behind a social identity, as an agent sees it on a ticket.
* :class:`ContactRow` is one Contact of the contact sync (helpdesk users keyed ``salesforce:<Id>``).
* :class:`FieldConfig` says which fields a lookup fetches.
* :class:`FeatureUnavailable` says that the org lacks what a feature needs (Social Customer Service).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from bridge import errors

MatchedBy = Literal["persona", "email", "phone", "handle"]
FIELD_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*){0,4}")

DEFAULT_CONTACT_FIELDS = ("Name", "Email", "Title", "Owner.Name")
DEFAULT_ACCOUNT_FIELDS = ("Name", "Type", "Industry", "AnnualRevenue")
DEFAULT_LEAD_FIELDS = ("Name", "Email", "Title", "Company", "Owner.Name")


class FeatureUnavailable(errors.PermanentError):
    """The Salesforce org lacks what this feature needs (SocialPersona / SocialPost without Social
    Customer Service). Permanent: the connector switches the feature off instead of retrying."""


@dataclass(frozen=True)
class FieldConfig:
    """Fields fetched by a lookup, by API name. ``account`` fields are read through the Contact's
    ``Account`` relationship (and directly when a persona belongs to an Account)."""

    contact: tuple[str, ...] = DEFAULT_CONTACT_FIELDS
    account: tuple[str, ...] = DEFAULT_ACCOUNT_FIELDS
    lead: tuple[str, ...] = DEFAULT_LEAD_FIELDS

    @classmethod
    def parse(cls, value: FieldConfig | Mapping[str, Sequence[str]] | None) -> FieldConfig:
        """From config: ``{"contact": [...], "account": [...], "lead": [...]}``; missing keys keep defaults.

        Names are checked here because they go into SOQL as names, not as quoted values.
        """
        if value is None or isinstance(value, FieldConfig):
            return value or cls()
        known = {"contact", "account", "lead"}
        unknown = sorted(k for k in value if k.lower() not in known)
        if unknown:
            raise errors.ConfigError(f"salesforce.fields: unknown object {unknown[0]!r} (use contact, account, lead)")
        chosen = {k.lower(): tuple(check_field_path(f, "salesforce.fields") for f in v) for k, v in value.items()}
        return cls(**chosen)


def check_field_path(name: str, key: str) -> str:
    """A field API name (or relationship path) safe to put into SOQL, or :class:`ConfigError`."""
    if not isinstance(name, str) or not FIELD_PATH.fullmatch(name):
        raise errors.ConfigError(f"{key}: {name!r} is not a Salesforce field name")
    return name


@dataclass(frozen=True)
class CustomerRecord:
    """The Contact, Lead or Account behind a social identity, with what an agent wants to see.

    ``fields`` holds every fetched field flattened by path (``"Account.Industry"``); ``url`` opens the
    record in Salesforce; ``persona_id`` is set when the match came through a SocialPersona; ``also_matched``
    counts the other Contacts the same email, phone or handle matched (the first is shown; none is joined).
    """

    id: str
    object_type: Literal["Contact", "Lead", "Account"]
    url: str
    matched_by: MatchedBy
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    title: str | None = None
    owner_name: str | None = None
    account_id: str | None = None
    account_name: str | None = None
    account_type: str | None = None
    account_industry: str | None = None
    account_annual_revenue: float | None = None
    open_cases: int = 0
    persona_id: str | None = None
    also_matched: int | None = None  # other Contacts matched as strongly (a shared phone or email): None for none
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def contact_id(self) -> str | None:
        return self.id if self.object_type == "Contact" else None

    @property
    def lead_id(self) -> str | None:
        return self.id if self.object_type == "Lead" else None

    def as_fields(self) -> dict[str, str]:
        """Flat strings (what :class:`bridge.ports.Crm` carries), empty values left out."""
        data = asdict(self)
        extra = data.pop("fields")
        flat = {k: v for k, v in data.items() if v not in (None, "")}
        flat |= {f"field:{k}": v for k, v in extra.items() if v not in (None, "")}
        return {k: str(v) for k, v in flat.items()}


@dataclass(frozen=True)
class ContactRow:
    """One Contact for the contact sync; ``deleted`` rows come from :meth:`deleted_contacts_since`."""

    id: str
    name: str | None
    email: str | None
    phone: str | None
    mobile_phone: str | None
    title: str | None
    account_id: str | None
    account_name: str | None
    modstamp: datetime
    deleted: bool = False
    #: what a look-up of this Contact says (:meth:`CustomerRecord.as_fields` names, but for what only a look-up
    #: knows: how it matched); what ``[salesforce] user_fields`` maps onto the synced user
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def external_id(self) -> str:
        """The helpdesk user's external id for this Contact."""
        return f"salesforce:{self.id}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["modstamp"] = self.modstamp.isoformat()
        data["external_id"] = self.external_id
        return data
