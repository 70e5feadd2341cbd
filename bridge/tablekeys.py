"""Reading the values of a configuration table that names its keys in errors: ``[[rules]]`` (bridge.rulebook)
and ``[channels.quick]`` (bridge.quickbook) share these, so a list of words or a regex is read alike in both."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from bridge.ports import CRM_EXTRA_PREFIX, CRM_FIELDS
from bridge.rules import Keywords, Pattern, fold, strip_marks

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,23}")


class BadKey(Exception):
    """A problem at a key path inside one table (the caller turns it into a ConfigError naming the table)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key, self.message = key, message


def check_name(name: object) -> str:
    """A rule's or an answer's ``name``: it appears in tags (``rule_<name>``) and payloads (``quick:<name>``)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise BadKey("name", "required: 1-24 of a-z, 0-9, '-', '_', starting with a letter or digit")
    return name


def entry_path(kind: str, table: Mapping[str, Any], index: int) -> str:
    """How errors name one entry of an array of tables: ``rules[vip]`` by its name, else ``rules[3]``."""
    name = table.get("name")
    return f"{kind}[{name}]" if isinstance(name, str) and name else f"{kind}[{index}]"


def check_known(table: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    """Every key of ``table`` is one of ``allowed``; else the first unknown one, with the closest known key."""
    for key in table:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]}?)" if close else f" (known: {', '.join(allowed)})"
            noun = "condition" if where.startswith("when") else "key"
            raise BadKey(f"{where}.{key}" if where else key, f"unknown {noun}{hint}")


def read_strings(value: object, key: str) -> tuple[str, ...]:
    """One non-empty string or a non-empty list of them."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) and v.strip() for v in items):
        raise BadKey(key, "must be a non-empty string or list of strings")
    return tuple(items)


def read_bool(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise BadKey(key, "must be true or false")
    return value


def read_keywords(value: object, key: str) -> Keywords:
    """Whole words, case and accents aside (as written, for explanations)."""
    shown = read_strings(value, key)
    return Keywords(tuple(fold(w) for w in shown), shown)


def read_regex(value: object, key: str) -> Pattern:
    """One regular expression or a list, compiled case-insensitively on the text with its accents stripped."""
    compiled = []
    for pattern in read_strings(value, key):
        try:
            compiled.append(re.compile(strip_marks(pattern), re.IGNORECASE))
        except re.error as e:
            # as written: repr() showed 'order \\d' as if the file had two backslashes (a control character
            # is still escaped, so that the error stays one line)
            shown = pattern if pattern.isprintable() else repr(pattern)[1:-1]
            raise BadKey(key, f"invalid regular expression '{shown}': {e}") from None
    return Pattern(tuple(compiled))


def check_one_of(value: str, known: Sequence[str], key: str, what: str) -> None:
    """``value`` is one of ``known`` (case aside); else ``no <what> 'x'`` with the closest, or all of them."""
    if value.casefold() not in {k.casefold() for k in known}:
        raise BadKey(key, f"no {what} {value!r} ({_closest(value, known)})")


def check_crm_field(name: str, key: str) -> None:
    """A field of the CRM's record (:data:`bridge.ports.CRM_FIELDS`), or ``field:<path>`` for one it fetched."""
    if name not in CRM_FIELDS and not (name.startswith(CRM_EXTRA_PREFIX) and len(name) > len(CRM_EXTRA_PREFIX)):
        raise BadKey(key, f"unknown CRM field ({_closest(name, CRM_FIELDS)}; another Salesforce field: field:<path>)")


def _closest(value: str, known: Sequence[str]) -> str:
    """The likely one: the closest spelling, or the part before a region ("fr-FR", "pt_BR": fr, pt)."""
    base = re.split(r"[-_]", value, maxsplit=1)[0].casefold()
    close = [base] if base in known else difflib.get_close_matches(value, known, n=1)
    return f"did you mean {close[0]}?" if close else f"known: {', '.join(known) or 'none'}"


def check_languages(value: object, where: str, languages: Sequence[str]) -> None:
    """Every table of texts by language inside ``value`` (one with a ``default``) is keyed by ``languages``: the
    classifier gives no other, so a text under ``french`` or ``fr-FR`` was never sent, silently."""
    if isinstance(value, dict):
        for key, item in value.items():
            if "default" in value and key != "default":
                check_one_of(str(key), languages, f"{where}.{key}", "language")
            check_languages(item, f"{where}.{key}", languages)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_languages(item, entry_path(where, item, index) if isinstance(item, dict) else where, languages)
