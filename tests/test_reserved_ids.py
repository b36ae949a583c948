"""A provider id cannot be a word that names a route beside /api/providers/<id> (or the pages'
/providers/<id>/): `test-all` was accepted and its URLs then answered 405."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from providers.models import Provider
from providers.validators import RESERVED_PROVIDER_IDS

pytestmark = pytest.mark.django_db

NEW = {"name": "n", "kind": "ollama", "endpoint": "http://127.0.0.1:9", "default_model": "m"}


def routes(resolver=None, prefix: str = ""):
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from routes(entry, route)
        elif isinstance(entry, URLPattern):
            yield route


def test_every_literal_route_beside_a_provider_id_is_reserved():
    siblings = set()
    for route in routes():
        for base in ("api/providers/", "providers/"):
            if route.startswith(base):
                segment = route[len(base):].split("/")[0]
                if segment and not segment.startswith(("<", "(", "^")):
                    siblings.add(segment)
    assert "test-all" in siblings
    assert siblings <= RESERVED_PROVIDER_IDS


@pytest.mark.parametrize("reserved", sorted(RESERVED_PROVIDER_IDS))
def test_creating_a_provider_with_a_reserved_id_is_400_naming_the_field(admin_client, reserved):
    response = admin_client.post("/api/providers", {"id": reserved, **NEW}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "reserved" in response.json()["id"][0]
    assert not Provider.objects.exists()


def test_the_preview_refuses_a_reserved_id_too(viewer_client):
    response = viewer_client.post("/api/routing-chain/preview", {"provider": {"id": "test-all", **NEW}}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "reserved" in str(response.json()["provider"]["id"])


def test_the_django_admin_refuses_a_reserved_id(client, admin_user):
    client.force_login(admin_user)
    form = {
        "id": "test-all", "name": "n", "kind": "ollama", "endpoint": "http://127.0.0.1:9", "default_model": "m",
        "fallback_models": "[]", "priority": 1, "capabilities": "{}", "secret_policy": "none", "retries": 0,
        "timeout_ms": 1000, "tool_timeout_ms": 1000, "metadata": "{}", "enabled": "on",
    }
    response = client.post("/admin/providers/provider/add/", form)
    assert response.status_code == HTTPStatus.OK  # the form again, with the error
    assert "is reserved" in response.content.decode()
    assert not Provider.objects.exists()
    # The same form with a plain id saves.
    form["id"] = "fine"
    assert client.post("/admin/providers/provider/add/", form).status_code == HTTPStatus.FOUND
    assert Provider.objects.filter(id="fine").exists()
