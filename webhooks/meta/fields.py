"""Reading Meta's webhook JSON defensively: one shape check per helper, 400 for what must be there."""

from __future__ import annotations

from typing import Any

from flask import abort

from bridge.events import Attachment


def dicts(container: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The objects in ``container[key]``, when it is a list; anything else there is skipped."""
    value = container.get(key, [])
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def obj(container: dict[str, Any], key: str) -> dict[str, Any]:
    """``container[key]`` when it is an object, else an empty one."""
    value = container.get(key)
    return value if isinstance(value, dict) else {}


def text(value: Any) -> str | None:
    """A scalar as a string (ids arrive as numbers or strings); None for missing or nested values."""
    return None if value is None or isinstance(value, dict | list) else str(value)


def required(value: dict[str, Any], key: str, where: str = "") -> str:
    """``value[key]`` as a string, or a 400 naming the missing field."""
    found = text(value.get(key))
    if not found:
        abort(400, f"missing {where}{key}")
    return found


def attachments(items: Any) -> tuple[Attachment, ...]:
    """Messenger and Instagram ``message.attachments``: the ones with an http(s) URL."""
    found = []
    for item in items if isinstance(items, list) else []:
        payload = item.get("payload") if isinstance(item, dict) else None
        url = (payload or {}).get("url") if isinstance(payload, dict) else None
        url = url or (item.get("url") if isinstance(item, dict) else None)
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            title = payload.get("title") if isinstance(payload, dict) else None
            found.append(Attachment(url=url, kind=str(item.get("type", "file")), name=text(title)))
    return tuple(found)
