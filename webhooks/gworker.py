"""The web process of ``socialdesk serve``: gunicorn's gevent worker, stopped by Ctrl-C as by SIGTERM.

Ctrl-C sends SIGINT to the whole process group: each worker gets it, then the master's SIGQUIT. gunicorn's
gevent worker answers both by spawning a greenlet that calls ``sys.exit(0)`` 0.1 s later; by then the worker
has usually left its loop and the process is exiting, and gevent prints that greenlet's ``SystemExit: 0`` as
tracebacks (benoitc/gunicorn#3239, closed upstream as intended). Here SIGINT and SIGQUIT stop the worker as
SIGTERM does: it takes no new connection and finishes the requests in flight (a webhook being stored is
answered), within gunicorn's graceful timeout, after which the master kills it. Imported by gunicorn alone, in
the web processes (``serve``'s preflight checks gunicorn's gevent module, which this one only extends).
"""

from __future__ import annotations

from typing import Any

from gunicorn.workers.ggevent import GeventWorker


class QuietGeventWorker(GeventWorker):  # type: ignore[misc]
    """gunicorn's gevent worker whose quick stop (SIGINT, SIGQUIT) is its graceful one."""

    def handle_quit(self, sig: int, frame: Any) -> None:
        self.handle_exit(sig, frame)
