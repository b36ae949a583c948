"""The bearer token's lookup (accounts/authentication.py, `active_token`) gives what the ORM's
`ApiToken.objects.active().select_related("user")` gives: the same token and user, every field
with the same value and type, on SQLite and PostgreSQL alike; nothing for a revoked or unknown
token."""

from __future__ import annotations

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.authentication import active_token
from accounts.models import ApiToken, digest_token

pytestmark = pytest.mark.django_db


def fields(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_the_token_and_its_user_are_the_orms(admin_user):
    admin_user.last_login = timezone.now() - timedelta(days=2)
    admin_user.first_name = "Ada"
    admin_user.save()
    token, raw = ApiToken.issue(admin_user, name="ci")
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - timedelta(minutes=5))

    found = active_token(digest_token(raw))
    expected = ApiToken.objects.active().select_related("user").get(digest=digest_token(raw))

    assert fields(found) == fields(expected)
    assert fields(found.user) == fields(expected.user)
    for value in (found.created_at, found.last_used_at, found.user.last_login, found.user.date_joined):
        assert timezone.is_aware(value)
    assert found.user_id == admin_user.pk and found.user.has_usable_password()
    assert found._state.adding is False and found.user._state.db == "default"


def test_a_revoked_or_unknown_token_is_not_found(admin_user):
    token, raw = ApiToken.issue(admin_user)
    assert active_token(digest_token(raw)) is not None
    token.revoke()
    assert active_token(digest_token(raw)) is None
    assert active_token(digest_token("pc_never-issued")) is None


def test_a_request_with_a_revoked_token_is_refused_at_once(admin_user):
    token, raw = ApiToken.issue(admin_user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/providers").status_code == HTTPStatus.OK
    token.revoke()
    assert client.get("/api/providers").status_code == HTTPStatus.UNAUTHORIZED
    # Its last use was written once, by the first request.
    token.refresh_from_db()
    assert token.last_used_at is not None
