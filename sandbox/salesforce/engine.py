"""Runs a parsed SOQL query over the simulator's tables, with Salesforce's rules and error messages.

* Objects and fields are checked against :mod:`sandbox.salesforce.schema`: an unknown object is
  ``INVALID_TYPE``, an unknown field or relationship ``INVALID_FIELD``; a hidden object (Social
  Customer Service switched off) is unknown.
* Filters compare like Salesforce: text case-insensitively, ids in 15 or 18 characters, dateTime
  fields only against unquoted dateTime literals, ``!=`` matching nulls, ``LIKE`` with ``%`` and ``_``.
* Results are shaped like the REST API's: ``attributes``, relationship objects (``null`` when the
  lookup is empty), child subqueries as ``{"totalSize", "done", "records"}`` (``null`` when empty).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sandbox.salesforce.schema import ID_TYPES, TEXT_TYPES, Reference, SObject, normal_id, parse_datetime
from sandbox.salesforce.soql import (
    Comparison,
    Condition,
    Constant,
    FieldRef,
    Junction,
    Negation,
    Query,
    SoqlError,
    parse,
)

Record = dict[str, Any]
Tables = Mapping[str, Mapping[str, Record]]
NUMERIC = frozenset({"double", "int", "currency"})
POLYMORPHIC_FIELDS = {"Id": "id", "Name": "string", "Type": "string"}
NOT_SUPPORTED = (
    "sObject type '{}' is not supported. If you are attempting to use a custom object, be sure to append the "
    "'__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."
)
NO_COLUMN = (
    "No such column '{}' on entity '{}'. If you are attempting to use a custom field, be sure to append the "
    "'__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
)
NO_RELATIONSHIP = (
    "Didn't understand relationship '{}' in field path. If you are attempting to use a custom relationship, be "
    "sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe "
    "call for the appropriate names."
)


@dataclass(frozen=True)
class Path:
    """A validated field path: relationship hops, then the field and its type."""

    hops: tuple[tuple[str, Reference], ...]
    field: str
    type: str


class Engine:
    """Evaluates queries; ``lookup(id)`` finds any record (with its object name) for relationships."""

    def __init__(
        self,
        schema: Mapping[str, SObject],
        tables: Tables,
        *,
        visible: Callable[[str], bool],
        lookup: Callable[[str], tuple[str, Record] | None],
    ) -> None:
        self.schema, self.tables, self.visible, self.lookup = schema, tables, visible, lookup

    def run(self, soql: str, *, include_deleted: bool, version: str) -> list[Record]:
        """All result records, projected; paging is the caller's business."""
        query = parse(soql)
        sobject = self.sobject(query.sobject, query.sobject_column)
        self.check(sobject, query)
        rows = [r for r in self.tables[sobject.name].values() if include_deleted or not r.get("IsDeleted")]
        rows = self.select_rows(sobject, query, rows)
        return [self.project(sobject, row, query, version, include_deleted) for row in rows]

    # -- validation --------------------------------------------------------------------------------------

    def sobject(self, name: str, column: int | None = None) -> SObject:
        canonical = next((n for n in self.schema if n.lower() == name.lower()), None)
        if canonical is None or not self.visible(canonical):
            raise SoqlError(NOT_SUPPORTED.format(name), code="INVALID_TYPE", column=column)
        return self.schema[canonical]

    def check(self, sobject: SObject, query: Query) -> None:
        """Resolve every name up front: Salesforce refuses a bad query even when no row would match."""
        for item in query.fields:
            if isinstance(item, Query):
                found = sobject.child(item.sobject)
                if found is None:
                    raise SoqlError(
                        NO_RELATIONSHIP.format(item.sobject), code="INVALID_FIELD", column=item.sobject_column
                    )
                self.check(self.schema[found[1].sobject], item)
            else:
                self.path(sobject, item)
        for ordering in query.order:
            self.path(sobject, ordering.path)
        if query.where is not None:
            self.predicate(sobject, query.where)

    def path(self, sobject: SObject, ref: FieldRef) -> Path:
        *relationships, last = ref.path.split(".")
        hops: list[tuple[str, Reference]] = []
        current: SObject | None = sobject
        for name in relationships:
            found = current.reference(name) if current else None
            if found is None:
                raise SoqlError(NO_RELATIONSHIP.format(name), code="INVALID_FIELD", column=ref.column)
            hops.append(found)
            targets = found[1].targets
            current = self.schema[targets[0]] if len(targets) == 1 else None
        if current is None:  # polymorphic: only the fields every target has
            canonical = next((f for f in POLYMORPHIC_FIELDS if f.lower() == last.lower()), None)
            if canonical is None:
                raise SoqlError(NO_COLUMN.format(last, "Name"), code="INVALID_FIELD", column=ref.column)
            return Path(tuple(hops), canonical, POLYMORPHIC_FIELDS[canonical])
        field = current.field(last)
        if field is None:
            raise SoqlError(NO_COLUMN.format(last, current.name), code="INVALID_FIELD", column=ref.column)
        return Path(tuple(hops), field, current.fields[field])

    # -- filtering and ordering ------------------------------------------------------------------------------

    def select_rows(self, sobject: SObject, query: Query, rows: list[Record]) -> list[Record]:
        if query.where is not None:
            test = self.predicate(sobject, query.where)
            rows = [r for r in rows if test(r)]
        for ordering in reversed(query.order):  # stable sorts, last key first
            path = self.path(sobject, ordering.path)
            rows = self.sort(rows, path, descending=ordering.descending, nulls_last=ordering.nulls_last)
        start = query.offset or 0
        return rows[start : start + query.limit if query.limit is not None else None]

    def sort(self, rows: list[Record], path: Path, *, descending: bool, nulls_last: bool) -> list[Record]:
        present = [r for r in rows if self.value(r, path) is not None]
        missing = [r for r in rows if self.value(r, path) is None]
        present.sort(key=lambda r: _comparable(self.value(r, path), path.type), reverse=descending)
        return present + missing if nulls_last else missing + present

    def predicate(self, sobject: SObject, condition: Condition) -> Callable[[Record], bool]:
        if isinstance(condition, Negation):
            inner = self.predicate(sobject, condition.condition)
            return lambda r: not inner(r)
        if isinstance(condition, Junction):
            parts = [self.predicate(sobject, c) for c in condition.parts]
            combine = all if condition.op == "AND" else any
            return lambda r: combine(p(r) for p in parts)
        return self.comparison(sobject, condition)

    def comparison(self, sobject: SObject, comparison: Comparison) -> Callable[[Record], bool]:
        path = self.path(sobject, comparison.path)
        constants = comparison.value if isinstance(comparison.value, tuple) else (comparison.value,)
        for constant in constants:
            _check_literal(path, constant, comparison)
        wanted = [_comparable(c.value, path.type) if c.value is not None else None for c in constants]
        op = comparison.op
        if op == "LIKE":
            pattern = _like(str(constants[0].value))
            return lambda r: _text(self.value(r, path)) is not None and bool(pattern.match(str(self.value(r, path))))
        return lambda r: _compare(_comparable_or_none(self.value(r, path), path.type), op, wanted)

    # -- values and projection ---------------------------------------------------------------------------------

    def value(self, record: Record, path: Path) -> Any:
        kind, current = self.walk(record, path.hops)
        if current is None:
            return None
        if path.hops and path.field == "Type" and path.type == "string" and "Type" not in current:
            return kind  # Parent.Type on a polymorphic lookup: the target's object name
        return current.get(path.field)

    def walk(self, record: Record, hops: tuple[tuple[str, Reference], ...]) -> tuple[str | None, Record | None]:
        """Follow lookups; (object name, record) at the end, (None, None) when one is empty."""
        kind: str | None = None
        current: Record | None = record
        for _, reference in hops:
            target = current.get(reference.field) if current else None
            found = self.lookup(target) if isinstance(target, str) else None
            kind, current = found if found else (None, None)
        return kind, current

    def project(self, sobject: SObject, row: Record, query: Query, version: str, deleted: bool) -> Record:
        out: Record = {"attributes": _attributes(sobject.name, row["Id"], version)}
        for item in query.fields:
            if isinstance(item, Query):
                name, rows = self.children(sobject, row, item, deleted)
                child = self.schema[sobject.child(item.sobject)[1].sobject]  # type: ignore[index]
                records = [self.project(child, r, item, version, deleted) for r in rows]
                out[name] = {"totalSize": len(records), "done": True, "records": records} if records else None
            else:
                self.put(out, row, self.path(sobject, item), version)
        return out

    def put(self, out: Record, row: Record, path: Path, version: str) -> None:
        """Write one selected path into ``out``, nesting relationship objects like the REST API."""
        for depth, (name, _) in enumerate(path.hops):
            kind, target = self.walk(row, path.hops[: depth + 1])
            if target is None or kind is None:
                out[name] = None
                return
            nested = out.get(name)
            if not isinstance(nested, dict):
                nested = out[name] = {"attributes": _attributes(kind, target["Id"], version)}
            out = nested
        out[path.field] = self.value(row, path)

    def children(self, parent: SObject, row: Record, sub: Query, deleted: bool) -> tuple[str, list[Record]]:
        found = parent.child(sub.sobject)
        if found is None:
            raise SoqlError(NO_RELATIONSHIP.format(sub.sobject), code="INVALID_FIELD", column=sub.sobject_column)
        name, child = found
        table = self.tables[child.sobject].values()
        rows = [r for r in table if r.get(child.field) == row["Id"] and (deleted or not r.get("IsDeleted"))]
        return name, self.select_rows(self.schema[child.sobject], sub, rows)


