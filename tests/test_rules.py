"""The triage rules as a pure function: every condition, every action, order and stop, and the grammar's errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from bridge import triage
from bridge.errors import ConfigError
from bridge.events import Attachment, Author, Priority, SocialEvent, TicketStatus, platform_time
from bridge.routing import field_text
from bridge.rulebook import names_used, parse_rules
from bridge.rules import Actions, CrmFacts, EventFacts, Subject, ThreadFacts, decide, explain, fold, needs_classifier


@dataclass(frozen=True)
class Classified:
    """A classifier's verdict, as bridge.classify.Classification carries it (a fact given to the rules)."""

    language: str = "en"
    sentiment: str = "neutral"
    score: float = 0.0
    urgency: str = "normal"
    reasons: tuple[str, ...] = ()


EVENT = EventFacts("acme-facebook", "facebook", "Where is my refund? I want my money back", public=True)
VIP = CrmFacts(True, {"account_type": "Enterprise", "open_cases": "3", "owner_name": "Olga Owner"}, vip=True)
ANGRY = Classified(language="en", sentiment="negative", score=-0.82, urgency="high", reasons=("legal: lawyer",))


def fires(
    when: dict[str, Any],
    *,
    event: EventFacts = EVENT,
    first: bool = True,
    crm: CrmFacts | None = VIP,
    cls: Classified | None = ANGRY,
) -> tuple[str, ...] | None:
    """The reasons the rule with these conditions fired with, or None when it did not."""
    rules = parse_rules([{"name": "r", "when": when, "then": {"tags": ["t"]}}])
    decision = decide(event, ThreadFacts(first), crm, cls, rules)
    return decision.fired[0].reasons if decision.fired else None


