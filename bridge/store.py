"""The durable state, in SQLAlchemy Core: one schema for SQLite (embedded) and PostgreSQL (scale).

Tables and the contract each one enforces:

* ``inbox``         one row per platform message, unique (platform, account, message id): a
                    redelivered webhook inserts nothing. The row is the unit of work.
* ``ticket_events`` one row per helpdesk webhook invocation ("ticket T changed").
* ``threads``       one row per social thread, claimed *before* the helpdesk is called, so two
                    workers can never open two tickets for it.
* ``deliveries``    one row per helpdesk comment id, written before a reply is sent and after.
* ``sent_messages`` the platform ids of everything we posted: their echoes are dropped.
* ``identities``    social identity → helpdesk user id, so a chatty customer costs one lookup; and a CRM
                    Contact (``<helpdesk>:salesforce:<ContactId>``) → the user sync-contacts made or matched.
* ``leases``        short per-thread leases: one worker at a time works on a thread.
* ``pauses``        "do not call connector X before T" after a 429, shared by every worker.
* ``dead_letters``  work that failed for good, with the reason; ``socialdesk replay`` re-runs it.
* ``crm_cache``     the CRM's record per social identity, with the time it was fetched (TTL).
* ``sync_cursors``  where an incremental sync stopped (saved after each committed batch).
* ``settings``      what ``socialdesk setup`` learned (the Zendesk webhook's signing secret).
* ``user_joins``    each join of a social identity to the helpdesk user of a CRM Contact, each merge or link of
                    the user it had before, each join undone: who into whom, why, when (:mod:`bridge.joins`).
* ``auto_acks``     one row per conversation episode of a channel with acknowledgements, unique (thread,
                    episode start): the ack planned with its due time, or why none; at most one is sent.
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from bridge import drivers, metrics
from bridge.errors import BridgeError, ConfigError, Unavailable
from bridge.events import AuthorKind, DeliveryStatus, Ignored, SocialEvent
from bridge.groupcommit import GroupCommit
from bridge.ingest import InboxWriter, IngestRow
from bridge.rows import AckState, BotState, BotStep, CrmCached, InboxStatus, LastJoin, ThreadContext, ThreadRow
from bridge.waiting import WaitingRow

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

log = logging.getLogger(__name__)
metadata = sa.MetaData()
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

inbox = sa.Table(
    "inbox",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("platform", sa.String(32), nullable=False),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("message_id", sa.String(255), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("thread_key", sa.String(320), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("platform_ts", sa.Float, nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.Float, nullable=False, server_default="0"),
    sa.Column("dispatched_at", sa.Float),
    sa.Column("attempted_at", sa.Float),  # set just before the helpdesk write: after a crash, look first
    sa.Column("last_error", sa.Text),
    sa.Column("ticket_at", sa.Float),  # when the worker's helpdesk write of it succeeded (ticket made or updated)
    sa.Column("opens_episode", sa.Boolean),  # a customer message written to the helpdesk: starts an episode?
    sa.Column("sentiment", sa.String(16)),  # the classifier's label, when one classified it (the figures' mix)
    sa.Column("no_answer", sa.Boolean),  # a rule or tag said it needs no answer ([metrics] no_answer_*)
    sa.Column("solved_at", sa.Float),  # on an episode's first message: when the worker saw its ticket solved
    sa.UniqueConstraint("platform", "account_id", "message_id", name="uq_inbox_message"),
    sa.Index("ix_inbox_pending", "status", "next_attempt_at"),
    sa.Index("ix_inbox_thread", "thread_key", "status"),
    sa.Index("ix_inbox_platform_ts", "platform_ts"),
)

ticket_events = sa.Table(
    "ticket_events",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("helpdesk", sa.String(32), nullable=False),
    sa.Column("ticket_id", sa.String(64), nullable=False),
    sa.Column("invocation_id", sa.String(128), nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.Float, nullable=False, server_default="0"),
    sa.Column("dispatched_at", sa.Float),
    sa.Column("last_error", sa.Text),
    sa.UniqueConstraint("helpdesk", "invocation_id", name="uq_ticket_event_invocation"),
    sa.Index("ix_ticket_events_pending", "status", "next_attempt_at"),
)

threads = sa.Table(
    "threads",
    metadata,
    sa.Column("key", sa.String(320), primary_key=True),
    sa.Column("platform", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("thread_id", sa.String(255), nullable=False),
    sa.Column("reply_to", sa.String(255), nullable=False),
    sa.Column("helpdesk", sa.String(32), nullable=False),
    sa.Column("ticket_id", sa.String(64), index=True),
    sa.Column("requester_id", sa.String(64)),
    sa.Column("create_started_at", sa.Float),
    sa.Column("first_inbound_at", sa.Float),
    sa.Column("last_inbound_at", sa.Float),
    sa.Column("last_inbound_message_id", sa.String(255)),
    sa.Column("customer_id", sa.String(255)),
    sa.Column("enrichment", sa.String(16)),  # pending | done | failed: the CRM note owed to the ticket
    sa.Column("enrichment_event", sa.Text),
    sa.Column("enrichment_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("enrichment_due_at", sa.Float),
    sa.Column("crm_persona_id", sa.String(64)),
    sa.Column("crm_last_post_id", sa.String(64)),
    sa.Column("episode_started_at", sa.Float),  # platform time of the current episode's first customer message
    sa.Column("episode_answered_at", sa.Float),  # when its first human reply was delivered (None: not yet)
    sa.Column("approval", sa.String(64)),  # why agents' replies here need approval ("rule legal"): bridge.approvals
    sa.Column("approval_answered_at", sa.Float),  # an answer recorded, its tag not known to be off: bridge.holding
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

#: Every ticket a thread has had, for good: a reply on a ticket that is no longer the thread's current one
#: (a follow-up replaced it after "send and close") still finds its thread.
ticket_links = sa.Table(
    "ticket_links",
    metadata,
    sa.Column("helpdesk", sa.String(32), primary_key=True),
    sa.Column("ticket_id", sa.String(64), primary_key=True),
    sa.Column("thread_key", sa.String(320), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

#: Who wrote a reply; a string column checked in Python (no PostgreSQL type to migrate when kinds are added)
AUTHOR_KIND = sa.Enum(
    AuthorKind, name="author_kind", native_enum=False, length=16, values_callable=lambda kinds: [k.value for k in kinds]
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("helpdesk", sa.String(32), nullable=False),
    sa.Column("comment_id", sa.String(64), nullable=False),
    sa.Column("ticket_id", sa.String(64), nullable=False),
    sa.Column("thread_key", sa.String(320), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # a bridge.events.DeliveryStatus (held: bridge.approvals)
    sa.Column("message_ids", sa.Text),
    sa.Column("error", sa.Text),  # the note for the agent: why it failed, or how it went out (a template)
    sa.Column("receipt", sa.String(16)),  # the platform's last word on it: delivered, read, failed...
    sa.Column("noted", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("comment_created_at", sa.Float),
    sa.Column("delivered_at", sa.Float),  # when the platform took it (status sent)
    sa.Column("author_kind", AUTHOR_KIND, nullable=False, server_default=AuthorKind.HUMAN.value),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("helpdesk", "comment_id", name="uq_delivery_comment"),
    sa.Index("ix_deliveries_thread", "thread_key", "comment_created_at"),
)

sent_messages = sa.Table(
    "sent_messages",
    metadata,
    sa.Column("platform", sa.String(32), primary_key=True),
    sa.Column("message_id", sa.String(255), primary_key=True),
    sa.Column("delivery_id", _Id),
    sa.Column("sent_at", sa.Float, nullable=False),
)

identities = sa.Table(
    "identities",
    metadata,
    sa.Column("key", sa.String(320), primary_key=True),  # helpdesk:platform:author id
    sa.Column("helpdesk_user_id", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("ix_identities_user", "helpdesk_user_id"),  # a user merged or deleted: its identities forgotten
)

leases = sa.Table(
    "leases",
    metadata,
    sa.Column("key", sa.String(320), primary_key=True),
    sa.Column("owner", sa.String(128)),
    sa.Column("until", sa.Float, nullable=False, server_default="0"),
)

pauses = sa.Table(
    "pauses",
    metadata,
    sa.Column("connector", sa.String(64), primary_key=True),
    sa.Column("until", sa.Float, nullable=False),
    sa.Column("reason", sa.Text),
)

dead_letters = sa.Table(
    "dead_letters",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(32), nullable=False),  # inbox | ticket_events
    sa.Column("source_id", _Id, nullable=False),
    sa.Column("key", sa.String(320), nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("replayed_at", sa.Float),
    sa.Index("ix_dead_letters_open", "replayed_at"),
)

crm_cache = sa.Table(
    "crm_cache",
    metadata,
    sa.Column("key", sa.String(320), primary_key=True),  # platform:author id
    sa.Column("record", sa.Text),  # JSON, or NULL when the CRM knows nobody by that identity
    sa.Column("fetched_at", sa.Float, nullable=False),
)

sync_cursors = sa.Table(
    "sync_cursors",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("cursor", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

auto_acks = sa.Table(
    "auto_acks",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("thread_key", sa.String(320), nullable=False),
    sa.Column("episode_at", sa.Float, nullable=False),  # the platform's time of the episode's first message
    sa.Column("ticket_id", sa.String(64), nullable=False),
    sa.Column("public", sa.Boolean, nullable=False, server_default=sa.false()),
    # due | sending | sent | none | cancelled | failed | unknown (cut off mid-send) | unknown_noted (ticket told)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("text", sa.Text),
    sa.Column("reason", sa.Text),  # why none, cancelled or failed
    sa.Column("due_at", sa.Float),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("thread_key", "episode_at", name="uq_auto_ack_episode"),
    sa.Index("ix_auto_acks_due", "status", "due_at"),
)

user_joins = sa.Table(
    "user_joins",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("identity_key", sa.String(320), nullable=False),  # helpdesk:platform:author id, as in identities
    sa.Column("contact_id", sa.String(64)),  # the CRM Contact; NULL when a join is undone for nobody
    sa.Column("user_id", sa.String(64)),  # the helpdesk user the identity's messages go to from now on
    sa.Column("other_user_id", sa.String(64)),  # merged: the user merged into user_id; linked, undone: the other
    sa.Column("action", sa.String(16), nullable=False),  # joined | merged | linked | undone (bridge.joins.Action)
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Index("ix_user_joins_identity", "identity_key", "id"),
)

ACK_COMMENT_PREFIX = "auto_ack:"  # the delivery row of an ack: comment_id auto_ack:<auto_acks.id>
#: An ack still ``sending`` after this long was cut off mid-call (the retry policy's own waits are far shorter):
#: whether the customer got it is unknown, and the agent is told.
ACK_SEND_TIMEOUT = 3 * 3600.0
ACK_UNFINISHED = ("due", "sending", "unknown")  # kept by retention: still to send, or to tell the ticket about


PRUNE_CHUNK = 2000  # rows changed per transaction by :meth:`Store.prune`
REDACTED = ""  # the payload of an inbox row whose text retention removed


@dataclass(frozen=True)
class PendingEvent:
    """An inbox row a worker is about to apply. ``attempted``: an earlier try may have written it;
    ``due_at``: when a postponed row may be tried again; ``received_at``: when the bridge stored it (no write
    of it to the helpdesk can be older); ``last_error``: why the last try was postponed, if it was."""

    id: int
    event: SocialEvent
    attempts: int
    attempted: bool
    due_at: float = 0.0
    received_at: float = 0.0
    last_error: str | None = None


@dataclass(frozen=True)
class WorkItem:
    """A row of ``inbox`` or ``ticket_events`` that a worker may take."""

    table: str
    id: int
    key: str  # thread key (inbox) or "helpdesk:ticket id" (ticket events)


def migrates_itself(url: str) -> bool:
    """The embedded store (SQLite) migrates when opened; at scale ``socialdesk db upgrade`` is run once per release."""
    return url.startswith("sqlite")


def create_engine(url: str) -> Engine:
    """An engine with the settings each backend needs to be durable and concurrent."""
    drivers.require(url, "database_url")
    try:
        _sqlite_folder(sa.engine.make_url(url))
        return _create_engine(url)
    except sa.exc.ArgumentError as e:  # the message names the scheme, never the URL (it may hold a password)
        hint = "; PostgreSQL is postgresql://" if url.startswith("postgres:") else ""
        raise ConfigError(f"bridge.database_url: {str(e).splitlines()[0]}{hint}") from None


def _sqlite_folder(url: sa.engine.URL) -> None:
    """The folder of an SQLite file must exist (SQLite creates the file, not its folder): said as the setting's
    fault by every command, ``doctor`` included (it said "the database is unavailable (unable to open database
    file)", the others the migration lock's FileNotFoundError)."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return
    require_sqlite_folder(database, "database_url", "database")


