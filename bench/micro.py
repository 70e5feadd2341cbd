"""The request path, piece by piece: what each step of a Messenger webhook costs, in one process.

    .venv/bin/python -m bench.micro [--n 3000] [--backends sqlite,postgres]

Wall and CPU microseconds per call of each step (verify, parse, serialise, store), of a few storage
variants (for evidence, see RESULTS.md), and of a whole request through Flask's test client (no
socket, no gunicorn). Single-threaded, so it shows cost, not throughput under concurrency.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench import common
from bench.bare_app import create_app as bare_app
from bench.ingest import config_file
from bench.payloads import Signed, Signer
from bench.variants import normal_pragmas
from bridge import config as config_module
from bridge.events import SocialEvent
from bridge.store import Store, inbox, insert_ignoring_duplicates
from sandbox.stack import APP_SECRET
from webhooks import signatures
from webhooks.app import create_app
from webhooks.meta import parse


def per_call(step: Callable[[Any], object], items: list[Any]) -> tuple[float, float]:
    """(wall µs, CPU µs) per call of ``step`` over ``items`` (each item used once)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for item in items:
        step(item)
    n = len(items)
    return (time.perf_counter() - wall) / n * 1e6, (time.process_time() - cpu) / n * 1e6


def events(messages: list[Signed], config: config_module.Config) -> list[SocialEvent]:
    return [e for m in messages for e in parse(json.loads(m.body), list(config.channels)) if isinstance(e, SocialEvent)]


def pure_steps(messages: list[Signed], config: config_module.Config) -> Iterator[tuple[str, tuple[float, float]]]:
    channels = list(config.channels)
    parsed = [json.loads(m.body) for m in messages]
    evs = events(messages, config)
    yield (
        "verify X-Hub-Signature-256",
        per_call(lambda m: signatures.verify_meta(m.body, m.signature, [APP_SECRET]), messages),
    )
    yield "json.loads body", per_call(lambda m: json.loads(m.body), messages)
    yield "parse → SocialEvent", per_call(lambda p: list(parse(p, channels)), parsed)
    yield "SocialEvent.to_json (as shipped)", per_call(lambda e: e.to_json(), evs)
    yield "  dataclasses.asdict + json.dumps (for comparison)", per_call(_with_asdict, evs)


def _with_asdict(e: SocialEvent) -> str:
    data = dataclasses.asdict(e)
    data["created_at"] = e.created_at.isoformat()
    return json.dumps(data)


def store_steps(backend: str, messages: list[Signed], config: config_module.Config) -> Iterator[tuple[str, Any]]:
    with common.backend(backend) as b:
        store = Store.from_url(b.database_url, migrate=True)
        chunks = _chunks(events(messages, config), 4)
        yield f"Store.ingest, {backend} (as shipped)", per_call(lambda e: store.ingest([e]), chunks[0])
        if backend == "sqlite":  # (the ingest writer keeps its connection: pool_pre_ping is not on its path)
            variant = _normal_store(b.database_url)
            yield "  Store.ingest, sqlite, synchronous=NORMAL", per_call(lambda e: variant.ingest([e]), chunks[1])
            variant.close()
        yield f"  SQLAlchemy Core insert, {backend} (for comparison)", per_call(_core_insert(store), chunks[2])
        if backend == "sqlite":
            yield "  raw sqlite3 INSERT + COMMIT (FULL)", _raw_sqlite(b.database_url, chunks[3])
        store.close()


def _core_insert(store: Store) -> Callable[[SocialEvent], object]:
    """A row inserted the portable way: ``insert_ignoring_duplicates`` in ``store.begin()``."""

    def insert(e: SocialEvent) -> None:
        row = {"platform": e.platform, "account_id": e.account_id, "message_id": e.message_id,
               "channel": e.channel, "thread_key": e.thread_key, "kind": e.kind, "payload": e.to_json(),
               "platform_ts": e.created_at.timestamp(), "received_at": time.time()}  # fmt: skip
        with store.begin() as conn:
            insert_ignoring_duplicates(conn, inbox, [row])

    return insert


def _chunks(items: list[Any], n: int) -> list[list[Any]]:
    return [items[i::n] for i in range(n)]


def _normal_store(url: str) -> Store:
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    sa.event.listen(engine, "connect", normal_pragmas)
    return Store(engine)


def _raw_sqlite(url: str, evs: list[SocialEvent]) -> tuple[float, float]:
    conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    sql = (
        "INSERT INTO inbox (platform, account_id, message_id, channel, thread_key, kind, payload, platform_ts,"
        " received_at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING"
    )

    def insert(e: SocialEvent) -> None:
        row = (e.platform, e.account_id, e.message_id, e.channel, e.thread_key, e.kind, e.to_json(), 0.0, 0.0)
        conn.execute("BEGIN")
        conn.execute(sql, row)
        conn.execute("COMMIT")

    try:
        return per_call(insert, evs)
    finally:
        conn.close()


def request_steps(messages: list[Signed], tmp: Path) -> Iterator[tuple[str, Any]]:
    halves = _chunks(messages, 2)
    client = bare_app().test_client()
    yield "whole request, Flask test client: bare app", per_call(lambda m: _post(client, m), halves[0])
    with common.backend("sqlite") as b:
        config = config_module.load(str(config_file(tmp, b.database_url, b.queue_url)))
        app = create_app(config, store=Store.from_url(b.database_url, migrate=True))
        client = app.test_client()
        yield "whole request, Flask test client: socialdesk (sqlite)", per_call(lambda m: _post(client, m), halves[1])


def _post(client: Any, m: Signed) -> None:
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": m.signature}
    assert client.post("/webhooks/meta", data=m.body, headers=headers).status_code == 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000, help="calls per step")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    signer = Signer()
    rows: list[tuple[str, tuple[float, float]]] = []
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        config = config_module.load(str(config_file(tmp, "sqlite://", "sqlite:///q.db")))
        rows += pure_steps(list(signer.unique(args.n)), config)
        for backend in args.backends.split(","):
            rows += store_steps(backend, list(signer.unique(4 * args.n, prefix=backend[0])), config)
        rows += request_steps(list(signer.unique(2 * args.n, prefix="9")), tmp)
    print(common.table(["step (per request)", "wall µs", "CPU µs"], [(n, w, c) for n, (w, c) in rows]))
    data = {
        "n": args.n,
        "steps": [{"step": n.strip(), "wall_us": round(w, 1), "cpu_us": round(c, 1)} for n, (w, c) in rows],
    }
    path = common.write_results("micro", data)
    print(f"written {path.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
