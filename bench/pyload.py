"""A Python stand-in for wrk (used when /usr/bin/wrk is missing): same body file, same output line.

``python -m bench.pyload --url U --bodies F --duration S --connections C --threads T`` runs T processes
of C/T threads each; every thread opens a connection per request (gunicorn's sync workers close it
anyway) and POSTs the next unused body. It costs far more CPU per request than wrk, and on a 2-core
machine that CPU is taken from the servers: figures from it understate the servers' throughput.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common import percentile


def _bodies(path: Path, index: int, stride: int) -> list[tuple[str, bytes]]:
    lines = path.read_bytes().splitlines()[index::stride]
    return [(sig.decode(), body) for sig, _, body in (line.partition(b" ") for line in lines)]


def _one(host: str, port: int, signature: str, body: bytes) -> int:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
        conn.request("POST", "/webhooks/meta", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _process(args: tuple[str, str, float, int, int, int]) -> dict[str, Any]:
    url, path, duration, conns, index, stride = args
    parts = urlsplit(url)
    bodies = _bodies(Path(path), index, stride)
    cursor, lock = iter(range(len(bodies))), threading.Lock()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = Counter[str]()
    deadline = time.monotonic() + duration

    def loop() -> None:
        while time.monotonic() < deadline:
            with lock:
                i = next(cursor, None)
            if i is None:
                errors["exhausted"] += 1
                return
            start = time.perf_counter()
            try:
                status = _one(parts.hostname or "127.0.0.1", parts.port or 80, *bodies[i])
            except OSError:
                errors["connect"] += 1
                continue
            latencies.append((time.perf_counter() - start) * 1e6)
            statuses[status] += 1

    workers = [threading.Thread(target=loop) for _ in range(conns)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return {"latencies": latencies, "statuses": dict(statuses), "errors": dict(errors), "bodies": len(bodies)}


def run(url: str, bodies: Path, duration: float, connections: int, threads: int) -> dict[str, Any]:
    jobs = [(url, str(bodies), duration, connections // threads, i, threads) for i in range(threads)]
    start = time.monotonic()
    with multiprocessing.get_context("fork").Pool(threads) as pool:
        parts = pool.map(_process, jobs)
    elapsed = time.monotonic() - start
    latencies = [v for p in parts for v in p["latencies"]]
    statuses = sum((Counter(p["statuses"]) for p in parts), Counter[int]())
    errors = sum((Counter(p["errors"]) for p in parts), Counter[str]())
    pcts = {f"p{str(p).replace('.', '')}": percentile(latencies, p) or 0 for p in (50, 90, 95, 99, 99.9)}
    return {
        "requests": len(latencies),
        "duration_us": int(elapsed * 1e6),
        "status_errors": sum(n for s, n in statuses.items() if s >= 400),
        "connect_errors": errors.get("connect", 0),
        "read_errors": 0,
        "write_errors": 0,
        "timeouts": 0,
        "wraps": errors.get("exhausted", 0),
        "bodies": sum(p["bodies"] for p in parts),
        "statuses": {str(k): v for k, v in statuses.items()},
        "latency_us": {**pcts, "max": max(latencies, default=0), "mean": sum(latencies) / max(1, len(latencies))},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--bodies", type=Path, required=True)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print("BENCH_JSON " + json.dumps(run(args.url, args.bodies, args.duration, args.connections, args.threads)))


if __name__ == "__main__":
    main()
