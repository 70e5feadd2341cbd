"""The one retry policy, with a recorded sleep and the store as the shared pause board."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bridge import errors
from bridge.pauses import RedisPauses
from bridge.retry import RetryPolicy, backoff_for
from bridge.store import Store
from tests.support import closed_port


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.from_url(f"sqlite:///{tmp_path}/s.db")


def policy(store: Store, clock: Clock, **kw: int) -> RetryPolicy:
    return RetryPolicy(store, sleep=clock.sleep, clock=clock.time, **kw)


def failing(*errs: Exception) -> Callable[[], str]:
    queue = list(errs)

    def call() -> str:
        if queue:
            raise queue.pop(0)
        return "ok"

    call.remaining = queue  # type: ignore[attr-defined]
    return call


def test_retries_retryable_errors_and_honours_retry_after(store: Store) -> None:
    clock = Clock()
    call = failing(errors.Unavailable("503"), errors.RateLimited("429", retry_after=7))
    assert policy(store, clock).call("zendesk", call) == "ok"
    assert len(clock.sleeps) >= 2
    assert max(clock.sleeps) >= 7  # never earlier than Retry-After
    assert all(s <= 15 for s in clock.sleeps)  # every delay capped


def test_permanent_errors_are_not_retried(store: Store) -> None:
    clock = Clock()
    call = failing(errors.AuthError("expired"), errors.Unavailable("never reached"))
    with pytest.raises(errors.AuthError):
        policy(store, clock).call("zendesk", call)
    assert clock.sleeps == []
    assert len(call.remaining) == 1  # type: ignore[attr-defined]


def test_unknown_outcome_is_never_retried(store: Store) -> None:
    clock = Clock()
    with pytest.raises(errors.UnknownOutcome):
        policy(store, clock).call("facebook", failing(errors.UnknownOutcome("timeout after send")))
    assert clock.sleeps == []


def test_gives_up_after_the_attempt_budget(store: Store) -> None:
    clock = Clock()
    call = failing(*[errors.Unavailable("503") for _ in range(10)])
    with pytest.raises(errors.Unavailable):
        policy(store, clock, attempts=3).call("zendesk", call)
    assert len(call.remaining) == 7  # type: ignore[attr-defined]


def test_429_pauses_the_connector_for_every_worker(store: Store) -> None:
    clock = Clock()
    with pytest.raises(errors.RateLimited):  # Retry-After beyond the cap: hand back to the queue at once
        policy(store, clock).call("zendesk", failing(errors.RateLimited("429", retry_after=45)))
    assert clock.sleeps == []
    assert store.paused_until("zendesk") == pytest.approx(clock.now + 45)
    other_worker = policy(store, clock)
    calls = failing()
    with pytest.raises(errors.RateLimited) as info:  # another worker does not even try
        other_worker.call("zendesk", calls)
    assert info.value.retry_after == pytest.approx(45)
    assert other_worker.call("facebook", calls) == "ok"  # other connectors are not paused


def test_a_short_pause_is_waited_out(store: Store) -> None:
    clock = Clock()
    store.pause("zendesk", clock.now + 3, "429")
    assert policy(store, clock).call("zendesk", failing()) == "ok"
    assert clock.sleeps == [pytest.approx(3)]


@pytest.mark.parametrize(
    ("attempts", "retry_after", "expected"),
    [(1, None, 2), (3, None, 8), (3, 100, 100), (30, None, 600), (1, 5000, 600)],
)
def test_queue_level_backoff(attempts: int, retry_after: float | None, expected: float) -> None:
    assert backoff_for(attempts, errors.RateLimited("x", retry_after=retry_after)) == expected


def test_a_pause_board_in_redis_that_is_down_is_an_outage_to_wait_out_not_a_bug() -> None:
    # At scale the board is in Redis; Redis restarting must postpone the work (retryable), not dead-letter
    # it as an unexpected error, and nothing is called meanwhile.
    clock, calls = Clock(), []
    board = RedisPauses(f"redis://127.0.0.1:{closed_port()}/0")
    with pytest.raises(errors.Unavailable) as caught:
        RetryPolicy(board, sleep=clock.sleep, clock=clock.time, attempts=2).call("zendesk", lambda: calls.append(1))
    assert caught.value.retryable and calls == []
    assert "the pause board in Redis is unreachable" in caught.value.message
    with pytest.raises(errors.Unavailable):
        board.pause("zendesk", clock.time() + 30, "429")
