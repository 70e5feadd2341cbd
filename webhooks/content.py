"""Readable lines for what a customer shares that is not text, alike on every platform.

A shared place becomes ``[location] <name>, <address> https://maps.google.com/?q=<lat>,<lng>`` (a link
the agent can open), a shared contact ``<name> <phone>, <phone>``. Values arrive as numbers or
strings; a missing or nested one counts as absent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def location_line(latitude: Any, longitude: Any, *labels: Any) -> str | None:
    """A place with a maps link, its non-empty ``labels`` (name, address) first; None without coordinates."""
    lat, lng = _scalar(latitude), _scalar(longitude)
    if lat is None or lng is None:
        return None
    label = ", ".join(p for p in map(_scalar, labels) if p)
    return f"[location] {label + ' ' if label else ''}https://maps.google.com/?q={lat},{lng}"


def contact_line(name: Any, phones: Iterable[Any]) -> str:
    """A contact card: its name (``(no name)`` without one) and its phone numbers."""
    numbers = [p for p in map(_scalar, phones) if p]
    return f"{_scalar(name) or '(no name)'} {', '.join(numbers)}".strip()


def _scalar(value: Any) -> str | None:
    return None if value is None or isinstance(value, dict | list) else str(value)
