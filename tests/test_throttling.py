"""Probes and secret actions are throttled per user: 429 with Retry-After, nothing done."""

from __future__ import annotations

import pytest
from rest_framework.throttling import ScopedRateThrottle

from health.models import HealthCheck

pytestmark = pytest.mark.django_db


@pytest.fixture
def tight_rates(monkeypatch):
    # DRF binds the rates when it is imported; tests set them on the class.
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"probes": "2/min", "secrets": "2/min"})


def test_probes_over_the_rate_get_429(admin_client, provider_factory, tight_rates):
    provider_factory(id="p1", kind="ollama", endpoint="http://127.0.0.1:9", retries=0, timeout_ms=500)
    assert admin_client.post("/api/providers/p1/test", {}, format="json").status_code == 200
    assert admin_client.post("/api/providers/test-all", {}, format="json").status_code == 200
    response = admin_client.post("/api/providers/p1/test", {}, format="json")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert HealthCheck.objects.count() == 2


def test_secret_actions_over_the_rate_get_429(admin_client, provider_factory, tight_rates):
    provider_factory(id="p1")
    assert admin_client.post("/api/providers/p1/secret", {"action": "set", "value": "v-one-1"}, format="json").status_code == 200
    assert admin_client.post("/api/providers/p1/secret", {"action": "rotate", "value": "v-two-2"}, format="json").status_code == 200
    response = admin_client.post("/api/providers/p1/secret", {"action": "clear"}, format="json")
    assert response.status_code == 429
    assert admin_client.get("/api/providers/p1").json()["secret_present"] is True


def test_the_rate_is_per_user(admin_client, provider_factory, tight_rates):
    from rest_framework.test import APIClient

    from conftest import make_user

    provider_factory(id="p1", kind="ollama", endpoint="http://127.0.0.1:9", retries=0, timeout_ms=500)
    for _ in range(2):
        admin_client.post("/api/providers/p1/test", {}, format="json")
    other = APIClient()
    other.force_authenticate(make_user("bob", "admin"))
    assert other.post("/api/providers/p1/test", {}, format="json").status_code == 200
