"""Zendesk's user events (``zen:event-type:user.*``), from the webhook ``socialdesk setup zendesk`` subscribes to
them: a user merged into another (the merged one is soft-deleted), deleted, or made inactive takes no more
tickets, so every identity socialdesk remembers on it is forgotten, and its next message finds or makes the
user by its key (external id, then email), as before it was remembered. Any other user event is ignored with
its reason. The envelope (Webhooks API, "Webhook event types"): ``type``, ``subject: "zen:user:<id>"``,
``detail`` (the user: ``id`` as a string), ``event`` (``active_changed``: ``previous``, ``current``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

USER_EVENT_PREFIX = "zen:event-type:user."
SUBJECT_PREFIX = "zen:user:"
#: the event types after which the user takes no tickets, and what the log says of them
RETIRING = {"zen:event-type:user.merged": "merged into another user", "zen:event-type:user.deleted": "deleted"}
ACTIVE_CHANGED = "zen:event-type:user.active_changed"


@dataclass(frozen=True)
class UserChange:
    """What a user event means for the identities remembered on ``user_id``: ``retired`` (the reason they are
    forgotten) or ``ignored`` (why nothing changes)."""

    user_id: str
    retired: str | None = None
    ignored: str | None = None


def is_user_event(body: dict[str, Any]) -> bool:
    event_type = body.get("type")
    return isinstance(event_type, str) and event_type.startswith(USER_EVENT_PREFIX)


def user_change(body: dict[str, Any]) -> UserChange | None:
    """The change a user event's verified body says; None when it names no user (a 400 for the caller)."""
    user_id = user_id_of(body)
    if user_id is None:
        return None
    event_type = str(body["type"])
    if event_type in RETIRING:
        return UserChange(user_id, retired=RETIRING[event_type])
    if event_type == ACTIVE_CHANGED:
        event = body.get("event")
        if isinstance(event, dict) and event.get("current") is False:
            return UserChange(user_id, retired="made inactive")
        return UserChange(user_id, ignored="zendesk user made active")
    return UserChange(user_id, ignored=f"zendesk {event_type.removeprefix('zen:event-type:')[:60]}: not a user gone")


def user_id_of(body: dict[str, Any]) -> str | None:
    """The user's id: ``subject`` (``zen:user:<id>``), else ``detail.id``; digits only."""
    subject, detail = body.get("subject"), body.get("detail")
    value = (
        subject.removeprefix(SUBJECT_PREFIX)
        if isinstance(subject, str) and subject.startswith(SUBJECT_PREFIX)
        else None
    )
    if value is None and isinstance(detail, dict):
        value = detail.get("id")
    text = str(value) if isinstance(value, int | str) else ""
    return text if text.isdigit() and len(text) <= 20 else None
