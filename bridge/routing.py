"""The rules' names made ids: groups, assignees and brands looked up in the helpdesk once, at start.

A rule says ``group = "Escalations"``; the helpdesk wants ``group_id = 360000001002``. :meth:`Triage.prepare`
lists the helpdesk's groups, agents and brands once (``socialdesk worker`` at start, ``doctor``,
``rules check``) and refuses a name it does not know with one line naming the rule and the key; so too a
ticket field (``then.fields``) or type the helpdesk lacks, where its connector lists them (Freshdesk answers a
write carrying an unknown field with a 400, Zendesk drops the value silently). After
that, turning a :class:`bridge.rules.Decision` into the :class:`bridge.events.Routing` a ticket carries
costs no call.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Iterator, Sequence

from bridge import messages
from bridge.errors import ConfigError
from bridge.events import HelpdeskNames, Routing
from bridge.ports import Directory, Helpdesk
from bridge.rulebook import names_used
from bridge.rules import Decision, Rule

_KINDS = (("group", "groups"), ("assignee", "agents"), ("brand", "brands"))
NOTE_TITLE = "Triage rules that fired:"
#: a single-line text field's length (Freshdesk refuses a longer value; Zendesk's is alike)
FIELD_MAX = 255


class Triage:
    """The configured rules, and the helpdesk's ids for the names they use (resolved once)."""

    def __init__(self, rules: Sequence[Rule] = (), *, explain_in: str | None = None) -> None:
        """``explain_in``: the ticket field (``[bridge] rules_field``) each create or update call writes the
        fired rules' reasons to, so the field says why the ticket is where it is now."""
        self.rules = tuple(rules)
        self.explain_in = explain_in
        self._names: HelpdeskNames | None = None
        self._lock = threading.Lock()

    def prepare(self, helpdesk: Helpdesk) -> str:
        """Look the names up (one list call per kind, only when a rule uses that kind); a summary line."""
        used = names_used(self.rules)
        if not any(used.values()) and not any(r.then.type or r.then.fields for r in self.rules):
            self._names = HelpdeskNames()
            return f"{len(self.rules)} rule(s), no helpdesk names to look up"
        if not isinstance(helpdesk, Directory):
            raise ConfigError(f"rules: {helpdesk.name} cannot list its groups, agents or brands")
        names = helpdesk.names()
        _check(self.rules, used, names, helpdesk.name)
        self._names = names
        return f"{len(self.rules)} rule(s); {_found(self.rules, used, names) or 'no names'} found in {helpdesk.name}"

    def routing(self, decision: Decision, helpdesk: Helpdesk) -> Routing:
        """The decision with ids for names (looked up now if :meth:`prepare` was not called)."""
        fields = dict(decision.fields)
        if self.explain_in and decision.fired:
            fields[self.explain_in] = field_text(decision, FIELD_MAX)
        if decision.group is None and decision.assignee is None and decision.brand is None:
            return _routing(decision, HelpdeskNames(), fields)
        with self._lock:
            if self._names is None:
                self.prepare(helpdesk)
        assert self._names is not None
        return _routing(decision, self._names, fields)


def field_text(decision: Decision, limit: int) -> str:
    """The rules' explanation for a ticket field of ``limit`` characters: whole lines from the first rule on,
    and, when they do not all fit, the names of the rules left out (each ticket still carries their
    ``rule_<name>`` tags). Cut mid-line, an explanation loses its later rules' reasons without saying so."""
    lines = [NOTE_TITLE, *(f.line() for f in decision.fired)] if decision.fired else []
    if len("\n".join(lines)) <= limit:
        return "\n".join(lines)
    for kept in range(len(lines) - 1, 0, -1):
        left_out = [f.rule for f in decision.fired[kept - 1 :]]
        text = "\n".join([*lines[:kept], f"(and {len(left_out)} more: {', '.join(left_out)})"])
        if len(text) <= limit:
            return text
    names = f"{NOTE_TITLE} {', '.join(f.rule for f in decision.fired)}"
    return names if len(names) <= limit else names[: limit - 1] + "…"


def _routing(decision: Decision, names: HelpdeskNames, fields: dict[str, str]) -> Routing:
    return Routing(
        priority=decision.priority,
        type=decision.type,
        group_id=names.groups.get(decision.group) if decision.group else None,
        assignee_id=names.agents.get(decision.assignee) if decision.assignee else None,
        brand_id=names.brands.get(decision.brand) if decision.brand else None,
        status=decision.status,
        fields=fields,
    )


def _found(rules: Sequence[Rule], used: dict[str, dict[str, str]], names: HelpdeskNames) -> str:
    """What :meth:`Triage.prepare` found, counted: the names, and the ticket fields where the helpdesk's list was
    checked (not where its connector cannot tell: those are only sent)."""
    counts = [f"{len(v)} {kind}(s)" for kind, v in used.items() if v]
    fields = {f for rule in rules for f in rule.then.fields}
    if fields and names.fields is not None:
        counts.append(f"{len(fields)} ticket field(s)")
    return ", ".join(counts)


def _check(rules: Sequence[Rule], used: dict[str, dict[str, str]], names: HelpdeskNames, helpdesk: str) -> None:
    """Raises naming every unknown name, field and type, one line each (not only the first: one run says all)."""
    problems = [*_unknown_names(used, names, helpdesk), *(p for r in rules for p in _unknown_in(r, names, helpdesk))]
    if problems:
        raise ConfigError("\n".join(problems))


def _unknown_names(used: dict[str, dict[str, str]], names: HelpdeskNames, helpdesk: str) -> Iterator[str]:
    for kind, attr in _KINDS:
        known: dict[str, str] = getattr(names, attr)
        for name, rule_name in used[kind].items():
            if kind == "assignee" and name.casefold() in names.ambiguous:
                yield f"rules[{rule_name}].then.assignee: {messages.ambiguous_agent(name, helpdesk)}"
            elif name not in known:
                yield f"rules[{rule_name}].then.{kind}: no {kind} {name!r} in {helpdesk}{_hint(name, known)}"


def _unknown_in(rule: Rule, names: HelpdeskNames, helpdesk: str) -> Iterator[str]:
    """The rule's ticket fields and type the helpdesk does not have."""
    for field in (f for f in rule.then.fields if names.fields is not None and f not in names.fields):
        yield f"rules[{rule.name}].then.fields.{field}: no such ticket field in {helpdesk}"
    wanted = rule.then.type
    if wanted is not None and names.types is not None and wanted not in names.types:
        yield f"rules[{rule.name}].then.type: {wanted!r} is not a ticket type of {helpdesk} ({', '.join(names.types)})"


def _hint(name: str, known: dict[str, str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
