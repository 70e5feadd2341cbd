"""Salesforce as the bridge's CRM: who a social customer is, social write-back, and the contact sync.

Lookup (:meth:`SalesforceCrm.lookup`), in at most two API calls:

1. a SocialPersona with this ``Provider`` and ``ExternalId`` → its parent Contact, Lead or Account
   (a persona parked on the default Account or on a SocialPost is nobody yet);
2. otherwise one query for Contacts by email, by phone (E.164, in the spellings people type) or by a
   custom handle field, the strongest match winning (email, then phone, then handle).

The second query fetches the configured fields, the Account's, the owner's name and the open Cases
(a subquery) at once. Write-back creates SocialPersonas (matched by query: ``ExternalId`` is no
upsert key) and upserts SocialPosts on ``R6PostId``, so a redelivered post is recorded once. In an
org without Social Customer Service these objects do not exist: :class:`FeatureUnavailable`, once,
then the feature stays off. When the org's daily API usage reaches ``usage_threshold``,
:meth:`SalesforceCrm.over_budget` tells the bridge to enrich from its cache only, until a call made once
the reading is ``usage_recheck`` old (15 minutes) shows the rolling usage has fallen.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Literal

import requests
from simple_salesforce.format import format_external_id

from bridge import errors
from bridge.events import AgentReply, Author, SocialEvent, ThreadState
from connectors.salesforce import queries as q
from connectors.salesforce.client import PLATFORM, Credentials, SalesforceClient
from connectors.salesforce.models import (
    ContactRow,
    CustomerRecord,
    FeatureUnavailable,
    FieldConfig,
    MatchedBy,
    check_field_path,
)

log = logging.getLogger(__name__)

USAGE_RECHECK = 15 * 60.0  # seconds: an older usage reading is stale, the next lookup calls to renew it
SYNC_OVERLAP = timedelta(seconds=60)  # re-read the last minute: late commits keep an earlier SystemModstamp
CREATE_ONLY_POST_FIELDS = ("Provider", "IsOutbound")  # createable, not updateable (SocialPost reference)
SOCIAL_MISSING = (
    "Social Customer Service is not enabled in this Salesforce org (there is no SocialPersona or SocialPost "
    "object): social identities and posts are not written to Salesforce"
)
DOMAIN = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*", re.IGNORECASE)
RECORD_ID = re.compile(r"[A-Za-z0-9]{15}([A-Za-z0-9]{3})?")
ObjectType = Literal["Contact", "Lead", "Account"]
LOOKUP_ONLY = ("matched_by", "persona_id", "also_matched")  # what a look-up says of its match, not of the Contact


class SalesforceCrm:
    """The CRM port on Salesforce, through simple-salesforce. See the module docstring."""

    name = "salesforce"

    def __init__(
        self,
        *,
        instance_url: str | None = None,
        access_token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        security_token: str | None = None,
        domain: str = "login",
        consumer_key: str | None = None,
        private_key_file: str | None = None,
        session: requests.Session | None = None,
        timeout: float = 30,
        api_version: str = "59.0",
        fields: FieldConfig | Mapping[str, Sequence[str]] | None = None,
        handle_field: str | None = None,
        default_account_id: str | None = None,
        usage_threshold: float = 0.8,
        default_region: str | None = None,
        usage_recheck: float = USAGE_RECHECK,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_options(api_version, usage_threshold, default_account_id)
        credentials = Credentials(
            instance_url=instance_url.rstrip("/") if instance_url else None,
            access_token=access_token,
            username=username,
            password=password,
            security_token=security_token,
            domain=_domain(domain),
            consumer_key=consumer_key,
            private_key_file=private_key_file,
        )
        self._client = SalesforceClient(
            credentials, session=session, timeout=timeout, api_version=api_version, clock=clock
        )
        self.fields = FieldConfig.parse(fields)
        self.handle_field = check_field_path(handle_field, "salesforce.handle_field") if handle_field else None
        self.default_account_id = default_account_id
        self.usage_threshold = usage_threshold
        self.usage_recheck = usage_recheck
        self._clock = clock
        self.default_region = default_region
        self.social_available: bool | None = None  # unknown until the org answers

    def __repr__(self) -> str:
        return f"SalesforceCrm(instance_url={self._client.credentials.instance_url!r}, {self._client.credentials!r})"

    # -- lookup ------------------------------------------------------------------------------------------

    def lookup(self, *, platform: str, author: Author) -> CustomerRecord | None:
        """The customer behind this social identity, or None when nobody matches (two calls at most)."""
        persona = self._persona(q.provider_for(platform), author.id)
        persona_id = persona[0] if persona else None
        if persona and self._is_person(persona[1]):
            record = self._by_id(persona[1], persona_id)
            if record is not None:
                return record
        return self._match(platform, author, persona_id)

    def _persona(self, provider: str, external_id: str) -> tuple[str, str] | None:
        try:
            return self._find_persona(provider, external_id)
        except FeatureUnavailable:
            return None  # lookup goes on by email, phone and handle

    def _find_persona(self, provider: str, external_id: str) -> tuple[str, str] | None:
        """(persona Id, ParentId) of this identity; :class:`FeatureUnavailable` without social objects."""
        if self.social_available is False:
            raise FeatureUnavailable(SOCIAL_MISSING, platform=PLATFORM)
        found = self._social(lambda: self._client.query(q.persona_query(provider, external_id)))
        records = found.get("records") or []
        return (str(records[0]["Id"]), str(records[0].get("ParentId") or "")) if records else None

    def _is_person(self, parent_id: str) -> bool:
        """A real Contact, Lead or Account; not the default Account (15 or 18 characters) nor a SocialPost."""
        parked = self.default_account_id is not None and parent_id[:15] == self.default_account_id[:15]
        return parent_id[:3] in q.PERSONA_PARENTS and not parked

    def _by_id(self, record_id: str, persona_id: str | None) -> CustomerRecord | None:
        object_type: ObjectType = q.PERSONA_PARENTS[record_id[:3]]  # type: ignore[assignment]
        select = {"Contact": q.contact_select(self.fields, self.handle_field), "Lead": q.lead_select(self.fields)}
        soql = q.by_id(select.get(object_type) or q.account_select(self.fields), record_id)
        records = self._client.query(soql).get("records") or []
        return self._record(object_type, records[0], "persona", persona_id) if records else None

    def _match(self, platform: str, author: Author, persona_id: str | None) -> CustomerRecord | None:
        whatsapp = platform == "whatsapp"
        phone = q.e164(
            author.phone or (author.id if whatsapp else None), region=self.default_region, international=whatsapp
        )
        handle = (author.handle or "").lstrip("@") or None
        select = q.contact_select(self.fields, self.handle_field)
        spellings = q.phone_spellings(phone) if phone else []
        soql = q.match_query(
            select, email=author.email, phones=spellings, handle=handle, handle_field=self.handle_field
        )
        if soql is None:
            return None
        records = self._client.query(soql).get("records") or []
        best = q.best_match(records, email=author.email, phone=phone, handle=handle, handle_field=self.handle_field)
        if best is None:
            return None
        record = self._record("Contact", best[0], best[1], persona_id)
        return replace(record, also_matched=best[2]) if best[2] else record

    def _record(
        self, object_type: ObjectType, raw: Mapping[str, Any], how: MatchedBy, persona_id: str | None
    ) -> CustomerRecord:
        flat = q.flatten(raw)
        record_id = str(flat["Id"])
        return CustomerRecord(
            id=record_id,
            object_type=object_type,
            url=f"{self._client.instance_url}/lightning/r/{object_type}/{record_id}/view",
            matched_by=how,
            name=flat.get("Name"),
            email=flat.get("Email"),
            phone=flat.get("Phone") or flat.get("MobilePhone"),
            title=flat.get("Title"),
            owner_name=flat.get("Owner.Name"),
            open_cases=q.open_cases(raw),
            persona_id=persona_id,
            fields=flat,
            **q.account_fields(object_type, flat, record_id),
        )

    # -- write-back ----------------------------------------------------------------------------------------

    def ensure_persona(self, *, platform: str, author: Author, parent_id: str | None) -> str | None:
        """The SocialPersona of this identity, created under ``parent_id`` (or the default Account).

        None when there is no persona and nowhere to attach one. A persona parked on the default
        Account moves to ``parent_id`` once the person is known.
        """
        provider = q.provider_for(platform)
        found = self._find_persona(provider, author.id)
        if found is not None:
            persona_id, current = found
            if parent_id and parent_id != current and not self._is_person(current):
                self._client.rest("PATCH", f"sobjects/SocialPersona/{_record_id(persona_id)}", {"ParentId": parent_id})
            return persona_id
        parent = parent_id or self.default_account_id
        if parent is None:
            log.info("salesforce: no persona created for an unknown %s author: no default_account_id", platform)
            return None
        body = _persona_body(provider, author, parent)
        created = self._social(lambda: self._client.rest("POST", "sobjects/SocialPersona/", body))
        return str(created["id"])

    def record_post(self, event: SocialEvent, *, persona_id: str | None = None, who_id: str | None = None) -> str:
        """Upsert the customer's post as an inbound SocialPost (idempotent on ``R6PostId``); its Id."""
        author = event.author
        body: dict[str, Any] = {
            "Name": f"{event.kind.title()} from {author.display_name()}"[:255],
            "Content": event.text[:32000],
            "Handle": (author.handle or author.name or author.id)[:255],
            "MessageType": q.message_type(event.platform, event.thread_id, outbound=False),
            "Provider": q.provider_for(event.platform),
            "Posted": event.created_at.isoformat(),
            "ExternalPostId": event.message_id[:255],
        }
        body |= _optional(PostUrl=_url(event.url), PersonaId=persona_id, WhoId=who_id)
        return self._upsert_post(q.post_key(event.platform, event.message_id), body)

    def record_reply(
        self,
        reply: AgentReply,
        *,
        thread: ThreadState,
        message_id: str,
        reply_to_id: str | None = None,
        persona_id: str | None = None,
        who_id: str | None = None,
        url: str | None = None,
    ) -> str:
        """Upsert the agent's delivered reply as an outbound SocialPost answering ``reply_to_id``."""
        body: dict[str, Any] = {
            "Name": f"Reply by {reply.author_name or 'an agent'}"[:255],
            "Content": reply.body[:32000],
            "MessageType": q.message_type(thread.platform, thread.thread_id, outbound=True),
            "Provider": q.provider_for(thread.platform),
            "Posted": reply.created_at.isoformat(),
            "IsOutbound": True,
            "ExternalPostId": message_id[:255],
            "ResponseContextExternalId": thread.reply_to[:255],
        }
        body |= _optional(ReplyToId=reply_to_id, PersonaId=persona_id, WhoId=who_id, PostUrl=_url(url))
        body |= _optional(Handle=(reply.author_name or "")[:255] or None)
        return self._upsert_post(q.post_key(thread.platform, message_id), body)

    def _upsert_post(self, key: str, body: dict[str, Any]) -> str:
        if self.social_available is False:
            raise FeatureUnavailable(SOCIAL_MISSING, platform=PLATFORM)
        path = "sobjects/SocialPost/" + format_external_id("R6PostId", key)
        try:
            answer = self._social(lambda: self._client.rest("PATCH", path, body))
        except errors.PermanentError as e:
            if e.code != "INVALID_FIELD_FOR_INSERT_UPDATE":
                raise
            # The post exists: fields that can only be set on create must not be sent again.
            answer = self._client.rest(
                "PATCH", path, {k: v for k, v in body.items() if k not in CREATE_ONLY_POST_FIELDS}
            )
        if isinstance(answer, Mapping) and answer.get("id"):
            return str(answer["id"])
        found = self._client.rest("GET", path)  # 204 from API versions before 46.0 carries no id
        return str(found["Id"])

    def _social(self, action: Callable[[], Any]) -> Any:
        """Run a call on a social object; an org without them switches the feature off for good."""
        try:
            answer = action()
        except errors.PermanentError as e:
            if e.code not in ("INVALID_TYPE", "NOT_FOUND"):
                raise
            self.social_available = False
            log.warning("salesforce: %s", SOCIAL_MISSING)
            raise FeatureUnavailable(SOCIAL_MISSING, platform=PLATFORM, http_status=e.http_status, code=e.code) from e
        self.social_available = True
        return answer

    # -- contact sync ---------------------------------------------------------------------------------------

    def contacts_since(
        self, cursor: datetime | None, *, batch_size: int = 200, overlap: timedelta = SYNC_OVERLAP
    ) -> Iterator[list[ContactRow]]:
        """Contacts changed at or after ``cursor - overlap``, by (SystemModstamp, Id), in batches.

        The cursor is inclusive: Contacts of the cursor's second come again (the caller keys them by
        :attr:`ContactRow.external_id`), so one changed in that same second after the last run is not
        lost. Within one call every Contact appears once.
        """
        since = cursor - overlap if cursor else None
        soql = q.sync_query(since, deleted=False, looked_up=q.contact_fields(self.fields, self.handle_field))
        yield from self._rows(soql, deleted=False, batch_size=batch_size)

    def deleted_contacts_since(
        self, cursor: datetime | None, *, batch_size: int = 200, overlap: timedelta = SYNC_OVERLAP
    ) -> Iterator[list[ContactRow]]:
        """Contacts deleted at or after ``cursor - overlap`` (queryAll, ``IsDeleted = true``), in batches.
        Salesforce keeps deleted records visible for about 15 days (the recycle bin)."""
        since = cursor - overlap if cursor else None
        yield from self._rows(q.sync_query(since, deleted=True), deleted=True, batch_size=batch_size)

    def _rows(self, soql: str, *, deleted: bool, batch_size: int) -> Iterator[list[ContactRow]]:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        seen: set[str] = set()
        batch: list[ContactRow] = []
        for page in self._client.pages(soql, include_deleted=deleted, batch_size=batch_size):
            for raw in page:
                if raw["Id"] in seen:
                    continue
                seen.add(raw["Id"])
                batch.append(q.contact_row(raw, deleted=deleted, fields=None if deleted else self._as_looked_up(raw)))
                if len(batch) == batch_size:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def _as_looked_up(self, raw: Mapping[str, Any]) -> dict[str, str]:
        """A synced Contact's fields as a look-up names them, but for how a look-up matched (it matched none)."""
        read = {k: v for k, v in raw.items() if k != "SystemModstamp"}  # the sync's cursor, not a look-up's field
        fields = self._record("Contact", read, "persona", None).as_fields()
        return {k: v for k, v in fields.items() if k not in LOOKUP_ONLY}

    # -- limits and health ------------------------------------------------------------------------------------

    def usage(self) -> tuple[int, int] | None:
        """(used, limit) of the org's daily API requests, from the last ``Sforce-Limit-Info``."""
        return self._client.usage

    def over_budget(self) -> bool:
        """True while daily usage is past ``usage_threshold`` of the limit: enrich from the cache only.

        The usage is a rolling 24 h count read from the last answer, and no call is made while over budget:
        a reading older than ``usage_recheck`` seconds is stale, so the next lookup makes one real call and
        learns whether usage has fallen (otherwise enrichment would stay off until a restart)."""
        usage, read_at = self._client.usage, self._client.usage_read_at
        if usage is None or read_at is None or self._clock() - read_at >= self.usage_recheck:
            return False
        return usage[1] > 0 and usage[0] >= self.usage_threshold * usage[1]

    def ping(self) -> str:
        """One cheap authenticated call (OAuth userinfo); the user we are logged in as."""
        info = self._client.userinfo()
        return str(info.get("preferred_username") or info.get("name") or info.get("user_id") or "")


