"""Triggers and webhooks of the Zendesk simulator: the business rules and the endpoints they call."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from flask import Response

from sandbox.base import json_response
from sandbox.zendesk.wire import Paging, not_found, now_iso, payload, record_invalid, webhook_error

#: The operators of Zendesk's Conditions reference (triggers, automations, views). "Changed to" is ``value`` and
#: "Changed from" ``value_previous``: there is no ``changed_to``. Each field takes some of them; the simulator
#: checks only that the operator is one Zendesk has.
OPERATORS = frozenset({
    "is", "is_not", "less_than", "greater_than", "changed", "not_changed", "value", "not_value", "value_previous",
    "not_value_previous", "includes", "not_includes", "present", "not_present", "within_previous_n_days",
    "within_next_n_days", "less_than_business_hours", "greater_than_business_hours", "includes_words",
    "not_includes_words", "includes_string", "not_includes_string",
})  # fmt: skip


class AutomationMixin(Paging):
    """Triggers (``/api/v2/triggers``) and webhooks (``/api/v2/webhooks``, which has no ``.json`` suffix)."""

    api_user_id: int
    webhook_secret: str
    _ids: Iterator[int]
    _triggers: dict[int, dict[str, Any]]
    _webhooks: dict[str, dict[str, Any]]
    _webhook_secrets: dict[str, str]  # by webhook id, kept when the webhook is deleted

    # -- triggers ------------------------------------------------------------------------------------------------

    def _render_trigger(self, trigger: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"{self._base()}/api/v2/triggers/{trigger['id']}.json", **trigger}

    def _trigger_or_404(self, trigger_id: int) -> dict[str, Any]:
        if trigger_id not in self._triggers:
            raise not_found()
        return self._triggers[trigger_id]

    def _list_triggers(self) -> Response:
        return self._page("triggers", [self._render_trigger(t) for t in self._triggers.values()])

    def _show_trigger(self, trigger_id: int) -> Response:
        return json_response({"trigger": self._render_trigger(self._trigger_or_404(trigger_id))})

    def _create_trigger(self) -> Response:
        data, now = payload("trigger"), now_iso()
        trigger: dict[str, Any] = {
            "id": next(self._ids),
            "title": None,
            "active": True,
            "updated_at": now,
            "created_at": now,
            "default": False,
            "actions": [],
            "conditions": {"all": [], "any": []},
            "description": None,
            "position": len(self._triggers) + 1,
            "raw_title": None,
            "category_id": "10001",
        }
        self._apply_trigger(trigger, data)
        self._triggers[trigger["id"]] = trigger
        return json_response({"trigger": self._render_trigger(trigger)}, 201)

    def _update_trigger(self, trigger_id: int) -> Response:
        trigger = self._trigger_or_404(trigger_id)
        self._apply_trigger(trigger, payload("trigger"))
        return json_response({"trigger": self._render_trigger(trigger)})

    def _apply_trigger(self, trigger: dict[str, Any], data: dict[str, Any]) -> None:
        given = {k: v for k, v in data.items() if k in trigger and k not in ("id", "url")}
        merged = {**trigger, **_rules_replaced(given), **given}
        conditions = merged["conditions"] if isinstance(merged["conditions"], dict) else {}
        if not str(merged["title"] or "").strip():
            raise record_invalid("title", "Title: cannot be blank", "BlankValue")
        if not isinstance(merged["actions"], list) or not merged["actions"]:
            raise record_invalid("actions", "Actions: cannot be blank", "BlankValue")
        if not any(isinstance(v, list) and v for v in conditions.values()):  # best effort message
            raise record_invalid("conditions", "Conditions: must contain at least one condition", "BlankValue")
        merged["conditions"] = {"all": conditions.get("all") or [], "any": conditions.get("any") or []}
        _check_conditions([*merged["conditions"]["all"], *merged["conditions"]["any"]])
        trigger.update(merged, raw_title=merged["title"], updated_at=now_iso())

    # -- webhooks ------------------------------------------------------------------------------------------------

    def _webhook_or_404(self, webhook_id: str) -> dict[str, Any]:
        if webhook_id not in self._webhooks:
            raise webhook_error(404, "WebhookNotFound", f"Webhook {webhook_id} could not be found")
        return self._webhooks[webhook_id]

    def _list_webhooks(self) -> Response:
        return self._page("webhooks", [dict(w) for w in self._webhooks.values()], cursor_only=True)

    def _show_webhook(self, webhook_id: str) -> Response:
        return json_response({"webhook": self._webhook_or_404(webhook_id)})

    def _create_webhook(self) -> Response:
        data, now = self._webhook_payload(), now_iso()
        webhook = {
            "id": "01" + uuid.uuid4().hex[:24].upper(),
            "created_at": now,
            "created_by": str(self.api_user_id),
            "updated_at": now,
            "updated_by": str(self.api_user_id),
            "description": None,
            **data,
        }
        self._check_webhook(webhook)
        self._webhook_secrets[webhook["id"]] = self._new_secret(webhook["id"])
        self._webhooks[webhook["id"]] = webhook
        return json_response({"webhook": webhook}, 201)

    def _patch_webhook(self, webhook_id: str) -> Response:
        webhook = self._webhook_or_404(webhook_id)
        merged = {**webhook, **self._webhook_payload(), "updated_at": now_iso()}
        self._check_webhook(merged)
        webhook.update(merged)
        return Response(status=204)

    def _delete_webhook(self, webhook_id: str) -> Response:
        self._webhook_or_404(webhook_id)
        del self._webhooks[webhook_id]
        return Response(status=204)

    def _signing_secret(self, webhook_id: str) -> Response:
        self._webhook_or_404(webhook_id)
        return json_response({"signing_secret": {"algorithm": "SHA256", "secret": self.secret_of(webhook_id)}})

    def secret_of(self, webhook_id: str | None) -> str:
        """The webhook's signing secret: each webhook has its own (Webhooks API, "Show Webhook Signing Secret"),
        set when it is created (:meth:`_new_secret`); ``webhook_secret`` without a webhook."""
        return self._webhook_secrets.get(webhook_id or "", self.webhook_secret)

    def _new_secret(self, webhook_id: str) -> str:
        """The account's first webhook signs with ``webhook_secret`` (what tests configure); every later one with
        a secret of its own, so that a bridge verifying with another webhook's secret is caught."""
        if not self._webhook_secrets:
            return self.webhook_secret
        return hashlib.sha256(f"{self.webhook_secret}:{webhook_id}".encode()).hexdigest()[:32]

    def _webhook_payload(self) -> dict[str, Any]:
        fields = (
            "name",
            "endpoint",
            "http_method",
            "request_format",
            "status",
            "subscriptions",
            "description",
            "authentication",
            "custom_headers",
        )
        data = payload("webhook")
        auth = data.get("authentication")
        if isinstance(auth, dict):  # credentials are write-only: never echoed back
            data["authentication"] = {k: v for k, v in auth.items() if k != "data"}
        return {k: v for k, v in data.items() if k in fields}

    @staticmethod
    def _check_webhook(webhook: dict[str, Any]) -> None:
        rules: list[tuple[str, Callable[[Any], bool]]] = [
            ("name", lambda v: bool(str(v or "").strip())),
            ("endpoint", lambda v: str(v or "").startswith(("https://", "http://"))),
            ("http_method", lambda v: v in ("GET", "POST", "PUT", "PATCH", "DELETE")),
            ("request_format", lambda v: v in ("json", "xml", "form_encoded")),
            ("status", lambda v: v in ("active", "inactive")),
            ("subscriptions", lambda v: isinstance(v, list) and bool(v)),
        ]
        for field, ok in rules:
            if not ok(webhook.get(field)):
                raise webhook_error(400, "InvalidValue", f"{field} is missing or invalid")


def _rules_replaced(data: dict[str, Any]) -> dict[str, Any]:
    """An update that sends ``conditions`` or ``actions`` replaces both: Update Trigger's note (tests/fixtures/specs/
    zendesk_oas_split/triggers-openapi-original.yml, UpdateTrigger): "Updating a condition or action updates both
    the conditions and actions arrays, clearing all existing values of both arrays". What it leaves out is empty,
    and then refused as a create without it is."""
    if "conditions" not in data and "actions" not in data:
        return {}
    return {"conditions": {"all": [], "any": []}, "actions": []}


def _check_conditions(conditions: list[Any]) -> None:
    """Each condition a ``field`` with an ``operator`` Zendesk has (the 422's wording is best effort)."""
    for condition in conditions:
        field = condition.get("field") if isinstance(condition, dict) else None
        operator = condition.get("operator") if isinstance(condition, dict) else None
        if not isinstance(field, str) or not field:
            raise record_invalid("base", "Conditions: each condition needs a field")
        if operator not in OPERATORS:
            raise record_invalid("base", f"Conditions: {field} {operator!r} is not a valid operator")
