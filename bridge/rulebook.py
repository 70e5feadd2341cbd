"""Reading ``[[rules]]``: the rule grammar of ``socialdesk.toml`` into the typed rules of :mod:`bridge.rules`.

``when`` is a table of conditions that must all hold (``all`` / ``any`` / ``not`` nest them); ``then`` a
table of actions. A bad rule is refused at start with one line naming the rule and the key::

    rules[vip-negative].when.sentimnt: unknown condition (did you mean sentiment?)

Names of groups, assignees and brands are checked against the helpdesk later, once, when the bridge
starts (:mod:`bridge.routing`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from bridge.errors import ConfigError
from bridge.events import Priority, TicketStatus
from bridge.replies import KINDS as ACK_KINDS
from bridge.replies import TemplateError, check_templates
from bridge.rules import (
    COMPARISONS,
    ESCALATED_TAG,
    ZENDESK_TYPES,
    Actions,
    All,
    Any_,
    AuthorIs,
    Condition,
    CrmField,
    Flag,
    Not,
    OneOf,
    Rule,
    SentimentIs,
    UrgencyIs,
)
from bridge.tablekeys import (
    BadKey,
    check_crm_field,
    check_name,
    check_one_of,
    entry_path,
    read_bool,
    read_keywords,
    read_regex,
    read_strings,
)
from bridge.tablekeys import check_known as _known

# -- reading [[rules]] -----------------------------------------------------------------------------------------------

_RULE_KEYS = ("name", "when", "then", "stop")
_PRIORITY_ALIASES = {"medium": "normal"}
_STATUS_ALIASES = {"resolved": "solved"}


def parse_rules(raw: object, *, helpdesk: str = "zendesk") -> tuple[Rule, ...]:
    """``[[rules]]`` as typed rules; a bad rule is a :class:`ConfigError` naming the rule and the key."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        raise ConfigError("rules: must be an array of tables ([[rules]])")
    rules = tuple(_rule(r, i, helpdesk) for i, r in enumerate(raw))
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            raise ConfigError(f"rules[{rule.name}].name: another rule has this name")
        seen.add(rule.name)
    return rules


def check_names(raw: object, known: Mapping[str, Sequence[str]]) -> None:
    """What a parsed rule's conditions name exists: ``known`` maps ``channel``, ``platform``, ``language`` to the
    values there are (a condition left out of it is not checked: an operator's classifier has its own languages),
    and ``crm`` names a field of the CRM's record. A typo there (``channel = "acme-fb"``) was accepted, and the
    rule silently never fired."""
    for index, table in enumerate(raw if isinstance(raw, list) else []):
        try:
            _check_when(table.get("when", {}), "when", known)
        except BadKey as e:
            raise ConfigError(f"{entry_path('rules', table, index)}.{e.key}: {e.message}") from None


def _check_when(when: dict[str, Any], where: str, known: Mapping[str, Sequence[str]]) -> None:
    for key, value in when.items():
        path = _join(where, key)
        if key in ("all", "any"):
            for i, table in enumerate(value):
                _check_when(table, f"{path}[{i}]", known)
        elif key == "not":
            _check_when(value, path, known)
        elif key == "crm":
            for name in value:
                check_crm_field(str(name), _join(path, str(name)))
        elif key in known:
            for name in read_strings(value, path):
                check_one_of(name, known[key], path, key)


def _rule(table: dict[str, Any], index: int, helpdesk: str) -> Rule:
    where = entry_path("rules", table, index)
    try:
        _known(table, _RULE_KEYS, "")
        name = check_name(table.get("name"))
        stop = table.get("stop", False)
        if not isinstance(stop, bool):
            raise BadKey("stop", "must be true or false")
        return Rule(name, _when(table.get("when", {}), "when"), _then(table.get("then"), helpdesk), stop)
    except BadKey as e:
        raise ConfigError(f"{where}.{e.key}: {e.message}") from None


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


# conditions ------------------------------------------------------------------------------------------------------


def _when(value: object, where: str) -> Condition:
    if not isinstance(value, dict):
        raise BadKey(where, "must be a table of conditions")
    _known(value, tuple(_CONDITIONS), where)
    return _all(_CONDITIONS[key](v, _join(where, key)) for key, v in value.items())


def _all(conditions: Iterable[Condition]) -> Condition:
    """``All`` of them, nested ``All`` flattened and a single one unwrapped: every level costs on every message."""
    parts: list[Condition] = []
    for condition in conditions:
        parts.extend(condition.parts if isinstance(condition, All) else (condition,))
    return parts[0] if len(parts) == 1 else All(tuple(parts))


def _one_of(what: str, attr: str) -> Callable[[object, str], Condition]:
    return lambda v, where: OneOf(what, frozenset(s.casefold() for s in read_strings(v, where)), attr)


