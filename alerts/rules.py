"""Which audit events call for which alerts, on which channels, and the cooldown (issue: alerts §2).

`on_events_recorded` receives `audit.signals.events_recorded` inside the transaction that wrote
the events, so the outbox rows it writes commit or roll back with them.

Alerts and the events they come from:
- `provider.unreachable` / `provider.degraded`: a `provider.state_changed` into that status;
- `provider.recovered`: a `provider.state_changed` from `unreachable` or `degraded` back to the
  operator's tier (`active`, `standby`); an operator enabling a disabled provider is not one;
- `secret.cleared`: a provider's secret cleared;
- `checks.failed`: a Run all checks that found failures (one event per run);
- `chain.serving_changed`: the serving provider changed (alerts/serving.py writes that event).

A channel takes an alert when it is enabled, its `events` hold it, and its `providers` / `kinds`
(when not empty) hold the provider concerned (for the chain: the provider before or after; for a
run: any provider that failed).

Cooldown, per channel and subject (a provider's state, a provider's secret, the chain, the
checks): the first alert goes out and opens a window of the channel's `cooldown_s`; changes
inside the window are held back and counted; when it ends with changes held back, one summary
"still flapping: N changes" goes out (alerts/delivery.py sweeps them, or the next change after
the window sends it) and a new window opens. A window with nothing held back just ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from alerts import formats
from alerts.models import AlertChannel, AlertCooldown, AlertDelivery, AlertKind
from audit.events import masked_event, serialize_event
from audit.models import AuditEvent
from providers.models import HEALTHY_STATUSES, Provider, Status

FOLLOWED = frozenset({"provider.state_changed", "secret.cleared", "checks.failed", "chain.serving_changed"})


@dataclass(frozen=True)
class Alert:
    kind: str
    subject: str  # the cooldown's key within a channel
    provider_ids: tuple[str, ...]  # what the channel's provider and kind filters look at
    provider_id: str = ""  # the provider the alert is about, when there is one


def alert_for(row: AuditEvent) -> Alert | None:
    """The alert an audit row calls for, or None."""
    payload = row.payload or {}
    if row.event == "provider.state_changed":
        before, after = payload.get("before"), payload.get("after")
        if after == Status.UNREACHABLE:
            kind = AlertKind.PROVIDER_UNREACHABLE
        elif after == Status.DEGRADED:
            kind = AlertKind.PROVIDER_DEGRADED
        elif after in HEALTHY_STATUSES and before in (Status.UNREACHABLE, Status.DEGRADED):
            kind = AlertKind.PROVIDER_RECOVERED
        else:
            return None
        return Alert(kind, f"state:{row.provider_id}", (row.provider_id,), row.provider_id)
    if row.event == "secret.cleared":
        return Alert(AlertKind.SECRET_CLEARED, f"secret:{row.provider_id}", (row.provider_id,), row.provider_id)
    if row.event == "checks.failed":
        return Alert(AlertKind.CHECKS_FAILED, "checks", tuple(payload.get("failed_providers") or ()))
    if row.event == "chain.serving_changed":
        ids = tuple(pid for pid in (payload.get("before"), payload.get("after")) if pid)
        return Alert(AlertKind.CHAIN_SERVING_CHANGED, "chain", ids, row.provider_id)
    return None


def channel_takes(channel: AlertChannel, alert: Alert, kinds_of: dict[str, str]) -> bool:
    if not channel.enabled or alert.kind not in channel.events:
        return False
    if channel.providers and not any(pid in channel.providers for pid in alert.provider_ids):
        return False
    if channel.kinds and not any(kinds_of.get(pid) in channel.kinds for pid in alert.provider_ids):
        return False
    return True


def on_events_recorded(sender: Any, rows: Iterable[AuditEvent], **kwargs: Any) -> None:
    wanted = [(row, alert) for row in rows if row.event in FOLLOWED and (alert := alert_for(row))]
    if not wanted:
        return
    channels = list(AlertChannel.objects.filter(enabled=True))
    if not channels:
        return
    kinds_of: dict[str, str] = {}
    if any(channel.kinds for channel in channels):
        ids = {pid for _, alert in wanted for pid in alert.provider_ids}
        kinds_of = dict(Provider.objects.filter(pk__in=ids).values_list("pk", "kind"))
    for row, alert in wanted:
        for channel in channels:
            if channel_takes(channel, alert, kinds_of):
                queue_alert(channel, alert, row)


def new_delivery(channel: AlertChannel, alert_kind: str, row: AuditEvent, *, provider_id: str = "", changes: int = 0,
                 text: str | None = None) -> AlertDelivery:
    """The unsaved outbox row of `alert_kind` for `row` on `channel`: the event as a viewer sees
    it, frozen now, and its one-line text."""
    event = masked_event(serialize_event(row))
    return AlertDelivery(
        channel=channel,
        event_id=row.id,
        alert=alert_kind,
        provider_id=provider_id,
        event=event,
        text=(text or formats.alert_text(alert_kind, event))[:1000],
        changes=changes,
    )


def queue_alert(channel: AlertChannel, alert: Alert, row: AuditEvent) -> AlertDelivery | None:
    """Queue `alert` for `channel`, or hold it back inside the cooldown window; in the caller's
    transaction. Returns the delivery queued, if any."""
    if channel.cooldown_s <= 0:
        delivery = new_delivery(channel, alert.kind, row, provider_id=alert.provider_id)
        delivery.save(force_insert=True)
        return delivery
    now = timezone.now()
    AlertCooldown.objects.get_or_create(
        channel=channel, subject=alert.subject,
        defaults={"provider_id": alert.provider_id, "window_started_at": now - timedelta(seconds=channel.cooldown_s)},
    )
    cooldown = AlertCooldown.objects.select_for_update().get(channel=channel, subject=alert.subject)
    window_over = now - cooldown.window_started_at >= timedelta(seconds=channel.cooldown_s)
    if not window_over:
        AlertCooldown.objects.filter(pk=cooldown.pk).update(
            held_back=F("held_back") + 1, last_event_id=row.id, last_alert=alert.kind
        )
        return None
    changes = cooldown.held_back + 1 if cooldown.held_back else 0
    delivery = new_delivery(channel, alert.kind, row, provider_id=alert.provider_id, changes=changes,
                         text=formats.flapping_text(alert.kind, row, changes, channel.cooldown_s) if changes else None)
    delivery.save(force_insert=True)
    AlertCooldown.objects.filter(pk=cooldown.pk).update(
        window_started_at=now, held_back=0, last_event_id=row.id, last_alert=alert.kind
    )
    return delivery


def summarize_flapping(now=None) -> int:
    """Queue one "still flapping" summary for each cooldown window that ended with changes held
    back, and open a new window; returns how many were queued. Each row is taken with a
    compare-and-set on its window, so two deliverers sweeping at once queue each summary once."""
    now = now or timezone.now()
    queued = 0
    candidates = AlertCooldown.objects.filter(held_back__gt=0).select_related("channel")
    for cooldown in candidates:
        channel = cooldown.channel
        if now - cooldown.window_started_at < timedelta(seconds=channel.cooldown_s):
            continue
        row = AuditEvent.objects.filter(pk=cooldown.last_event_id).first()
        with transaction.atomic():
            taken = AlertCooldown.objects.filter(
                pk=cooldown.pk, window_started_at=cooldown.window_started_at, held_back=cooldown.held_back
            ).update(window_started_at=now, held_back=0)
            if not taken or row is None or not channel.enabled:
                continue
            kind = cooldown.last_alert
            new_delivery(
                channel, kind, row, provider_id=cooldown.provider_id, changes=cooldown.held_back,
                text=formats.flapping_text(kind, row, cooldown.held_back, channel.cooldown_s),
            ).save(force_insert=True)
            queued += 1
    return queued
