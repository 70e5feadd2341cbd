"""``socialdesk serve``: gunicorn running :func:`webhooks.app.create_app`, logging as the rest of the bridge does.

Every file gunicorn keeps on the host is this server's own: its control socket is named after the address it
binds (gunicorn's default, ``~/.gunicorn/gunicorn.ctl``, is one path per user, so a second ``serve`` on the
host took it over and the first one's ``stop`` deleted it). No pid file is written; worker heartbeat files are
gunicorn's own temporary files.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import socket
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from bridge import metrics
from bridge.config import Config
from bridge.errors import BridgeError
from webhooks.app import create_app

WORKER_CONNECTIONS = 1000  # per gevent worker process: open connections, slow ones included
# %(U)s, not %(r)s: no query string, which holds Meta's hub.verify_token on every handshake
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(f)s" "%(a)s"'


class BridgeLogger(Logger):  # type: ignore[misc]
    """gunicorn's error and access logs through the bridge's handler (:func:`bridge.logs.setup`): one format,
    text or JSON, for the server, its workers and the worker process."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                log.removeHandler(handler)
            log.propagate = True


def control_socket(host: str, port: int) -> Path:
    """This server's own control socket, where gunicorn keeps its default one
    (``$XDG_RUNTIME_DIR``, else ``~/.gunicorn``): two servers on one host bind two addresses."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    folder = Path(runtime) if runtime and os.path.isdir(runtime) else Path.home() / ".gunicorn"
    return folder / f"socialdesk-{re.sub(r'[^A-Za-z0-9.]+', '_', host)}-{port}.ctl"


def preflight(host: str, port: int, threads: int | None) -> None:
    """What would stop gunicorn once started, said at once in one line instead of its tracebacks."""
    check_workers(threads)
    check_address(host, port)


def check_workers(threads: int | None) -> None:
    """The worker class loads: gunicorn imports it only once running, then logs a traceback per worker
    (its gevent worker needs packaging, which only gunicorn's gevent extra installs)."""
    module = "gunicorn.workers.ggevent" if threads is None else "gunicorn.workers.gthread"  # webhooks.gworker's
    try:
        importlib.import_module(module)
    except (ImportError, RuntimeError) as e:
        raise BridgeError(f"serve: {module} cannot be loaded ({e}): reinstall socialdesk") from None


def check_address(host: str, port: int) -> None:
    """Refuse at once, in one line, an address this host cannot listen on (taken by another ``serve``, or
    not this host's): gunicorn would try five times over five seconds, logging each, then exit."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds: TIME_WAIT is no bar
        try:
            probe.bind((host, port))
        except OSError as e:
            raise BridgeError(f"serve: cannot listen on {host}:{port} ({e.strerror or e})") from None


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, config: Config, *, host: str, port: int, workers: int, threads: int | None) -> None:
        self.config = config
        self.host, self.port, self.workers, self.threads = host, port, workers, threads
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", f"{self.host}:{self.port}")
        self.cfg.set("workers", self.workers)
        # concurrent webhooks of a process share a commit (bridge.groupcommit), greenlets or threads alike
        if self.threads is None:  # a slow client holds a greenlet, not the worker (see `socialdesk serve`)
            self.cfg.set("worker_class", "webhooks.gworker.QuietGeventWorker")  # Ctrl-C without tracebacks
            self.cfg.set("worker_connections", WORKER_CONNECTIONS)
        else:
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", self.threads)
        self.cfg.set("logger_class", BridgeLogger)
        self.cfg.set("loglevel", logging.getLevelName(logging.getLogger().getEffectiveLevel()).lower())
        self.cfg.set("accesslog", "-")  # enables the access log; BridgeLogger sends it to the shared handler
        self.cfg.set("access_log_format", ACCESS_LOG_FORMAT)
        self.cfg.set("child_exit", _child_exit)
        if "control_socket" in self.cfg.settings:  # gunicorn 25.1 and later
            self.cfg.set("control_socket", str(control_socket(self.host, self.port)))

    def load(self) -> Any:
        return create_app(self.config)


def _child_exit(_server: Any, worker: Any) -> None:
    """A web process ended: its series files stay counted, its live gauges go (prometheus_client's rule)."""
    metrics.process_exited(worker.pid)


def run(config: Config, *, host: str, port: int, workers: int, threads: int | None) -> None:
    """Serve until SIGTERM or SIGINT (gunicorn's arbiter). ``threads``: request threads per worker process
    (gthread); None for gevent workers, the default."""
    _Server(config, host=host, port=port, workers=workers, threads=threads).run()
