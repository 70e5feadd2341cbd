"""The bridge's Prometheus series, on the standard ``prometheus_client``.

Labels are the channel, platform, webhook route, connector, queue or an outcome from a fixed set: never a ticket,
user or message id (a label per id would be a series per customer). Counters and histograms are recorded where the
work happens; the store's state (queue depth and age, open dead letters, pauses) is read at scrape time by
:class:`StoreCollector`, so every process reports the same truth.

Processes:

* ``socialdesk serve`` (gunicorn, several processes): ``prometheus_client``'s multiprocess mode. ``serve``
  empties a directory at start (``$PROMETHEUS_MULTIPROC_DIR``, or one of its own under the system's temporary
  folder, named after the address) and every web process writes its series there; ``GET /metrics`` adds
  them up (:func:`registry`).
* ``socialdesk worker --metrics-port P``: the worker's series (deliveries, helpdesk and platform calls,
  retries, first responses) on its own ``http://HOST:P/metrics``, since a worker may run on another machine.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    multiprocess,
    start_http_server,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bridge.errors import BridgeError

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from bridge.store import Store

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Human-scale: a customer waits minutes to days for an answer.
RESPONSE_BUCKETS = (60, 300, 900, 1800, 3600, 4 * 3600, 8 * 3600, 86400, 2 * 86400, 7 * 86400)
#: Millisecond-scale: storing a webhook, a call to a helpdesk or a platform.
CALL_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: The platform's timestamp of a message to its storing: seconds, or hours when a platform redelivers late.
LAG_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 86400)
#: The routes ``/webhooks/<route>`` may name: any other path is not counted (no label from a URL). A route is no
#: platform: ``meta`` carries Facebook, Instagram and WhatsApp alike, ``zendesk`` and ``freshdesk`` are helpdesks,
#: and a request is counted before its body is verified or parsed (a refused one has no platform to tell). The
#: stored events are counted by platform: ``socialdesk_ingest_lag_seconds_count``, ``socialdesk_events_*``.
ROUTES = frozenset({"meta", "x", "telegram", "generic", "zendesk", "freshdesk"})

#: This process's own series: a registry of the module's own rather than prometheus_client's global one, so that
#: importing the module again (a test that forgets the project's modules) makes new series instead of failing.
SERIES = CollectorRegistry()
for _default in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):  # what the global registry would report
    SERIES.register(_default)

WEBHOOKS = Counter(
    "socialdesk_webhooks_received_total",
    "Webhook requests answered, by route (/webhooks/<route>) and outcome",
    ["route", "outcome"],
    registry=SERIES,
)
WEBHOOK_SECONDS = Histogram(
    "socialdesk_webhook_seconds",
    "Time to verify, store and answer a webhook, by route (/webhooks/<route>)",
    ["route"],
    buckets=CALL_BUCKETS,
    registry=SERIES,
)
INGEST_LAG = Histogram(
    "socialdesk_ingest_lag_seconds", "Platform timestamp of a message to its storing", ["platform"],
    buckets=LAG_BUCKETS,
    registry=SERIES,
)  # fmt: skip
EVENTS_IGNORED = Counter("socialdesk_events_ignored_total", "Events recorded as ignored", ["platform"], registry=SERIES)
EVENTS_DONE = Counter(
    "socialdesk_events_done_total", "Customer events written to the helpdesk", ["platform"], registry=SERIES
)
REPLIES_DELIVERED = Counter(
    "socialdesk_replies_delivered_total", "Agent replies delivered", ["channel"], registry=SERIES
)
REPLIES_FAILED = Counter(
    "socialdesk_replies_failed_total", "Agent replies not (certainly) delivered: failed, unknown, partial",
    ["channel", "status"],
    registry=SERIES,
)  # fmt: skip
FIRST_RESPONSE = Histogram(
    "socialdesk_first_response_seconds",
    "First human reply delivered in an episode, from the platform time of its first customer message",
    ["channel"],
    buckets=RESPONSE_BUCKETS,
    registry=SERIES,
)
CALLS = Counter(
    "socialdesk_connector_calls_total", "Calls to a helpdesk, CRM or platform (by connector name), by outcome",
    ["connector", "outcome"],
    registry=SERIES,
)  # fmt: skip
CALL_SECONDS = Histogram(
    "socialdesk_connector_call_seconds",
    "Duration of one call to a connector",
    ["connector"],
    buckets=CALL_BUCKETS,
    registry=SERIES,
)
RETRIES = Counter("socialdesk_retries_total", "Calls retried within a unit of work", ["connector"], registry=SERIES)
POSTPONED = Counter(
    "socialdesk_work_postponed_total", "Units of work postponed for a later attempt", ["queue"], registry=SERIES
)
DEAD_LETTERS = Counter(
    "socialdesk_dead_letters_total", "Units of work given up (dead-lettered)", ["queue"], registry=SERIES
)
PAUSES = Counter("socialdesk_pauses_total", "Connector pauses after a rate limit", ["connector"], registry=SERIES)


BOT_MESSAGES = Counter(
    "socialdesk_bot_messages_total", "Quick answers the bot sent (never counted as people's replies), by step",
    ["channel", "step", "outcome"], registry=SERIES,
)  # fmt: skip


def webhook_answered(path: str, status: int, seconds: float) -> None:
    """Count one answered request to ``/webhooks/<route>...`` (other paths are not webhooks)."""
    parts = path.split("/")
    if len(parts) < 3 or parts[1] != "webhooks" or parts[2] not in ROUTES:
        return
    WEBHOOKS.labels(parts[2], _outcome(status)).inc()
    WEBHOOK_SECONDS.labels(parts[2]).observe(seconds)


def _outcome(status: int) -> str:
    if status < 300:
        return "accepted"
    if status in (401, 403):
        return "refused"
    return "unavailable" if status == 503 else "rejected" if status < 500 else "error"


def call_made(connector: str, outcome: str, seconds: float) -> None:
    """One call to a connector: ``ok``, ``retryable``, ``failed`` or ``rate_limited``."""
    CALLS.labels(connector, outcome).inc()
    CALL_SECONDS.labels(connector).observe(seconds)


def ingested(platform: str, platform_ts: float, ignored: bool, now: float) -> None:
    """One event stored by a webhook: its lag behind the platform's clock, and whether it was ignored."""
    INGEST_LAG.labels(platform).observe(max(0.0, now - platform_ts))
    if ignored:
        EVENTS_IGNORED.labels(platform).inc()


