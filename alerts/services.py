"""Changes to alert channels: each in one transaction with its audit event (API.md, "Alerts").

Fields are checked by `alerts.validation.clean_channel` first. A channel's webhook secret is the
vault's (`secrets_vault.api`, owner `alert_channel:<id>`); its events name the action, never
the value. A test alert is an `alert.test` event and its delivery, queued together.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db import transaction
from django.db.models import F

from alerts.models import AlertChannel, AlertDelivery, AlertKind, ChannelKind, vault_owner
from alerts.rules import new_delivery
from alerts.validation import FIELDS, clean_channel
from audit.events import record_event
from core.actors import actor_name
from secrets_vault import api as vault

WEBHOOK_SECRET = "webhook_secret"


class VersionMismatch(Exception):
    """The channel is no longer at the version the caller read (`If-Match`); nothing changed."""

    def __init__(self, current: int):
        super().__init__(f"The channel is at version {current}; reload it and apply your change again.")
        self.current = current


class NotAWebhook(Exception):
    """Only a webhook channel has a signing secret."""


def public_fields(channel: AlertChannel) -> dict[str, Any]:
    return {f: getattr(channel, f) for f in FIELDS}


def _lock(channel: AlertChannel, expected_version: int | Collection[int] | None) -> AlertChannel:
    locked = AlertChannel.objects.select_for_update().get(pk=channel.pk)
    if expected_version is not None:
        allowed = {expected_version} if isinstance(expected_version, int) else set(expected_version)
        if locked.version not in allowed:
            raise VersionMismatch(locked.version)
    return locked


@transaction.atomic
def create_channel(data: dict[str, Any], *, actor=None) -> AlertChannel:
    cleaned = clean_channel(data)
    channel = AlertChannel.objects.create(**cleaned, created_by_name=actor_name(actor))
    record_event(
        "alert_channel.created",
        actor=actor,
        summary=f"{actor_name(actor)} created the {channel.kind} alert channel {channel.name}",
        payload={"channel_id": channel.pk, "fields": public_fields(channel)},
    )
    return channel


@transaction.atomic
def update_channel(
    channel: AlertChannel, changes: dict[str, Any], *, actor=None, expected_version: int | Collection[int] | None = None
) -> AlertChannel:
    locked = _lock(channel, expected_version)
    cleaned = clean_channel(changes, instance=locked)
    diff = {f: {"before": getattr(locked, f), "after": v} for f, v in cleaned.items() if getattr(locked, f) != v}
    if not diff:
        return locked
    for name, value in cleaned.items():
        setattr(locked, name, value)
    locked.version = F("version") + 1
    locked.save()
    locked.refresh_from_db()
    if list(diff) == ["enabled"]:
        verb = "enabled" if locked.enabled else "disabled"
    else:
        verb = "edited"
    record_event(
        "alert_channel.updated",
        actor=actor,
        summary=f"{actor_name(actor)} {verb} the alert channel {locked.name} ({', '.join(sorted(diff))})",
        payload={"channel_id": locked.pk, "changes": diff, "version": locked.version},
    )
    return locked


@transaction.atomic
def delete_channel(channel: AlertChannel, *, actor=None, expected_version: int | Collection[int] | None = None) -> None:
    locked = _lock(channel, expected_version)
    record_event(
        "alert_channel.deleted",
        actor=actor,
        summary=f"{actor_name(actor)} deleted the alert channel {locked.name}; its delivery history went with it",
        payload={"channel_id": locked.pk, "fields": public_fields(locked)},
    )
    vault.forget_owned_secrets(locked.vault_owner)
    locked.delete()


@transaction.atomic
def change_secret(channel: AlertChannel, action: str, value: str | None = None, *, actor=None) -> dict[str, Any]:
    """`set`, `rotate` or `clear` the channel's webhook secret; returns its state (no value).

    Raises `NotAWebhook`, the vault's state conflict (rotate or clear with none stored) and
    `ValidationError` for a bad value, all before anything is written.
    """
    locked = AlertChannel.objects.select_for_update().get(pk=channel.pk)
    if locked.kind != ChannelKind.WEBHOOK:
        raise NotAWebhook(f"{locked.name} is a {locked.kind} channel; only a webhook channel signs with a secret.")
    owner = locked.vault_owner
    if action == "clear":
        vault.clear_owned_secret(owner, WEBHOOK_SECRET, actor=actor)
        record_event(
            "alert_channel.secret_cleared",
            actor=actor,
            summary=f"{actor_name(actor)} cleared the webhook secret of {locked.name}; its alerts wait for a new one",
            payload={"channel_id": locked.pk},
        )
    else:
        vault.set_owned_secret(owner, WEBHOOK_SECRET, value, actor=actor, rotate=action == "rotate")
        record_event(
            "alert_channel.secret_updated",
            actor=actor,
            summary=f"{actor_name(actor)} {'rotated' if action == 'rotate' else 'set'} the webhook secret of {locked.name}",
            payload={"channel_id": locked.pk, "action": action},
        )
    return secret_state(locked)


def secret_state(channel: AlertChannel) -> dict[str, Any]:
    return secret_states([channel])[channel.pk]


def secret_states(channels: Collection[AlertChannel]) -> dict[str, dict[str, Any]]:
    """Each channel's webhook secret state, in one query: present, version, last touched."""
    states = vault.owned_secret_states([vault_owner(c.pk) for c in channels], WEBHOOK_SECRET)
    return {c.pk: states[vault_owner(c.pk)] for c in channels}


@transaction.atomic
def send_test(channel: AlertChannel, *, actor=None) -> AlertDelivery:
    """Queue one `alert.test` delivery to `channel` (enabled or not: a test checks the wiring)."""
    row = record_event(
        "alert.test",
        actor=actor,
        summary=f"{actor_name(actor)} sent a test alert to {channel.name}",
        payload={"channel_id": channel.pk},
    )
    delivery = new_delivery(channel, AlertKind.ALERT_TEST, row)
    delivery.save(force_insert=True)
    return delivery
