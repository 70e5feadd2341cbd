"""One customer, one helpdesk user: a social identity joined to the user of the CRM Contact behind it.

When the CRM identifies the author of a new thread by something the customer owns (a SocialPersona, their
email, phone or handle field), the ticket's requester is the helpdesk user of that Contact: the one
``sync-contacts`` keys ``salesforce:<ContactId>`` (made here with that key, as the sync would, where it has not
run yet). The sync writes that user's CRM fields and remembers it in ``identities``: a join then attaches the
identity to it with no user call (one found gone is forgotten, and found or made by its key). The social
identity is attached to that user where the helpdesk has a place for it (Zendesk user
identities, Freshdesk's contact fields) and remembered in ``identities``: the identity's later messages go
straight to that user, with no CRM call. A name alone never joins: the CRM has to say which Contact.

A user the helpdesk already had for the identity (made by socialdesk before the CRM knew the customer) is
merged into the Contact's user where the helpdesk can do it safely (Zendesk keeps its tickets), else kept and
linked, a line on each user's profile saying so (Freshdesk; or a Zendesk agent, who cannot be merged). A join
the CRM later contradicts — the next look-up, once the CRM cache is stale, finds the persona on another
Contact, on a Lead or on nobody — is undone for future tickets: the identity taken back from the user, a line
on its profile, and the new Contact's user joined instead (or the identity's own user, as without joins).

Each step is a ``user_joins`` row (who into whom, why, when), logged and counted by ``socialdesk status``.
``[salesforce] join_users = false`` keeps the identity's own user, as before.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

from bridge import messages
from bridge.enrich import Lookup
from bridge.errors import BridgeError, NotFound, PermanentError, RefusedFields, UnknownOutcome
from bridge.events import Author, SocialEvent, UserProfile
from bridge.ports import JoinedUser, JoinsInPlace, UserJoins
from bridge.registry import Runtime
from bridge.rows import LastJoin

log = logging.getLogger(__name__)

CRM = "salesforce"  # the platform part of a Contact user's external id and ``identities`` key
#: What the CRM matched on, for a join: something the customer owns. A name is not among them.
STRONG_MATCHES = frozenset({"persona", "email", "phone", "handle"})


class Action(StrEnum):
    """A ``user_joins`` row's ``action``."""

    JOINED = "joined"  # the identity's messages go to the Contact's user
    MERGED = "merged"  # ... and the user it had before was merged into that one
    LINKED = "linked"  # ... and the user it had before is kept (the helpdesk cannot merge it), both noted
    UNDONE = "undone"  # the CRM no longer says so: future tickets go elsewhere, the user noted


class Step(Enum):
    """What a new thread's CRM look-up means for the identity's user (:func:`decide`)."""

    AS_BEFORE = "as before"  # nothing new: the identity's user as remembered (or made as without joins)
    JOIN = "join"
    MOVE = "move"  # joined to one Contact, the CRM now names another: undone, then joined to that one
    UNDO = "undo"


@dataclass(frozen=True)
class Contact:
    """The CRM Contact a look-up identified by something the customer owns."""

    id: str
    name: str | None
    email: str | None
    phone: str | None
    matched_by: str


def contact_of(lookup: Lookup | None) -> Contact | None:
    """The Contact behind a look-up that may join: a Contact (sync-contacts makes users of Contacts only),
    matched by persona, email, phone or handle, and by that alone (no other Contact shares it). A Lead, an
    Account, a match by anything else or one several Contacts share: None."""
    if lookup is None or lookup.outcome != "found":
        return None
    f = lookup.fields
    if f.get("object_type") != "Contact" or f.get("matched_by") not in STRONG_MATCHES or not f.get("id"):
        return None
    if f.get("also_matched"):  # other Contacts share that phone, email or handle: which one wrote is a guess
        return None
    return Contact(f["id"], f.get("name"), f.get("email"), f.get("phone"), f["matched_by"])


