"""Leases outlive the TTL while their holder works, and end when it stops."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bridge.errors import LeaseBusy
from bridge.leases import Leases
from bridge.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.from_url(f"sqlite:///{tmp_path / 'leases.db'}")


def test_a_lease_held_past_its_ttl_is_still_refused_to_others(store: Store) -> None:
    leases = Leases(store, ttl=0.6)
    with leases.hold("thread-1", "worker-a"):
        time.sleep(2.0)  # more than three TTLs: only the keeper's renewals keep it
        with pytest.raises(LeaseBusy), Leases(store, ttl=0.6).hold("thread-1", "worker-b"):
            pass
    with Leases(store, ttl=0.6).hold("thread-1", "worker-b"):  # released on exit: free at once
        pass


def test_a_released_lease_is_not_renewed(store: Store) -> None:
    leases = Leases(store, ttl=0.6)
    with leases.hold("thread-1", "worker-a"):
        pass
    time.sleep(0.5)  # a keeper round after the release must not take it back
    assert store.acquire_lease("thread-1", "worker-b", ttl=10)


def test_a_dead_holders_lease_runs_out(store: Store) -> None:
    # A worker that died renews nothing: its lease is free once the TTL has passed.
    assert store.acquire_lease("thread-1", "worker-a", ttl=0.3)
    assert not store.acquire_lease("thread-1", "worker-b", ttl=0.3)
    time.sleep(0.4)
    assert store.acquire_lease("thread-1", "worker-b", ttl=0.3)


def test_renewing_extends_a_held_lease_only(store: Store) -> None:
    assert store.acquire_lease("thread-1", "worker-a", ttl=10)
    assert store.renew_lease("thread-1", "worker-a", ttl=10)
    assert not store.renew_lease("thread-1", "worker-b", ttl=10)  # not its lease
    store.release_lease("thread-1", "worker-a")
    assert not store.renew_lease("thread-1", "worker-a", ttl=10)  # released: a late renewal must not retake it
    assert store.acquire_lease("thread-1", "worker-b", ttl=10)
