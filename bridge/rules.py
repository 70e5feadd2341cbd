"""Triage rules: ordered ``[[rules]]`` that decide a ticket's tags, priority, group... before it is made.

A rule is ``name``, ``when`` (conditions, all of which must hold), ``then`` (actions) and ``stop``::

    [[rules]]
    name = "vip-negative"
    when = { vip = true, sentiment = { is = "negative", min_score = 0.5 } }
    then = { escalate = "Escalations" }       # priority urgent, group Escalations, tag escalated
    stop = true

:func:`bridge.rulebook.parse_rules` turns the TOML into these rules and refuses a bad one with one line naming the rule
and the key; :func:`decide` is pure (no I/O, no clock): event, thread, CRM record and classification in,
a :class:`Decision` out, with the reasons a person can read ("rule vip-negative: CRM account_type =
Enterprise, sentiment negative 0.82"). Rules fire in order; a later rule's priority, group... replace an
earlier one's, tags add up, and a fired rule with ``stop = true`` ends the evaluation.

Text matching folds case and accents on both sides: NFKD, the non-spacing marks (Unicode category Mn)
dropped, then ``casefold`` ("Rémboursé" matches "rembourse"; Arabic harakat are ignored). Keywords match
whole words: the characters either side must not be letters, digits, ``_`` or marks. Python's ``\\b`` is
wrong for Devanagari (its vowel signs are marks, not word characters, so ``\\b`` falls inside words), so
keywords do not use it. Scripts written without spaces (Chinese, Japanese, Thai, Lao, Khmer, Myanmar) have
no word boundaries to check: there a keyword matches anywhere. ``regex`` conditions are the operator's
own Python regular expressions, matched case-insensitively against the text with its marks dropped (not
case-folded: folding would turn ``\\S`` into ``\\s``); there ``\\b`` keeps Python's meaning.

Business hours: the caller says whether the message came inside the channel's calendar (``inside_hours``;
a channel without a calendar is open 24/7, so ``business_hours = "outside"`` never holds there). When the
calendar cannot be known (a helpdesk schedule never read: :class:`bridge.calendars.Unknown`) it is None and
neither ``inside`` nor ``outside`` holds: a rule does not guess.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bridge.events import Priority, SocialEvent, TicketStatus

# -- the facts a decision is made from --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What the customer did: where, in public or not, the words, and how many files."""

    channel: str
    platform: str
    text: str
    public: bool = False
    attachments: int = 0
    post: str | None = None  # the post (or media) a comment is under, when the platform says
    author: tuple[str, ...] = ()  # the author's platform id and handle, case-folded, without "@"

    @classmethod
    def of(cls, event: SocialEvent) -> EventFacts:
        """A comment (Facebook, Instagram, X) or a Telegram group message is public; messages are private."""
        group = event.platform == "telegram" and event.thread_id.startswith("chat:-")
        files = len(event.attachments) or len([a for a in event.extra.get("attachments", "").split(",") if a])
        public = event.kind == "comment" or group
        author = tuple(a.casefold().lstrip("@") for a in (event.author.id, event.author.handle) if a)
        return cls(event.channel, event.platform, event.text, public=public, attachments=files, post=post_of(event),
                   author=author)  # fmt: skip


def post_of(event: SocialEvent) -> str | None:
    """The id of the post a comment is under, from the event's context ("post 123_456", "reel 789", "a reply
    to post 1460…"), or None where it names none (a direct message, a post mentioning the account)."""
    last = (event.context or "").rsplit(" ", 1)[-1]
    return last if any(c.isdigit() for c in last) else None


@dataclass(frozen=True, slots=True)
class ThreadFacts:
    """Whether this message opens the thread's ticket or follows up on it."""

    first_message: bool = True


@dataclass(frozen=True, slots=True)
class CrmFacts:
    """The CRM record the bridge holds for the author (``found`` False: the CRM knows nobody)."""

    found: bool
    fields: Mapping[str, str] = field(default_factory=dict)
    vip: bool = False