CONDITIONS: list[tuple[str, dict[str, Any], dict[str, Any], tuple[str, ...] | None]] = [
    # (what, when, facts changed, reasons or None)
    ("channel", {"channel": "acme-facebook"}, {}, ("channel acme-facebook",)),
    ("channel list", {"channel": ["acme-x", "ACME-Facebook"]}, {}, ("channel acme-facebook",)),
    ("channel other", {"channel": "acme-x"}, {}, None),
    ("platform", {"platform": "facebook"}, {}, ("platform facebook",)),
    ("platform other", {"platform": ["x", "instagram"]}, {}, None),
    ("public", {"public": True}, {}, ("in public",)),
    ("private", {"public": False}, {}, None),
    ("private message", {"public": False}, {"event": EventFacts("c", "whatsapp", "hi")}, ("in private",)),
    (
        "author by handle",
        {"author": ["@Acme_Jane", "x"]},
        {"event": EventFacts("c", "x", "hi", author=("42", "acme_jane"))},
        ("author acme_jane",),
    ),
    (
        "author by id",
        {"author": "42"},
        {"event": EventFacts("c", "x", "hi", author=("42", "acme_jane"))},
        ("author 42",),
    ),
    (
        "author other",
        {"author": ["43", "acme_john"]},
        {"event": EventFacts("c", "x", "hi", author=("42", "jane"))},
        None,
    ),
    ("author unknown", {"author": "42"}, {}, None),
    ("first message", {"first_message": True}, {}, ("first message",)),
    ("follow-up", {"first_message": False}, {"first": False}, ("follow-up",)),
    ("not a follow-up", {"first_message": False}, {}, None),
    ("language", {"language": ["fr", "en"]}, {}, ("language en",)),
    ("language other", {"language": "fr"}, {}, None),
    ("language, no classifier", {"language": "en"}, {"cls": None}, None),
    ("keyword", {"keywords": ["refund"]}, {}, ("matched words: refund",)),
    ("phrase", {"keywords": ["money back", "chargeback"]}, {}, ("matched words: money back",)),
    ("keyword part of a word", {"keywords": ["fund"]}, {}, None),
    (
        "keyword case and accents",
        {"keywords": ["remboursé"]},
        {"event": EventFacts("c", "x", "REMBOURSE svp")},
        ("matched words: remboursé",),
    ),
    (
        "keyword Arabic harakat",
        {"keywords": ["مُسْتَرَدّ"]},
        {"event": EventFacts("c", "x", "أريد مسترد الآن")},
        ("matched words: مُسْتَرَدّ",),
    ),
    (
        "keyword Devanagari whole word",
        {"keywords": ["रिफंड"]},
        {"event": EventFacts("c", "x", "मुझे रिफंड चाहिए")},
        ("matched words: रिफंड",),
    ),
    (
        "keyword Devanagari inside a word",
        {"keywords": ["रिफ"]},
        {"event": EventFacts("c", "x", "मुझे रिफंड चाहिए")},
        None,
    ),
    (
        "keyword in Japanese",
        {"keywords": ["返金"]},
        {"event": EventFacts("c", "x", "返金してください")},
        ("matched words: 返金",),
    ),
    (
        "keyword ß",
        {"keywords": ["strasse"]},
        {"event": EventFacts("c", "x", "in der Straße")},
        ("matched words: strasse",),
    ),
    (
        "regex",
        {"regex": r"order #?\d{5}"},
        {"event": EventFacts("c", "x", "Order 12345 never came")},
        ("matched /order #?\\d{5}/: 'Order 12345'",),
    ),
    (
        "regex accents",
        {"regex": "annulé"},
        {"event": EventFacts("c", "x", "Commande ANNULEE")},
        ("matched /annule/: 'ANNULE'",),
    ),
    ("regex no match", {"regex": [r"\border\b"]}, {}, None),
    ("sentiment", {"sentiment": "negative"}, {}, ("sentiment negative 0.82",)),
    (
        "sentiment with its words",
        {"sentiment": "negative"},
        {"cls": Classified(sentiment="negative", score=-0.6, reasons=("negative: awful", "positive: thanks"))},
        ("sentiment negative 0.60 (awful)",),
    ),
    ("sentiment score", {"sentiment": {"is": "negative", "min_score": 0.9}}, {}, None),
    ("sentiment other", {"sentiment": ["positive", "neutral"]}, {}, None),
    ("sentiment, no classifier", {"sentiment": "negative"}, {"cls": None}, None),
    ("urgency", {"urgency": "high"}, {}, ("urgency high (legal: lawyer)",)),
    ("urgency normal", {"urgency": "normal"}, {}, None),
    ("crm value", {"crm": {"account_type": "enterprise"}}, {}, ("CRM account_type = Enterprise",)),
    ("crm values", {"crm": {"account_type": ["SMB", "Mid"]}}, {}, None),
    ("crm number", {"crm": {"open_cases": {"gte": 2, "lt": 10}}}, {}, ("CRM open_cases = 3",)),
    ("crm number too small", {"crm": {"open_cases": {"gt": 3}}}, {}, None),
    ("crm exact number", {"crm": {"open_cases": 3}}, {}, ("CRM open_cases = 3",)),
    ("crm owner present", {"crm": {"owner_name": True}}, {}, ("CRM owner_name = Olga Owner",)),
    ("crm field absent", {"crm": {"title": {"exists": False}}}, {}, ("CRM title empty",)),
    ("crm, nobody found", {"crm": {"account_type": "Enterprise"}}, {"crm": CrmFacts(False)}, None),
    ("crm, no CRM", {"crm": {"account_type": "Enterprise"}}, {"crm": None}, None),
    ("vip", {"vip": True}, {}, ("VIP",)),
    ("not vip", {"vip": False}, {"crm": CrmFacts(True, {})}, ("not VIP",)),
    ("known customer", {"known_customer": True}, {}, ("known customer",)),
    ("unknown customer", {"known_customer": False}, {"crm": CrmFacts(False)}, ("unknown customer",)),
    ("unknown customer, no CRM", {"known_customer": True}, {"crm": None}, None),
    (
        "attachments",
        {"attachments": True},
        {"event": EventFacts("c", "x", "see", attachments=2)},
        ("has attachments",),
    ),
    ("no attachments", {"attachments": True}, {}, None),
    ("inside business hours (24/7)", {"business_hours": "inside"}, {}, ("inside business hours",)),
    ("outside business hours never, yet", {"business_hours": "outside"}, {}, None),
    ("all", {"all": [{"vip": True}, {"sentiment": "negative"}]}, {}, ("VIP", "sentiment negative 0.82")),
    ("all, one fails", {"all": [{"vip": True}, {"sentiment": "positive"}]}, {}, None),
    ("any", {"any": [{"channel": "nope"}, {"keywords": "refund"}]}, {}, ("matched words: refund",)),
    ("any, none", {"any": [{"channel": "nope"}, {"keywords": "cancel"}]}, {}, None),
    ("not", {"not": {"channel": "acme-x"}}, {}, ("not: channel is acme-facebook, not acme-x",)),
    ("not, it holds", {"not": {"vip": True}}, {}, None),
    ("empty when: always", {}, {}, ()),
]


