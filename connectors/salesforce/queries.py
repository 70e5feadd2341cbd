"""The SOQL the connector sends, and how it reads the answers. Pure functions, no I/O.

Every value goes through simple-salesforce's ``format_soql`` (quoted and escaped), every field name
through :func:`connectors.salesforce.models.check_field_path` at configuration time: a handle such as
``x' OR Name != '`` stays one string literal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import phonenumbers
from simple_salesforce.format import format_soql

from connectors.salesforce.models import ContactRow, FieldConfig, MatchedBy

OPEN_CASES = "(SELECT Id FROM Cases WHERE IsClosed = false)"
MATCH_LIMIT = 20
PERSONA_PARENTS = {"003": "Contact", "00Q": "Lead", "001": "Account"}  # key prefixes of ParentId
SYNC_FIELDS = ("Id", "Name", "Email", "Phone", "MobilePhone", "Title", "AccountId", "Account.Name", "SystemModstamp")


def _unique(names: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.lower(), name)
    return list(seen.values())


def contact_fields(config: FieldConfig, handle_field: str | None) -> list[str]:
    """What a look-up reads of a Contact (and of its Account), besides its open Cases."""
    base = ["Id", "Name", "Email", "Phone", "MobilePhone", "AccountId", *([handle_field] if handle_field else [])]
    return _unique([*base, *config.contact, *(f"Account.{f}" for f in config.account)])


def contact_select(config: FieldConfig, handle_field: str | None) -> str:
    fields = contact_fields(config, handle_field)
    return f"SELECT {', '.join(fields)}, {OPEN_CASES} FROM Contact"  # noqa: S608 - names checked at config


def lead_select(config: FieldConfig) -> str:
    fields = _unique(["Id", "Name", "Email", "Phone", *config.lead])
    return f"SELECT {', '.join(fields)} FROM Lead"  # noqa: S608 - names checked at config


def account_select(config: FieldConfig) -> str:
    fields = _unique(["Id", *config.account, "Owner.Name"])
    return f"SELECT {', '.join(fields)}, {OPEN_CASES} FROM Account"  # noqa: S608 - names checked at config


def by_id(select: str, record_id: str) -> str:
    return select + format_soql(" WHERE Id = {} LIMIT 1", record_id)


def persona_query(provider: str, external_id: str) -> str:
    return format_soql(
        "SELECT Id, ParentId FROM SocialPersona WHERE Provider = {} AND ExternalId = {} ORDER BY CreatedDate LIMIT 1",
        provider,
        external_id,
    )


def match_query(
    select: str, *, email: str | None, phones: list[str], handle: str | None, handle_field: str | None
) -> str | None:
    """Contacts matching the email, one of the phone spellings or the handle; None without criteria."""
    criteria = []
    if email:
        criteria.append(format_soql("Email = {}", email))
    if phones:
        criteria += [format_soql("Phone IN {}", phones), format_soql("MobilePhone IN {}", phones)]
    if handle and handle_field:
        spellings = [handle, "@" + handle]  # some orgs keep the "@"
        criteria.append(format_soql("{field:literal} IN {value}", field=handle_field, value=spellings))
    if not criteria:
        return None
    return f"{select} WHERE {' OR '.join(criteria)} ORDER BY LastModifiedDate DESC LIMIT {MATCH_LIMIT}"


def sync_query(since: datetime | None, *, deleted: bool, looked_up: Sequence[str] = ()) -> str:
    """Contacts by (SystemModstamp, Id), from ``since`` inclusive: records of the same second come again.
    ``looked_up``: the fields a look-up reads (:func:`contact_fields`), read too with the open Cases, so that the
    sync writes the user fields a join would; a deleted Contact's key and name are enough."""
    names = _unique([*SYNC_FIELDS, *looked_up]) + (["IsDeleted"] if deleted else [])
    fields = ", ".join(names) + (f", {OPEN_CASES}" if looked_up and not deleted else "")
    conditions = (["IsDeleted = true"] if deleted else []) + (
        [format_soql("SystemModstamp >= {}", since)] if since else []
    )
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"SELECT {fields} FROM Contact{where} ORDER BY SystemModstamp ASC, Id ASC"  # noqa: S608 - constants


# -- phone numbers -------------------------------------------------------------------------------------------


def e164(raw: str | None, *, region: str | None = None, international: bool = False) -> str | None:
    """A phone number as E.164 (``+14155550100``), or None when it cannot be read safely.

    ``international`` says that bare digits carry their country code (WhatsApp's ``wa_id``); otherwise
    a number without ``+`` needs ``region``: guessing would turn ``4155550100`` into a Swiss number.
    """
    text = (raw or "").strip()
    if not text:
        return None
    if international and not text.startswith("+"):
        text = "+" + "".join(c for c in text if c.isdigit())
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_spellings(number: str) -> list[str]:
    """The ways a CRM user may have typed an E.164 number, for an exact-match ``IN`` filter."""
    parsed = phonenumbers.parse(number, None)
    formats = phonenumbers.PhoneNumberFormat
    international = phonenumbers.format_number(parsed, formats.INTERNATIONAL)
    national = phonenumbers.format_number(parsed, formats.NATIONAL)
    significant = phonenumbers.national_significant_number(parsed)
    local = international.split(" ", 1)[1] if " " in international else significant
    spellings = [number, number[1:], "00" + number[1:], international, international.replace("-", " "), national]
    spellings += [significant, local, local.replace("-", " "), local.replace("-", "")]
    return _unique(spellings)


