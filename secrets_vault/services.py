"""Set, rotate, clear and restore a provider's secret.

Each action is one transaction: the new version row, the previous row marked superseded, and
the audit event (`secret.updated` / `secret.cleared`). If any of them fails, nothing changes.
The provider's cached credential is dropped at once and again after commit.

Every value is encrypted for the origin (scheme, host, port) of the provider's endpoint at that
moment, and probes send it only there; `rebind_secrets` re-encrypts the current values when an
admin moves the endpoint to another origin (see `secrets_vault.binding`).

State errors (`SecretConflict`) become 409 in the API; bad input raises Django's
`ValidationError` (400); a value that cannot be decrypted raises a `crypto.VaultError` (409,
naming the key id). None of them ever carries the value. A provider whose policy is `none`
gets `SecretConflict` ("No secret required") before anything else is looked at.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from audit.events import record_event
from core.actors import actor_name
from providers.models import Provider, SecretPolicy
from providers.origins import endpoint_origin
from secrets_vault import crypto
from secrets_vault.credentials import drop_credential
from secrets_vault.logging_filter import mask_text, register_secret
from secrets_vault.models import PRIMARY_FIELD, SecretAction, SecretField, SecretVersion

VALUE_MAX_LENGTH = 8192
HINT_MAX_LENGTH = 64
# Fields whose value is sent in an HTTP header (`Authorization: Bearer <value>`).
HEADER_FIELDS = (SecretField.API_KEY, SecretField.TOKEN)


class SecretConflict(Exception):
    """The action does not fit the secret's current state (HTTP 409)."""


def retention() -> timedelta:
    return timedelta(days=settings.VAULT_RETENTION_DAYS)


@sensitive_variables("value", "char")
def header_problem(value: str) -> str | None:
    """What keeps `value` out of an HTTP header, in words that do not show it; None when it fits."""
    for char in value:
        if char in "\r\n":
            return "a line break"
        if char < " " or char == "\x7f":
            return "a control character"
        if char > "~":
            return "a non-ASCII character"
    return None


@sensitive_variables("value")
def validate_value(value, field: str = PRIMARY_FIELD) -> None:
    if not isinstance(value, str):
        raise ValidationError({"value": ["Must be a string."]})
    if not 1 <= len(value) <= VALUE_MAX_LENGTH:
        raise ValidationError({"value": [f"Must be 1 to {VALUE_MAX_LENGTH} characters."]})
    if value != value.strip():
        raise ValidationError({"value": ["Must not start or end with whitespace."]})
    if "\x00" in value:
        raise ValidationError({"value": ["Must not contain a NUL character."]})
    problem = header_problem(value) if field in HEADER_FIELDS else None
    if problem:
        raise ValidationError(
            {"value": [f"Must be printable ASCII (letters, digits, punctuation, spaces): it is sent in an HTTP "
                       f"header (Authorization: Bearer …), and this value contains {problem}. Copy the key again "
                       "without it."]}
        )


@sensitive_variables("value")
def validate_hint(hint: str, value: str | None) -> None:
    if len(hint) > HINT_MAX_LENGTH:
        raise ValidationError({"secret_id_hint": [f"Must be at most {HINT_MAX_LENGTH} characters."]})
    if value and value.lower() in hint.lower():
        raise ValidationError({"secret_id_hint": ["Must not contain the secret value; use a label such as 'prod-key-feb'."]})
    if mask_text(hint) != hint:
        raise ValidationError({"secret_id_hint": ["Looks like a credential; use a label such as 'prod-key-feb'."]})


