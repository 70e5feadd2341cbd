"""User events of the Zendesk simulator: the signed ``zen:event-type:user.*`` webhooks Zendesk sends to the webhooks
subscribed to them (Webhooks API, "Webhook event types", "User events"), and Delete User.

* ``user.merged`` when a user is merged into another (``PUT /api/v2/users/{id}/merge``), about the merged user;
  ``user.deleted`` when one is deleted (``DELETE /api/v2/users/{id}``, which soft-deletes: ``active`` false) or,
  through :meth:`delete_user_permanently`, deleted for good.
* The envelope is the documented one (fixtures/zendesk/webhooks/event_envelope.community_post_created.official.json):
  ``account_id``, ``detail`` (the user resource's properties the user-events page lists, ids as strings),
  ``event``, ``id``, ``subject: "zen:user:<id>"``, ``time``, ``type``, ``zendesk_event_version``. The reference's
  ``event`` object of a merge is not in our fixtures: it is sent empty (the bridge needs only the subject).
* Sent after the answer, from a thread (Zendesk delivers events asynchronously); each delivery's status is kept in
  :attr:`user_event_deliveries`.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests
from flask import Response

from sandbox.zendesk.wire import now_iso

DETAIL_FIELDS = ("created_at", "email", "external_id", "role", "updated_at")
STRING_IDS = ("default_group_id", "id", "organization_id")


class UserEventsMixin:
    """Sends user events to the active webhooks subscribed to their type."""

    account_id: int
    _webhooks: dict[str, dict[str, Any]]
    _users: dict[int, dict[str, Any]]
    _user_or_404: Callable[[int], dict[str, Any]]
    _check_may_manage_users: Callable[[], None]
    _render_user: Callable[[dict[str, Any]], dict[str, Any]]
    _webhook_headers: Callable[[bytes, dict[str, Any] | None], dict[str, str]]

    def _init_user_events(self, route: Callable[..., None]) -> None:
        self.user_event_deliveries: list[tuple[str, str, int | str]] = []  # (type, user id, status or error)
        self._event_threads: list[threading.Thread] = []
        route("/api/v2/users/<int:user_id>", self._delete_user, "DELETE")

    def _delete_user(self, user_id: int) -> Response:
        """Delete User: the user is soft-deleted (``active: false``) and answered as it now is."""
        self._check_may_manage_users()
        user = self._user_or_404(user_id)
        user.update(active=False, updated_at=now_iso())
        self._user_event(user, "zen:event-type:user.deleted")
        return Response(json.dumps({"user": self._render_user(user)}), 200, mimetype="application/json")

    def _user_event(self, user: dict[str, Any], event_type: str, event: dict[str, Any] | None = None) -> None:
        """Send ``event_type`` about ``user`` (as it is now) to each active webhook subscribed to it."""
        body = json.dumps(self._user_envelope(user, event_type, event or {})).encode("utf-8")
        for webhook in self._webhooks.values():
            if webhook["status"] == "active" and event_type in (webhook.get("subscriptions") or []):
                sender = threading.Thread(target=self._deliver, args=(webhook, body, event_type, str(user["id"])))
                self._event_threads.append(sender)
                sender.start()

    def _user_envelope(self, user: dict[str, Any], event_type: str, event: dict[str, Any]) -> dict[str, Any]:
        detail = {k: user.get(k) for k in DETAIL_FIELDS}
        detail |= {k: (str(user[k]) if user.get(k) is not None else None) for k in STRING_IDS}
        return {
            "account_id": self.account_id, "detail": detail, "event": event, "id": str(uuid.uuid4()).upper(),
            "subject": f"zen:user:{user['id']}", "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z"),
            "type": event_type, "zendesk_event_version": "2022-11-06",
        }  # fmt: skip

    def _deliver(self, webhook: dict[str, Any], body: bytes, event_type: str, user_id: str) -> None:
        try:
            headers = self._webhook_headers(body, webhook)
            status: int | str = requests.post(webhook["endpoint"], data=body, headers=headers, timeout=10).status_code
        except requests.RequestException as e:
            status = type(e).__name__
        self.user_event_deliveries.append((event_type, user_id, status))

    def wait_user_events(self, timeout: float = 10.0) -> list[tuple[str, str, int | str]]:
        """Wait for the user events sent so far to be delivered (or fail); their deliveries."""
        for sender in list(self._event_threads):
            sender.join(timeout)
        return list(self.user_event_deliveries)
