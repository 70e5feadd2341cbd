"""Automatic acknowledgements, the pure part: what a good agent would send first, or why nothing.

A channel's ``[channels.ack]`` table (:class:`AckConfig`) holds an *instant* template for open hours, an
*away* template for closed hours and an *apology* template for a negative or urgent message, each per
language with a ``default``. :func:`decide` takes the facts about one message (:class:`AckFacts`, loaded
once by the worker: calendar verdict, classification, episode) and returns an :class:`AutoAck` to send
after the channel's delay, or a :class:`NoAck` whose reason a person can read. :func:`send_blocker` is
asked again when the ack comes due (the platform's window may have closed meanwhile). No clock, no I/O.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

PLACEHOLDERS = ("first_name", "promise", "ticket")
KINDS = ("instant", "away", "apology")  # the template sets: open hours, closed hours, a negative or urgent message
DEFAULT_DELAY = 60.0
DEFAULT_DISCLOSURE = "(This is an automated message.)"
X_LIMIT = 280  # characters of one post; an ack is never split into a chain
#: Platforms whose private messages may be answered freely only within 24 hours of the customer's last one
#: (Messenger and Instagram's standard messaging window; WhatsApp's customer-service window).
WINDOWED = frozenset({"facebook", "instagram", "whatsapp"})
WINDOW = timedelta(hours=24)
Templates = Mapping[str, str]  # language (ISO 639-1) or "default" → template


class TemplateError(ValueError):
    """A template the bridge cannot fill: ``key`` is where (``away.fr``), ``problem`` what is wrong."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key, self.problem = key, problem


@dataclass(frozen=True)
class AckConfig:
    """One channel's acknowledgement settings (``[channels.ack]``, checked at start)."""

    instant: Templates | None = None
    away: Templates | None = None
    apology: Templates | None = None
    delay: float = DEFAULT_DELAY  # seconds: an agent who answers sooner cancels it
    public: bool = False  # acknowledge public comments too (never with the customer's name)
    disclosure: str = DEFAULT_DISCLOSURE  # a line saying the message is automated; "" for none

    def with_templates(self, templates: Mapping[str, Templates]) -> AckConfig:
        """These settings with a triage rule's own templates (:data:`KINDS` → templates) instead of the
        channel's, kind by kind."""
        get = templates.get
        return replace(self, instant=get("instant", self.instant), away=get("away", self.away),
                       apology=get("apology", self.apology))  # fmt: skip


@dataclass(frozen=True)
class AckFacts:
    """What :func:`decide` needs about one customer message, loaded once by the worker."""

    platform: str
    public: bool  # a comment on a public post (not a private message)
    own_post: bool  # written by the brand's own account
    ticket: str
    first_name: str | None = None
    language: str | None = None
    sentiment: str | None = None  # "unknown": the classifier failed (no cheerful guess then)
    urgency: str | None = None
    open: bool | None = True  # the channel's calendar at the time of the post; None: unknown
    unknown_reason: str = ""  # why the calendar is unknown
    promise: str | None = None  # "by 9:00 tomorrow", in the customer's language; None without a target
    acked_in_episode: bool = False
    agent_answering: bool = False
    rule_off: str | None = None  # "rule <name>": a triage rule said no acknowledgement (then.ack = false)


@dataclass(frozen=True)
class AutoAck:
    """Send ``text`` after ``delay`` seconds, unless an agent answers first."""

    text: str
    template: str  # instant | away | apology
    delay: float


@dataclass(frozen=True)
class NoAck:
    """No acknowledgement, and why (logged and kept with the episode)."""

    reason: str


def check_templates(templates: Templates, key: str) -> None:
    """Refuse a template with an unknown placeholder or bad braces, and a set without ``default``."""
    if "default" not in templates:
        raise TemplateError(key, "a 'default' template is required (the others are per language)")
    for language, text in templates.items():
        for name in _placeholders(text, f"{key}.{language}"):
            if name not in PLACEHOLDERS:
                allowed = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
                raise TemplateError(f"{key}.{language}", f"unknown placeholder {{{name}}} (use {allowed})")
        _try(text, f"{key}.{language}")


def _try(text: str, key: str) -> None:
    """Fill the template once with sample values: a conversion or format spec that cannot apply ("{ticket!x}",
    "{promise:d}") is refused at start, not by the worker with a customer waiting."""
    try:
        text.format(first_name="Ann", promise="by 9:00 tomorrow", ticket="42")
    except (ValueError, TypeError) as e:
        raise TemplateError(key, f"{e}") from None


