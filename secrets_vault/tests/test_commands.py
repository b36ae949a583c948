"""rotate_vault_key, vault_status and purge_secrets, run with call_command."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from secrets_vault import api, credentials, crypto
from secrets_vault.models import SecretVersion
from secrets_vault.services import clear_secret, restore_secret, rotate_secret, set_secret
from secrets_vault.tests.helpers import secret_action

pytestmark = pytest.mark.django_db

OLD = crypto.generate_key_entry("old")
NEW = crypto.generate_key_entry("new")


def run(name: str, *args) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def status() -> dict:
    return json.loads(run("vault_status", "--json"))


def use_keys(settings, spec: str) -> None:
    settings.VAULT_KEYS = spec
    credentials.clear_credential_cache()


def read_all() -> dict[str, str | None]:
    credentials.clear_credential_cache()
    return {pid: api.get_credential(pid) for pid in SecretVersion.objects.values_list("provider_id", flat=True).distinct()}


def test_key_rotation_end_to_end(settings, provider_factory, admin_user, admin_client):
    use_keys(settings, OLD)
    before = [provider_factory() for _ in range(5)]
    for i, p in enumerate(before):
        set_secret(p, f"sk-before-rotation-{i:04d}", actor=admin_user)
    rotate_secret(before[0], "sk-before-rotation-new0", actor=admin_user)  # version 1 is restorable, on OLD
    clear_secret(before[1], actor=admin_user)

    # 1. The new key goes first; the old one stays so everything still decrypts.
    use_keys(settings, f"{NEW},{OLD}")
    after = provider_factory()
    assert secret_action(admin_client, after.id, action="set", value="sk-after-rotation-0000").status_code == 200
    assert SecretVersion.objects.get(provider=after).kid == "new"
    expected = read_all()
    assert expected[before[0].id] == "sk-before-rotation-new0"
    assert expected[before[1].id] is None
    assert {k["kid"]: k["removable"] for k in status()["keys"]} == {"new": False, "old": False}

    # 2. Re-wrap every data key with the new key.
    out = run("rotate_vault_key", "--batch-size", "2")
    assert "6 version(s) to re-wrap, 1 already on it" in out
    assert "Done: 6 re-wrapped, 1 already on the active key, 0 failed." in out
    assert "6/6 processed" in out
    assert set(SecretVersion.objects.exclude(kid="").values_list("kid", flat=True)) == {"new"}
    assert {k["kid"]: k["removable"] for k in status()["keys"]} == {"new": False, "old": True}
    assert "old" in run("vault_status") and "can be removed safely" in run("vault_status")

    # 3. Remove the old key: every value, current or restorable, still reads.
    use_keys(settings, NEW)
    assert read_all() == expected
    restore_secret(before[0], 1, actor=admin_user)
    assert api.get_credential(before[0]) == "sk-before-rotation-0000"
    restore_secret(before[1], 1, actor=admin_user)
    assert api.get_credential(before[1]) == "sk-before-rotation-0001"


def test_rotation_is_idempotent(settings, provider, admin_user):
    use_keys(settings, OLD)
    set_secret(provider, "sk-idempotent-value-00", actor=admin_user)
    use_keys(settings, f"{NEW},{OLD}")
    run("rotate_vault_key")
    wrapped = bytes(SecretVersion.objects.get().wrapped_key)

    out = run("rotate_vault_key")

    assert "0 version(s) to re-wrap, 1 already on it" in out
    assert bytes(SecretVersion.objects.get().wrapped_key) == wrapped


def test_an_interrupted_rotation_resumes_where_it_stopped(settings, provider_factory, admin_user, monkeypatch):
    use_keys(settings, OLD)
    for i in range(6):
        set_secret(provider_factory(), f"sk-resume-value-{i:04d}", actor=admin_user)
    use_keys(settings, f"{NEW},{OLD}")
    real_rewrap = crypto.rewrap
    calls = {"n": 0}

    def crash_after_three(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt
        return real_rewrap(*args, **kwargs)

    monkeypatch.setattr(crypto, "rewrap", crash_after_three)
    with pytest.raises(KeyboardInterrupt):
        run("rotate_vault_key", "--batch-size", "3")
    assert SecretVersion.objects.filter(kid="new").count() == 3  # the first batch committed

    monkeypatch.setattr(crypto, "rewrap", real_rewrap)
    out = run("rotate_vault_key", "--batch-size", "3")

    assert "3 version(s) to re-wrap, 3 already on it" in out
    use_keys(settings, NEW)
    assert sorted(read_all().values()) == [f"sk-resume-value-{i:04d}" for i in range(6)]


def test_versions_under_a_missing_key_are_reported_and_left_alone(settings, provider_factory, admin_user):
    use_keys(settings, OLD)
    set_secret(provider_factory(), "sk-orphaned-value-0000", actor=admin_user)
    use_keys(settings, NEW)
    set_secret(provider_factory(), "sk-current-value-00000", actor=admin_user)

    with pytest.raises(CommandError, match="1 version"):
        run("rotate_vault_key")
    assert SecretVersion.objects.filter(kid="old").count() == 1

    with pytest.raises(CommandError, match="missing from VAULT_KEYS: old"):
        run("vault_status")


def test_dry_run_changes_nothing(settings, provider, admin_user):
    use_keys(settings, OLD)
    set_secret(provider, "sk-dry-run-value-00000", actor=admin_user)
    use_keys(settings, f"{NEW},{OLD}")

    assert "Dry run: 1 would be re-wrapped." in run("rotate_vault_key", "--dry-run")
    assert SecretVersion.objects.get().kid == "old"


def test_vault_status_counts(settings, provider, admin_user):
    set_secret(provider, "sk-status-value-000000", actor=admin_user)
    rotate_secret(provider, "sk-status-value-000001", actor=admin_user)
    clear_secret(provider, actor=admin_user)

    result = status()

    assert result["active_kid"] == "test1"
    assert result["keys"] == [{"kid": "test1", "active": True, "versions": 2, "removable": False}]
    assert result["totals"] == {"versions": 3, "current_with_value": 0, "restorable": 2, "due_for_purge": 0, "purged": 0}


def test_vault_status_prints_a_new_key_entry():
    entry = run("vault_status", "--new-key", "k2027").strip()
    assert crypto.parse_key_ring(entry).active_kid == "k2027"


# --- retention and purge --------------------------------------------------------------------------


def age(provider, version: int, days: int) -> None:
    SecretVersion.objects.filter(provider=provider, version=version).update(
        superseded_at=timezone.now() - timedelta(days=days)
    )


def test_purge_destroys_expired_values_and_keeps_metadata(settings, provider, admin_user, admin_client):
    settings.VAULT_RETENTION_DAYS = 30
    set_secret(provider, "sk-purge-value-000001", hint="v1", actor=admin_user)
    rotate_secret(provider, "sk-purge-value-000002", hint="v2", actor=admin_user)
    rotate_secret(provider, "sk-purge-value-000003", hint="v3", actor=admin_user)
    age(provider, 1, days=31)
    age(provider, 2, days=29)

    assert "1 version(s) superseded more than 30 day(s) ago would be purged." in run("purge_secrets", "--dry-run")
    out = run("purge_secrets")

    assert "1 version(s) superseded more than 30 day(s) ago purged." in out
    purged = SecretVersion.objects.get(provider=provider, version=1)
    assert (purged.ciphertext, purged.wrapped_key, purged.nonce, purged.key_nonce, purged.kid) == (None, None, None, None, "")
    assert purged.purged_at is not None
    assert (purged.action, purged.secret_id_hint, purged.created_by_name) == ("set", "v1", "alice")
    # The purged version is listed but can no longer be restored; the younger one can.
    assert [r["version"] for r in admin_client.get(f"/api/providers/{provider.id}/secret/versions").json()] == [3, 2, 1]
    assert secret_action(admin_client, provider.id, action="restore", version=1).status_code == 409
    assert secret_action(admin_client, provider.id, action="restore", version=2).status_code == 200
    assert api.get_credential(provider) == "sk-purge-value-000002"
    # Idempotent.
    assert run("purge_secrets").startswith("0 version(s)")


def test_purge_never_touches_the_current_version(settings, provider, admin_user):
    settings.VAULT_RETENTION_DAYS = 1
    set_secret(provider, "sk-current-forever-00", actor=admin_user)
    SecretVersion.objects.update(created_at=timezone.now() - timedelta(days=400))

    run("purge_secrets")

    assert api.get_credential(provider) == "sk-current-forever-00"


def test_purged_versions_need_no_key(settings, provider, admin_user):
    use_keys(settings, OLD)
    set_secret(provider, "sk-purged-old-key-0000", actor=admin_user)
    rotate_secret(provider, "sk-purged-old-key-0001", actor=admin_user)
    age(provider, 1, days=400)
    run("purge_secrets")
    use_keys(settings, f"{NEW},{OLD}")
    run("rotate_vault_key")

    assert {k["kid"]: k["removable"] for k in status()["keys"]} == {"new": False, "old": True}