def region_of(number: str) -> str | None:
    return phonenumbers.region_code_for_number(phonenumbers.parse(number, None))


# -- reading answers -------------------------------------------------------------------------------------------


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"Account": {"Name": "Acme"}}`` → ``{"Account.Name": "Acme"}``; attributes and subqueries dropped."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if key == "attributes" or (isinstance(value, Mapping) and "records" in value):
            continue
        if isinstance(value, Mapping):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def open_cases(record: Mapping[str, Any]) -> int:
    """The open Cases subquery: ``null`` when there are none, else its ``totalSize``."""
    cases = record.get("Cases")
    return int(cases.get("totalSize") or 0) if isinstance(cases, Mapping) else 0


def best_match(
    records: list[Mapping[str, Any]],
    *,
    email: str | None,
    phone: str | None,
    handle: str | None,
    handle_field: str | None,
) -> tuple[Mapping[str, Any], MatchedBy, int] | None:
    """The record matched by the strongest criterion: email, then phone, then handle; and how many other
    records matched by the same one (a shared line or address: which of them wrote is then a guess)."""
    ranked: list[tuple[int, int, MatchedBy, Mapping[str, Any]]] = []
    for position, record in enumerate(records):
        how = _how(record, email=email, phone=phone, handle=handle, handle_field=handle_field)
        if how is not None:
            ranked.append((("email", "phone", "handle").index(how), position, how, record))
    if not ranked:
        return None
    rank, _, how, record = min(ranked, key=lambda item: item[:2])
    return record, how, sum(1 for item in ranked if item[0] == rank) - 1


def _how(
    record: Mapping[str, Any], *, email: str | None, phone: str | None, handle: str | None, handle_field: str | None
) -> MatchedBy | None:
    if email and str(record.get("Email") or "").casefold() == email.casefold():
        return "email"
    if phone:
        region = region_of(phone)
        if any(e164(record.get(f), region=region) == phone for f in ("Phone", "MobilePhone")):
            return "phone"
    if handle and handle_field:
        stored = str(field_value(record, handle_field) or "").lstrip("@").casefold()
        if stored and stored == handle.casefold():
            return "handle"
    return None


def field_value(record: Mapping[str, Any], name: str) -> Any:
    """A field by API name, whatever its spelling in the config (SOQL names are case-insensitive)."""
    if name in record:
        return record[name]
    return next((v for k, v in record.items() if k.lower() == name.lower()), None)


def parse_modstamp(value: Any) -> datetime:
    """``2024-05-01T12:34:56.000+0000`` → an aware datetime."""
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def contact_row(raw: Mapping[str, Any], *, deleted: bool, fields: Mapping[str, str] | None = None) -> ContactRow:
    account = raw.get("Account") if isinstance(raw.get("Account"), Mapping) else {}
    return ContactRow(
        id=str(raw["Id"]),
        name=raw.get("Name"),
        email=raw.get("Email"),
        phone=raw.get("Phone"),
        mobile_phone=raw.get("MobilePhone"),
        title=raw.get("Title"),
        account_id=raw.get("AccountId"),
        account_name=account.get("Name") if account else None,
        modstamp=parse_modstamp(raw["SystemModstamp"]),
        deleted=deleted,
        fields=dict(fields or {}),
    )


def account_fields(object_type: str, flat: Mapping[str, Any], record_id: str) -> dict[str, Any]:
    """The account part of a record: through ``Account.`` for a Contact, its own for an Account, the
    ``Company`` text for a Lead."""
    if object_type == "Lead":
        return {"account_name": flat.get("Company")}
    prefix = "Account." if object_type == "Contact" else ""
    return {
        "account_id": flat.get("AccountId") if object_type == "Contact" else record_id,
        "account_name": flat.get(f"{prefix}Name"),
        "account_type": flat.get(f"{prefix}Type"),
        "account_industry": flat.get(f"{prefix}Industry"),
        "account_annual_revenue": _number(flat.get(f"{prefix}AnnualRevenue")),
    }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# -- social objects --------------------------------------------------------------------------------------------

#: Platform → SocialPersona / SocialPost ``Provider`` picklist value.
PROVIDERS = {
    "facebook": "Facebook",
    "messenger": "Messenger",
    "instagram": "Instagram",
    "whatsapp": "WhatsApp",
    "x": "Twitter",
    "twitter": "Twitter",
    "telegram": "Telegram",
    "linkedin": "LinkedIn",
    "youtube": "YouTube",
}
PRIVATE_THREADS = ("messenger", "dm", "direct", "chat", "message")


def provider_for(platform: str) -> str:
    return PROVIDERS.get(platform.lower(), "Other")


def message_type(platform: str, thread_id: str, *, outbound: bool) -> str:
    """The SocialPost ``MessageType`` (Comment, Direct, Post, Private, Reply, Tweet) for a thread."""
    kind = thread_id.split(":", 1)[0]
    if kind in PRIVATE_THREADS or platform in ("whatsapp", "telegram"):
        return "Direct" if platform in ("x", "instagram") else "Private"
    if outbound:
        return "Reply"
    if platform == "x":
        return "Tweet"
    return "Post" if kind == "post" else "Comment"


def post_key(platform: str, message_id: str) -> str:
    """The ``R6PostId`` (upsert key) of a post: unique across platforms, stable across redeliveries."""
    return f"{platform}:{message_id}"
