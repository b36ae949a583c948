"""A token's user has their permissions read in one query (accounts/permsets.py), the same set
ModelBackend reads in two, and a role or permission change is in the very next request."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import ApiToken
from accounts.permsets import permissions_of
from conftest import make_user

pytestmark = pytest.mark.django_db


def model_backend_permissions(user) -> set[str]:
    return ModelBackend().get_all_permissions(get_user_model().objects.get(pk=user.pk))


def bearer(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(user)[1]}")
    return client


def test_the_set_is_model_backends_for_every_kind_of_user(admin_user, viewer_user, outsider_user):
    both = make_user("bea", "viewer")
    both.groups.add(Group.objects.get(name="admin"))
    direct = make_user("dan", None)
    direct.user_permissions.add(Permission.objects.get(content_type__app_label="providers", codename="view_provider"))
    mixed = make_user("mia", "viewer")
    mixed.user_permissions.add(Permission.objects.get(content_type__app_label="auth", codename="add_user"))

    for user in (admin_user, viewer_user, outsider_user, both, direct, mixed):
        assert permissions_of(user) == model_backend_permissions(user), user.username
    assert permissions_of(outsider_user) == set()
    assert "auth.add_user" in permissions_of(mixed) and "providers.view_provider" in permissions_of(mixed)


def test_a_token_request_reads_the_permissions_in_one_query(viewer_user):
    client = bearer(viewer_user)
    client.get("/api/routing-chain")  # content types and the token's last use, as on a running site
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/routing-chain").status_code == HTTPStatus.OK
    permission_reads = [q["sql"] for q in captured if "auth_permission" in q["sql"]]
    assert len(permission_reads) == 1, permission_reads  # ModelBackend: the user's, then the groups'


def test_a_role_change_is_in_the_next_request(viewer_user):
    client = bearer(viewer_user)
    change = {"display_name": "Renamed"}
    from providers.tests.factories import ProviderFactory

    ProviderFactory(id="openai-prod")
    assert client.get("/api/providers/openai-prod").status_code == HTTPStatus.OK
    assert client.patch("/api/providers/openai-prod", change, format="json").status_code == HTTPStatus.FORBIDDEN

    viewer_user.groups.add(Group.objects.get(name="admin"))
    assert client.patch("/api/providers/openai-prod", change, format="json").status_code == HTTPStatus.OK

    viewer_user.groups.clear()
    assert client.get("/api/providers/openai-prod").status_code == HTTPStatus.NOT_FOUND
    assert client.get("/api/providers").status_code == HTTPStatus.FORBIDDEN


def test_a_permission_taken_from_the_role_is_gone_in_the_next_request(viewer_user):
    client = bearer(viewer_user)
    assert client.get("/api/routing-chain").status_code == HTTPStatus.OK
    Group.objects.get(name="viewer").permissions.remove(
        Permission.objects.get(content_type__app_label="providers", codename="view_provider")
    )
    assert client.get("/api/routing-chain").status_code == HTTPStatus.FORBIDDEN


def test_superusers_and_inactive_users_are_left_to_model_backend(viewer_user):
    root = get_user_model().objects.create_superuser("root", password="pw-root")
    client = bearer(root)
    assert client.get("/api/routing-chain").status_code == HTTPStatus.OK  # every permission, no group
    lapsed = bearer(viewer_user)
    viewer_user.is_active = False
    viewer_user.save(update_fields=["is_active"])
    assert lapsed.get("/api/routing-chain").status_code == HTTPStatus.UNAUTHORIZED
