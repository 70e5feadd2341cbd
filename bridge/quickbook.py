"""Reading a channel's ``[channels.quick]`` into a :class:`bridge.quick.QuickConfig`, refusing what cannot work.

::

    [channels.quick]
    person = { default = "Talk to a person", fr = "Parler à quelqu'un" }   # the way-out button
    handoff = "Thanks! A person will answer you here."                     # said once, then the bot is quiet
    menu = "Hi! Pick a topic, or just write your question."                # optional
    disclosure = "(This is an automated message.)"   # the default, ends the bot's first message; "" for none

    [[channels.quick.answers]]
    name = "order"
    keywords = { default = ["where is my order"], fr = ["ma commande"] }  # or a list; regex = ... too
    text = "Your order number, please?"
    button = "Where is my order?"
    ask = { field = "360001234", pattern = '\\d{5,8}', thanks = "Thanks, order {answer} is noted." }

Refused at start, with one line naming the key: quick answers on a channel whose conversations are public
(X), an unknown key or placeholder, an invalid regular expression, a template set without ``default``, more
buttons than the platform shows in one message (the answers' buttons and the way out), a button title longer
than the platform allows, a text that with the disclosure is longer than the platform's message (WhatsApp:
1,024 characters under buttons, 4,096 in a text), a field the helpdesk cannot name (a Zendesk field id, a
Freshdesk ``cf_`` name).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

from bridge.errors import ConfigError
from bridge.quick import BUTTON_LIMITS, PRIVATE_PLATFORMS, Ask, QuickAnswer, QuickConfig, Templates
from bridge.replies import DEFAULT_DISCLOSURE
from bridge.tablekeys import BadKey, check_name, entry_path, read_bool, read_keywords, read_regex
from bridge.tablekeys import check_known as _known

_KEYS = ("answers", "person", "person_words", "person_hint", "handoff", "menu", "buttons", "disclosure")
_ANSWER_KEYS = ("name", "keywords", "regex", "text", "button", "ask")
_ASK_KEYS = ("field", "pattern", "thanks")
_FIELDS = {"zendesk": (re.compile(r"\d+"), "a Zendesk field id (a number)"),
           "freshdesk": (re.compile(r"cf_[a-z0-9_]+"), "a Freshdesk field name (cf_...)")}  # fmt: skip
# platform → (a message with buttons, a text message): the most characters, the disclosure included. WhatsApp's
# interactive body has 1,024 and a text 4,096; its connector would otherwise split a long answer, its buttons
# left under the last part
BODY_LIMITS: Mapping[str, tuple[int, int]] = {"whatsapp": (1024, 4096)}
DEFAULTS: Mapping[str, Any] = {
    "person": "Talk to a person",
    "person_words": ["person", "human", "agent", "someone"],
    "person_hint": "To talk to a person, write “person”.",
    "handoff": "Thanks! A person will answer you here as soon as possible.",
}


def parse_quick(raw: object, *, channel: str, platform: str, helpdesk: str) -> QuickConfig:
    """One channel's table as a :class:`QuickConfig`; a :class:`ConfigError` naming the key otherwise."""
    where = f"channels[{channel}].quick"
    try:
        if platform not in PRIVATE_PLATFORMS:
            raise BadKey("", f"quick answers are for private conversations (DMs, WhatsApp, Telegram, own channels), "
                             f"not {platform}")  # fmt: skip
        return _config(_table(raw, ""), platform, helpdesk)
    except BadKey as e:
        raise ConfigError(f"{where}{'.' + e.key if e.key else ''}: {e.message}") from None


def _config(table: Mapping[str, Any], platform: str, helpdesk: str) -> QuickConfig:
    _known(table, _KEYS, "")
    values = {**DEFAULTS, **table}
    answers = tuple(_answer(a, i, helpdesk) for i, a in enumerate(_tables(table.get("answers"), "answers")))
    if not answers:
        raise BadKey("answers", "at least one [[channels.quick.answers]] is required")
    _unique([a.name for a in answers])
    buttons = read_bool(values.get("buttons", True), "buttons")
    config = QuickConfig(
        answers=answers,
        person=_templates(values["person"], "person"),
        person_words=read_keywords(values["person_words"], "person_words"),
        person_hint=_templates(values["person_hint"], "person_hint"),
        handoff=_templates(values["handoff"], "handoff"),
        menu=_templates(values["menu"], "menu") if "menu" in values else None,
        buttons=buttons,
        disclosure=_disclosure(values.get("disclosure", DEFAULT_DISCLOSURE)),
    )
    _fits(config, platform)
    _short_enough(config, platform)
    return config


def _answer(table: Mapping[str, Any], index: int, helpdesk: str) -> QuickAnswer:
    where = entry_path("answers", table, index)
    try:
        _known(table, _ANSWER_KEYS, "")
        name = check_name(table.get("name"))
        keywords = _per_language(table.get("keywords"), "keywords", read_keywords)
        patterns = _per_language(table.get("regex"), "regex", read_regex)
        if not keywords and not patterns and "button" not in table:
            raise BadKey("keywords", "required (or regex, or a button): what triggers the answer")
        button = _templates(table["button"], "button") if "button" in table else None
        ask = _ask(table["ask"], helpdesk) if "ask" in table else None
        return QuickAnswer(name, keywords, patterns, _templates(table.get("text"), "text"), button, ask)
    except BadKey as e:
        raise BadKey(f"{where}.{e.key}", e.message) from None


