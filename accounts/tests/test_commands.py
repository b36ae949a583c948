from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import ApiToken, digest_token

pytestmark = pytest.mark.django_db


def test_groups_exist_with_their_permissions():
    viewer = set(Group.objects.get(name="viewer").permissions.values_list("codename", flat=True))
    admin = set(Group.objects.get(name="admin").permissions.values_list("codename", flat=True))
    assert {"view_provider", "view_auditevent"} <= viewer
    assert not any(code.startswith(("add_", "change_", "delete_")) for code in viewer)
    assert {"add_provider", "change_provider", "delete_provider", "test_provider", "manage_secrets"} <= admin
    assert "manage_secrets" not in viewer


def test_create_operator_with_password_from_stdin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a-Long-enough-passphrase-42\n"))
    out = io.StringIO()
    call_command("create_operator", "carol", "--role", "admin", "--password-stdin", stdout=out)
    user = get_user_model().objects.get(username="carol")
    assert user.check_password("a-Long-enough-passphrase-42")
    assert user.groups.filter(name="admin").exists() and user.is_staff
    assert "a-Long-enough" not in out.getvalue()


def test_create_operator_without_password_is_token_only():
    call_command("create_operator", "bot", "--role", "viewer", stdout=io.StringIO())
    user = get_user_model().objects.get(username="bot")
    assert not user.has_usable_password()
    assert user.groups.filter(name="viewer").exists() and not user.is_staff


def test_create_operator_rejects_weak_password_duplicates_and_bad_roles(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("123\n"))
    with pytest.raises(CommandError, match="Password rejected"):
        call_command("create_operator", "weak", "--role", "viewer", "--password-stdin")
    assert not get_user_model().objects.filter(username="weak").exists()
    call_command("create_operator", "dup", "--role", "viewer", stdout=io.StringIO())
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_operator", "dup", "--role", "viewer")
    with pytest.raises(CommandError):
        call_command("create_operator", "x", "--role", "root")


def test_issue_token_prints_it_once_and_stores_only_a_digest(viewer_user):
    out, err = io.StringIO(), io.StringIO()
    call_command("issue_token", "victor", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    assert raw.startswith("pc_") and len(raw.splitlines()) == 1
    token = ApiToken.objects.get(user=viewer_user)
    assert token.digest == digest_token(raw) and raw not in token.digest
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/providers").status_code == 200
    token.revoke()
    assert client.get("/api/providers").status_code == 401


def test_issue_token_for_unknown_user_fails():
    with pytest.raises(CommandError):
        call_command("issue_token", "ghost")