def decide(joined_to: str | None, lookup: Lookup | None) -> Step:
    """``joined_to``: the Contact the identity is joined to now, if any; ``lookup``: a new thread's CRM answer
    (None for a follow-up, which asks the CRM nothing). The CRM down or over budget changes nothing."""
    if lookup is None or lookup.outcome == "unavailable":
        return Step.AS_BEFORE
    contact = contact_of(lookup)
    if contact is None:
        return Step.UNDO if joined_to else Step.AS_BEFORE
    if joined_to is None:
        return Step.JOIN
    return Step.AS_BEFORE if contact.id == joined_to else Step.MOVE


def identity_key(rt: Runtime, event: SocialEvent) -> str:
    """The key of ``identities`` (and ``user_joins``): helpdesk:platform:author id."""
    return f"{rt.helpdesk.name}:{event.platform}:{event.author.id}"


def contact_user_key(rt: Runtime, external_id: str) -> str:
    """The ``identities`` key of a CRM Contact's helpdesk user: helpdesk:salesforce:ContactId (its external id)."""
    return f"{rt.helpdesk.name}:{external_id}"


def _shown(rt: Runtime, event: SocialEvent) -> str:
    return messages.key_shown(identity_key(rt, event))


def enabled(rt: Runtime) -> bool:
    """A CRM, ``[salesforce] join_users`` on (the default), and a helpdesk that can attach identities."""
    section = rt.config.salesforce
    return (
        rt.crm is not None
        and section is not None
        and bool(section.get("join_users", True))
        and (isinstance(rt.helpdesk, UserJoins))
    )


@dataclass(frozen=True)
class Joined:
    """What :func:`joined_user` did: the Contact's user the event goes to (None: the identity's own, as
    remembered); ``undone``: a join no longer stands, so the remembered user is not the identity's any more."""

    user_id: str | None = None
    undone: bool = False


NOTHING = Joined()


def joined_user(
    rt: Runtime, event: SocialEvent, lookup: Lookup | None, profile: UserProfile | None = None, *,
    remembered: str | None, last_join: LastJoin | None = None,
) -> Joined:  # fmt: skip
    """Join (or move, or undo) the identity as a new thread's CRM look-up says, the Contact's user written with
    the CRM's ``profile`` (:mod:`bridge.enrich_fields`) in the same call. ``remembered``: the identity's user in
    ``identities``, if any; ``last_join``: its latest join, when read already (with the thread's context).
    A follow-up, the CRM down, or a stranger asks nothing of the store or the helpdesk."""
    if lookup is None or lookup.outcome == "unavailable" or not enabled(rt):
        return NOTHING
    if remembered is None and contact_of(lookup) is None:  # a join always remembers its user: nothing to undo
        return NOTHING
    last = last_join.row if last_join is not None else rt.store.last_join(identity_key(rt, event))
    joined_to = str(last["contact_id"]) if last and last["action"] != Action.UNDONE and last["contact_id"] else None
    step = decide(joined_to, lookup)
    if step is Step.AS_BEFORE and joined_to and last and remembered != str(last["user_id"]):
        step = Step.JOIN  # a worker without the CRM's answer remembered its own user over the join: joined again
    contact = contact_of(lookup)
    if step in (Step.MOVE, Step.UNDO) and last is not None:
        _undo(rt, event, last, contact)
    if step in (Step.JOIN, Step.MOVE) and contact is not None:
        return Joined(_join(rt, event, contact, profile), undone=step is Step.MOVE)
    return Joined(undone=step is Step.UNDO)


def _desk(rt: Runtime) -> UserJoins:
    hd = rt.helpdesk
    assert isinstance(hd, UserJoins)  # enabled() checked it
    return hd


def _call(rt: Runtime, work: Any) -> Any:
    return rt.policy.call(rt.helpdesk.name, work)


def _note_user(rt: Runtime, user_id: str, text: str) -> None:
    """A line on the user's profile; one whose write may have gone through (a timeout, a gateway's 5xx) is taken
    as written, as a ticket's note is (:mod:`bridge.notes`): not written twice, and the customer's message goes on."""
    desk = _desk(rt)
    try:
        _call(rt, lambda: desk.note_user(user_id, text))
    except UnknownOutcome as e:
        log.warning("the note on user %s may have been written (not written again): %s", user_id, e)


