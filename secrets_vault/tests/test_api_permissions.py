"""Who may use the secret endpoints: only the vault permission (the admin group)."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from guardian.shortcuts import assign_perm

from secrets_vault.models import SecretVersion
from secrets_vault.tests.helpers import SECRET_URL, VERSIONS_URL

pytestmark = pytest.mark.django_db

SET_BODY = {"action": "set", "value": "sk-permission-test-000000"}


def call(client, method: str, url: str):
    if method == "post":
        return client.post(url, SET_BODY, format="json")
    return client.get(url)


ENDPOINTS = [("post", SECRET_URL), ("get", VERSIONS_URL)]


@pytest.mark.parametrize("method, url", ENDPOINTS)
def test_it_refuses_viewers_with_403(viewer_client, provider, method, url):
    response = call(viewer_client, method, url.format(provider.id))

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response["Cache-Control"] == "no-store"
    assert SecretVersion.objects.count() == 0


@pytest.mark.parametrize("method, url", ENDPOINTS)
def test_it_asks_anonymous_users_to_authenticate_with_401(anon_client, provider, method, url):
    response = call(anon_client, method, url.format(provider.id))

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert "WWW-Authenticate" in response
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("method, url", ENDPOINTS)
def test_it_hides_the_provider_from_users_without_any_role_with_404(outsider_client, provider, method, url):
    response = call(outsider_client, method, url.format(provider.id))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("method, url", ENDPOINTS)
def test_a_user_delegated_only_viewing_one_provider_gets_403(outsider_client, outsider_user, provider, method, url):
    assign_perm("providers.view_provider", outsider_user, provider)

    assert call(outsider_client, method, url.format(provider.id)).status_code == HTTPStatus.FORBIDDEN


@pytest.mark.parametrize("method, url", ENDPOINTS)
def test_an_unknown_provider_is_404(admin_client, method, url):
    response = call(admin_client, method, url.format("no-such-provider"))

    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize("method, url", ENDPOINTS)
def test_other_methods_are_405_for_admins(admin_client, provider, method, url):
    other = admin_client.put if method == "post" else admin_client.delete
    response = other(url.format(provider.id), {}, format="json")
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["Cache-Control"] == "no-store"


def test_a_viewer_cannot_set_even_with_a_forged_admin_field(viewer_client, provider):
    response = viewer_client.post(SECRET_URL.format(provider.id), {**SET_BODY, "role": "admin"}, format="json")
    assert response.status_code == HTTPStatus.FORBIDDEN
