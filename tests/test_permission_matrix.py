"""Every API endpoint × every standing user: admin, viewer, outsider (no role), anonymous.

Objects the user may not even view answer 404 (NetBox's rule); anonymous requests answer 401
with a `WWW-Authenticate` header.
"""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm

from alerts.services import create_channel

pytestmark = pytest.mark.django_db

# A closed local port: probes fail fast, no network is touched.
ENDPOINT = "http://127.0.0.1:9/v1"

MATRIX = [
    # method, path, body, admin, viewer, outsider, anonymous
    ("get", "/api/providers", None, 200, 200, 403, 401),
    ("post", "/api/providers", {"id": "new", "name": "new", "kind": "ollama", "endpoint": "http://127.0.0.1:9", "default_model": "m"}, 201, 403, 403, 401),
    ("get", "/api/providers/p1", None, 200, 200, 404, 401),
    ("patch", "/api/providers/p1", {"priority": 5}, 200, 403, 404, 401),
    ("delete", "/api/providers/p1", None, 200, 403, 404, 401),
    ("post", "/api/providers/p1/restore", None, 200, 403, 404, 401),
    ("post", "/api/providers/p1/test", {"deep": False}, 200, 403, 404, 401),
    ("post", "/api/providers/test-all", {"include_disabled": False, "provider_ids": None}, 200, 403, 403, 401),
    ("post", "/api/providers/p1/secret", {"action": "set", "value": "matrix-value-123"}, 200, 403, 404, 401),
    ("get", "/api/providers/p1/secret/versions", None, 200, 403, 404, 401),
    ("get", "/api/providers/p1/history", None, 200, 200, 404, 401),
    ("get", "/api/providers/p1/metrics", None, 200, 200, 404, 401),
    ("get", "/api/routing-chain", None, 200, 200, 403, 401),
    ("post", "/api/routing-chain/preview", {"provider_id": "p1", "changes": {"priority": 99}}, 200, 200, 403, 401),
    ("get", "/api/events", None, 200, 200, 403, 401),
    ("get", "/api/config", None, 200, 403, 403, 401),
    ("post", "/api/config?dry_run=1", {"providers": [], "prune": True}, 200, 403, 403, 401),
    ("get", "/api/alert-channels", None, 200, 200, 403, 401),
    ("post", "/api/alert-channels", {"id": "new", "name": "new", "kind": "slack", "url": "https://hooks.example/x", "events": ["checks.failed"]}, 201, 403, 403, 401),
    ("get", "/api/alert-channels/c1", None, 200, 200, 404, 401),
    ("patch", "/api/alert-channels/c1", {"name": "renamed"}, 200, 403, 404, 401),
    ("delete", "/api/alert-channels/c1", None, 204, 403, 404, 401),
    ("post", "/api/alert-channels/c1/secret", {"action": "set", "value": "matrix-hook-123"}, 200, 403, 404, 401),
    ("post", "/api/alert-channels/c1/test", None, 202, 403, 404, 401),
    ("get", "/api/alert-channels/c1/deliveries", None, 200, 200, 404, 401),
]
ROLES = ["admin", "viewer", "outsider", "anonymous"]
CASES = [
    pytest.param(method, path, body, role, expected[i], id=f"{method.upper()} {path} as {role}")
    for method, path, body, *expected in MATRIX
    for i, role in enumerate(ROLES)
]


@pytest.fixture
def clients(admin_client, viewer_client, outsider_client, anon_client):
    return {"admin": admin_client, "viewer": viewer_client, "outsider": outsider_client, "anonymous": anon_client}


@pytest.mark.parametrize("method, path, body, role, expected", CASES)
def test_endpoint_answers_by_role(clients, provider_factory, method, path, body, role, expected):
    provider_factory(id="p1", endpoint=ENDPOINT, timeout_ms=500, retries=0)
    create_channel({"id": "c1", "name": "c1", "kind": "webhook", "url": ENDPOINT, "events": ["checks.failed"]})
    response = getattr(clients[role], method)(path, body, format="json")
    assert response.status_code == expected, response.content[:300]
    assert response["Cache-Control"] == "no-store"  # errors included
    if expected == 401:
        assert response.has_header("WWW-Authenticate")


def test_object_permission_delegates_one_provider(outsider_user, outsider_client, provider_factory):
    mine = provider_factory(id="mine")
    provider_factory(id="theirs")
    assign_perm("providers.change_provider", outsider_user, mine)
    assign_perm("providers.view_provider", outsider_user, mine)
    assert outsider_client.patch("/api/providers/mine", {"priority": 3}, format="json").status_code == 200
    assert outsider_client.get("/api/providers/mine").status_code == 200
    assert outsider_client.patch("/api/providers/theirs", {"priority": 3}, format="json").status_code == 404
    assert outsider_client.delete("/api/providers/mine").status_code == 403


def test_bearer_token_authenticates_and_a_bad_one_is_401(viewer_user, anon_client, provider_factory):
    from accounts.models import ApiToken

    provider_factory(id="p1")
    _, raw = ApiToken.issue(viewer_user)
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert anon_client.get("/api/providers").status_code == 200
    assert anon_client.patch("/api/providers/p1", {"priority": 1}, format="json").status_code == 403
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer pc_not-a-token")
    response = anon_client.get("/api/providers")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
