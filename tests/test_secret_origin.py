"""A secret goes only where an admin sent it: each version is bound to an endpoint origin.

A delegated user may change a provider but not move its endpoint to another origin while it
holds a secret (403, nothing changed); an admin may, and the secret is re-bound in the same
transaction; a probe whose endpoint moved without a re-bind sends nothing; routing skips a
required-secret provider whose secret is bound elsewhere. Probes run against real local servers.
"""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from audit.models import AuditEvent
from conftest import make_user
from health.simulator import Route, SimulatorServer
from providers import services as provider_services
from providers.models import Provider
from providers.origins import endpoint_origin
from secrets_vault import api as vault
from secrets_vault import crypto
from secrets_vault.credentials import clear_credential_cache
from secrets_vault.models import SecretVersion
from secrets_vault.tests.conftest import _fresh_vault_state  # noqa: F401  (autouse: a fresh key ring and credential cache)

pytestmark = pytest.mark.django_db

KEY = "sk-origin-bound-key-0001"
MODELS = ["gpt-4o-mini"]


@pytest.fixture
def servers():
    """Two OpenAI-compatible servers on two local ports: two origins."""
    routes = [Route("/v1", "openai_compatible", MODELS, api_key=KEY)]
    with SimulatorServer(routes) as old, SimulatorServer(routes) as new:
        yield old, new


@pytest.fixture
def provider(provider_factory, servers, admin_client):
    old, _ = servers
    provider = provider_factory(id="p1", endpoint=old.url("/v1"), default_model="gpt-4o-mini", fallback_models=[],
                                timeout_ms=2000, retries=0)
    response = admin_client.post("/api/providers/p1/secret", {"action": "set", "value": KEY}, format="json")
    assert response.status_code == HTTPStatus.OK
    return provider


@pytest.fixture
def delegate():
    """A user with no role who may view and change provider p1 only (guardian object permissions)."""
    user = make_user("dora", None)
    provider = Provider.objects.get(pk="p1")
    for perm in ("providers.view_provider", "providers.change_provider"):
        assign_perm(perm, user, provider)
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def row(provider_id: str = "p1") -> SecretVersion:
    return SecretVersion.objects.current().get(provider_id=provider_id)


def events(kind: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=kind).order_by("id"))


def test_a_delegated_user_cannot_move_the_endpoint_of_a_provider_with_a_secret(provider, delegate, servers):
    _, new = servers
    before = Provider.objects.get(pk="p1")
    bound = row()
    event_count = AuditEvent.objects.count()

    response = delegate.patch("/api/providers/p1", {"endpoint": new.url("/v1"), "priority": 1}, format="json")

    assert response.status_code == HTTPStatus.FORBIDDEN
    detail = response.json()["detail"]
    assert "needs the vault permission" in detail and endpoint_origin(new.url("/v1")) in detail
    assert "clear the secret" in detail
    after = Provider.objects.get(pk="p1")
    assert (after.endpoint, after.priority, after.version) == (before.endpoint, before.priority, before.version)
    assert (row().origin, row().ciphertext) == (bound.origin, bound.ciphertext)
    assert AuditEvent.objects.count() == event_count


@pytest.mark.parametrize("endpoint", ["{base}/v2", "{base}/api/v1"])
def test_a_delegated_user_may_change_the_path_on_the_same_origin(provider, delegate, servers, endpoint):
    old, _ = servers
    bound = row()

    response = delegate.patch("/api/providers/p1", {"endpoint": endpoint.format(base=old.base_url)}, format="json")

    assert response.status_code == HTTPStatus.OK
    assert response.json()["endpoint"] == endpoint.format(base=old.base_url)
    assert (row().origin, row().ciphertext, row().rebound_at) == (bound.origin, bound.ciphertext, None)


def test_a_delegated_user_may_move_a_provider_that_holds_no_secret(provider, delegate, admin_client, servers):
    _, new = servers
    assert admin_client.post("/api/providers/p1/secret", {"action": "clear"}, format="json").status_code == 200

    response = delegate.patch("/api/providers/p1", {"endpoint": new.url("/v1")}, format="json")

    assert response.status_code == HTTPStatus.OK


