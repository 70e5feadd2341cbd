"""The Freshdesk simulator's records: how agents, contacts, tickets and conversations look and are checked.

Shapes are those of the reference's examples in ``fixtures/freshdesk`` (``contact_create.response.json``,
``ticket_create.response.json``, ``ticket_reply.response.json``, ``ticket_note.response.json``), plus the
fields the current API adds to them (``custom_fields``, ``unique_external_id``, ``facebook_id``,
``source`` on conversations).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sandbox.freshdesk.wire import error, mismatch, missing, now_iso, of_type, one_of, text_of, unexpected

STATUSES = {"open": 2, "pending": 3, "resolved": 4, "closed": 5}
PRIORITIES = (1, 2, 3, 4)
#: The ticket_type field's choices on a new account (best effort: an admin edits them in Admin → Ticket Fields).
TICKET_TYPES = ("Question", "Incident", "Problem", "Feature Request", "Refund")
SOURCE_CHOICES = {"Email": 1, "Portal": 2, "Phone": 3, "Forum": 4, "Twitter": 5, "Facebook": 6, "Chat": 7,
                  "Feedback Widget": 9}  # GET /api/v2/ticket_fields, as in the fixture  # fmt: skip
CREATE_SOURCES = (1, 2, 3, 7, 9, 10)  # documented as accepted on create; 5 (Twitter) and 6 (Facebook) are not
REPLY, NOTE = 0, 2  # conversation sources (fixtures/freshdesk/conversation_source_values.excerpt.txt)
TEXT_MAX = 255
TIME_ZONE = "Eastern Time (US & Canada)"
#: An agent's ``ticket_scope``: "Ticket permission of the agent (1 -> Global Access, 2 -> Group Access, 3 -> Restricted
#: Access)" (Freshdesk API v2, Agents, developers.freshdesk.com/api/#agents; the agent UI's Scope: Global sees every
#: ticket, Groups the tickets of its groups and those assigned to it, Restricted only those assigned to it:
#: support.freshdesk.com/support/solutions/articles/196886).
TICKET_SCOPES = {1: "global", 2: "group", 3: "restricted"}

CONTACT_FIELDS = (
    "name", "email", "phone", "mobile", "twitter_id", "facebook_id", "unique_external_id", "other_emails",
    "company_id", "view_all_tickets", "address", "description", "job_title", "language", "time_zone", "tags",
    "custom_fields",
)  # fmt: skip
CONTACT_IDENTIFIERS = ("email", "phone", "mobile", "twitter_id", "unique_external_id", "facebook_id")
UNIQUE_CONTACT_FIELDS = ("email", "twitter_id", "facebook_id", "unique_external_id")
MAX_OTHER_EMAILS = 9  # "a maximum of 10 emails ... saved to a contact" (Freshdesk's "Merging contacts" article)
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
REQUESTER_FIELDS = ("requester_id", "email", "phone", "twitter_id", "facebook_id", "unique_external_id")
TICKET_CREATE_FIELDS = (
    *REQUESTER_FIELDS, "name", "subject", "type", "status", "priority", "description", "responder_id", "cc_emails",
    "custom_fields", "due_by", "fr_due_by", "email_config_id", "group_id", "product_id", "source", "tags",
    "company_id", "parent_id",
)  # fmt: skip
TICKET_UPDATE_FIELDS = ("subject", "type", "status", "priority", "description", "responder_id", "group_id", "tags")
NOTE_FIELDS = ("body", "private", "incoming", "user_id", "notify_emails")
REPLY_FIELDS = ("body", "from_email", "user_id", "cc_emails", "bcc_emails")
CONVERSATION_KEYS = (
    "body", "body_text", "id", "incoming", "private", "user_id", "support_email", "source", "ticket_id",
    "to_emails", "from_email", "cc_emails", "bcc_emails", "attachments", "created_at", "updated_at",
)  # fmt: skip
REPLY_KEYS = (
    "body_text", "body", "structured_body", "id", "user_id", "from_email", "cc_emails", "bcc_emails", "ticket_id",
    "replied_to", "attachments", "created_at", "updated_at",
)  # fmt: skip
NOTE_KEYS = (
    "body_text", "body", "structured_body", "id", "incoming", "private", "user_id", "support_email", "ticket_id",
    "notified_to", "attachments", "created_at", "updated_at",
)  # fmt: skip


# -- agents and contacts ---------------------------------------------------------------------------------------


def new_agent(agent_id: int, name: str, email: str) -> dict[str, Any]:
    """``GET /agents/me``: the agent with their contact details nested under ``contact``."""
    now = now_iso()
    contact = {
        "active": True,
        "email": email,
        "job_title": None,
        "language": "en",
        "last_login_at": now,
        "mobile": None,
        "name": name,
        "phone": None,
        "time_zone": TIME_ZONE,
        "created_at": now,
        "updated_at": now,
    }
    return {
        "available": True,
        "occasional": False,
        "id": agent_id,
        "ticket_scope": 1,
        "signature": None,
        "group_ids": [],
        "role_ids": [],
        "skill_ids": [],
        "available_since": None,
        "contact": contact,
        "created_at": now,
        "updated_at": now,
        "type": "support_agent",
    }


def new_group(group_id: int, name: str, agent_ids: list[int]) -> dict[str, Any]:
    """``GET /api/v2/groups``' items (the Groups reference's example keys)."""
    now = now_iso()
    return {
        "id": group_id, "name": name, "description": None, "escalate_to": None, "unassigned_for": "30m",
        "business_hour_id": None, "group_type": "support_agent_group", "agent_ids": agent_ids,
        "auto_ticket_assign": False, "created_at": now, "updated_at": now,
    }  # fmt: skip


def new_contact(contact_id: int, data: dict[str, Any], custom_fields: Sequence[str] = ()) -> dict[str, Any]:
    now = now_iso()
    contact: dict[str, Any] = {
        "active": False, "address": None, "company_id": None, "view_all_tickets": False, "deleted": False,
        "description": None, "email": None, "id": contact_id, "contact_type": "contact", "job_title": None,
        "language": "en", "mobile": None, "name": None, "phone": None, "time_zone": TIME_ZONE, "twitter_id": None,
        "facebook_id": None, "unique_external_id": None, "social_handler": [], "other_emails": [],
        "other_companies": [], "custom_fields": {}, "created_at": now, "updated_at": now, "tags": [], "avatar": None,
    }  # fmt: skip
    contact.update({k: v for k, v in data.items() if k in CONTACT_FIELDS})
    contact["custom_fields"] = {**dict.fromkeys(custom_fields), **(data.get("custom_fields") or {})}
    return contact


#: ``GET /api/v2/contact_fields``' default fields the bridge writes, as in Freshdesk's solution article 216553
#: (support.freshdesk.com, "Create and update contacts with custom fields using APIs"): ``default_<name>``.
DEFAULT_CONTACT_FIELDS = ("name", "email", "phone", "twitter_id", "unique_external_id", "description")


def contact_fields(custom: Sequence[str]) -> list[dict[str, Any]]:
    fields = [(name, f"default_{name}", True) for name in DEFAULT_CONTACT_FIELDS]
    fields += [(name, "custom_text", False) for name in custom]
    return [
        {"id": i, "name": name, "label": name.replace("_", " ").capitalize(), "position": i, "type": kind,
         "default": default, "customers_can_edit": False, "required_for_agents": name == "name"}
        for i, (name, kind, default) in enumerate(fields, 1)
    ]  # fmt: skip


def contact_errors(data: dict[str, Any]) -> list[dict[str, Any]]:
    errors = unexpected(data, CONTACT_FIELDS)
    errors += [missing("name")] if "name" not in data else of_type(data, "name", str)
    errors += [e for f in CONTACT_IDENTIFIERS if f != "email" for e in of_type(data, f, str)]
    return errors + other_emails_errors(data) + identity_errors(data)


def contact_update_errors(data: dict[str, Any], contact: dict[str, Any]) -> list[dict[str, Any]]:
    """A contact's fields on ``PUT``: known, identifiers strings (or null to clear them); then the contact as the
    update leaves it is checked as a new one is (an identifier left, its email well formed)."""
    errors = unexpected(data, CONTACT_FIELDS)
    errors += [
        e for f in (*CONTACT_IDENTIFIERS, "description") if data.get(f) is not None for e in of_type(data, f, str)
    ]
    return errors + other_emails_errors(data) + (identity_errors({**contact, **data}) if not errors else [])


def identity_errors(contact: dict[str, Any]) -> list[dict[str, Any]]:
    """What Freshdesk requires of a contact on create and update alike: an identifier, an email well formed."""
    errors = []
    if not any(contact.get(k) for k in CONTACT_IDENTIFIERS):
        message = "Please fill at least 1 of email, mobile, phone, twitter_id, unique_external_id fields"
        errors.append(error("email", message, "missing_field"))  # best effort wording
    email = contact.get("email")
    if email is not None and not EMAIL.fullmatch(str(email)):
        errors.append(error("email", "It should be in the 'valid email address' format", "invalid_value"))
    return errors


def other_emails_errors(data: dict[str, Any]) -> list[dict[str, Any]]:
    """``other_emails``: an array of email addresses (a contact has up to 10 emails in all, its own among them)."""
    given = data.get("other_emails")
    if "other_emails" not in data:
        return []
    if not isinstance(given, list) or not all(isinstance(e, str) for e in given):
        return [mismatch("other_emails", given, list)]
    if len(given) > MAX_OTHER_EMAILS:
        return [error("other_emails", f"It should contain at most {MAX_OTHER_EMAILS} elements", "invalid_value")]
    bad = [e for e in given if not EMAIL.fullmatch(e)]
    return [
        error("other_emails", "It should contain elements in the 'valid email address' format", "invalid_value")
    ] * bool(bad)


def duplicate(field: str, owner_id: int) -> dict[str, Any]:
    """The 409 item that names the contact already holding a unique value."""
    return error(field, "It should be a unique value", "duplicate_value", additional_info={"user_id": owner_id})


# -- tickets -------------------------------------------------------------------------------------------------------


def ticket_errors(data: dict[str, Any], custom_fields: Sequence[str], *, creating: bool) -> list[dict[str, Any]]:
    allowed = TICKET_CREATE_FIELDS if creating else (*TICKET_UPDATE_FIELDS, "custom_fields")
    errors = unexpected(data, allowed)
    if data.get("type") is not None and data["type"] not in TICKET_TYPES:
        errors.append(error("type", f"It should be one of these values: '{','.join(TICKET_TYPES)}'", "invalid_value"))
    for field in ("subject", "description"):
        errors += [missing(field)] if creating and field not in data else of_type(data, field, str)
    checks = (("status", tuple(STATUSES.values())), ("priority", PRIORITIES), ("source", CREATE_SOURCES))
    errors += [e for field, values in checks if field in data for e in one_of(field, data[field], values)]
    errors += of_type(data, "tags", list)
    if isinstance(data.get("tags"), list) and not all(isinstance(t, str) for t in data["tags"]):
        errors.append(error("tags", "It should contain elements of type String only", "datatype_mismatch"))
    return errors + custom_field_errors(data.get("custom_fields", {}), custom_fields)


def requester_errors(data: dict[str, Any], given: str, found: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A requester named by a contact field (reference, Create a Ticket): "A contact should exist with this
    facebook_id in Freshdesk" (the other fields make a contact when none has the value); "If the phone number is set
    and the email address is not, then the name attribute is mandatory". Best effort: the facebook_id item's message
    (worded as the requester_id one), and a null or blank name refused as a missing one."""
    errors = []
    if given == "facebook_id" and found is None:
        errors.append(error("facebook_id", "There is no contact matching the given facebook_id", "invalid_value"))
    if data.get("phone") and not data.get("email") and not data.get("name"):
        errors.append(missing("name"))
    return errors


