"""Shared machinery of the simulators: a real threaded HTTP server on an ephemeral loopback port.

Every simulator is a Flask app wrapped by :class:`Simulator`, which

* serves it on ``127.0.0.1:<ephemeral port>`` from a background thread (``start()`` / ``stop()``,
  or use it as a context manager);
* records every request it receives (:attr:`Simulator.calls`), so tests can assert what the bridge
  asked for, in what order and how often;
* injects faults on demand (:meth:`Simulator.inject`): a status with headers and a body, or a delay
  that makes the client time out, for the next *N* matching requests;
* loses answers on demand (:meth:`Simulator.slow_after_commit`, :meth:`Simulator.lose_answer`): the
  request is applied, the client never learns it.

Faults are checked before the simulator's own handlers run, like a real API's edge (a load balancer
answering 429 or 503 before the application sees the request).
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from flask import Flask, Response, request
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class QuietHandler(WSGIRequestHandler):
    """No access log line per request: the simulators record calls in :attr:`Simulator.calls`."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def shutdown(server: socketserver.TCPServer) -> None:
    """Stop ``server`` and close its socket without waiting out its poll interval: once it is asked to stop,
    a connection wakes its loop, which then ends (one made before is served as an empty request)."""
    host, port = server.server_address[:2]
    stopping = threading.Thread(target=server.shutdown, daemon=True)
    stopping.start()
    while stopping.is_alive():
        with contextlib.suppress(OSError), socket.create_connection((str(host), int(port)), timeout=1):
            pass
        stopping.join(0.005)
    server.server_close()


@dataclass(frozen=True)
class Call:
    """One request the simulator received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Slow:
    """Apply the next ``times`` requests matching ``method`` and ``path_prefix``, then answer ``seconds`` late,
    or answer ``status`` instead of the real answer (a gateway that failed on the way back)."""

    method: str
    path_prefix: str
    seconds: float
    times: int
    status: int | None = None
    body: str | None = None  # with ``status``: this text instead of the JSON error (a 201 no client can read)


@dataclass
class Fault:
    """A canned answer for the next ``times`` requests matching ``method`` and ``path_prefix``."""

    status: int
    times: int = 1
    method: str | None = None
    path_prefix: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0  # seconds to sleep before answering (a timeout when longer than the client's)

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and path.startswith(self.path_prefix)


class Simulator:
    """Base class: subclasses build ``self.app`` (a Flask app) and register their routes on it."""

    name = "simulator"

    def __init__(self) -> None:
        self.app = Flask(self.name)
        self.calls: list[Call] = []
        self._faults: list[Fault] = []
        self._slow: list[Slow] = []
        self._lock = threading.RLock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.app.before_request(self._record_and_fault)
        self.app.after_request(self._late_answer)

    # -- lifecycle -------------------------------------------------------------------------------------

    def start(self, port: int = 0) -> Self:
        server = make_server("127.0.0.1", port, self.app, threaded=True, request_handler=QuietHandler)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            shutdown(self._server)
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "simulator not started"
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- recording and faults --------------------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def calls_to(self, method: str, path_prefix: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method and c.path.startswith(path_prefix)]

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    def slow_after_commit(self, path_prefix: str, method: str, seconds: float, times: int = 1) -> None:
        """Apply the next ``times`` matching requests, then wait ``seconds`` before answering: the work is
        done, but a client with a shorter timeout (or a worker killed meanwhile) never learns it."""
        with self._lock:
            self._slow.append(Slow(method.upper(), path_prefix, seconds, times))

    def lose_answer(
        self, path_prefix: str, method: str, status: int = 502, times: int = 1, *, body: str | None = None
    ) -> None:
        """Apply the next ``times`` matching requests, then answer ``status`` (a proxy's 502, say), or ``status``
        with ``body`` (a 201 whose text is no JSON): the work is done, but the client is told it failed (or cannot
        read what it made), and a retry must not do it twice."""
        with self._lock:
            self._slow.append(Slow(method.upper(), path_prefix, 0.0, times, status, body))

    def _late_answer(self, response: Response) -> Response:
        if response.status_code >= 400:
            return response
        method, path = request.method, request.path
        with self._lock:
            slow = next((s for s in self._slow if s.method == method and path.startswith(s.path_prefix)), None)
            if slow is not None:
                slow.times -= 1
                if slow.times <= 0:
                    self._slow.remove(slow)
        if slow is not None and slow.status is not None and slow.body is not None:
            return Response(slow.body, status=slow.status, content_type="text/html")
        if slow is not None and slow.status is not None:
            return json_response({"error": "the answer was lost on its way back"}, slow.status)
        if slow is not None:
            time.sleep(slow.seconds)
        return response

    def _record_and_fault(self) -> Response | None:
        call = Call(
            method=request.method,
            path=request.path,
            query={k: v for k, v in request.args.items()},
            headers={k: v for k, v in request.headers.items()},
            body=request.get_data(cache=True),
            at=time.time(),
        )
        with self._lock:
            self.calls.append(call)
            fault = next((f for f in self._faults if f.matches(call.method, call.path)), None)
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
        if fault is None:
            return None
        if fault.delay:
            time.sleep(fault.delay)
        body = fault.body if isinstance(fault.body, str | bytes) else json.dumps(fault.body or {})
        return Response(body, status=fault.status, headers=fault.headers, content_type="application/json")


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response the way the vendors send them (``application/json; charset=utf-8``)."""
    return Response(
        json.dumps(payload), status=status, headers=headers or {}, content_type="application/json; charset=utf-8"
    )


Handler = Callable[..., Response]