@pytest.mark.parametrize(("when", "facts", "expected"), [c[1:] for c in CONDITIONS], ids=[c[0] for c in CONDITIONS])
def test_conditions(when: dict[str, Any], facts: dict[str, Any], expected: tuple[str, ...] | None) -> None:
    assert fires(when, **facts) == expected
    [rule] = parse_rules([{"name": "r", "when": when, "then": {"tags": ["t"]}}])
    args = {"event": EVENT, "first": True, "crm": VIP, "cls": ANGRY, **facts}
    subject = Subject.of(args["event"], ThreadFacts(args["first"]), args["crm"], args["cls"])
    assert rule.when.holds(subject) is (rule.when.test(subject) is not None)  # the fast path agrees


ACTIONS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("tags", {"tags": ["Refund", "billing"]}, {"tags": ("refund", "billing", "rule_r")}),
    ("priority", {"priority": "high"}, {"priority": Priority.HIGH}),
    ("priority medium", {"priority": "medium"}, {"priority": Priority.NORMAL}),
    ("type", {"type": "Problem"}, {"type": "problem"}),
    ("group", {"group": "Billing"}, {"group": "Billing"}),
    ("assignee", {"assignee": "alex.agent@socialdesk.test"}, {"assignee": "alex.agent@socialdesk.test"}),
    ("brand", {"brand": "Acme Travel"}, {"brand": "Acme Travel"}),
    (
        "custom fields",
        {"fields": {"360000000777": "refund", "360000000778": True}},
        {"fields": {"360000000777": "refund", "360000000778": "true"}},
    ),
    ("status", {"status": "pending"}, {"status": TicketStatus.PENDING}),
    ("status solved", {"status": "resolved"}, {"status": TicketStatus.SOLVED}),
    ("ignore", {"ignore": True}, {"ignored": "rule r"}),
    (
        "escalate",
        {"escalate": "Escalations"},
        {"priority": Priority.URGENT, "group": "Escalations", "tags": ("escalated", "rule_r")},
    ),
]


@pytest.mark.parametrize(("then", "expected"), [a[1:] for a in ACTIONS], ids=[a[0] for a in ACTIONS])
def test_actions(then: dict[str, Any], expected: dict[str, Any]) -> None:
    decision = decide(EVENT, ThreadFacts(), VIP, ANGRY, parse_rules([{"name": "r", "then": then}]))
    assert {k: getattr(decision, k) for k in expected} == expected
    untouched = {"priority", "type", "group", "assignee", "brand", "status", "ignored"} - set(expected)
    assert all(getattr(decision, k) is None for k in untouched)


def test_order_later_rules_win_tags_add_up_stop_ends() -> None:
    rules = parse_rules(
        [
            {"name": "billing", "when": {"keywords": "refund"}, "then": {"group": "Billing", "priority": "high"}},
            {
                "name": "vip-negative",
                "when": {"vip": True, "sentiment": "negative"},
                "then": {"escalate": "Escalations"},
                "stop": True,
            },
            {"name": "never", "then": {"group": "Nope", "tags": ["nope"]}},
        ]
    )
    decision = decide(EVENT, ThreadFacts(), VIP, ANGRY, rules)
    assert (decision.group, decision.priority) == ("Escalations", Priority.URGENT)
    assert decision.tags == ("rule_billing", "escalated", "rule_vip-negative")
    assert decision.explanation().splitlines() == [
        "rule billing: matched words: refund",
        "rule vip-negative: VIP, sentiment negative 0.82",
    ]
    verdicts = explain(EVENT, ThreadFacts(), VIP, ANGRY, rules)
    assert [(v.rule, v.fired) for v in verdicts] == [("billing", True), ("vip-negative", True), ("never", False)]
    assert verdicts[2].detail == "not evaluated: rule vip-negative stopped the evaluation"


