"""The one retry policy. Call sites never loop on their own: they hand a call to :class:`RetryPolicy`.

* Only errors with ``retryable = True`` are retried (see :mod:`bridge.errors`).
* Each wait is at least the error's ``retry_after``, exponential with jitter otherwise, and capped.
* :class:`RateLimited` (a 429 for the whole account) pauses the connector for every worker (the pause
  board is shared: the store, or Redis at scale); a call made while its connector is paused waits, or if
  the pause is long, gives up at once with :class:`RateLimited` so that the caller reschedules the work
  instead of holding a worker. A limit on one thing (a ticket's updates) is a plain retryable error:
  waited for like any other, it pauses nothing.
* Every sleep is logged before it happens.
"""

from __future__ import annotations

import email.utils
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC
from typing import Protocol, TypeVar, cast

import tenacity

from bridge import metrics
from bridge.errors import BridgeError, RateLimited

T = TypeVar("T")
log = logging.getLogger(__name__)

DEFAULT_RATE_LIMIT_PAUSE = 60.0
#: The longest a vendor's answer may make us wait (seconds). A longer or endless ``Retry-After`` (``inf``,
#: ``1e400``, a reset epoch in the far future) pauses the connector an hour: the next call asks again.
MAX_RETRY_AFTER = 3600.0
_DELAY_SECONDS = re.compile(r"\s*(\d+(?:\.\d+)?)\s*")  # RFC 9110 delay-seconds, and decimals as some send


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value, as RFC 9110 allows it (delay-seconds or an HTTP-date),
    capped at :data:`MAX_RETRY_AFTER`; None when absent or unreadable (the caller's default applies)."""
    if not value:
        return None
    seconds = _DELAY_SECONDS.fullmatch(value)
    if seconds:
        return capped_wait(float(seconds.group(1)))
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:  # RFC 9110: an HTTP-date is in GMT even when the zone is "-0000"
        moment = moment.replace(tzinfo=UTC)
    return capped_wait(moment.timestamp() - (time.time() if now is None else now))


def capped_wait(seconds: float | None) -> float | None:
    """A wait a vendor asked for, made safe: NaN is no answer, a past moment is 0, the rest is capped
    (an int of any size compares without being converted, so ``10**400`` cannot overflow)."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return None
    return float(min(MAX_RETRY_AFTER, max(0.0, seconds)))


class PauseBoard(Protocol):
    def pause(self, connector: str, until: float, reason: str) -> None: ...

    def paused_until(self, connector: str) -> float: ...


class RetryPolicy:
    """``policy.call("zendesk", lambda: ...)`` runs the call under the one policy."""

    def __init__(
        self,
        pauses: PauseBoard,
        *,
        attempts: int = 5,
        max_wait: float = 15.0,
        initial_wait: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pauses = pauses
        self.attempts = attempts
        self.max_wait = max_wait
        self.initial_wait = initial_wait
        self.sleep = sleep
        self.clock = clock
        self._known = threading.local()  # per worker thread: the pauses read with the event's thread context

    @contextmanager
    def known_pauses(self, pauses: Mapping[str, float] | None) -> Iterator[None]:
        """Within this block, on this thread, answer "is X paused?" from ``pauses`` (read with everything else
        about an event, :meth:`bridge.store.Store.load_thread_context`) instead of asking the board before
        each call; a pause raised meanwhile, by this thread or from a 429, is added. A pause another worker
        raises during the block is seen from the next event on: at worst one call more meets the 429 itself.
        None: ask the board each time (a board in Redis costs no store transaction)."""
        previous = getattr(self._known, "pauses", None)
        self._known.pauses = dict(pauses) if pauses is not None else None
        try:
            yield
        finally:
            self._known.pauses = previous

    def _paused_until(self, connector: str) -> float:
        known: dict[str, float] | None = getattr(self._known, "pauses", None)
        if known is not None and connector in known:
            return known[connector]
        return self.pauses.paused_until(connector)

    def _pause(self, connector: str, until: float, reason: str) -> None:
        self.pauses.pause(connector, until, reason)
        known: dict[str, float] | None = getattr(self._known, "pauses", None)
        if known is not None:
            known[connector] = max(until, known.get(connector, 0.0))

    def call(self, connector: str, fn: Callable[[], T], *, attempts: int | None = None) -> T:
        """Run ``fn``; ``attempts=1`` where a later retry exists and waiting would hold something back."""
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(self._worth_retrying),
            wait=self._wait,
            stop=tenacity.stop_after_attempt(attempts or self.attempts),
            before_sleep=self._log_before_sleep(connector),
            sleep=self.sleep,
            reraise=True,
        )
        return cast(T, retrying(self._attempt, connector, fn))

    def _attempt(self, connector: str, fn: Callable[[], T]) -> T:
        remaining = self._paused_until(connector) - self.clock()
        if remaining > self.max_wait:
            raise RateLimited(f"{connector} is paused by its rate limit", platform=connector, retry_after=remaining)
        if remaining > 0:
            self.sleep(remaining)
        started = time.perf_counter()
        try:
            result = fn()
        except RateLimited as e:
            metrics.call_made(connector, "rate_limited", time.perf_counter() - started)
            pause = e.retry_after if e.retry_after is not None else DEFAULT_RATE_LIMIT_PAUSE
            self._pause(connector, self.clock() + pause, str(e))
            metrics.PAUSES.labels(connector).inc()
            raise
        except BridgeError as e:
            metrics.call_made(connector, "retryable" if e.retryable else "failed", time.perf_counter() - started)
            raise
        metrics.call_made(connector, "ok", time.perf_counter() - started)
        return result

    def _worth_retrying(self, e: BaseException) -> bool:
        if not isinstance(e, BridgeError) or not e.retryable:
            return False
        return (e.retry_after or 0.0) <= self.max_wait

    def _wait(self, state: tenacity.RetryCallState) -> float:
        backoff = tenacity.wait_exponential_jitter(multiplier=self.initial_wait, max=self.max_wait)(state)
        error = state.outcome.exception() if state.outcome else None
        floor = error.retry_after if isinstance(error, BridgeError) and error.retry_after else 0.0
        return min(self.max_wait, max(backoff, floor))

    @staticmethod
    def _log_before_sleep(connector: str) -> Callable[[tenacity.RetryCallState], None]:
        def before_sleep(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            log.warning("%s: attempt %d failed (%s); retrying in %.1fs", connector, state.attempt_number, error, wait)
            metrics.RETRIES.labels(connector).inc()

        return before_sleep


def backoff_for(attempts: int, error: BridgeError, *, cap: float = 600.0) -> float:
    """How long to postpone a unit of work after its ``attempts``-th failure (the queue-level backoff)."""
    exponential = min(cap, 2.0 ** min(attempts, 10))
    return min(cap, max(exponential, error.retry_after or 0.0))