def custom_field_errors(fields: Any, known: Sequence[str]) -> list[dict[str, Any]]:
    """Custom fields are named ``cf_...``; the simulator's are single-line text fields (255 characters)."""
    if not isinstance(fields, dict):
        return [mismatch("custom_fields", fields, dict)]
    errors = unexpected(fields, known)
    for name, value in fields.items():
        if value is not None and not isinstance(value, str):
            errors.append(mismatch(name, value, str))
        elif value is not None and len(value) > TEXT_MAX:
            message = f"Has {len(value)} characters, it can have maximum of {TEXT_MAX} characters"  # best effort
            errors.append(error(name, message, "invalid_value"))
    return errors


def new_ticket(
    ticket_id: int, data: dict[str, Any], requester: dict[str, Any], custom_fields: Sequence[str]
) -> dict[str, Any]:
    """The ticket as ``POST /tickets`` answers it (``ticket_create.response.json`` + ``custom_fields``)."""
    now, description, cc = now_iso(), str(data["description"]), list(data.get("cc_emails") or [])
    return {
        "cc_emails": cc, "fwd_emails": [], "reply_cc_emails": cc, "email_config_id": data.get("email_config_id"),
        "group_id": data.get("group_id"), "priority": data.get("priority", 1), "requester_id": requester["id"],
        "responder_id": data.get("responder_id"), "source": data.get("source", 2), "status": data.get("status", 2),
        "subject": data["subject"], "company_id": requester["company_id"], "id": ticket_id, "type": data.get("type"),
        "to_emails": None, "product_id": data.get("product_id"), "fr_escalated": False, "spam": False,
        "urgent": False, "is_escalated": False, "created_at": now, "updated_at": now,
        "due_by": data.get("due_by") or now, "fr_due_by": data.get("fr_due_by") or now,
        "description_text": text_of(description), "description": description, "tags": list(data.get("tags") or []),
        "attachments": [], "custom_fields": {**dict.fromkeys(custom_fields), **(data.get("custom_fields") or {})},
        "deleted": False,
    }  # fmt: skip


