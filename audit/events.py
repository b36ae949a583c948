"""`record_event()` and `record_events()`: the one way anything writes to the audit log.

Call them inside the transaction of the change they record. `audit.signals.events_recorded` is
sent in that transaction with the new rows (the alerts' outbox is written there). The rows are broadcast to the
channel-layer group `events` only once that transaction commits, so a rolled-back change (or a
rolled-back savepoint) never reaches a console; the broadcast itself runs off the request path
(audit/broadcast.py). `record_events()` writes many rows of one type with one INSERT.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from django.db import transaction

from audit.broadcast import EVENTS_GROUP, broadcaster
from audit.middleware import current_client_request_id, current_request_id
from audit.models import AuditEvent
from audit.signals import events_recorded
from core.actors import actor_name
from core.masking import MASK
from core.timefmt import iso_utc

# The known event types, built once: `Event.values` builds a new list on every access, which was
# most of the cost of making the rows of a Run all of 1,000 checks.
KNOWN_EVENTS = frozenset(AuditEvent.Event.values)

__all__ = ["EVENTS_GROUP", "record_event", "record_events", "serialize_event", "masked_event", "mask_payload"]


def record_event(
    event: str,
    *,
    provider_id: str = "",
    actor=None,
    summary: str,
    payload: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> AuditEvent:
    row = _new_row(event, provider_id=provider_id, actor=actor, summary=summary, payload=payload, request_id=request_id)
    row.save(force_insert=True)
    events_recorded.send(AuditEvent, rows=[row])
    _broadcast_on_commit([row])
    return row


def record_events(event: str, entries: Iterable[dict[str, Any]], *, actor=None) -> list[AuditEvent]:
    """Many rows of one `event` type in one INSERT; `entries` hold `provider_id`, `summary`,
    `payload`. Broadcast together once the transaction commits, as batch frames."""
    rows = [_new_row(event, actor=actor, **entry) for entry in entries]
    if not rows:
        return rows
    rows = AuditEvent.objects.bulk_create(rows)
    events_recorded.send(AuditEvent, rows=rows)
    _broadcast_on_commit(rows, batch=True)
    return rows


def _new_row(
    event: str,
    *,
    provider_id: str = "",
    actor=None,
    summary: str,
    payload: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> AuditEvent:
    if event not in KNOWN_EVENTS:
        raise ValueError(f"Unknown audit event type {event!r}")
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    return AuditEvent(
        event=event,
        provider_id=provider_id,
        actor=user,
        actor_name=actor_name(actor),
        request_id=request_id or current_request_id() or "",
        client_request_id=current_client_request_id() or "",
        summary=summary[:500],
        payload=payload or {},
    )


def _broadcast_on_commit(rows: list[AuditEvent], batch: bool = False) -> None:
    """One callback per call, registered in the current savepoint: Django drops it with the
    rows when that savepoint or the transaction rolls back. It only queues the rows."""
    transaction.on_commit(partial(broadcaster.submit, rows, batch))


def serialize_event(row: AuditEvent, *, masked: bool = False) -> dict[str, Any]:
    """The event row of API.md; `masked` replaces every payload value with "***"."""
    event = {
        "id": row.id,
        "event": row.event,
        "provider_id": row.provider_id or None,
        "actor": row.actor_name,
        "summary": row.summary,
        "payload": row.payload,
        "masked": False,
        "created_at": iso_utc(row.created_at),
        "request_id": row.request_id or None,
        "client_request_id": row.client_request_id or None,
    }
    return masked_event(event) if masked else event


def masked_event(event: dict[str, Any]) -> dict[str, Any]:
    """What a viewer sees of an event row: the summary in clear, payload values masked."""
    return {**event, "payload": mask_payload(event["payload"]), "masked": True}


def mask_payload(payload: Any) -> Any:
    """Keys stay readable at every depth, every value becomes "***" (spec §5.2)."""
    if isinstance(payload, dict):
        return {key: mask_payload(value) for key, value in payload.items()}
    return MASK
