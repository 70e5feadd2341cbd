"""``socialdesk setup zendesk``: the webhook, the triggers that call it and the approval macros, idempotently.

The first trigger fires on a public comment added to a ticket tagged ``socialdesk`` by anything but the API,
or on its status changed to solved (so a ticket solved without a reply still gives the figures' resolution time);
the second when an approver's tag (``[approvals]``, set by the macros "Approve social reply" and "Reject
social reply") is on such a ticket: the bridge then sends or rejects the replies held for approval, and
takes the tag off (through the API, so that neither trigger fires on it).
The bridge only ever writes through the API (web service, via id 5), so its own updates can never
trigger it: no loop. Even if they did, the bridge fetches the comments itself and never delivers its
own or the requester's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from bridge.approvals import ApprovalSettings
from connectors.zendesk import ZendeskHelpdesk

WEBHOOK_NAME = "socialdesk"
USER_WEBHOOK_NAME = "socialdesk users"
#: The user events after which a user socialdesk remembers may no longer take tickets: merged into another (the
#: merged user is soft-deleted), deleted, or made inactive (Webhooks API, "User events"). A webhook subscribed to
#: events cannot be connected to a trigger, hence a second webhook, with a signing secret of its own.
USER_EVENTS = ("zen:event-type:user.merged", "zen:event-type:user.deleted", "zen:event-type:user.active_changed")
TRIGGER_TITLE = "socialdesk: deliver public agent replies to the social thread"
VIA_API = "5"  # Zendesk's via id for "Web service (API)"
TRIGGER_BODY = json.dumps({"ticket_id": "{{ticket.id}}"})
APPROVAL_TRIGGER_TITLE = "socialdesk: approve or reject held social replies"
APPROVE_MACRO = "Approve social reply"
REJECT_MACRO = "Reject social reply"


@dataclass
class SetupReport:
    actions: list[str] = field(default_factory=list)
    signing_secret: str | None = field(default=None, repr=False)  # secrets: never in a repr (a log, a test's diff)
    user_signing_secret: str | None = field(default=None, repr=False)  # the user-events webhook's
    checked: list[str] = field(default_factory=list)  # what setup looked at, for doctor's line

    def say(self, line: str) -> None:
        self.actions.append(line)


def trigger_conditions() -> dict[str, list[dict[str, str]]]:
    return {
        "all": [
            {"field": "update_type", "operator": "is", "value": "Change"},
            {"field": "current_tags", "operator": "includes", "value": "socialdesk"},
            {"field": "current_via_id", "operator": "is_not", "value": VIA_API},
        ],
        # a public comment, or the status changed to solved (Zendesk's "Changed to" is the operator ``value``;
        # "Changed from" is ``value_previous``): the resolution time of a ticket solved without a reply
        "any": [
            {"field": "comment_is_public", "operator": "is", "value": "true"},
            {"field": "status", "operator": "value", "value": "solved"},
        ],
    }


def approval_conditions(approvals: ApprovalSettings) -> dict[str, list[dict[str, str]]]:
    """As :func:`trigger_conditions`, on an approver's tag instead of a public comment (``includes``: any of)."""
    wanted = f"{approvals.approve_tag} {approvals.reject_tag}"
    kept = trigger_conditions()["all"]
    return {"all": [*kept, {"field": "current_tags", "operator": "includes", "value": wanted}], "any": []}


def setup(
    helpdesk: ZendeskHelpdesk, endpoint: str, *, dry_run: bool = False, approvals: ApprovalSettings | None = None
) -> SetupReport:
    """Make Zendesk call ``endpoint`` on every public agent comment of a socialdesk ticket, when it is solved,
    and on an approver's answer; give approvers their two macros."""
    report, approvals = SetupReport(), approvals or ApprovalSettings()
    webhook_id = _ensure_webhook(helpdesk, _webhook_body(endpoint), report, dry_run=dry_run)
    users_id = _ensure_webhook(helpdesk, _user_webhook_body(endpoint), report, dry_run=dry_run)
    if not dry_run:
        report.signing_secret = _signing_secret(helpdesk, webhook_id)
        report.user_signing_secret = _signing_secret(helpdesk, users_id)
    hook = webhook_id or "<new webhook id>"
    _ensure_trigger(helpdesk, _trigger(TRIGGER_TITLE, trigger_conditions(), hook), report, dry_run=dry_run,
                    what="public comment or solved, tag socialdesk, not via API")  # fmt: skip
    _ensure_trigger(helpdesk, _trigger(APPROVAL_TRIGGER_TITLE, approval_conditions(approvals), hook), report,
                    dry_run=dry_run, what=f"tag {approvals.approve_tag} or {approvals.reject_tag}")  # fmt: skip
    for title, tag in ((APPROVE_MACRO, approvals.approve_tag), (REJECT_MACRO, approvals.reject_tag)):
        _ensure_macro(helpdesk, title, tag, report, dry_run=dry_run)
    return report