def _ask(raw: object, helpdesk: str) -> Ask:
    table = _table(raw, "ask")
    _known(table, _ASK_KEYS, "ask")
    field = table.get("field")
    pattern, wanted = _FIELDS.get(helpdesk, (re.compile(r".+"), "a field"))
    if not isinstance(field, str | int) or isinstance(field, bool) or not pattern.fullmatch(str(field)):
        raise BadKey("ask.field", f"required: {wanted}")
    [compiled] = read_regex(table.get("pattern"), "ask.pattern").patterns[:1]
    return Ask(str(field), compiled, _templates(table.get("thanks"), "ask.thanks", allowed=("answer",)))


def _fits(config: QuickConfig, platform: str) -> None:
    """The menu's buttons (every answer's and the way out) fit in one message, each title in a button."""
    limit, longest = BUTTON_LIMITS.get(platform, (0, None))
    if limit == 0 or not config.buttons:
        return
    offered = [a for a in config.answers if a.button is not None]
    if len(offered) + 1 > limit:
        raise BadKey("answers", f"{len(offered)} buttons and the way to a person are more than the {limit} "
                                f"{platform} shows in one message")  # fmt: skip
    titles = [(f"answers[{a.name}].button", a.button) for a in offered if a.button] + [("person", config.person)]
    for key, templates in titles:
        for language, title in templates.items():
            if longest is not None and len(title) > longest:
                raise BadKey(f"{key}.{language}", f"{len(title)} characters: a {platform} button title has at "
                                                  f"most {longest}")  # fmt: skip


def _short_enough(config: QuickConfig, platform: str) -> None:
    """Every bot text, with the disclosure that may end it, fits in one message: the texts sent with buttons
    (answers, menu, thanks: the way to a person is always a button) and the hand-off, sent without."""
    with_buttons, plain = BODY_LIMITS.get(platform, (0, 0))
    if not with_buttons:
        return
    buttoned = [(f"answers[{a.name}].text", a.text) for a in config.answers]
    buttoned += [(f"answers[{a.name}].ask.thanks", a.ask.thanks) for a in config.answers if a.ask is not None]
    buttoned += [("menu", config.menu)] if config.menu is not None else []
    checks = [(k, t, with_buttons, "message with buttons") for k, t in buttoned]
    extra = len(config.disclosure) + 1 if config.disclosure else 0  # "\n" + the disclosure
    for key, templates, limit, kind in [*checks, ("handoff", config.handoff, plain, "text message")]:
        for language, text in templates.items():
            size = len(text.format(answer="").strip()) + extra  # a thanks's {answer} counted as empty: at least
            if size > limit:
                raise BadKey(f"{key}.{language}", f"{size} characters with the disclosure: a {platform} {kind} has "
                                                  f"at most {limit}")  # fmt: skip


# -- values ------------------------------------------------------------------------------------------------------


def _templates(value: object, key: str, *, allowed: Sequence[str] = ()) -> Templates:
    """One text, or one per language with a ``default``; placeholders only from ``allowed``."""
    table = {"default": value} if isinstance(value, str) else value
    if not isinstance(table, dict) or not all(isinstance(v, str) and v.strip() for v in table.values()):
        raise BadKey(key, "required: a text, or a table of texts by language with a 'default'")
    if "default" not in table:
        raise BadKey(key, "a 'default' text is required (the others are per language)")
    for language, text in table.items():
        _placeholders(text, f"{key}.{language}", allowed)
    return dict(table)


def _placeholders(text: str, key: str, allowed: Sequence[str]) -> None:
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as e:
        raise BadKey(key, f"{e} (write {{{{ and }}}} for a brace)") from None
    for name in names:
        if name not in allowed:
            use = f" (use {', '.join(f'{{{a}}}' for a in allowed)})" if allowed else " (none is known here)"
            raise BadKey(key, f"unknown placeholder {{{name}}}{use}")


def _disclosure(value: object) -> str:
    if not isinstance(value, str):
        raise BadKey("disclosure", 'must be a text ("" for none)')
    _placeholders(value, "disclosure", ())
    return value.strip()


def _per_language(value: object, key: str, make: Any) -> dict[str, Any]:
    if value is None:
        return {}
    table = value if isinstance(value, dict) else {"default": value}
    return {str(language): make(v, f"{key}.{language}" if isinstance(value, dict) else key)
            for language, v in table.items()}  # fmt: skip


def _table(value: object, key: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise BadKey(key, "must be a table")
    return value


def _tables(value: object, key: str) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise BadKey(key, "must be an array of tables")
    return value


def _unique(names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise BadKey(f"answers[{name}].name", "another answer has this name")
        seen.add(name)
