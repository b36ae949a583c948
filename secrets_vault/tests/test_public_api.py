"""secrets_vault.api: the functions other apps rely on."""

from __future__ import annotations

from datetime import datetime

import pytest

from providers.models import Provider
from providers.origins import endpoint_origin
from secrets_vault import api, credentials, crypto
from secrets_vault.models import SecretField, SecretVersion
from secrets_vault.services import clear_secret, restore_secret, rotate_secret, set_secret

pytestmark = pytest.mark.django_db

VALUE = "sk-public-api-value-0001"
OTHER = "sk-public-api-value-0002"


def test_a_provider_that_never_had_a_secret_projects_to_the_empty_projection(provider):
    assert api.projection(provider) == api.EMPTY_PROJECTION
    assert api.EMPTY_PROJECTION == {
        "secret_present": False, "secret_version": None, "secret_last_rotated_at": None,
        "secret_touched_by": None, "secret_touched_at": None, "secret_id_hint": None,
        "secret_origin": None, "secret_bound_to_endpoint": False,
    }
    with pytest.raises(TypeError):
        api.EMPTY_PROJECTION["secret_present"] = True  # type: ignore[index]


def test_the_projection_of_a_present_secret(provider, admin_user):
    row = set_secret(provider, VALUE, hint="feb", actor=admin_user)

    result = api.projection(provider)

    assert result == {
        "secret_present": True,
        "secret_version": 1,
        "secret_last_rotated_at": row.created_at,
        "secret_touched_by": "alice",
        "secret_touched_at": row.created_at,
        "secret_id_hint": "feb",
        "secret_origin": endpoint_origin(provider.endpoint),
        "secret_bound_to_endpoint": True,
    }
    assert isinstance(result["secret_last_rotated_at"], datetime)


def test_the_projection_after_clear_is_not_present_but_touched(provider, admin_user):
    set_secret(provider, VALUE, hint="feb", actor=admin_user)
    cleared = clear_secret(provider, actor=admin_user)

    assert api.projection(provider) == {
        "secret_present": False,
        "secret_version": 2,
        "secret_last_rotated_at": None,
        "secret_touched_by": "alice",
        "secret_touched_at": cleared.created_at,
        "secret_id_hint": None,
        "secret_origin": None,
        "secret_bound_to_endpoint": False,
    }


def test_projections_for_uses_one_query_for_any_number_of_ids(provider_factory, admin_user, django_assert_num_queries):
    providers = [provider_factory() for _ in range(30)]
    for p in providers[::2]:
        set_secret(p, VALUE, actor=admin_user)
    ids = [p.id for p in providers] + ["unknown-id"]

    with django_assert_num_queries(1):  # the current versions of all ids
        result = api.projections_for(ids)

    assert set(result) == set(ids)
    assert [result[p.id]["secret_present"] for p in providers] == [i % 2 == 0 for i in range(30)]
    assert result["unknown-id"] == api.EMPTY_PROJECTION


def test_projections_for_accepts_a_queryset_of_ids(provider_factory, admin_user, django_assert_num_queries):
    with_secret, without = provider_factory(), provider_factory()
    set_secret(with_secret, VALUE, actor=admin_user)

    with django_assert_num_queries(1):  # provider ids used as a subquery
        result = api.projections_for(Provider.objects.values_list("id", flat=True))

    assert result[with_secret.id]["secret_present"] is True
    assert result[without.id] == api.EMPTY_PROJECTION


def test_projections_for_an_empty_list_makes_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert api.projections_for([]) == {}


def test_other_fields_do_not_count_as_the_provider_credential(provider, admin_user):
    set_secret(provider, "webhook-signing-secret", field=SecretField.WEBHOOK_SECRET, actor=admin_user)

    assert api.projection(provider)["secret_present"] is False
    assert api.get_credential(provider) is None
    assert credentials.get_credential(provider, SecretField.WEBHOOK_SECRET) == "webhook-signing-secret"


def test_provider_ids_with_secret_is_a_subquery(provider_factory, admin_user, django_assert_num_queries):
    a, b, c = provider_factory(), provider_factory(), provider_factory()
    set_secret(a, VALUE, actor=admin_user)
    set_secret(b, VALUE, actor=admin_user)
    clear_secret(b, actor=admin_user)

    with django_assert_num_queries(1):  # providers joined with the subquery
        present = list(Provider.objects.filter(id__in=api.provider_ids_with_secret()).values_list("id", flat=True))
    missing = set(Provider.objects.exclude(id__in=api.provider_ids_with_secret()).values_list("id", flat=True))

    assert present == [a.id]
    assert missing == {b.id, c.id}


# --- get_credential ------------------------------------------------------------------------------


def test_get_credential_returns_the_plaintext_or_none(provider, admin_user):
    assert api.get_credential(provider) is None
    set_secret(provider, VALUE, actor=admin_user)
    credentials.clear_credential_cache()
    assert api.get_credential(provider) == VALUE
    assert api.get_credential(provider.id) == VALUE


