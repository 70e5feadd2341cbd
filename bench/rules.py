"""What the triage rules cost per message: ``bridge.rules.decide`` over 100 rules, in one process.

    .venv/bin/python -m bench.rules [--rules 100] [--events 3000]

The rules are a realistic mix, built the way ``[[rules]]`` are read (``bridge.rulebook.parse_rules``):
channel and platform filters, three keywords each, a regular expression, CRM fields with a comparison,
VIP, sentiment and urgency, any/not combinators, and no ``stop``: every rule is evaluated for every
message (the worst case). The messages are social posts of 60-280 characters in eight languages, their
classifications made once beforehand: the classifier has its own budget (``bench`` of issue 15), this
measures the rules alone. Prints wall and CPU µs per message (mean, p50, p99) and writes
``bench/results/rules.json``.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import Any

from bench import common
from bridge.classify.plugins import ClassifierSettings, build_classifier
from bridge.rulebook import parse_rules
from bridge.rules import CrmFacts, EventFacts, ThreadFacts, decide

TEXTS = (
    "Terrible service, my order #48213 never arrived and nobody answers. I want a refund or I call my lawyer.",
    "Merci pour la livraison rapide, le café est excellent ! À bientôt.",
    "Ich warte immer noch auf meine Erstattung, das ist eine Frechheit. Bestellung 55120.",
    "¿Dónde está mi pedido? Llevo dos semanas esperando y nadie me responde.",
    "Il servizio clienti non risponde da giorni, voglio annullare l'abbonamento.",
    "Obrigado pela ajuda de ontem, tudo resolvido!",
    "Где мой заказ? Уже неделю жду возврат денег.",
    "مرحبا، لم يصل طلبي بعد وأريد استرداد المبلغ",
    "मेरा ऑर्डर अभी तक नहीं आया, कृपया रिफंड करें",
    "hi",
)
WORDS = (
    *("refund", "cancel", "lawyer", "outage", "broken", "late", "invoice", "password", "discount", "shipping"),
    *("remboursement", "annuler", "erstattung", "kündigen", "reembolso", "rimborso", "возврат", "استرداد"),
)


def make_rules(count: int, seed: int = 15) -> list[dict[str, Any]]:
    """``count`` rules cycling through the kinds of conditions an operator writes."""
    pick = random.Random(seed)
    shapes: list[Callable[[int], dict[str, Any]]] = [
        lambda i: {"channel": [f"acme-{i}", "acme-facebook"], "keywords": pick.sample(WORDS, 3)},
        lambda i: {"platform": "facebook", "regex": rf"order #?{i % 10}\d{{4}}"},
        lambda i: {"crm": {"account_type": ["Enterprise", "Strategic"], "open_cases": {"gte": i % 4}}},
        lambda i: {"vip": True, "sentiment": {"is": "negative", "min_score": 0.3}},
        lambda i: {"urgency": "high", "first_message": True, "public": True},
        lambda i: {"any": [{"keywords": pick.sample(WORDS, 3)}, {"language": ["fr", "de"]}],
                   "not": {"channel": f"acme-{i}"}},
        lambda i: {"known_customer": True, "attachments": False, "business_hours": "inside"},
    ]  # fmt: skip
    actions = [{"tags": [f"t{i}"]} for i in range(count)]
    return [
        {"name": f"r{i}", "when": shapes[i % len(shapes)](i), "then": actions[i] | {"priority": "high"}}
        for i in range(count)
    ]


def run(rule_count: int, events: int) -> dict[str, Any]:
    rules = parse_rules(make_rules(rule_count))
    classifier = build_classifier(ClassifierSettings())
    classified = {text: classifier.classify(text) for text in TEXTS}
    crm = CrmFacts(True, {"account_type": "Enterprise", "open_cases": "2"}, vip=True)
    wall: list[float] = []
    cpu: list[float] = []
    fired = 0
    for n in range(events):
        text = TEXTS[n % len(TEXTS)]
        event = EventFacts("acme-facebook", "facebook", text, public=n % 2 == 0)
        w0, c0 = time.perf_counter(), time.process_time()
        decision = decide(event, ThreadFacts(n % 3 == 0), crm if n % 2 else None, classified[text], rules)
        wall.append((time.perf_counter() - w0) * 1e6)
        cpu.append((time.process_time() - c0) * 1e6)
        fired += len(decision.fired)
    return {
        "rules": rule_count,
        "events": events,
        "rules_fired_per_event": fired / events,
        "wall_us": _stats(wall),
        "cpu_us_mean": sum(cpu) / len(cpu),
    }


def _stats(values: list[float]) -> dict[str, float | None]:
    return {
        "mean": sum(values) / len(values),
        "p50": common.percentile(values, 50),
        "p99": common.percentile(values, 99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--wait-quiet", type=float, default=0.0, help="wait up to N s for an idle machine first")
    args = parser.parse_args()
    busy = common.wait_quiet(args.wait_quiet) if args.wait_quiet else common.background_busy()
    decide(EventFacts("c", "x", "warm up"), ThreadFacts(), None, None, parse_rules(make_rules(3)))
    result = run(args.rules, args.events)
    wall = result["wall_us"]
    print(common.table(
        ["rules", "events", "fired/event", "wall µs mean", "p50", "p99", "CPU µs mean", "foreign"],
        [[result["rules"], result["events"], f"{result['rules_fired_per_event']:.1f}", f"{wall['mean']:.1f}",
          f"{wall['p50']:.1f}", f"{wall['p99']:.1f}", f"{result['cpu_us_mean']:.1f}", f"{busy:.0%}"]],
    ))  # fmt: skip
    common.write_results(
        "rules", {"machine": common.machine(), "code": common.code_version(), "foreign": busy, **result}
    )


if __name__ == "__main__":
    main()