def _attributes(sobject: str, record_id: str, version: str) -> dict[str, str]:
    return {"type": sobject, "url": f"/services/data/v{version}/sobjects/{sobject}/{record_id}"}


# -- comparisons -----------------------------------------------------------------------------------------------


def _check_literal(path: Path, constant: Constant, comparison: Comparison) -> None:
    """Salesforce checks a literal's type against the field's before running anything."""
    if constant.kind == "null":
        if comparison.op not in ("=", "!=", "IN", "NOT IN"):
            raise SoqlError("unexpected token: 'null'", column=comparison.path.column)
        return
    expected = _literal_kind(path.type)
    if constant.kind == expected:
        return
    quoting = "should be enclosed in quotes" if expected == "string" else "should not be enclosed in quotes"
    name = path.field if not path.hops else ".".join([*(h[0] for h in path.hops), path.field])
    raise SoqlError(
        f"value of filter criterion for field '{name}' must be of type {_type_word(path.type)} and {quoting}",
        code="INVALID_FIELD",
        column=comparison.path.column,
    )


def _literal_kind(field_type: str) -> str:
    if field_type in NUMERIC:
        return "number"
    if field_type in ("boolean", "datetime", "date"):
        return field_type
    return "string"


def _type_word(field_type: str) -> str:
    return {"datetime": "dateTime", "id": "id", "reference": "id"}.get(field_type, field_type)