class Classified(Protocol):
    """What :class:`bridge.classify.Classification` says about the text (structurally: any such object)."""

    @property
    def language(self) -> str: ...
    @property
    def sentiment(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def urgency(self) -> str: ...
    @property
    def reasons(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class Subject:
    """Everything the conditions look at, worked out once per message: the text folded (see the module
    docstring), names case-folded, the yes/no facts as booleans."""

    event: EventFacts
    thread: ThreadFacts
    crm: CrmFacts | None
    classification: Classified | None
    folded: str
    plain: str
    channel: str
    platform: str
    language: str | None
    public: bool
    first_message: bool
    known_customer: bool
    vip: bool
    has_attachments: bool
    inside_hours: bool | None = True  # None: the calendar is unknown (neither inside nor outside holds)
    post: str | None = None

    @classmethod
    def of(
        cls,
        event: EventFacts,
        thread: ThreadFacts,
        crm: CrmFacts | None,
        classification: Classified | None,
        inside_hours: bool | None = True,
    ) -> Subject:
        language = classification.language.casefold() if classification is not None else None
        return cls(
            event, thread, crm, classification, fold(event.text), strip_marks(event.text),
            channel=event.channel.casefold(), platform=event.platform.casefold(), language=language,
            public=event.public, first_message=thread.first_message, known_customer=crm is not None and crm.found,
            vip=crm is not None and crm.vip, has_attachments=event.attachments > 0, inside_hours=inside_hours,
            post=event.post.casefold() if event.post else None,
        )  # fmt: skip


def fold(text: str) -> str:
    """Case- and accent-insensitive form: NFKD, non-spacing marks dropped, casefolded, spaces collapsed."""
    return " ".join(strip_marks(text).casefold().split())


def strip_marks(text: str) -> str:
    """NFKD with the non-spacing marks (Mn) dropped: "é" → "e", Arabic short vowels gone."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if unicodedata.category(c) != "Mn")


# -- conditions -------------------------------------------------------------------------------------------------


class Condition(Protocol):
    """A condition answers fast (:meth:`holds`, every rule on every message) and explains itself only when
    asked (:meth:`test` for a rule that fired, :meth:`why_not` for ``socialdesk rules explain``)."""

    def holds(self, s: Subject) -> bool: ...

    def test(self, s: Subject) -> tuple[str, ...] | None:
        """The reasons it holds (may be empty), or None when it does not."""
        ...

    def why_not(self, s: Subject) -> str:
        """Why it does not hold, for ``socialdesk rules explain``."""
        ...


@dataclass(frozen=True, slots=True)
class All:
    parts: tuple[Condition, ...]

    def holds(self, s: Subject) -> bool:
        for part in self.parts:  # noqa: SIM110 - a loop, not all(<generator>): this runs for every rule, every message
            if not part.holds(s):
                return False
        return True

    def test(self, s: Subject) -> tuple[str, ...] | None:
        reasons: tuple[str, ...] = ()
        for part in self.parts:
            held = part.test(s)
            if held is None:
                return None
            reasons += held
        return reasons

    def why_not(self, s: Subject) -> str:
        return next((p.why_not(s) for p in self.parts if p.test(s) is None), "it holds")


@dataclass(frozen=True, slots=True)
class Any_:
    parts: tuple[Condition, ...]

    def holds(self, s: Subject) -> bool:
        for part in self.parts:  # noqa: SIM110 - as in All.holds
            if part.holds(s):
                return True
        return False

    def test(self, s: Subject) -> tuple[str, ...] | None:
        for part in self.parts:
            held = part.test(s)
            if held is not None:
                return held
        return None

    def why_not(self, s: Subject) -> str:
        return "none of: " + "; ".join(p.why_not(s) for p in self.parts)


@dataclass(frozen=True, slots=True)
class Not:
    part: Condition

    def holds(self, s: Subject) -> bool:
        return not self.part.holds(s)

    def test(self, s: Subject) -> tuple[str, ...] | None:
        held = self.part.test(s)
        return ("not: " + self.part.why_not(s),) if held is None else None

    def why_not(self, s: Subject) -> str:
        held = self.part.test(s)
        return "it held: " + (", ".join(held or ()) or "(no detail)")


_NONE = {"language": "unknown (no classifier)", "post": "none (not a comment under a post)"}


@dataclass(frozen=True, slots=True)
class OneOf:
    """channel, platform, language: the value is one of those listed."""

    what: str
    values: frozenset[str]
    attr: str  # the Subject's attribute, case-folded

    def holds(self, s: Subject) -> bool:
        return getattr(s, self.attr) in self.values

    def test(self, s: Subject) -> tuple[str, ...] | None:
        return (f"{self.what} {getattr(s, self.attr)}",) if self.holds(s) else None

    def why_not(self, s: Subject) -> str:
        value = getattr(s, self.attr)
        shown = _NONE.get(self.attr, "unknown") if value is None else value
        return f"{self.what} is {shown}, not {' or '.join(sorted(self.values))}"


@dataclass(frozen=True, slots=True)
class Flag:
    """public, first_message, known_customer, vip, attachments, business_hours: yes or no."""

    what: str
    wanted: bool
    attr: str  # the Subject's attribute
    yes: str
    no: str

    def holds(self, s: Subject) -> bool:
        return getattr(s, self.attr) is self.wanted

    def test(self, s: Subject) -> tuple[str, ...] | None:
        return ((self.yes if self.wanted else self.no),) if self.holds(s) else None

    def why_not(self, s: Subject) -> str:
        value = getattr(s, self.attr)
        return f"{self.what}: {'unknown' if value is None else self.yes if value else self.no}"


_NO_SPACES = (
    (0x0E00, 0x0EFF),
    (0x1000, 0x109F),
    (0x1780, 0x17FF),
    (0x3040, 0x30FF),
    (0x3400, 0x9FFF),
    (0xF900, 0xFAFF),
)


def _spaceless(c: str) -> bool:
    code = ord(c)
    return code >= 0x20000 or any(lo <= code <= hi for lo, hi in _NO_SPACES)


def _word_char(c: str) -> bool:
    return c.isalnum() or c == "_" or (not c.isascii() and unicodedata.category(c)[0] == "M")


def _whole_word_at(text: str, start: int, word: str) -> bool:
    end = start + len(word)
    left = start == 0 or _spaceless(word[0]) or not _word_char(text[start - 1])
    right = end == len(text) or _spaceless(word[-1]) or not _word_char(text[end])
    return left and right


def _has_word(text: str, word: str) -> bool:
    start = text.find(word)
    while start >= 0:
        if _whole_word_at(text, start, word):
            return True
        start = text.find(word, start + 1)
    return False


@dataclass(frozen=True, slots=True)
class Keywords:
    """Any of these words or phrases, as whole words, case and accents aside."""

    words: tuple[str, ...]  # folded
    shown: tuple[str, ...]  # as the operator wrote them

    def holds(self, s: Subject) -> bool:
        for word in self.words:  # noqa: SIM110 - as in All.holds
            if word in s.folded and _has_word(s.folded, word):
                return True
        return False

    def test(self, s: Subject) -> tuple[str, ...] | None:
        found = [shown for word, shown in zip(self.words, self.shown, strict=True) if _has_word(s.folded, word)]
        return (f"matched words: {', '.join(found)}",) if found else None

    def why_not(self, s: Subject) -> str:
        return f"none of the words {', '.join(self.shown)}"


@dataclass(frozen=True, slots=True)
class Pattern:
    """Any of these regular expressions matches (case-insensitive, marks dropped)."""

    patterns: tuple[re.Pattern[str], ...]

    def holds(self, s: Subject) -> bool:
        for pattern in self.patterns:  # noqa: SIM110 - as in All.holds
            if pattern.search(s.plain):
                return True
        return False

    def test(self, s: Subject) -> tuple[str, ...] | None:
        for pattern in self.patterns:
            found = pattern.search(s.plain)
            if found:
                return (f"matched /{pattern.pattern}/: {found.group(0)[:60]!r}",)
        return None

    def why_not(self, s: Subject) -> str:
        return "no match for " + ", ".join(f"/{p.pattern}/" for p in self.patterns)


@dataclass(frozen=True, slots=True)
class SentimentIs:
    """The classifier's sentiment is one of these, its score at least ``min_score`` in size."""

    labels: frozenset[str]
    min_score: float = 0.0

    def holds(self, s: Subject) -> bool:
        c = s.classification
        return c is not None and c.sentiment in self.labels and abs(c.score) >= self.min_score

    def test(self, s: Subject) -> tuple[str, ...] | None:
        c = s.classification
        if c is None or str(c.sentiment) not in self.labels or abs(c.score) < self.min_score:
            return None
        words = [r.partition(": ")[2] for r in c.reasons if r.startswith(f"{c.sentiment}: ")]
        return (f"sentiment {c.sentiment} {abs(c.score):.2f}" + (f" ({', '.join(words)})" if words else ""),)

    def why_not(self, s: Subject) -> str:
        c = s.classification
        wanted = " or ".join(sorted(self.labels)) + (f" ≥ {self.min_score:.2f}" if self.min_score else "")
        got = "unknown (no classifier)" if c is None else f"{c.sentiment} {abs(c.score):.2f}"
        return f"sentiment is {got}, not {wanted}"


@dataclass(frozen=True, slots=True)
class UrgencyIs:
    level: str

    def holds(self, s: Subject) -> bool:
        return s.classification is not None and s.classification.urgency == self.level

    def test(self, s: Subject) -> tuple[str, ...] | None:
        c = s.classification
        if c is None or str(c.urgency) != self.level:
            return None
        words = [r for r in c.reasons if not r.startswith(("negative:", "positive:"))]
        return (f"urgency {c.urgency}" + (f" ({', '.join(words)})" if words else ""),)

    def why_not(self, s: Subject) -> str:
        got = "unknown (no classifier)" if s.classification is None else str(s.classification.urgency)
        return f"urgency is {got}, not {self.level}"


@dataclass(frozen=True, slots=True)
class AuthorIs:
    """The author is one of these people, by platform id or handle (the brand's own staff, a known spammer)."""

    ids: frozenset[str]  # case-folded, without "@"

    def holds(self, s: Subject) -> bool:
        return any(a in self.ids for a in s.event.author)

    def test(self, s: Subject) -> tuple[str, ...] | None:
        found = next((a for a in s.event.author if a in self.ids), None)
        return None if found is None else (f"author {found}",)

    def why_not(self, s: Subject) -> str:
        return f"author is {' / '.join(s.event.author) or 'unknown'}, not {' or '.join(sorted(self.ids))}"


COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


@dataclass(frozen=True, slots=True)
class CrmField:
    """A field of the CRM record: one of some values (case aside), a number compared, or present at all."""

    name: str
    values: frozenset[str] = frozenset()
    compare: tuple[tuple[str, float], ...] = ()
    exists: bool | None = None

    def holds(self, s: Subject) -> bool:
        return self._holds(s.crm.fields.get(self.name) if s.crm is not None else None)

    def test(self, s: Subject) -> tuple[str, ...] | None:
        value = s.crm.fields.get(self.name) if s.crm is not None else None
        return (f"CRM {self.name} = {value}" if value else f"CRM {self.name} empty",) if self._holds(value) else None

    def _holds(self, value: str | None) -> bool:
        if self.exists is not None:
            return bool(value) == self.exists
        if value is None:
            return False
        if self.values:
            return value.casefold() in self.values
        number = _number(value)
        return number is not None and all(COMPARISONS[op](number, bound) for op, bound in self.compare)

    def why_not(self, s: Subject) -> str:
        value = s.crm.fields.get(self.name) if s.crm is not None else None
        return f"CRM {self.name} is {value!r}" if s.crm is not None else "no CRM record"


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# -- actions and the decision -------------------------------------------------------------------------------------

#: Zendesk's ticket types; Freshdesk's are the account's own (checked against its ticket fields at start).
ZENDESK_TYPES = frozenset({"problem", "incident", "question", "task"})
ESCALATED_TAG = "escalated"


@dataclass(frozen=True, slots=True)
class Actions:
    """What a fired rule does to the ticket. None leaves a field as an earlier rule (or the default) set it."""

    tags: tuple[str, ...] = ()
    priority: Priority | None = None
    type: str | None = None
    group: str | None = None
    assignee: str | None = None
    brand: str | None = None
    status: TicketStatus | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    ignore: bool = False
    ack: bool = True  # false: the channel's automatic acknowledgement is not sent (bridge.acks)
    #: the rule's own acknowledgement templates ("instant", "away", "apology" → language → text), replacing the
    #: channel's kind by kind; and the calendar its acknowledgement goes by (open or away, the promise)
    ack_templates: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    calendar: str | None = None
    approval: bool = False  # true: agents' replies on the thread wait for an approver (bridge.approvals)
    scalars: tuple[tuple[str, Any], ...] = field(init=False, default=(), repr=False, compare=False)

    def __post_init__(self) -> None:  # worked out once: applying a fired rule is on every message's path
        names = ("priority", "type", "group", "assignee", "brand", "status", "calendar")
        scalars = tuple((n, v) for n in names if (v := getattr(self, n)) is not None)
        object.__setattr__(self, "scalars", scalars)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    when: Condition
    then: Actions
    stop: bool = False
    #: its actions' tags, then the tag every ticket it fired on carries (searchable: ``tags:rule_vip-negative``)
    tags: dict[str, None] = field(init=False, default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.tags.update(dict.fromkeys((*self.then.tags, f"rule_{self.name}")))


@dataclass(frozen=True, slots=True)
class Fired:
    rule: str
    reasons: tuple[str, ...]

    def line(self) -> str:
        return f"rule {self.rule}: {', '.join(self.reasons) or 'always'}"


@dataclass(frozen=True)
class Decision:
    """The rules' plan for one message: ticket fields by name (ids are resolved at start), and why."""

    tags: tuple[str, ...] = ()
    priority: Priority | None = None
    type: str | None = None
    group: str | None = None
    assignee: str | None = None
    brand: str | None = None
    status: TicketStatus | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    ignored: str | None = None  # "rule <name>": recorded as ignored, never ticketed
    no_ack: str | None = None  # "rule <name>": no automatic acknowledgement for this message
    ack_templates: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # the fired rules', later ones win
    calendar: str | None = None  # the calendar the acknowledgement goes by, instead of the channel's
    approval: str | None = None  # "rule <name>": agents' replies on this thread need approval from now on
    fired: tuple[Fired, ...] = ()

    def explanation(self) -> str:
        """One line per fired rule, for the ticket's first internal note."""
        return "\n".join(f.line() for f in self.fired)


NO_RULES = Decision()


def decide(
    event: EventFacts,
    thread: ThreadFacts,
    crm: CrmFacts | None,
    classification: Classified | None,
    rules: Sequence[Rule],
    *,
    inside_hours: bool | None = True,
) -> Decision:
    """Evaluate ``rules`` in order against one message. Pure: same facts, same decision."""
    if not rules:
        return NO_RULES
    subject = Subject.of(event, thread, crm, classification, inside_hours)
    plan = _Plan()
    for rule in rules:
        if not rule.when.holds(subject):
            continue
        plan.apply(rule, rule.when.test(subject) or ())  # the reasons: only for the rules that fire
        if rule.stop or rule.then.ignore:
            break
    return plan.decision()


@dataclass(frozen=True, slots=True)
class Verdict:
    """One rule's outcome for ``socialdesk rules explain``."""

    rule: str
    fired: bool
    detail: str


def explain(
    event: EventFacts,
    thread: ThreadFacts,
    crm: CrmFacts | None,
    classification: Classified | None,
    rules: Sequence[Rule],
    *,
    inside_hours: bool | None = True,
) -> list[Verdict]:
    """Each rule's verdict in order: fired (and why), did not match (and why not), or not evaluated."""
    subject = Subject.of(event, thread, crm, classification, inside_hours)
    verdicts: list[Verdict] = []
    stopped_by: str | None = None
    for rule in rules:
        if stopped_by is not None:
            verdicts.append(Verdict(rule.name, False, f"not evaluated: rule {stopped_by} stopped the evaluation"))
            continue
        reasons = rule.when.test(subject)
        if reasons is None:
            verdicts.append(Verdict(rule.name, False, "no match: " + rule.when.why_not(subject)))
            continue
        verdicts.append(Verdict(rule.name, True, Fired(rule.name, reasons).line()))
        stopped_by = rule.name if rule.stop or rule.then.ignore else None
    return verdicts


class _Plan:
    """The decision being built while the rules fire (later scalars win; tags add up)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.tags: dict[str, None] = {}
        self.fields: dict[str, str] = {}
        self.fired: list[Fired] = []
        self.ignored: str | None = None
        self.no_ack: str | None = None
        self.ack_templates: dict[str, Mapping[str, str]] = {}
        self.approval: str | None = None

    def apply(self, rule: Rule, reasons: tuple[str, ...]) -> None:
        then = rule.then
        self.fired.append(Fired(rule.name, reasons))
        self.tags.update(rule.tags)
        self.values.update(then.scalars)
        if then.fields:
            self.fields.update(then.fields)
        if then.ignore:
            self.ignored = f"rule {rule.name}"
        if not then.ack:
            self.no_ack = f"rule {rule.name}"
        self.ack_templates.update(then.ack_templates)
        if then.approval and self.approval is None:
            self.approval = f"rule {rule.name}"

    def decision(self) -> Decision:
        return Decision(
            tags=tuple(self.tags),
            fields=dict(self.fields),
            ignored=self.ignored,
            no_ack=self.no_ack,
            ack_templates=dict(self.ack_templates),
            approval=self.approval,
            fired=tuple(self.fired),
            **self.values,
        )


def needs_classifier(rules: Sequence[Rule]) -> bool:
    """Whether any rule looks at sentiment, urgency or language (else the classifier need not run)."""
    return any(_classified(rule.when) for rule in rules)


def _classified(condition: Condition) -> bool:
    if isinstance(condition, All | Any_):
        return any(_classified(part) for part in condition.parts)
    if isinstance(condition, Not):
        return _classified(condition.part)
    return isinstance(condition, SentimentIs | UrgencyIs) or (
        isinstance(condition, OneOf) and condition.attr == "language"
    )
