"""Set, rotate, clear and restore a provider's secret.

Each action is one transaction: the new version row, the previous row marked superseded, and
the audit event (`secret.updated` / `secret.cleared`). If any of them fails, nothing changes.
The provider's cached credential is dropped at once and again after commit.

State errors (`SecretConflict`) become 409 in the API; bad input raises Django's
`ValidationError` (400). Neither ever carries the value.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from audit.events import record_event
from providers.models import Provider, SecretPolicy
from secrets_vault import crypto
from secrets_vault.credentials import drop_credential
from secrets_vault.logging_filter import mask_text, register_secret
from secrets_vault.models import PRIMARY_FIELD, SecretAction, SecretField, SecretVersion

VALUE_MAX_LENGTH = 8192
HINT_MAX_LENGTH = 64


class SecretConflict(Exception):
    """The action does not fit the secret's current state (HTTP 409)."""


def retention() -> timedelta:
    return timedelta(days=settings.VAULT_RETENTION_DAYS)


@sensitive_variables("value")
def validate_value(value) -> None:
    if not isinstance(value, str):
        raise ValidationError({"value": ["Must be a string."]})
    if not 1 <= len(value) <= VALUE_MAX_LENGTH:
        raise ValidationError({"value": [f"Must be 1 to {VALUE_MAX_LENGTH} characters."]})
    if value != value.strip():
        raise ValidationError({"value": ["Must not start or end with whitespace."]})
    if "\x00" in value:
        raise ValidationError({"value": ["Must not contain a NUL character."]})


@sensitive_variables("value")
def validate_hint(hint: str, value: str | None) -> None:
    if len(hint) > HINT_MAX_LENGTH:
        raise ValidationError({"secret_id_hint": [f"Must be at most {HINT_MAX_LENGTH} characters."]})
    if value and value.lower() in hint.lower():
        raise ValidationError({"secret_id_hint": ["Must not contain the secret value; use a label such as 'prod-key-feb'."]})
    if mask_text(hint) != hint:
        raise ValidationError({"secret_id_hint": ["Looks like a credential; use a label such as 'prod-key-feb'."]})


def _actor_name(actor) -> str:
    return actor.get_username() if actor is not None and getattr(actor, "is_authenticated", False) else "system"


def _lock_current(provider: Provider, field: str) -> SecretVersion | None:
    # Lock the provider row so two actions on one provider queue up (PostgreSQL; SQLite
    # serialises writers anyway); the unique constraints catch anything that slips past.
    Provider.objects.select_for_update().filter(pk=provider.pk).first()
    return SecretVersion.objects.current().filter(provider_id=provider.pk, field=field).first()


def _next_version(provider: Provider, field: str) -> int:
    last = SecretVersion.objects.history(provider.pk, field).first()
    return (last.version if last else 0) + 1


def _check_policy(provider: Provider) -> None:
    if provider.secret_policy == SecretPolicy.NONE:
        raise SecretConflict("No secret required: this provider's secret policy is 'none'.")


@sensitive_variables("value")
def _write(
    provider: Provider,
    field: str,
    action: str,
    current: SecretVersion | None,
    *,
    value: str | None,
    hint: str,
    actor,
    restored_from: int | None = None,
) -> SecretVersion:
    now = timezone.now()
    version = _next_version(provider, field)
    if current is not None:
        SecretVersion.objects.filter(pk=current.pk).update(is_current=False, superseded_at=now)
    row = SecretVersion(
        provider=provider,
        field=field,
        version=version,
        action=action,
        is_current=True,
        restored_from=restored_from,
        secret_id_hint=hint,
        created_by=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
        created_by_name=_actor_name(actor),
        created_at=now,
    )
    if value is not None:
        row.store(crypto.encrypt(value, provider_id=provider.pk, field=field, version=version))
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        raise SecretConflict("The secret changed while this request ran; reload and try again.") from None

    who = _actor_name(actor)
    verbs = {"set": "set", "rotate": "rotated", "clear": "cleared", "restore": "restored"}
    summary = f"{who} {verbs[action]} the {SecretField(field).label.lower()} of {provider.name} (version {version})"
    if restored_from is not None:
        summary += f" from version {restored_from}"
    payload = {"action": action, "field": field, "version": version, "secret_id_hint": hint}
    if restored_from is not None:
        payload["restored_from"] = restored_from
    record_event(
        "secret.cleared" if action == SecretAction.CLEAR else "secret.updated",
        provider_id=provider.pk,
        actor=actor,
        summary=summary,
        payload=payload,
    )
    drop_credential(provider.pk)
    transaction.on_commit(lambda: drop_credential(provider.pk))
    return row


