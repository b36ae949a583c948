"""Every page, not only the API, answers `Cache-Control: no-store`; a new API token is shown in
the answer to the POST that made it and is never written to the session."""

from __future__ import annotations

import base64
from http import HTTPStatus

import pytest
from django.contrib.sessions.models import Session

from accounts.models import ApiToken

pytestmark = pytest.mark.django_db

PAGES = [
    "/",
    "/providers/p1/",
    "/providers/p1/secret/",
    "/providers/ghost/",
    "/account/",
    "/login/",
    "/api/",
    "/api/providers",
    "/api/schema/",
    "/api/docs/",
    "/admin/",
    "/admin/providers/provider/",
    "/admin/providers/provider/p1/change/",
    "/admin/accounts/apitoken/",
    "/configuration/",
    "/configuration/providers.yaml",
    "/no-such-page/",
]


@pytest.mark.parametrize("role", ["admin", "viewer", "anonymous"])
def test_every_page_answers_no_store(client, admin_user, viewer_user, provider_factory, role):
    provider_factory(id="p1")
    if role != "anonymous":
        client.force_login({"admin": admin_user, "viewer": viewer_user}[role])
    for path in PAGES:
        response = client.get(path)
        assert "no-store" in response.get("Cache-Control", ""), (path, response.status_code)
    for response in (
        client.post("/login/", {"username": "x", "password": "y"}),
        client.post("/account/", {"name": "n"}),
        client.post("/providers/p1/test/"),
        client.post("/logout/"),
    ):
        assert "no-store" in response.get("Cache-Control", ""), response.status_code


def test_a_new_token_is_in_the_answer_and_never_in_the_session(client, viewer_user):
    client.force_login(viewer_user)
    response = client.post("/account/", {"name": "ci"})
    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == "no-store"
    raw = response.content.decode().split('data-testid="new-token">')[1].split("<")[0]
    token = ApiToken.objects.get(user=viewer_user)
    assert raw.startswith("pc_") and raw.startswith(token.prefix)

    forms = [raw, base64.b64encode(raw.encode()).decode(), raw.encode().hex(), raw[len(token.prefix):]]
    for session in Session.objects.all():
        stored = session.session_data + repr(session.get_decoded())
        for form in forms:
            assert form not in stored
    for cookie in client.cookies.values():  # messages' cookie storage included
        for form in forms:
            assert form not in cookie.value
    assert raw not in client.get("/account/").content.decode()  # shown once