def _flag(what: str, attr: str, yes: str, no: str) -> Callable[[object, str], Condition]:
    return lambda v, where: Flag(what, read_bool(v, where), attr, yes, no)


def _sentiment(value: object, where: str) -> Condition:
    table = value if isinstance(value, dict) else {"is": value}
    _known(table, ("is", "min_score"), where)
    labels = frozenset(s.casefold() for s in read_strings(table.get("is"), f"{where}.is"))
    unknown = labels - {"negative", "neutral", "positive"}
    if unknown:
        raise BadKey(f"{where}.is", f"{sorted(unknown)[0]!r} is not negative, neutral or positive")
    min_score = table.get("min_score", 0.0)
    if isinstance(min_score, bool) or not isinstance(min_score, int | float) or not 0 <= min_score <= 1:
        raise BadKey(f"{where}.min_score", "must be a number from 0 to 1")
    return SentimentIs(labels, float(min_score))


def _urgency(value: object, where: str) -> Condition:
    if value not in ("high", "normal"):
        raise BadKey(where, "must be high or normal")
    return UrgencyIs(str(value))


def _crm(value: object, where: str) -> Condition:
    if not isinstance(value, dict) or not value:
        raise BadKey(where, 'must be a table of CRM fields, e.g. { account_type = "Enterprise" }')
    return _all(_crm_field(str(k), v, _join(where, str(k))) for k, v in value.items())


def _crm_field(name: str, value: object, where: str) -> Condition:
    if isinstance(value, bool):
        return CrmField(name, exists=value)
    if isinstance(value, int | float):
        return CrmField(name, compare=(("gte", float(value)), ("lte", float(value))))
    if not isinstance(value, dict):
        return CrmField(name, values=frozenset(s.casefold() for s in read_strings(value, where)))
    _known(value, (*COMPARISONS, "exists"), where)
    if "exists" in value:
        return CrmField(name, exists=read_bool(value["exists"], f"{where}.exists"))
    bounds = []
    for op, bound in value.items():
        if isinstance(bound, bool) or not isinstance(bound, int | float):
            raise BadKey(f"{where}.{op}", "must be a number")
        bounds.append((str(op), float(bound)))
    return CrmField(name, compare=tuple(bounds))


def _hours(value: object, where: str) -> Condition:
    if value not in ("inside", "outside"):
        raise BadKey(where, "must be inside or outside")
    return Flag("business hours", value == "inside", "inside_hours", "inside business hours", "outside")


def _group_of(kind: Callable[[tuple[Condition, ...]], Condition]) -> Callable[[object, str], Condition]:
    def build(value: object, where: str) -> Condition:
        if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
            raise BadKey(where, "must be a non-empty list of condition tables")
        return kind(tuple(_when(v, f"{where}[{i}]") for i, v in enumerate(value)))

    return build


_CONDITIONS: dict[str, Callable[[object, str], Condition]] = {
    "channel": _one_of("channel", "channel"),
    "platform": _one_of("platform", "platform"),
    "language": _one_of("language", "language"),
    "public": _flag("public", "public", "in public", "in private"),
    "first_message": _flag("first message", "first_message", "first message", "follow-up"),
    "keywords": read_keywords,
    "regex": read_regex,
    "sentiment": _sentiment,
    "urgency": _urgency,
    "crm": _crm,
    "vip": _flag("vip", "vip", "VIP", "not VIP"),
    "known_customer": _flag("known customer", "known_customer", "known customer", "unknown customer"),
    "attachments": _flag("attachments", "has_attachments", "has attachments", "no attachments"),
    "business_hours": _hours,
    "post": _one_of("post", "post"),
    "author": lambda v, where: AuthorIs(frozenset(a.casefold().lstrip("@") for a in read_strings(v, where))),
    "all": _group_of(All),
    "any": _group_of(Any_),
    "not": lambda v, where: Not(_when(v, where)),
}


# actions -----------------------------------------------------------------------------------------------------------

_ACTIONS = (
    "tags", "priority", "type", "group", "assignee", "brand", "status", "fields", "ignore", "escalate", "ack",
    "calendar", "approval",
)  # fmt: skip


def _then(value: object, helpdesk: str) -> Actions:
    if not isinstance(value, dict) or not value:
        raise BadKey("then", "required: a table of actions")
    _known(value, _ACTIONS, "then")
    priority = _priority(value.get("priority"))
    group = _text(value.get("group"), "then.group")
    tags = _tags(value.get("tags"))
    if "escalate" in value:  # a shorthand: urgent, in that group, tagged
        group, priority = _text(value["escalate"], "then.escalate"), Priority.URGENT
        tags = (*tags, ESCALATED_TAG)
    return Actions(
        tags=tags,
        priority=priority,
        type=_type(value.get("type"), helpdesk),
        group=group,
        assignee=_text(value.get("assignee"), "then.assignee"),
        brand=_brand(value.get("brand"), helpdesk),
        status=_status(value.get("status"), helpdesk),
        fields=_fields(value.get("fields"), helpdesk),
        ignore=read_bool(value.get("ignore", False), "then.ignore"),
        ack=value.get("ack", True) is not False,
        ack_templates=_ack_templates(value.get("ack", True)),
        calendar=_text(value.get("calendar"), "then.calendar"),  # its existence is checked with the calendars
        approval=read_bool(value.get("approval", False), "then.approval"),
    )