def _trigger(title: str, conditions: dict[str, list[dict[str, str]]], webhook_id: str) -> dict[str, Any]:
    return {
        "title": title,
        "active": True,
        "conditions": conditions,
        "actions": [{"field": "notification_webhook", "value": [webhook_id, TRIGGER_BODY]}],
    }


def _signing_secret(hd: ZendeskHelpdesk, webhook_id: str | None) -> str | None:
    if webhook_id is None:
        return None
    secret = hd.api("GET", f"/api/v2/webhooks/{webhook_id}/signing_secret").get("signing_secret", {})
    return secret.get("secret") if isinstance(secret, dict) else None


def _user_webhook_body(endpoint: str) -> dict[str, Any]:
    return {**_webhook_body(endpoint), "name": USER_WEBHOOK_NAME, "subscriptions": list(USER_EVENTS)}


def _webhook_body(endpoint: str) -> dict[str, Any]:
    return {
        "name": WEBHOOK_NAME,
        "endpoint": endpoint,
        "http_method": "POST",
        "request_format": "json",
        "status": "active",
        "subscriptions": ["conditional_ticket_events"],
    }


def _ensure_webhook(hd: ZendeskHelpdesk, wanted: dict[str, Any], report: SetupReport, *, dry_run: bool) -> str | None:
    """The webhook named as ``wanted`` is ``wanted``: found by name (every page), else created; its id."""
    name, endpoint = wanted["name"], wanted["endpoint"]
    report.checked.append("webhook" if name == WEBHOOK_NAME else "user-events webhook")
    existing = next((w for w in hd.api_list("/api/v2/webhooks", "webhooks") if w.get("name") == name), None)
    if existing and all(existing.get(k) == v for k, v in wanted.items()):
        report.say(f"webhook {existing['id']} {name!r} already calls {endpoint}: unchanged")
        return str(existing["id"])
    verb = "update" if existing else "create"
    report.say(f"{'would ' if dry_run else ''}{verb} webhook {name!r} → POST {endpoint}")
    if dry_run:
        return str(existing["id"]) if existing else None
    if existing:
        hd.api("PATCH", f"/api/v2/webhooks/{existing['id']}", {"webhook": wanted})
        return str(existing["id"])
    return str(hd.api("POST", "/api/v2/webhooks", {"webhook": wanted})["webhook"]["id"])


def _ensure_trigger(
    hd: ZendeskHelpdesk, wanted: dict[str, Any], report: SetupReport, *, dry_run: bool, what: str
) -> None:
    report.checked.append(f"trigger ({what})")
    _ensure(hd, "trigger", wanted, report, dry_run=dry_run, what=what)


def _ensure_macro(hd: ZendeskHelpdesk, title: str, tag: str, report: SetupReport, *, dry_run: bool) -> None:
    """A macro an approver applies: it adds ``tag`` (``current_tags`` adds, never replaces)."""
    wanted = {"title": title, "active": True, "actions": [{"field": "current_tags", "value": tag}]}
    report.checked.append(f"macro {title!r}")
    _ensure(hd, "macro", wanted, report, dry_run=dry_run, what=f"adds the tag {tag}")


def _ensure(
    hd: ZendeskHelpdesk, kind: Literal["trigger", "macro"], wanted: dict[str, Any], report: SetupReport, *,
    dry_run: bool, what: str,
) -> None:  # fmt: skip
    """The trigger or macro titled as ``wanted`` is ``wanted``: found by title (every page), else created."""
    title = wanted["title"]
    existing = next((t for t in hd.api_list(f"/api/v2/{kind}s.json", f"{kind}s") if t.get("title") == title), None)
    if existing and all(existing.get(k) == v for k, v in wanted.items()):
        report.say(f"{kind} {existing['id']} {title!r} already in place: unchanged")
        return
    verb = "update" if existing else "create"
    report.say(f"{'would ' if dry_run else ''}{verb} {kind} {title!r} ({what})")
    if dry_run:
        return
    if existing:
        hd.api("PUT", f"/api/v2/{kind}s/{existing['id']}.json", {kind: wanted})
    else:
        hd.api("POST", f"/api/v2/{kind}s.json", {kind: wanted})