def _join(rt: Runtime, event: SocialEvent, contact: Contact, profile: UserProfile | None) -> str:
    key, contact_key = identity_key(rt, event), contact_user_key(rt, f"{CRM}:{contact.id}")
    known = rt.store.identities_of((key, contact_key))  # one read: the identity's own user and the Contact's
    before = known.get(key)  # socialdesk's own users are all there: identities are never pruned
    action, reason = Action.JOINED, f"Salesforce Contact {contact.id} matched by {contact.matched_by}"
    # with a user of its own to merge, the Contact's user is confirmed by its user call first: a merge into a
    # remembered user deleted since would be taken for one done before (merge_user's NotFound)
    in_place = _without_user_call(rt, event, contact, profile, known.get(contact_key)) if before is None else None
    if in_place is not None:  # no user of its own to merge: the Contact's user and the identity, no user call more
        target, attached = in_place
        reason += f"; {attached}"
    else:
        target = _contact_user(rt, contact, profile)
    if before is not None and before != target:
        action, why = _merge_or_link(rt, event, str(before), target, contact)
        reason += f"; {why}"
    if in_place is None and action is not Action.LINKED:  # a linked user keeps the identity: one value per field
        reason += f"; {_attach(rt, event, target)}"
    row = {"identity_key": key, "contact_id": contact.id, "user_id": target, "action": action.value, "reason": reason}
    other = before if before != target else None  # the Contact's user remembered as the sync would, in the same write
    rt.store.record_join({**row, "other_user_id": other}, user_id=target, contact_user=(contact_key, target))
    log.info("%s %s: user %s (%s)", messages.key_shown(key), action.value, target, reason)
    return target


def _contact_user(rt: Runtime, contact: Contact, profile: UserProfile | None) -> str:
    """The Contact's user, found (or made) by the external id ``sync-contacts`` gives it, as the sync does; and
    remembered (by :func:`_join`'s record) as the sync remembers it, for the Contact's next identity."""
    hd = rt.helpdesk
    who = Author(id=contact.id, name=contact.name, email=contact.email, phone=contact.phone)
    try:
        return str(_call(rt, lambda: hd.ensure_requester(platform=CRM, author=who, profile=profile)))
    except RefusedFields:  # a malformed email in the CRM must not cost the message: the user without it
        bare = Author(id=contact.id, name=contact.name)
        return str(_call(rt, lambda: hd.ensure_requester(platform=CRM, author=bare, profile=profile)))


def _without_user_call(
    rt: Runtime, event: SocialEvent, contact: Contact, profile: UserProfile | None, synced: str | None
) -> tuple[str, str] | None:
    """The Contact's user with the identity, and what the record says of it, with no user call of its own:
    Freshdesk's one write (:func:`_join_in_place`), else the user the store knows (:func:`_synced_user`)."""
    if isinstance(rt.helpdesk, JoinsInPlace):
        return _join_in_place(rt, event, contact, profile)
    return _synced_user(rt, event, contact, synced) if synced is not None else None


def _synced_user(rt: Runtime, event: SocialEvent, contact: Contact, user: str) -> tuple[str, str] | None:
    """The Contact's user as the store knows it (``sync-contacts`` or an earlier join), the identity attached to
    it: no user call, since the sync writes the user's CRM fields. None when the helpdesk no longer has it
    (deleted or merged since): forgotten, and the user found or made by its key."""
    key = contact_user_key(rt, f"{CRM}:{contact.id}")
    try:
        joined = _attach_identity(rt, event, user)
    except NotFound:
        rt.store.forget_identity(key, user)
        log.info("%s: user %s of Salesforce Contact %s is gone; found again by its key", _shown(rt, event), user,
                 contact.id)  # fmt: skip
        return None
    if joined.attached is None and joined.refused is None:  # no identity call said the user is still there
        return None
    return user, _attached_text(joined)


