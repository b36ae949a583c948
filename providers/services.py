"""Every change to a provider goes through here: one transaction with its audit row.

Views (API and pages), commands and the health runner call these functions; none of them
saves a Provider directly.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.events import record_event
from core.actors import actor_name
from core.timefmt import iso_utc
from providers.models import Provider, Status, Tier
from providers.signals import provider_changing

# Fields whose before/after values go into the provider.updated payload.
AUDITED_FIELDS = (
    "name", "display_name", "kind", "endpoint", "default_model", "fallback_models", "status",
    "enabled", "priority", "capabilities", "secret_policy", "retries", "timeout_ms",
    "tool_timeout_ms", "metadata",
)


class VersionMismatch(Exception):
    """The provider is no longer at the version the caller read (`If-Match`); nothing changed."""

    def __init__(self, current: int):
        super().__init__(f"The provider is at version {current}; reload it and apply your change again.")
        self.current = current


def _lock(provider: Provider, expected_version: int | Collection[int] | None) -> Provider:
    """The row, locked until the transaction ends, checked against the version the caller read.

    Compared after the lock is taken: two writers that read the same version are serialised
    here, and the second one sees the first one's new version and is refused.
    """
    locked = Provider.objects.select_for_update().get(pk=provider.pk)
    if expected_version is not None:
        allowed = {expected_version} if isinstance(expected_version, int) else set(expected_version)
        if locked.version not in allowed:
            raise VersionMismatch(locked.version)
    return locked


def _stamp(actor) -> str:
    return f"set by {actor_name(actor)} at {iso_utc(timezone.now())}"


def apply_operator_status(provider: Provider, *, status: str | None = None, enabled: bool | None = None) -> None:
    """Fold an operator's `status` / `enabled` into tier, enabled and status.

    `disabled` ⇔ `enabled=false`; `active`/`standby` set the tier and enable the provider.
    Turning a provider back on restores the tier the operator gave it; otherwise a health
    overlay (degraded/unreachable) stays until the next check moves it.
    """
    if status == Status.DISABLED:
        provider.enabled = False
    elif status is not None:
        provider.tier = Tier(status)
        provider.enabled = True
    elif enabled is not None:
        provider.enabled = enabled
    if not provider.enabled:
        provider.status = Status.DISABLED
    elif status is not None or provider.status == Status.DISABLED:
        provider.status = provider.tier


def _snapshot(provider: Provider) -> dict[str, Any]:
    return {name: getattr(provider, name) for name in AUDITED_FIELDS}


def _apply_changes(provider: Provider, changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Set validated `changes` on `provider` (status and enabled folded by the operator rule);
    returns the audited fields before and after."""
    before = _snapshot(provider)
    changes = dict(changes)
    status, enabled = changes.pop("status", None), changes.pop("enabled", None)
    for name, value in changes.items():
        setattr(provider, name, value)
    apply_operator_status(provider, status=status, enabled=enabled)
    return before, _snapshot(provider)


@transaction.atomic
def create_provider(data: dict[str, Any], *, actor=None) -> Provider:
    data = dict(data)
    status, enabled = data.pop("status", None), data.pop("enabled", None)
    provider = Provider(**data)
    apply_operator_status(provider, status=status, enabled=enabled)
    provider.status_reason = _stamp(actor)
    provider.fill_defaults()
    provider.full_clean()
    provider.save(force_insert=True)
    record_event(
        "provider.created",
        provider_id=provider.id,
        actor=actor,
        summary=f"{actor_name(actor)} created provider {provider.name}",
        payload={"fields": _snapshot(provider)},
    )
    return provider


