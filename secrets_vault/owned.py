"""Set, rotate, clear, read and forget secrets kept for owners other than providers.

An owner is a name chosen by the app that owns the secret ("alert_channel:ops-webhook"); the
vault never imports that app. Each action is one transaction (joining the caller's when there
is one) in which the owner's field is locked, so two actions on one secret queue up; the unique
constraints catch anything that slips past.

These functions record no audit event: the owning app records its own, in the same transaction,
so that the event and the secret change commit or roll back together. State errors raise
`services.SecretConflict` (the caller's 409), bad values Django's `ValidationError` naming the
field `value` (400), undecryptable values a `crypto.VaultError` naming the key id. None of them
ever carries the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from core.actors import actor_name
from secrets_vault import crypto
from secrets_vault.logging_filter import register_secret
from secrets_vault.models import OWNER_MAX_LENGTH, VALUE_ACTIONS, OwnedSecretVersion, SecretAction
from secrets_vault.services import SecretConflict, validate_value

FIELD_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
# Owners are joined into the encryption's associated data with NUL separators: no control characters.
OWNER_RE = re.compile(rf"[^\x00-\x1f\x7f]{{1,{OWNER_MAX_LENGTH}}}")

EMPTY_STATE = {"present": False, "version": None, "touched_at": None, "touched_by": None}


def check_owner(owner: str) -> None:
    """Owner and field come from the calling app's code, not from a request: a bad one is a bug."""
    if not isinstance(owner, str) or not OWNER_RE.fullmatch(owner):
        raise ValueError(f"An owner is 1 to {OWNER_MAX_LENGTH} characters without control characters, not {owner!r}.")


def check_names(owner: str, field: str) -> None:
    check_owner(owner)
    if not isinstance(field, str) or not FIELD_RE.fullmatch(field):
        raise ValueError(f"A field is 1 to 32 lower-case letters, digits or '_', starting with a letter, not {field!r}.")


def state_of(row: OwnedSecretVersion | dict | None) -> dict[str, Any]:
    """The UI-safe state of one current version: never the value, nor key material."""
    if row is None:
        return dict(EMPTY_STATE)
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    return {
        "present": get("action") in VALUE_ACTIONS,
        "version": get("version"),
        "touched_at": get("created_at"),
        "touched_by": get("created_by_name") or None,
    }


def _lock_current(owner: str, field: str) -> OwnedSecretVersion | None:
    # The current row cannot be the lock itself: a writer that waited on it would be granted a
    # row that is no longer current. Every writer of one (owner, field) locks its version 1 first,
    # a row that exists as soon as anything was stored and is never deleted, and then reads the
    # current row in a new statement, which sees what the writer before it committed.
    list(OwnedSecretVersion.objects.select_for_update().filter(owner=owner, field=field, version=1).values_list("pk"))
    return OwnedSecretVersion.objects.select_for_update().filter(owner=owner, field=field, is_current=True).first()


def _next_version(owner: str, field: str) -> int:
    last = OwnedSecretVersion.objects.filter(owner=owner, field=field).order_by("-version").first()
    return (last.version if last else 0) + 1


@sensitive_variables("value")
def _write(owner: str, field: str, action: str, current: OwnedSecretVersion | None, *, value: str | None,
           actor) -> OwnedSecretVersion:
    now = timezone.now()
    version = _next_version(owner, field)
    if current is not None:
        OwnedSecretVersion.objects.filter(pk=current.pk).update(is_current=False, superseded_at=now)
    row = OwnedSecretVersion(
        owner=owner,
        field=field,
        version=version,
        action=action,
        is_current=True,
        created_by=actor if actor is not None and getattr(actor, "is_authenticated", False) else None,
        created_by_name=actor_name(actor),
        created_at=now,
    )
    if value is not None:
        row.store(crypto.encrypt_owned(value, owner=owner, field=field, version=version))
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:  # a first version stored by another writer meanwhile
        raise SecretConflict("The secret changed while this request ran; reload and try again.") from None
    return row


