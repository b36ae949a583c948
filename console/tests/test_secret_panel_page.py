"""The Secret panel page: admin-only, write-only value, inline errors, nothing echoed."""

from __future__ import annotations

import hashlib
import secrets
from http import HTTPStatus

import pytest

from audit.models import AuditEvent
from secrets_vault import api as vault

pytestmark = pytest.mark.django_db


class Canary(str):
    """A secret value whose repr never shows it, so no failing assertion prints it."""

    def __repr__(self) -> str:
        return "<canary>"


@pytest.fixture
def canary() -> Canary:
    return Canary("canary-" + secrets.token_hex(12))


def leaked(canary: str, response) -> bool:
    """Whether the canary is in the response; pass the response (its repr is safe), not its text."""
    return canary in response.content.decode()


def digest(value: str | None) -> str | None:
    return None if value is None else hashlib.sha256(value.encode()).hexdigest()


def test_admin_sets_then_rotates_through_the_form_and_never_sees_the_value(client, admin_user, provider_factory, canary):
    provider = provider_factory(id="p1")
    client.force_login(admin_user)
    page = client.get("/providers/p1/secret/")
    assert page.status_code == HTTPStatus.OK
    response = client.post("/providers/p1/secret/", {"action": "set", "value": canary, "secret_id_hint": "prod-key"}, follow=True)
    assert "Secret set for p1 (version 1)" in response.content.decode()
    assert not leaked(canary, response)
    assert vault.projection(provider)["secret_present"] is True
    assert digest(vault.get_credential(provider)) == digest(canary)

    rotated = Canary("rotated-" + canary)
    response = client.post("/providers/p1/secret/", {"action": "rotate", "value": rotated}, follow=True)
    assert "Secret rotated for p1 (version 2)" in response.content.decode()
    assert digest(vault.get_credential(provider)) == digest(rotated)
    panel = client.get("/providers/p1/secret/")
    assert not leaked(canary, panel)
    assert 'data-testid="versions"' in panel.content.decode() and "prod-key" in panel.content.decode()
    assert list(AuditEvent.objects.values_list("event", flat=True).order_by("id")) == ["secret.updated", "secret.updated"]


def test_errors_are_inline_and_the_value_is_not_rendered_back(client, admin_user, provider_factory, canary):
    provider_factory(id="p1")
    client.force_login(admin_user)
    missing = client.post("/providers/p1/secret/", {"action": "rotate", "value": canary})
    assert missing.status_code == HTTPStatus.BAD_REQUEST
    assert "No secret is set" in missing.content.decode()
    assert not leaked(canary, missing)
    empty = client.post("/providers/p1/secret/", {"action": "set"})
    assert 'data-testid="error-value"' in empty.content.decode()
    spaced = client.post("/providers/p1/secret/", {"action": "set", "value": f" {canary} "})
    assert "whitespace" in spaced.content.decode()
    assert not leaked(canary, spaced)
    hint = client.post("/providers/p1/secret/", {"action": "set", "value": canary, "secret_id_hint": canary})
    assert 'data-testid="error-secret_id_hint"' in hint.content.decode()
    assert not leaked(canary, hint)
    assert not AuditEvent.objects.exists()


def test_policy_none_shows_disabled_actions_with_an_inline_message(client, admin_user, provider_factory):
    provider_factory(id="local", kind="ollama")
    client.force_login(admin_user)
    page = client.get("/providers/local/secret/").content.decode()
    assert 'data-testid="no-secret"' in page and "No secret required" in page
    response = client.post("/providers/local/secret/", {"action": "set", "value": "x-value-1"})
    assert response.status_code == HTTPStatus.CONFLICT
    assert "No secret required" in response.content.decode()
    # Whatever else is wrong with the form: the policy answers first.
    for body in ({"action": "bogus"}, {}, {"action": "set", "value": " spaced\r\n"}):
        response = client.post("/providers/local/secret/", body)
        assert response.status_code == HTTPStatus.CONFLICT
        assert "No secret required" in response.content.decode()
    detail = client.get("/providers/local/").content.decode()
    assert "No secret required" in detail and 'data-testid="manage-secret"' not in detail


def test_viewers_and_strangers_cannot_reach_the_panel(client, viewer_user, outsider_user, provider_factory):
    provider_factory(id="p1")
    assert client.get("/providers/p1/secret/")["Location"].startswith("/login/")
    client.force_login(viewer_user)
    assert client.get("/providers/p1/secret/").status_code == HTTPStatus.FORBIDDEN
    assert client.post("/providers/p1/secret/", {"action": "set", "value": "v-123"}).status_code == HTTPStatus.FORBIDDEN
    assert 'data-testid="manage-secret"' not in client.get("/providers/p1/").content.decode()
    client.force_login(outsider_user)
    assert client.get("/providers/p1/secret/").status_code == HTTPStatus.NOT_FOUND


def test_restore_an_earlier_version_from_the_panel(client, admin_user, provider_factory, canary):
    provider = provider_factory(id="p1")
    client.force_login(admin_user)
    client.post("/providers/p1/secret/", {"action": "set", "value": canary})
    client.post("/providers/p1/secret/", {"action": "clear"})
    assert vault.get_credential(provider) is None
    response = client.post("/providers/p1/secret/", {"action": "restore", "version": "1"}, follow=True)
    assert "Secret restored for p1 (version 3)" in response.content.decode()
    assert digest(vault.get_credential(provider)) == digest(canary)
