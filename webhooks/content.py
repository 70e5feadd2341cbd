"""Readable lines for what a customer shares that is not text, alike on every platform.

A shared place becomes ``[location] <name>, <address> https://maps.google.com/?q=<lat>,<lng>`` (a link
the agent can open), a shared contact ``<name> <phone>, <phone>``, a shared template ``[button template]
<text> | buttons: <title> <url>`` or ``[product] <title> <price> <image link>``, a tapped button
``[button tapped] <title> (payload: <payload>)``. Values arrive as numbers or
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


def template_line(payload: Any) -> str:
    """A structured message (Messenger's button, generic, airline, receipt or product template, shared by
    the customer): its kind, text, each element's title, subtitle and image link, and its buttons."""
    body = payload if isinstance(payload, dict) else {}
    product = body.get("product")
    kind = "product" if isinstance(product, dict) else f"{_scalar(body.get('template_type')) or 'unknown'} template"
    elements = (product if isinstance(product, dict) else body).get("elements")
    parts = [_scalar(body.get("text")), *map(_element, _objects(elements)), _buttons(body.get("buttons"))]
    return f"[{kind}] " + " | ".join(p for p in parts if p) if any(parts) else f"[{kind}]"


def postback_line(title: Any, payload: Any) -> str:
    """A button the customer tapped: its title (what they read) and the payload it sent."""
    label = _scalar(title) or "(a button without a title)"
    sent = _scalar(payload)
    return f"[button tapped] {label}" + (f" (payload: {sent})" if sent else "")


def _element(element: dict[str, Any]) -> str:
    words = [_scalar(element.get(k)) for k in ("title", "subtitle", "image_url", "item_url")]
    return " ".join(w for w in [*words, _buttons(element.get("buttons"))] if w)


def _buttons(buttons: Any) -> str | None:
    labels = [" ".join(filter(None, (_scalar(b.get("title")), _scalar(b.get("url"))))) for b in _objects(buttons)]
    return "buttons: " + ", ".join(label for label in labels if label) if any(labels) else None


def _objects(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
