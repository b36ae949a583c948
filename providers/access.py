"""Who may read what of a provider, beyond the permission class's yes or no."""

from __future__ import annotations

from guardian.shortcuts import get_objects_for_user

from providers.models import Provider


def metadata_masker(user):
    """Metadata values are for those who may change the provider; viewers see keys only.

    Returns `masked(provider) -> bool`. Object permissions are fetched once, on first use,
    for all providers, so a list does not ask guardian once per row.
    """
    if user.has_perm("providers.change_provider"):
        return lambda provider: False
    delegated: set[str] | None = None

    def masked(provider: Provider) -> bool:
        nonlocal delegated
        if delegated is None:
            delegated = set(
                get_objects_for_user(
                    user, "providers.change_provider", klass=Provider, accept_global_perms=False
                ).values_list("id", flat=True)
            )
        return provider.id not in delegated

    return masked