def test_an_admin_moving_the_origin_rebinds_the_secret_and_the_probe_follows(provider, admin_client, servers):
    old, new = servers
    bound = row()
    assert bound.origin == endpoint_origin(old.url("/v1"))

    response = admin_client.patch("/api/providers/p1", {"endpoint": new.url("/v1")}, format="json")

    assert response.status_code == HTTPStatus.OK
    rebound = row()
    assert rebound.origin == endpoint_origin(new.url("/v1")) and rebound.origin_in_aad
    assert rebound.version == bound.version and rebound.rebound_at is not None
    assert rebound.ciphertext != bound.ciphertext
    [event] = events("secret.updated")[1:]
    assert event.payload == {"action": "rebind", "field": "api_key", "version": 1,
                             "origin_before": bound.origin, "origin": rebound.origin}
    assert KEY not in event.summary and KEY not in str(event.payload)
    assert vault.get_bound_credential(provider).origin == rebound.origin
    assert vault.projection(provider)["secret_bound_to_endpoint"] is True

    check = admin_client.post("/api/providers/p1/test", {"deep": False}, format="json").json()

    assert check["ok"] is True, check
    assert [r.authorization for r in new.recorded] == [f"Bearer {KEY}"]
    assert old.recorded == []


def test_the_rebind_and_the_provider_change_commit_together(provider, admin_user, servers, monkeypatch):
    _, new = servers
    bound = row()

    def fail(*args, **kwargs):
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(provider_services, "record_event", fail)  # fails after the rebind was written
    with pytest.raises(RuntimeError):
        provider_services.update_provider(provider, {"endpoint": new.url("/v1")}, actor=admin_user)

    assert Provider.objects.get(pk="p1").endpoint == provider.endpoint
    assert (row().origin, row().ciphertext, row().rebound_at) == (bound.origin, bound.ciphertext, None)
    assert len(events("secret.updated")) == 1  # the set only


def test_a_rebind_that_cannot_decrypt_refuses_the_change_with_the_key_id(provider, admin_client, servers, settings):
    _, new = servers
    settings.VAULT_KEYS = crypto.generate_key_entry("k-new")  # the key of the stored version is gone
    crypto.reset_key_ring_cache()

    response = admin_client.patch("/api/providers/p1", {"endpoint": new.url("/v1")}, format="json")

    assert response.status_code == HTTPStatus.CONFLICT
    detail = response.json()["detail"]
    assert "The endpoint was not changed" in detail and "'test1'" in detail and "VAULT_KEYS" in detail
    assert Provider.objects.get(pk="p1").endpoint == provider.endpoint


def test_a_probe_whose_endpoint_moved_without_a_rebind_sends_nothing(provider, admin_client, servers):
    old, new = servers
    # A change that bypassed the service (a script, a restored backup): the secret stays bound to the old origin.
    Provider.objects.filter(pk="p1").update(endpoint=new.url("/v1"))

    check = admin_client.post("/api/providers/p1/test", {"deep": False}, format="json").json()

    assert old.recorded == [] and new.recorded == []
    assert check["ok"] is False and check["error_code"] == "secret_origin_mismatch"
    assert check["latency_ms"] is None and check["http_status"] is None
    message = check["error_message"]
    assert f"was set for {endpoint_origin(old.url('/v1'))}" in message
    assert f"now points to {endpoint_origin(new.url('/v1'))}" in message
    assert "An admin must" in message and KEY not in message

    # Run all checks and the command take the same path.
    result = admin_client.post("/api/providers/test-all", {}, format="json").json()
    assert [r["error_code"] for r in result["results"]] == ["secret_origin_mismatch"]
    assert old.recorded == [] and new.recorded == []


def test_routing_skips_a_required_secret_bound_to_another_origin(provider, provider_factory, servers,
                                                                 viewer_client, django_assert_max_num_queries):
    _, new = servers
    provider_factory(id="backup", kind="ollama", default_model="m", fallback_models=[], priority=500)
    Provider.objects.filter(pk="p1").update(endpoint=new.url("/v1"))

    chain = viewer_client.get("/api/routing-chain").json()

    node = next(n for n in chain["nodes"] if n["provider_id"] == "p1")
    assert node["state"] == "skipped" and node["reason_code"] == "secret_origin_mismatch"
    assert "secret set for another origin" in node["reason"]
    assert chain["active_provider_id"] == "backup"
    assert vault.projection(provider)["secret_bound_to_endpoint"] is False


def test_copying_a_ciphertext_to_a_row_bound_to_another_origin_does_not_decrypt(provider, servers):
    _, new = servers
    SecretVersion.objects.filter(pk=row().pk).update(origin=endpoint_origin(new.url("/v1")))
    Provider.objects.filter(pk="p1").update(endpoint=new.url("/v1"))
    clear_credential_cache()

    with pytest.raises(crypto.DecryptionError):
        vault.get_bound_credential(provider)


