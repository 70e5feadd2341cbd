"""A faithful Zendesk Support API simulator: users, tickets, comments, job statuses, webhooks, triggers.

Shapes follow the responses zenpy's own test suite recorded from Zendesk (``tests/fixtures/zendesk``)
and the official OpenAPI paths. What those sources do not show (some validation messages, the webhooks
API's error bodies, bulk-job result items, the 403 body of bulk imports off) is best effort and says so
where it is built.

Besides answering like Zendesk (auth, ``RecordInvalid`` / ``RecordNotFound`` bodies, offset and cursor
pagination with absolute links on its own host, ``X-Rate-Limit`` headers, an optional per-minute
budget answering 429 with ``Retry-After``, and Update Ticket's limit of 30 updates per 10 minutes per
ticket answering Zendesk's own 429 for it; bulk user imports off, as on a default account, unless
``data_imports=True``; no user management for an ``api_user_role="agent"``, who may also see only some tickets
as ``users/me`` tells: ``api_user_ticket_restriction``), it can play the agent's side:
:meth:`~ZendeskSimulator.agent_comment` writes a reply or an internal note and
:meth:`~ZendeskSimulator.fire_webhook` delivers the signed webhook Zendesk would send.
:meth:`~ZendeskSimulator.slow_after_commit` makes a request succeed and then lose its answer (crash-recovery tests).

================  ==============================================================================================
module            what it holds
================  ==============================================================================================
``wire``          error bodies, request decoding, comment text and tags, offset and cursor pagination
``records``       the statuses, roles, fixed ids and key lists of users, tickets and comments
``users``         :class:`~sandbox.zendesk.users.UsersMixin`: users, and the job statuses of bulk upserts
``automation``    :class:`~sandbox.zendesk.automation.AutomationMixin`: triggers and webhooks
``schedules``     :class:`~sandbox.zendesk.schedules.SchedulesMixin`: business-hours schedules and holidays
``simulator``     :class:`ZendeskSimulator`: routes, the edge (auth, rate limit), tickets and comments, the agent's side
================  ==============================================================================================
"""

from __future__ import annotations

from sandbox.zendesk.simulator import ZendeskSimulator

__all__ = ["ZendeskSimulator"]
