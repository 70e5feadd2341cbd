"""``socialdesk setup zendesk``: the webhook and the trigger that call the bridge, created idempotently.

The trigger fires on a public comment added to a ticket tagged ``socialdesk`` by anything but the API.
The bridge only ever writes through the API (web service, via id 5), so its own updates can never
trigger it: no loop. Even if they did, the bridge fetches the comments itself and never delivers its
own or the requester's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from connectors.zendesk import ZendeskHelpdesk

WEBHOOK_NAME = "socialdesk"
TRIGGER_TITLE = "socialdesk: deliver public agent replies to the social thread"
VIA_API = "5"  # Zendesk's via id for "Web service (API)"
TRIGGER_BODY = json.dumps({"ticket_id": "{{ticket.id}}"})


@dataclass
class SetupReport:
    actions: list[str] = field(default_factory=list)
    signing_secret: str | None = None

    def say(self, line: str) -> None:
        self.actions.append(line)


def trigger_conditions() -> dict[str, list[dict[str, str]]]:
    return {
        "all": [
            {"field": "update_type", "operator": "is", "value": "Change"},
            {"field": "comment_is_public", "operator": "is", "value": "true"},
            {"field": "current_tags", "operator": "includes", "value": "socialdesk"},
            {"field": "current_via_id", "operator": "is_not", "value": VIA_API},
        ],
        "any": [],
    }


def setup(helpdesk: ZendeskHelpdesk, endpoint: str, *, dry_run: bool = False) -> SetupReport:
    """Make Zendesk call ``endpoint`` on every public agent comment of a socialdesk ticket."""
    report = SetupReport()
    webhook_id = _ensure_webhook(helpdesk, endpoint, report, dry_run=dry_run)
    if webhook_id and not dry_run:
        secret = helpdesk.api("GET", f"/api/v2/webhooks/{webhook_id}/signing_secret").get("signing_secret", {})
        report.signing_secret = secret.get("secret")
    _ensure_trigger(helpdesk, webhook_id or "<new webhook id>", report, dry_run=dry_run)
    return report


def _webhook_body(endpoint: str) -> dict[str, Any]:
    return {
        "name": WEBHOOK_NAME,
        "endpoint": endpoint,
        "http_method": "POST",
        "request_format": "json",
        "status": "active",
        "subscriptions": ["conditional_ticket_events"],
    }


def _ensure_webhook(hd: ZendeskHelpdesk, endpoint: str, report: SetupReport, *, dry_run: bool) -> str | None:
    wanted = _webhook_body(endpoint)
    existing = next((w for w in hd.api_list("/api/v2/webhooks", "webhooks") if w.get("name") == WEBHOOK_NAME), None)
    if existing and all(existing.get(k) == v for k, v in wanted.items()):
        report.say(f"webhook {existing['id']} already calls {endpoint}: unchanged")
        return str(existing["id"])
    verb = "update" if existing else "create"
    report.say(f"{'would ' if dry_run else ''}{verb} webhook {WEBHOOK_NAME!r} → POST {endpoint}")
    if dry_run:
        return str(existing["id"]) if existing else None
    if existing:
        hd.api("PATCH", f"/api/v2/webhooks/{existing['id']}", {"webhook": wanted})
        return str(existing["id"])
    return str(hd.api("POST", "/api/v2/webhooks", {"webhook": wanted})["webhook"]["id"])


def _ensure_trigger(hd: ZendeskHelpdesk, webhook_id: str, report: SetupReport, *, dry_run: bool) -> None:
    wanted = {
        "title": TRIGGER_TITLE,
        "active": True,
        "conditions": trigger_conditions(),
        "actions": [{"field": "notification_webhook", "value": [webhook_id, TRIGGER_BODY]}],
    }
    triggers = hd.api_list("/api/v2/triggers.json", "triggers")
    existing = next((t for t in triggers if t.get("title") == TRIGGER_TITLE), None)
    if existing and all(existing.get(k) == v for k, v in wanted.items()):
        report.say(f"trigger {existing['id']} already in place: unchanged")
        return
    verb = "update" if existing else "create"
    report.say(
        f"{'would ' if dry_run else ''}{verb} trigger {TRIGGER_TITLE!r} (public comment, tag socialdesk, not via API)"
    )
    if dry_run:
        return
    if existing:
        hd.api("PUT", f"/api/v2/triggers/{existing['id']}.json", {"trigger": wanted})
    else:
        hd.api("POST", "/api/v2/triggers.json", {"trigger": wanted})
