"""List All Tickets (``GET /api/v2/tickets``): its filters, sort and embeds, as Freshdesk's API reference documents
them (developers.freshdesk.com/api/#list_all_tickets).

The reference's filters: ``filter`` (one of ``new_and_my_open``, ``watching``, ``spam``, ``deleted``), the
requester (``requester_id``, ``email`` or ``unique_external_id``), ``company_id`` and ``updated_since``
("2015-01-19T02:00:00Z"); "By default, only tickets that have not been deleted or marked as spam will be returned,
unless you use the 'deleted' filter", and "only tickets that have been created within the past 30 days ... For
older tickets, use the updated_since filter". The sort: ``order_by`` (``created_at``, ``due_by``, ``updated_at``,
``status``; default ``created_at``) and ``order_type`` (``asc``, ``desc``; default ``desc``). The embeds:
``include`` (``requester``, ``stats``, ``description``; "For accounts created after 2018-11-30, you will have to use
include to get description").

The reference shows each filter on its own, a requester with a sort (``requester_id=1230&order_by=status&
order_type=desc``), and clients send a requester with ``updated_since``. How Freshdesk answers other combinations
(``filter=spam`` with ``company_id``, two requester filters) is not documented: the simulator refuses them with a 400
rather than guess, so that a client relying on one fails here first. ``include=stats`` is refused too: the simulator
keeps no resolution times. Error wording is best effort.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.freshdesk.wire import ApiError, error, invalid

PREDEFINED = ("new_and_my_open", "watching", "spam", "deleted")
REQUESTER_FILTERS = ("requester_id", "email", "unique_external_id")
FILTERS = ("filter", *REQUESTER_FILTERS, "company_id", "updated_since")
ARGS = (*FILTERS, "order_by", "order_type", "include")
ORDER_BY = ("created_at", "due_by", "updated_at", "status")
ORDER_TYPES = ("asc", "desc")
INCLUDES = ("requester", "stats", "description")
DEFAULT_WINDOW = timedelta(days=30)  # without updated_since, the tickets created within the past 30 days
REQUESTER_KEYS = ("email", "id", "mobile", "name", "phone")  # include=requester: "email, id, mobile, name and phone"

Ticket = dict[str, Any]
Contacts = Mapping[int, Mapping[str, Any]]


def check_combination(args: Mapping[str, str]) -> None:
    """One filter, or one requester filter with ``updated_since`` (see the module docstring); else a 400."""
    given = [name for name in FILTERS if name in args]
    requester = [name for name in given if name in REQUESTER_FILTERS]
    known = len(given) <= 1 or (len(requester) == 1 and set(given) == {requester[0], "updated_since"})
    if not known:
        message = f"The simulator does not know how Freshdesk combines {', '.join(given)} (not documented)"
        raise invalid([error(given[-1], message, "invalid_value")])


def selector(args: Mapping[str, str], contacts: Contacts, agent_id: int) -> Callable[[Ticket], bool]:
    """Whether a ticket (deleted and spam ones included) is listed for these query arguments."""
    tests = [_predefined(args.get("filter"), agent_id), _since(args.get("updated_since"))]
    tests += [_requester(name, args[name], contacts) for name in REQUESTER_FILTERS if name in args]
    if "company_id" in args:
        company = _positive("company_id", args["company_id"])
        tests.append(lambda t: t.get("company_id") == company)
    return lambda ticket: all(test(ticket) for test in tests)


def order(args: Mapping[str, str]) -> tuple[str, bool]:
    """``(key, descending)`` from ``order_by`` and ``order_type``."""
    key, kind = args.get("order_by", "created_at"), args.get("order_type", "desc")
    if key not in ORDER_BY:
        raise _not_one_of("order_by", ORDER_BY)
    if kind not in ORDER_TYPES:
        raise _not_one_of("order_type", ORDER_TYPES)
    return key, kind == "desc"


def includes(args: Mapping[str, str]) -> set[str]:
    """The embeds asked for (``include=requester,description``)."""
    if "include" not in args:
        return set()
    wanted = {name.strip() for name in args["include"].split(",") if name.strip()}
    if not wanted or not wanted <= set(INCLUDES):
        raise _not_one_of("include", INCLUDES)
    if "stats" in wanted:
        message = "include=stats is not simulated (no resolution times are kept)"
        raise invalid([error("include", message, "invalid_value")])
    return wanted


def embedded(rendered: Ticket, ticket: Ticket, wanted: set[str], contacts: Contacts) -> Ticket:
    """A list item with its embeds: ``description`` and ``description_text``; ``requester`` (a few contact keys)."""
    if "description" in wanted:
        rendered = {**rendered, "description": ticket["description"], "description_text": ticket["description_text"]}
    if "requester" in wanted:
        contact = contacts.get(ticket["requester_id"]) or {}
        rendered = {**rendered, "requester": {k: contact.get(k) for k in REQUESTER_KEYS}}
    return rendered


def _predefined(name: str | None, agent_id: int) -> Callable[[Ticket], bool]:
    """``filter``: deleted or spam tickets on their own; without it, neither. ``watching``: none (the simulator has no
    watchers); ``new_and_my_open``: open, unassigned or assigned to the API key's agent."""
    if name is not None and name not in PREDEFINED:
        raise _not_one_of("filter", PREDEFINED)
    if name in ("deleted", "spam"):
        return lambda t: bool(t[name])
    if name == "watching":
        return lambda t: False
    if name == "new_and_my_open":
        return lambda t: _live(t) and t["status"] == 2 and t.get("responder_id") in (None, agent_id)
    return _live


def _live(ticket: Ticket) -> bool:
    return not ticket["deleted"] and not ticket["spam"]


def _since(value: str | None) -> Callable[[Ticket], bool]:
    """``updated_since``, or the default window of tickets created within the past 30 days."""
    if value is None:
        start = (datetime.now(UTC) - DEFAULT_WINDOW).strftime("%Y-%m-%dT%H:%M:%SZ")
        return lambda t: str(t["created_at"]) >= start
    if not (len(value) == 20 and value.endswith("Z") and value[10] == "T"):
        message = "It should be in the 'combined date and time ISO8601' format"
        raise invalid([error("updated_since", message, "invalid_value")])
    return lambda t: str(t["updated_at"]) >= value


def _requester(name: str, value: str, contacts: Contacts) -> Callable[[Ticket], bool]:
    """The tickets of the contact with this id, email or unique external id (none when there is no such contact)."""
    if name == "requester_id":
        wanted = _positive(name, value)
        return lambda t: t["requester_id"] == wanted
    ids = {i for i, c in contacts.items() if str(c.get(name) or "").lower() == value.lower() and value}
    return lambda t: t["requester_id"] in ids


def _positive(name: str, value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise invalid([error(name, "It should be a/an Positive Integer", "datatype_mismatch")])
    return int(value)


def _not_one_of(name: str, allowed: tuple[str, ...]) -> ApiError:
    return invalid([error(name, f"It should be one of these values: '{','.join(allowed)}'", "invalid_value")])