def event_finished(platform: str, ignored: str | None) -> None:
    """One inbox event finished by the worker: written to the helpdesk, or ignored."""
    (EVENTS_IGNORED if ignored else EVENTS_DONE).labels(platform).inc()


def reply_finished(channel: str, status: str, first_response: float | None) -> None:
    """One delivery settled; ``first_response``: the episode's first-response time when this reply was it."""
    if status == "sent":
        REPLIES_DELIVERED.labels(channel).inc()
    else:
        REPLIES_FAILED.labels(channel, status).inc()
    if first_response is not None:
        FIRST_RESPONSE.labels(channel).observe(first_response)


def bot_message(channel: str, step: str, outcome: str) -> None:
    """One bot message (:mod:`bridge.bot`): ``step`` answer, ask, thanks, menu or handoff; ``outcome`` sent,
    failed or unknown (the platform's answer lost). Apart from ``socialdesk_replies_delivered_total``, which
    counts people's replies only."""
    BOT_MESSAGES.labels(channel, step, outcome).inc()


class StoreCollector(Collector):
    """Gauges read from the store at each scrape: the same for every process, and true after a restart."""

    def __init__(self, store: Store, clock: Any = time.time) -> None:
        self.store, self.clock = store, clock

    def describe(self) -> Iterable[Metric]:
        return []  # registering must not query the store

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        queue_ = ["queue"]
        depth = GaugeMetricFamily("socialdesk_queue_depth", "Pending units of work", labels=queue_)
        age = GaugeMetricFamily("socialdesk_queue_oldest_age_seconds", "Age of the oldest pending work", labels=queue_)
        retrying = GaugeMetricFamily("socialdesk_queue_retrying", "Pending work that failed before", labels=queue_)
        for queue in ("inbox", "ticket_events"):
            backlog = self.store.backlog(queue)
            oldest = backlog["oldest_received_at"]
            depth.add_metric([queue], backlog["pending"])
            age.add_metric([queue], max(0.0, now - oldest) if oldest is not None else 0.0)
            retrying.add_metric([queue], backlog["retrying"])
        yield from (depth, age, retrying)
        yield GaugeMetricFamily("socialdesk_dead_letters_open", "Dead letters not replayed",
                                value=len(self.store.open_dead_letters()))  # fmt: skip
        yield self._paused(now)

    def _paused(self, now: float) -> Metric:
        paused = GaugeMetricFamily(
            "socialdesk_connector_paused_seconds",
            "Seconds a connector stays paused by its rate limit",
            labels=["connector"],
        )
        for row in self.store.rows("pauses"):
            paused.add_metric([str(row["connector"])], max(0.0, float(row["until"]) - now))
        return paused


class _Recorded(Collector):
    """This process's own series (:data:`SERIES`), for a registry of one scrape."""

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        return SERIES.collect()


def registry(store: Store) -> CollectorRegistry:
    """What one scrape reports: the series of every process sharing the multiprocess directory (or this
    process's own, outside it), and the store's gauges."""
    scrape = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.MultiProcessCollector(scrape)  # type: ignore[no-untyped-call]
    else:
        scrape.register(_Recorded())
    scrape.register(StoreCollector(store))
    return scrape


def prepare_multiprocess(host: str, port: int) -> Path:
    """Before ``serve`` forks: an empty directory for the web processes' series files (a previous run's would
    be added to this one's), named in ``$PROMETHEUS_MULTIPROC_DIR`` for them, and this process switched to it."""
    chosen = os.environ.get(MULTIPROC_ENV)
    folder = Path(chosen) if chosen else Path(tempfile.gettempdir()) / f"socialdesk-metrics-{host}-{port}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(folder)
    # prometheus_client picks its value store when first imported: this process imported it already
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    return folder


@contextmanager
def removed_at_exit(folder: Path | None) -> Iterator[None]:
    """The series folder ``serve`` made for itself goes when the server stops (an operator's stays). Only in
    the process that entered: gunicorn's forked web processes leave through this frame too."""
    pid = os.getpid()
    try:
        yield
    finally:
        if folder is not None and os.getpid() == pid:
            shutil.rmtree(folder, ignore_errors=True)


def process_exited(pid: int) -> None:
    """gunicorn's ``child_exit``: a web process's live gauges are dropped (its counters are kept)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def serve_worker(store: Store, *, host: str, port: int) -> None:
    """``socialdesk worker --metrics-port``: this process's series and the store's on ``http://host:port/``
    (any path), from a daemon thread. A port taken is one line at start, not a traceback."""
    try:
        start_http_server(port, addr=host, registry=registry(store))
    except OSError as e:
        raise BridgeError(f"worker metrics: cannot listen on {host}:{port} ({e.strerror or e})") from None
