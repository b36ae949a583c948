"""The role groups follow accounts/roles.py exactly, and the admin role reaches what docs/roles.md
says it reaches in the Django admin."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib.auth.models import Group, Permission

from accounts import roles
from accounts.models import ApiToken

pytestmark = pytest.mark.django_db


def codes(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


def test_sync_gives_each_group_exactly_its_role(monkeypatch):
    assert codes("viewer") == set(roles.VIEWER_PERMISSIONS)
    assert codes("admin") == set(roles.ADMIN_PERMISSIONS)

    # A permission added by hand does not survive a sync ...
    stray = Permission.objects.get(content_type__app_label="auth", codename="add_user")
    Group.objects.get(name="viewer").permissions.add(stray)
    # ... and one taken out of a role leaves the group.
    monkeypatch.setitem(
        roles.ROLE_PERMISSIONS, roles.ADMIN, [c for c in roles.ADMIN_PERMISSIONS if c != "providers.delete_provider"]
    )
    roles.sync_roles(Group, Permission)

    assert "auth.add_user" not in codes("viewer")
    assert "providers.delete_provider" not in codes("admin")
    assert codes("admin") == set(roles.ADMIN_PERMISSIONS) - {"providers.delete_provider"}


def test_admin_role_sees_and_revokes_every_token_in_the_django_admin(client, admin_user, viewer_user):
    token, raw = ApiToken.issue(viewer_user, name="ci")
    client.force_login(admin_user)
    listing = client.get("/admin/accounts/apitoken/")
    assert listing.status_code == HTTPStatus.OK
    assert token.prefix in listing.content.decode() and raw not in listing.content.decode()
    detail = client.get(f"/admin/accounts/apitoken/{token.pk}/change/")
    assert detail.status_code == HTTPStatus.OK
    assert raw not in detail.content.decode() and token.digest not in detail.content.decode()

    response = client.post(
        "/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}, follow=True
    )
    assert response.status_code == HTTPStatus.OK
    token.refresh_from_db()
    assert token.revoked_at is not None
    # No way back from the change form: revoked_at is read-only.
    client.post(f"/admin/accounts/apitoken/{token.pk}/change/", {"revoked_at_0": "", "revoked_at_1": ""})
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert client.get("/admin/accounts/apitoken/add/").status_code == HTTPStatus.FORBIDDEN


def test_viewer_role_cannot_open_tokens_in_the_django_admin(client, viewer_user):
    viewer_user.is_staff = True
    viewer_user.save()
    client.force_login(viewer_user)
    assert client.get("/admin/accounts/apitoken/").status_code == HTTPStatus.FORBIDDEN
