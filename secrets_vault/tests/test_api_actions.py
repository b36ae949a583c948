"""POST /api/providers/{id}/secret and GET …/secret/versions, through the URL and the client."""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus

import pytest

from audit.models import AuditEvent
from secrets_vault.api import get_credential
from secrets_vault.models import SecretVersion
from secrets_vault.tests.helpers import secret_action, versions

pytestmark = pytest.mark.django_db

VALUE = "sk-test-0123456789abcdef"
OTHER = "sk-test-fedcba9876543210"


def assert_iso_z(text: str) -> None:
    assert text.endswith("Z")
    datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")


def test_set_returns_the_projection_and_never_the_value(admin_client, provider):
    response = secret_action(admin_client, provider.id, action="set", value=VALUE, secret_id_hint="prod-key-feb")

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == {
        "provider_id", "action", "secret_present", "secret_version", "secret_last_rotated_at",
        "secret_touched_by", "secret_touched_at", "secret_id_hint",
    }
    assert body["provider_id"] == "openai-prod"
    assert body["action"] == "set"
    assert body["secret_present"] is True
    assert body["secret_version"] == 1
    assert body["secret_touched_by"] == "alice"
    assert body["secret_id_hint"] == "prod-key-feb"
    assert_iso_z(body["secret_last_rotated_at"])
    assert body["secret_touched_at"] == body["secret_last_rotated_at"]
    assert VALUE not in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert get_credential(provider) == VALUE


def test_rotate_replaces_the_value_and_keeps_the_old_version(admin_client, provider):
    secret_action(admin_client, provider.id, action="set", value=VALUE)

    response = secret_action(admin_client, provider.id, action="rotate", value=OTHER, secret_id_hint="mar")

    assert response.status_code == HTTPStatus.OK
    assert response.json()["secret_version"] == 2
    assert response.json()["action"] == "rotate"
    assert get_credential(provider) == OTHER
    old = SecretVersion.objects.get(provider=provider, version=1)
    assert not old.is_current and old.superseded_at is not None and old.ciphertext is not None


def test_clear_removes_the_value(admin_client, provider):
    secret_action(admin_client, provider.id, action="set", value=VALUE, secret_id_hint="feb")

    response = secret_action(admin_client, provider.id, action="clear")

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["secret_present"] is False
    assert body["secret_version"] == 2
    assert body["secret_last_rotated_at"] is None
    assert body["secret_id_hint"] is None
    assert body["secret_touched_by"] == "alice"
    assert get_credential(provider) is None


def test_restore_after_rotate_brings_back_the_earlier_value(admin_client, provider):
    secret_action(admin_client, provider.id, action="set", value=VALUE, secret_id_hint="feb")
    secret_action(admin_client, provider.id, action="rotate", value=OTHER, secret_id_hint="mar")

    response = secret_action(admin_client, provider.id, action="restore", version=1)

    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert body["action"] == "restore"
    assert body["secret_version"] == 3
    assert body["secret_id_hint"] == "feb"  # the restored version's label unless a new one is given
    assert get_credential(provider) == VALUE
    assert SecretVersion.objects.get(provider=provider, version=3).restored_from == 1


def test_restore_after_clear_brings_the_secret_back(admin_client, provider):
    secret_action(admin_client, provider.id, action="set", value=VALUE)
    secret_action(admin_client, provider.id, action="clear")

    response = secret_action(admin_client, provider.id, action="restore", version=1, secret_id_hint="back")

    assert response.status_code == HTTPStatus.OK
    assert response.json()["secret_present"] is True
    assert response.json()["secret_id_hint"] == "back"
    assert get_credential(provider) == VALUE


def test_versions_lists_metadata_newest_first(admin_client, provider):
    secret_action(admin_client, provider.id, action="set", value=VALUE, secret_id_hint="feb")
    secret_action(admin_client, provider.id, action="rotate", value=OTHER)
    secret_action(admin_client, provider.id, action="clear")

    response = versions(admin_client, provider.id)

    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == "no-store"
    rows = response.json()
    assert [(r["version"], r["action"], r["current"], r["secret_id_hint"], r["created_by"]) for r in rows] == [
        (3, "clear", True, None, "alice"),
        (2, "rotate", False, None, "alice"),
        (1, "set", False, "feb", "alice"),
    ]
    assert all(set(r) == {"version", "created_at", "created_by", "action", "secret_id_hint", "current"} for r in rows)
    for row in rows:
        assert_iso_z(row["created_at"])
    assert VALUE not in response.content.decode() and OTHER not in response.content.decode()


