"""Migration 0002: versions stored before origins are bound to their provider's endpoint and still decrypt."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from secrets_vault import crypto
from secrets_vault.credentials import clear_credential_cache, get_bound_credential
from secrets_vault.models import SecretVersion

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BEFORE = [("secrets_vault", "0001_initial")]


def migrate(targets=None):
    """Migrate to `targets` (default: every app's latest migration); the app registry of that state."""
    executor = MigrationExecutor(connection)
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


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


def test_existing_versions_are_bound_to_the_endpoint_origin_and_still_decrypt():
    crypto.reset_key_ring_cache()
    clear_credential_cache()
    old_apps = migrate(BEFORE)
    Provider = old_apps.get_model("providers", "Provider")
    OldVersion = old_apps.get_model("secrets_vault", "SecretVersion")
    Provider.objects.create(id="mig-a", name="mig-a", kind="openai_compatible", endpoint="https://API.Example.com/v1",
                            default_model="m", secret_policy="required")
    Provider.objects.create(id="mig-b", name="mig-b", kind="openai_compatible", endpoint="http://10.0.0.5:8080/v1",
                            default_model="m", secret_policy="required")
    for pid, value in (("mig-a", "sk-before-origins-a1"), ("mig-b", "sk-before-origins-b1")):
        where = {"provider_id": pid, "field": "api_key", "version": 1}
        OldVersion.objects.create(provider_id=pid, field="api_key", version=1, action="set", is_current=True,
                                  created_by_name="system", **first_format(value, where))

    migrate()
    migrated = {row.provider_id: row for row in SecretVersion.objects.all()}

    assert migrated["mig-a"].origin == "https://api.example.com:443" and migrated["mig-a"].origin_in_aad is False
    assert migrated["mig-b"].origin == "http://10.0.0.5:8080" and migrated["mig-b"].origin_in_aad is False
    credential = get_bound_credential("mig-a")
    assert (credential.value, credential.origin) == ("sk-before-origins-a1", "https://api.example.com:443")
    assert get_bound_credential("mig-b").value == "sk-before-origins-b1"
    clear_credential_cache()
