from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken

pytestmark = pytest.mark.django_db


def test_user_issues_a_token_sees_it_once_and_revokes_it(client, viewer_user):
    client.force_login(viewer_user)
    response = client.post("/account/", {"name": "ci"}, follow=True)
    page = response.content.decode()
    token = ApiToken.objects.get(user=viewer_user)
    raw = page.split('data-testid="new-token">')[1].split("<")[0]
    assert raw.startswith(token.prefix) and token.name == "ci"
    assert raw not in client.get("/account/").content.decode()  # shown once
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/providers").status_code == 200
    client.post(f"/account/tokens/{token.pk}/revoke/")
    assert api.get("/api/providers").status_code == 401


def test_a_user_cannot_revoke_someone_elses_token(client, viewer_user, admin_user):
    token, _ = ApiToken.issue(admin_user)
    client.force_login(viewer_user)
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_too_long_name_is_shown_inline(client, viewer_user):
    client.force_login(viewer_user)
    response = client.post("/account/", {"name": "x" * 101})
    assert response.status_code == 400
    assert "at most 100 characters" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_account_page_needs_login(client):
    assert client.get("/account/")["Location"].startswith("/login/")
