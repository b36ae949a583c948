"""`record_event()`: the one way anything writes to the audit log.

Call it inside the transaction of the change it records. The row is published to the
channel-layer group `events` only once that transaction commits, so a rolled-back change
never reaches a console.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from audit.middleware import current_client_request_id, current_request_id
from audit.models import AuditEvent
from core.timefmt import iso_utc

logger = logging.getLogger(__name__)

EVENTS_GROUP = "events"
MASK = "***"


def record_event(
    event: str,
    *,
    provider_id: str = "",
    actor=None,
    summary: str,
    payload: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> AuditEvent:
    if event not in AuditEvent.Event.values:
        raise ValueError(f"Unknown audit event type {event!r}")
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    row = AuditEvent.objects.create(
        event=event,
        provider_id=provider_id,
        actor=user,
        actor_name=user.get_username() if user is not None else (actor if isinstance(actor, str) else "system"),
        request_id=request_id or current_request_id() or "",
        client_request_id=current_client_request_id() or "",
        summary=summary[:500],
        payload=payload or {},
    )
    transaction.on_commit(lambda: publish(row))
    return row


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


def publish(row: AuditEvent) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(EVENTS_GROUP, {"type": "audit.event", "event": serialize_event(row)})
    except Exception:  # a broken layer must never undo or fail a committed change
        logger.exception("could not publish audit event %s", row.id)
