"""Approvals, the pure part (bridge.approvals.plan), the rule grammar and the config that feed it, and the
Zendesk simulator's macros that approvers use."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from bridge import cli
from bridge import config as config_module
from bridge.approvals import BEHIND, ApprovalSettings, Facts, plan
from bridge.errors import ConfigError
from bridge.events import AgentReply, Author, SocialEvent
from bridge.holding import Approvers
from bridge.rulebook import parse_rules
from bridge.rules import EventFacts, ThreadFacts, decide
from bridge.triage import describe
from connectors.freshdesk.helpdesk import FreshdeskHelpdesk
from connectors.zendesk import ZendeskHelpdesk
from sandbox.stack import Stack, to_toml
from sandbox.zendesk import ZendeskSimulator
from tests.conftest import raw_config
from tests.support import socialdesk
from tests.test_cli import one_line_failure

SETTINGS = ApprovalSettings(agents=("77",))


def reply(comment_id: str, author: str = "1") -> AgentReply:
    at = datetime(2026, 12, 6, 12, int(comment_id), tzinfo=UTC)
    return AgentReply("9", comment_id, f"reply {comment_id}", author, None, at)


def steps(statuses: dict[str, str], tags: set[str], thread: str | None, *replies: AgentReply) -> list[str]:
    facts = Facts(statuses, frozenset(tags), thread, frozenset(SETTINGS.agents))
    return [f"{p.step}:{p.reason}" if p.reason else str(p.step) for p in plan(replies, facts, SETTINGS).steps]


@pytest.mark.parametrize(
    ("statuses", "tags", "thread", "authors", "expected"),
    [
        ({}, set(), None, ("1", "1"), ["deliver", "deliver"]),  # nothing to approve
        ({}, set(), "rule legal", ("1",), ["hold:rule legal"]),
        ({}, set(), None, ("77", "1"), ["hold:replies by agent 77 need approval", f"hold:{BEHIND}"]),
        ({"1": "held"}, set(), "rule legal", ("1",), ["wait"]),
        ({"1": "held", "2": "held"}, {"socialdesk_approve"}, "rule legal", ("1", "1"), ["release", "release"]),
        ({"1": "held"}, {"socialdesk_reject"}, "rule legal", ("1",), ["reject"]),
        ({"1": "held"}, {"socialdesk_approve", "socialdesk_reject"}, "rule legal", ("1",), ["reject"]),  # no wins
        # a reply new in this pass was not seen by the approver: it waits for the next answer
        ({"1": "held"}, {"socialdesk_approve"}, "rule legal", ("1", "1"), ["release", "hold:rule legal"]),
        ({"1": "approved"}, set(), "rule legal", ("1",), ["release"]),  # its send refused before: it goes on
        ({"1": "sent", "2": "rejected"}, {"socialdesk_approve"}, "rule legal", ("1", "1"), ["deliver", "deliver"]),
        ({"1": "held"}, set(), None, ("1", "1"), ["wait", f"hold:{BEHIND}"]),  # order: the next waits behind
    ],
)
def test_plan(statuses: dict[str, str], tags: set[str], thread: str | None, authors: tuple[str, ...],
              expected: list[str]) -> None:  # fmt: skip
    replies = [reply(str(i + 1), author) for i, author in enumerate(authors)]
    assert steps(statuses, tags, thread, *replies) == expected


def test_the_tags_it_acted_on_come_off() -> None:
    facts = Facts({"1": "held"}, frozenset({"socialdesk_approve", "vip"}), "rule legal")
    assert plan([reply("1")], facts, SETTINGS).clear_tags == ("socialdesk_approve",)
    assert plan([reply("1")], Facts({}, frozenset({"vip"})), SETTINGS).clear_tags == ()


# -- the rules ---------------------------------------------------------------------------------------------------


def event(text: str, *, context: str | None = None, kind: str = "comment") -> SocialEvent:
    return SocialEvent("facebook", "acme", "1", "m1", "comment:1", kind, Author("5"), text,  # type: ignore[arg-type]
                       datetime.now(UTC), "1", context=context)  # fmt: skip


def test_a_rule_on_a_crisis_post_asks_for_approval() -> None:
    rules = parse_rules([{"name": "crisis", "when": {"post": "111_222", "public": True}, "then": {"approval": True}}])
    on_it = decide(EventFacts.of(event("down again", context="post 111_222")), ThreadFacts(), None, None, rules)
    elsewhere = decide(EventFacts.of(event("hi", context="post 111_333")), ThreadFacts(), None, None, rules)
    assert on_it.approval == "rule crisis" and elsewhere.approval is None
    assert describe(on_it) == "tags rule_crisis, replies need approval (rule crisis)"


def test_the_first_rule_asking_for_approval_is_the_reason() -> None:
    rules = parse_rules([{"name": "legal", "when": {"keywords": "lawyer"}, "then": {"approval": True}},
                         {"name": "all", "then": {"approval": True}}])  # fmt: skip
    assert decide(EventFacts.of(event("my lawyer")), ThreadFacts(), None, None, rules).approval == "rule legal"


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        ("rules", [{"name": "legal", "then": {"approval": "yes"}}], "rules[legal].then.approval: must be true or"),
        ("rules", [{"name": "legal", "then": {"aproval": True}}], "rules[legal].then.aproval: unknown key"),
        ("rules", [{"name": "c", "when": {"post": []}, "then": {"approval": True}}], "rules[c].when.post: must be"),
        ("approvals", {"agentz": ["x"]}, "approvals.agentz: unknown key"),
        ("approvals", {"reject_tag": "socialdesk_approve"}, "approvals.reject_tag: must differ from approve_tag"),
        ("approvals", {"approve_tag": "Approve Me"}, "approvals.approve_tag:"),
        ("approvals", {"agents": [""]}, "approvals.agents"),
    ],
)
def test_bad_approval_config_is_refused_naming_the_key(section: str, value: Any, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        config_module.parse({**raw_config(), section: value}, env={})
    assert str(refused.value).startswith(message), str(refused.value)


@pytest.mark.parametrize(
    ("section", "value", "line"),
    [
        ("approvals", {"agentz": ["x"]}, "approvals.agentz: unknown key (did you mean `agents`?)"),
        ("rules", [{"name": "legal", "then": {"approval": 1}}], "rules[legal].then.approval: must be true or false"),
    ],
)
def test_bad_approval_config_fails_doctor_with_one_line(tmp_path: Path, section: str, value: Any, line: str) -> None:
    raw = {**raw_config(database_url=f"sqlite:///{tmp_path}/s.db"), section: value}
    (tmp_path / "socialdesk.toml").write_text(to_toml(raw))
    run = CliRunner().invoke(cli.main, ["doctor", "--config", str(tmp_path / "socialdesk.toml")])  # in-process: fast
    assert (run.exit_code, run.stdout, run.stderr) == (cli.EX_CONFIG, "", f"Error: configuration: {line}\n")


def test_approvals_default_to_the_documented_tags() -> None:
    settings = config_module.parse(raw_config(), env={}).approvals
    assert settings == ApprovalSettings((), "socialdesk_approve", "socialdesk_reject")


# -- the Zendesk simulator's macros --------------------------------------------------------------------------------


@pytest.fixture
def sim() -> Iterator[ZendeskSimulator]:
    simulator = ZendeskSimulator()
    simulator.start()
    yield simulator
    simulator.stop()


def macro_call(sim: ZendeskSimulator, method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
    auth = (f"{sim.email}/token", "sim-api-token")
    return requests.request(method, f"{sim.url}{path}", json=body, auth=auth, timeout=10)


def test_macros_are_created_listed_and_applied_as_zendesk_documents(sim: ZendeskSimulator) -> None:
    wanted = {"title": "Approve social reply", "actions": [{"field": "current_tags", "value": "socialdesk_approve"}]}
    created = macro_call(sim, "POST", "/api/v2/macros.json", {"macro": wanted})
    assert created.status_code == 201
    macro = created.json()["macro"]
    assert macro["active"] is True and macro["url"].endswith(f"/api/v2/macros/{macro['id']}.json")
    assert [m["title"] for m in macro_call(sim, "GET", "/api/v2/macros.json").json()["macros"]] == [wanted["title"]]
    renamed = macro_call(sim, "PUT", f"/api/v2/macros/{macro['id']}.json", {"macro": {"title": "Approve"}})
    assert renamed.json()["macro"]["title"] == "Approve" and renamed.json()["macro"]["actions"] == wanted["actions"]
    assert macro_call(sim, "GET", "/api/v2/macros/1.json").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"actions": [{"field": "current_tags", "value": "x"}]}, "title"),
        ({"title": "No actions", "actions": []}, "actions"),
        ({"title": "Close", "actions": [{"field": "status", "value": "closed"}]}, "actions"),  # not in a macro
    ],
)
def test_a_macro_zendesk_refuses_is_a_422(sim: ZendeskSimulator, body: dict[str, Any], field: str) -> None:
    refused = macro_call(sim, "POST", "/api/v2/macros.json", {"macro": body})
    assert refused.status_code == 422
    assert refused.json()["error"] == "RecordInvalid" and field in refused.json()["details"]


def test_agents_are_resolved_by_email_and_an_unknown_one_is_refused(sim: ZendeskSimulator) -> None:
    helpdesk = ZendeskHelpdesk(url=sim.url, email=sim.email, api_token="sim-api-token")
    known = Approvers(ApprovalSettings(agents=("alex.agent@socialdesk.test", "12")))
    assert known.agent_ids(helpdesk) == frozenset({str(sim.agent_id), "12"})
    with pytest.raises(ConfigError, match=r"^approvals.agents: no agent 'ghost@socialdesk.test' in zendesk$"):
        Approvers(ApprovalSettings(agents=("ghost@socialdesk.test",))).prepare(helpdesk)


def test_approvers_are_resolved_like_agents(sim: ZendeskSimulator) -> None:
    helpdesk = ZendeskHelpdesk(url=sim.url, email=sim.email, api_token="sim-api-token")
    known = Approvers(ApprovalSettings(approvers=("Alex Agent", "12")))
    assert known.approver_ids(helpdesk) == frozenset({str(sim.agent_id), "12"}) and known.agent_ids(helpdesk) == set()
    with pytest.raises(ConfigError, match=r"^approvals.approvers: no agent 'Ghost' in zendesk$"):
        Approvers(ApprovalSettings(approvers=("Ghost",))).prepare(helpdesk)


def test_every_unknown_agent_and_approver_is_named_in_one_run(sim: ZendeskSimulator) -> None:
    """It stopped at the first unknown user, so an operator with three misspelt ones ran doctor three times. Now
    every one, in both lists, one line a key (a name two agents carry keeps its own line); the known still resolve
    once fixed."""
    sim.add_agent("Alex Agent", "alex.other@socialdesk.test")  # "Alex Agent" is two agents' name now
    helpdesk = ZendeskHelpdesk(url=sim.url, email=sim.email, api_token="sim-api-token")
    agents = ("ghost@socialdesk.test", "alex.agent@socialdesk.test", "Ghoul", "12")
    with pytest.raises(ConfigError) as e:
        Approvers(ApprovalSettings(agents=agents, approvers=("Alex Agent", "Wraith"))).prepare(helpdesk)
    assert e.value.message.splitlines() == [
        "approvals.agents: no agents 'ghost@socialdesk.test', 'Ghoul' in zendesk",
        "approvals.approvers: 'Alex Agent' is the name of several agents in zendesk: give the email (or the id) of "
        "the one meant",
        "approvals.approvers: no agent 'Wraith' in zendesk",
    ]
    sim.add_agent("Ghoul", "ghoul@socialdesk.test")
    fixed = Approvers(ApprovalSettings(agents=agents[1:], approvers=("alex.other@socialdesk.test",)))
    assert fixed.prepare(helpdesk) == "3 agent(s) whose replies need approval, 1 approver(s)"


def test_the_worker_refuses_every_unknown_agent_in_one_line_and_exits_for_its_config(tmp_path: Path) -> None:
    """The worker's start says every unknown user in its one line (systemd's journal: one entry), with the exit
    status a service manager does not restart on; doctor says each on a line of its own."""
    with Stack(tmp_path, start_worker=False) as stack:
        approvals = {"agents": ["Ghost", "Ghoul"], "approvers": ["Wraith"]}
        (tmp_path / "socialdesk.toml").write_text(to_toml({**stack.raw_config(), "approvals": approvals}))
        worker = socialdesk("worker", "--config", str(tmp_path / "socialdesk.toml"), timeout=60)
        doctor = CliRunner().invoke(cli.main, ["doctor", "--config", str(tmp_path / "socialdesk.toml")])
    said = ["approvals.agents: no agents 'Ghost', 'Ghoul' in zendesk",
            "approvals.approvers: no agent 'Wraith' in zendesk"]  # fmt: skip
    assert one_line_failure(worker, cli.EX_CONFIG) == f"Error: {'; '.join(said)}"
    assert doctor.exit_code == 1 and [f"✗ approvals: {line}" for line in said] == [
        line for line in doctor.stdout.splitlines() if line.startswith("✗ approvals")
    ]


def test_a_name_two_agents_share_is_refused_and_their_emails_resolve(sim: ZendeskSimulator) -> None:
    """Two agents called "Alex Agent": the name resolved to whichever Zendesk listed last, so the real approver's
    tag was refused ("not one of the approvers") or another Alex could approve."""
    other = sim.add_agent("alex agent", "alex.other@socialdesk.test")  # names are compared case aside
    helpdesk = ZendeskHelpdesk(url=sim.url, email=sim.email, api_token="sim-api-token")
    with pytest.raises(ConfigError) as e:
        Approvers(ApprovalSettings(approvers=("Alex Agent",))).prepare(helpdesk)
    assert e.value.message == (
        "approvals.approvers: 'Alex Agent' is the name of several agents in zendesk: give the email (or the id) "
        "of the one meant"
    )
    both = Approvers(ApprovalSettings(approvers=("alex.agent@socialdesk.test", "alex.other@socialdesk.test")))
    assert both.approver_ids(helpdesk) == frozenset({str(sim.agent_id), str(other)})


def test_approvers_on_a_helpdesk_that_cannot_say_who_added_a_tag_are_refused(tmp_path: Path) -> None:
    helpdesk = FreshdeskHelpdesk(url="http://127.0.0.1:9", api_key="sim-api-key")  # refused before any call
    with pytest.raises(ConfigError, match=r"^approvals.approvers: freshdesk cannot say who added a tag; leave it out"):
        Approvers(ApprovalSettings(approvers=("12",))).prepare(helpdesk)
    assert Approvers(ApprovalSettings(agents=("12",))).prepare(helpdesk).startswith("1 agent(s)")
    # named approvers are looked up first: the helpdesk down then (a warning at the worker's start) hid the refusal
    with pytest.raises(ConfigError, match=r"^approvals.approvers: freshdesk cannot say who added a tag; leave it out"):
        Approvers(ApprovalSettings(approvers=("Pat Approver",))).prepare(helpdesk)
    with Stack(tmp_path, helpdesk="freshdesk", start_worker=False) as stack:  # doctor: one line naming the key
        (tmp_path / "socialdesk.toml").write_text(to_toml({**stack.raw_config(), "approvals": {"approvers": ["12"]}}))
        run = CliRunner().invoke(cli.main, ["doctor", "--config", str(tmp_path / "socialdesk.toml")])
    assert run.exit_code == 1 and "✗ approvals: approvals.approvers: freshdesk cannot say who" in run.stdout


def test_the_audits_say_who_added_a_tag_by_hand_or_with_a_macro(sim: ZendeskSimulator) -> None:
    helpdesk = ZendeskHelpdesk(url=sim.url, email=sim.email, api_token="sim-api-token")
    ticket = macro_call(sim, "POST", "/api/v2/tickets.json", {"ticket": {"comment": {"body": "hi"}}}).json()["ticket"]
    macro = macro_call(sim, "POST", "/api/v2/macros.json", {"macro": {"title": "Approve", "actions": [
        {"field": "current_tags", "value": "socialdesk_approve"}]}}).json()["macro"]  # fmt: skip
    sam = sim.add_agent("Sam Supervisor", "sam@socialdesk.test")
    assert helpdesk.tag_author(str(ticket["id"]), "socialdesk_approve") is None
    sim.add_tags(ticket["id"], "socialdesk_approve")
    assert helpdesk.tag_author(str(ticket["id"]), "socialdesk_approve") == str(sim.agent_id)
    helpdesk.remove_tags(str(ticket["id"]), ["socialdesk_approve"])
    sim.apply_macro(ticket["id"], macro["id"], author_id=sam)  # the last one to add it
    assert helpdesk.tag_author(str(ticket["id"]), "socialdesk_approve") == str(sam)
    audits = macro_call(sim, "GET", f"/api/v2/tickets/{ticket['id']}/audits.json", None).json()
    last = audits["audits"][-1]
    assert last["author_id"] == sam and audits["count"] == len(audits["audits"]) == 4  # create, tag, untag, macro
    change, reference = last["events"]
    assert change == {"id": change["id"], "type": "Change", "field_name": "tags", "value": ["socialdesk_approve"],
                      "previous_value": []}  # fmt: skip
    assert reference["type"] == "AgentMacroReference" and reference["macro_id"] == macro["id"]


def test_rules_explain_takes_the_post_a_comment_is_under(tmp_path: Path) -> None:
    rules = [{"name": "crisis", "when": {"post": "111_222", "public": True}, "then": {"approval": True}}]
    path = tmp_path / "socialdesk.toml"
    path.write_text(to_toml({**raw_config(), "rules": rules}), encoding="utf-8")
    explain = ["rules", "explain", "--config", str(path), "--channel", "acme-facebook"]
    under = CliRunner().invoke(cli.main, [*explain, "--post", "111_222", "Is it fixed?"])  # in-process: fast
    assert under.exit_code == 0, under.output
    assert under.output.splitlines()[1:] == [
        "✓ crisis: rule crisis: post 111_222, in public",
        "decision: tags rule_crisis, replies need approval (rule crisis)",
    ]
    elsewhere = CliRunner().invoke(cli.main, [*explain, "Is it fixed?"])
    assert "✗ crisis: no match: post is none (not a comment under a post), not 111_222" in elsewhere.output


@pytest.mark.parametrize(
    ("tag", "by", "approvers", "expected"),
    [
        ("socialdesk_approve", "5", (), ["release"]),  # another agent approves
        ("socialdesk_approve", "1", (), ["wait"]),  # the reply's own author: refused
        ("socialdesk_reject", "1", (), ["reject"]),  # an author may withdraw their own reply
        ("socialdesk_approve", "5", ("6",), ["wait"]),  # not an approver
        ("socialdesk_reject", "5", ("6",), ["wait"]),
        ("socialdesk_approve", "6", ("6",), ["release"]),
        ("socialdesk_approve", None, (), ["wait"]),  # the history does not say who: never guessed
    ],
)
def test_who_answers(tag: str, by: str | None, approvers: tuple[str, ...], expected: list[str]) -> None:
    facts = Facts({"1": "held"}, frozenset({tag}), "rule legal", audited=True, answered_by=by,
                  approvers=frozenset(approvers))  # fmt: skip
    decided = plan([reply("1")], facts, SETTINGS)
    assert [str(p.step) for p in decided.steps] == expected
    assert decided.clear_tags == (tag,)  # taken off either way
    assert bool(decided.refused) == (expected == ["wait"])


def test_a_helpdesk_without_tag_history_takes_the_tag_as_the_answer() -> None:
    facts = Facts({"1": "held"}, frozenset({"socialdesk_approve"}), "rule legal", answered_by=None)
    assert [str(p.step) for p in plan([reply("1")], facts, SETTINGS).steps] == ["release"]


@pytest.mark.parametrize("tag", ["socialdesk_approve", "socialdesk_reject"])
def test_a_tag_still_on_the_ticket_after_its_answer_answers_only_replies_held_before_it(tag: str) -> None:
    held = {"1": "held", "2": "held"}
    facts = Facts(held, frozenset({tag}), "rule legal", held_at={"1": 90.0, "2": 110.0}, answered_at=100.0)
    answered = "release" if tag == "socialdesk_approve" else "reject"
    assert [str(p.step) for p in plan([reply("1"), reply("2")], facts, SETTINGS).steps] == [answered, "wait"]
    fresh = Facts(held, frozenset({tag}), "rule legal", held_at={"1": 90.0, "2": 110.0})  # the tag came off since
    assert [str(p.step) for p in plan([reply("1"), reply("2")], fresh, SETTINGS).steps] == [answered, answered]
