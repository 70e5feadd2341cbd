"""The part of a Salesforce org's schema the simulator knows: objects, field types, relationships.

Names, types and properties come from the Salesforce Object Reference (for SocialPersona and
SocialPost, the v67.0 copies in ``tests/fixtures/salesforce``). Only the fields the bridge and its
tests touch are declared; asking for any other field is an ``INVALID_FIELD`` error, as in a real org.
Field names are case-insensitive in SOQL and in REST bodies; :meth:`SObject.field` resolves them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

#: Field types, as describe() names them. Text-like types compare case-insensitively in SOQL.
TEXT_TYPES = frozenset({"string", "email", "phone", "url", "textarea", "picklist"})
ID_TYPES = frozenset({"id", "reference"})
SYSTEM_FIELDS = {
    "Id": "id",
    "IsDeleted": "boolean",
    "CreatedDate": "datetime",
    "CreatedById": "reference",
    "LastModifiedDate": "datetime",
    "LastModifiedById": "reference",
    "SystemModstamp": "datetime",
}
READ_ONLY = frozenset(SYSTEM_FIELDS) | {"Name@Contact", "Name@Lead", "Name@User", "IsClosed", "CaseNumber"}

PROVIDERS = [
    "Facebook",
    "GooglePlus",
    "Instagram",
    "InstagramBusiness",
    "KakaoTalk",
    "Kik",
    "Line",
    "LinkedIn",
    "Messenger",
    "Other",
    "Pinterest",
    "QQ",
    "Rypple",
    "SinaWeibo",
    "SMS",
    "Snapchat",
    "Telegram",
    "Twitter",
    "VKontakte",
    "WeChat",
    "WhatsApp",
    "YouTube",
]
MESSAGE_TYPES = ("Comment", "Direct", "Post", "Private", "Reply", "Retweet", "Tweet")
POST_STATUSES = tuple(
    [
        "DELETED",
        "FAILED",
        "HIDDEN",
        "PENDING",
        "PENDING_APPROVAL",
        "RECALL_APPROVAL",
        "REJECTED_APPROVAL",
        "REPLIED",
        "SENT",
        "UNKNOWN",
    ]
)
CLOSED_CASE_STATUSES = ("Closed",)


@dataclass(frozen=True)
class Reference:
    """A lookup from this object: ``Account`` is ``AccountId`` → Account; polymorphic when several targets."""

    field: str
    targets: tuple[str, ...]


@dataclass(frozen=True)
class Child:
    """A child relationship usable in a subquery: ``Cases`` on Contact is Case records by ``ContactId``."""

    sobject: str
    field: str


@dataclass(frozen=True)
class SObject:
    """One object type: its key prefix, fields and their types, relationships and write rules."""

    name: str
    prefix: str
    fields: Mapping[str, str]
    references: Mapping[str, Reference] = field(default_factory=dict)
    children: Mapping[str, Child] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    create_only: frozenset[str] = frozenset()  # createable, not updateable (Provider on SocialPost)
    id_lookup: frozenset[str] = frozenset()  # usable as an upsert key
    picklists: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    lengths: Mapping[str, int] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)

    def field(self, name: str) -> str | None:
        """The canonical spelling of a field name, or None when the object has no such field."""
        return _canonical(self.fields, name)

    def reference(self, name: str) -> tuple[str, Reference] | None:
        key = _canonical(self.references, name)
        return (key, self.references[key]) if key else None

    def child(self, name: str) -> tuple[str, Child] | None:
        key = _canonical(self.children, name)
        return (key, self.children[key]) if key else None

    def writable(self, name: str) -> bool:
        return name not in READ_ONLY and f"{name}@{self.name}" not in READ_ONLY

    def label(self, name: str) -> str:
        return self.labels.get(name, name)


def _canonical(names: Iterable[str], wanted: str) -> str | None:
    lower = wanted.lower()
    return next((n for n in names if n.lower() == lower), None)


def _object(name: str, prefix: str, fields: Mapping[str, str], **kwargs: object) -> SObject:
    return SObject(name=name, prefix=prefix, fields={**SYSTEM_FIELDS, **fields}, **kwargs)  # type: ignore[arg-type]


OWNER = {"Owner": Reference("OwnerId", ("User",))}
PERSON_FIELDS = {
    "FirstName": "string",
    "LastName": "string",
    "Name": "string",
    "Email": "email",
    "Phone": "phone",
    "MobilePhone": "phone",
    "Title": "string",
    "OwnerId": "reference",
}


def build_schema(custom_fields: Mapping[str, Iterable[str]]) -> dict[str, SObject]:
    """The org's objects; ``custom_fields`` adds text fields (``Twitter_Handle__c``) per object."""
    objects = [
        _object("User", "005", {"Name": "string", "Username": "string", "Email": "email", "IsActive": "boolean"}),
        _object(
            "Account",
            "001",
            {"Name": "string", "Type": "picklist", "Industry": "picklist", "AnnualRevenue": "double"}
            | {"Phone": "phone", "Website": "url", "OwnerId": "reference"},
            references=OWNER,
            children={"Contacts": Child("Contact", "AccountId"), "Cases": Child("Case", "AccountId")},
            required=("Name",),
        ),
        _object(
            "Contact",
            "003",
            PERSON_FIELDS | {"AccountId": "reference"},
            references=OWNER | {"Account": Reference("AccountId", ("Account",))},
            children={"Cases": Child("Case", "ContactId")},
            required=("LastName",),
        ),
        _object(
            "Lead",
            "00Q",
            PERSON_FIELDS | {"Company": "string", "Status": "picklist", "IsConverted": "boolean"},
            references=OWNER,
            required=("LastName", "Company"),
        ),
        _object(
            "Case",
            "500",
            {"CaseNumber": "string", "Subject": "string", "Status": "picklist", "IsClosed": "boolean"}
            | {"ContactId": "reference", "AccountId": "reference", "OwnerId": "reference"},
            references=OWNER
            | {"Contact": Reference("ContactId", ("Contact",)), "Account": Reference("AccountId", ("Account",))},
        ),
        _persona(),
        _post(),
    ]
    schema = {o.name: o for o in objects}
    for name, extra in custom_fields.items():
        base = schema[name]
        schema[name] = replace(base, fields={**base.fields, **dict.fromkeys(extra, "string")})
    return schema


