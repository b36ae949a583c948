"""The vault's public functions: the only way other apps learn anything about secrets.

CONTRACT (used by providers/ and health/; keep these signatures):

- EMPTY_PROJECTION: the projection of a provider that has never had a secret.
- projection(provider) -> dict
- projections_for(provider_ids) -> dict[str, dict]   (one query for any number of ids)
    each dict: {"secret_present": bool, "secret_version": int | None,
                "secret_last_rotated_at": datetime | None, "secret_touched_by": str | None,
                "secret_touched_at": datetime | None, "secret_id_hint": str | None,
                "secret_origin": str | None, "secret_bound_to_endpoint": bool}
- provider_ids_with_secret() -> QuerySet of provider ids whose current secret is present,
    usable as a subquery: Provider.objects.filter(id__in=provider_ids_with_secret())
- get_credential(provider) -> str | None   (plaintext, cached ≤ 60 s; for callers that do not send it)
- get_bound_credential(provider) -> BoundCredential | None   (`.value` and `.origin`, the
    `scheme://host:port` it may be sent to; what the health probe uses, cached ≤ 60 s)
- VaultError: what the two above raise when the stored value cannot be decrypted; its message
    names the key id and what to do, never a value or key material.

Secrets kept for owners other than providers (used by alerts/ for a channel's `webhook_secret`;
`owner` is a name such as "alert_channel:ops-webhook", `field` an identifier such as
"webhook_secret"). None of these records an audit event: the caller records its own in the same
transaction (each joins the caller's transaction). Values are validated as provider secrets are.

- set_owned_secret(owner, field, value, *, actor=None, rotate=False) -> dict
    set (rotate=False) refuses with SecretConflict when a value is present; rotate=True refuses
    when none is. Returns the new version's metadata: {"owner", "field", "action", "present",
    "version", "touched_at", "touched_by"}. Bad value: ValidationError on the field `value`.
- clear_owned_secret(owner, field, *, actor=None) -> dict   (SecretConflict when none is present)
- owned_secret_states(owners, field) -> dict[str, dict]   (one query for any number of owners)
    each dict: {"present": bool, "version": int | None, "touched_at": datetime | None,
                "touched_by": str | None}; an owner with no version: present False, the rest None.
- reveal_owned_secret(owner, field) -> str | None   (plaintext for signing; not cached; raises
    VaultError naming the key id when the value cannot be decrypted)
- forget_owned_secrets(owner) -> int   (when the owner is deleted: destroys the key material of
    every version of every field, keeps the metadata; returns how many versions it destroyed)
- SecretConflict: the action does not fit the secret's state (the caller's 409).
A malformed owner or field (a bug in the caller, never user input) raises ValueError.

All of the provider functions speak about the provider's primary credential (`api_key`), the one probes send.
`secret_last_rotated_at` is when the present value was stored (None when none is present);
`secret_touched_*` is the last secret action of any kind, a clear included; `secret_version`
is the current version number (a clear is a version too). `secret_origin` is the origin the
present value is bound to; `secret_bound_to_endpoint` is true when a value is present and bound
to the origin of the provider's endpoint as stored now (false when none is present). The
projection never holds the value.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import MappingProxyType
from typing import Any

from django.db.models import QuerySet
from django.views.decorators.debug import sensitive_variables

from providers.origins import endpoint_origin
from secrets_vault import owned
from secrets_vault.credentials import BoundCredential
from secrets_vault.credentials import get_bound_credential as _get_bound_credential
from secrets_vault.credentials import get_credential as _get_credential
from secrets_vault.crypto import VaultError
from secrets_vault.models import PRIMARY_FIELD, VALUE_ACTIONS, SecretVersion
from secrets_vault.services import SecretConflict

__all__ = [
    "EMPTY_PROJECTION", "projection", "projections_for", "provider_ids_with_secret", "get_credential",
    "get_bound_credential", "BoundCredential", "VaultError", "set_owned_secret", "clear_owned_secret",
    "owned_secret_states", "reveal_owned_secret", "forget_owned_secrets", "SecretConflict",
]

EMPTY_PROJECTION = MappingProxyType(
    {
        "secret_present": False,
        "secret_version": None,
        "secret_last_rotated_at": None,
        "secret_touched_by": None,
        "secret_touched_at": None,
        "secret_id_hint": None,
        "secret_origin": None,
        "secret_bound_to_endpoint": False,
    }
)

_COLUMNS = ("provider_id", "version", "action", "created_by_name", "created_at", "secret_id_hint", "origin",
            "provider__endpoint")


def project_row(row: dict[str, Any]) -> dict[str, Any]:
    """The UI-safe projection of one current version (a `.values()` row of `_COLUMNS`)."""
    present = row["action"] in VALUE_ACTIONS
    origin = (row.get("origin") or None) if present else None
    endpoint = row.get("provider__endpoint")
    return {
        "secret_present": present,
        "secret_version": row["version"],
        "secret_last_rotated_at": row["created_at"] if present else None,
        "secret_touched_by": row["created_by_name"] or None,
        "secret_touched_at": row["created_at"],
        "secret_id_hint": (row["secret_id_hint"] or None) if present else None,
        "secret_origin": origin,
        "secret_bound_to_endpoint": bool(origin and endpoint is not None and origin == endpoint_origin(endpoint)),
    }


class Projections(dict):
    """`projections_for`'s result: looking up an id it holds no row for gives EMPTY_PROJECTION."""

    def __missing__(self, provider_id: str) -> dict[str, Any]:
        return dict(EMPTY_PROJECTION)