def test_get_credential_is_cached(provider, admin_user, django_assert_num_queries):
    set_secret(provider, VALUE, actor=admin_user)
    api.get_credential(provider)

    with django_assert_num_queries(0):
        assert api.get_credential(provider) == VALUE


def test_the_cache_lasts_at_most_60_seconds(provider, admin_user, monkeypatch, settings):
    settings.VAULT_CREDENTIAL_CACHE_SECONDS = 3600  # capped at 60
    set_secret(provider, VALUE, actor=admin_user)
    clock = [1000.0]
    monkeypatch.setattr(credentials.time, "monotonic", lambda: clock[0])
    assert api.get_credential(provider) == VALUE
    # Change the row behind the cache's back: only a reload can see it.
    SecretVersion.objects.filter(provider=provider).update(ciphertext=b"x" * 40)

    clock[0] += 59
    assert api.get_credential(provider) == VALUE
    clock[0] += 2
    with pytest.raises(crypto.DecryptionError):
        api.get_credential(provider)


@pytest.mark.parametrize("action", ["rotate", "clear", "restore"])
def test_any_secret_action_drops_the_cached_credential_at_once(provider, admin_user, action):
    set_secret(provider, VALUE, actor=admin_user)
    rotate_secret(provider, OTHER, actor=admin_user)
    assert api.get_credential(provider) == OTHER

    if action == "rotate":
        rotate_secret(provider, VALUE, actor=admin_user)
        expected = VALUE
    elif action == "clear":
        clear_secret(provider, actor=admin_user)
        expected = None
    else:
        restore_secret(provider, 1, actor=admin_user)
        expected = VALUE

    assert api.get_credential(provider) == expected


def test_an_action_in_another_process_invalidates_this_cache(provider, admin_user):
    set_secret(provider, VALUE, actor=admin_user)
    assert api.get_credential(provider) == VALUE
    # Another worker rotates: this process's entry is untouched, the shared generation moves.
    with credentials._lock:
        saved = dict(credentials._entries)
    rotate_secret(provider, OTHER, actor=admin_user)
    with credentials._lock:
        credentials._entries.update(saved)

    assert api.get_credential(provider) == OTHER


def test_a_tampered_stored_value_fails_closed(provider, admin_user):
    set_secret(provider, VALUE, actor=admin_user)
    row = SecretVersion.objects.get(provider=provider)
    data = bytes(row.ciphertext)
    SecretVersion.objects.filter(pk=row.pk).update(ciphertext=data[:-1] + bytes([data[-1] ^ 1]))
    credentials.clear_credential_cache()

    with pytest.raises(crypto.DecryptionError):
        api.get_credential(provider)


def test_a_row_swapped_between_providers_fails_closed(provider_factory, admin_user):
    a, b = provider_factory(), provider_factory()
    set_secret(a, VALUE, actor=admin_user)
    set_secret(b, OTHER, actor=admin_user)
    row_a = SecretVersion.objects.get(provider=a)
    SecretVersion.objects.filter(provider=b).update(
        kid=row_a.kid, wrapped_key=row_a.wrapped_key, key_nonce=row_a.key_nonce,
        nonce=row_a.nonce, ciphertext=row_a.ciphertext,
    )
    credentials.clear_credential_cache()

    with pytest.raises(crypto.DecryptionError):
        api.get_credential(b)
    assert api.get_credential(a) == VALUE


def test_an_unknown_kid_fails_closed(provider, admin_user, settings):
    set_secret(provider, VALUE, actor=admin_user)
    credentials.clear_credential_cache()
    settings.VAULT_KEYS = crypto.generate_key_entry("other")

    with pytest.raises(crypto.UnknownKeyError):
        api.get_credential(provider)


# --- get_bound_credential: the value and the origin it may be sent to ---------------------------------


def test_get_bound_credential_carries_the_origin_and_never_prints_the_value(provider, admin_user):
    assert api.get_bound_credential(provider) is None
    set_secret(provider, VALUE, actor=admin_user)

    credential = api.get_bound_credential(provider)

    assert (credential.value, credential.origin) == (VALUE, endpoint_origin(provider.endpoint))
    assert VALUE not in repr(credential) and VALUE not in str(credential) and VALUE not in f"{[credential]}"
    assert api.get_credential(provider) == VALUE


def test_the_projection_says_whether_the_secret_is_bound_to_the_endpoint(provider_factory, admin_user,
                                                                          django_assert_num_queries):
    moved, kept = provider_factory(), provider_factory()
    set_secret(moved, VALUE, actor=admin_user)
    set_secret(kept, VALUE, actor=admin_user)
    Provider.objects.filter(pk=moved.pk).update(endpoint="https://elsewhere.example.test/v1")
    Provider.objects.filter(pk=kept.pk).update(endpoint=kept.endpoint.replace("/v1", "/v2"))  # same origin

    with django_assert_num_queries(1):  # the current versions joined with their providers' endpoints
        result = api.projections_for([moved.pk, kept.pk])

    assert result[moved.pk]["secret_bound_to_endpoint"] is False
    assert result[moved.pk]["secret_origin"] == endpoint_origin(moved.endpoint)
    assert result[kept.pk]["secret_bound_to_endpoint"] is True
