"""What the worker records on a customer message for the service figures, besides its times: the classifier's
sentiment (when a classifier runs: it is asked once per message, :func:`bridge.triage.classified`) and whether
it needs no answer (a rule of ``[metrics] no_answer_rules`` fired, or a tag of ``no_answer_tags`` was set)."""

from __future__ import annotations

from bridge import triage
from bridge.events import SocialEvent
from bridge.registry import Runtime
from bridge.rules import Decision


def of_message(rt: Runtime, event: SocialEvent, decision: Decision) -> tuple[str | None, bool]:
    """The classifier's sentiment of one message (None: no classifier, or it failed) and whether it needs no
    answer."""
    verdict = triage.classified(rt, event)
    settings = rt.config.metrics
    no_answer = any(f.rule in settings.no_answer_rules for f in decision.fired) or bool(
        settings.no_answer_tags.intersection(decision.tags)
    )
    return (None if verdict is None else str(verdict.sentiment)), no_answer
