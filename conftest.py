"""Fixtures shared by every test: the three standing users and their API clients.

`admin` and `viewer` are members of the role groups created by migrations; `outsider` is a
signed-in user with no role at all.
"""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from providers.tests.factories import ProviderFactory

# A fixed test key ring, so no test ever writes a key file.
TEST_VAULT_KEYS = "test1:" + "A" * 43 + "="


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    # Password hashing at production strength costs ~0.5 s a user; tests need no strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.VAULT_KEYS = TEST_VAULT_KEYS
    settings.VAULT_KEY_FILE = tmp_path / "vault.keys"
    # A cache namespace of its own per test (throttle counters, credential generations), on
    # the local-memory cache and on Redis alike, without flushing anything.
    caches = {name: dict(config) for name, config in settings.CACHES.items()}
    caches["default"]["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches
    # Every test starts as a fresh process would: no routing chain kept from another test's
    # (rolled-back) data.
    from console import chaincache, listcache

    chaincache.forget()
    listcache.forget()


def make_user(username: str, role: str | None):
    user = get_user_model().objects.create_user(
        username=username, password="pw-" + username, is_staff=(role == "admin")
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def admin_user(db):
    return make_user("alice", "admin")


@pytest.fixture
def viewer_user(db):
    return make_user("victor", "viewer")


@pytest.fixture
def outsider_user(db):
    return make_user("olga", None)


def _client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user=user)
    return client


@pytest.fixture
def admin_client(admin_user) -> APIClient:
    return _client_for(admin_user)


@pytest.fixture
def viewer_client(viewer_user) -> APIClient:
    return _client_for(viewer_user)


@pytest.fixture
def outsider_client(outsider_user) -> APIClient:
    return _client_for(outsider_user)


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def provider_factory(db):
    return ProviderFactory