def _ack_templates(value: object) -> dict[str, dict[str, str]]:
    """``then.ack``: true (the channel's templates), false (none), or a table of the rule's own ``instant``,
    ``away`` and ``apology`` templates (each one string, or one per language with a ``default``)."""
    if isinstance(value, bool):
        return {}
    if not isinstance(value, dict) or not value:
        raise BadKey("then.ack", "must be true, false or a table of templates (instant, away, apology)")
    _known(value, ACK_KINDS, "then.ack")
    templates = {kind: {"default": t} if isinstance(t, str) else t for kind, t in value.items()}
    for kind, table in templates.items():
        if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
            raise BadKey(f"then.ack.{kind}", "must be a template, or a table of one per language")
        try:
            check_templates(table, f"then.ack.{kind}")
        except TemplateError as e:
            raise BadKey(e.key, e.problem) from None
    return templates


def _text(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise BadKey(where, "must be a name")
    return value.strip()


def _tags(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    tags = read_strings(value, "then.tags")
    bad = next((t for t in tags if not re.fullmatch(r"[\w:-]{1,32}", t)), None)
    if bad is not None:
        raise BadKey("then.tags", f"{bad!r}: a tag is 1-32 letters, digits, '_', '-' or ':' (no spaces)")
    return tuple(t.lower() for t in tags)


def _priority(value: object) -> Priority | None:
    if value is None:
        return None
    try:
        return Priority(_PRIORITY_ALIASES.get(str(value), str(value)))
    except ValueError:
        raise BadKey("then.priority", "must be low, normal, high or urgent") from None


def _status(value: object, helpdesk: str) -> TicketStatus | None:
    if value is None:
        return None
    try:
        status = TicketStatus(_STATUS_ALIASES.get(str(value), str(value)))
    except ValueError:
        raise BadKey("then.status", "must be open, pending, hold, solved or closed") from None
    if status in (TicketStatus.NEW, TicketStatus.CLOSED) and helpdesk == "zendesk":
        raise BadKey("then.status", f"{status} cannot be set on Zendesk (it sets new and closed itself)")
    if status in (TicketStatus.NEW, TicketStatus.HOLD) and helpdesk == "freshdesk":
        raise BadKey("then.status", f"{status} is not a Freshdesk status")
    return status


def _type(value: object, helpdesk: str) -> str | None:
    name = _text(value, "then.type")
    if name is not None and helpdesk == "zendesk" and name.lower() not in ZENDESK_TYPES:
        raise BadKey("then.type", f"{name!r}: Zendesk's types are {', '.join(sorted(ZENDESK_TYPES))}")
    return name.lower() if name is not None and helpdesk == "zendesk" else name


def _brand(value: object, helpdesk: str) -> str | None:
    name = _text(value, "then.brand")
    if name is not None and helpdesk != "zendesk":
        raise BadKey("then.brand", "brands are Zendesk's only")
    return name


#: How each helpdesk names a custom ticket field in its API: Zendesk by number, Freshdesk by ``cf_`` name.
_FIELD_KEYS = {"zendesk": (re.compile(r"\d+"), "a Zendesk field id (a number)"),
               "freshdesk": (re.compile(r"cf_[a-z0-9_]+"), "a Freshdesk field name (cf_...)")}  # fmt: skip


def _fields(value: object, helpdesk: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str | int | float | bool) for v in value.values()):
        raise BadKey("then.fields", "must be a table of field id or name = value")
    pattern, wanted = _FIELD_KEYS.get(helpdesk, (re.compile(r".+"), ""))
    bad = next((str(k) for k in value if not pattern.fullmatch(str(k))), None)
    if bad is not None:
        raise BadKey(f"then.fields.{bad}", f"not {wanted}")
    return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}


# -- names the helpdesk must know ---------------------------------------------------------------------------------


def names_used(rules: Sequence[Rule]) -> dict[str, dict[str, str]]:
    """``{"group": {name: rule}, "assignee": ..., "brand": ...}``: every name to resolve, with a rule using it."""
    used: dict[str, dict[str, str]] = {"group": {}, "assignee": {}, "brand": {}}
    for rule in rules:
        for kind, names in used.items():
            value = getattr(rule.then, kind)
            if value is not None:
                names.setdefault(value, rule.name)
    return used
