"""Conversation episodes and their first-response times, computed from rows loaded once from the store.

An *episode* of a social thread starts with the customer's first message after a quiet period
(:data:`DEFAULT_QUIET_HOURS`, ``[metrics] episode_quiet_hours``) or after the agents solved the thread's
ticket. The worker decides it when the message reaches the helpdesk and records it on the inbox row
(``opens_episode``, :func:`opens_episode`); the automatic acknowledgement (:mod:`bridge.acks`) goes by the
same rule and the same setting, once per episode. The bridge learns that the ticket was solved from the
very call that writes the message: a closed ticket refuses it (``TicketClosed``, a follow-up ticket is
opened), a solved (Zendesk) or resolved (Freshdesk) one is reopened by it (``TicketRef.reopened``).

The first-response time of an episode is the delivery time of its first reply written by a person and
delivered to the platform, minus the platform's own timestamp of the episode's first customer message: the
customer's clock, not the bridge's or the helpdesk's. A reply that failed (or whose outcome is unknown) is no
response; nor is an automatic one (:class:`bridge.events.AuthorKind` other than ``human``). A reply belongs to
the latest episode of its thread that started before the agent wrote it (compared in whole seconds, as a
helpdesk stamps comments).

Here: the episode rule and the buckets, pure. The figures themselves: :mod:`bridge.figbuild` (from rows),
:mod:`bridge.figquery` (from the store), typed in :mod:`bridge.figmodel`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from bridge.events import TicketRef

DEFAULT_QUIET_HOURS = 24.0  # Facebook's rule for its responsiveness badge: the first message after 24 h
#: Upper bounds (seconds) of the response-time buckets, with their names; above the last: "more".
BUCKETS: tuple[tuple[float, str], ...] = ((15 * 60, "<=15m"), (3600, "<=1h"), (4 * 3600, "<=4h"), (86400, "<=24h"))
MORE = "more"
DELIVERED = "sent"  # the delivery status of a reply that reached the platform


def opens_episode(last_message_at: float | None, at: float, *, quiet: float, ticket_replaced: bool) -> bool:
    """Whether a customer message at ``at`` (platform time) starts an episode: the thread's first, the first
    after ``quiet`` seconds without a customer message, or one that found the ticket solved
    (:func:`ticket_restarted`)."""
    return last_message_at is None or ticket_replaced or at - last_message_at > quiet


def ticket_restarted(thread_ticket: str | None, ticket: TicketRef) -> bool:
    """Whether the customer's message found the thread's ticket solved: closed (``ticket`` is the follow-up
    that replaced it) or reopened by the message. Either way, the conversation starts again."""
    return thread_ticket is not None and (ticket.id != thread_ticket or ticket.reopened)


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The nearest-rank percentile of sorted values (a value that occurred, never an interpolation)."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def bucket(seconds: float) -> str:
    """The name of the bucket a response time falls in."""
    return next((name for bound, name in BUCKETS if seconds <= bound), MORE)


def buckets(times: Iterable[float]) -> dict[str, int]:
    """How many response times fall in each bucket (every bucket named, empty ones 0)."""
    counts = dict.fromkeys([name for _, name in BUCKETS] + [MORE], 0)
    for t in times:
        counts[bucket(t)] += 1
    return counts
