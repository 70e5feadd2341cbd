"""Per-thread leases that last as long as the work: one worker at a time on a thread, however slow it is.

A lease in the store expires (``lease_seconds``) so that a worker that died frees its threads. A live
worker must therefore keep its leases alive for as long as it works on them, including through a long
helpdesk call or a rate-limit wait: otherwise a second worker takes the thread and both create its
ticket. A keeper thread per process renews every held lease each third of the TTL; it stops when the
process stops, which is exactly when the lease should run out.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from bridge import messages
from bridge.errors import LeaseBusy
from bridge.store import Store

log = logging.getLogger(__name__)


def new_owner() -> str:
    """A lease holder's name: which machine and process, unique per piece of work."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Leases:
    def __init__(self, store: Store, ttl: float) -> None:
        self.store = store
        self.ttl = ttl
        self._held: dict[tuple[str, str], float] = {}  # (key, owner) -> that lease's TTL
        self._lock = threading.Lock()
        self._keeper: threading.Thread | None = None

    @contextmanager
    def hold(self, key: str, owner: str, *, ttl: float | None = None) -> Iterator[None]:
        """Take the lease on ``key`` (or raise :class:`LeaseBusy`), keep it alive, release it on exit."""
        ttl = ttl or self.ttl
        if not self.store.acquire_lease(key, owner, ttl=ttl):
            raise LeaseBusy(f"{messages.key_shown(key)} is being worked on")  # logged with the inbox row
        with self._lock:
            self._held[(key, owner)] = ttl
            if self._keeper is None or not self._keeper.is_alive():
                self._keeper = threading.Thread(target=self._keep, name="socialdesk-leases", daemon=True)
                self._keeper.start()
        try:
            yield
        finally:
            with self._lock:
                self._held.pop((key, owner), None)
            self.store.release_lease(key, owner)

    def _keep(self) -> None:
        while True:
            time.sleep(self.ttl / 3)
            with self._lock:
                held = list(self._held.items())
            for (key, owner), ttl in held:
                self._renew(key, owner, ttl)

    def _renew(self, key: str, owner: str, ttl: float) -> None:
        try:
            renewed = self.store.renew_lease(key, owner, ttl=ttl)  # a lease released meanwhile stays released
        except Exception:  # the store is briefly unreachable: try again next round, before the TTL ends
            log.warning("could not renew the lease on %s; retrying", messages.key_shown(key), exc_info=True)
            return
        with self._lock:
            still_held = (key, owner) in self._held
        if not renewed and still_held:
            log.error("the lease on %s was lost (this worker stalled past lease_seconds)", messages.key_shown(key))
