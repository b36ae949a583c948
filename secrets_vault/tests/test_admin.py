"""The Django admin shows secret versions' metadata and nothing else, and changes nothing."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from secrets_vault.models import SecretVersion
from secrets_vault.services import set_secret

pytestmark = pytest.mark.django_db

VALUE = "sk-admin-page-value-000001"


@pytest.fixture
def staff_client(admin_user) -> Client:
    admin_user.is_staff = True
    admin_user.save()
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def row(provider, admin_user) -> SecretVersion:
    return set_secret(provider, VALUE, hint="feb-label", actor=admin_user)


def test_the_changelist_shows_metadata(staff_client, row):
    response = staff_client.get("/admin/secrets_vault/secretversion/")

    assert response.status_code == HTTPStatus.OK
    content = response.content.decode()
    assert "feb-label" in content and "Openai Prod" in content
    assert VALUE not in content
    assert "Add secret version" not in content


def test_the_change_page_is_read_only_and_shows_no_key_material(staff_client, row):
    url = f"/admin/secrets_vault/secretversion/{row.pk}/change/"

    response = staff_client.get(url)

    assert response.status_code == HTTPStatus.OK
    content = response.content.decode()
    assert "feb-label" in content
    for hidden in ("ciphertext", "wrapped_key", "key_nonce", 'name="nonce"', VALUE):
        assert hidden not in content
    assert 'name="_save"' not in content and 'name="_continue"' not in content


def test_the_admin_can_neither_add_change_nor_delete(staff_client, row):
    base = "/admin/secrets_vault/secretversion/"
    assert staff_client.get(base + "add/").status_code == HTTPStatus.FORBIDDEN
    assert staff_client.post(f"{base}{row.pk}/change/", {"secret_id_hint": "changed"}).status_code == HTTPStatus.FORBIDDEN
    assert staff_client.post(f"{base}{row.pk}/delete/", {"post": "yes"}).status_code == HTTPStatus.FORBIDDEN
    assert SecretVersion.objects.get(pk=row.pk).secret_id_hint == "feb-label"


def test_staff_without_the_vault_permission_cannot_open_it(row):
    user = get_user_model().objects.create_user("staffer", password="pw", is_staff=True)
    client = Client()
    client.force_login(user)

    assert client.get("/admin/secrets_vault/secretversion/").status_code == HTTPStatus.FORBIDDEN
