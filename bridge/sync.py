"""``socialdesk sync-contacts``: CRM contacts → helpdesk users, incremental, resumable, idempotent.

* Users are keyed by a stable external id (``salesforce:<ContactId>``): running twice updates, never
  duplicates.
* The sync owns the user's CRM fields: ``[salesforce] user_fields`` filled from the Contact as a look-up of it
  would fill them. The user it made or matched is remembered (``identities``, :func:`bridge.joins.contact_user_key`)
  so that a join attaches a social identity to it without a user call of its own.
* Incremental on the CRM's modification stamp with an *inclusive* cursor and an overlap, so records
  stamped in the same second as the last cursor are not missed; ids already handled in this run are
  skipped, so the overlap is not counted twice.
* The cursor is saved after each batch the helpdesk accepted: an interrupted sync resumes where it
  stopped.
* Deleted contacts are ignored, tagged or suspended in the helpdesk, as ``[salesforce] on_delete`` says;
  only users the helpdesk already has are changed: a Contact deleted before it was synced (the whole
  recycle bin, on the first run) is skipped, never created. A Contact restored from the recycle bin
  loses the tag and, if the sync suspended it, the suspension (an agent's suspension stays).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from bridge import enrich, joins, messages
from bridge.errors import ConfigError
from bridge.events import ContactResult, ContactUpsert
from bridge.ports import CustomFields, SyncContact
from bridge.registry import Runtime

log = logging.getLogger(__name__)

BATCH = 100  # Zendesk's create_or_update_many takes 100 users per job
CURSOR, DELETED_CURSOR = "salesforce.contacts", "salesforce.deleted_contacts"
DELETED_TAG = "salesforce_deleted"


@dataclass
class SyncSummary:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    deleted: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    #: a dry run's counts: contacts it would send, and deleted ones it would look for in the helpdesk
    would_send: int = 0
    would_delete: int = 0
    #: user field → the Contacts whose value of it the helpdesk refused, each user written without it
    left_out: dict[str, list[str]] = field(default_factory=dict)

    def add(self, results: Sequence[ContactResult]) -> None:
        for result in results:
            for name in result.left_out:
                self.left_out.setdefault(name, []).append(result.external_id)
            if result.action == "created":
                self.created += 1
            elif result.action == "updated":
                self.updated += 1
            elif result.action == "skipped":
                self.skipped += 1
            else:
                self.failed.append((result.external_id, result.error or "unknown error"))


Progress = Callable[[int], None]


def sync_contacts(
    rt: Runtime, *, dry_run: bool = False, full: bool = False, progress: Progress | None = None
) -> SyncSummary:
    """Run one incremental sync (``full``: from the beginning); ``progress(n)`` after each batch."""
    if rt.crm is None:
        raise ConfigError("[salesforce]: required for sync-contacts")
    section = rt.config.salesforce
    on_delete = str(section.get("on_delete")) if section else "ignore"  # checked at load
    summary = SyncSummary()
    crm, report = rt.crm, progress or (lambda n: None)
    mapped = (section.get("user_fields") if section else None) or {}
    live = _live_upsert(functools.cache(lambda: mapped if dry_run else _usable_user_fields(rt, mapped)))
    _run(rt, CURSOR, lambda c: crm.contacts_since(c, batch_size=BATCH), live, summary, dry_run, full, report)
    if on_delete != "ignore":
        deleted = _deleted_upsert(on_delete)
        _run(rt, DELETED_CURSOR, lambda c: crm.deleted_contacts_since(c, batch_size=BATCH), deleted, summary, dry_run,
             full, report)  # fmt: skip
    _say_left_out(rt, mapped, summary)
    return summary


def _run(
    rt: Runtime,
    cursor_name: str,
    read: Callable[[datetime | None], object],
    to_upsert: Callable[[SyncContact], ContactUpsert],
    summary: SyncSummary,
    dry_run: bool,
    full: bool,
    progress: Progress,
) -> None:
    cursor = None if full else rt.store.sync_cursor(cursor_name)
    seen: set[str] = set()
    for batch in read(cursor):  # type: ignore[attr-defined]
        fresh = [c for c in batch if c.id not in seen]
        summary.skipped += len(batch) - len(fresh)
        seen.update(c.id for c in fresh)
        if dry_run:
            _count_dry(summary, cursor_name, len(fresh))
        if fresh and not dry_run:
            results = _push(rt, [to_upsert(c) for c in fresh])
            summary.add(results)
            _remember_users(rt, results)
            if cursor_name == DELETED_CURSOR:
                summary.deleted += sum(1 for r in results if r.action == "updated")
        if batch and not dry_run:
            rt.store.save_sync_cursor(cursor_name, max(c.modstamp for c in batch))
        progress(len(batch))


def _count_dry(summary: SyncSummary, cursor_name: str, count: int) -> None:
    """A dry run asks the helpdesk nothing, so it cannot tell created from updated: it counts what it would send."""
    if cursor_name == DELETED_CURSOR:
        summary.would_delete += count
    else:
        summary.would_send += count


def _push(rt: Runtime, contacts: list[ContactUpsert]) -> list[ContactResult]:
    return rt.policy.call(rt.helpdesk.name, lambda: rt.helpdesk.upsert_contacts(contacts))


def _remember_users(rt: Runtime, results: Sequence[ContactResult]) -> None:
    """Each Contact's helpdesk user, where the helpdesk said which: a join then attaches the identity to it
    without a user call of its own (:func:`bridge.joins.contact_user_key`)."""
    users = [(joins.contact_user_key(rt, r.external_id), r.user_id) for r in results if r.user_id]
    if users:
        rt.store.remember_identities(users)


def _usable_user_fields(rt: Runtime, mapped: Mapping[str, str]) -> Mapping[str, str]:
    """The mapped user fields the helpdesk has (one look at its fields per run, as ``doctor`` looks). Zendesk drops an
    unknown user field silently, so the sync reported users "updated" with values that went nowhere; Freshdesk
    refuses each write that names one. Those are left out, each named once in the log (the command's stderr)."""
    if not mapped or not isinstance(rt.helpdesk, CustomFields):
        return mapped
    helpdesk = rt.helpdesk
    _, known = rt.policy.call(helpdesk.name, helpdesk.field_names)
    missing = {source: target for source, target in mapped.items() if str(target) not in known}
    for source, target in missing.items():
        log.warning("%s", messages.sync_field_left_out(f"salesforce.user_fields.{source}", target, helpdesk.name))
    return {source: target for source, target in mapped.items() if source not in missing}


def _say_left_out(rt: Runtime, mapped: Mapping[str, str], summary: SyncSummary) -> None:
    """Each user field whose value the helpdesk refused for some Contacts (Zendesk: a value the field does not
    take), named once a run by its config key: those users were written without it, and the sync said "updated"
    with no word of it (where before the Contact failed, its user neither made nor updated)."""
    for target, contacts in summary.left_out.items():
        sources = [source for source, mapped_to in mapped.items() if str(mapped_to) == target] or [target]
        key = ", ".join(f"salesforce.user_fields.{source}" for source in sources)
        log.warning("%s", messages.sync_value_refused(key, target, rt.helpdesk.name, contacts))


def _live_upsert(user_fields: Callable[[], Mapping[str, str]]) -> Callable[[SyncContact], ContactUpsert]:
    """A live Contact as its user: with ``[salesforce] user_fields`` filled from it, since the sync owns them
    (``user_fields()`` is asked at the first Contact: a run with none to send asks the helpdesk nothing)."""

    def convert(contact: SyncContact) -> ContactUpsert:
        return replace(_upsert(contact), user_fields=enrich.filled(user_fields(), contact.fields))

    return convert


def _upsert(contact: SyncContact) -> ContactUpsert:
    return ContactUpsert(
        external_id=contact.external_id,
        name=contact.name or contact.email or contact.external_id,
        email=contact.email,
        phone=contact.phone,
        undelete=(DELETED_TAG,),  # restored from the recycle bin: undo what the deletion pass did
    )


def _deleted_upsert(on_delete: str) -> Callable[[SyncContact], ContactUpsert]:
    def convert(contact: SyncContact) -> ContactUpsert:
        base = _upsert(contact)
        return ContactUpsert(
            external_id=base.external_id,
            name=base.name,
            suspended=on_delete == "suspend",
            tags=(DELETED_TAG,),
            update_only=True,  # a Contact deleted before it was ever synced gets no helpdesk user
        )

    return convert
