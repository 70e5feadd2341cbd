"""``socialdesk rules check`` / ``rules explain``, and bad rules stopping worker and doctor: each in its own
process, as an operator runs them, against the simulators."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.cli import EX_CONFIG
from sandbox.stack import HELPDESKS, Stack, to_toml
from tests.support import closed_port, socialdesk
from tests.test_cli import one_line_failure

RULES: list[dict[str, Any]] = [
    {"name": "spam", "when": {"keywords": ["free followers"]}, "then": {"ignore": True}},
    {
        "name": "vip-negative",
        "when": {"vip": True, "sentiment": "negative"},
        "then": {"escalate": "Escalations"},
        "stop": True,
    },
    {"name": "billing", "when": {"keywords": ["refund"]}, "then": {"group": "Billing", "assignee": "Alex Agent"}},
]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with Stack(tmp_path, start_worker=False, rules=RULES) as running:
        yield running


def config_with(stack: Stack, path: Path, rules: list[dict[str, Any]]) -> str:
    stack.rules = rules
    return str(stack.write_config(path))


def test_check_looks_the_names_up_in_the_helpdesk(stack: Stack, tmp_path: Path) -> None:
    config = config_with(stack, tmp_path / "s.toml", RULES)
    missing = socialdesk("rules", "check", "--config", config)
    doctor = socialdesk("doctor", "--config", config)
    unknown = ["rules[vip-negative].then.group: no group 'Escalations' in zendesk",
               "rules[billing].then.group: no group 'Billing' in zendesk"]  # fmt: skip
    assert missing.returncode == EX_CONFIG  # every unknown name in one run, one line each (it said only the first)
    assert missing.stderr.strip().splitlines() == [f"Error: {unknown[0]}", unknown[1]]
    assert doctor.returncode == 1 and [f"✗ rules: {line}" for line in unknown] == [
        line for line in doctor.stdout.splitlines() if line.startswith("✗ rules")
    ]
    stack.zendesk.add_group("Escalations")
    stack.zendesk.add_group("Billing")
    found = socialdesk("rules", "check", "--config", config)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "3 rule(s); 2 group(s), 1 assignee(s) found in zendesk"


@pytest.mark.parametrize(
    ("rule", "error"),
    [
        ({"name": "a", "when": {"regex": "(refund"}, "then": {"tags": ["x"]}},
         "rules[a].when.regex: invalid regular expression '(refund': missing ), unterminated subpattern at position 0"),
        ({"name": "a", "when": {"sentimnt": "negative"}, "then": {"tags": ["x"]}},
         "rules[a].when.sentimnt: unknown condition (did you mean sentiment?)"),
    ],
)  # fmt: skip
def test_a_bad_rule_stops_every_command_with_one_line(stack: Stack, tmp_path: Path, rule: Any, error: str) -> None:
    config = config_with(stack, tmp_path / "s.toml", [rule])
    for command in (("rules", "check", "--offline"), ("worker",), ("doctor",)):
        result = socialdesk(*command, "--config", config, timeout=60)
        assert result.returncode == EX_CONFIG
        assert result.stderr.strip().splitlines() == [f"Error: configuration: {error}"]


def test_an_unknown_group_stops_the_worker_at_start_and_fails_doctor(stack: Stack, tmp_path: Path) -> None:
    stack.zendesk.add_group("Billing")
    config = config_with(stack, tmp_path / "s.toml", RULES)
    worker = socialdesk("worker", "--config", config, timeout=60)
    assert worker.returncode == EX_CONFIG
    assert worker.stderr.strip().splitlines()[-1] == (
        "Error: rules[vip-negative].then.group: no group 'Escalations' in zendesk"
    )
    doctor = socialdesk("doctor", "--config", config)
    assert "✗ rules: rules[vip-negative].then.group: no group 'Escalations' in zendesk" in doctor.stdout


def test_the_workers_refusal_names_every_unknown_name_in_one_line(stack: Stack, tmp_path: Path) -> None:
    config = config_with(stack, tmp_path / "s.toml", RULES)
    worker = socialdesk("worker", "--config", config, timeout=60)
    lines = worker.stderr.strip().splitlines()
    assert worker.returncode == EX_CONFIG  # systemd's journal: one entry saying "Error:", not a line without it
    assert lines[-1] == ("Error: rules[vip-negative].then.group: no group 'Escalations' in zendesk; "
                         "rules[billing].then.group: no group 'Billing' in zendesk")  # fmt: skip
    assert not any(line.startswith("rules[") for line in lines)


#: a ticket field each simulator lacks, as its API would name one (Zendesk: an id; Freshdesk: a ``cf_`` name)
NO_SUCH_FIELD = {"zendesk": "360099999999", "freshdesk": "cf_reason"}


@pytest.mark.parametrize("helpdesk", HELPDESKS)
def test_a_rules_ticket_field_the_helpdesk_lacks_stops_the_worker_and_fails_check_and_doctor(
    tmp_path: Path, helpdesk: str
) -> None:
    """Zendesk drops the value of a ticket field id it does not know without a word: every ticket the rule routed
    lacked it, while the worker's start, ``rules check`` and doctor said nothing (Freshdesk's were checked: there
    each routed ticket would be a 400, a dead letter). Now each names the rule's key, on both helpdesks."""
    with Stack(tmp_path, helpdesk=helpdesk, start_worker=False) as stack:
        known, missing = stack.helpdesk.add_ticket_field("reason code"), NO_SUCH_FIELD[helpdesk]
        then = {"fields": {known: "refund", missing: "x"}}
        config = config_with(stack, tmp_path / "bad.toml", [{"name": "refunds", "then": then}])
        worker = socialdesk("worker", "--config", config, timeout=60)
        check = socialdesk("rules", "check", "--config", config)
        doctor = socialdesk("doctor", "--config", config)
        said = f"rules[refunds].then.fields.{missing}: no such ticket field in {helpdesk}"
        assert one_line_failure(worker, EX_CONFIG) == f"Error: {said}"
        assert check.returncode == EX_CONFIG and check.stderr.strip().splitlines() == [f"Error: {said}"]
        assert f"✗ rules: {said}" in doctor.stdout.splitlines(), doctor.stdout

        config = config_with(stack, tmp_path / "good.toml", [{"name": "refunds", "then": {"fields": {known: "x"}}}])
        check = socialdesk("rules", "check", "--config", config)
        doctor = socialdesk("doctor", "--config", config)
        assert (check.returncode, check.stdout.strip()) == (0, f"1 rule(s); 1 ticket field(s) found in {helpdesk}")
        assert f"✓ rules: 1 rule(s); 1 ticket field(s) found in {helpdesk}" in doctor.stdout.splitlines(), doctor.stdout