def render_ticket(ticket: dict[str, Any], *, full: bool = True) -> dict[str, Any]:
    """``GET /tickets/{id}`` (full) or a list item (no description); ``deleted`` only when it is."""
    hidden = () if full else ("description", "description_text")
    rendered = {k: v for k, v in ticket.items() if k not in hidden and not (k == "deleted" and not v)}
    rendered["custom_fields"] = dict(ticket["custom_fields"])
    return rendered


# -- conversations ----------------------------------------------------------------------------------------------------


def conversation_errors(data: dict[str, Any], allowed: Sequence[str]) -> list[dict[str, Any]]:
    errors = unexpected(data, allowed)
    errors += [missing("body")] if "body" not in data else of_type(data, "body", str)
    return errors + of_type(data, "private", bool) + of_type(data, "incoming", bool)


def new_conversation(
    conversation_id: int, ticket: dict[str, Any], requester: dict[str, Any], fields: dict[str, Any]
) -> dict[str, Any]:
    """A reply or a note with every key either answer may show; ``fields``: body, user_id, source,
    private, incoming."""
    now, text, reply = now_iso(), text_of(fields["body"]), fields["source"] == REPLY
    email = requester["email"]
    return {
        **fields,
        "body_text": text,
        "id": conversation_id,
        "support_email": None,
        "ticket_id": ticket["id"],
        "to_emails": [email] if reply and email else None,
        "from_email": "support@socialdesk.test" if reply else None,
        "cc_emails": [],
        "bcc_emails": [],
        "replied_to": [email] if email else [],
        "notified_to": [],
        "attachments": [],
        "structured_body": {"body_contents": [{"type": "text", "data": {"content": text}}]},
        "created_at": now,
        "updated_at": now,
    }


def attachment(attachment_id: int, name: str) -> dict[str, Any]:
    """An attachment as a conversation lists it (Freshdesk API: "attachments" of a conversation)."""
    now = now_iso()
    url = f"https://s3.amazonaws.com/cdn.freshdesk.com/data/helpdesk/attachments/{attachment_id}/original/{name}"
    return {"id": attachment_id, "name": name, "content_type": "application/octet-stream", "size": 1024,
            "created_at": now, "updated_at": now, "attachment_url": url}  # fmt: skip


def pick(record: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    return {k: record.get(k) for k in keys}
