"""Notice when the routing chain's serving provider changes, and say so in the audit log.

The chain is computed from committed state (console/chaincache.py), so a change that rolled back
is never announced. `notice_serving_change()` compares the serving provider with the one stored
at the last look (`ServingState`) and, when they differ, moves the stored one by compare-and-set
and writes `chain.serving_changed` in the same transaction: the alert's outbox row is written
there too (alerts/rules.py), and of several deliverers looking at once only one records it. The
first look only records who serves. It runs in every deliverer round (alerts/delivery.py), so
an alert follows the change within ALERT_POLL_SECONDS of a running deliverer or checker.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from alerts.models import ServingState
from audit.events import record_event
from console.chaincache import cached_chain
from providers.models import Provider

STATE_ID = 1


def _name(provider_id: str) -> str:
    if not provider_id:
        return "no provider"
    return Provider.objects.filter(pk=provider_id).values_list("name", flat=True).first() or provider_id


def notice_serving_change() -> bool:
    """Record `chain.serving_changed` if the serving provider moved since the last look."""
    chain = cached_chain()
    serving = chain.active_provider_id or ""
    state, created = ServingState.objects.get_or_create(
        pk=STATE_ID, defaults={"serving_provider_id": serving, "updated_at": timezone.now()}
    )
    if created or state.serving_provider_id == serving:
        return False
    before = state.serving_provider_id
    with transaction.atomic():
        moved = ServingState.objects.filter(pk=STATE_ID, version=state.version).update(
            serving_provider_id=serving, version=F("version") + 1, updated_at=timezone.now()
        )
        if not moved:
            return False  # another deliverer saw it first
        new_name, old_name = _name(serving), _name(before)
        if serving:
            summary = f"{new_name} now serves (was {old_name}): {chain.active_reason}"
        else:
            summary = f"No provider serves now (was {old_name}): {chain.active_reason}"
        record_event(
            "chain.serving_changed",
            provider_id=serving,
            actor="routing",
            summary=summary,
            payload={"before": before or None, "after": serving or None, "reason": chain.active_reason},
        )
    return True
