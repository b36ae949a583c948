"""The read model of the console and the API: providers with their vault projection and health,
and the routing chain computed from them, loaded in a fixed number of queries."""

from __future__ import annotations

from collections.abc import Iterable

from health import metrics
from providers.models import Provider
from providers.routing import Chain, RoutingInput, compute_chain
from secrets_vault import api as vault


class ProviderContext:
    """Secrets projections and health for a set of providers, each fetched in one go."""

    def __init__(self, provider_ids: Iterable[str]):
        ids = list(provider_ids)
        self.secrets = vault.projections_for(ids)
        self.health = metrics.for_providers(ids)

    def secret(self, provider_id: str) -> dict:
        return self.secrets.get(provider_id, vault.EMPTY_PROJECTION)

    def health_of(self, provider_id: str) -> dict:
        return self.health.get(provider_id, metrics.EMPTY_HEALTH)


def routing_input(provider: Provider, context: ProviderContext) -> RoutingInput:
    health = context.health_of(provider.id)
    return RoutingInput(
        id=provider.id,
        name=provider.name,
        display_name=provider.display_name,
        tier=provider.tier,
        status=provider.status,
        enabled=provider.enabled,
        archived=provider.archived_at is not None,
        priority=provider.priority,
        secret_policy=provider.secret_policy,
        secret_present=bool(context.secret(provider.id)["secret_present"]),
        secret_bound=bool(context.secret(provider.id).get("secret_bound_to_endpoint")),
        models=tuple(provider.models),
        last_error_code=health["last_error_code"],
        last_checked_at=health["last_checked_at"],
    )


def load_chain_inputs() -> tuple[list[Provider], ProviderContext]:
    providers = list(Provider.objects.all())
    return providers, ProviderContext(p.id for p in providers)


def current_chain() -> tuple[Chain, list[Provider], ProviderContext]:
    """The chain as it stands, with the rows and context it was built from (for reuse)."""
    providers, context = load_chain_inputs()
    chain = compute_chain(routing_input(p, context) for p in providers)
    return chain, providers, context
