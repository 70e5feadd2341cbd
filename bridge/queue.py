"""The queue that wakes workers up, and the worker that drains it.

The inbox row is the unit of work; the queue only says "look at thread K now". Webhook requests do
not touch the queue at all (one cheap durable write is all they do): a *dispatcher* thread in each
worker claims due rows from the store and enqueues one task per thread. Rows that were dispatched
but never finished (a lost queue message, a killed worker) become due again after a grace period,
so the sweep and the dispatcher are the same loop.

Huey runs the tasks: ``SqliteHuey`` in the embedded default, ``RedisHuey`` at scale.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from huey import RedisHuey, SqliteHuey, crontab
from huey.api import Huey
from huey.consumer import Consumer

from bridge import acks, drivers, enrich, inbound, outbound, retention, schedules, sync
from bridge.errors import ConfigError, LeaseBusy, Unavailable
from bridge.leases import new_owner
from bridge.registry import Runtime
from bridge.store import WorkItem, require_sqlite_folder

log = logging.getLogger(__name__)

LEASE_RETRY_DELAY = 0.5  # a thread another worker holds is looked at again this much later


def make_huey(queue_url: str, *, name: str = "socialdesk") -> Huey:
    """``sqlite:///path`` → SqliteHuey, ``redis://...`` → RedisHuey."""
    if queue_url.startswith("redis://") or queue_url.startswith("rediss://"):
        drivers.require(queue_url, "queue_url")  # Huey would only say '"redis" python module not found'
        return RedisHuey(name, url=queue_url, blocking=True, read_timeout=1, results=False)
    if queue_url.startswith("sqlite:///"):
        path = queue_url.removeprefix("sqlite:///")
        require_sqlite_folder(path, "queue_url", "queue")
        return SqliteHuey(name, filename=path, results=False)
    raise ConfigError("bridge.queue_url: must start with sqlite:///, redis:// or rediss://")  # never its value


def waiting(huey: Huey) -> int:
    """How many tasks wait; a queue that cannot answer (Redis down) raises :class:`Unavailable` in one line,
    so a worker started without it stops at once, saying so (Huey would log a traceback every second)."""
    try:
        return int(huey.pending_count())
    except Exception as e:  # redis' ConnectionError, sqlite3's OperationalError...
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise Unavailable(f"the queue is unavailable ({reason})", platform="queue") from e


class Queue:
    """Huey plus the two tasks of the bridge, bound to a runtime built once per process."""

    def __init__(self, huey: Huey, runtime: Callable[[], Runtime]) -> None:
        self.huey = huey
        self._runtime = runtime
        self.process_thread = huey.task(name="socialdesk.process_thread")(self._process_thread)
        self.sync_ticket = huey.task(name="socialdesk.sync_ticket")(self._sync_ticket)
        self.enrich_thread = huey.task(name="socialdesk.enrich_thread")(self._enrich_thread)
        self.send_ack = huey.task(name="socialdesk.send_ack")(self._send_ack)

    def _process_thread(self, thread_key: str) -> int:
        try:
            return inbound.process_thread(self._runtime(), thread_key, new_owner())
        except LeaseBusy:  # another worker has the thread: look again shortly (no error, no traceback)
            self.process_thread.schedule((thread_key,), delay=LEASE_RETRY_DELAY)
            return 0

    def _sync_ticket(self, helpdesk: str, ticket_id: str) -> int:
        try:
            return outbound.sync_ticket(self._runtime(), helpdesk, ticket_id, new_owner())
        except LeaseBusy:
            self.sync_ticket.schedule((helpdesk, ticket_id), delay=LEASE_RETRY_DELAY)
            return 0

    def _enrich_thread(self, thread_key: str) -> bool:
        runtime, owner = self._runtime(), new_owner()
        try:
            with runtime.leases.hold(thread_key, owner):
                return enrich.retry_thread(runtime, thread_key)
        except LeaseBusy:
            return False  # the thread is busy: the enrichment stays due and is claimed again later

    def _send_ack(self, ack_id: int) -> int:
        try:
            return acks.send(self._runtime(), ack_id, new_owner())
        except LeaseBusy:
            self.send_ack.schedule((ack_id,), delay=LEASE_RETRY_DELAY)
            return 0

    def enqueue(self, item: WorkItem) -> None:
        if item.table == "inbox":
            self.process_thread(item.key)
        elif item.table == "threads":
            self.enrich_thread(item.key)
        elif item.table == "auto_acks":
            self.send_ack(item.id)
        else:
            helpdesk, _, ticket_id = item.key.partition(":")
            self.sync_ticket(helpdesk, ticket_id)


#: seconds an idle dispatcher waits before it looks for due rows again
DISPATCH_INTERVAL = 0.2


