"""Freshdesk (API v2) through plain ``requests``: the bridge's :class:`bridge.ports.Helpdesk`.

How the bridge's notions map onto Freshdesk:

=====================  ==========================================================================
bridge                 Freshdesk
=====================  ==========================================================================
requester              a contact found or created by ``unique_external_id`` = ``<platform>:<id>``,
                       with ``facebook_id`` / ``twitter_id`` / ``phone`` / ``email`` when known
ticket                 ``POST /api/v2/tickets``: HTML description (escaped), status 2 (Open),
                       priority 1 (Low, Freshdesk's own default), source 7 (Chat), tags
thread key             no ``external_id`` exists: the bridge's thread table is the map; a custom
                       text field (``thread_key_field``, optional) carries the key for crash recovery;
                       without it, the requester's tickets are listed and the ``ref:`` line matched
customer follow-up     a public *incoming* note by the contact (see ``add_customer_comment``)
follow-up of closed    a new ticket whose description links the closed one, plus a private note
                       on the closed one naming the new one
internal note          a private note by the API key's agent
agent reply            a public, outgoing reply or note by an agent other than the API key's
=====================  ==========================================================================

=============  ================================================================================
module         what it holds
=============  ================================================================================
``client``     HTTP: basic auth, the rate-limit budget, the error table, ``Link`` pagination
``helpdesk``   :class:`FreshdeskHelpdesk`: the port, on top of the client
=============  ================================================================================
"""

from __future__ import annotations

from connectors.freshdesk.client import STATUS_ERRORS, FreshdeskApiError, FreshdeskClient
from connectors.freshdesk.helpdesk import FreshdeskHelpdesk, thread_key_value, to_html

__all__ = ["STATUS_ERRORS", "FreshdeskApiError", "FreshdeskClient", "FreshdeskHelpdesk", "thread_key_value", "to_html"]