# -- helpers -------------------------------------------------------------------------------------------------


def _check_options(api_version: str, usage_threshold: float, default_account_id: str | None) -> None:
    if not re.fullmatch(r"\d{2,3}\.0", api_version):
        raise errors.ConfigError(f"salesforce.api_version must look like 59.0, not {api_version!r}")
    if not 0 < usage_threshold <= 1:
        raise errors.ConfigError("salesforce.usage_threshold must be a share between 0 and 1 (0.8 = 80 %)")
    if default_account_id is not None and not (
        RECORD_ID.fullmatch(default_account_id) and default_account_id[:3] == "001"
    ):
        raise errors.ConfigError("salesforce.default_account_id must be an Account id (001...)")


def _domain(domain: str) -> str:
    """``login``, ``test`` or a My Domain (``acme.my``); a full host name is forgiven."""
    value = domain.strip().removeprefix("https://").rstrip("/").removesuffix(".salesforce.com")
    if not DOMAIN.fullmatch(value):
        raise errors.ConfigError(f"salesforce.domain must be login, test or <mydomain>.my, not {domain!r}")
    return value


def _record_id(value: str) -> str:
    if not RECORD_ID.fullmatch(value):
        raise errors.PermanentError("Salesforce returned an unexpected record id", platform=PLATFORM)
    return value


def _persona_body(provider: str, author: Author, parent: str) -> dict[str, Any]:
    name = (author.handle or author.display_name())[:255]
    body = {"Provider": provider, "ExternalId": author.id, "Name": name, "ParentId": parent}
    return body | _optional(ProfileUrl=_url(author.profile_url), RealName=author.name)


def _optional(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _url(url: str | None) -> str | None:
    """URL fields hold 255 characters; a cut URL is a broken link, so a longer one is left out."""
    return url if url and len(url) <= 255 else None
