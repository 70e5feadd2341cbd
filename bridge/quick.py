"""Quick answers for frequent questions, the pure part: what the bot says to one customer message, or why nothing.

A private channel's ``[channels.quick]`` (:class:`QuickConfig`, read by :mod:`bridge.quickbook`) lists answers,
each triggered by keywords or patterns (per language, matched as the triage rules match: whole words, case
and accents aside) or by its button, and always offers a way out: the "talk to a person" button, or words
that ask for one. An answer may ask for one piece of information (an order number): the customer's next
message, if it matches the answer's pattern, goes into a ticket field and is thanked for.

:func:`decide` takes the facts about one message (:class:`QuickFacts`, loaded once by :mod:`bridge.bot`) and
returns the :class:`BotReply` to send, or a :class:`NoReply` whose reason a person can read. The bot never
answers a public comment, a negative or urgent message (nor one the classifier could not read), a thread a
person is answering, nor anyone in an episode where a hand-off already happened. No clock, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from bridge.rules import EventFacts, Keywords, Pattern, Subject, ThreadFacts

Templates = Mapping[str, str]  # language (ISO 639-1) or "default" → text
PAYLOAD_PREFIX = "quick:"  # a button's payload: quick:<answer name>, or quick:person for the way out
PERSON = "person"
#: What each platform's buttons allow: (how many in one message, the longest title in characters; None: no
#: documented limit). Messenger and Instagram quick replies: 13, 20 characters; WhatsApp reply buttons: 3, 20;
#: Telegram inline keyboards: callback data of 1-64 bytes (ours are short), no documented count or title
#: length (100 buttons is what the API takes in practice). Own channels and X get text only.
BUTTON_LIMITS: Mapping[str, tuple[int, int | None]] = {
    "facebook": (13, 20), "instagram": (13, 20), "whatsapp": (3, 20), "telegram": (100, None),
}  # fmt: skip
PRIVATE_PLATFORMS = frozenset({"facebook", "instagram", "whatsapp", "telegram", "generic"})


class Step(StrEnum):
    """What a bot message is: an answer, a question (an answer that asks), the thanks for the information,
    the menu of buttons, or the hand-off to a person. Part of the delivery's comment id (:mod:`bridge.bot`)."""

    ANSWER = "answer"
    ASK = "ask"
    THANKS = "thanks"
    MENU = "menu"
    HANDOFF = "handoff"


@dataclass(frozen=True)
class Ask:
    """The one piece of information an answer asks for, and where it goes."""

    field: str  # a Zendesk custom field id, or a Freshdesk custom field name (cf_...)
    pattern: re.Pattern[str]  # what a valid answer looks like; the match goes in the field
    thanks: Templates  # said once it is in the field; {answer} is the value


@dataclass(frozen=True)
class QuickAnswer:
    """One frequent question: its triggers, its text per language, its button title (None: no button)."""

    name: str
    keywords: Mapping[str, Keywords]  # language or "default" → keywords
    patterns: Mapping[str, Pattern]  # language or "default" → patterns
    text: Templates
    button: Templates | None = None
    ask: Ask | None = None

    def matches(self, subject: Subject, language: str | None) -> bool:
        """Triggered by the customer's words: the lists of their language and the default ones (every list when
        the language is unknown)."""
        wanted = [k for k in (*self.keywords, *self.patterns) if language is None or k in (language, "default")]
        found = (c for c in (self.keywords.get(k) for k in wanted) if c is not None)
        patterns = (c for c in (self.patterns.get(k) for k in wanted) if c is not None)
        return any(c.holds(subject) for c in found) or any(p.holds(subject) for p in patterns)