def test_the_explanation_in_a_field_keeps_whole_lines_and_names_the_rules_left_out() -> None:
    words = [f"word{n:02d}" for n in range(12)]
    rules = parse_rules([{"name": f"r{n}", "when": {"keywords": words}, "then": {"tags": ["t"]}} for n in range(6)])
    decision = decide(EventFacts("c", "facebook", " ".join(words)), ThreadFacts(), None, None, rules)
    line = "rule r0: matched words: " + ", ".join(words)
    assert field_text(decision, 1000) == "Triage rules that fired:\n" + decision.explanation()
    assert field_text(decision, 300).split("\n") == ["Triage rules that fired:", line, line.replace("r0", "r1"),
                                                      "(and 4 more: r2, r3, r4, r5)"]  # fmt: skip
    assert field_text(decision, 255).split("\n") == [
        "Triage rules that fired:",
        line,
        "(and 5 more: r1, r2, r3, r4, r5)",
    ]
    assert field_text(decision, 61) == "Triage rules that fired:\n(and 6 more: r0, r1, r2, r3, r4, r5)"
    assert field_text(decision, 60) == "Triage rules that fired: r0, r1, r2, r3, r4, r5"
    assert field_text(decision, 40) == "Triage rules that fired: r0, r1, r2, r3…"  # 40 characters
    assert field_text(decide(EVENT, ThreadFacts(), None, None, ()), 255) == ""


def test_a_rule_that_does_not_fire_does_not_stop() -> None:
    rules = parse_rules(
        [
            {"name": "a", "when": {"channel": "other"}, "then": {"group": "A"}, "stop": True},
            {"name": "b", "then": {"group": "B"}},
        ]
    )
    assert decide(EVENT, ThreadFacts(), None, None, rules).group == "B"
    assert explain(EVENT, ThreadFacts(), None, None, rules)[0].detail == "no match: channel is acme-facebook, not other"


def test_ignore_ends_the_evaluation_and_names_the_rule() -> None:
    rules = parse_rules(
        [
            {"name": "spam", "when": {"keywords": "refund"}, "then": {"ignore": True}},
            {"name": "later", "then": {"group": "B"}},
        ]
    )
    decision = decide(EVENT, ThreadFacts(), None, None, rules)
    assert (decision.ignored, decision.group) == ("rule spam", None)


def test_no_rules_no_decision() -> None:
    decision = decide(EVENT, ThreadFacts(), None, None, ())
    assert (decision.fired, decision.tags, decision.priority) == ((), (), None)


def test_event_facts_of_a_social_event() -> None:
    def event(**kw: Any) -> SocialEvent:
        base: dict[str, Any] = dict(
            platform="facebook",
            channel="c",
            account_id="1",
            message_id="m",
            thread_id="comment:1",
            kind="comment",
            author=Author(id="u"),
            text="hi",
            created_at=platform_time(1),
            reply_to="1",
        )
        return SocialEvent(**{**base, **kw})

    assert EventFacts.of(event()).public
    assert not EventFacts.of(event(kind="message", thread_id="messenger:1")).public
    assert EventFacts.of(event(platform="telegram", kind="message", thread_id="chat:-100123")).public
    assert not EventFacts.of(event(platform="telegram", kind="message", thread_id="chat:42")).public
    assert EventFacts.of(event(attachments=(Attachment(url="https://x/y"),))).attachments == 1
    assert EventFacts.of(event(platform="telegram", extra={"attachments": "photo,video"})).attachments == 2
    assert EventFacts.of(event(author=Author(id="42", handle="@Acme_Jane"))).author == ("42", "acme_jane")


def test_fold() -> None:
    assert fold("  Ça   COÛTE\ttrop ") == "ca coute trop"
    assert fold("ﬁne") == "fine"  # compatibility forms (NFKD)


