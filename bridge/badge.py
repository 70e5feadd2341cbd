"""Facebook's "very responsive to messages" badge, estimated per page from the store.

Facebook's rule: a message counts when it is the first a person sends the page after neither side wrote for
at least 24 hours; over the last 7 days the page needs a response rate of 90 % and a median response time
of 15 minutes. Facebook counts every reply the page sends, by people or through the API (a bot, socialdesk's
acknowledgements); socialdesk's own figures count people only. Both are given, with that warning
(:data:`bridge.figmodel.FB_WARNING`). Messenger messages only: comments are not in Facebook's figure.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence

from bridge.events import AuthorKind
from bridge.figbuild import delivered
from bridge.figmodel import Badge, MessageFact, ReplyFact
from bridge.figquery import load
from bridge.store import Store

PLATFORM, KIND = "facebook", "message"
WINDOW, SILENCE = 7 * 86400.0, 24 * 3600.0
RATE, MEDIAN = 0.9, 15 * 60.0  # the badge's thresholds


def estimate(channel: str, messages: Iterable[MessageFact], replies: Iterable[ReplyFact], now: float) -> Badge:
    """The badge's figures for one page: ``messages`` and ``replies`` of its threads since 8 days before ``now``."""
    sent = [r for r in replies if delivered(r)]  # the figures' rule: a receipt "failed" undoes a send
    by_thread: dict[str, list[MessageFact]] = defaultdict(list)
    for m in messages:
        if m.platform == PLATFORM and m.kind == KIND and m.platform_ts < now:
            by_thread[m.thread_key].append(m)
    answers: dict[str, list[ReplyFact]] = defaultdict(list)
    for r in sent:
        answers[r.thread_key].append(r)
    counted = [ts for key, rows in by_thread.items() for ts in _counted(rows, answers[key], now)]
    people = _waits(counted, answers, now, people_only=True)
    everyone = _waits(counted, answers, now, people_only=False)
    rate, median = _rate(people, len(counted)), _median(people)
    return Badge(
        channel=channel, counted=len(counted), response_rate=rate, median_response=median,
        response_rate_with_automated=_rate(everyone, len(counted)), median_response_with_automated=_median(everyone),
        very_responsive=rate is not None and median is not None and rate >= RATE and median <= MEDIAN,
    )  # fmt: skip


def _counted(rows: Sequence[MessageFact], replies: Sequence[ReplyFact], now: float) -> list[tuple[str, float]]:
    """The thread's messages of the last 7 days that came after 24 hours without a message either way."""
    times = sorted([m.platform_ts for m in rows] + [r.delivered_at for r in replies if r.delivered_at is not None])
    found = []
    for m in sorted(rows, key=lambda m: m.platform_ts):
        before = [t for t in times if m.platform_ts - SILENCE < t < m.platform_ts]
        if m.platform_ts >= now - WINDOW and not before:
            found.append((m.thread_key, m.platform_ts))
    return found


def _waits(
    counted: Sequence[tuple[str, float]], answers: dict[str, list[ReplyFact]], now: float, *, people_only: bool
) -> list[float]:
    """Each counted message's wait for the page's first reply delivered after it (none yet: not responded)."""
    waits = []
    for key, at in counted:
        delivered = [
            r.delivered_at for r in answers[key]
            if r.delivered_at is not None and at <= r.delivered_at < now
            and (r.author_kind == AuthorKind.HUMAN or not people_only)
        ]  # fmt: skip
        if delivered:
            waits.append(min(delivered) - at)
    return waits


def _rate(waits: Sequence[float], counted: int) -> float | None:
    return len(waits) / counted if counted else None


def _median(waits: Sequence[float]) -> float | None:
    return statistics.median(waits) if waits else None


def badges(store: Store, channels: Iterable[tuple[str, str]], now: float) -> list[Badge]:
    """The estimate for each Facebook page among ``channels`` (name, platform), from the last 8 days' rows."""
    pages = sorted(name for name, platform in channels if platform == PLATFORM)
    if not pages:
        return []
    messages, replies, _ = load(store, now - WINDOW - SILENCE, now, channels=pages)
    return [estimate(page, [m for m in messages if m.channel == page], replies, now) for page in pages]
