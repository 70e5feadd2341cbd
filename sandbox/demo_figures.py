"""The demo's last step: the service figures of its own conversations, from the store (bridge.figquery), the
Facebook badge estimate (bridge.badge), and how to have the monthly report (the dashboard: demo_dashboard)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bridge import badge
from bridge.figmodel import Figures, period
from bridge.figquery import calendars_for, compute
from bridge.report import duration, percent
from sandbox.stack import Stack

Echo = Callable[[str], None]
HEAD = ("channel", "messages", "episodes", "answered", "rate", "first response", "business", "auto-acked", "resolved")


def show(stack: Stack, echo: Echo) -> tuple[bool, str]:
    """Print the last 7 days' figures per channel; the check: every conversation the demo answered counts."""
    echo("\n9. Service figures of these conversations (the last 7 days, UTC; from the store)")
    _solve_without_a_reply(stack, echo)
    now = datetime.now(UTC)
    figures = compute(stack.store, period("7d", ZoneInfo("UTC"), now.date()), calendars=calendars_for(
        stack.config, stack.store))  # fmt: skip
    echo(f"   attribution {figures.attribution}; business time: {', '.join(sorted(set(figures.calendars.values())))}")
    for line in _table(figures):
        echo(f"   {line}")
    pages = [(c.name, c.platform) for c in stack.config.channels]
    for estimate in badge.badges(stack.store, pages, now.timestamp()):
        echo(f"   Facebook badge estimate, {estimate.channel}: {percent(estimate.response_rate)} answered, median "
             f"{duration(estimate.median_response)} by people ({percent(estimate.response_rate_with_automated)} "
             "with automatic replies, as Facebook counts them)")  # fmt: skip
    echo("   a month on paper: socialdesk report --month YYYY-MM --out DIR; on screen: the dashboard (step 12)")
    total = figures.total
    answered = total.answered >= 2 and total.first_response.median is not None
    return answered, (f"service figures: {total.episodes} episodes, {total.answered} answered by a person, "
                      f"median first response {duration(total.first_response.median)}")  # fmt: skip


def _table(figures: Figures) -> list[str]:
    rows = [HEAD] + [
        (s.name, str(s.messages), str(s.episodes), str(s.answered), percent(s.response_rate),
         duration(s.first_response.median), duration(s.first_response_business.median), str(s.acknowledged),
         duration(s.resolution.median))
        for s in (*figures.channels.values(), figures.total)
    ]  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEAD))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]


def _solve_without_a_reply(stack: Stack, echo: Echo) -> None:
    """An agent solves the Facebook comment's ticket with no further reply: the helpdesk calls the bridge on the
    change to solved (``setup``'s trigger or rule) and the episode takes the helpdesk's solved time (#17)."""
    ticket = next(t for t in stack.helpdesk.tickets if ":comment:" in str(t.get("external_id")))
    stack.helpdesk.set_status(ticket["id"], "solved")
    stack.helpdesk.fire_webhook(ticket["id"], style="trigger")
    stack.wait_for(lambda: any(r["solved_at"] for r in stack.store.rows("inbox")), timeout=10)
    echo(f"   an agent solves ticket #{ticket['id']} without a reply: its resolution time counts (column resolved)")