BAD: list[tuple[str, Any, str]] = [
    (
        "zendesk field by name",
        {"name": "a", "then": {"fields": {"cf_reason": "x"}}},
        "rules[a].then.fields.cf_reason: not a Zendesk field id (a number)",
    ),
    (
        "unknown condition",
        {"name": "a", "when": {"sentimnt": "negative"}, "then": {"tags": ["x"]}},
        "rules[a].when.sentimnt: unknown condition (did you mean sentiment?)",
    ),
    (
        "nested unknown condition",
        {"name": "a", "when": {"any": [{"chanel": "x"}]}, "then": {"tags": ["x"]}},
        "rules[a].when.any[0].chanel: unknown condition (did you mean channel?)",
    ),
    (
        "invalid regex",
        {"name": "a", "when": {"regex": "(refund"}, "then": {"tags": ["x"]}},
        "rules[a].when.regex: invalid regular expression '(refund': missing ), unterminated subpattern at position 0",
    ),
    (
        "invalid regex shown as written",  # it was repr(): 'order (#?\\d{5}', two backslashes the file never had
        {"name": "a", "when": {"regex": r"order (#?\d{5}"}, "then": {"tags": ["x"]}},
        r"rules[a].when.regex: invalid regular expression 'order (#?\d{5}': missing ), unterminated subpattern at "
        "position 6",
    ),
    ("unknown action", {"name": "a", "then": {"gruop": "x"}}, "rules[a].then.gruop: unknown key (did you mean group?)"),
    ("no actions", {"name": "a"}, "rules[a].then: required: a table of actions"),
    (
        "unknown rule key",
        {"name": "a", "then": {"tags": ["x"]}, "stpo": True},
        "rules[a].stpo: unknown key (did you mean stop?)",
    ),
    (
        "no name",
        {"then": {"tags": ["x"]}},
        "rules[0].name: required: 1-24 of a-z, 0-9, '-', '_', starting with a letter or digit",
    ),
    (
        "bad priority",
        {"name": "a", "then": {"priority": "asap"}},
        "rules[a].then.priority: must be low, normal, high or urgent",
    ),
    (
        "zendesk type",
        {"name": "a", "then": {"type": "refund"}},
        "rules[a].then.type: 'refund': Zendesk's types are incident, problem, question, task",
    ),
    (
        "zendesk closed",
        {"name": "a", "then": {"status": "closed"}},
        "rules[a].then.status: closed cannot be set on Zendesk (it sets new and closed itself)",
    ),
    (
        "bad sentiment",
        {"name": "a", "when": {"sentiment": "angry"}, "then": {"tags": ["x"]}},
        "rules[a].when.sentiment.is: 'angry' is not negative, neutral or positive",
    ),
    (
        "bad score",
        {"name": "a", "when": {"sentiment": {"is": "negative", "min_score": 2}}, "then": {"tags": ["x"]}},
        "rules[a].when.sentiment.min_score: must be a number from 0 to 1",
    ),
    (
        "bad tag",
        {"name": "a", "then": {"tags": ["two words"]}},
        "rules[a].then.tags: 'two words': a tag is 1-32 letters, digits, '_', '-' or ':' (no spaces)",
    ),
    (
        "bad flag",
        {"name": "a", "when": {"vip": "yes"}, "then": {"tags": ["x"]}},
        "rules[a].when.vip: must be true or false",
    ),
    (
        "bad hours",
        {"name": "a", "when": {"business_hours": "night"}, "then": {"tags": ["x"]}},
        "rules[a].when.business_hours: must be inside or outside",
    ),
    ("ack neither", {"name": "a", "then": {"ack": "yes"}},
     "rules[a].then.ack: must be true, false or a table of templates (instant, away, apology)"),
    ("ack kind", {"name": "a", "then": {"ack": {"awya": "Hi"}}},
     "rules[a].then.ack.awya: unknown key (did you mean away?)"),
    ("ack placeholder", {"name": "a", "then": {"ack": {"away": {"default": "Hi", "fr": "Salut {nom}"}}}},
     "rules[a].then.ack.away.fr: unknown placeholder {nom} (use {first_name}, {promise}, {ticket})"),
    ("ack default", {"name": "a", "then": {"ack": {"apology": {"fr": "Pardon"}}}},
     "rules[a].then.ack.apology: a 'default' template is required (the others are per language)"),
    ("ack type", {"name": "a", "then": {"ack": {"instant": 3}}},
     "rules[a].then.ack.instant: must be a template, or a table of one per language"),
    ("calendar", {"name": "a", "then": {"calendar": ""}}, "rules[a].then.calendar: must be a name"),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_rules_are_refused_naming_rule_and_key(rule: Any, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_rules([rule])
    assert e.value.message == message


def test_freshdesk_grammar() -> None:
    rules = parse_rules([{"name": "a", "then": {"type": "Refund", "status": "closed"}}], helpdesk="freshdesk")
    assert (rules[0].then.type, rules[0].then.status) == ("Refund", TicketStatus.CLOSED)
    with pytest.raises(ConfigError, match=r"rules\[a\]\.then\.brand: brands are Zendesk's only"):
        parse_rules([{"name": "a", "then": {"brand": "Acme"}}], helpdesk="freshdesk")
    with pytest.raises(ConfigError, match=r"rules\[a\]\.then\.fields\.360: not a Freshdesk field name \(cf_\.\.\.\)"):
        parse_rules([{"name": "a", "then": {"fields": {"360": "x"}}}], helpdesk="freshdesk")
    with pytest.raises(ConfigError, match=r"rules\[a\]\.then\.status: hold is not a Freshdesk status"):
        parse_rules([{"name": "a", "then": {"status": "hold"}}], helpdesk="freshdesk")


def test_a_rule_may_give_its_own_ack_templates_and_calendar_and_later_rules_win_kind_by_kind() -> None:
    rules = parse_rules([
        {"name": "vip", "when": {"keywords": ["refund"]}, "then": {"ack": {"away": "VIP {promise}",
         "instant": {"default": "Hi VIP", "fr": "Bonjour"}}, "calendar": "vip-hours"}},
        {"name": "legal", "when": {"keywords": ["money"]}, "then": {"ack": {"away": "Legal {ticket}"}}},
        {"name": "quiet", "when": {"keywords": ["nothing"]}, "then": {"ack": False}},
    ])  # fmt: skip
    decision = decide(EVENT, ThreadFacts(), None, None, rules)
    assert decision.ack_templates == {
        "away": {"default": "Legal {ticket}"},
        "instant": {"default": "Hi VIP", "fr": "Bonjour"},
    }
    assert (decision.calendar, decision.no_ack) == ("vip-hours", None)
    assert rules[2].then == Actions(ack=False) and rules[0].then.ack


def test_rules_explain_says_what_a_rule_does_to_the_acknowledgement() -> None:
    rules = parse_rules([
        {"name": "vip", "when": {"keywords": ["refund"]}, "then": {"ack": {"away": "VIP"}, "calendar": "vip-hours"}},
        {"name": "press", "when": {"keywords": ["money"]}, "then": {"ack": False}},
    ])  # fmt: skip
    described = triage.describe(decide(EVENT, ThreadFacts(), None, None, rules))
    assert (
        described == "calendar vip-hours, tags rule_vip, rule_press, no acknowledgement, acknowledgement templates away"
    )


def test_duplicate_names_refused() -> None:
    with pytest.raises(ConfigError, match=r"rules\[a\]\.name: another rule has this name"):
        parse_rules([{"name": "a", "then": {"tags": ["x"]}}, {"name": "a", "then": {"tags": ["y"]}}])


def test_names_used() -> None:
    rules = parse_rules(
        [
            {"name": "a", "then": {"escalate": "Escalations", "assignee": "Alex Agent"}},
            {"name": "b", "then": {"group": "Billing", "brand": "Acme"}},
        ]
    )
    assert names_used(rules) == {
        "group": {"Escalations": "a", "Billing": "b"},
        "assignee": {"Alex Agent": "a"},
        "brand": {"Acme": "b"},
    }


def test_the_classifier_runs_only_for_rules_that_need_it() -> None:
    def needs(when: dict[str, Any]) -> bool:
        return needs_classifier(parse_rules([{"name": "r", "when": when, "then": {"tags": ["t"]}}]))

    assert not needs({"keywords": "refund", "vip": True, "channel": "c"})
    assert needs({"any": [{"channel": "c"}, {"not": {"sentiment": "negative"}}]})
    assert needs({"urgency": "high"}) and needs({"language": "fr"})