def _persona() -> SObject:
    text = dict.fromkeys(
        ("AuthorLabels", "ExternalId", "ExternalPictureURL", "MediaProvider", "MediaType", "ProfileUrl"), "string"
    )
    text |= dict.fromkeys(("R6SourceId", "RealName", "SourceApp", "TopicType", "Bio", "AvatarUrl"), "string")
    flags = dict.fromkeys(("AreWeFollowing", "IsBlacklisted", "IsDefault", "IsFollowingUs", "IsVerified"), "boolean")
    counts = dict.fromkeys(("Followers", "Following", "NumberOfFriends", "NumberOfTweets"), "int")
    return _object(
        "SocialPersona",
        "0SP",
        {"Name": "string", "ParentId": "reference", "Provider": "picklist", "ProfileType": "picklist"}
        | text
        | flags
        | counts,
        references={"Parent": Reference("ParentId", ("Account", "Contact", "Lead", "SocialPost"))},
        required=("Name", "ParentId", "Provider"),
        picklists={"Provider": tuple(PROVIDERS), "ProfileType": ("Person", "Page")},
        lengths={"Name": 255, "ExternalId": 255, "ProfileUrl": 255},
        labels={"Provider": "Social Network", "ParentId": "Parent ID", "Name": "Social Persona Name"},
    )


def _post() -> SObject:
    text = dict.fromkeys(
        ("Handle", "ExternalPostId", "R6PostId", "R6SourceId", "Headline", "Recipient", "ResponseContextExternalId"),
        "string",
    )
    return _object(
        "SocialPost",
        "0ST",
        {"Name": "string", "Content": "textarea", "MessageType": "picklist", "Provider": "picklist"}
        | {"Posted": "datetime", "PostUrl": "url", "IsOutbound": "boolean", "Status": "picklist"}
        | {"PersonaId": "reference", "WhoId": "reference", "ParentId": "reference", "ReplyToId": "reference"}
        | {"OwnerId": "reference"}
        | text,
        references=OWNER
        | {
            "Persona": Reference("PersonaId", ("SocialPersona",)),
            "Who": Reference("WhoId", ("Account", "Contact", "Lead")),
            "Parent": Reference("ParentId", ("Case",)),
            "ReplyTo": Reference("ReplyToId", ("SocialPost",)),
        },
        required=("Name",),
        create_only=frozenset({"Provider", "IsOutbound"}),
        id_lookup=frozenset({"R6PostId"}),
        picklists={"Provider": tuple(PROVIDERS), "MessageType": MESSAGE_TYPES, "Status": POST_STATUSES},
        lengths={"Name": 255, "Handle": 255, "PostUrl": 255, "R6PostId": 255, "ExternalPostId": 255, "Content": 32000},
        labels={"Provider": "Social Network", "PostUrl": "Post URL", "Content": "Message", "IsOutbound": "Is Outbound"},
    )


SOCIAL_OBJECTS = frozenset({"SocialPersona", "SocialPost"})

# -- ids and timestamps ------------------------------------------------------------------------------------

_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def id18(id15: str) -> str:
    """The case-safe 18-character form of a 15-character record id (Salesforce's checksum)."""
    suffix = ""
    for chunk in (id15[0:5], id15[5:10], id15[10:15]):
        bits = sum(1 << i for i, c in enumerate(chunk) if "A" <= c <= "Z")
        suffix += _SUFFIX[bits]
    return id15 + suffix


def looks_like_id(value: str) -> bool:
    return len(value) in (15, 18) and value.isalnum()


def normal_id(value: str) -> str:
    """Ids in filters may be given in 15 or 18 characters; compare them as 18."""
    return id18(value) if len(value) == 15 and value.isalnum() else value


def sf_datetime(moment: datetime) -> str:
    """Salesforce's REST form of a dateTime: ``2024-05-01T12:34:56.000+0000``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def parse_datetime(value: str) -> datetime:
    """A dateTime as SOQL literals and REST bodies write it (``Z``, ``+00:00`` or ``+0000``)."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
