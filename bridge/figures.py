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
the latest episode of its thread that started before the agent wrote it.

Everything here is pure: :func:`episodes` and :func:`figures` take plain rows and return plain values.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bridge.events import AuthorKind, TicketRef

DEFAULT_QUIET_HOURS = 24.0  # Facebook's rule for its responsiveness badge: the first message after 24 h
#: Upper bounds (seconds) of the response-time buckets, with their names; above the last: "more".
BUCKETS: tuple[tuple[float, str], ...] = ((15 * 60, "<=15m"), (3600, "<=1h"), (4 * 3600, "<=4h"), (86400, "<=24h"))
MORE = "more"
DELIVERED = "sent"  # the delivery status of a reply that reached the platform


@dataclass(frozen=True)
class MessageRow:
    """A customer message written to the helpdesk (an ``inbox`` row with its thread's channel)."""

    thread_key: str
    channel: str
    platform: str
    platform_ts: float
    opens_episode: bool


@dataclass(frozen=True)
class ReplyRow:
    """A reply (a ``deliveries`` row): when its comment was made in the helpdesk, when it reached the platform."""

    thread_key: str
    comment_created_at: float
    delivered_at: float | None
    status: str
    author_kind: AuthorKind


@dataclass(frozen=True)
class Episode:
    """One episode of a thread: its first customer message (platform time) and its first human response."""

    thread_key: str
    channel: str
    platform: str
    started_at: float
    messages: int
    first_response_at: float | None = None

    @property
    def first_response_seconds(self) -> float | None:
        return None if self.first_response_at is None else max(0.0, self.first_response_at - self.started_at)


@dataclass(frozen=True)
class ChannelFigures:
    """First-response figures of one channel's episodes. ``median`` and ``p90`` are over answered episodes."""

    channel: str
    episodes: int
    answered: int
    median: float | None
    p90: float | None
    buckets: dict[str, int] = field(default_factory=dict)


def opens_episode(last_message_at: float | None, at: float, *, quiet: float, ticket_replaced: bool) -> bool:
    """Whether a customer message at ``at`` (platform time) starts an episode: the thread's first, the first
    after ``quiet`` seconds without a customer message, or one that found the ticket solved
    (:func:`ticket_restarted`)."""
    return last_message_at is None or ticket_replaced or at - last_message_at > quiet


def ticket_restarted(thread_ticket: str | None, ticket: TicketRef) -> bool:
    """Whether the customer's message found the thread's ticket solved: closed (``ticket`` is the follow-up
    that replaced it) or reopened by the message. Either way, the conversation starts again."""
    return thread_ticket is not None and (ticket.id != thread_ticket or ticket.reopened)


def episodes(messages: Iterable[MessageRow], replies: Iterable[ReplyRow]) -> list[Episode]:
    """The episodes of every thread in ``messages``, each with its first human response from ``replies``."""
    by_thread: dict[str, list[MessageRow]] = defaultdict(list)
    for m in messages:
        by_thread[m.thread_key].append(m)
    responses: dict[str, list[ReplyRow]] = defaultdict(list)
    for r in replies:
        if r.author_kind == AuthorKind.HUMAN and r.status == DELIVERED and r.delivered_at is not None:
            responses[r.thread_key].append(r)
    found: list[Episode] = []
    for key, rows in by_thread.items():
        found += _answer(_split(sorted(rows, key=lambda m: m.platform_ts)), responses.get(key, []))
    return sorted(found, key=lambda e: (e.started_at, e.thread_key))


def _split(rows: Sequence[MessageRow]) -> list[Episode]:
    """A thread's messages (in platform order) cut into episodes; the first message always opens one."""
    starts = [i for i, m in enumerate(rows) if i == 0 or m.opens_episode]
    ends = [*starts[1:], len(rows)]
    return [Episode(rows[s].thread_key, rows[s].channel, rows[s].platform, rows[s].platform_ts, e - s)
            for s, e in zip(starts, ends, strict=True)]  # fmt: skip


def _answer(found: list[Episode], responses: Sequence[ReplyRow]) -> list[Episode]:
    """Each episode with the earliest delivery of the responses written during it."""
    first: dict[int, float] = {}
    for r in responses:
        i = _episode_of(found, r.comment_created_at)
        if i is not None and r.delivered_at is not None:
            first[i] = min(first.get(i, math.inf), r.delivered_at)
    return [Episode(**{**e.__dict__, "first_response_at": first.get(i)}) for i, e in enumerate(found)]


def _episode_of(found: Sequence[Episode], written_at: float) -> int | None:
    """The index of the latest episode started at or before ``written_at`` (None: written before any)."""
    index = None
    for i, e in enumerate(found):
        if e.started_at <= written_at:
            index = i
    return index


def figures(found: Iterable[Episode]) -> dict[str, ChannelFigures]:
    """Per channel: episodes, answered, median and p90 first response (seconds), and the buckets."""
    by_channel: dict[str, list[Episode]] = defaultdict(list)
    for e in found:
        by_channel[e.channel].append(e)
    return {channel: _channel_figures(channel, eps) for channel, eps in sorted(by_channel.items())}


def _channel_figures(channel: str, eps: Sequence[Episode]) -> ChannelFigures:
    times = sorted(t for e in eps if (t := e.first_response_seconds) is not None)
    return ChannelFigures(
        channel=channel,
        episodes=len(eps),
        answered=len(times),
        median=statistics.median(times) if times else None,
        p90=percentile(times, 0.9),
        buckets=buckets(times),
    )


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