@sensitive_variables("value")
@transaction.atomic
def set_secret(provider: Provider, value: str, *, field: str = PRIMARY_FIELD, hint: str = "", actor=None) -> SecretVersion:
    """Store a first value; 409 when one is present (use rotate)."""
    validate_value(value)
    register_secret(value)
    validate_hint(hint, value)
    _check_policy(provider)
    current = _lock_current(provider, field)
    if current is not None and current.holds_value:
        raise SecretConflict("A secret is already set; use 'rotate' to replace it.")
    return _write(provider, field, SecretAction.SET, current, value=value, hint=hint, actor=actor)


@sensitive_variables("value")
@transaction.atomic
def rotate_secret(provider: Provider, value: str, *, field: str = PRIMARY_FIELD, hint: str = "", actor=None) -> SecretVersion:
    """Replace the present value; the previous one stays restorable for the retention window."""
    validate_value(value)
    register_secret(value)
    validate_hint(hint, value)
    _check_policy(provider)
    current = _lock_current(provider, field)
    if current is None or not current.holds_value:
        raise SecretConflict("No secret is set; use 'set' to store one.")
    return _write(provider, field, SecretAction.ROTATE, current, value=value, hint=hint, actor=actor)


@transaction.atomic
def clear_secret(provider: Provider, *, field: str = PRIMARY_FIELD, actor=None) -> SecretVersion:
    """Remove the present value; it stays restorable for the retention window."""
    _check_policy(provider)
    current = _lock_current(provider, field)
    if current is None or not current.holds_value:
        raise SecretConflict("No secret is set, so there is nothing to clear.")
    return _write(provider, field, SecretAction.CLEAR, current, value=None, hint="", actor=actor)


@sensitive_variables("value")
@transaction.atomic
def restore_secret(
    provider: Provider, version: int, *, field: str = PRIMARY_FIELD, hint: str | None = None, actor=None
) -> SecretVersion:
    """Bring back the value of an earlier version as a new version."""
    _check_policy(provider)
    current = _lock_current(provider, field)
    source = SecretVersion.objects.filter(provider_id=provider.pk, field=field, version=version).first()
    if source is None:
        raise ValidationError({"version": [f"This provider has no secret version {version}."]})
    if source.action == SecretAction.CLEAR:
        raise ValidationError({"version": [f"Version {version} is a clear and holds no value; pick a version that set one."]})
    if source.is_current:
        raise SecretConflict(f"Version {version} is already the current secret.")
    if source.is_purged or source.ciphertext is None:
        raise SecretConflict(f"Version {version} was purged after the {settings.VAULT_RETENTION_DAYS}-day retention window.")
    if source.superseded_at is not None and source.superseded_at < timezone.now() - retention():
        raise SecretConflict(f"Version {version} is older than the {settings.VAULT_RETENTION_DAYS}-day retention window.")
    value = crypto.decrypt(source.envelope(), provider_id=provider.pk, field=field, version=source.version)
    hint = source.secret_id_hint if hint is None else hint
    validate_hint(hint, value)
    return _write(
        provider, field, SecretAction.RESTORE, current, value=value, hint=hint, actor=actor, restored_from=version
    )


@sensitive_variables("value")
def apply_action(
    provider: Provider,
    action: str,
    *,
    value: str | None = None,
    hint: str | None = None,
    version: int | None = None,
    field: str = PRIMARY_FIELD,
    actor=None,
) -> SecretVersion:
    """Dispatch one of the four actions (the API's entry point)."""
    if action == SecretAction.SET:
        return set_secret(provider, value, field=field, hint=hint or "", actor=actor)
    if action == SecretAction.ROTATE:
        return rotate_secret(provider, value, field=field, hint=hint or "", actor=actor)
    if action == SecretAction.CLEAR:
        return clear_secret(provider, field=field, actor=actor)
    if action == SecretAction.RESTORE:
        return restore_secret(provider, version, field=field, hint=hint, actor=actor)
    raise ValidationError({"action": ["Use set, rotate, clear or restore."]})