def require_sqlite_folder(path: str, key: str, what: str) -> None:
    """Refuse an SQLite file whose folder is missing, naming the setting and the folder: the store and the
    queue say it alike (the queue created the folder while the store refused it: a typo in one setting was an
    error, in the other a new folder)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ConfigError(f"bridge.{key}: cannot create the SQLite {what} in {folder} (No such file or directory)")


def _create_engine(url: str) -> Engine:
    # hide_parameters: an error's text (logged, kept in a dead letter) must not carry the row's values
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, hide_parameters=True)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True)
    sa.event.listen(engine, "before_cursor_execute", _parameters_without_nul, retval=True)
    return engine


def without_nul(value: Any) -> Any:
    """``value`` with the NUL characters taken out of its strings (walking lists, tuples and dicts).

    PostgreSQL's text cannot hold a NUL: one in any field a customer filled in (a name, a reply target,
    the text) failed the write and dead-lettered the message. A NUL carries no meaning in text, so every
    value the store writes or looks up is cleaned here, the one place, on both backends alike. The
    identifiers a message is deduplicated by are refused with a NUL instead (``webhooks.common.ingest``),
    so that two ids never become one."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {k: without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(without_nul(v) for v in value)
    return value


def _parameters_without_nul(
    conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> tuple[str, Any]:
    return statement, without_nul(parameters)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # first: switching to WAL waits for the lock too (a process still migrating a fresh store holds it for
    # seconds), and with only the driver's 5 s default that wait ended in 'database is locked'
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the webhook's writer
    cursor.execute("PRAGMA synchronous=FULL")  # acknowledged means on disk
    cursor.close()


def _event(payload: str) -> SocialEvent:
    """The event of an inbox row, NUL characters taken out (see :func:`without_nul`): the helpdesk and every
    row the worker writes get the same text. The payload keeps them, JSON-escaped, as the platform sent it."""
    if "\\u0000" not in payload:  # the usual case: no JSON escape of a NUL anywhere
        return SocialEvent.from_json(payload)
    return SocialEvent.from_json(json.dumps(without_nul(json.loads(payload)), ensure_ascii=False))


def insert_ignoring_duplicates(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows, skipping those that hit a unique constraint; return how many were new."""
    if not rows:
        return 0
    dialect = conn.dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - only the two supported backends
        raise RuntimeError(f"unsupported database {dialect}")
    # RETURNING counts what was really inserted: rowcount is -1 on PostgreSQL for ON CONFLICT DO NOTHING
    key = next(iter(table.primary_key.columns))
    return len(conn.execute(stmt.returning(key), list(rows)).all())


class Store:
    """All reads and writes of the bridge's state. Each method is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._inbox_writer = InboxWriter(engine)
        self._ingests: GroupCommit[Sequence[IngestRow], int] = GroupCommit(self._inbox_writer.write)

    @classmethod
    def from_url(cls, url: str, *, migrate: bool | None = None) -> Store:
        """Open the store. The embedded default (SQLite) migrates itself; at scale, run ``socialdesk db
        upgrade`` once per release instead (``migrate=None`` chooses by backend)."""
        store = cls(create_engine(url))
        if migrate is None:
            migrate = migrates_itself(url)
        if migrate:
            store.upgrade()
        return store

    def upgrade(self, revision: str = "head") -> None:
        """Apply the Alembic migrations shipped in ``bridge/migrations``. Safe when any number of processes
        start at once (``serve`` and ``worker`` side by side): one migrates, the others wait for it and then
        find nothing left to do."""
        from alembic import command

        if revision == "head":
            before = self._revision_unlocked()
            if before == head_revision():
                return  # the usual start: nothing to lock
            if before is not None and before not in known_revisions():  # alembic: "Can't locate revision"
                raise BridgeError(schema_refusal(before))
        cfg = _alembic_config()
        with _migration_lock(self.engine), self._translated(), self.engine.begin() as conn:
            _lock_transaction(conn)
            cfg.attributes["connection"] = conn
            before = _current_revision(conn)  # read inside the lock
            command.upgrade(cfg, revision)
            after = _current_revision(conn)
        if after != before:
            log.info("database schema migrated from revision %s to %s", before or "none", after)

    def ping(self) -> None:
        """One trivial query: raises :class:`bridge.errors.Unavailable` when the database cannot answer."""
        with self.begin() as conn:
            conn.execute(sa.select(1))

    def close(self) -> None:
        """Close the ingest writer's connection and the pool's."""
        self._inbox_writer.close()
        self.engine.dispose()

    def _revision_unlocked(self) -> str | None:
        """The revision, read before taking the migration lock: another process migrating a fresh SQLite store
        can make that read fail ('database is locked'), and then the lock is taken and it is read again."""
        try:
            return self.revision()
        except Unavailable:
            return None

    def revision(self) -> str | None:
        """The schema's current Alembic revision (None: never migrated)."""
        with self._translated(), self.engine.connect() as conn:
            return _current_revision(conn)

    def require_current(self) -> None:
        """Refuse to run on a schema older than this release's (at scale, ``db upgrade`` is run by hand):
        the work would fail on a missing table, event after event, instead of once at start."""
        current = self.revision()
        if current != head_revision():
            raise BridgeError(schema_refusal(current))

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction. A database that is locked, restarting or unreachable raises the retryable
        :class:`bridge.errors.Unavailable`, so the work is postponed like any outage, never dead-lettered."""
        with self._translated(), self.engine.begin() as conn:
            yield conn

    @staticmethod
    @contextmanager
    def _translated() -> Iterator[None]:
        try:
            yield
        except sa.exc.OperationalError as e:
            reason = str(e.orig).strip().splitlines()[0] if e.orig is not None else type(e).__name__
            raise Unavailable(f"the database is unavailable ({reason})", platform="store") from e

    # -- ingest (the webhook request path: one write) -------------------------------------------------

    def ingest(self, events: Iterable[SocialEvent | Ignored]) -> int:
        """Store a webhook's events durably; return how many were new (redeliveries are not).

        This is the whole of the webhook's request path. Concurrent calls in one process share a
        transaction and its commit (:mod:`bridge.groupcommit`): each returns once the commit that holds
        its rows is done, with its own count. A database failure raises :class:`bridge.errors.Unavailable`
        for every call of the batch (the webhook answers 503): nothing is acknowledged unless committed.
        """
        now, events = time.time(), list(events)
        rows = [ingest_row(e, now) for e in events]
        stored = self._ingests.submit(rows) if rows else 0
        for e in events:
            metrics.ingested(e.platform, e.created_at.timestamp(), isinstance(e, Ignored), now)
        return stored

    def ingest_batch(self, batches: Sequence[Sequence[IngestRow]]) -> list[int]:
        """Write the rows of several webhooks in one transaction; see :meth:`InboxWriter.write`."""
        return self._inbox_writer.write(batches)

    def record_ticket_event(self, helpdesk: str, ticket_id: str, invocation_id: str) -> bool:
        row = {"helpdesk": helpdesk, "ticket_id": ticket_id, "invocation_id": invocation_id, "received_at": time.time()}
        with self.begin() as conn:
            return insert_ignoring_duplicates(conn, ticket_events, [row]) == 1

    # -- dispatch ------------------------------------------------------------------------------------

    def claim_due(self, *, limit: int = 200, grace: float = 60.0, now: float | None = None) -> list[WorkItem]:
        """Mark due rows as dispatched and return them; rows dispatched longer than ``grace`` ago are
        due again (the sweep: a lost queue message or a killed worker loses nothing)."""
        now = time.time() if now is None else now
        items: list[WorkItem] = []
        with self.begin() as conn:
            for table, key_col in ((inbox, inbox.c.thread_key), (ticket_events, _ticket_key_expr())):
                due = sa.and_(
                    table.c.status == "pending",
                    table.c.next_attempt_at <= now,
                    sa.or_(table.c.dispatched_at.is_(None), table.c.dispatched_at < now - grace),
                )
                rows = conn.execute(sa.select(table.c.id, key_col).where(due).order_by(table.c.id).limit(limit)).all()
                for row_id, key in rows:
                    claimed = conn.execute(
                        sa.update(table).where(table.c.id == row_id, due).values(dispatched_at=now)
                    ).rowcount
                    if claimed:
                        items.append(WorkItem(table.name, int(row_id), str(key)))
            items += self._claim_enrichments(conn, now=now, grace=grace, limit=limit)
            items += self._claim_acks(conn, now=now, grace=grace, limit=limit)
        return items

    @staticmethod
    def _claim_acks(conn: Connection, *, now: float, grace: float, limit: int) -> list[WorkItem]:
        """Acknowledgements whose delay is over (claimed by pushing their due time out, as enrichments), and
        those whose send outlived :data:`ACK_SEND_TIMEOUT` (the worker died in the call): never sent again,
        they are ``unknown``, and claimed like a due one so that the ticket is told."""
        stuck = sa.and_(auto_acks.c.status == "sending", auto_acks.c.updated_at < now - ACK_SEND_TIMEOUT)
        conn.execute(sa.update(auto_acks).where(stuck).values(status="unknown", due_at=now, updated_at=now))
        due = sa.and_(auto_acks.c.status.in_(("due", "unknown")), auto_acks.c.due_at <= now)
        rows = conn.execute(sa.select(auto_acks.c.id, auto_acks.c.thread_key).where(due).limit(limit)).all()
        claimed = []
        for row_id, key in rows:
            if conn.execute(
                sa.update(auto_acks).where(auto_acks.c.id == row_id, due).values(due_at=now + grace)
            ).rowcount:
                claimed.append(WorkItem("auto_acks", int(row_id), str(key)))
        return claimed

    @staticmethod
    def _claim_enrichments(conn: Connection, *, now: float, grace: float, limit: int) -> list[WorkItem]:
        """Threads owed a CRM enrichment whose time has come (claimed by pushing their due time out)."""
        due = sa.and_(  # owed to a ticket: none until the thread's event has recorded its ticket
            threads.c.enrichment == "pending", threads.c.enrichment_due_at <= now, threads.c.ticket_id.isnot(None)
        )
        keys = conn.execute(sa.select(threads.c.key).where(due).limit(limit)).scalars().all()
        claimed = []
        for key in keys:
            if conn.execute(
                sa.update(threads).where(threads.c.key == key, due).values(enrichment_due_at=now + grace)
            ).rowcount:
                claimed.append(WorkItem("threads", 0, str(key)))
        return claimed

    def pending_inbox(self, thread_key: str) -> list[PendingEvent]:
        """This thread's unfinished events in the platform's order."""
        with self.begin() as conn:
            rows = conn.execute(
                sa.select(inbox.c.id, inbox.c.payload, inbox.c.attempts, inbox.c.attempted_at, inbox.c.next_attempt_at,
                          inbox.c.received_at, inbox.c.last_error)
                .where(inbox.c.thread_key == thread_key, inbox.c.status == InboxStatus.PENDING)
                .order_by(inbox.c.platform_ts, inbox.c.id)
            ).all()  # fmt: skip
        return [PendingEvent(int(r.id), _event(r.payload), int(r.attempts), r.attempted_at is not None,
                             float(r.next_attempt_at), float(r.received_at), r.last_error) for r in rows]  # fmt: skip

    def mark_attempted(self, row_id: int) -> None:
        with self.begin() as conn:
            conn.execute(sa.update(inbox).where(inbox.c.id == row_id).values(attempted_at=time.time()))

    def pending_ticket_events(self, helpdesk: str, ticket_id: str) -> list[int]:
        with self.begin() as conn:
            rows = conn.execute(
                sa.select(ticket_events.c.id).where(
                    ticket_events.c.helpdesk == helpdesk,
                    ticket_events.c.ticket_id == ticket_id,
                    ticket_events.c.status == "pending",
                )
            ).all()
        return [int(r.id) for r in rows]

    def finish(self, table_name: str, ids: Sequence[int], status: str, error: str | None = None) -> None:
        table = metadata.tables[table_name]
        with self.begin() as conn:
            conn.execute(sa.update(table).where(table.c.id.in_(ids)).values(status=status, last_error=error))

    def start_event(self, row_id: int | None, thread_key: str, records: Records, **thread_changes: Any) -> None:
        """What must be durable before an inbox event's helpdesk write, in one transaction: the thread claimed
        (``records.claim``), its columns (``create_started_at``: after a crash the ticket is looked up first;
        the CRM note owed), the inbox row marked attempted (``row_id``; None: marked before), and the rows
        learned on the way (the requester's user, the CRM's answer)."""
        now = time.time()
        with self.begin() as conn:
            _write_records(conn, records, now)
            if thread_changes:
                _update_thread(conn, thread_key, thread_changes)
            if row_id is not None:
                conn.execute(sa.update(inbox).where(inbox.c.id == row_id).values(attempted_at=now))

    def finish_event(
        self, row_id: int, thread_key: str, *, ignored: str | None = None, new_ticket: tuple[str, str] | None = None,
        written: Written | None = None, records: Records | None = None, **thread_changes: Any,
    ) -> bool:  # fmt: skip
        """An inbox event's outcome (done, or ignored with the reason) and what it changed on its thread, in
        one transaction (one commit); ``new_ticket`` (helpdesk, ticket id): a ticket the thread did not
        have, linked to it for good; ``written``: a customer message's write to the helpdesk, for the figures;
        ``records``: rows learned on the way and not written yet (:class:`Records`). False when the send's
        outcome in ``records`` did not take (an "unknown" for a row another worker recorded meanwhile,
        :func:`_finish_delivery`): the caller's note and metric about it would contradict the row."""
        status = InboxStatus.DONE if ignored is None else InboxStatus.IGNORED
        values: dict[str, Any] = {"status": status, "last_error": ignored}
        if written is not None:
            values.update(ticket_at=written.ticket_at, opens_episode=written.opens_episode,
                          sentiment=written.sentiment, no_answer=written.no_answer)  # fmt: skip
        with self.begin() as conn:
            took = _write_records(conn, records, time.time()) if records is not None else True
            conn.execute(sa.update(inbox).where(inbox.c.id == row_id).values(**values))
            if thread_changes:
                _update_thread(conn, thread_key, thread_changes)
            if new_ticket is not None:
                _link_ticket(conn, *new_ticket, thread_key)
        return took

    def link_ticket(self, helpdesk: str, ticket_id: str, thread_key: str) -> None:
        with self.begin() as conn:
            _link_ticket(conn, helpdesk, ticket_id, thread_key)

    def dead_letter(self, table_name: str, ids: Sequence[int], *, key: str, error: str) -> None:
        """Park work that failed for good: visible in ``dead_letters`` with its reason, replayable."""
        table, now = metadata.tables[table_name], time.time()
        rows = [{"source": table_name, "source_id": i, "key": key, "error": error, "created_at": now} for i in ids]
        with self.begin() as conn:
            conn.execute(sa.update(table).where(table.c.id.in_(ids)).values(status="dead", last_error=error))
            if rows:
                conn.execute(sa.insert(dead_letters), rows)
        metrics.DEAD_LETTERS.labels(table_name).inc(len(rows))

    def open_dead_letters(self) -> list[dict[str, Any]]:
        stmt = sa.select(dead_letters).where(dead_letters.c.replayed_at.is_(None)).order_by(dead_letters.c.id)
        with self.begin() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def replay(self, ids: Sequence[int] | None = None) -> list[int]:
        """Make dead-lettered work pending again (all open ones when ``ids`` is None); return the ids replayed."""
        now = time.time()
        with self.begin() as conn:
            stmt = sa.select(dead_letters).where(dead_letters.c.replayed_at.is_(None))
            if ids is not None:
                stmt = stmt.where(dead_letters.c.id.in_(ids))
            letters = conn.execute(stmt).all()
            for letter in letters:
                table = metadata.tables[letter.source]
                conn.execute(
                    sa.update(table)
                    .where(table.c.id == letter.source_id, table.c.status == "dead")
                    .values(status="pending", attempts=0, next_attempt_at=0, dispatched_at=None)
                )
                conn.execute(sa.update(dead_letters).where(dead_letters.c.id == letter.id).values(replayed_at=now))
        return [int(letter.id) for letter in letters]

    def postpone(self, table_name: str, ids: Sequence[int], *, delay: float, error: str) -> None:
        table = metadata.tables[table_name]
        with self.begin() as conn:
            conn.execute(
                sa.update(table)
                .where(table.c.id.in_(ids))
                .values(
                    attempts=table.c.attempts + 1,
                    next_attempt_at=time.time() + delay,
                    dispatched_at=None,
                    last_error=error,
                )
            )
        metrics.POSTPONED.labels(table_name).inc(len(ids))

    def max_attempts(self, table_name: str, ids: Sequence[int]) -> int:
        table = metadata.tables[table_name]
        with self.begin() as conn:
            value = conn.execute(sa.select(sa.func.max(table.c.attempts)).where(table.c.id.in_(ids))).scalar()
        return int(value or 0)

    def counts(self, table_name: str) -> dict[str, int]:
        table = metadata.tables[table_name]
        with self.begin() as conn:
            rows = conn.execute(sa.select(table.c.status, sa.func.count()).group_by(table.c.status)).all()
        return {str(status): int(n) for status, n in rows}

    def ignored_reasons(self, since: float) -> dict[str, tuple[int, int]]:
        """The inbox events recorded as ignored, by reason: (received since ``since``, in all)."""
        reason = sa.func.coalesce(inbox.c.last_error, "no reason recorded")
        recent = sa.func.coalesce(sa.func.sum(sa.case((inbox.c.received_at >= since, 1), else_=0)), 0)
        stmt = sa.select(reason, recent, sa.func.count()).where(inbox.c.status == "ignored").group_by(reason)
        with self.begin() as conn:
            return {str(r): (int(n), int(total)) for r, n, total in conn.execute(stmt)}

    def backlog(self, table_name: str) -> dict[str, Any]:
        """The pending work of a queue table (``inbox``, ``ticket_events``): how many rows, when the oldest
        was received, how many failed at least once and wait for another attempt, and the error of the
        one of those received first."""
        table = metadata.tables[table_name]
        pending, failed_before = table.c.status == "pending", table.c.attempts > 0
        with self.begin() as conn:
            count, oldest, retrying = conn.execute(
                sa.select(sa.func.count(), sa.func.min(table.c.received_at),
                          sa.func.coalesce(sa.func.sum(sa.case((failed_before, 1), else_=0)), 0))
                .where(pending)
            ).one()  # fmt: skip
            error = conn.execute(
                sa.select(table.c.last_error).where(pending, failed_before).order_by(table.c.received_at).limit(1)
            ).scalar()
        return {"pending": int(count), "oldest_received_at": oldest, "retrying": int(retrying), "last_error": error}

    def prune(self, before: float, *, dry_run: bool = False) -> dict[str, int]:
        """Forget what finished before ``before`` (a timestamp); return how many rows of each table were
        changed (or would be, with ``dry_run``):

        * ``inbox``: the text of customers' messages done or ignored (``payload`` emptied). The row's keys
          stay: they refuse a platform's redelivery however late, and X finds a reply's thread by them;
        * ``ticket_events``: the helpdesk's "ticket changed" notices done or ignored (a late redelivery
          only makes the worker look at the ticket again: ``deliveries`` posts nothing twice);
        * ``dead_letters``: those replayed;
        * ``auto_acks``: acknowledgements sent, cancelled or never planned (their text names the customer);
          an episode that old is over, so the next message starts a new one as it would anyway.

        Never touched: pending work and open dead letters; threads and ticket links (ticket → thread); deliveries (which
        agent comment was posted) and the ids of posted messages (echoes, receipts, X threading); the
        identities and the CRM cache (write-back links posts to the Contact from it). A chunk of
        ``PRUNE_CHUNK`` rows per transaction, walking the primary key once: a webhook never waits long for
        the write lock, and the work stays linear in the table's size.
        """
        done = ("done", "ignored")
        targets: list[tuple[sa.Table, sa.ColumnElement[bool], Callable[[sa.ColumnElement[bool]], Any]]] = [
            (inbox, sa.and_(inbox.c.status.in_(done), inbox.c.received_at < before, inbox.c.payload != REDACTED),
             lambda these: sa.update(inbox).where(these).values(payload=REDACTED)),
            (ticket_events, sa.and_(ticket_events.c.status.in_(done), ticket_events.c.received_at < before),
             lambda these: sa.delete(ticket_events).where(these)),
            (dead_letters, dead_letters.c.replayed_at < before, lambda these: sa.delete(dead_letters).where(these)),
            (auto_acks, sa.and_(auto_acks.c.status.notin_(ACK_UNFINISHED), auto_acks.c.updated_at < before),
             lambda these: sa.delete(auto_acks).where(these)),
        ]  # fmt: skip
        counts: dict[str, int] = {}
        for table, old, change in targets:
            counts[table.name], last = 0, 0
            while True:
                with self.begin() as conn:  # the next chunk by primary key; ``old`` is judged row by row in it
                    chunk = conn.execute(
                        sa.select(table.c.id, old).where(table.c.id > last).order_by(table.c.id).limit(PRUNE_CHUNK)
                    ).all()
                    ids = [row_id for row_id, is_old in chunk if is_old]
                    if ids and not dry_run:
                        conn.execute(change(table.c.id.in_(ids)))
                counts[table.name] += len(ids)
                if len(chunk) < PRUNE_CHUNK:
                    break
                last = chunk[-1][0]
        return counts

    def rows(self, table_name: str, **where: Any) -> list[dict[str, Any]]:
        """Plain rows of a table, for the CLI, the demo and the tests."""
        table = metadata.tables[table_name]
        stmt = sa.select(table).where(*(table.c[k] == v for k, v in where.items()))
        with self.begin() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    # -- threads ---------------------------------------------------------------------------------------

    def thread(self, key: str) -> ThreadRow | None:
        with self.begin() as conn:
            row = conn.execute(sa.select(threads).where(threads.c.key == key)).mappings().first()
        return ThreadRow.of(row) if row else None

    def tickets_linked_before(self, helpdesk: str, thread_key: str, at: float) -> set[str]:
        """The tickets the thread had before ``at`` (a ticket create's start): none can be what the create made."""
        link = sa.and_(ticket_links.c.helpdesk == helpdesk, ticket_links.c.thread_key == thread_key)
        with self.begin() as conn:
            rows = conn.execute(sa.select(ticket_links.c.ticket_id).where(link, ticket_links.c.created_at < at))
            return {str(ticket_id) for ticket_id in rows.scalars()}

    def thread_for_ticket(self, helpdesk: str, ticket_id: str) -> ThreadRow | None:
        """The thread this ticket was opened for, whether or not it is still the thread's current ticket."""
        link = sa.and_(ticket_links.c.helpdesk == helpdesk, ticket_links.c.ticket_id == ticket_id)
        with self.begin() as conn:
            row = (
                conn.execute(
                    sa.select(threads).join(ticket_links, ticket_links.c.thread_key == threads.c.key).where(link)
                )
                .mappings()
                .first()
            )
        return ThreadRow.of(row) if row else None

    def load_thread_context(
        self, event: SocialEvent, helpdesk: str, *, pauses: Sequence[str] | None = None, joins: bool = False,
        acks_since: float | None = None, bot: str | None = None,
    ) -> ThreadContext:  # fmt: skip
        """What the worker needs about ``event``'s thread, in one read: whether it is the echo of our own
        message, the thread row, the author's helpdesk user, the CRM's cached record of the author, and (when
        the pause board is this store) the pauses of the connectors named in ``pauses``; with ``joins``, the
        identity's latest join to a CRM contact (:mod:`bridge.joins`); with ``acks_since``, the thread's latest
        acknowledgement and whether a person replied since then (:mod:`bridge.acks`); with ``bot`` (the
        comment id ending of this message's answer), the bot's messages and the latest person's reply
        (:class:`BotState`, :mod:`bridge.bot`)."""
        author = event.author.id
        with self.begin() as conn:
            echo = conn.execute(
                sa.select(sa.literal(1)).where(
                    sent_messages.c.platform == event.platform, sent_messages.c.message_id == event.message_id
                )
            ).first()
            row = conn.execute(sa.select(threads).where(threads.c.key == event.thread_key)).mappings().first()
            identity = conn.execute(
                sa.select(identities.c.helpdesk_user_id).where(
                    identities.c.key == f"{helpdesk}:{event.platform}:{author}"
                )
            ).scalar()
            crm = conn.execute(sa.select(crm_cache).where(crm_cache.c.key == f"{event.platform}:{author}")).first()
            paused = None if pauses is None else _pauses(conn, pauses)
            joined = _last_join(conn, f"{helpdesk}:{event.platform}:{author}") if joins else None
            key = event.thread_key
            heard = _human_reply_at(conn, key) if acks_since is not None or bot is not None else None  # both read it
            acks = None if acks_since is None else AckState(_latest_ack(conn, key), _replied_since(heard, acks_since))
            thread = ThreadRow.of(row) if row else None
            since = thread.earliest_episode_start(event.created_at.timestamp()) if thread else 0.0
            bot_state = None if bot is None else _bot_state(conn, key, since, bot, heard)
        return ThreadContext(
            echo=echo is not None,
            thread=thread,
            identity=identity,
            crm=CrmCached(json.loads(crm.record) if crm.record else {}, float(crm.fetched_at)) if crm else None,
            paused_until=paused,
            last_join=None if joined is None else LastJoin(joined or None),
            acks=acks,
            bot=bot_state,
        )

    def claim_thread(self, event: SocialEvent, helpdesk: str) -> ThreadRow:
        """The thread row, inserted first if it does not exist (unique key: two claims make one row)."""
        with self.begin() as conn:
            insert_ignoring_duplicates(conn, threads, [_thread_row(event, helpdesk, time.time())])
            found = conn.execute(sa.select(threads).where(threads.c.key == event.thread_key)).mappings().one()
        return ThreadRow.of(found)

    def update_thread(self, key: str, **values: Any) -> None:
        with self.begin() as conn:
            _update_thread(conn, key, values)

    # -- identities ----------------------------------------------------------------------------------

    def identity(self, key: str) -> str | None:
        with self.begin() as conn:
            return conn.execute(sa.select(identities.c.helpdesk_user_id).where(identities.c.key == key)).scalar()

    def identities_of(self, keys: Sequence[str]) -> dict[str, str]:
        """The helpdesk users of those keys that have one, in one transaction."""
        query = sa.select(identities.c.key, identities.c.helpdesk_user_id).where(identities.c.key.in_(list(keys)))
        with self.begin() as conn:
            return {str(k): str(u) for k, u in conn.execute(query)}

    def remember_identity(self, key: str, user_id: str) -> None:
        with self.begin() as conn:
            _remember_identity(conn, key, user_id, time.time())

    def remember_identities(self, users: Sequence[tuple[str, str]]) -> None:
        """(key, helpdesk user id) pairs in one transaction (a sync's batch of Contacts' users)."""
        now = time.time()
        with self.begin() as conn:
            for key, user_id in users:
                _remember_identity(conn, key, user_id, now)

    def forget_identity(self, key: str, user_id: str) -> None:
        """Forget the key's user if it is still this one (the helpdesk no longer has it)."""
        with self.begin() as conn:
            conn.execute(sa.delete(identities).where(identities.c.key == key, identities.c.helpdesk_user_id == user_id))

    def forget_helpdesk_user(self, helpdesk: str, user_id: str) -> int:
        """Forget every identity (a social one or a Contact's) whose user is this one: the helpdesk merged it into
        another, deleted it or made it inactive. Their next message finds or makes the user by its key. How many."""
        gone = sa.and_(identities.c.key.startswith(f"{helpdesk}:", autoescape=True),
                       identities.c.helpdesk_user_id == user_id)  # fmt: skip
        with self.begin() as conn:
            return int(conn.execute(sa.delete(identities).where(gone)).rowcount or 0)

    def record_join(
        self, row: dict[str, Any], *, user_id: str | None, contact_user: tuple[str, str] | None = None
    ) -> None:
        """One ``user_joins`` row and the identity's user (None: forgotten) in one transaction; ``contact_user``:
        the Contact's user (key, user id) remembered in it too, as the sync remembers it."""
        key = str(row["identity_key"])
        with self.begin() as conn:
            conn.execute(sa.insert(user_joins).values(**row, at=time.time()))
            conn.execute(sa.delete(identities).where(identities.c.key == key))
            if user_id is not None:
                conn.execute(sa.insert(identities).values(key=key, helpdesk_user_id=user_id, updated_at=time.time()))
            if contact_user is not None:
                _remember_identity(conn, *contact_user, time.time())

    def last_join(self, identity_key: str) -> dict[str, Any] | None:
        """The identity's latest ``user_joins`` row, if it ever had one."""
        with self.begin() as conn:
            return _last_join(conn, identity_key) or None

    def recent_joins(self, since: float) -> list[dict[str, Any]]:
        """``user_joins`` rows written since ``since``, newest first (``socialdesk status``)."""
        query = sa.select(user_joins).where(user_joins.c.at >= since).order_by(user_joins.c.id.desc())
        with self.begin() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    # -- deliveries ----------------------------------------------------------------------------------

    def delivery(self, helpdesk: str, comment_id: str) -> dict[str, Any] | None:
        with self.begin() as conn:
            row = conn.execute(
                sa.select(deliveries).where(deliveries.c.helpdesk == helpdesk, deliveries.c.comment_id == comment_id)
            ).first()
        return dict(row._mapping) if row else None

    def start_delivery(
        self, *, helpdesk: str, comment_id: str, ticket_id: str, thread_key: str, at: float,
        author_kind: AuthorKind = AuthorKind.HUMAN,
    ) -> bool:  # fmt: skip
        """Record "sending" before the platform is called. False when the comment already has a row."""
        now = time.time()
        row = {
            "author_kind": author_kind,
            "helpdesk": helpdesk,
            "comment_id": comment_id,
            "ticket_id": ticket_id,
            "thread_key": thread_key,
            "status": "sending",
            "comment_created_at": at,
            "created_at": now,
            "updated_at": now,
        }
        with self.begin() as conn:
            return insert_ignoring_duplicates(conn, deliveries, [row]) == 1

    def finish_delivery(
        self, helpdesk: str, comment_id: str, *, status: str, platform: str, message_ids: Sequence[str] = (),
        error: str | None = None, author_kind: AuthorKind | None = None,
    ) -> Finished:  # fmt: skip
        """A delivery's outcome (``sent`` stamps ``delivered_at``; ``error``: the reason, or how it went out;
        ``author_kind``: who wrote what went out, when not the row's, e.g. a template sent instead of the reply).
        Returns whether the row took it ("unknown" replaces "sending" only, :func:`_finish_delivery`) and the
        first-response time (seconds, from the platform time of the thread's current episode's first message) when
        this is the episode's first human reply delivered, recorded on the thread in the same transaction."""
        outcome = DeliveryOutcome(helpdesk, comment_id, DeliveryStatus(status), platform, tuple(message_ids), error)
        with self.begin() as conn:
            return _finish_delivery(conn, outcome, time.time(), author_kind=author_kind)

    def waiting_episodes(self, channel: str | None, *, limit: int, with_text: bool) -> list[WaitingRow]:
        """Threads (of ``channel``, or all) whose current episode waits for its first human reply, longest
        first; with ``with_text``, the payload of the thread's last customer message too (else never read).
        An episode whose ticket was solved (without a reply) or whose every message needs no answer waits for
        nothing: left out, else it would stay at the top of the list for good."""
        payload = inbox.c.payload if with_text else sa.null()
        row = inbox.alias("episode_row")  # apart from the outer join's inbox (the text)
        mine = sa.select(row.c.id).where(row.c.thread_key == threads.c.key,
                                         row.c.platform_ts >= threads.c.episode_started_at)  # fmt: skip
        solved = mine.where(row.c.solved_at.isnot(None)).exists()
        needing = mine.where(sa.func.coalesce(row.c.no_answer, sa.false()) == sa.false()).exists()
        stmt = (
            sa.select(threads.c.channel, threads.c.platform, threads.c.episode_started_at, payload)
            .where(threads.c.episode_started_at.isnot(None), threads.c.episode_answered_at.is_(None), ~solved,
                   needing, *([threads.c.channel == channel] if channel else []))
            .order_by(threads.c.episode_started_at).limit(limit)
        )  # fmt: skip
        if with_text:
            stmt = stmt.outerjoin(inbox, sa.and_(inbox.c.platform == threads.c.platform,
                                                 inbox.c.account_id == threads.c.account_id,
                                                 inbox.c.message_id == threads.c.last_inbound_message_id))  # fmt: skip
        with self.begin() as conn:
            return [WaitingRow(*r) for r in conn.execute(stmt)]

    def finish_ticket_events(self, ids: Sequence[int], *, solved: tuple[str, float, float] | None = None) -> None:
        """A ticket's events done and, with ``solved`` (the thread's key, its current episode's start and the
        helpdesk's solved time), that episode's first message stamped solved, the first time only:
        one transaction, so the figures' resolution time costs the worker no write of its own."""
        with self.begin() as conn:
            conn.execute(
                sa.update(ticket_events).where(ticket_events.c.id.in_(ids)).values(status="done", last_error=None)
            )
            if solved is not None:
                thread_key, episode_at, solved_at = solved
                conn.execute(
                    sa.update(inbox)
                    .where(inbox.c.thread_key == thread_key, inbox.c.platform_ts == episode_at,
                           inbox.c.opens_episode.is_(True), inbox.c.solved_at.is_(None))
                    .values(solved_at=solved_at)
                )  # fmt: skip

    def mark_noted(self, helpdesk: str, comment_id: str) -> None:
        with self.begin() as conn:
            conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.helpdesk == helpdesk, deliveries.c.comment_id == comment_id)
                .values(noted=True)
            )

    def forget_delivery(self, helpdesk: str, comment_id: str, *, approved: bool = False) -> None:
        """Drop a "sending" row whose request was certainly refused (nothing posted), so it is retried; an
        ``approved`` reply's row goes back to ``approved`` instead, so that its approval is kept."""
        where = sa.and_(
            deliveries.c.helpdesk == helpdesk, deliveries.c.comment_id == comment_id, deliveries.c.status == "sending"
        )
        back = sa.update(deliveries).where(where).values(status=DeliveryStatus.APPROVED, updated_at=time.time())
        with self.begin() as conn:
            conn.execute(back if approved else sa.delete(deliveries).where(where))

    def delivery_for_message(self, platform: str, message_id: str) -> dict[str, Any] | None:
        """The delivery that posted this platform message, if we sent it."""
        stmt = (
            sa.select(deliveries)
            .join(sent_messages, sent_messages.c.delivery_id == deliveries.c.id)
            .where(sent_messages.c.platform == platform, sent_messages.c.message_id == message_id)
        )
        with self.begin() as conn:
            row = conn.execute(stmt).first()
        return dict(row._mapping) if row else None

    def set_delivery_receipt(self, delivery_id: int, receipt: str) -> None:
        """The platform's later word on a sent reply; "failed" (a WhatsApp status) also takes back the episode's
        answer when this reply was it: the customer is waiting again (the figures read it as no response)."""
        with self.begin() as conn:
            row = conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(receipt=receipt, updated_at=time.time())
                .returning(deliveries.c.thread_key, deliveries.c.delivered_at)
            ).first()
            if receipt == "failed" and row is not None and row.delivered_at is not None:
                conn.execute(
                    sa.update(threads)
                    .where(threads.c.key == row.thread_key, threads.c.episode_answered_at == row.delivered_at)
                    .values(episode_answered_at=None)
                )

    def is_our_message(self, platform: str, message_id: str) -> bool:
        with self.begin() as conn:
            found = conn.execute(
                sa.select(sa.literal(1)).where(
                    sent_messages.c.platform == platform, sent_messages.c.message_id == message_id
                )
            ).first()
        return found is not None

    # -- CRM cache -----------------------------------------------------------------------------------------

    # -- automatic acknowledgements (bridge.acks) --------------------------------------------------------

    def latest_ack(self, thread_key: str) -> dict[str, Any] | None:
        """The thread's latest episode row, if any."""
        with self.begin() as conn:
            return _latest_ack(conn, thread_key)

    def plan_ack(self, *, thread_key: str, episode_at: float, ticket_id: str, public: bool, status: str,
                 text: str | None, reason: str | None, due_at: float | None) -> bool:  # fmt: skip
        """Record an episode's decision; False when the episode has one already (a retried event)."""
        row = ack_row(thread_key=thread_key, episode_at=episode_at, ticket_id=ticket_id, public=public,
                      status=status, text=text, reason=reason, due_at=due_at)  # fmt: skip
        with self.begin() as conn:
            return insert_ignoring_duplicates(conn, auto_acks, [row]) == 1

    def ack_summary(self, since: float) -> tuple[dict[str, int], dict[str, int]]:
        """The episodes planned since ``since``: how many by status, and why none (or not sent) by reason."""
        recent = auto_acks.c.created_at >= since
        by_status = sa.select(auto_acks.c.status, sa.func.count()).where(recent).group_by(auto_acks.c.status)
        why = sa.select(auto_acks.c.reason, sa.func.count()).where(recent, auto_acks.c.reason.isnot(None))
        with self.begin() as conn:
            statuses = {str(k): int(n) for k, n in conn.execute(by_status)}
            reasons = {str(k): int(n) for k, n in conn.execute(why.group_by(auto_acks.c.reason))}
        return statuses, reasons

    def ack(self, ack_id: int) -> dict[str, Any] | None:
        with self.begin() as conn:
            row = conn.execute(sa.select(auto_acks).where(auto_acks.c.id == ack_id)).mappings().first()
        return dict(row) if row else None

    def set_ack(self, ack_id: int, *, status: str, reason: str | None = None, when: str = "due") -> bool:
        """Move an ack from status ``when`` to ``status``; False when another worker moved it first."""
        where = sa.and_(auto_acks.c.id == ack_id, auto_acks.c.status == when)
        with self.begin() as conn:
            values = {"status": status, "reason": reason, "updated_at": time.time()}
            return bool(conn.execute(sa.update(auto_acks).where(where).values(**values)).rowcount)

    def agent_replied_since(self, thread_key: str, since: float) -> bool:
        """Whether an agent's reply (not an ack, not the bot's; not held, rejected or failed) on this thread was
        written in the helpdesk at or after ``since`` (to the second: helpdesks date comments in whole seconds,
        the platforms in milliseconds)."""
        with self.begin() as conn:
            return _agent_replied_since(conn, thread_key, since)

    def bot_summary(self, since: float) -> dict[str, int]:
        """The bot's messages since ``since`` by delivery status (sent, failed...): ``socialdesk status``."""
        query = (
            sa.select(deliveries.c.status, sa.func.count())
            .where(deliveries.c.author_kind == AuthorKind.BOT, deliveries.c.created_at >= since)
            .group_by(deliveries.c.status)
        )
        with self.begin() as conn:
            return {str(status): int(n) for status, n in conn.execute(query)}

    def crm_cached(self, key: str, *, max_age: float) -> dict[str, str] | None:
        """The cached record (``{}`` when the CRM knew nobody), or None when absent or older than ``max_age``."""
        with self.begin() as conn:
            row = conn.execute(sa.select(crm_cache).where(crm_cache.c.key == key)).first()
        if row is None or row.fetched_at < time.time() - max_age:
            return None
        return json.loads(row.record) if row.record else {}

    def cache_crm(self, key: str, record: dict[str, str] | None) -> None:
        with self.begin() as conn:
            _cache_crm(conn, key, record, time.time())

    # -- sync cursors ------------------------------------------------------------------------------------

    def sync_cursor(self, name: str) -> datetime | None:
        with self.begin() as conn:
            value = conn.execute(sa.select(sync_cursors.c.cursor).where(sync_cursors.c.name == name)).scalar()
        return datetime.fromisoformat(value) if value else None

    def save_sync_cursor(self, name: str, cursor: datetime) -> None:
        values = {"cursor": cursor.isoformat(), "updated_at": time.time()}
        with self.begin() as conn:
            if not conn.execute(sa.update(sync_cursors).where(sync_cursors.c.name == name).values(**values)).rowcount:
                insert_ignoring_duplicates(conn, sync_cursors, [{"name": name, **values}])

    # -- settings written by `socialdesk setup` ------------------------------------------------------------

    def setting(self, key: str) -> str | None:
        with self.begin() as conn:
            return conn.execute(sa.select(settings.c.value).where(settings.c.key == key)).scalar()

    def settings_of(self, keys: Sequence[str]) -> dict[str, str]:
        """Those settings that are set, in one read."""
        with self.begin() as conn:
            rows = conn.execute(sa.select(settings.c.key, settings.c.value).where(settings.c.key.in_(list(keys))))
            return {str(k): str(v) for k, v in rows if v}

    def set_setting(self, key: str, value: str) -> None:
        with self.begin() as conn:
            if not conn.execute(
                sa.update(settings).where(settings.c.key == key).values(value=value, updated_at=time.time())
            ).rowcount:
                conn.execute(sa.insert(settings).values(key=key, value=value, updated_at=time.time()))

    # -- leases and pauses ---------------------------------------------------------------------------

    def acquire_lease(self, key: str, owner: str, *, ttl: float) -> bool:
        now = time.time()
        with self.begin() as conn:
            insert_ignoring_duplicates(conn, leases, [{"key": key, "owner": None, "until": 0}])
            taken = conn.execute(
                sa.update(leases)
                .where(leases.c.key == key, sa.or_(leases.c.until < now, leases.c.owner == owner))
                .values(owner=owner, until=now + ttl)
            ).rowcount
        return bool(taken)

    def renew_lease(self, key: str, owner: str, *, ttl: float) -> bool:
        """Extend a lease ``owner`` still holds; False when it was released or ran out (never re-taken)."""
        now = time.time()
        with self.begin() as conn:
            return bool(
                conn.execute(
                    sa.update(leases)
                    .where(leases.c.key == key, leases.c.owner == owner, leases.c.until >= now)
                    .values(until=now + ttl)
                ).rowcount
            )

    def release_lease(self, key: str, owner: str) -> None:
        with self.begin() as conn:
            conn.execute(sa.update(leases).where(leases.c.key == key, leases.c.owner == owner).values(until=0))

    def pause(self, connector: str, until: float, reason: str) -> None:
        with self.begin() as conn:
            updated = conn.execute(
                sa.update(pauses)
                .where(pauses.c.connector == connector, pauses.c.until < until)
                .values(until=until, reason=reason)
            ).rowcount
            if not updated:
                insert_ignoring_duplicates(conn, pauses, [{"connector": connector, "until": until, "reason": reason}])

    def paused_until(self, connector: str) -> float:
        with self.begin() as conn:
            until = conn.execute(sa.select(pauses.c.until).where(pauses.c.connector == connector)).scalar()
        return float(until or 0.0)


