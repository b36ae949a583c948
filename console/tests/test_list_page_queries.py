"""The provider list page and the chain preview at fleet size: the same number of queries for 5
providers as for 50 (with check history, secrets and audit events), for an admin and a viewer,
for the whole page and for its live region alone; and the page's links as `reverse()` gives them.
"""

from __future__ import annotations

import re
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from console.pageurls import PROVIDER_PAGES, ProviderUrls
from health.models import HealthCheck
from providers import services
from providers.models import Kind, Provider, SecretPolicy
from secrets_vault.services import set_secret

pytestmark = pytest.mark.django_db

STATUSES = ["active", "active", "standby", "degraded", "unreachable", "active", "disabled"]
FRAGMENT = {"HTTP_X_CONSOLE_FRAGMENT": "list"}


def grow(provider_factory, admin_user, start: int, stop: int) -> None:
    """Providers start..stop-1 as a fleet has them: every status, required secrets present or
    missing, no-secret local models, a few checks each in the last minutes, and audit events."""
    now = timezone.now()
    for i in range(start, stop):
        status = STATUSES[i % len(STATUSES)]
        local = i % 4 == 3
        provider = provider_factory(
            id=f"fleet-{i:03d}", priority=(i * 7) % 50, status=status, enabled=status != "disabled",
            tier="standby" if status == "standby" else "active",
            kind=Kind.OLLAMA if local else Kind.OPENAI_COMPATIBLE,
            secret_policy=SecretPolicy.NONE if local else SecretPolicy.REQUIRED,
        )
        if not local and i % 5:
            set_secret(provider, f"sk-fleet-{i:03d}-" + "q" * 24, actor=admin_user)  # one audit event each
        if i % 3 == 0:
            services.update_provider(provider, {"display_name": f"Fleet {i}"}, actor=admin_user)  # another
        for n in range(3):
            HealthCheck.objects.create(
                provider=provider, checked_at=now - timedelta(seconds=40 * n + 5), ok=status != "unreachable",
                error_code="timeout" if status == "unreachable" else None, latency_ms=100 + n,
                provider_status=status, model="gpt-4o-mini",
            )


def count_queries(client, path: str = "/", **headers) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, **headers)
    assert response.status_code == HTTPStatus.OK, response.status_code
    return len(queries), response.content.decode()


def cards(html: str) -> int:
    return len(re.findall(r'<article class="card[^"]*"[^>]*data-provider="', html))


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_the_list_page_makes_the_same_queries_for_5_and_50_providers(client, role, admin_user, viewer_user, provider_factory):
    client.force_login(admin_user if role == "admin" else viewer_user)
    grow(provider_factory, admin_user, 0, 5)
    small = {
        "page": count_queries(client, "/"),
        "fragment": count_queries(client, "/", **FRAGMENT),
        "filtered": count_queries(client, "/?ordering=-avg_latency&secret=present"),
    }
    grow(provider_factory, admin_user, 5, 50)
    large = {
        "page": count_queries(client, "/"),
        "fragment": count_queries(client, "/", **FRAGMENT),
        "filtered": count_queries(client, "/?ordering=-avg_latency&secret=present"),
    }
    print(role, {name: (small[name][0], large[name][0]) for name in small})
    # The pages did draw the fleet: every card (archived none), 5 then 50.
    assert cards(small["page"][1]) == 5 and cards(large["page"][1]) == 50
    assert cards(large["fragment"][1]) == 50
    assert "<html" in large["page"][1] and "<html" not in large["fragment"][1]
    assert 0 < cards(large["filtered"][1]) < 50
    for name in small:
        assert large[name][0] == small[name][0], (name, small[name][0], large[name][0])


def test_the_list_page_links_are_the_ones_reverse_gives(client, admin_user, provider_factory):
    provider_factory(id="link_check-1", secret_policy=SecretPolicy.REQUIRED)
    urls = ProviderUrls()("link_check-1")
    for key, name in PROVIDER_PAGES.items():
        assert urls[key] == reverse(name, args=["link_check-1"])
    assert urls["secret_from_list"] == reverse("provider-secret-page", args=["link_check-1"]) + "?next=" + reverse("provider-list")
    client.force_login(admin_user)
    html = client.get("/").content.decode()
    for key in ("detail", "edit", "test"):
        assert f'"{urls[key]}"' in html, key


def test_the_chain_preview_makes_the_same_queries_for_5_and_50_providers(client, admin_client, admin_user, provider_factory):
    client.force_login(admin_user)
    grow(provider_factory, admin_user, 0, 5)

    def preview() -> tuple[int, int]:
        form = {"provider_id": "fleet-001", "priority": "0", "status": "active", "enabled": "on"}
        with CaptureQueriesContext(connection) as page:
            response = client.post(reverse("console-provider-preview"), form)
        assert response.status_code == HTTPStatus.OK and 'data-testid="chain-preview"' in response.content.decode()
        body = {"provider_id": "fleet-001", "changes": {"priority": 0}}
        with CaptureQueriesContext(connection) as api:
            answer = admin_client.post("/api/routing-chain/preview", body, format="json")
        assert answer.status_code == HTTPStatus.OK and answer.json()["nodes"]
        return len(page), len(api)

    preview()  # the API client keeps its user object: its permissions are loaded on first use
    small = preview()
    grow(provider_factory, admin_user, 5, 50)
    large = preview()
    print("preview (page, api) queries", small, large)
    assert large == small
    assert Provider.objects.count() == 50


def test_the_preview_reads_the_same_chain_as_the_list(admin_user, provider_factory):
    """`routing_inputs` (the preview's two queries) and `current_chain` (the list's read model)
    give the same chain: every status, secrets present, missing and bound to another origin,
    checks with and without errors, archived and disabled providers."""
    from console.readmodel import current_chain, routing_input, routing_inputs
    from providers.routing import compute_chain

    grow(provider_factory, admin_user, 0, 21)
    # A secret left bound to the endpoint's old origin (a row moved behind the services' back).
    Provider.objects.filter(pk="fleet-001").update(endpoint="https://elsewhere.example.test/v1")
    services.archive_provider(Provider.objects.get(pk="fleet-002"), actor=admin_user)
    chain, providers, context = current_chain()
    light = routing_inputs()
    assert light == {p.id: routing_input(p, context) for p in providers}
    assert not light["fleet-001"].secret_bound and light["fleet-001"].secret_present
    assert light["fleet-004"].last_error_code == "timeout"
    as_dict = {**compute_chain(light.values()).to_dict(), "computed_at": None}
    assert as_dict == {**chain.to_dict(), "computed_at": None}
