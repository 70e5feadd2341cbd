"""The episodes waiting now for a person's first reply, longest first: what a team lead looks at before the
figures. Their text is shown only with ``[dashboard] show_text`` (the store does not even read it otherwise).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bridge.events import SocialEvent


@dataclass(frozen=True)
class WaitingRow:
    """A thread whose current episode has no human reply delivered yet; ``payload``: its last message's, or None."""

    channel: str
    platform: str
    started_at: float
    payload: str | None = None

    @property
    def text(self) -> str | None:
        """The customer's last message (None: not read, or removed by retention)."""
        return SocialEvent.from_json(self.payload).text if self.payload else None  # emptied: bridge.store.REDACTED


def shaped(rows: Iterable[WaitingRow], zone: ZoneInfo, now: float, *, show_text: bool) -> list[dict[str, Any]]:
    """JSON-ready: channel, since when (local time), how long so far, and the text only when shown."""
    return [
        {"channel": r.channel, "platform": r.platform, "waiting_s": round(max(0.0, now - r.started_at)),
         "since": datetime.fromtimestamp(r.started_at, zone).isoformat(timespec="minutes"),
         **({"text": r.text} if show_text else {})}
        for r in rows
    ]  # fmt: skip
