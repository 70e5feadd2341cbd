"""Optional write-back to the CRM (``[salesforce] write_back = true``): social identities and posts.

* each inbound post is recorded (Salesforce: a ``SocialPost`` upserted on ``R6PostId``, idempotent),
  linked to the identity's persona (created under the matched Contact, or a default Account);
* each delivered agent reply is recorded as an outbound post answering the customer's latest post.

Write-back never blocks the helpdesk flow: a failure is logged and the ticket goes on. An org without
the social objects (no Social Customer Service) is reported once and the feature stays off.
"""

from __future__ import annotations

import logging
from typing import Any

from bridge import messages
from bridge.errors import BridgeError
from bridge.events import AgentReply, Delivery, SocialEvent, ThreadState
from bridge.registry import Runtime
from bridge.rows import ThreadRow

log = logging.getLogger(__name__)


def enabled(rt: Runtime) -> bool:
    return rt.crm is not None and rt.config.salesforce is not None and bool(rt.config.salesforce.get("write_back"))


def record_post(rt: Runtime, event: SocialEvent, thread: ThreadRow | None, record: dict[str, str]) -> dict[str, Any]:
    """Persona (cached on the thread) and the inbound post; returns the thread's columns to record (the persona,
    and the post's CRM id, kept for the reply), for the caller's transaction. ``thread``: the row before this
    event; ``record``: the CRM's record of the author as the bridge holds it (no extra read, no extra call)."""
    if not enabled(rt) or rt.crm is None:
        return {}
    crm, who = rt.crm, _who(record)
    try:
        persona = (thread.crm_persona_id if thread else None) or crm.ensure_persona(
            platform=event.platform, author=event.author, parent_id=who
        )
        post_id = rt.policy.call(crm.name, lambda: crm.record_post(event, persona_id=persona, who_id=who), attempts=1)
    except BridgeError as e:
        log.warning("salesforce write-back of %s skipped: %s", messages.key_shown(event.message_id), e)
        return {}
    return {"crm_persona_id": persona, "crm_last_post_id": post_id}


def record_reply(rt: Runtime, thread: ThreadState, reply: AgentReply, delivery: Delivery) -> None:
    if not enabled(rt) or rt.crm is None or not delivery.message_ids:
        return
    crm, row = rt.crm, rt.store.thread(thread.key)
    try:
        rt.policy.call(
            crm.name,
            lambda: crm.record_reply(
                reply,
                thread=thread,
                message_id=delivery.message_ids[0],
                reply_to_id=row.crm_last_post_id if row else None,
                persona_id=row.crm_persona_id if row else None,
            ),
            attempts=1,
        )
    except BridgeError as e:
        log.warning("salesforce write-back of the reply to %s skipped: %s", messages.key_shown(thread.key), e)


def _who(record: dict[str, str]) -> str | None:
    """The matched Contact or Lead, from the enrichment's record (no extra call)."""
    return record.get("id") if record.get("object_type") in ("Contact", "Lead") else None
