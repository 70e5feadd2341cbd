"""Retention (``[bridge] retention_days``): what the bridge forgets once work is finished and old.

The customers' words are the helpdesk's to keep, not the bridge's: past the retention the store
empties the text of finished messages and drops finished ticket notices, replayed dead letters and the
records of acknowledgements
(:meth:`bridge.store.Store.prune` says what stays and why). The worker runs it nightly; ``socialdesk
prune`` runs it at once. One run at a time, across workers and the CLI (a lease).
"""

from __future__ import annotations

import time

from bridge.leases import Leases, new_owner
from bridge.store import Store

DAY = 86400.0
LABELS = {"inbox": "messages' text", "ticket_events": "ticket notices", "dead_letters": "replayed dead letters",
          "auto_acks": "acknowledgements"}  # fmt: skip


def prune(store: Store, leases: Leases, days: float, *, dry_run: bool = False) -> dict[str, int]:
    """Forget what finished more than ``days`` ago; raises :class:`bridge.errors.LeaseBusy` while another
    run holds the lease."""
    with leases.hold("prune", new_owner()):
        return store.prune(time.time() - days * DAY, dry_run=dry_run)


def summary(counts: dict[str, int], days: float) -> str:
    said = ", ".join(f"{LABELS.get(table, table)} {n}" for table, n in counts.items())
    return f"finished more than {days:g} days ago: {said}"