def _join_in_place(
    rt: Runtime, event: SocialEvent, contact: Contact, profile: UserProfile | None
) -> tuple[str, str] | None:
    """The Contact's user written with the identity in the same call (:class:`JoinsInPlace`), and what the
    record says of the identity; None where the helpdesk has no such call or no such user yet."""
    hd, author, platform = rt.helpdesk, event.author, event.platform
    if not isinstance(hd, JoinsInPlace):
        return None
    who = Author(id=contact.id, name=contact.name, email=contact.email, phone=contact.phone)
    joined = _call(rt, lambda: hd.join_contact_user(who, profile, platform=platform, author=author))
    if joined is None:
        return None
    return str(joined.user_id), _attached_text(joined)


def _attached_text(joined: JoinedUser) -> str:
    if joined.refused is not None:
        return "identity not attached: the helpdesk refused it"  # its words may quote the value
    if joined.attached is None:
        return "no identity field for it in the helpdesk: remembered by socialdesk"
    return f"{joined.attached} attached"


def _merge_or_link(rt: Runtime, event: SocialEvent, before: str, target: str, contact: Contact) -> tuple[Action, str]:
    desk = _desk(rt)
    if desk.merges_users:
        try:
            made_as = f"{event.platform}:{event.author.id}"  # the external id socialdesk gives a social user
            _call(rt, lambda: desk.merge_user(before, target, made_as=made_as))
            return Action.MERGED, f"user {before} merged into it"
        except NotFound:
            return Action.MERGED, f"user {before} merged into it before"  # an earlier attempt did, then failed
        except PermanentError as e:
            why = f"user {before} kept apart: the helpdesk refused to merge it ({e.message})"
    else:
        why = f"user {before} kept apart: {rt.helpdesk.name} contacts are linked, not merged"
    link = messages.join_linked_notes(event.platform, event.author.id, contact.id, before, target)
    _note_user(rt, before, link[0])
    _note_user(rt, target, link[1])
    return Action.LINKED, why


def _attach(rt: Runtime, event: SocialEvent, user_id: str) -> str:
    try:
        return _attached_text(_attach_identity(rt, event, user_id))
    except NotFound:  # refused as any other refusal: the user was found or made by its key a moment ago
        return _attached_text(_refused(rt, event, user_id))


def _attach_identity(rt: Runtime, event: SocialEvent, user_id: str) -> JoinedUser:
    """The identity given to the user, or refused (held by another user, an agent's say: the store's link carries
    the join). Raises :class:`NotFound` when the helpdesk has no such user."""
    desk, author, platform = _desk(rt), event.author, event.platform
    try:
        return JoinedUser(user_id, _call(rt, lambda: desk.attach_identity(user_id, platform=platform, author=author)))
    except NotFound:
        raise
    except PermanentError:
        return _refused(rt, event, user_id)


def _refused(rt: Runtime, event: SocialEvent, user_id: str) -> JoinedUser:
    log.warning("%s: the identity stays off user %s: the helpdesk refused it", _shown(rt, event), user_id)
    return JoinedUser(user_id, refused="refused")  # never the helpdesk's words: they may quote the value


def _undo(rt: Runtime, event: SocialEvent, last: dict[str, Any], contact: Contact | None) -> None:
    desk, author, platform = _desk(rt), event.author, event.platform
    user, old = str(last["user_id"]), str(last["contact_id"])
    now = f"Salesforce Contact {contact.id}" if contact else "no Salesforce Contact"
    try:
        _call(rt, lambda: desk.detach_identity(user, platform=platform, author=author))
        _call(rt, lambda: desk.note_user(user, messages.join_undone_note(platform, author.id, old, now)))
    except BridgeError as e:
        if e.retryable:
            raise
        log.warning("%s: user %s not told of the undone join: %s", _shown(rt, event), user, e.message)
    reason = f"the CRM now says {now}, not Salesforce Contact {old}"
    row = {"identity_key": identity_key(rt, event), "contact_id": contact.id if contact else None, "user_id": None}
    rt.store.record_join({**row, "other_user_id": user, "action": Action.UNDONE.value, "reason": reason}, user_id=None)
    log.info("%s undone: %s (user %s keeps its tickets)", _shown(rt, event), reason, user)
