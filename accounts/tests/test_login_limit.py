"""Sign-in is rate-limited per user name and address (django-axes), an admin can unlock, and
every refusal is audited without the password."""

from __future__ import annotations

import base64
import json
from http import HTTPStatus

import pytest
from axes.models import AccessAttempt, AccessLog
from rest_framework.test import APIClient

from accounts.models import ApiToken
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db

WRONG = "canary-Wrong-pw-7Hq2"  # a password that must never be stored or shown anywhere


def sign_in(client, username: str, password: str, address: str = "203.0.113.7"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def fail_five_times(client, username: str = "victor") -> None:
    for attempt in range(1, 6):
        response = sign_in(client, username, WRONG)
        if attempt < 5:
            assert response.status_code == HTTPStatus.OK
            assert "didn't match" in response.content.decode()
        else:  # the fifth failure reaches the limit
            assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_five_failures_lock_the_name_from_that_address_even_with_the_right_password(client, viewer_user):
    fail_five_times(client)
    response = sign_in(client, "victor", "pw-victor")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    page = response.content.decode()
    assert 'data-testid="locked-out"' in page
    assert "blocked for 15 minutes" in page and "ask an admin to unlock" in page
    assert response["Cache-Control"] == "no-store"
    assert not signed_in(client)


def test_the_lock_is_per_user_name_and_address(client, viewer_user, admin_user):
    fail_five_times(client)
    # The same user name from another address, and another user from the same address, still sign in.
    assert sign_in(client, "victor", "pw-victor", address="198.51.100.9").status_code == HTTPStatus.FOUND
    client.logout()
    assert sign_in(client, "alice", "pw-alice").status_code == HTTPStatus.FOUND


def test_tokens_and_existing_sessions_are_not_locked(client, viewer_user):
    _, raw = ApiToken.issue(viewer_user)
    fail_five_times(client)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/providers").status_code == HTTPStatus.OK
    client.force_login(viewer_user)
    assert client.get("/").status_code == HTTPStatus.OK


def test_an_admin_unlocks_in_the_django_admin(client, viewer_user, admin_user):
    fail_five_times(client)
    attempt = AccessAttempt.objects.get(username="victor")
    admin = type(client)()
    admin.force_login(admin_user)
    assert admin.get("/admin/axes/accessattempt/").status_code == HTTPStatus.OK
    response = admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
        follow=True,
    )
    assert response.status_code == HTTPStatus.OK
    assert not AccessAttempt.objects.exists()
    assert sign_in(client, "victor", "pw-victor").status_code == HTTPStatus.FOUND
    assert signed_in(client)


def test_failures_are_audited_without_the_password(client, viewer_user, admin_user):
    fail_five_times(client)
    sign_in(client, "victor", "pw-victor")  # refused: locked out
    sign_in(client, "nobody", WRONG, address="198.51.100.9")  # unknown user name
    rows = list(AuditEvent.objects.filter(event="auth.login_failed").order_by("id"))
    assert len(rows) == 7
    assert rows[0].payload == {"username": "victor", "address": "203.0.113.7", "locked_out": False}
    assert rows[5].payload["locked_out"] is True and "locked out" in rows[5].summary
    assert rows[6].payload["username"] == "nobody" and rows[0].actor_name == "anonymous"

    forms = [WRONG, "pw-victor"]
    forms += [base64.b64encode(f.encode()).decode() for f in forms] + [f.encode().hex() for f in forms]
    stored = json.dumps([[r.summary, r.payload, r.actor_name] for r in rows])
    stored += json.dumps(list(AccessAttempt.objects.values_list("get_data", "post_data")))
    stored += json.dumps([str(v) for v in AccessLog.objects.values_list()])
    for form in forms:
        assert form not in stored

    api = APIClient()
    api.force_authenticate(admin_user)
    events = api.get("/api/events?event=auth.login_failed").json()["results"]
    assert len(events) == 7 and events[-1]["payload"]["username"] == "victor"
    for form in forms:
        assert form not in json.dumps(events)
    api.force_authenticate(viewer_user)
    masked = api.get("/api/events?event=auth.login_failed").json()["results"]
    assert masked[0]["masked"] is True and masked[0]["payload"]["username"] == "***"
