from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from audit.models import AuditEvent
from providers.models import Provider
from secrets_vault import api as vault

pytestmark = pytest.mark.django_db


def test_seed_creates_users_and_providers_once():
    out = io.StringIO()
    call_command("seed_demo", "--simulator-url", "http://127.0.0.1:8999/", stdout=out)
    users = get_user_model().objects.all()
    assert {u.username for u in users} == {"admin", "viewer"}
    admin = users.get(username="admin")
    assert admin.is_staff and admin.groups.filter(name="admin").exists()
    printed = out.getvalue()
    assert "admin" in printed and "viewer" in printed
    providers = Provider.objects.all()
    assert providers.count() == 5
    assert all(p.endpoint.startswith("http://127.0.0.1:8999/") for p in providers)
    assert {p.secret_policy for p in providers if p.kind == "ollama"} == {"none"}
    assert vault.projection(providers.get(pk="openai-demo"))["secret_present"] is True
    assert vault.get_credential(providers.get(pk="openai-demo")) == "sk-demo-openai"
    assert AuditEvent.objects.filter(event="provider.created").count() == 5

    again = io.StringIO()
    call_command("seed_demo", stdout=again)
    assert again.getvalue() == ""
    assert get_user_model().objects.count() == 2 and Provider.objects.count() == 5


def test_seed_leaves_an_existing_installation_alone(admin_user, provider_factory):
    provider_factory(id="real")
    call_command("seed_demo", stdout=io.StringIO())
    assert list(Provider.objects.values_list("id", flat=True)) == ["real"]
    assert not get_user_model().objects.filter(username="viewer").exists()
