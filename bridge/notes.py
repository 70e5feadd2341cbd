"""Internal notes the agent must get, written at most once.

A note is a write the helpdesk does not deduplicate: a timeout after sending it, or a gateway's 5xx that may come
after the helpdesk wrote it, is an :class:`~bridge.errors.UnknownOutcome` (:func:`connectors.base.maybe_applied`).
Written again, the agent could read it twice; and such a note carries no mark of its own to look it up by. So an
unknown outcome is taken as written ("maybe written", logged) and never repeated; any other failure is raised for
the caller's retry, which writes it then.

A note that only tells the agent about work already done and recorded (what the bot or an acknowledgement said,
why the rules routed a ticket) is best effort (:func:`try_write`): worth the policy's tries, never the work.

Where a note can be looked for, its caller looks instead of taking it as written: the CRM note
(:func:`bridge.enrich.retry_thread`, by its first line), and the note for a customer's edit or removal or a
platform's notice, which is the customer's action and must reach the ticket (:func:`bridge.inbound._note_change`):
it ends with a mark of its own event (:func:`bridge.messages.change_reference`), its inbox row is marked attempted
before the write, and an unknown outcome is retried later, looking for the mark first, as a customer's comment is.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bridge.errors import BridgeError, UnknownOutcome

if TYPE_CHECKING:
    from bridge.registry import Runtime

log = logging.getLogger(__name__)


def write_once(rt: Runtime, ticket_id: str, note: str, *, what: str) -> None:
    """``note`` on the ticket through the retry policy; an unknown outcome is taken as written (see above)."""
    hd = rt.helpdesk
    try:
        rt.policy.call(hd.name, lambda: hd.add_internal_note(ticket_id, note))
    except UnknownOutcome as e:
        log.warning("%s on ticket %s may have been written (not written again): %s", what, ticket_id, e)


def try_write(rt: Runtime, ticket_id: str, note: str, *, what: str) -> None:
    """``note`` on the ticket through the retry policy, best effort: a refusal is logged, and so is an unknown
    outcome (maybe written), neither repeated nor raised."""
    hd = rt.helpdesk
    try:
        rt.policy.call(hd.name, lambda: hd.add_internal_note(ticket_id, note))
    except UnknownOutcome as e:
        log.warning("%s on ticket %s may have been written (not written again): %s", what, ticket_id, e)
    except BridgeError as e:
        log.warning("%s for ticket %s could not be written: %s", what, ticket_id, e)
