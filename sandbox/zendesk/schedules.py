"""Business-hours schedules and their holidays in the Zendesk simulator.

Shapes: the Schedules API (developer.zendesk.com/api-reference/ticketing/ticket-management/schedules):
``GET /api/v2/business_hours/schedules`` answers ``{"schedules": [...]}`` (no pagination), each with ``id``,
``name``, ``time_zone`` (a Rails name such as "Eastern Time (US & Canada)"), ``intervals`` of
``start_time``/``end_time`` in minutes since Sunday midnight, ``created_at``, ``updated_at``;
``GET .../schedules/{id}`` answers ``{"schedule": {...}}``; ``GET .../schedules/{id}/holidays`` answers
``{"holidays": [...]}`` with ``id``, ``name``, ``start_date``, ``end_date``. An unknown id is Zendesk's 404
``RecordNotFound``. The reference allows these endpoints to admins only: an ``api_user_role="agent"``
gets Zendesk's 403.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from flask import Response

from sandbox.base import json_response
from sandbox.zendesk.wire import Paging, forbidden, not_found, now_iso

DAY = 24 * 60


class SchedulesMixin(Paging):
    """``/api/v2/business_hours/schedules`` (list, show, holidays); :meth:`add_schedule` for tests."""

    def _init_schedules(self) -> None:
        self._schedule_ids: Iterator[int] = itertools.count(360000010001)
        self._holiday_ids: Iterator[int] = itertools.count(360000020001)
        self._schedules: dict[int, dict[str, Any]] = {}

    def add_schedule(
        self,
        name: str,
        time_zone: str,
        intervals: Sequence[tuple[int, int]],
        holidays: Sequence[tuple[str, str, str]] = (),
    ) -> int:
        """A schedule (``intervals`` in minutes since Sunday midnight, as Zendesk stores them; each within one
        day) with ``holidays`` as (name, start_date, end_date); its id."""
        for start, end in intervals:
            if not 0 <= start < end <= (start // DAY + 1) * DAY or end > 7 * DAY:
                raise ValueError(f"interval {start}-{end} spans calendar days, which Zendesk refuses")
        schedule_id, now = next(self._schedule_ids), now_iso()
        with self._lock:
            self._schedules[schedule_id] = {
                "id": schedule_id, "name": name, "time_zone": time_zone, "created_at": now, "updated_at": now,
                "intervals": [{"start_time": s, "end_time": e} for s, e in intervals],
                "_holidays": [{"id": next(self._holiday_ids), "name": n, "start_date": a, "end_date": b}
                              for n, a, b in holidays],
            }  # fmt: skip
        return schedule_id

    api_user_id: int
    _users: dict[int, dict[str, Any]]

    def _admins_only(self) -> None:
        if self._users[self.api_user_id]["role"] != "admin":
            raise forbidden()

    def _list_schedules(self) -> Response:
        self._admins_only()
        return json_response({"schedules": [self._render_schedule(s) for s in self._schedules.values()]})

    def _show_schedule(self, schedule_id: int) -> Response:
        return json_response({"schedule": self._render_schedule(self._schedule_or_404(schedule_id))})

    def _list_holidays(self, schedule_id: int) -> Response:
        holidays = self._schedule_or_404(schedule_id)["_holidays"]
        return json_response({"holidays": [dict(h) for h in holidays]})

    def _schedule_or_404(self, schedule_id: int) -> dict[str, Any]:
        self._admins_only()
        schedule = self._schedules.get(schedule_id)
        if schedule is None:
            raise not_found()
        return schedule

    def _render_schedule(self, schedule: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in schedule.items() if not k.startswith("_")}
