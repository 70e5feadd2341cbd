"""Group commit: concurrent writers share one durable commit, each still gets its own answer.

A threaded web worker calls :meth:`GroupCommit.submit` from every request thread. The first caller
that finds no write under way becomes the *leader*: it takes every item waiting (its own included),
hands them to ``write`` (one transaction, one commit, one result per item) and wakes their callers
with their own result. Items arriving meanwhile wait; when the leader is done it passes the lead to
the first of them, which takes them all in the next batch. So a commit (an fsync on SQLite, a WAL
flush on PostgreSQL) is paid once per batch instead of once per request, while a caller still
returns only after the commit that holds its item. If ``write`` raises, every caller of that batch
gets the exception: nothing is acknowledged that was not committed.

There is no writer thread to start, fork or stop: the lead is taken by a request thread and handed
over while items wait, so a single caller (a test client, a CLI) simply writes alone. The state is
per process: after a fork (gunicorn's workers) it starts afresh.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class _Waiter(Generic[Item, Result]):
    __slots__ = ("done", "error", "item", "lead", "result")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.done = threading.Event()
        self.lead = False  # woken to lead the next batch, not with a result
        self.result: Result | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[Item, Result]):
    """Batch concurrent :meth:`submit` calls into calls of ``write(items) -> results`` (same order)."""

    def __init__(self, write: Callable[[Sequence[Item]], Sequence[Result]]) -> None:
        self._write = write
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._waiting: list[_Waiter[Item, Result]] = []
        self._writing = False

    @property
    def writing(self) -> bool:
        """A batch is being written (or its successor is about to take the lead)."""
        return self._writing

    @property
    def waiting(self) -> int:
        """Items queued for the next batch (not the one being written)."""
        return len(self._waiting)

    def submit(self, item: Item) -> Result:
        """Write ``item`` in the next batch and return its result once that batch is committed."""
        if self._pid != os.getpid():
            self._reset()  # forked: the parent's lock and waiters are not ours
        me: _Waiter[Item, Result] = _Waiter(item)
        with self._lock:
            self._waiting.append(me)
            lead, self._writing = not self._writing, True
        if not lead:
            me.done.wait()
            if not me.lead:
                return self._outcome(me)
        self._lead()
        return self._outcome(me)

    def _lead(self) -> None:
        with self._lock:
            batch, self._waiting = self._waiting, []
        try:
            results = self._write([w.item for w in batch])
            if len(results) != len(batch):  # pragma: no cover - a bug in ``write``
                raise RuntimeError(f"group commit: {len(results)} results for {len(batch)} items")
            for waiter, result in zip(batch, results, strict=True):
                waiter.result = result
        except BaseException as e:  # every caller of the batch raises it, as Future.result() does
            for waiter in batch:
                waiter.error = e
        finally:
            with self._lock:
                successor = self._waiting[0] if self._waiting else None
                self._writing = successor is not None
            if successor is not None:
                successor.lead = True
                successor.done.set()
            for waiter in batch:
                waiter.done.set()

    @staticmethod
    def _outcome(waiter: _Waiter[Item, Result]) -> Result:
        if waiter.error is not None:
            raise waiter.error
        return waiter.result  # type: ignore[return-value]
