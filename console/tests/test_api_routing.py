"""`GET /api/routing-chain`, `POST /api/routing-chain/preview` and `routing_intent`, all one engine."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from providers.models import Provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def three(provider_factory):
    provider_factory(id="primary", priority=10, kind="ollama")
    provider_factory(id="second", priority=20, kind="ollama")
    provider_factory(id="spare", priority=1, kind="ollama", tier="standby", status="standby")
    provider_factory(id="off", priority=5, kind="ollama", enabled=False, status="disabled")


def test_chain_orders_by_tier_then_priority_and_names_the_active_provider(viewer_client, three):
    response = viewer_client.get("/api/routing-chain")
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    chain = response.json()
    assert [n["provider_id"] for n in chain["nodes"]] == ["primary", "second", "spare"]
    assert [n["state"] for n in chain["nodes"]] == ["active", "standby", "standby"]
    assert chain["active_provider_id"] == "primary"
    assert chain["active_reason"] == "primary primary is healthy and first by tier and priority 10"
    assert chain["excluded"] == [
        {"provider_id": "off", "reason_code": "disabled", "reason": "off is disabled by an operator"}
    ]
    assert chain["computed_at"].endswith("Z")


def test_missing_required_secret_is_skipped_in_the_chain(viewer_client, provider_factory):
    provider_factory(id="needs-key", priority=1, kind="openai_compatible")
    provider_factory(id="local", priority=2, kind="ollama")
    chain = viewer_client.get("/api/routing-chain").json()
    # The effective order: the usable provider first, the skipped one after it.
    assert [(n["provider_id"], n["position"], n["reason_code"]) for n in chain["nodes"]] == [
        ("local", 1, "next_healthy"), ("needs-key", 2, "missing_secret"),
    ]
    assert chain["active_provider_id"] == "local"


def test_routing_intent_on_providers_agrees_with_the_chain(viewer_client, three):
    providers = {p["id"]: p for p in viewer_client.get("/api/providers").json()["results"]}
    assert providers["primary"]["routing_intent"] == {
        "role": "primary", "position": 1, "targets": ["gpt-4o-mini", "gpt-4o"], "next_provider_id": "second",
    }
    assert providers["spare"]["routing_intent"]["role"] == "fallback"
    assert providers["off"]["routing_intent"]["role"] == "excluded"


def test_preview_of_a_change_that_moves_the_active_provider_saves_nothing(viewer_client, three):
    before = viewer_client.get("/api/routing-chain").json()
    response = viewer_client.post(
        "/api/routing-chain/preview", {"provider_id": "primary", "changes": {"status": "disabled"}}, format="json"
    )
    assert response.status_code == 200, response.json()
    preview = response.json()
    assert preview["changed"] is True
    assert preview["active_provider_id"] == "second"
    assert "primary" in [e["provider_id"] for e in preview["excluded"]]
    assert Provider.objects.get(pk="primary").status == "active"
    assert AuditEvent.objects.count() == 0
    assert viewer_client.get("/api/routing-chain").json()["nodes"] == before["nodes"]


def test_preview_of_a_priority_change_reorders(viewer_client, three):
    preview = viewer_client.post(
        "/api/routing-chain/preview", {"provider_id": "second", "changes": {"priority": 1}}, format="json"
    ).json()
    assert [n["provider_id"] for n in preview["nodes"]][:2] == ["second", "primary"]
    assert preview["active_provider_id"] == "second" and preview["changed"] is True


def test_preview_without_effect_says_unchanged(viewer_client, three):
    preview = viewer_client.post(
        "/api/routing-chain/preview", {"provider_id": "second", "changes": {"display_name": "Second"}}, format="json"
    ).json()
    assert preview["changed"] is False


def test_preview_of_a_new_provider(viewer_client, three):
    new = {"id": "faster", "name": "faster", "kind": "ollama", "endpoint": "http://127.0.0.1:11434",
           "default_model": "llama3", "priority": 1}
    preview = viewer_client.post("/api/routing-chain/preview", {"provider": new}, format="json").json()
    assert preview["active_provider_id"] == "faster" and preview["changed"] is True
    assert not Provider.objects.filter(pk="faster").exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"provider_id": "primary", "changes": {"priority": -3}}, "changes"),
        ({"provider_id": "primary", "changes": {"status": "unreachable"}}, "changes"),
        ({"provider_id": "primary", "changes": {"nope": 1}}, "changes"),
        ({"provider_id": "primary"}, "changes"),
        ({"provider": {"id": "x"}}, "provider"),
        ({"provider_id": "primary", "changes": {}, "provider": {}}, "detail"),
        ({"whatever": 1}, "whatever"),
        ({"provider_id": "primary", "changes": "priority=1"}, "changes"),
    ],
)
def test_invalid_preview_is_400(viewer_client, three, body, field):
    response = viewer_client.post("/api/routing-chain/preview", body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()


def test_preview_of_an_unknown_provider_is_404(viewer_client, three):
    response = viewer_client.post("/api/routing-chain/preview", {"provider_id": "ghost", "changes": {}}, format="json")
    assert response.status_code == 404