@dataclass(frozen=True)
class QuickConfig:
    """One channel's quick answers (``[channels.quick]``, checked at start)."""

    answers: tuple[QuickAnswer, ...]
    person: Templates  # the way-out button's title
    person_words: Keywords  # words that ask for a person
    person_hint: Templates  # the way out in words, on channels without buttons
    handoff: Templates  # the bot's last word in an episode, once a person was asked for
    menu: Templates | None = None  # offered with the answers' buttons when a first message matches none
    buttons: bool = True  # offer the answers as buttons where the platform has them
    disclosure: str = ""  # ends the bot's first message in an episode: it is automated ("" for none)


@dataclass(frozen=True)
class QuickFacts:
    """What :func:`decide` needs about one customer message, loaded once by the worker."""

    platform: str
    channel: str
    text: str
    pressed: str | None = None  # the payload of the button the customer pressed, if any
    public: bool = False
    language: str | None = None
    sentiment: str | None = None  # "unknown": the classifier failed
    urgency: str | None = None
    handed_off: bool = False  # a person was asked for earlier in this episode
    person_answering: bool = False  # an agent replied in this episode
    asking: str | None = None  # the answer whose question this message may answer
    first_in_episode: bool = True
    bot_spoke: bool = False  # the bot sent a message earlier in this episode (it said it is automated then)
    approval: str | None = None  # the thread's replies need approval (a rule's reason: legal words, a VIP)


@dataclass(frozen=True)
class Button:
    payload: str
    title: str


@dataclass(frozen=True)
class BotReply:
    """Send ``text`` (with ``buttons`` where the platform has them); set ``fields`` on the ticket first."""

    step: Step
    name: str  # the answer's name ("" for the menu and the hand-off)
    text: str
    buttons: tuple[Button, ...] = ()
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NoReply:
    """No bot message, and why (logged)."""

    reason: str


def decide(facts: QuickFacts, config: QuickConfig) -> BotReply | NoReply:
    """The bot's message for one customer message, or the reason for none. The bot's first message in an
    episode ends with the disclosure: where a law asks it, Meta asks an automated chat to say so at the start
    of a conversation and after a lapse of time (a new episode)."""
    reply = _decide(facts, config)
    if isinstance(reply, NoReply) or facts.bot_spoke or not config.disclosure:
        return reply
    return replace(reply, text=f"{reply.text}\n{config.disclosure}")


def _decide(facts: QuickFacts, config: QuickConfig) -> BotReply | NoReply:
    """Checked in this order: blocked, a person asked for, unhappy, an answer to the bot's question, an answer,
    the menu."""
    facts = replace(facts, language=_language(facts, config))
    blocked = _blocked(facts)
    if blocked:
        return NoReply(blocked)
    subject = Subject.of(EventFacts(facts.channel, facts.platform, facts.text), ThreadFacts(), None, None)
    if facts.pressed == PAYLOAD_PREFIX + PERSON or config.person_words.holds(subject):
        return BotReply(Step.HANDOFF, "", _fill(_pick(config.handoff, facts.language)))
    if facts.sentiment in ("negative", "unknown") or facts.urgency == "high":
        return NoReply(_unhappy(facts))
    asked = _asked(facts, config)
    if asked is not None:
        return asked
    chosen = _chosen(facts, config, subject)
    if chosen is not None:
        return _answer(chosen, facts, config)
    if config.menu is not None and facts.first_in_episode:
        return _with_way_out(BotReply(Step.MENU, "", _fill(_pick(config.menu, facts.language))), facts, config)
    return NoReply("no quick answer matches")


def _language(facts: QuickFacts, config: QuickConfig) -> str | None:
    """A pressed button speaks the language of its title: the classifier reads "[button tapped] Horaires (payload:
    quick:hours)" as English or unknown, and a French customer would get the default text."""
    if facts.pressed is None or not facts.pressed.startswith(PAYLOAD_PREFIX):
        return facts.language
    name = facts.pressed.removeprefix(PAYLOAD_PREFIX)
    titles = config.person if name == PERSON else next((a.button for a in config.answers if a.name == name), None)
    found = [lang for lang, title in (titles or {}).items() if lang != "default" and title in facts.text]
    return found[0] if found else facts.language


