"""The read model of the console and the API: providers with their vault projection and health,
and the routing chain computed from them, loaded in a fixed number of queries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from accounts.permissions import viewable
from console import chaincache
from health import metrics
from health.models import HealthCheck
from providers.models import Provider
from providers.routing import Chain, RoutingInput
from secrets_vault import api as vault


class ProviderContext:
    """Secrets projections and health for a set of providers, each fetched in one go."""

    def __init__(self, provider_ids: Iterable[str], id_query: QuerySet | None = None):
        """`id_query`: the same providers' ids as a queryset, for the SQL (a subquery instead of
        a list of thousands of parameters, which Django prepares one by one)."""
        ids = list(provider_ids)
        self.secrets = vault.projections_for(id_query if id_query is not None else ids)
        self.health = metrics.for_providers(ids, id_query=id_query)

    def secret(self, provider_id: str) -> dict:
        return self.secrets.get(provider_id, vault.EMPTY_PROJECTION)

    def health_of(self, provider_id: str) -> dict:
        return self.health.get(provider_id, metrics.EMPTY_HEALTH)


def provider_routing_fields(provider: Provider) -> dict[str, Any]:
    """What the routing engine reads of a provider's own fields (`RoutingInput` without the
    secret and health parts)."""
    return dict(
        name=provider.name,
        display_name=provider.display_name,
        tier=provider.tier,
        status=provider.status,
        enabled=provider.enabled,
        archived=provider.archived_at is not None,
        priority=provider.priority,
        secret_policy=provider.secret_policy,
        models=tuple(provider.models),
    )


def routing_input(provider: Provider, context: ProviderContext) -> RoutingInput:
    health = context.health_of(provider.id)
    return RoutingInput(
        id=provider.id,
        **provider_routing_fields(provider),
        secret_present=bool(context.secret(provider.id)["secret_present"]),
        secret_bound=bool(context.secret(provider.id).get("secret_bound_to_endpoint")),
        last_error_code=health["last_error_code"],
        last_checked_at=health["last_checked_at"],
    )


_ROUTING_COLUMNS = (
    "id", "name", "display_name", "tier", "status", "enabled", "archived_at", "priority", "secret_policy",
    "default_model", "fallback_models",
)


def routing_inputs() -> dict[str, RoutingInput]:
    """Every provider as the routing engine sees it, and nothing more, in two queries: the
    providers' routing columns with their latest check's time and error code (correlated
    subqueries, as `health.metrics.for_providers` finds the latest check), and the vault's
    projections. For the chain preview, which needs no window aggregates (latency, success
    rate) and no model rows; `compute_chain(routing_inputs().values())` is the chain
    `current_chain()` computes (`console/tests/test_list_page_queries.py`)."""
    latest = HealthCheck.objects.filter(provider_id=OuterRef("pk")).newest_first()
    rows = (
        Provider.objects.order_by()
        .annotate(
            last_checked=Subquery(latest.values("checked_at")[:1]),
            last_error=Subquery(latest.values("error_code")[:1]),
        )
        .values(*_ROUTING_COLUMNS, "last_checked", "last_error")
    )
    secrets = vault.projections_for(Provider.objects.values_list("id", flat=True))
    inputs = {}
    for row in rows:
        secret = secrets[row["id"]]
        inputs[row["id"]] = RoutingInput(
            id=row["id"],
            name=row["name"],
            display_name=row["display_name"],
            tier=row["tier"],
            status=row["status"],
            enabled=row["enabled"],
            archived=row["archived_at"] is not None,
            priority=row["priority"],
            secret_policy=row["secret_policy"],
            models=(row["default_model"], *row["fallback_models"]),
            secret_present=bool(secret["secret_present"]),
            secret_bound=bool(secret.get("secret_bound_to_endpoint")),
            last_error_code=row["last_error"] or None,
            last_checked_at=row["last_checked"],
        )
    return inputs


def load_chain_inputs() -> tuple[list[Provider], ProviderContext]:
    providers = list(Provider.objects.all())
    return providers, ProviderContext((p.id for p in providers), id_query=Provider.objects.values("pk"))


def current_chain() -> tuple[Chain, list[Provider], ProviderContext]:
    """The chain as it stands, with every provider and their context (the list page's cards).

    The chain is the one cached for the current version (`console/chaincache.py`), computed from
    the rows just read when the version changed; a response naming one provider needs only
    `chaincache.cached_chain()`."""
    version = chaincache.chain_version()  # before the rows: the stored chain is never older
    providers, context = load_chain_inputs()
    chain = chaincache.lookup(version) or chaincache.store(
        version, {p.id: routing_input(p, context) for p in providers}
    )
    return chain, providers, context


class Visibility:
    """Which providers a user may view: every one with the global view permission, otherwise
    the ones delegated to them (one query, on first use, however many providers are asked about).
    """

    def __init__(self, user):
        self.user = user
        self._everything: bool | None = None
        self._ids: set[str] | None = None

    def __call__(self, provider_id: str) -> bool:
        if self._everything is None:
            self._everything = self.user.has_perm("providers.view_provider")
        if self._everything:
            return True
        if self._ids is None:
            self._ids = set(viewable(self.user, Provider.objects.all()).values_list("id", flat=True))
        return provider_id in self._ids


def routing_intent_for(chain: Chain, provider: Provider, may_view) -> dict:
    """`chain.routing_intent` as a user may read it: `next_provider_id` names a neighbour, so it
    is None when `may_view` (a `Visibility`) says that neighbour is not theirs to see
    (docs/roles.md). Role, position and targets are the provider's own."""
    intent = chain.routing_intent(provider.id, provider.models)
    following = intent["next_provider_id"]
    if following is not None and not may_view(following):
        intent["next_provider_id"] = None
    return intent