def _placeholders(text: str, key: str) -> list[str]:
    try:
        return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as e:
        raise TemplateError(key, f"{e} (write {{{{ and }}}} for a brace)") from None


def decide(facts: AckFacts, config: AckConfig) -> AutoAck | NoAck:
    """The acknowledgement for one message, or the reason for none (checked in this order)."""
    blocked = _blocked(facts, config)
    if blocked:
        return NoAck(blocked)
    chosen = _template(facts, config)
    if isinstance(chosen, NoAck):
        return chosen
    kind, templates = chosen
    return _render(facts, config, kind, _for_language(templates, facts.language))


def _blocked(facts: AckFacts, config: AckConfig) -> str | None:
    if facts.own_post:
        return "the brand's own post"
    if facts.rule_off:
        return f"{facts.rule_off}: no automatic acknowledgement"
    if facts.acked_in_episode:
        return "already acknowledged in this episode"
    if facts.agent_answering:
        return "an agent is already answering"
    if facts.public and not config.public:
        return "public comment: acks are for private channels by default"
    return None


def _template(facts: AckFacts, config: AckConfig) -> tuple[str, Templates] | NoAck:
    """The apology for a negative or urgent message (never a cheerful template), else instant or away."""
    if facts.sentiment == "unknown":
        return NoAck("sentiment unknown: the classifier failed")
    if facts.sentiment == "negative" or facts.urgency == "high":
        why = "negative sentiment" if facts.sentiment == "negative" else "urgent message"
        return ("apology", config.apology) if config.apology else NoAck(f"{why}: apology template not configured")
    if facts.open is None:
        return NoAck(f"schedule unknown: {facts.unknown_reason or 'the calendar cannot be read'}")
    kind = "instant" if facts.open else "away"
    templates = config.instant if facts.open else config.away
    return (kind, templates) if templates else NoAck(f"{'open' if facts.open else 'closed'}: no {kind} template")


def _for_language(templates: Templates, language: str | None) -> str:
    base = (language or "").split("-")[0].lower()
    return templates.get(base) or templates["default"]


def _render(facts: AckFacts, config: AckConfig, kind: str, template: str) -> AutoAck | NoAck:
    if "{promise}" in template and facts.promise is None:
        return NoAck(f"the {kind} template promises a time, and the channel's calendar has no target")
    name = "" if facts.public else (facts.first_name or "")  # a public ack never carries personal data
    text = _tidy(template.format(first_name=name, promise=facts.promise or "", ticket=facts.ticket))
    if config.disclosure:
        text = f"{text}\n{config.disclosure}"
    if facts.platform == "x" and x_length(text) > X_LIMIT:
        return NoAck(f"the {kind} text counts {x_length(text)} on X, more than its {X_LIMIT}")
    return AutoAck(text, kind, config.delay)


_X_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))  # X's ranges that count 1; the rest count 2


def x_length(text: str) -> int:
    """X's weighted length (twitter-text's ranges; a URL counts at its own length, never less than X's 23
    for one that long, so the estimate errs on the long side). The connector's exact count lives in
    ``connectors.xtext``, which the core may not import."""
    return sum(1 if any(lo <= ord(c) <= hi for lo, hi in _X_LIGHT) else 2 for c in text)


def _tidy(text: str) -> str:
    """``"Hi , thanks"`` → ``"Hi, thanks"``, ``"Sorry ,."`` → ``"Sorry."``: what an empty first name leaves."""
    text = re.sub(r"[ \t]+([,.!?;:])", r"\1", text)
    text = re.sub(r"[,;:]+([.!?])", r"\1", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def first_name(name: str | None) -> str | None:
    """The first word of a display name ("Hank Scorpio" → "Hank"); None for a handle or no name."""
    if not name or name.startswith("@") or name.startswith("user "):
        return None
    return name.split()[0]


def is_public(platform: str, kind: str, reply_to: str) -> bool:
    """Whether the customer wrote where others read: a comment (posts, mentions), or a Telegram group (whose
    chat ids are negative; a private chat's is the user's own, positive id)."""
    return kind == "comment" or (platform == "telegram" and reply_to.startswith("-"))


def send_blocker(
    platform: str, public: bool, since_customer: timedelta | None, *, template: bool = False
) -> str | None:
    """Why an ack that has come due may no longer be sent (a closed platform window), or None. ``template``:
    the WhatsApp channel has an approved template to send outside its window (its ``reengagement_template``)."""
    if public or platform not in WINDOWED or since_customer is None or (template and platform == "whatsapp"):
        return None
    if since_customer > WINDOW:
        return "outside the 24-hour window"
    return None
