"""The service figures as JSON-ready values (the dashboard's API, ``figures.json``): dates as ISO strings,
the period with its time zone, durations in seconds; episode rows only when asked (they can be many)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from bridge.figmodel import Badge, Figures


def as_dict(figures: Figures, *, episodes: bool = False) -> dict[str, Any]:
    """Everything in ``figures`` but the per-episode rows (with ``episodes``: those too)."""
    period = figures.period
    return {
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat(), "tz": period.tz.key,
                   "label": period.label()},
        "channel": figures.channel,
        "attribution": figures.attribution,
        "calendars": figures.calendars,
        "total": asdict(figures.total),
        "channels": {name: asdict(s) for name, s in figures.channels.items()},
        "platforms": {name: asdict(s) for name, s in figures.platforms.items()},
        "days": [_dated(asdict(d)) for d in figures.days],
        **({"episodes": [_dated(asdict(r)) for r in figures.episodes]} if episodes else {}),
    }  # fmt: skip


def badges(estimates: list[Badge]) -> list[dict[str, Any]]:
    return [asdict(b) for b in estimates]


def _dated(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in row.items()}
