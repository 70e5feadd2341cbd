"""#17: a ticket an agent solves without a public reply still gives its episode a resolution time, the
helpdesk's own (the solve's ``updated_at``, read with the replies: no extra call), through a real bridge on
both helpdesks; and ``setup`` makes the helpdesk call the bridge on that change."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge import outbound
from bridge.figquery import compute
from bridge.registry import build_helpdesk
from connectors.zendesk import ZendeskHelpdesk
from connectors.zendesk_setup import TRIGGER_TITLE, setup, trigger_conditions
from sandbox.stack import HELPDESKS, Stack
from tests.support import step_runtime, tickets
from tests.test_figure_facts import today
from tests.test_service_figures import customer_says, inbox


@pytest.fixture(params=HELPDESKS)
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    with Stack(tmp_path, helpdesk=str(request.param), start_worker=False) as running:
        yield running


def test_a_ticket_solved_without_a_reply_has_the_helpdesks_resolution_time(stack: Stack) -> None:
    rt = step_runtime(stack)
    asked = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    customer_says(stack, rt, "Where is my order?", asked)
    ticket_id = tickets(stack)[-1]["id"]
    solved = asked + timedelta(hours=2)  # the agent solved it an hour before the bridge heard (a retried call)
    stack.helpdesk.set_status(ticket_id, "solved", at=solved)
    # the call the status trigger (Zendesk) or rule (Freshdesk) makes: the ticket id, no new comment
    assert stack.helpdesk.fire_webhook(ticket_id, style="trigger").status_code < 300
    outbound.sync_ticket(rt, stack.helpdesk_name, str(ticket_id), "worker-1")

    [first] = inbox(stack)
    assert first["solved_at"] == solved.timestamp()  # the helpdesk's time, not the worker's
    figures = compute(stack.store, today()).total
    assert figures.resolution.count == 1 and figures.resolution.median == 2 * 3600
    assert figures.first_response.count == 0  # solved, never answered


def test_the_zendesk_trigger_fires_on_a_public_comment_or_a_change_to_solved() -> None:
    # Zendesk's conditions reference: "Changed to" is the operator ``value`` ("Changed from": ``value_previous``)
    conditions = trigger_conditions()
    assert {"field": "status", "operator": "value", "value": "solved"} in conditions["any"]
    assert {"field": "comment_is_public", "operator": "is", "value": "true"} in conditions["any"]
    assert all(c["field"] not in ("status", "comment_is_public") for c in conditions["all"])


def test_doctor_flags_a_trigger_set_up_before_it_fired_on_solved(tmp_path: Path) -> None:
    with Stack(tmp_path, helpdesk="zendesk", start_worker=False) as stack:
        helpdesk = build_helpdesk(stack.config)
        assert isinstance(helpdesk, ZendeskHelpdesk)
        setup(helpdesk, "https://bridge.acme.example/webhooks/zendesk")
        [trigger] = [t for t in stack.zendesk.triggers if t["title"] == TRIGGER_TITLE]
        old = {"all": [*trigger_conditions()["all"], *trigger_conditions()["any"][:1]], "any": []}
        # Zendesk clears the actions of an update that sends the conditions alone: both go, as an old setup left them
        again = {"conditions": old, "actions": trigger["actions"]}
        helpdesk.api("PUT", f"/api/v2/triggers/{trigger['id']}.json", {"trigger": again})
        report = setup(helpdesk, "https://bridge.acme.example/webhooks/zendesk", dry_run=True)
        assert f"would update trigger {TRIGGER_TITLE!r} (public comment or solved, tag socialdesk, not via API)" in (
            report.actions
        )
