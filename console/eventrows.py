"""Audit events as the pages show them: the API's row (`audit.events.serialize_event`, masked
for anyone who may not change providers, as `GET /api/events`) plus the before/after table of
its payload. static/js/events_page.js draws live rows from the same row with the same rules.
"""

from __future__ import annotations

import json
from typing import Any

from audit.api import sees_payloads
from audit.events import serialize_event
from audit.models import AuditEvent

ABSENT = "—"


def show_value(value: Any) -> str:
    """A payload value as text: strings as they are, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


def _is_change(value: Any) -> bool:
    return isinstance(value, dict) and set(value) <= {"before", "after"} and bool(value)


def payload_view(payload: dict[str, Any]) -> dict[str, list[tuple[str, str, str]] | list[tuple[str, str]]]:
    """`changes`: (field, before, after) rows; `details`: the other (key, value) pairs.

    The payload shapes of audit events (docs/events.md): `{"changes": {field: {"before",
    "after"}}}` for an update, `{"before", "after", ...}` for a status move, `{"fields": {...}}`
    for a creation (before is absent); anything else is listed key by key.
    """
    changes: list[tuple[str, str, str]] = []
    details: list[tuple[str, str]] = []
    payload = payload if isinstance(payload, dict) else {"value": payload}
    for key, value in payload.items():
        if key == "changes" and isinstance(value, dict) and all(_is_change(v) for v in value.values()):
            for field, change in value.items():
                changes.append((field, _side(change, "before"), _side(change, "after")))
        elif key == "fields" and isinstance(value, dict):
            for field, after in value.items():
                changes.append((field, ABSENT, show_value(after)))
        elif key in ("before", "after") and "before" in payload and "after" in payload:
            if key == "before":
                changes.extend(_before_after(payload["before"], payload["after"]))
        else:
            details.append((key, show_value(value)))
    return {"changes": changes, "details": details}


def _side(change: dict[str, Any], side: str) -> str:
    return show_value(change[side]) if side in change else ABSENT


def _before_after(before: Any, after: Any) -> list[tuple[str, str, str]]:
    if isinstance(before, dict) and isinstance(after, dict):
        keys = list(dict.fromkeys([*before, *after]))
        return [
            (key, show_value(before[key]) if key in before else ABSENT, show_value(after[key]) if key in after else ABSENT)
            for key in keys
        ]
    return [("status", show_value(before), show_value(after))]


def event_rows(rows: list[AuditEvent], user) -> list[dict[str, Any]]:
    """The rows for a page, masked as the API masks them for this user."""
    masked = not sees_payloads(user)
    out = []
    for row in rows:
        event = serialize_event(row, masked=masked)
        event["created"] = row.created_at
        event["view"] = payload_view(event["payload"])
        out.append(event)
    return out