def _comparable(value: Any, field_type: str) -> Any:
    if field_type == "datetime" and isinstance(value, str):
        return parse_datetime(value)
    if field_type in TEXT_TYPES or field_type == "string":
        return str(value).casefold()
    if field_type in ID_TYPES:
        return normal_id(str(value))
    if field_type == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    return value


def _comparable_or_none(value: Any, field_type: str) -> Any:
    return None if value is None else _comparable(value, field_type)


def _compare(actual: Any, op: str, wanted: list[Any]) -> bool:
    if op == "IN":
        return actual in wanted
    if op == "NOT IN":
        return actual not in wanted
    target = wanted[0]
    if op == "=":
        return bool(actual == target)
    if op == "!=":
        return bool(actual != target)
    if actual is None or target is None:
        return False
    if isinstance(actual, datetime | date) != isinstance(target, datetime | date):
        return False
    return bool({"<": actual < target, "<=": actual <= target, ">": actual > target, ">=": actual >= target}[op])


def _like(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        if pattern[i] == "\\" and pattern[i + 1 : i + 2] in ("%", "_"):
            out += re.escape(pattern[i + 1])
            i += 2
            continue
        out += {"%": ".*", "_": "."}.get(pattern[i], re.escape(pattern[i]))
        i += 1
    return re.compile(out + r"\Z", re.IGNORECASE | re.DOTALL)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