def test_a_restore_binds_the_old_value_to_the_endpoint_origin_of_the_moment(provider, admin_client, servers):
    old, new = servers
    rotate = admin_client.post("/api/providers/p1/secret", {"action": "rotate", "value": "sk-rotated-0000002"},
                               format="json")
    assert rotate.status_code == 200
    assert admin_client.patch("/api/providers/p1", {"endpoint": new.url("/v1")}, format="json").status_code == 200
    assert SecretVersion.objects.get(provider_id="p1", version=1).origin == endpoint_origin(old.url("/v1"))

    response = admin_client.post("/api/providers/p1/secret", {"action": "restore", "version": 1}, format="json")

    assert response.status_code == HTTPStatus.OK
    assert row().version == 3 and row().origin == endpoint_origin(new.url("/v1"))
    assert vault.get_bound_credential(provider).value == KEY
    assert events("secret.updated")[-1].payload["origin"] == endpoint_origin(new.url("/v1"))


def test_a_version_stored_before_origins_is_rebound_in_the_new_format(provider, admin_client, servers):
    old, new = servers
    current = row()
    envelope = current.envelope()
    # Re-seal the stored value as the migration left it: first-format associated data, origin by column.
    value = crypto.decrypt(envelope, provider_id="p1", field="api_key", version=1)
    legacy = _first_format(value, ring=crypto.get_key_ring())
    SecretVersion.objects.filter(pk=current.pk).update(
        kid=legacy.kid, wrapped_key=legacy.wrapped_key, key_nonce=legacy.key_nonce, nonce=legacy.nonce,
        ciphertext=legacy.ciphertext, origin_in_aad=False,
    )
    clear_credential_cache()
    assert vault.get_bound_credential(provider).origin == endpoint_origin(old.url("/v1"))

    assert admin_client.patch("/api/providers/p1", {"endpoint": new.url("/v1")}, format="json").status_code == 200

    assert row().origin_in_aad and row().origin == endpoint_origin(new.url("/v1"))
    assert vault.get_bound_credential(provider).value == KEY


def _first_format(value: str, *, ring) -> crypto.Envelope:
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    where = {"provider_id": "p1", "field": "api_key", "version": 1}
    data_key, nonce, key_nonce = os.urandom(32), os.urandom(12), os.urandom(12)
    ciphertext = AESGCM(data_key).encrypt(nonce, value.encode(), crypto.associated_data(b"data", **where))
    kid = ring.active_kid
    wrapped = ring.kek(kid).encrypt(key_nonce, data_key, crypto.associated_data(b"key", **where, kid=kid))
    return crypto.Envelope(kid=kid, wrapped_key=wrapped, key_nonce=key_nonce, nonce=nonce, ciphertext=ciphertext)


# --- the Django admin: the same rule, shown on the form -------------------------------------------


def admin_form_data(client, url: str) -> dict:
    form = client.get(url).context["adminform"].form
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()  # already as the widget renders it (JSON fields as text)
        if isinstance(field, forms.BooleanField):
            if value:
                data[name] = "on"
            continue
        data[name] = "" if value is None else value
    return data


@pytest.fixture
def staff_without_vault(provider):
    user = get_user_model().objects.create_user(username="sam", password="pw-sam", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_provider", "change_provider"]))
    return user


def test_the_django_admin_shows_the_refusal_on_the_form(client, staff_without_vault, servers):
    _, new = servers
    client.force_login(staff_without_vault)
    url = "/admin/providers/provider/p1/change/"
    data = admin_form_data(client, url)
    before = Provider.objects.get(pk="p1")

    response = client.post(url, {**data, "endpoint": new.url("/v1")})

    assert response.status_code == HTTPStatus.OK  # the form again, with the error
    assert "needs the vault permission" in response.content.decode()
    assert Provider.objects.get(pk="p1").endpoint == before.endpoint
    assert row().origin == endpoint_origin(before.endpoint)


def test_an_admin_moves_the_origin_in_the_django_admin_and_the_secret_follows(client, admin_user, provider, servers):
    _, new = servers
    client.force_login(admin_user)
    url = "/admin/providers/provider/p1/change/"
    data = admin_form_data(client, url)

    response = client.post(url, {**data, "endpoint": new.url("/v1")})

    errors = response.context["adminform"].form.errors if response.status_code == 200 else None
    assert response.status_code == HTTPStatus.FOUND, errors
    assert Provider.objects.get(pk="p1").endpoint == new.url("/v1")
    assert row().origin == endpoint_origin(new.url("/v1"))
    assert events("secret.updated")[-1].payload["action"] == "rebind"