@transaction.atomic
def update_provider(
    provider: Provider, changes: dict[str, Any], *, actor=None, expected_version: int | Collection[int] | None = None
) -> Provider:
    """Apply `changes` (already validated); returns the saved provider, version bumped.

    With `expected_version`, raises VersionMismatch unless the locked row is at that version.
    """
    locked = _lock(provider, expected_version)
    old_status = locked.status
    before, after = _apply_changes(locked, changes)
    diff = {k: {"before": before[k], "after": after[k]} for k in AUDITED_FIELDS if before[k] != after[k]}
    if not diff:
        return locked
    if locked.status != old_status:
        locked.status_reason = _stamp(actor)
    locked.full_clean()
    # Other apps' rules and their own writes (the vault re-binds a secret to a new origin).
    provider_changing.send(Provider, provider=locked, before=before, changed=set(diff), actor=actor, check_only=False)
    locked.version = F("version") + 1
    locked.save()
    locked.refresh_from_db()
    who = actor_name(actor)
    record_event(
        "provider.updated",
        provider_id=locked.id,
        actor=actor,
        summary=f"{who} changed {', '.join(diff)} of {locked.name}",
        payload={"changes": diff, "version": locked.version},
    )
    if locked.status != old_status:
        _record_state_change(locked, old_status, locked.status, locked.status_reason, actor)
    return locked


def check_update(provider: Provider, changes: dict[str, Any], *, actor=None) -> None:
    """Whether `changes` may be made, asking the `provider_changing` receivers; writes nothing.

    For forms that show a refusal inline before they save; `update_provider` asks again with
    the row locked. Raises what a receiver raises (`ChangeRefused`, `ChangeConflict`).
    """
    current = Provider.objects.get(pk=provider.pk)
    before, after = _apply_changes(current, changes)
    changed = {k for k in AUDITED_FIELDS if before[k] != after[k]}
    if changed:
        provider_changing.send(Provider, provider=current, before=before, changed=changed, actor=actor, check_only=True)


def _record_state_change(provider: Provider, old: str, new: str, reason: str, actor) -> None:
    record_event(
        "provider.state_changed",
        provider_id=provider.id,
        actor=actor,
        summary=f"{provider.name} is now {new} (was {old}): {reason}",
        payload={"before": old, "after": new, "reason": reason},
    )


@transaction.atomic
def archive_provider(provider: Provider, *, actor=None, expected_version: int | Collection[int] | None = None) -> Provider:
    locked = _lock(provider, expected_version)
    if locked.archived_at is None:
        locked.archived_at = timezone.now()
        locked.version = F("version") + 1
        locked.save(update_fields=["archived_at", "version", "updated_at"])
        locked.refresh_from_db()
        record_event(
            "provider.archived",
            provider_id=locked.id,
            actor=actor,
            summary=f"{actor_name(actor)} archived {locked.name}; it can be restored",
            payload={"archived_at": iso_utc(locked.archived_at), "version": locked.version},
        )
    return locked


@transaction.atomic
def restore_provider(provider: Provider, *, actor=None) -> Provider:
    locked = Provider.objects.select_for_update().get(pk=provider.pk)
    if locked.archived_at is not None:
        locked.archived_at = None
        locked.version = F("version") + 1
        locked.save(update_fields=["archived_at", "version", "updated_at"])
        locked.refresh_from_db()
        record_event(
            "provider.restored",
            provider_id=locked.id,
            actor=actor,
            summary=f"{actor_name(actor)} restored {locked.name}",
            payload={"version": locked.version},
        )
    return locked


def move_status(provider_id: str, *, expected: str, new: str, reason: str, actor=None) -> bool:
    """Compare-and-set used by health checks: move `expected` → `new`, or do nothing.

    Returns True when this call made the move (and wrote `provider.state_changed`); False
    when the status was no longer `expected` (someone else moved it first).
    """
    if expected == new:
        return False
    with transaction.atomic():
        moved = Provider.objects.filter(pk=provider_id, status=expected).update(
            status=new, status_reason=reason[:500], version=F("version") + 1, updated_at=timezone.now()
        )
        if moved:
            provider = Provider.objects.get(pk=provider_id)
            _record_state_change(provider, expected, new, reason, actor)
    return bool(moved)
