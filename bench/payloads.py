"""Signed Messenger webhooks, built by the Meta simulator exactly as Meta would send them."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from sandbox.meta import MetaSimulator, encode
from sandbox.stack import APP_SECRET, PAGE_ID, PAGE_TOKEN

META_PATH = "/webhooks/meta"


@dataclass(frozen=True)
class Signed:
    """One webhook: the Messenger message id, the raw body and its ``X-Hub-Signature-256``."""

    mid: str
    psid: str
    index: int  # the message's place in its thread (0: the first)
    timestamp_ms: int
    body: bytes
    signature: str


class Signer:
    """Builds customer messages with an (unstarted) Meta simulator: same shapes, same signatures."""

    def __init__(self, meta: MetaSimulator | None = None) -> None:
        self.meta = meta or MetaSimulator(APP_SECRET, {PAGE_ID: PAGE_TOKEN})

    def message(self, psid: str, index: int, *, text: str, timestamp: float | None = None) -> Signed:
        event = self.meta.customer_message(PAGE_ID, psid=psid, text=text, timestamp=timestamp, send=False)
        body = encode(event.payload)
        return Signed(event.mid, psid, index, event.timestamp, body, self.meta.sign(body))

    def unique(self, count: int, *, prefix: str = "7") -> Iterator[Signed]:
        """``count`` messages with distinct ids, from distinct customers (every one a real insert)."""
        now = time.time()
        for i in range(count):
            yield self.message(f"{prefix}{i:09d}", 0, text=f"bench message {i}: where is my order?", timestamp=now)


def headers(signature: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Hub-Signature-256": signature}


def post(session: requests.Session, base_url: str, signed: Signed) -> int:
    return session.post(
        base_url + META_PATH, data=signed.body, headers=headers(signed.signature), timeout=30
    ).status_code


def write_wrk_file(path: Path, messages: Iterator[Signed]) -> int:
    """One request per line, ``<signature> <body>`` (bodies are compact JSON: no spaces, no newlines)."""
    count = 0
    with path.open("wb") as out:
        for signed in messages:
            out.write(signed.signature.encode() + b" " + signed.body + b"\n")
            count += 1
    return count


@dataclass(frozen=True)
class Plan:
    """Who writes what, in which order: ``threads`` customers × ``per_thread`` messages, some already known."""

    threads: int
    per_thread: int
    known: int  # the first ``known`` customers already have a helpdesk identity (a "known contact")
    seed: int = 7

    def psid(self, thread: int) -> str:
        return f"{'5' if thread < self.known else '6'}{thread:09d}"

    def order(self) -> list[tuple[int, int]]:
        """(thread, message index) in arrival order: threads start at random times, messages follow in order."""
        rng = random.Random(self.seed)
        keyed = []
        for t in range(self.threads):
            start, gap = rng.random(), rng.uniform(0.002, 0.02)
            keyed += [(start + i * gap, t, i) for i in range(self.per_thread)]
        return [(t, i) for _, t, i in sorted(keyed)]
