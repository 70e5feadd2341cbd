"""A faithful Freshdesk API v2 simulator: agents, contacts, tickets, conversations, search.

Shapes follow the examples of Freshdesk's API reference kept in ``tests/fixtures/freshdesk``
(ticket and contact JSON, reply and note answers, the validation error body, rate-limit headers).
What those do not show is best effort and says so where it is built: the 404, 429 and search error
bodies, and which query fields the search API accepts.

Besides answering like Freshdesk (basic auth with the API key and ``X``; ``{"description", "errors":
[{"field", "message", "code"}]}`` validation errors; 409 ``duplicate_value`` naming the existing
contact; ``Link: <...>; rel="next"`` pagination; ``X-Ratelimit-*`` headers and an optional per-minute
budget answering 429 with ``Retry-After``; a search index that lags ``search_lag`` seconds behind; an API key
whose agent may see only some tickets, as ``agents/me``'s ``ticket_scope`` tells: ``api_agent_ticket_scope``),
it plays the agent's side with the same API as :class:`sandbox.zendesk.ZendeskSimulator`:
:meth:`~FreshdeskSimulator.agent_comment` writes a reply or a private note and
:meth:`~FreshdeskSimulator.fire_webhook` calls the bridge as an automation rule's "Trigger webhook"
action does, with the shared secret in the ``X-Socialdesk-Secret`` header.

================  =================================================================================
module            what it holds
================  =================================================================================
``wire``          error bodies, request decoding, ``Link`` paging, the search query language
``records``       how agents, contacts, tickets and conversations look, and their validation
``listing``       List All Tickets: its documented filters, sort and embeds, and what it refuses
``simulator``     :class:`FreshdeskSimulator`: routes, the edge (auth, rate limit), the agent's side
================  =================================================================================
"""

from __future__ import annotations

from sandbox.freshdesk.records import STATUSES
from sandbox.freshdesk.simulator import SECRET_HEADER, FreshdeskSimulator

__all__ = ["SECRET_HEADER", "STATUSES", "FreshdeskSimulator"]
