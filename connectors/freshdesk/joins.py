"""A synced Contact's contact joined to a social identity in one write (:class:`bridge.ports.JoinsInPlace`).

``sync-contacts`` made the contact (``unique_external_id`` = ``salesforce:<ContactId>``), so creating it again is
refused (409) and Freshdesk has no upsert: the contact is looked up by that key instead, which also shows its
``facebook_id`` / ``twitter_id`` / ``mobile``. One ``PUT /api/v2/contacts/{id}`` then carries the CRM's custom
fields and the identity field where it is empty (each holds one value; an agent's is never overwritten): two
calls, where a create refused, a PUT of the fields, a read and a PUT of the identity took four. A Contact the sync
has not made yet is created with the fields and the identity (the read found none): two calls as well.
"""

from __future__ import annotations

import logging
from typing import Any

from bridge import errors
from bridge.events import UserProfile
from bridge.ports import JoinedUser
from connectors.freshdesk.client import FreshdeskClient

log = logging.getLogger(__name__)


def join_contact_user(
    api: FreshdeskClient, found: dict[str, Any] | None, profile: UserProfile | None, identity: tuple[str, str] | None
) -> JoinedUser | None:
    """``found``: the contact keyed ``salesforce:<ContactId>`` (None: not synced yet); ``identity``: the contact
    field and value of the social identity (:func:`connectors.freshdesk.helpdesk.freshdesk_identity`)."""
    if found is None:
        return None
    user_id = str(found["id"])
    fields: dict[str, Any] = {"custom_fields": dict(profile.fields)} if profile is not None and profile.fields else {}
    field, value = identity or ("", "")
    held = str(found.get(field) or "") if field else ""
    if field and not held:
        fields[field] = value
    attached = field if field and held.lower() in ("", value.lower()) else None
    if not fields:
        return JoinedUser(user_id, attached)
    try:
        _put(api, user_id, fields)
    except errors.PermanentError as e:
        if e.retryable:
            raise
        if field in fields:
            return _one_by_one(api, user_id, fields, field, e)
        log.warning("freshdesk: contact %s kept without the CRM's fields: %s", user_id, e.message)
    return JoinedUser(user_id, attached)


def _one_by_one(
    api: FreshdeskClient, user_id: str, fields: dict[str, Any], field: str, error: errors.PermanentError
) -> JoinedUser:
    """The write refused as a whole: the CRM's fields and the identity apart, so that one refused (a custom field
    the account lacks, an identity another contact holds) costs neither the other nor the message."""
    log.warning("freshdesk: contact %s refused %s (%s); written one by one", user_id, ", ".join(fields), error.message)
    custom = {k: v for k, v in fields.items() if k != field}
    if custom:
        try:
            _put(api, user_id, custom)
        except errors.PermanentError as e:
            if e.retryable:
                raise
            log.warning("freshdesk: contact %s kept without the CRM's fields: %s", user_id, e.message)
    if field not in fields:
        return JoinedUser(user_id, None)
    try:
        _put(api, user_id, {field: fields[field]})
    except errors.PermanentError as e:
        if e.retryable:
            raise
        return JoinedUser(user_id, None, refused=e.message)
    return JoinedUser(user_id, field)  # the field, never its value (user_joins, logs)


def _put(api: FreshdeskClient, user_id: str, fields: dict[str, Any]) -> None:
    api.json("PUT", f"/api/v2/contacts/{int(user_id)}", "could not update the contact", json=fields)