def test_versions_of_a_provider_without_secret_is_an_empty_list(admin_client, provider):
    assert versions(admin_client, provider.id).json() == []


# --- audit ------------------------------------------------------------------------------------


def test_each_action_writes_its_audit_event_without_the_value(admin_client, provider):
    secret_action(admin_client, provider.id, action="set", value=VALUE, secret_id_hint="feb")
    secret_action(admin_client, provider.id, action="rotate", value=OTHER)
    secret_action(admin_client, provider.id, action="clear")
    secret_action(admin_client, provider.id, action="restore", version=2)

    events = list(AuditEvent.objects.filter(provider_id=provider.id).order_by("id"))
    assert [(e.event, e.payload["action"], e.payload["version"]) for e in events] == [
        ("secret.updated", "set", 1),
        ("secret.updated", "rotate", 2),
        ("secret.cleared", "clear", 3),
        ("secret.updated", "restore", 4),
    ]
    assert all(e.actor_name == "alice" for e in events)
    assert events[-1].payload["restored_from"] == 2
    assert "alice rotated the api key of openai-prod (version 2)" == events[1].summary
    for event in events:
        text = f"{event.summary} {event.payload}"
        assert VALUE not in text and OTHER not in text


def test_a_failing_audit_write_leaves_the_secret_unchanged(admin_client, provider, monkeypatch):
    secret_action(admin_client, provider.id, action="set", value=VALUE)
    assert get_credential(provider) == VALUE  # now cached

    def broken(*args, **kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr("secrets_vault.services.record_event", broken)
    admin_client.raise_request_exception = False

    response = secret_action(admin_client, provider.id, action="rotate", value=OTHER)

    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert list(SecretVersion.objects.values_list("version", "is_current")) == [(1, True)]
    assert AuditEvent.objects.filter(event="secret.updated").count() == 1
    assert get_credential(provider) == VALUE


# --- 409: the action does not fit the state ------------------------------------------------------


def test_set_when_present_is_409(admin_client, provider):
    secret_action(admin_client, provider.id, action="set", value=VALUE)

    response = secret_action(admin_client, provider.id, action="set", value=OTHER)

    assert response.status_code == HTTPStatus.CONFLICT
    assert "rotate" in response.json()["detail"]
    assert get_credential(provider) == VALUE


@pytest.mark.parametrize("body", [{"action": "rotate", "value": VALUE}, {"action": "clear"}])
def test_rotate_or_clear_without_a_secret_is_409(admin_client, provider, body):
    response = secret_action(admin_client, provider.id, **body)

    assert response.status_code == HTTPStatus.CONFLICT
    assert SecretVersion.objects.count() == 0


def test_rotate_or_clear_after_clear_is_409(admin_client, provider):
    secret_action(admin_client, provider.id, action="set", value=VALUE)
    secret_action(admin_client, provider.id, action="clear")

    assert secret_action(admin_client, provider.id, action="clear").status_code == HTTPStatus.CONFLICT
    assert secret_action(admin_client, provider.id, action="rotate", value=OTHER).status_code == HTTPStatus.CONFLICT
    assert secret_action(admin_client, provider.id, action="set", value=OTHER).status_code == HTTPStatus.OK


@pytest.mark.parametrize(
    "body",
    [
        {"action": "set", "value": VALUE},
        {"action": "rotate", "value": VALUE},
        {"action": "clear"},
        {"action": "restore", "version": 1},
    ],
)
def test_any_action_on_a_provider_without_secret_policy_is_409(admin_client, provider_factory, body):
    local = provider_factory(id="ollama-local", kind="ollama")
    assert local.secret_policy == "none"

    response = secret_action(admin_client, local.id, **body)

    assert response.status_code == HTTPStatus.CONFLICT
    assert response.json() == {"detail": "No secret required: this provider's secret policy is 'none'."}


def test_restore_of_the_current_version_is_409(admin_client, provider):
    secret_action(admin_client, provider.id, action="set", value=VALUE)

    assert secret_action(admin_client, provider.id, action="restore", version=1).status_code == HTTPStatus.CONFLICT


def test_restore_outside_the_retention_window_is_409(admin_client, provider, settings):
    settings.VAULT_RETENTION_DAYS = 30
    secret_action(admin_client, provider.id, action="set", value=VALUE)
    secret_action(admin_client, provider.id, action="rotate", value=OTHER)
    from datetime import timedelta

    from django.utils import timezone

    SecretVersion.objects.filter(version=1).update(superseded_at=timezone.now() - timedelta(days=31))

    response = secret_action(admin_client, provider.id, action="restore", version=1)

    assert response.status_code == HTTPStatus.CONFLICT
    assert "retention" in response.json()["detail"]


# --- 400: bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, field",
    [
        ({"action": "set", "value": VALUE, "field": "token"}, "field"),
        ({"action": "set", "value": VALUE, "extra": 1}, "extra"),
        ({"action": "explode"}, "action"),
        ({}, "action"),
        ({"action": "set"}, "value"),
        ({"action": "set", "value": ""}, "value"),
        ({"action": "set", "value": " " + VALUE}, "value"),
        ({"action": "set", "value": VALUE + "\n"}, "value"),
        ({"action": "set", "value": "x" * 8193}, "value"),
        ({"action": "set", "value": 12345678}, "value"),
        ({"action": "set", "value": ["a"]}, "value"),
        ({"action": "set", "value": VALUE, "secret_id_hint": "h" * 65}, "secret_id_hint"),
        ({"action": "set", "value": VALUE, "secret_id_hint": "key " + VALUE}, "secret_id_hint"),
        ({"action": "set", "value": "correct-horse-battery", "secret_id_hint": "sk-abcdef0123456789"}, "secret_id_hint"),
        ({"action": "set", "value": VALUE, "version": 1}, "version"),
        ({"action": "clear", "value": VALUE}, "value"),
        ({"action": "clear", "secret_id_hint": "label"}, "secret_id_hint"),
        ({"action": "restore"}, "version"),
        ({"action": "restore", "version": "1"}, "version"),
        ({"action": "restore", "version": 0}, "version"),
        ({"action": "restore", "version": 1, "value": VALUE}, "value"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_never_echoing_the_value(admin_client, provider, body, field):
    response = secret_action(admin_client, provider.id, **body)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()
    assert VALUE not in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert SecretVersion.objects.count() == 0


def test_a_body_that_is_not_an_object_is_400(admin_client, provider):
    response = admin_client.post(f"/api/providers/{provider.id}/secret", [VALUE], format="json")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert VALUE not in response.content.decode()


def test_value_of_8192_characters_is_accepted(admin_client, provider):
    value = "v" * 8192
    assert secret_action(admin_client, provider.id, action="set", value=value).status_code == HTTPStatus.OK
    assert get_credential(provider) == value


def test_restore_of_an_unknown_or_cleared_version_is_400(admin_client, provider):
    secret_action(admin_client, provider.id, action="set", value=VALUE)
    secret_action(admin_client, provider.id, action="clear")
    secret_action(admin_client, provider.id, action="set", value=OTHER)

    assert secret_action(admin_client, provider.id, action="restore", version=9).status_code == HTTPStatus.BAD_REQUEST
    assert secret_action(admin_client, provider.id, action="restore", version=2).status_code == HTTPStatus.BAD_REQUEST


def test_null_optional_fields_are_accepted(admin_client, provider):
    response = secret_action(admin_client, provider.id, action="set", value=VALUE, secret_id_hint=None, version=None)
    assert response.status_code == HTTPStatus.OK
    assert response.json()["secret_id_hint"] is None


def test_restore_refuses_a_label_that_contains_the_restored_value(admin_client, provider):
    secret_action(admin_client, provider.id, action="set", value=VALUE)
    secret_action(admin_client, provider.id, action="rotate", value=OTHER)

    response = secret_action(admin_client, provider.id, action="restore", version=1, secret_id_hint=f"was {VALUE}")

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "secret_id_hint" in response.json()
    assert VALUE not in response.content.decode()
    assert get_credential(provider) == OTHER


def test_the_value_is_marked_sensitive_for_error_reports(admin_client, provider):
    response = secret_action(admin_client, provider.id, action="set", value=VALUE)

    assert response.wsgi_request.sensitive_post_parameters == ("value",)