def projections_for(provider_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Projection of each given provider id, in one query.

    A list (or any iterable) of ids gets an entry for every id. A QuerySet of ids is used as a
    subquery, so only ids with a secret row get an entry; indexing any other id still returns
    EMPTY_PROJECTION.
    """
    result = Projections()
    if isinstance(provider_ids, QuerySet):
        ids: Any = provider_ids
    else:
        ids = list(dict.fromkeys(provider_ids))
        result.update({pid: dict(EMPTY_PROJECTION) for pid in ids})
        if not ids:
            return result
    rows = SecretVersion.objects.filter(provider_id__in=ids, field=PRIMARY_FIELD, is_current=True).values(*_COLUMNS)
    for row in rows:
        result[row["provider_id"]] = project_row(row)
    return result


def projection(provider) -> dict[str, Any]:
    provider_id = getattr(provider, "pk", provider)
    return projections_for([provider_id])[provider_id]


def provider_ids_with_secret() -> QuerySet:
    """Ids of providers whose current primary secret holds a value; lazy, usable as a subquery."""
    return (
        SecretVersion.objects.filter(field=PRIMARY_FIELD, is_current=True, action__in=VALUE_ACTIONS)
        .values_list("provider_id", flat=True)
    )


def get_credential(provider) -> str | None:
    """Plaintext of the provider's credential, or None; cached at most 60 seconds."""
    return _get_credential(provider, PRIMARY_FIELD)


def get_bound_credential(provider) -> BoundCredential | None:
    """The provider's credential with the origin it may be sent to, or None; cached at most 60 seconds.

    A probe compares `.origin` with its endpoint's origin and sends nothing when they differ.
    """
    return _get_bound_credential(provider, PRIMARY_FIELD)


# --- secrets of other owners (secrets_vault/owned.py) --------------------------------------------


@sensitive_variables("value")
def set_owned_secret(owner: str, field: str, value: str, *, actor=None, rotate: bool = False) -> dict[str, Any]:
    """Store (`rotate=False`) or replace (`rotate=True`) the value of an owner's secret field."""
    if rotate:
        return owned.rotate_secret(owner, field, value, actor=actor)
    return owned.set_secret(owner, field, value, actor=actor)


def clear_owned_secret(owner: str, field: str, *, actor=None) -> dict[str, Any]:
    """Remove the present value of an owner's secret field."""
    return owned.clear_secret(owner, field, actor=actor)


def owned_secret_states(owners: Iterable[str], field: str) -> dict[str, dict[str, Any]]:
    """Whether each owner holds a value for `field`, with its version and last touch; one query."""
    return owned.states(owners, field)


def reveal_owned_secret(owner: str, field: str) -> str | None:
    """The plaintext of an owner's secret field (for signing), or None when none is present."""
    return owned.reveal(owner, field)


def forget_owned_secrets(owner: str) -> int:
    """Destroy the key material of every version the owner has; for when the owner is deleted."""
    return owned.forget(owner)
