"""Business calendars in the Freshdesk simulator: ``GET /api/v2/business_hours`` and ``/{id}``.

Shape: Freshdesk's "List All Business Hours" and "View a Business Hour" (developers.freshdesk.com/api/
#business-hours): ``id``, ``name``, ``description``, ``time_zone`` (a Rails name such as "Eastern Time (US &
Canada)"), ``is_default``, ``business_hours`` keyed by weekday (a closed day is absent) with
``start_time``/``end_time`` like ``"08:00:00 am"`` and ``"11:59:59 pm"`` for the end of the day,
``created_at``, ``updated_at``. The list is a plain array, paginated like Freshdesk's other lists.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from sandbox.freshdesk.wire import now_iso

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_ids = itertools.count(35000006727)


def new_business_hours(
    name: str, time_zone: str, hours: Mapping[str, tuple[str, str]], *, default: bool = False, description: str = ""
) -> dict[str, Any]:
    """A business calendar; ``hours`` maps a weekday to (start, end) as Freshdesk writes them."""
    unknown = set(hours) - set(WEEKDAYS)
    if unknown:
        raise ValueError(f"not weekdays: {', '.join(sorted(unknown))}")
    now = now_iso()
    return {
        "id": next(_ids), "name": name, "description": description or name, "time_zone": time_zone,
        "is_default": default,
        "business_hours": {day: {"start_time": hours[day][0], "end_time": hours[day][1]}
                           for day in WEEKDAYS if day in hours},
        "created_at": now, "updated_at": now,
    }  # fmt: skip
