"""A secret goes only to the origin an admin sent it to.

Connected to `providers.signals.provider_changing` (in `SecretsVaultConfig.ready`), so it runs
for every entry point that changes a provider: the API, the Django admin, page forms, commands.
When a change moves the endpoint to another origin (scheme, host or port) and the provider
holds a secret:

- an actor without `secrets_vault.manage_secrets` is refused (`ChangeRefused`, 403): the stored
  key would be sent to the new origin;
- an actor with it (or the system, for commands) re-binds the current values to the new origin
  in the same transaction (`services.rebind_secrets`, audited as `secret.updated` with action
  `rebind`); if a value cannot be decrypted, the change is refused (`ChangeConflict`, 409) and
  nothing changes.

A path change on the same origin needs nothing.
"""

from __future__ import annotations

from providers.origins import endpoint_origin
from providers.signals import ChangeConflict, ChangeRefused
from secrets_vault import crypto
from secrets_vault.models import SecretVersion
from secrets_vault.services import rebind_secrets

VAULT_PERMISSION = "secrets_vault.manage_secrets"


def may_move_secrets(actor) -> bool:
    """The system (no actor, or a command naming itself, core/actors.py) and holders of the
    vault permission."""
    return actor is None or isinstance(actor, str) or actor.has_perm(VAULT_PERMISSION)


def on_provider_changing(sender, *, provider, before, changed, actor, check_only, **kwargs) -> None:
    if "endpoint" not in changed:
        return
    old, new = endpoint_origin(before["endpoint"]), endpoint_origin(provider.endpoint)
    if old == new:
        return
    if not SecretVersion.objects.current().with_value().filter(provider_id=provider.pk).exists():
        return
    if not may_move_secrets(actor):
        raise ChangeRefused(
            f"Moving the endpoint of {provider.name} from {old} to {new} needs the vault permission: the "
            "provider holds a secret, which would then be sent to the new origin. Keep the scheme, host and "
            "port (a new path is fine), or ask an admin to make this change or to clear the secret first."
        )
    if check_only:
        return
    try:
        rebind_secrets(provider, new, actor=actor)
    except crypto.VaultError as exc:
        raise ChangeConflict(
            f"The endpoint was not changed: the stored secret could not be re-bound to {new}. {exc}"
        ) from None
