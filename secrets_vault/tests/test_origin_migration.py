"""Migration 0002: versions stored before origins are bound to their provider's endpoint and still decrypt.

The schema part of the migration is checked with every other migration (models and migrations
agree); this runs its data step on rows as the vault wrote them before origins existed.
"""

from __future__ import annotations

import importlib
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.apps import apps

from secrets_vault import crypto
from secrets_vault.credentials import clear_credential_cache, get_bound_credential
from secrets_vault.models import SecretVersion

pytestmark = pytest.mark.django_db

migration = importlib.import_module("secrets_vault.migrations.0002_secretversion_origin")


def first_format(value: str, where: dict) -> dict:
    """The stored columns of a version as the vault wrote them before origins (v1 associated data)."""
    ring = crypto.get_key_ring()
    data_key, nonce, key_nonce = os.urandom(32), os.urandom(12), os.urandom(12)
    kid = ring.active_kid
    return {
        "kid": kid,
        "nonce": nonce,
        "key_nonce": key_nonce,
        "ciphertext": AESGCM(data_key).encrypt(nonce, value.encode(), crypto.associated_data(b"data", **where)),
        "wrapped_key": ring.kek(kid).encrypt(key_nonce, data_key, crypto.associated_data(b"key", **where, kid=kid)),
    }


def test_existing_versions_are_bound_to_the_endpoint_origin_and_still_decrypt(provider_factory):
    provider_factory(id="mig-a", endpoint="https://API.Example.com/v1")
    provider_factory(id="mig-b", endpoint="http://10.0.0.5:8080/v1")
    provider_factory(id="mig-c", endpoint="http://[::1]:11434")
    for pid, value in (("mig-a", "sk-before-origins-a1"), ("mig-b", "sk-before-origins-b1")):
        where = {"provider_id": pid, "field": "api_key", "version": 1}
        # As the schema step leaves an old row: origin "" and the field's default.
        SecretVersion.objects.create(provider_id=pid, field="api_key", version=1, action="set", is_current=True,
                                     created_by_name="system", **first_format(value, where))
    SecretVersion.objects.create(provider_id="mig-c", field="api_key", version=1, action="clear", is_current=True)

    migration.bind_existing_versions(apps, None)

    rows = {row.provider_id: row for row in SecretVersion.objects.all()}
    assert (rows["mig-a"].origin, rows["mig-a"].origin_in_aad) == ("https://api.example.com:443", False)
    assert (rows["mig-b"].origin, rows["mig-b"].origin_in_aad) == ("http://10.0.0.5:8080", False)
    assert rows["mig-c"].origin == "http://[::1]:11434"
    clear_credential_cache()
    credential = get_bound_credential("mig-a")
    assert (credential.value, credential.origin) == ("sk-before-origins-a1", "https://api.example.com:443")
    assert get_bound_credential("mig-b").value == "sk-before-origins-b1"
    clear_credential_cache()


def test_the_migration_keeps_a_copy_of_the_origin_rule():
    from providers.origins import endpoint_origin

    for url in ("https://API.example.com/v1", "http://h:8080", "http://[::1]:11434/x", "https://h:443/", "ftp://h", ""):
        assert migration.endpoint_origin(url) == endpoint_origin(url)
