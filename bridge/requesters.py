"""Who the ticket is from: the helpdesk user of a social identity, found or made once and then cached.

The identity's user is kept in the store (``identities``), so a chatty customer costs one helpdesk lookup.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from bridge import joins, messages
from bridge.enrich import Lookup
from bridge.errors import BridgeError, RefusedFields
from bridge.events import SocialEvent, UserProfile
from bridge.messages import REFUSED_PREFIX
from bridge.ports import Profiles
from bridge.registry import Runtime
from bridge.rows import LastJoin

log = logging.getLogger(__name__)


def requester(
    rt: Runtime, event: SocialEvent, crm_name: str | None = None, profile: UserProfile | None = None
) -> tuple[str, SocialEvent]:
    """The helpdesk user of this identity (cached), and the event with the customer's name where it had
    none: the CRM's, else the platform profile's; ``profile``: the CRM's notes and fields, in the same call
    (:mod:`bridge.enrich_fields`). The CRM's email is not sent, since a helpdesk may merge users by email
    (it is in the notes instead)."""
    key = identity_key(rt, event)
    cached = rt.store.identity(key)
    user_id, event = requester_for(rt, event, cached, crm_name, profile)
    if user_id != cached:
        rt.store.remember_identity(key, user_id)
    return user_id, event


identity_key = joins.identity_key  # the ``identities`` key of the event's author: helpdesk, platform, author id


def requester_for(
    rt: Runtime, event: SocialEvent, cached: str | None, crm_name: str | None = None,
    profile: UserProfile | None = None, *, customer: Lookup | None = None, last_join: LastJoin | None = None,
) -> tuple[str, SocialEvent]:  # fmt: skip
    """:func:`requester`, the identity's cached user (``cached``) read already (with the thread's context).
    ``customer``: a new thread's CRM look-up; a customer it identifies is their Contact's user
    (:mod:`bridge.joins`), and a join it contradicts no longer stands (``cached`` is then forgotten). A user
    found or made here is for the caller to remember (``identities``), with the rest of what it records."""
    joined = joins.joined_user(rt, event, customer, profile, remembered=cached, last_join=last_join)
    if joined.user_id is not None:
        return joined.user_id, _named(event, event.author.name or crm_name)
    if joined.undone:
        cached = None
    if cached:
        return cached, event
    name = event.author.name or crm_name or _platform_name(rt, event)
    event = _named(event, name)
    try:
        user_id = _ensure_requester(rt, event, profile)
    except RefusedFields as e:  # a malformed email must not cost the message: without it, kept on the ticket
        degraded = _without_refused(event, e.fields)
        if degraded is None:
            raise
        log.warning("%s: %s; the requester is made without it", messages.key_shown(event.thread_key), e.message)
        event = degraded
        user_id = _ensure_requester(rt, event, profile)
    return user_id, event


def _named(event: SocialEvent, name: str | None) -> SocialEvent:
    return event if name == event.author.name else replace(event, author=replace(event.author, name=name))


OPTIONAL_DETAILS = ("email", "phone", "handle")  # what a requester can be made without


def _without_refused(event: SocialEvent, fields: tuple[str, ...]) -> SocialEvent | None:
    """The event with the author's refused details taken off and kept in ``extra`` for the ticket's body
    (see :func:`bridge.messages.refused_details`); None when none of them can be left out."""
    author = event.author
    refused = {f: str(getattr(author, f)) for f in fields if f in OPTIONAL_DETAILS and getattr(author, f)}
    if not refused:
        return None
    kept = {f"{REFUSED_PREFIX}{f}": value for f, value in refused.items()}
    author = replace(author, **{f: None for f in refused})  # type: ignore[arg-type]
    return replace(event, author=author, extra={**event.extra, **kept})


def _ensure_requester(rt: Runtime, event: SocialEvent, profile: UserProfile | None) -> str:
    platform, author, hd = event.platform, event.author, rt.helpdesk
    return rt.policy.call(hd.name, lambda: hd.ensure_requester(platform=platform, author=author, profile=profile))


def _platform_name(rt: Runtime, event: SocialEvent) -> str | None:
    """Ask the channel for a nameless customer's name, once per customer (the requester is cached after).
    Worth one try, not a wait: a ticket under "user <id>" is better than a late ticket."""
    channel = rt.channels.get(event.channel)
    if not isinstance(channel, Profiles):
        return None
    try:
        return channel.display_name(event.author.id)
    except BridgeError as e:
        log.info("no profile name for %s: %s", messages.key_shown(f"{event.platform}:{event.author.id}"), e)
        return None
