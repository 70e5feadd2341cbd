"""The webhook's one durable write: the inbox rows of a batch of webhooks, one INSERT, one commit.

:class:`InboxWriter` is what :meth:`bridge.store.Store.ingest` ends in, once group commit
(:mod:`bridge.groupcommit`) has gathered the webhooks of a process that arrived together. It writes
them with one multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` per ``INGEST_CHUNK`` rows in
raw DBAPI (the statement SQLAlchemy's Core insert compiles to, without its per-call overhead) and
commits once.

It keeps one connection of its own per process instead of checking one out of the pool for every
batch: a checkout with ``pool_pre_ping`` is a round trip to PostgreSQL before each batch, and under
load the batch's commit waits for it (``bench/RESULTS.md``). A connection that broke meanwhile (the
database restarted) is found by the write itself: on a disconnect the batch is written again once on
a new connection. That is safe because the statement skips rows already there; only the count a
webhook is answered with could be 0 for a row the broken commit did store.

On SQLite the web processes' writers also take turns on a file lock next to the database: SQLite has
one writer at a time, and a writer that finds its lock taken sleeps in growing steps (up to 100 ms)
before it tries again, so two processes committing batch after batch made a webhook wait up to a third
of a second. Polling ``flock`` every half millisecond instead takes the lock as soon as it is free (the
kernel releases it too if a process dies holding it); a process stuck holding it for
``INGEST_LOCK_TIMEOUT`` makes the others answer 503, as SQLite's busy timeout would.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bridge.errors import Unavailable, describe

INGEST_COLUMNS = (
    "platform", "account_id", "message_id", "channel", "thread_key", "kind", "payload", "platform_ts", "received_at",
    "status", "last_error",
)  # fmt: skip
#: One inbox row as :meth:`bridge.store.Store.ingest` writes it, in the order of ``INGEST_COLUMNS``: a
#: customer's event is ``pending`` for the workers; an event recorded as ignored is ``ignored`` with its reason.
IngestRow = tuple[str, str, str, str, str, str, str, float, float, str, str | None]
_INGEST_KEY = "platform, account_id, message_id"  # uq_inbox_message: the first three of INGEST_COLUMNS
_INSERT = f"INSERT INTO inbox ({', '.join(INGEST_COLUMNS)}) VALUES"
INGEST_LOCK_TIMEOUT = 30.0  # seconds, as SQLite's busy_timeout
INGEST_CHUNK = 500  # rows per INSERT: 5,500 parameters, below SQLite's 32,766 and PostgreSQL's 65,535

#: Connections a forked child inherited from its parent: kept referenced so that they are never closed
#: (or rolled back) from the child, which would end the parent's session on the same socket.
_INHERITED: list[Any] = []


class InboxWriter:
    """Writes batches of webhooks' inbox rows, one batch at a time per process, on its own connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        database = engine.url.database if engine.dialect.name == "sqlite" else None
        on_disk = database and database != ":memory:" and not database.startswith("file:")
        self._lock_path = Path(f"{database}-ingest.lock") if on_disk else None
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._row_marks = "(" + ", ".join([mark] * len(INGEST_COLUMNS)) + ")"
        self._turn = threading.Lock()  # one batch at a time on the one connection
        self._pid = os.getpid()
        self._connection: Any = None  # a detached pool connection (the engine's connect events applied)
        # An in-memory SQLite database lives in the pool's one connection: borrow that one every time.
        self._keep = engine.dialect.name != "sqlite" or self._lock_path is not None
        self._lock_file: IO[str] | None = None

    def write(self, batches: Sequence[Sequence[IngestRow]]) -> list[int]:
        """Insert the rows of several webhooks in one transaction with one commit; return how many rows
        of each were new, in order (a row that an earlier webhook of the batch holds too counts for that
        one only: a redelivery in the same batch reports 0, as it would a moment later)."""
        if self._pid != os.getpid():
            self._forget_inherited()
        with self._turn, self._one_writer():
            try:
                return self._insert(batches)
            except _Disconnected:
                return self._insert(batches)  # once, on a new connection

    def close(self) -> None:
        with self._turn:
            self._drop_connection()
            if self._lock_file is not None:
                self._lock_file.close()
                self._lock_file = None

    @contextmanager
    def _connection_for_batch(self) -> Iterator[Any]:
        connection = self._connection
        if connection is None:
            try:
                connection = self.engine.raw_connection()
            except (sa.exc.SQLAlchemyError, self.engine.dialect.loaded_dbapi.Error) as e:  # the driver's own, unwrapped
                raise Unavailable("the database is unavailable", platform="store") from e
            if self._keep:
                connection.detach()  # ours for the life of the process, not the pool's
                self._connection = connection
        try:
            yield connection
        finally:
            if not self._keep:
                connection.close()  # back to the pool

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with suppress(self.engine.dialect.loaded_dbapi.Error):  # already broken: nothing to close cleanly
                connection.close()

    def _forget_inherited(self) -> None:
        """In a forked child: the parent's connection and lock file (an flock belongs to the open file,
        which the two processes would share) are the parent's; so is the state of ``_turn``."""
        _INHERITED.extend(x for x in (self._connection, self._lock_file) if x is not None)
        self._connection, self._lock_file, self._pid = None, None, os.getpid()
        self._turn = threading.Lock()

    def _insert(self, batches: Sequence[Sequence[IngestRow]]) -> list[int]:
        with self._connection_for_batch() as connection:
            return self._insert_on(connection, batches)

    def _insert_on(self, connection: Any, batches: Sequence[Sequence[IngestRow]]) -> list[int]:
        rows = [(index, row) for index, webhook in enumerate(batches) for row in webhook]
        stored = [0] * len(batches)
        cursor = None
        try:
            cursor = connection.cursor()
            for start in range(0, len(rows), INGEST_CHUNK):
                chunk = rows[start : start + INGEST_CHUNK]
                values = ", ".join([self._row_marks] * len(chunk))
                sql = f"{_INSERT} {values} ON CONFLICT DO NOTHING RETURNING {_INGEST_KEY}"  # no value is interpolated
                cursor.execute(sql, [value for _, row in chunk for value in row])
                new = {tuple(key) for key in cursor.fetchall()}
                for index, row in chunk:  # credit each new row to the first webhook of the batch holding it
                    if row[:3] in new:
                        new.discard(row[:3])
                        stored[index] += 1
            connection.commit()
            return stored
        except self.engine.dialect.loaded_dbapi.Error as e:
            if self.engine.dialect.is_disconnect(e, connection.dbapi_connection, cursor):
                self._drop_connection()
                raise _Disconnected() from e
            self._roll_back(connection)
            # the refusal named (a CheckViolation, an UndefinedTable...), never its DETAIL: that quotes the row
            raise Unavailable(f"the database refused the write ({describe(e)})", platform="store") from e
        except BaseException:
            self._roll_back(connection)  # never leave the kept connection inside a transaction
            raise

    def _roll_back(self, connection: Any) -> None:
        try:
            connection.rollback()
        except self.engine.dialect.loaded_dbapi.Error:
            self._drop_connection()  # it cannot even roll back: the next batch gets a new one

    @contextmanager
    def _one_writer(self) -> Iterator[None]:
        """On SQLite, hold the file lock the web processes take turns on (see the module's docstring)."""
        if self._lock_path is None:
            yield
            return
        if self._lock_file is None:
            self._lock_file = self._lock_path.open("a")
        deadline = time.monotonic() + INGEST_LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as e:
                if time.monotonic() > deadline:
                    raise Unavailable("another process has held the ingest lock too long", platform="store") from e
                time.sleep(0.0005)
        try:
            yield
        finally:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)


class _Disconnected(Unavailable):
    """The connection broke under the write: the caller may write the batch again on a new one."""

    def __init__(self) -> None:
        super().__init__("the database connection was lost", platform="store")
