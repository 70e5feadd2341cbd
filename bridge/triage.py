"""The worker's side of the triage rules: the facts about one message, loaded once, and the rules' note.

:func:`decide_for` gathers what :func:`bridge.rules.decide` needs (the event, first message or follow-up,
the CRM record the bridge holds, the classifier's verdict) and returns its decision; the inbound pipeline
carries it out in the call that creates or updates the ticket. Runs in the worker, never in a webhook.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from bridge import enrich, messages, schedules
from bridge.calendars import Unknown
from bridge.errors import BridgeError
from bridge.events import SocialEvent
from bridge.registry import Runtime
from bridge.routing import NOTE_TITLE
from bridge.rules import NO_RULES, Classified, CrmFacts, Decision, EventFacts, Rule, ThreadFacts, decide, explain

log = logging.getLogger(__name__)


def decide_for(
    rt: Runtime, event: SocialEvent, *, first: bool, customer: enrich.Lookup | None, cached: bool = False
) -> Decision:
    """The rules' decision for one message. ``customer``: the CRM lookup made for a new ticket; a follow-up
    uses the record cached for the author, however old (the rules cost no CRM call): read here, or given as
    ``customer`` with ``cached`` when the caller read it already."""
    rules = rt.triage.rules
    if not rules:
        return NO_RULES
    lookup = customer if first or cached else _cached(rt, event)
    facts = EventFacts.of(event), ThreadFacts(first), _crm_facts(rt, lookup), classified(rt, event)
    return decide(*facts, rules, inside_hours=inside_hours(rt, event))


def inside_hours(rt: Runtime, event: SocialEvent) -> bool | None:
    """Whether the customer wrote inside the channel's calendar, at the platform's own time of the post
    (True without a calendar: 24/7; None when the calendar is unknown, and the log says why)."""
    calendar = schedules.for_channel(rt.config, rt.store, event.channel)
    if calendar is None:
        return True
    if isinstance(calendar, Unknown):
        log.info("business hours unknown for %s: %s", messages.key_shown(event.thread_key), calendar.reason)
        return None
    return calendar.is_open(event.created_at)


def _cached(rt: Runtime, event: SocialEvent) -> enrich.Lookup | None:
    if rt.crm is None:
        return None
    record = rt.store.crm_cached(f"{event.platform}:{event.author.id}", max_age=math.inf)
    if record is None:
        return None
    return enrich.Lookup("found", record) if record else enrich.Lookup("none", {})


def _crm_facts(rt: Runtime, lookup: enrich.Lookup | None) -> CrmFacts | None:
    """None when there is no CRM or it could not answer: CRM conditions do not hold then."""
    if lookup is None or lookup.outcome == "unavailable":
        return None
    return CrmFacts(lookup.outcome == "found", lookup.fields, vip="vip" in enrich.tags(rt, lookup))


def classified(rt: Runtime, event: SocialEvent) -> Classified | None:
    """The classifier's verdict; None without one, or when it fails (rules on sentiment then do not fire,
    and the message is not held back). The last verdict is kept: the rules, the acknowledgement and the
    figures' sentiment ask about the same message in turn, and the classifier answers once."""
    if rt.classify is None or not event.text:
        return None
    last = rt.last_classified
    if last is not None and last[0] == event.text:
        return last[1]
    try:
        verdict = rt.classify(event.text)
    except BridgeError as e:
        log.warning("classifier failed for %s: %s", messages.key_shown(event.thread_key), e)
        return None
    rt.last_classified = (event.text, verdict)
    return verdict


def note(decision: Decision) -> str:
    """What the ticket's first internal note says about the rules ("" when none fired)."""
    return f"{NOTE_TITLE}\n{decision.explanation()}" if decision.fired else ""


# -- socialdesk rules explain ---------------------------------------------------------------------------------------


def explain_lines(
    rules: Sequence[Rule],
    event: EventFacts,
    *,
    first: bool,
    crm: CrmFacts | None,
    classification: Classified | None,
    inside_hours: bool | None = True,
) -> list[str]:
    """What ``socialdesk rules explain`` prints: the classifier's verdict, each rule's, then the decision."""
    lines = [_classified_line(classification)]
    for verdict in explain(event, ThreadFacts(first), crm, classification, rules, inside_hours=inside_hours):
        mark = "✓" if verdict.fired else ("·" if verdict.detail.startswith("not evaluated") else "✗")
        lines.append(f"{mark} {verdict.rule}: {verdict.detail}")
    decision = decide(event, ThreadFacts(first), crm, classification, rules, inside_hours=inside_hours)
    lines.append("decision: " + describe(decision))
    return lines


def _classified_line(c: Classified | None) -> str:
    if c is None:
        return "classifier: no classifier"
    reasons = f" ({', '.join(c.reasons)})" if c.reasons else ""
    return f"classifier: {c.language}, {c.sentiment} {abs(c.score):.2f}, urgency {c.urgency}{reasons}"


def describe(decision: Decision) -> str:
    """A decision in one line ("priority urgent, group Escalations, tags escalated, rule_vip")."""
    if decision.ignored:
        return f"ignored ({decision.ignored})"
    parts = [f"{name} {value}" for name in _SHOWN if (value := getattr(decision, name)) is not None]
    parts += [f"field {k} = {v}" for k, v in decision.fields.items()]
    parts += [f"tags {', '.join(decision.tags)}"] if decision.tags else []
    parts += ["no acknowledgement"] if decision.no_ack else []
    parts += [f"acknowledgement templates {', '.join(decision.ack_templates)}"] if decision.ack_templates else []
    parts += [f"replies need approval ({decision.approval})"] if decision.approval else []
    return ", ".join(parts) or "no rule fired: the ticket as without rules"


_SHOWN = ("priority", "type", "group", "assignee", "brand", "status", "calendar")
