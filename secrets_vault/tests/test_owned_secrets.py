"""Secrets kept for owners other than providers, through `secrets_vault.api` and the commands."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from secrets_vault import api, crypto
from secrets_vault.models import OwnedSecretVersion

pytestmark = pytest.mark.django_db

OWNER = "alert_channel:ops-webhook"
OTHER = "alert_channel:team-webhook"
FIELD = "webhook_secret"
OLD = crypto.generate_key_entry("old")
NEW = crypto.generate_key_entry("new")


def run(name: str, *args) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def rows(owner: str = OWNER, field: str = FIELD) -> list[OwnedSecretVersion]:
    return list(OwnedSecretVersion.objects.filter(owner=owner, field=field).order_by("version"))


def test_set_rotate_clear_and_the_state_conflicts(admin_user):
    events_before = AuditEvent.objects.count()

    first = api.set_owned_secret(OWNER, FIELD, "whsec-first-value-0001", actor=admin_user)
    assert first == {"owner": OWNER, "field": FIELD, "action": "set", "present": True, "version": 1,
                     "touched_at": first["touched_at"], "touched_by": "alice"}
    assert api.reveal_owned_secret(OWNER, FIELD) == "whsec-first-value-0001"
    with pytest.raises(api.SecretConflict, match="use 'rotate'"):
        api.set_owned_secret(OWNER, FIELD, "whsec-second-value-001", actor=admin_user)

    rotated = api.set_owned_secret(OWNER, FIELD, "whsec-second-value-002", actor=admin_user, rotate=True)
    assert (rotated["action"], rotated["version"], rotated["present"]) == ("rotate", 2, True)
    assert api.reveal_owned_secret(OWNER, FIELD) == "whsec-second-value-002"

    cleared = api.clear_owned_secret(OWNER, FIELD, actor="scheduler")
    assert (cleared["action"], cleared["version"], cleared["present"], cleared["touched_by"]) == ("clear", 3, False, "scheduler")
    assert api.reveal_owned_secret(OWNER, FIELD) is None
    with pytest.raises(api.SecretConflict, match="nothing to clear"):
        api.clear_owned_secret(OWNER, FIELD)
    with pytest.raises(api.SecretConflict, match="use 'set'"):
        api.set_owned_secret(OWNER, FIELD, "whsec-third-value-0003", rotate=True)

    again = api.set_owned_secret(OWNER, FIELD, "whsec-fourth-value-004")
    assert (again["version"], again["touched_by"]) == (4, "system")
    history = rows()
    assert [(r.version, r.action, r.is_current) for r in history] == [
        (1, "set", False), (2, "rotate", False), (3, "clear", False), (4, "set", True)
    ]
    assert all(r.superseded_at is not None for r in history[:3])
    assert history[0].created_by == admin_user
    # The caller records its own event: the vault records none.
    assert AuditEvent.objects.count() == events_before


def test_rotate_and_clear_with_nothing_ever_stored_are_conflicts():
    with pytest.raises(api.SecretConflict):
        api.set_owned_secret(OWNER, FIELD, "whsec-never-stored-01", rotate=True)
    with pytest.raises(api.SecretConflict):
        api.clear_owned_secret(OWNER, FIELD)
    assert rows() == []


@pytest.mark.parametrize(
    "value, reason",
    [("", "1 to 8192"), ("x" * 8193, "1 to 8192"), (" whsec-padded-value ", "whitespace"), ("whsec\x00nul-value", "NUL"),
     (12345678, "string")],
)
def test_a_bad_value_is_refused_naming_the_field_and_nothing_is_stored(value, reason):
    with pytest.raises(ValidationError) as refused:
        api.set_owned_secret(OWNER, FIELD, value)
    assert list(refused.value.message_dict) == ["value"]
    assert reason in refused.value.message_dict["value"][0]
    assert rows() == []


def test_a_bad_owner_or_field_is_a_programming_error():
    for owner, field in (("", FIELD), ("alert\nchannel", FIELD), ("x" * 201, FIELD), (OWNER, "Webhook"), (OWNER, "")):
        with pytest.raises(ValueError):
            api.set_owned_secret(owner, field, "whsec-valid-value-0001")
    assert OwnedSecretVersion.objects.count() == 0


def test_states_of_any_number_of_owners_take_one_query(django_assert_num_queries, admin_user):
    owners = [f"alert_channel:c{i}" for i in range(40)]
    for owner in owners[:10]:
        api.set_owned_secret(owner, FIELD, f"whsec-state-{owner}", actor=admin_user)
    api.clear_owned_secret(owners[0], FIELD)
    api.set_owned_secret(owners[1], "other_field", "whsec-other-field-0001")

    with django_assert_num_queries(1):
        states = api.owned_secret_states(owners + ["alert_channel:missing"], FIELD)

    assert len(states) == 41
    assert states[owners[0]]["present"] is False and states[owners[0]]["version"] == 2
    assert states[owners[0]]["touched_by"] == "system"
    assert states[owners[1]] == {"present": True, "version": 1, "touched_at": states[owners[1]]["touched_at"],
                                 "touched_by": "alice"}
    assert states[owners[1]]["touched_at"] is not None
    assert states["alert_channel:missing"] == {"present": False, "version": None, "touched_at": None,
                                               "touched_by": None}
    assert all(states[o]["present"] for o in owners[2:10])
    assert not any(states[o]["present"] for o in owners[10:])
    with django_assert_num_queries(0):
        assert api.owned_secret_states([], FIELD) == {}


def test_a_ciphertext_moved_to_another_owner_or_field_does_not_decrypt():
    api.set_owned_secret(OWNER, FIELD, "whsec-bound-to-owner-01")
    api.set_owned_secret(OTHER, FIELD, "whsec-other-owner-0001")
    api.set_owned_secret(OWNER, "signing_key", "whsec-other-field-0001")
    source = rows()[0]
    material = {name: getattr(source, name) for name in ("kid", "wrapped_key", "key_nonce", "nonce", "ciphertext")}
    OwnedSecretVersion.objects.filter(owner=OTHER, field=FIELD).update(**material)
    OwnedSecretVersion.objects.filter(owner=OWNER, field="signing_key").update(**material)

    for owner, field in ((OTHER, FIELD), (OWNER, "signing_key")):
        with pytest.raises(api.VaultError) as failed:
            api.reveal_owned_secret(owner, field)
        message = str(failed.value)
        assert "'test1'" in message and f"{owner}/{field} v1" in message
        assert "whsec-bound-to-owner-01" not in message
    # Nor does it decrypt as a provider's secret of the same name.
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(source.envelope(), provider_id=OWNER, field=FIELD, version=1)
    assert api.reveal_owned_secret(OWNER, FIELD) == "whsec-bound-to-owner-01"


def test_key_rotation_rewraps_owned_secrets_and_they_still_decrypt(settings, provider_factory, admin_user):
    from secrets_vault.services import set_secret

    settings.VAULT_KEYS = OLD
    api.set_owned_secret(OWNER, FIELD, "whsec-rotation-value-01")
    api.set_owned_secret(OWNER, FIELD, "whsec-rotation-value-02", rotate=True)  # v1 kept, on OLD
    api.set_owned_secret(OTHER, FIELD, "whsec-rotation-value-03")
    set_secret(provider_factory(), "sk-provider-rotation-01", actor=admin_user)

    settings.VAULT_KEYS = f"{NEW},{OLD}"
    status = json.loads(run("vault_status", "--json"))
    assert status["by_kid"] == {"old": 4}
    assert status["totals"]["versions"] == 4 and status["totals"]["current_with_value"] == 3

    out = run("rotate_vault_key", "--batch-size", "2")

    assert "4 version(s) to re-wrap, 0 already on it" in out
    assert "Done: 4 re-wrapped, 0 already on the active key, 0 failed." in out
    assert set(OwnedSecretVersion.objects.values_list("kid", flat=True)) == {"new"}
    assert all(r.rewrapped_at is not None for r in OwnedSecretVersion.objects.all())
    assert {k["kid"]: k["removable"] for k in json.loads(run("vault_status", "--json"))["keys"]} == {
        "new": False, "old": True
    }

    settings.VAULT_KEYS = NEW
    assert api.reveal_owned_secret(OWNER, FIELD) == "whsec-rotation-value-02"
    assert api.reveal_owned_secret(OTHER, FIELD) == "whsec-rotation-value-03"
    kept = rows()[0]
    assert crypto.decrypt_owned(kept.envelope(), owner=OWNER, field=FIELD, version=1) == "whsec-rotation-value-01"
    assert "0 version(s) to re-wrap, 4 already on it" in run("rotate_vault_key")


def test_purge_destroys_expired_owned_versions_and_keeps_metadata(settings):
    settings.VAULT_RETENTION_DAYS = 30
    api.set_owned_secret(OWNER, FIELD, "whsec-purge-value-0001")
    api.set_owned_secret(OWNER, FIELD, "whsec-purge-value-0002", rotate=True)
    api.set_owned_secret(OWNER, FIELD, "whsec-purge-value-0003", rotate=True)
    OwnedSecretVersion.objects.filter(owner=OWNER, version=1).update(superseded_at=timezone.now() - timedelta(days=31))
    OwnedSecretVersion.objects.filter(owner=OWNER, version=2).update(superseded_at=timezone.now() - timedelta(days=29))
    OwnedSecretVersion.objects.filter(owner=OWNER, version=3).update(created_at=timezone.now() - timedelta(days=400))

    assert "1 version(s) superseded more than 30 day(s) ago would be purged." in run("purge_secrets", "--dry-run")
    assert json.loads(run("vault_status", "--json"))["totals"]["due_for_purge"] == 1
    assert "1 version(s) superseded more than 30 day(s) ago purged." in run("purge_secrets")

    first, second, third = rows()
    assert (first.kid, first.wrapped_key, first.key_nonce, first.nonce, first.ciphertext) == ("", None, None, None, None)
    assert first.purged_at is not None and (first.version, first.action) == (1, "set")
    assert second.ciphertext is not None and second.purged_at is None
    assert api.reveal_owned_secret(OWNER, FIELD) == "whsec-purge-value-0003"
    assert run("purge_secrets").startswith("0 version(s)")


def test_forget_destroys_every_version_of_the_owner_and_nothing_else():
    api.set_owned_secret(OWNER, FIELD, "whsec-forget-value-0001")
    api.set_owned_secret(OWNER, FIELD, "whsec-forget-value-0002", rotate=True)
    api.set_owned_secret(OWNER, "signing_key", "whsec-forget-value-0003")
    api.clear_owned_secret(OWNER, "signing_key")
    api.set_owned_secret(OTHER, FIELD, "whsec-kept-value-000001")

    assert api.forget_owned_secrets(OWNER) == 3  # the clear held no key material

    mine = OwnedSecretVersion.objects.filter(owner=OWNER)
    assert mine.count() == 4
    assert not mine.filter(is_current=True).exists()
    assert not mine.exclude(ciphertext=None).exists() and not mine.exclude(wrapped_key=None).exists()
    assert set(mine.values_list("kid", flat=True)) == {""}
    assert api.owned_secret_states([OWNER], FIELD)[OWNER]["present"] is False
    assert api.reveal_owned_secret(OWNER, FIELD) is None
    assert api.reveal_owned_secret(OTHER, FIELD) == "whsec-kept-value-000001"
    assert api.forget_owned_secrets(OWNER) == 0
    # An owner created again under the same name starts with no secret, at a later version.
    assert api.set_owned_secret(OWNER, FIELD, "whsec-reborn-value-0001")["version"] == 3


def test_the_canary_is_in_no_log_record_nor_in_any_repr(caplog, admin_user):
    for name in (None, "django", "django.db.backends", "secrets_vault", "audit"):
        caplog.set_level(logging.DEBUG, logger=name)
    connection.force_debug_cursor = True  # log every SQL statement with its parameters
    canary = f"whsec-cnry+{secrets.token_urlsafe(24)}"
    rotated = f"whsec-cnry+{secrets.token_urlsafe(24)}"
    forms = {canary, rotated, base64.b64encode(canary.encode()).decode().rstrip("="),
             base64.b64encode(rotated.encode()).decode().rstrip("=")}
    try:
        results = [api.set_owned_secret(OWNER, FIELD, canary, actor=admin_user)]
        assert api.reveal_owned_secret(OWNER, FIELD) == canary
        results.append(api.set_owned_secret(OWNER, FIELD, rotated, actor=admin_user, rotate=True))
        with pytest.raises(api.SecretConflict) as conflict:
            api.set_owned_secret(OWNER, FIELD, canary)
        with pytest.raises(ValidationError) as invalid:
            api.set_owned_secret(OTHER, FIELD, f" {canary}")
        OwnedSecretVersion.objects.filter(owner=OWNER, is_current=True).update(nonce=b"\0" * 12)
        with pytest.raises(api.VaultError) as undecryptable:
            api.reveal_owned_secret(OWNER, FIELD)
        results.append(api.owned_secret_states([OWNER, OTHER], FIELD))
        results.append(api.clear_owned_secret(OWNER, FIELD))
    finally:
        connection.force_debug_cursor = False

    shown = [caplog.text, *(repr(record.__dict__) for record in caplog.records)]
    shown += [repr(results), str(conflict.value), str(invalid.value), str(undecryptable.value)]
    for row in OwnedSecretVersion.objects.all():
        shown += [repr(row), str(row), repr(row.envelope())]
    leaks = [index for index, text in enumerate(shown) if any(form in text for form in forms)]
    assert leaks == [], "the canary was shown (indexes into what was searched)"
    assert any("secrets_vault_ownedsecretversion" in record.getMessage() for record in caplog.records), "the SQL was captured"


def test_the_admin_lists_owned_versions_without_key_material():
    superuser = get_user_model().objects.create_superuser("root", password="pw-root")
    client = Client()
    client.force_login(superuser)
    api.set_owned_secret(OWNER, FIELD, "whsec-admin-page-value-01")
    row = rows()[0]

    listing = client.get("/admin/secrets_vault/ownedsecretversion/")
    page = client.get(f"/admin/secrets_vault/ownedsecretversion/{row.pk}/change/")

    assert listing.status_code == page.status_code == 200
    assert OWNER in listing.content.decode() and OWNER in page.content.decode()
    for content in (listing.content.decode(), page.content.decode()):
        for hidden in ("whsec-admin-page-value-01", "ciphertext", "wrapped_key", "key_nonce", 'name="nonce"'):
            assert hidden not in content
    assert client.post(f"/admin/secrets_vault/ownedsecretversion/{row.pk}/delete/", {"post": "yes"}).status_code == 403


# --- concurrency (PostgreSQL's row locks) -----------------------------------------------------------


def _race(action, count: int = 2) -> list[object]:
    """Run `action(i)` in `count` threads started together; each result or exception."""
    start = threading.Barrier(count)
    results: list[object] = [None] * count

    def worker(index: int) -> None:
        try:
            start.wait(timeout=10)
            results[index] = action(index)
        except Exception as exc:  # noqa: BLE001 - the exception is the result under test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _needs_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite's in-memory test database serialises whole transactions")


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_first_sets_keep_one_current_row():
    _needs_postgresql()

    results = _race(lambda i: api.set_owned_secret(OWNER, FIELD, f"whsec-concurrent-set-{i:03d}"))

    stored = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, api.SecretConflict)]
    assert (len(stored), len(refused)) == (1, 1), [type(r).__name__ for r in results]
    assert OwnedSecretVersion.objects.filter(owner=OWNER, field=FIELD, is_current=True).count() == 1
    assert api.reveal_owned_secret(OWNER, FIELD) == f"whsec-concurrent-set-{results.index(stored[0]):03d}"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_rotations_both_land_one_after_the_other():
    _needs_postgresql()
    api.set_owned_secret(OWNER, FIELD, "whsec-before-the-race-01")

    results = _race(lambda i: api.set_owned_secret(OWNER, FIELD, f"whsec-concurrent-rot-{i:03d}", rotate=True))

    assert all(isinstance(r, dict) for r in results), [repr(r) for r in results]
    assert sorted(r["version"] for r in results) == [2, 3]
    history = rows()
    assert [(r.version, r.is_current) for r in history] == [(1, False), (2, False), (3, True)]
    last = max(results, key=lambda r: r["version"])
    assert api.reveal_owned_secret(OWNER, FIELD) == f"whsec-concurrent-rot-{results.index(last):03d}"
