"""Macros of the Zendesk simulator (``/api/v2/macros``): what an agent applies to a ticket in one click.

Shapes from Zendesk's Macros API and its actions reference: ``title`` and ``actions`` are required (422
``RecordInvalid`` without them); a macro may not set the status ``new`` or ``closed``; ``current_tags``
adds space-separated tags, ``remove_tags`` takes them off, ``set_tags`` replaces them all. Agents apply
macros in the agent interface: :meth:`MacrosMixin.apply_macro` plays that (the API's ``apply`` endpoint
only previews the changes, it saves nothing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from flask import Response

from sandbox.base import json_response
from sandbox.zendesk.wire import Paging, normalise_tags, not_found, now_iso, payload, record_invalid

TAG_ACTIONS = ("current_tags", "remove_tags", "set_tags")
FIELDS = ("title", "actions", "active", "description", "restriction", "position")


class MacrosMixin(Paging):
    _ids: Iterator[int]
    _macros: dict[int, dict[str, Any]]
    _tickets: dict[int, dict[str, Any]]
    _tag_audit: Callable[[dict[str, Any], list[str], int | None], dict[str, Any]]

    def _render_macro(self, macro: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"{self._base()}/api/v2/macros/{macro['id']}.json", **macro}

    def _macro_or_404(self, macro_id: int) -> dict[str, Any]:
        if macro_id not in self._macros:
            raise not_found()
        return self._macros[macro_id]

    def _list_macros(self) -> Response:
        return self._page("macros", [self._render_macro(m) for m in self._macros.values()])

    def _show_macro(self, macro_id: int) -> Response:
        return json_response({"macro": self._render_macro(self._macro_or_404(macro_id))})

    def _create_macro(self) -> Response:
        now = now_iso()
        macro: dict[str, Any] = {
            "id": next(self._ids), "title": None, "raw_title": None, "active": True, "actions": [],
            "description": None, "restriction": None, "position": len(self._macros) + 1, "default": False,
            "created_at": now, "updated_at": now,
        }  # fmt: skip
        self._apply_macro_fields(macro, payload("macro"))
        self._macros[macro["id"]] = macro
        return json_response({"macro": self._render_macro(macro)}, 201)

    def _update_macro(self, macro_id: int) -> Response:
        macro = self._macro_or_404(macro_id)
        self._apply_macro_fields(macro, payload("macro"))
        return json_response({"macro": self._render_macro(macro)})

    def _apply_macro_fields(self, macro: dict[str, Any], data: dict[str, Any]) -> None:
        merged = {**macro, **{k: v for k, v in data.items() if k in FIELDS}}
        if not str(merged["title"] or "").strip():
            raise record_invalid("title", "Title: cannot be blank", "BlankValue")
        actions = merged["actions"]
        if not isinstance(actions, list) or not actions:
            raise record_invalid("actions", "Actions: cannot be blank", "BlankValue")
        for action in actions:
            if not isinstance(action, dict) or not action.get("field"):
                raise record_invalid("actions", "Actions: each action needs a field and a value")
            if action["field"] == "status" and action.get("value") in ("new", "closed"):
                raise record_invalid("actions", f"Actions: a macro cannot set the status {action['value']}")
        macro.update(merged, raw_title=merged["title"], updated_at=now_iso())

    # -- helpers for tests ----------------------------------------------------------------------------------------

    def apply_macro(self, ticket_id: int | str, macro_id: int, *, author_id: int | None = None) -> None:
        """An agent (by default Alex Agent) applies a macro in the agent interface and submits: its tag actions
        change the ticket, in one audit by that agent with the macro's reference."""
        with self._lock:
            macro, ticket = self._macro_or_404(macro_id), self._tickets[int(ticket_id)]
            tags = list(ticket["tags"])
            for action in macro["actions"]:
                value = normalise_tags(action.get("value"))
                if action["field"] == "set_tags":
                    tags = value
                elif action["field"] == "current_tags":
                    tags = list(dict.fromkeys([*tags, *value]))
                elif action["field"] == "remove_tags":
                    tags = [t for t in tags if t not in value]
            audit = self._tag_audit(ticket, tags, author_id)
            reference = {"id": next(self._ids), "type": "AgentMacroReference", "macro_id": macro["id"],
                         "macro_title": macro["title"], "macro_deleted": False}  # fmt: skip
            audit["events"].append(reference)

    @property
    def macros(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._render_macro(m) for m in self._macros.values()]
