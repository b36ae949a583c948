"""The list's `secret` and `health` filters and its health orderings, on real rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from health.models import HealthCheck
from secrets_vault.services import set_secret

pytestmark = pytest.mark.django_db


def ids(response):
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def checked(provider, seconds_ago, *, ok=True, latency=100, code=None):
    HealthCheck.objects.create(
        provider=provider, checked_at=timezone.now() - timedelta(seconds=seconds_ago), ok=ok,
        latency_ms=latency, error_code=code, provider_status=provider.status,
    )


@pytest.fixture
def fleet(provider_factory):
    keyed = provider_factory(id="keyed", priority=1)  # openai_compatible: secret required
    set_secret(keyed, "sk-fleet-test-value")
    provider_factory(id="keyless", priority=2)  # required, missing
    provider_factory(id="optional", priority=3, kind="other", endpoint="https://example.test")
    provider_factory(id="local", priority=4, kind="ollama")
    return keyed


def test_secret_filter(viewer_client, fleet):
    assert ids(viewer_client.get("/api/providers?secret=required")) == ["keyed", "keyless"]
    assert ids(viewer_client.get("/api/providers?secret=missing")) == ["keyless"]
    assert ids(viewer_client.get("/api/providers?secret=present")) == ["keyed"]


@pytest.fixture
def checked_fleet(provider_factory):
    fast = provider_factory(id="fast", priority=3)
    slow = provider_factory(id="slow", priority=2)
    flaky = provider_factory(id="flaky", priority=1, status="degraded")
    down = provider_factory(id="down", priority=4, status="unreachable")
    provider_factory(id="never", priority=5)
    checked(fast, 30, latency=50)
    checked(slow, 200, latency=900)
    checked(flaky, 100, latency=300)
    checked(flaky, 20, ok=False, latency=300, code="server_error")
    checked(flaky, 10, ok=False, latency=300, code="server_error")
    checked(down, 5, ok=False, latency=None, code="timeout")
    return None


def test_health_filter(viewer_client, checked_fleet):
    assert ids(viewer_client.get("/api/providers?health=ok")) == ["slow", "fast"]
    assert ids(viewer_client.get("/api/providers?health=degraded")) == ["flaky"]
    assert ids(viewer_client.get("/api/providers?health=unreachable")) == ["down"]
    assert ids(viewer_client.get("/api/providers?health=unknown")) == ["never"]


def test_ordering_by_last_checked_latency_and_failures(viewer_client, checked_fleet):
    # Never-checked providers sort last in both directions.
    assert ids(viewer_client.get("/api/providers?ordering=-last_checked")) == ["down", "flaky", "fast", "slow", "never"]
    assert ids(viewer_client.get("/api/providers?ordering=last_checked")) == ["slow", "fast", "flaky", "down", "never"]
    assert ids(viewer_client.get("/api/providers?ordering=avg_latency"))[:3] == ["fast", "flaky", "slow"]
    assert ids(viewer_client.get("/api/providers?ordering=-avg_latency"))[:3] == ["slow", "flaky", "fast"]
    assert ids(viewer_client.get("/api/providers?ordering=-failures"))[:2] == ["flaky", "down"]


def test_health_filter_and_ordering_combine_with_paging(viewer_client, checked_fleet):
    response = viewer_client.get("/api/providers?health=ok&ordering=-avg_latency&page_size=1")
    assert response.json()["count"] == 2
    assert ids(response) == ["slow"]