def _lock_current(provider: Provider, field: str) -> SecretVersion | None:
    # Lock the provider row so two actions on one provider queue up (PostgreSQL; SQLite
    # serialises writers anyway); the unique constraints catch anything that slips past.
    # The endpoint is read under the lock: the value is bound to the origin it has now.
    locked = Provider.objects.select_for_update().filter(pk=provider.pk).only("endpoint").first()
    if locked is not None:
        provider.endpoint = locked.endpoint
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
        created_by_name=actor_name(actor),
        created_at=now,
    )
    origin = endpoint_origin(provider.endpoint)
    if value is not None:
        row.store(crypto.encrypt(value, provider_id=provider.pk, field=field, version=version, origin=origin))
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        raise SecretConflict("The secret changed while this request ran; reload and try again.") from None

    who = actor_name(actor)
    verbs = {"set": "set", "rotate": "rotated", "clear": "cleared", "restore": "restored"}
    summary = f"{who} {verbs[action]} the {SecretField(field).label.lower()} of {provider.name} (version {version})"
    if restored_from is not None:
        summary += f" from version {restored_from}"
    payload = {"action": action, "field": field, "version": version, "secret_id_hint": hint}
    if value is not None:
        payload["origin"] = origin
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
    _check_policy(provider)
    validate_value(value, field)
    register_secret(value)
    validate_hint(hint, value)
    current = _lock_current(provider, field)
    if current is not None and current.holds_value:
        raise SecretConflict("A secret is already set; use 'rotate' to replace it.")
    return _write(provider, field, SecretAction.SET, current, value=value, hint=hint, actor=actor)


@sensitive_variables("value")
@transaction.atomic
def rotate_secret(provider: Provider, value: str, *, field: str = PRIMARY_FIELD, hint: str = "", actor=None) -> SecretVersion:
    """Replace the present value; the previous one stays restorable for the retention window."""
    _check_policy(provider)
    validate_value(value, field)
    register_secret(value)
    validate_hint(hint, value)
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
    """Bring back the value of an earlier version as a new version, bound to the endpoint's origin now."""
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
    _check_policy(provider)
    if action == SecretAction.SET:
        return set_secret(provider, value, field=field, hint=hint or "", actor=actor)
    if action == SecretAction.ROTATE:
        return rotate_secret(provider, value, field=field, hint=hint or "", actor=actor)
    if action == SecretAction.CLEAR:
        return clear_secret(provider, field=field, actor=actor)
    if action == SecretAction.RESTORE:
        return restore_secret(provider, version, field=field, hint=hint, actor=actor)
    raise ValidationError({"action": ["Use set, rotate, clear or restore."]})


@sensitive_variables("value")
def rebind_secrets(provider: Provider, origin: str, *, actor=None) -> list[SecretVersion]:
    """Re-encrypt every current value of `provider` for `origin`, each with a `secret.updated` event.

    Runs inside the transaction that moves the provider's endpoint (`secrets_vault.binding`):
    the version number and the value stay, the ciphertext, its data key and its origin change.
    Superseded versions keep the origin they were stored for; a restore binds its value to the
    endpoint's origin of the moment. Raises `crypto.VaultError` when a value cannot be decrypted.
    """
    rows = list(
        SecretVersion.objects.select_for_update().current().with_value().filter(provider_id=provider.pk).order_by("field")
    )
    now = timezone.now()
    who = actor_name(actor)
    rebound: list[SecretVersion] = []
    for row in rows:
        if row.origin == origin and row.origin_in_aad:
            continue
        before = row.origin
        value = crypto.decrypt(row.envelope(), provider_id=provider.pk, field=row.field, version=row.version)
        row.store(crypto.encrypt(value, provider_id=provider.pk, field=row.field, version=row.version, origin=origin))
        row.rebound_at = now
        row.save(update_fields=["kid", "wrapped_key", "key_nonce", "nonce", "ciphertext", "origin", "origin_in_aad",
                                "rebound_at"])
        record_event(
            "secret.updated",
            provider_id=provider.pk,
            actor=actor,
            summary=(f"{who} re-bound the {SecretField(row.field).label.lower()} of {provider.name} "
                     f"(version {row.version}) to {origin}, the endpoint's new origin"),
            payload={"action": "rebind", "field": row.field, "version": row.version,
                     "origin_before": before, "origin": origin},
        )
        rebound.append(row)
    if rebound:
        drop_credential(provider.pk)
        transaction.on_commit(lambda: drop_credential(provider.pk))
    return rebound