def _alembic_config() -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    return cfg


def _current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Between processes, on SQLite: an exclusive lock on a file next to the database (a migration on
    SQLite is not one transaction, so the database's own locks cannot hold it whole). PostgreSQL locks
    inside the migration's transaction instead (:func:`_lock_transaction`)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield  # in memory: this process's alone
        return
    with _lock_file(database) as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed, or the process dies
        yield


def _lock_file(database: str) -> IO[str]:
    """The lock file next to the SQLite database; a folder that is missing or not writable is the setting's
    fault, said as such (it was ``FileNotFoundError: ... x.db.migrate.lock``, naming neither key nor folder)."""
    try:
        return open(f"{database}.migrate.lock", "a")
    except OSError as e:
        folder = os.path.dirname(os.path.abspath(database))
        raise ConfigError(
            f"bridge.database_url: cannot create the SQLite database in {folder} ({e.strerror})"
        ) from None


def _lock_transaction(conn: Connection) -> None:
    """On PostgreSQL, one migration at a time per schema: a transaction-level advisory lock, released at
    commit, so a process that waited reads the revision the other one committed."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('socialdesk.migrate.' || current_schema()))"))


def schema_refusal(current: str | None) -> str:
    """Why this release does not run on a schema at ``current``, and what to do: one line, the same from every
    command. A revision it does not know was made by a newer release (run after a downgrade): `db upgrade`
    cannot take it back."""
    needed = head_revision()
    if current is not None and current not in known_revisions():
        return (f"the database schema is at revision {current}, newer than this release knows (it needs {needed}): "
                "run the release that made it")  # fmt: skip
    return (f"the database schema is at revision {current or 'none'}, this release needs {needed}: "
            "run `socialdesk db upgrade`")  # fmt: skip


@functools.cache
def known_revisions() -> frozenset[str]:
    """Every schema revision this release ships."""
    from alembic.script import ScriptDirectory

    return frozenset(s.revision for s in ScriptDirectory.from_config(_alembic_config()).walk_revisions())


@functools.cache
def head_revision() -> str:
    """The newest schema revision this release ships."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None, "bridge/migrations holds no revision"
    return str(head)


def ingest_row(e: SocialEvent | Ignored, now: float) -> IngestRow:
    """An event's inbox row: pending work, or recorded as ignored with its reason (and no payload)."""
    if isinstance(e, Ignored):
        at = e.created_at.timestamp()
        return (e.platform, e.account_id, e.message_id, e.channel, "", Ignored.kind, "{}", at, now, "ignored", e.reason)
    return (e.platform, e.account_id, e.message_id, e.channel, e.thread_key, e.kind, e.to_json(),
            e.created_at.timestamp(), now, "pending", None)  # fmt: skip


@dataclass(frozen=True)
class Written:
    """A customer message the worker wrote to the helpdesk: when that succeeded, and whether it opened an
    episode (:func:`bridge.figures.opens_episode`)."""

    ticket_at: float
    opens_episode: bool
    sentiment: str | None = None  # the classifier's label, when it ran
    no_answer: bool = False  # a rule or tag of [metrics] no_answer_rules / no_answer_tags applied


@dataclass(frozen=True)
class DeliveryOutcome:
    """What :meth:`Store.finish_delivery` records about one send: its status (sent, failed...), the platform's
    message ids (their echoes are dropped), the error or how it went out."""

    helpdesk: str
    comment_id: str
    status: DeliveryStatus
    platform: str
    message_ids: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Records:
    """Rows an inbox event's work learned on the way, written in the transaction that starts or finishes it
    (:meth:`Store.start_event`, :meth:`Store.finish_event`) rather than each in one of its own."""

    claim: tuple[SocialEvent, str] | None = None  # (event, helpdesk): its thread's row, inserted if absent
    identity: tuple[str, str] | None = None  # (identities key, helpdesk user id): a requester found or made
    crm: tuple[str, dict[str, str] | None] | None = None  # (crm_cache key, record; None: the CRM knew nobody)
    ack: dict[str, Any] | None = None  # the episode's acknowledgement decided (:func:`ack_row`; kept if it has one)
    delivery: DeliveryOutcome | None = None  # the outcome of a send the event made (the bot's answer, bridge.bot)


def _write_records(conn: Connection, records: Records, now: float) -> bool:
    """Writes ``records``; False when its send's outcome did not take (:func:`_finish_delivery`)."""
    if records.claim is not None:
        insert_ignoring_duplicates(conn, threads, [_thread_row(*records.claim, now)])
    if records.identity is not None:
        _remember_identity(conn, *records.identity, now)
    if records.crm is not None:
        _cache_crm(conn, *records.crm, now)
    if records.ack is not None:
        insert_ignoring_duplicates(conn, auto_acks, [records.ack])
    return records.delivery is None or _finish_delivery(conn, records.delivery, now).took


@dataclass(frozen=True)
class Finished:
    """What recording a delivery's outcome did: whether the row took it, and the first-response time (seconds)
    when it was the episode's first human reply delivered (:meth:`Store.finish_delivery`)."""

    took: bool
    first_response: float | None = None


def _finish_delivery(
    conn: Connection, outcome: DeliveryOutcome, now: float, *, author_kind: AuthorKind | None = None
) -> Finished:
    """:meth:`Store.finish_delivery` in ``conn``'s transaction. "Unknown" replaces "sending" only: a worker that
    found the row "sending" and took it for cut off (its lease expired under a stalled holder) must not overwrite
    the outcome and platform ids the holder recorded meanwhile (``took`` False then)."""
    delivered: dict[str, Any] = {"delivered_at": now} if outcome.status == DeliveryStatus.SENT else {}
    if author_kind is not None:
        delivered["author_kind"] = author_kind
    this = sa.and_(deliveries.c.helpdesk == outcome.helpdesk, deliveries.c.comment_id == outcome.comment_id)
    if outcome.status == DeliveryStatus.UNKNOWN:
        this = sa.and_(this, deliveries.c.status == DeliveryStatus.SENDING)
    row = conn.execute(
        sa.update(deliveries)
        .where(this)
        .values(status=outcome.status, message_ids=json.dumps(list(outcome.message_ids)), error=outcome.error,
                updated_at=now, **delivered)
        .returning(deliveries.c.id, deliveries.c.thread_key, deliveries.c.comment_created_at,
                   deliveries.c.author_kind)
    ).first()  # fmt: skip
    delivery_id = row.id if row is not None else None
    first_response = _answer_episode(conn, row, now) if delivered and row is not None else None
    sent = [{"platform": outcome.platform, "message_id": m, "delivery_id": delivery_id, "sent_at": now}
            for m in outcome.message_ids]  # fmt: skip
    insert_ignoring_duplicates(conn, sent_messages, sent)
    return Finished(row is not None, first_response)


def _thread_row(event: SocialEvent, helpdesk: str, now: float) -> dict[str, Any]:
    """A new thread's row (what claiming it inserts)."""
    return {"key": event.thread_key, "platform": event.platform, "channel": event.channel,
            "account_id": event.account_id, "thread_id": event.thread_id, "reply_to": event.reply_to,
            "helpdesk": helpdesk, "created_at": now, "updated_at": now}  # fmt: skip


def _remember_identity(conn: Connection, key: str, user_id: str, now: float) -> None:
    values = {"helpdesk_user_id": user_id, "updated_at": now}
    if not conn.execute(sa.update(identities).where(identities.c.key == key).values(**values)).rowcount:
        insert_ignoring_duplicates(conn, identities, [{"key": key, **values}])


def _cache_crm(conn: Connection, key: str, record: dict[str, str] | None, now: float) -> None:
    values = {"record": json.dumps(record) if record is not None else None, "fetched_at": now}
    if not conn.execute(sa.update(crm_cache).where(crm_cache.c.key == key).values(**values)).rowcount:
        insert_ignoring_duplicates(conn, crm_cache, [{"key": key, **values}])


def _answer_episode(conn: Connection, delivery: Any, now: float) -> float | None:
    """Mark the thread's current episode answered by this delivered reply when it is its first human one;
    return the first-response time, or None (answered before, automatic, or written before the episode)."""
    if delivery.author_kind != AuthorKind.HUMAN:
        return None
    # written in the episode, compared in whole seconds as a helpdesk stamps comments and as the figures do
    # (bridge.figbuild._written_in): floor(started) <= written, i.e. started < floor(written) + 1
    written = math.floor(delivery.comment_created_at if delivery.comment_created_at is not None else now) + 1
    started = conn.execute(
        sa.update(threads)
        .where(threads.c.key == delivery.thread_key, threads.c.episode_answered_at.is_(None),
               threads.c.episode_started_at < written)
        .values(episode_answered_at=now)
        .returning(threads.c.episode_started_at)
    ).scalar()  # fmt: skip
    return None if started is None else max(0.0, now - float(started))


def _link_ticket(conn: Connection, helpdesk: str, ticket_id: str, thread_key: str) -> None:
    link = {"helpdesk": helpdesk, "ticket_id": ticket_id, "thread_key": thread_key, "created_at": time.time()}
    insert_ignoring_duplicates(conn, ticket_links, [link])


def _update_thread(conn: Connection, key: str, values: dict[str, Any]) -> None:
    conn.execute(sa.update(threads).where(threads.c.key == key).values(updated_at=time.time(), **values))


def _latest_ack(conn: Connection, thread_key: str) -> dict[str, Any] | None:
    query = sa.select(auto_acks).where(auto_acks.c.thread_key == thread_key).order_by(auto_acks.c.episode_at.desc())
    row = conn.execute(query.limit(1)).mappings().first()
    return dict(row) if row else None


# replies the customer has not heard (held for an approver, rejected, failed): the ack and the bot go on
_UNHEARD = (DeliveryStatus.HELD, DeliveryStatus.REJECTED, DeliveryStatus.FAILED)


def _agent_replied_since(conn: Connection, thread_key: str, since: float) -> bool:
    """A person's reply the customer heard was written at or after ``since`` (to the second)."""
    return _replied_since(_human_reply_at(conn, thread_key), since)


def _replied_since(human_reply_at: float | None, since: float) -> bool:
    """The latest person's reply the customer heard (:func:`_human_reply_at`) was written at or after ``since``."""
    return human_reply_at is not None and human_reply_at >= math.floor(since)


def _bot_state(conn: Connection, thread_key: str, since: float, mine: str, human_reply_at: float | None) -> BotState:
    """The bot's messages on the thread written at or after ``since`` (to the second) and any whose comment id ends
    with ``mine`` (one message's answer, whenever it was written), oldest first; with ``human_reply_at``, the latest
    person's reply (:func:`_human_reply_at`, read once for the bot and the acks)."""
    recent = deliveries.c.comment_created_at >= math.floor(since)
    query = (
        sa.select(deliveries.c.comment_id, deliveries.c.comment_created_at, deliveries.c.status, deliveries.c.receipt)
        .where(deliveries.c.thread_key == thread_key, deliveries.c.author_kind == AuthorKind.BOT,
               sa.or_(recent, deliveries.c.comment_id.endswith(mine, autoescape=True)))
        .order_by(deliveries.c.id)
    )  # fmt: skip
    steps = tuple(BotStep(str(r.comment_id), float(r.comment_created_at or 0.0), DeliveryStatus(r.status), r.receipt)
                  for r in conn.execute(query))  # fmt: skip
    return BotState(steps, mine, human_reply_at)


def _human_reply_at(conn: Connection, thread_key: str) -> float | None:
    """When the thread's latest person's reply the customer heard was written (None: none yet)."""
    query = sa.select(sa.func.max(deliveries.c.comment_created_at)).where(
        deliveries.c.thread_key == thread_key,
        deliveries.c.author_kind == AuthorKind.HUMAN,  # neither an ack nor the bot's quick answers
        deliveries.c.status.not_in(_UNHEARD),
    )
    latest = conn.execute(query).scalar()
    return None if latest is None else float(latest)


def ack_row(*, thread_key: str, episode_at: float, ticket_id: str, public: bool, status: str, text: str | None,
            reason: str | None, due_at: float | None) -> dict[str, Any]:  # fmt: skip
    """An ``auto_acks`` row: an episode's acknowledgement decided (due, or none with the reason)."""
    now = time.time()
    return {"thread_key": thread_key, "episode_at": episode_at, "ticket_id": ticket_id, "public": public,
            "status": status, "text": text, "reason": reason, "due_at": due_at, "created_at": now,
            "updated_at": now}  # fmt: skip


def _last_join(conn: Connection, identity_key: str) -> dict[str, Any]:
    """The identity's latest ``user_joins`` row (``{}``: none)."""
    query = sa.select(user_joins).where(user_joins.c.identity_key == identity_key)
    row = conn.execute(query.order_by(user_joins.c.id.desc()).limit(1)).first()
    return dict(row._mapping) if row else {}


def _pauses(conn: Connection, connectors: Sequence[str]) -> dict[str, float]:
    """The pause board's entries for these connectors (0.0: not paused)."""
    rows = conn.execute(sa.select(pauses.c.connector, pauses.c.until).where(pauses.c.connector.in_(connectors)))
    return {**dict.fromkeys(connectors, 0.0), **{str(c): float(until) for c, until in rows}}


def _ticket_key_expr() -> sa.ColumnElement[str]:
    return ticket_events.c.helpdesk + ":" + ticket_events.c.ticket_id