def test_explain_prints_each_verdict_and_the_decision(stack: Stack, tmp_path: Path) -> None:
    config = config_with(stack, tmp_path / "s.toml", RULES)
    text = "Terrible service, I want a refund"
    plain = socialdesk("rules", "explain", "--config", config, "--channel", "acme-facebook", text)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.splitlines()[1:] == [
        "✗ spam: no match: none of the words free followers",
        "✗ vip-negative: no match: vip: not VIP",
        "✓ billing: rule billing: matched words: refund",
        "decision: group Billing, assignee Alex Agent, tags rule_billing",
    ]
    assert plain.stdout.startswith("classifier: en, negative ")
    vip = socialdesk("rules", "explain", "--config", config, "--channel", "acme-facebook", "--vip",
                     "--crm", "account_type=Enterprise", text)  # fmt: skip
    lines = vip.stdout.splitlines()
    assert lines[2].startswith("✓ vip-negative: rule vip-negative: VIP, sentiment negative ")
    assert lines[3] == "· billing: not evaluated: rule vip-negative stopped the evaluation"
    assert lines[4] == "decision: priority urgent, group Escalations, tags escalated, rule_vip-negative"
    unknown = socialdesk("rules", "explain", "--config", config, "--channel", "nope", text)
    assert unknown.returncode == 2  # the names to choose from, as `report --channel` gives them
    assert (
        unknown.stderr.splitlines()[-1]
        == "Error: --channel: 'nope' is not a configured channel (configured: "
        + ", ".join(channel["name"] for channel in stack.raw_config()["channels"])
        + ")"
    )
    typo = socialdesk("rules", "explain", "--config", config, "--channel", "acme-facebook", "--vip",
                      "--crm", "acount_type=Enterprise", text)  # fmt: skip
    assert typo.returncode == 2  # it explained a decision for a field no CRM record has
    assert typo.stderr.strip().splitlines()[-1] == (
        "Error: --crm acount_type: unknown CRM field (did you mean account_type?; another Salesforce field: "
        "field:<path>)"
    )


def test_the_helpdesk_down_at_start_does_not_stop_the_worker(stack: Stack, tmp_path: Path) -> None:
    """Only a name the helpdesk does not have stops it; an outage waits for the first message that needs them."""
    stack.rules = RULES
    raw = stack.raw_config()
    raw["zendesk"]["url"] = f"http://127.0.0.1:{closed_port()}"
    config = tmp_path / "down.toml"
    config.write_text(to_toml(raw), encoding="utf-8")
    log = tmp_path / "worker.log"
    with log.open("w") as err:
        worker = subprocess.Popen([sys.executable, "-m", "bridge.cli", "worker", "--config", str(config)],
                                  stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
    try:
        stack.wait_for(lambda: "names not looked up yet" in log.read_text() or worker.poll() is not None, timeout=60)
        assert worker.poll() is None, log.read_text()  # neither 1 nor EX_CONFIG: it runs, and waits
        assert "zendesk: the API user and ticket fields not checked yet" in log.read_text()
    finally:
        worker.terminate()
        worker.wait(30)


def test_explain_takes_the_author(stack: Stack, tmp_path: Path) -> None:
    config = config_with(stack, tmp_path / "s.toml", [{"name": "staff", "when": {"author": "@Acme_Jane"},
                                                       "then": {"ignore": True}}])  # fmt: skip
    staff = socialdesk(
        "rules", "explain", "--config", config, "--channel", "acme-facebook", "--author", "acme_jane", "hi"
    )
    assert staff.stdout.splitlines()[1:] == ["✓ staff: rule staff: author acme_jane", "decision: ignored (rule staff)"]
    other = socialdesk("rules", "explain", "--config", config, "--channel", "acme-facebook", "hi")
    assert other.stdout.splitlines()[1] == "✗ staff: no match: author is unknown, not acme_jane"