def _metadata(row: OwnedSecretVersion) -> dict[str, Any]:
    return {"owner": row.owner, "field": row.field, "action": str(row.action), **state_of(row)}


@sensitive_variables("value")
@transaction.atomic
def set_secret(owner: str, field: str, value: str, *, actor=None) -> dict[str, Any]:
    """Store a first value (also after a clear); a conflict when one is present (use rotate)."""
    check_names(owner, field)
    validate_value(value, field)
    register_secret(value)
    current = _lock_current(owner, field)
    if current is not None and current.holds_value:
        raise SecretConflict("A secret is already set; use 'rotate' to replace it.")
    return _metadata(_write(owner, field, SecretAction.SET, current, value=value, actor=actor))


@sensitive_variables("value")
@transaction.atomic
def rotate_secret(owner: str, field: str, value: str, *, actor=None) -> dict[str, Any]:
    """Replace the present value; a conflict when none is present (use set)."""
    check_names(owner, field)
    validate_value(value, field)
    register_secret(value)
    current = _lock_current(owner, field)
    if current is None or not current.holds_value:
        raise SecretConflict("No secret is set; use 'set' to store one.")
    return _metadata(_write(owner, field, SecretAction.ROTATE, current, value=value, actor=actor))


@transaction.atomic
def clear_secret(owner: str, field: str, *, actor=None) -> dict[str, Any]:
    """Remove the present value; a conflict when none is present."""
    check_names(owner, field)
    current = _lock_current(owner, field)
    if current is None or not current.holds_value:
        raise SecretConflict("No secret is set, so there is nothing to clear.")
    return _metadata(_write(owner, field, SecretAction.CLEAR, current, value=None, actor=actor))


def states(owners: Iterable[str], field: str) -> dict[str, dict[str, Any]]:
    """The state of `field` for each owner, in one query; an owner with no version is not present."""
    wanted = list(dict.fromkeys(owners))
    result = {owner: dict(EMPTY_STATE) for owner in wanted}
    if not wanted:
        return result
    rows = OwnedSecretVersion.objects.filter(owner__in=wanted, field=field, is_current=True).values(
        "owner", "version", "action", "created_at", "created_by_name"
    )
    for row in rows:
        result[row["owner"]] = state_of(row)
    return result


@sensitive_variables()
def reveal(owner: str, field: str) -> str | None:
    """The present plaintext, or None. Not cached: a rotate or clear holds from the next call on."""
    check_names(owner, field)
    row = (
        OwnedSecretVersion.objects.filter(owner=owner, field=field, is_current=True)
        .only("owner", "field", "version", "action", "kid", "wrapped_key", "key_nonce", "nonce", "ciphertext")
        .first()
    )
    if row is None or not row.holds_value:
        return None
    # decrypt_owned registers the value with the log masking filter.
    return crypto.decrypt_owned(row.envelope(), owner=owner, field=field, version=row.version)


@transaction.atomic
def forget(owner: str) -> int:
    """Destroy the key material and ciphertext of every version of every field of `owner`.

    For when the owner is deleted: nothing is current any more, the metadata stays (as after the
    purge), and an owner created again under the same name starts with no secret at a higher
    version number. Returns the number of versions whose key material was destroyed.
    """
    check_owner(owner)
    # Lock the owner's rows in a fixed order, so a concurrent set or rotate waits and then sees
    # no current row, instead of superseding a row this transaction forgets.
    list(OwnedSecretVersion.objects.select_for_update().filter(owner=owner).order_by("field", "version").values_list("pk"))
    now = timezone.now()
    OwnedSecretVersion.objects.filter(owner=owner, is_current=True).update(is_current=False, superseded_at=now)
    return (
        OwnedSecretVersion.objects.filter(owner=owner, purged_at__isnull=True)
        .exclude(wrapped_key__isnull=True, ciphertext__isnull=True)
        .update(kid="", wrapped_key=None, key_nonce=None, nonce=None, ciphertext=None, purged_at=now)
    )
