"""Reading Meta's webhook JSON defensively: one shape check per helper.

A field an event cannot do without, or one of the wrong type (a message's ``text`` that is a list, a
``messaging`` that is no array), raises :class:`Unusable`; the parser records that one event as
:class:`~bridge.events.Ignored` with the reason (:func:`guarded`, :func:`each`) and goes on with the
others. Never half-taken: a wrong-typed field is not read as absent, which made a ticket "(no text)" of a
message whose words were unreadable. Never a 4xx either, for one event of a signed POST: Meta retries a
delivery that gets no 200 "until successfully completed" and unsubscribes an app whose webhook keeps
failing (Messenger Platform FAQ, "Webhooks"), so a 4xx would refuse every other event with it, for days.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from bridge.events import Attachment, Ignored, SocialEvent, platform_time
from webhooks.common import json_type

log = logging.getLogger(__name__)

#: What a parser turns one webhook item into.
Parsed = SocialEvent | Ignored


class Unusable(Exception):
    """One event that cannot be used; ``reason`` is a short fixed phrase ("missing messages.from")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def dicts(container: dict[str, Any], key: str, where: str = "") -> list[dict[str, Any]]:
    """The objects in ``container[key]``, none when it is absent; :class:`Unusable` when it is not a list of
    objects."""
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise Unusable(f"{where}{key} is {json_type(value)}, not a list of objects")
    return value


def obj(container: dict[str, Any], key: str, where: str = "") -> dict[str, Any]:
    """``container[key]``, an empty object when it is absent; :class:`Unusable` when it is no object."""
    value = container.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Unusable(f"{where}{key} is {json_type(value)}, not an object")
    return value


def words(container: dict[str, Any], key: str, where: str = "") -> str | None:
    """What someone wrote, ``container[key]``: None when it is absent; :class:`Unusable` when it is no string
    (read as absent, unreadable words became an empty message on the ticket)."""
    value = container.get(key)
    if value is None or isinstance(value, str):
        return value
    raise Unusable(f"{where}{key} is {json_type(value)}, not a string")


def text(value: Any) -> str | None:
    """A scalar as a string (ids arrive as numbers or strings); None for missing or nested values."""
    return None if value is None or isinstance(value, dict | list) else str(value)


def required(value: dict[str, Any], key: str, where: str = "") -> str:
    """``value[key]`` as a string, or :class:`Unusable` naming the missing field."""
    found = text(value.get(key))
    if not found:
        raise Unusable(f"missing {where}{key}")
    return found


_NAME = re.compile(r"[a-z_]{1,40}")


def name_of(value: Any) -> str:
    """A field, item, verb or type name from Meta's vocabulary, fit for a reason (anything else is "other")."""
    found = text(value)
    return found if found is not None and _NAME.fullmatch(found) else "other"


def digest(*parts: Any) -> str:
    """A short hash of the canonical JSON of ``parts``: the same for a redelivery of an event, different
    for any other event (derived events often carry no id or time of their own)."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8", "replace")).hexdigest()[:16]


def ignored(platform: str, channel: str, account_id: str, message_id: str, reason: str, at: datetime) -> Ignored:
    """An :class:`Ignored` record, with its log line (debug: these are counted by ``socialdesk status``)."""
    log.debug("meta webhook: %s ignored: %s", platform, reason)
    if len(message_id) > 200:  # the inbox keeps 255 characters: a long id keeps its start and its hash
        message_id = f"{message_id[:180]}:{digest(message_id)}"
    return Ignored(platform=platform, channel=channel, account_id=account_id[:64], message_id=message_id,
                   reason=reason, created_at=at)  # fmt: skip


def guarded(
    platform: str, channel: str, account_id: str, item: Any, at: datetime, parse: Callable[[Any], Iterable[Parsed]]
) -> Iterator[Parsed]:
    """``parse(item)``'s events for one webhook ``item``; an :class:`Unusable` item is recorded as ignored instead,
    under an id made from its content (a redelivery is recognised)."""
    try:
        found = list(parse(item))
    except Unusable as e:
        found = [_unusable(platform, channel, account_id, f"unusable:{digest(item)}", e.reason, at)]
    yield from found


def each(
    platform: str, channel: str, account_id: str, container: dict[str, Any], key: str, at: datetime,
    parse: Callable[[dict[str, Any]], Iterable[Parsed]], *, own_time: str | None = None,
) -> Iterator[Parsed]:  # fmt: skip
    """:func:`guarded` ``parse`` of each object in ``container[key]`` (none when absent), recorded at ``at`` or, when
    an item has one, at its ``own_time``. When ``key`` holds no list (``"messaging": "nope"``), or an item is no
    object, that is recorded as ignored with the reason and the other items are kept: nothing of a signed POST
    is dropped without a trace."""
    value = container.get(key)
    if value is not None and not isinstance(value, list):
        reason = f"{key} is {json_type(value)}, not a list"
        yield _unusable(platform, channel, account_id, f"unusable:{digest(key, container)}", reason, at)
        return
    for index, item in enumerate(value or []):
        if isinstance(item, dict):
            when = platform_time(item.get(own_time)) if own_time else at
            yield from guarded(platform, channel, account_id, item, when, parse)
            continue
        reason = f"{key} item is {json_type(item)}, not an object"
        yield _unusable(platform, channel, account_id, f"unusable:{digest(key, index, container)}", reason, at)


def _unusable(platform: str, channel: str, account_id: str, message_id: str, reason: str, at: datetime) -> Ignored:
    log.info("meta webhook: an unusable %s event was recorded as ignored: %s", platform, reason)
    return ignored(platform, channel, account_id, message_id, reason, at)


def attachments(items: Any) -> tuple[Attachment, ...]:
    """Messenger and Instagram ``message.attachments``: the ones with an http(s) URL."""
    found = []
    for item in items if isinstance(items, list) else []:
        payload = item.get("payload") if isinstance(item, dict) else None
        url = (payload or {}).get("url") if isinstance(payload, dict) else None
        url = url or (item.get("url") if isinstance(item, dict) else None)
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            title = payload.get("title") if isinstance(payload, dict) else None
            found.append(Attachment(url=url, kind=_kind(item, payload), name=text(title)))
    return tuple(found)


def _kind(item: dict[str, Any], payload: Any) -> str:
    """The attachment's type; a sticker sent as an ``image`` with a ``sticker_id`` (restfb's recorded
    messaging-message-sticker.json; Meta's messages webhook reference: the older shape, sent until
    Aug 30, 2026 beside the newer ``sticker`` type) is a sticker, not a picture the customer took."""
    if isinstance(payload, dict) and payload.get("sticker_id") is not None:
        return "sticker"
    return str(item.get("type", "file"))
