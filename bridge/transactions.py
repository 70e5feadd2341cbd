"""Counting the store's transactions: what ``bench.profile_worker`` reports and the tests hold to a budget.

Each transaction that wrote is a durable commit (an fsync on SQLite, a WAL flush on PostgreSQL), and the worker
is CPU-bound on them (bench/RESULTS.md, "What the figures point at"): the count is the lever, so it is measured
in one place, on the engine itself, whoever opened the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

_WRITES = ("INSERT", "UPDATE", "DELETE")


@dataclass(frozen=True)
class Counted:
    """Transactions committed, and how many of them executed an INSERT, UPDATE or DELETE."""

    total: int
    writes: int

    def __sub__(self, other: Counted) -> Counted:
        return Counted(self.total - other.total, self.writes - other.writes)


class TransactionCount:
    """Counts the transactions committed on ``engine`` from now until :meth:`close`."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.total = self.writes = 0
        self._wrote: set[int] = set()
        sa.event.listen(engine, "before_cursor_execute", self._statement)
        sa.event.listen(engine, "commit", self._commit)

    def now(self) -> Counted:
        """The counts so far (subtract two of them for what happened in between)."""
        return Counted(self.total, self.writes)

    def close(self) -> None:
        """Stop counting."""
        sa.event.remove(self.engine, "before_cursor_execute", self._statement)
        sa.event.remove(self.engine, "commit", self._commit)

    def _statement(self, conn: sa.Connection, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in _WRITES:
            self._wrote.add(id(conn))

    def _commit(self, conn: sa.Connection) -> None:
        self.total += 1
        if id(conn) in self._wrote:
            self._wrote.discard(id(conn))
            self.writes += 1