def _blocked(facts: QuickFacts) -> str | None:
    if facts.public or facts.platform not in PRIVATE_PLATFORMS:
        return "public conversation: quick answers are for private ones"
    if facts.handed_off:
        return "handed off to a person in this episode"
    if facts.person_answering:
        return "a person is answering in this episode"
    if facts.approval:  # an agent's reply here waits for an approver: the bot's would not
        return f"replies here need approval ({facts.approval}): for a person"
    return None


def _unhappy(facts: QuickFacts) -> str:
    if facts.sentiment == "unknown":
        return "sentiment unknown: the classifier failed"
    return "negative sentiment: for a person" if facts.sentiment == "negative" else "urgent message: for a person"


def _asked(facts: QuickFacts, config: QuickConfig) -> BotReply | None:
    """The customer's answer to the bot's question: the match goes in the ticket field, with thanks."""
    answer = next((a for a in config.answers if a.name == facts.asking and a.ask is not None), None)
    if answer is None or answer.ask is None:
        return None
    found = answer.ask.pattern.search(facts.text)
    if found is None:
        return None  # not what was asked: the message is read as any other
    value = found.group(0)
    text = _fill(_pick(answer.ask.thanks, facts.language), answer=value)
    return _with_way_out(BotReply(Step.THANKS, answer.name, text, fields={answer.ask.field: value}), facts, config)


def _chosen(facts: QuickFacts, config: QuickConfig, subject: Subject) -> QuickAnswer | None:
    """The answer whose button was pressed, else the first one the words trigger."""
    if facts.pressed is not None and facts.pressed.startswith(PAYLOAD_PREFIX):
        name = facts.pressed.removeprefix(PAYLOAD_PREFIX)
        pressed = next((a for a in config.answers if a.name == name), None)
        if pressed is not None:
            return pressed
    language = _base(facts.language) or None
    return next((a for a in config.answers if a.matches(subject, language)), None)


def _answer(answer: QuickAnswer, facts: QuickFacts, config: QuickConfig) -> BotReply:
    step = Step.ASK if answer.ask is not None else Step.ANSWER
    text = _fill(_pick(answer.text, facts.language))
    return _with_way_out(BotReply(step, answer.name, text), facts, config, but=answer.name)


def _with_way_out(reply: BotReply, facts: QuickFacts, config: QuickConfig, *, but: str = "") -> BotReply:
    """The reply with the other answers' buttons (the menu: all of them; a question: none) and always the way
    to a person last; on a channel without buttons the way out is a line of text."""
    limit, _ = BUTTON_LIMITS.get(facts.platform, (0, None))
    person = Button(PAYLOAD_PREFIX + PERSON, _pick(config.person, facts.language))
    if limit == 0:
        return BotReply(reply.step, reply.name, f"{reply.text}\n{_pick(config.person_hint, facts.language)}",
                        fields=reply.fields)  # fmt: skip
    offered = [] if reply.step in (Step.ASK, Step.THANKS) or not config.buttons else list(_offers(config, facts, but))
    buttons = (*offered[: limit - 1], person)
    return BotReply(reply.step, reply.name, reply.text, buttons, reply.fields)


def _offers(config: QuickConfig, facts: QuickFacts, but: str) -> list[Button]:
    return [
        Button(PAYLOAD_PREFIX + a.name, _pick(a.button, facts.language))
        for a in config.answers
        if a.button is not None and a.name != but
    ]


def _pick(templates: Templates, language: str | None) -> str:
    return templates.get(_base(language)) or templates["default"]


def _base(language: str | None) -> str:
    return (language or "").split("-")[0].lower()


def _fill(template: str, *, answer: str = "") -> str:
    """Only a thanks has a placeholder, ``{answer}`` (:mod:`bridge.quickbook` refuses any other at start)."""
    return template.format(answer=answer).strip()