class Dispatcher(threading.Thread):
    """Claims due rows from the store and enqueues one task per thread or ticket."""

    def __init__(
        self, runtime: Runtime, queue: Queue, *, interval: float = DISPATCH_INTERVAL, grace: float = 60.0
    ) -> None:
        super().__init__(name="socialdesk-dispatcher", daemon=True)
        self.runtime = runtime
        self.queue = queue
        self.interval = interval
        self.grace = grace
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                busy = self.dispatch_once()
            except Exception:  # the database may be restarting: keep the loop alive
                log.exception("dispatcher: could not claim work")
                busy = 0
            if not busy:
                self.stopped.wait(self.interval)

    def dispatch_once(self) -> int:
        items = self.runtime.store.claim_due(grace=self.grace)
        for key in dict.fromkeys((i.table, i.key) for i in items):
            self.queue.enqueue(next(i for i in items if (i.table, i.key) == key))
        return len(items)

    def stop(self) -> None:
        self.stopped.set()


def _sync_minutes(runtime: Runtime) -> int:
    section = runtime.config.salesforce
    return int(section.get("sync_every_minutes")) if section is not None else 0


def _schedule_contact_sync(runtime: Runtime, queue: Queue, minutes: int) -> Any:
    """``[salesforce] sync_every_minutes``: the contact sync as a periodic task; one worker at a time runs it."""

    def run() -> None:
        try:
            with runtime.leases.hold("sync-contacts", new_owner()):
                summary = sync.sync_contacts(runtime)
        except LeaseBusy:
            return  # another worker's scheduler fired too: it is already running
        log.info("contact sync: %d created, %d updated, %d failed", summary.created, summary.updated,
                 len(summary.failed))  # fmt: skip

    return queue.huey.periodic_task(crontab(minute=f"*/{minutes}"), name="socialdesk.sync_contacts")(run)


def _schedule_prune(runtime: Runtime, queue: Queue, days: float) -> Any:
    """``[bridge] retention_days``: every night at 03:17 UTC (:func:`bridge.retention.prune`)."""

    def run() -> None:
        try:
            counts = retention.prune(runtime.store, runtime.leases, days)
        except LeaseBusy:
            return  # another worker's scheduler fired too: it is already running
        log.info("retention: %s", retention.summary(counts, days))

    return queue.huey.periodic_task(crontab(minute="17", hour="3"), name="socialdesk.prune")(run)


def _schedule_calendars(runtime: Runtime, queue: Queue, minutes: int) -> Any:
    """``schedule = "helpdesk"`` calendars: the helpdesk's schedules read every ``minutes`` (bridge.schedules)."""

    def run() -> None:
        schedules.refresh(runtime.helpdesk, runtime.store, schedules.utcnow(), runtime.policy)

    return queue.huey.periodic_task(crontab(minute=f"*/{minutes}"), name="socialdesk.helpdesk_schedules")(run)


class EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """A Huey consumer that can run inside another program (tests, the demo): no signal handlers."""

    def _set_signal_handlers(self) -> None:
        pass


class Worker:
    """The worker process: a dispatcher thread plus a Huey consumer with ``concurrency`` threads."""

    def __init__(
        self,
        runtime: Runtime,
        queue: Queue,
        *,
        concurrency: int = 4,
        grace: float | None = None,
        dispatch_interval: float = DISPATCH_INTERVAL,
    ) -> None:
        """``dispatch_interval``: seconds the dispatcher waits after finding nothing due (the sandbox's
        in-process worker looks more often, so the demo and the tests do not wait out the production's)."""
        self.runtime = runtime
        self.queue = queue
        if grace is None:
            grace = runtime.config.redispatch_after
        self.dispatcher = Dispatcher(runtime, queue, interval=dispatch_interval, grace=grace)
        minutes = _sync_minutes(runtime)
        self.contact_sync = _schedule_contact_sync(runtime, queue, minutes) if minutes else None
        days = runtime.config.retention_days
        self.prune = _schedule_prune(runtime, queue, days) if days else None
        every = schedules.refresh_minutes(runtime.config)
        self.calendars = _schedule_calendars(runtime, queue, every) if every else None
        periodic = bool(self.contact_sync or self.prune or self.calendars)
        options: dict[str, Any] = {"workers": concurrency, "worker_type": "thread", "periodic": periodic}
        options.update(initial_delay=0.05, backoff=1.5, max_delay=0.5)  # idle workers look every 0.5 s at most
        self._options = options
        self.consumer: Consumer | None = None

    def start(self) -> None:
        """Run in the background (tests, the demo)."""
        self._read_schedules()
        self.consumer = EmbeddedConsumer(self.queue.huey, **self._options)
        self.consumer.start()
        self.dispatcher.start()

    def _read_schedules(self) -> None:
        """The helpdesk's schedules once at start, so a fresh install has business hours before the first tick."""
        if self.calendars is not None:
            schedules.refresh(self.runtime.helpdesk, self.runtime.store, schedules.utcnow(), self.runtime.policy)

    def stop(self) -> None:
        self.dispatcher.stop()
        if self.consumer is not None:
            self.consumer.stop(graceful=True)

    def run(self) -> None:
        """Run in the foreground until SIGINT/SIGTERM (``socialdesk worker``)."""
        self._read_schedules()
        self.dispatcher.start()
        Consumer(self.queue.huey, **self._options).run()
        self.dispatcher.stop()
