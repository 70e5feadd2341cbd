"""The rules' routing through both helpdesk connectors (zenpy / requests over real sockets) and what the
simulators accept and refuse of it, as the real APIs do."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from bridge import errors
from bridge.errors import ConfigError
from bridge.events import Author, NewTicket, Priority, Routing, TicketStatus
from bridge.routing import Triage
from bridge.rulebook import parse_rules
from bridge.rules import Decision
from connectors.freshdesk import FreshdeskHelpdesk
from connectors.zendesk import ZendeskHelpdesk
from sandbox.freshdesk import FreshdeskSimulator
from sandbox.zendesk import ZendeskSimulator

_ids = itertools.count(1)
Sim = ZendeskSimulator | FreshdeskSimulator
Desk = ZendeskHelpdesk | FreshdeskHelpdesk


@pytest.fixture(params=["zendesk", "freshdesk"])
def pair(request: pytest.FixtureRequest) -> Iterator[tuple[Sim, Desk]]:
    if request.param == "zendesk":
        with ZendeskSimulator() as zsim:
            yield zsim, ZendeskHelpdesk(url=zsim.url, email=zsim.email, api_token="sim-api-token", timeout=5)
    else:
        with FreshdeskSimulator() as fsim:
            desk = FreshdeskHelpdesk(url=fsim.url, api_key="sim-freshdesk-api-key", timeout=5,
                                     thread_key_field="cf_socialdesk_thread")  # fmt: skip
            yield fsim, desk


def ticket(desk: Desk, routing: Routing, tags: tuple[str, ...] = ("socialdesk",)) -> NewTicket:
    requester = desk.ensure_requester(platform="facebook", author=Author(id=str(next(_ids)), name="Jane"))
    return NewTicket(
        external_id=f"facebook:1:comment:{next(_ids)}",
        requester_id=requester,
        subject="s",
        body="b",
        tags=tags,
        created_at=datetime.now(UTC),
        routing=routing,
    )


def shown(sim: Sim, ticket_id: str) -> dict[str, Any]:
    return next(t for t in sim.tickets if str(t["id"]) == ticket_id)


PRIORITY: dict[str, dict[Priority, Any]] = {
    "zendesk": {Priority.URGENT: "urgent", Priority.LOW: "low"},
    "freshdesk": {Priority.URGENT: 4, Priority.LOW: 1},
}
STATUS = {"zendesk": "pending", "freshdesk": 3}
ASSIGNEE = {"zendesk": "assignee_id", "freshdesk": "responder_id"}
TYPE = {"zendesk": "problem", "freshdesk": "Problem"}


def test_a_new_ticket_carries_every_routing_field(pair: tuple[Sim, Desk]) -> None:
    sim, desk = pair
    group = sim.add_group("Escalations")
    brand = sim.add_brand("Acme Travel") if isinstance(sim, ZendeskSimulator) else None
    fields = {"360000000777": "x"} if isinstance(sim, ZendeskSimulator) else {"cf_social_channel": "x"}
    routing = Routing(priority=Priority.URGENT, type=TYPE[sim.name], group_id=str(group), status=TicketStatus.PENDING,
                      assignee_id=str(sim.agent_id), brand_id=str(brand) if brand else None, fields=fields)  # fmt: skip
    made = shown(sim, desk.create_ticket(ticket(desk, routing)).id)
    assert made["priority"] == PRIORITY[sim.name][Priority.URGENT]
    assert (made["type"], made["group_id"], made[ASSIGNEE[sim.name]]) == (TYPE[sim.name], group, sim.agent_id)
    assert made["status"] == STATUS[sim.name]
    if brand is not None:
        assert made["brand_id"] == brand


def test_a_follow_up_adds_tags_and_routing_in_its_update(pair: tuple[Sim, Desk]) -> None:
    sim, desk = pair
    made = desk.create_ticket(ticket(desk, Routing(), tags=("socialdesk", "agent_kept")))
    group = sim.add_group("Billing")
    sim.reset_calls()
    requester = str(shown(sim, made.id)["requester_id"])
    routing = Routing(priority=Priority.LOW, group_id=str(group))
    desk.add_customer_comment(made.id, requester_id=requester, body="again", tags=("chased",), routing=routing)
    after = shown(sim, made.id)
    assert after["priority"] == PRIORITY[sim.name][Priority.LOW] and after["group_id"] == group
    assert {"socialdesk", "agent_kept", "chased"} <= set(after["tags"])
    writes = [c for c in sim.calls if c.method in ("PUT", "POST")]
    # Zendesk: one update (comment and fields); Freshdesk: its notes cannot change a ticket, one PUT more
    assert len(writes) == {"zendesk": 1, "freshdesk": 2}[sim.name]


def test_names_lists_groups_agents_brands(pair: tuple[Sim, Desk]) -> None:
    sim, desk = pair
    group = sim.add_group("Escalations")
    names = desk.names()
    assert names.groups["Escalations"] == str(group)
    assert names.agents["Alex Agent"] == names.agents["alex.agent@socialdesk.test"] == str(sim.agent_id)
    if isinstance(sim, ZendeskSimulator):
        assert names.brands == {"Socialdesk Sim": str(min(b["id"] for b in sim._brands.values()))}
        assert names.types is None
    else:
        assert names.types is not None and "Problem" in names.types


def test_many_groups_are_read_page_after_page(pair: tuple[Sim, Desk]) -> None:
    sim, desk = pair
    for n in range(130):
        sim.add_group(f"g{n}")
    assert len(desk.names().groups) == 131  # with Support


REFUSED: list[tuple[str, dict[str, Any]]] = [
    ("priority", {"zendesk": {"priority": "asap"}, "freshdesk": {"priority": 5}}),
    ("type", {"zendesk": {"type": "refund"}, "freshdesk": {"type": "Complaint"}}),
    ("group", {"zendesk": {"group_id": 999}, "freshdesk": {"group_id": 999}}),
    ("assignee", {"zendesk": {"assignee_id": 999}, "freshdesk": {"responder_id": 999}}),
]


@pytest.mark.parametrize(("what", "bodies"), REFUSED, ids=[r[0] for r in REFUSED])
def test_the_simulators_refuse_invalid_routing(pair: tuple[Sim, Desk], what: str, bodies: dict[str, Any]) -> None:
    sim, desk = pair
    requester = int(desk.ensure_requester(platform="facebook", author=Author(id=str(next(_ids)), name="J")))
    extra = bodies[sim.name]
    if isinstance(sim, ZendeskSimulator):
        body: dict[str, Any] = {"ticket": {"requester_id": requester, "comment": {"body": "b"}, **extra}}
        response = requests.post(
            f"{sim.url}/api/v2/tickets.json", json=body, auth=(f"{sim.email}/token", "sim-api-token")
        )
        assert response.status_code == 422 and response.json()["error"] == "RecordInvalid"
    else:
        body = {"requester_id": requester, "subject": "s", "description": "d", **extra}
        response = requests.post(f"{sim.url}/api/v2/tickets", json=body, auth=("sim-freshdesk-api-key", "X"))
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == next(iter(extra))


def test_zendesk_assignee_must_be_in_the_group() -> None:
    with ZendeskSimulator() as sim:
        desk = ZendeskHelpdesk(url=sim.url, email=sim.email, api_token="sim-api-token", timeout=5)
        lonely = sim.add_group("Lonely", agents=())
        routing = Routing(group_id=str(lonely), assignee_id=str(sim.agent_id))
        with pytest.raises(errors.PermanentError) as e:
            desk.create_ticket(ticket(desk, routing))
        assert e.value.http_status == 422
        # the dead letter an admin reads says what to fix (it said "Zendesk rejected the request" alone)
        assert e.value.message == "Zendesk rejected the request: invalid assignee"


def test_triage_resolves_names_once_and_refuses_unknown_ones(pair: tuple[Sim, Desk]) -> None:
    sim, desk = pair
    group = sim.add_group("Escalations")
    triage = Triage(parse_rules([{"name": "vip", "then": {"escalate": "Escalations", "assignee": "Alex Agent"}}]))
    assert "found in" in triage.prepare(desk)
    sim.reset_calls()
    routing = triage.routing(Decision(group="Escalations", assignee="Alex Agent", priority=Priority.URGENT), desk)
    assert (routing.group_id, routing.assignee_id) == (str(group), str(sim.agent_id))
    assert sim.calls == []  # resolved at start: no call per message
    bad = Triage(parse_rules([{"name": "oops", "then": {"group": "Escalation"}}]))
    with pytest.raises(ConfigError) as e:
        bad.prepare(desk)
    assert (
        e.value.message == f"rules[oops].then.group: no group 'Escalation' in {sim.name} (did you mean 'Escalations'?)"
    )


def test_an_assignee_name_two_agents_share_is_refused_at_start_and_the_email_resolves(pair: tuple[Sim, Desk]) -> None:
    """It resolved to whichever agent the helpdesk listed last: tickets silently went to the other Alex."""
    sim, desk = pair
    other = sim.add_agent("Alex Agent", "alex.other@socialdesk.test")
    triage = Triage(parse_rules([{"name": "r", "then": {"assignee": "Alex Agent"}}], helpdesk=sim.name))
    with pytest.raises(ConfigError) as e:
        triage.prepare(desk)
    assert e.value.message == (
        f"rules[r].then.assignee: 'Alex Agent' is the name of several agents in {sim.name}: give the email (or the "
        "id) of the one meant"
    )
    by_email = Triage(parse_rules([{"name": "r", "then": {"assignee": "alex.other@socialdesk.test"}}]))
    by_email.prepare(desk)
    assert by_email.routing(Decision(assignee="alex.other@socialdesk.test"), desk).assignee_id == str(other)


@pytest.mark.parametrize(
    ("then", "error"),
    [
        (
            {"assignee": "Alex Agnt"},
            "rules[r].then.assignee: no assignee 'Alex Agnt' in {} (did you mean 'Alex Agent'?)",
        ),
        ({"brand": "Nobody Inc"}, "rules[r].then.brand: no brand 'Nobody Inc' in {}"),
    ],
)
def test_an_unknown_assignee_or_brand_is_refused_at_start(
    pair: tuple[Sim, Desk], then: dict[str, str], error: str
) -> None:
    sim, desk = pair
    if "brand" in then and isinstance(sim, FreshdeskSimulator):
        with pytest.raises(ConfigError, match=r"^rules\[r\]\.then\.brand: "):  # Freshdesk has no brands to name
            parse_rules([{"name": "r", "then": then}], helpdesk="freshdesk")
        return
    triage = Triage(parse_rules([{"name": "r", "then": then}], helpdesk=sim.name))
    with pytest.raises(ConfigError) as e:
        triage.prepare(desk)
    assert e.value.message == error.format(sim.name)


#: a ticket field each simulator lacks, as its API would name one (Zendesk: an id; Freshdesk: a ``cf_`` name)
NO_SUCH_FIELD = {"zendesk": "360099999999", "freshdesk": "cf_reason"}


def test_a_rules_ticket_field_the_helpdesk_lacks_is_refused_at_start_naming_each_rule(pair: tuple[Sim, Desk]) -> None:
    """Freshdesk answers a write carrying an unknown field with a 400 (each routed ticket a dead letter); Zendesk
    drops its value without a word (each routed ticket without it), and its rules' fields were never checked."""
    sim, desk = pair
    known, missing = sim.add_ticket_field("reason code"), NO_SUCH_FIELD[sim.name]
    rules = [{"name": "a", "then": {"fields": {missing: "x"}}},
             {"name": "b", "then": {"fields": {known: "x", f"{missing}1": "y"}}}]  # fmt: skip
    with pytest.raises(ConfigError) as e:
        Triage(parse_rules(rules, helpdesk=sim.name)).prepare(desk)
    assert e.value.message.splitlines() == [
        f"rules[a].then.fields.{missing}: no such ticket field in {sim.name}",
        f"rules[b].then.fields.{missing}1: no such ticket field in {sim.name}",
    ]
    fine = Triage(parse_rules([{"name": "k", "then": {"fields": {known: "x"}}}], helpdesk=sim.name))
    assert fine.prepare(desk) == f"1 rule(s); 1 ticket field(s) found in {sim.name}"
    assert fine.routing(Decision(fields={known: "x"}), desk).fields == {known: "x"}


def test_a_freshdesk_type_not_among_the_accounts_is_refused_at_start() -> None:
    with FreshdeskSimulator() as sim:
        desk = FreshdeskHelpdesk(url=sim.url, api_key="sim-freshdesk-api-key", timeout=5)
        triage = Triage(parse_rules([{"name": "t", "then": {"type": "Complaint"}}], helpdesk="freshdesk"))
        with pytest.raises(ConfigError, match=r"rules\[t\]\.then\.type: 'Complaint' is not a ticket type of freshdesk"):
            triage.prepare(desk)


def test_rules_without_names_cost_no_call(pair: tuple[Sim, Desk]) -> None:
    sim, desk = pair
    triage = Triage(parse_rules([{"name": "t", "then": {"priority": "high"}}]))
    sim.reset_calls()
    assert triage.prepare(desk) == "1 rule(s), no helpdesk names to look up"
    assert triage.routing(Decision(priority=Priority.HIGH), desk) == Routing(priority=Priority.HIGH)
    assert sim.calls == []
