"""The Zendesk simulator's records: statuses, roles, fixed ids, and the keys of users, tickets and comments.

Key lists follow the ticket and user shapes of zenpy's recorded responses in ``fixtures/zendesk``.
"""

from __future__ import annotations

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
ROLES = ("end-user", "agent", "admin")
#: An agent's ``ticket_restriction`` besides null (all tickets); an end user's is "requested" (Users API, JSON format).
AGENT_RESTRICTIONS = ("groups", "assigned", "organization")
BRAND_ID, FORM_ID = 360000000001, 360000000020
CUSTOM_STATUS_IDS = {s: 360000000100 + i for i, s in enumerate((*STATUSES, "deleted"))}
TICKET_KEYS = (
    "url",
    "id",
    "external_id",
    "via",
    "created_at",
    "updated_at",
    "type",
    "subject",
    "raw_subject",
    "description",
    "priority",
    "status",
    "recipient",
    "requester_id",
    "submitter_id",
    "assignee_id",
    "organization_id",
    "group_id",
    "collaborator_ids",
    "follower_ids",
    "email_cc_ids",
    "forum_topic_id",
    "problem_id",
    "has_incidents",
    "is_public",
    "due_at",
    "tags",
    "custom_fields",
    "satisfaction_rating",
    "sharing_agreement_ids",
    "custom_status_id",
    "fields",
    "followup_ids",
    "ticket_form_id",
    "brand_id",
    "allow_channelback",
    "allow_attachments",
    "from_messaging_channel",
)
USER_WRITABLE = (
    "name",
    "email",
    "phone",
    "external_id",
    "role",
    "tags",
    "details",
    "notes",
    "time_zone",
    "locale",
    "verified",
    "user_fields",
    "alias",
    "suspended",
    "signature",
    "organization_id",
)
TICKET_CHANGEABLE = (
    "subject", "priority", "type", "status", "assignee_id", "external_id", "requester_id", "group_id", "brand_id",
)  # fmt: skip
COMMENT_EVENT_KEYS = ("id", "type", "author_id", "body", "html_body", "plain_body", "public", "attachments", "audit_id")
