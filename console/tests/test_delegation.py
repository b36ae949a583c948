"""Delegating one provider: `manage.py delegate`, the Django admin's object-permission screen,
`create_operator` without a role, and what a delegated user then reaches (API and pages)."""

from __future__ import annotations

import io
from http import HTTPStatus

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from guardian.shortcuts import get_user_perms
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory, force_authenticate

from providers.models import Provider

pytestmark = pytest.mark.django_db

ENDPOINT = "http://127.0.0.1:9/v1"  # a closed local port: a probe fails fast


def delegate(*args: str) -> str:
    out = io.StringIO()
    call_command("delegate", *args, stdout=out)
    return out.getvalue()


def held(user, provider_id: str) -> set[str]:
    return set(get_user_perms(user, Provider.objects.get(pk=provider_id)))


@pytest.fixture
def two_providers(provider_factory):
    provider_factory(id="mine", endpoint=ENDPOINT, timeout_ms=300, retries=0, metadata={"region": "eu"})
    provider_factory(id="theirs", endpoint=ENDPOINT, timeout_ms=300, retries=0)


@pytest.fixture
def dana(db):
    call_command("create_operator", "dana", stdout=io.StringIO())
    return get_user_model().objects.get(username="dana")


@pytest.fixture
def dana_api(dana) -> APIClient:
    client = APIClient()
    client.force_authenticate(dana)
    return client


def test_create_operator_without_a_role_makes_a_user_with_none(dana, dana_api, two_providers):
    assert not dana.groups.exists() and not dana.is_staff and not dana.has_usable_password()
    assert dana_api.get("/api/providers").status_code == HTTPStatus.FORBIDDEN
    assert dana_api.get("/api/providers/mine").status_code == HTTPStatus.NOT_FOUND


def test_a_delegated_user_lists_and_reads_only_their_provider(dana, dana_api, two_providers):
    assert "now holds: view" in delegate("dana", "mine", "--perm", "view")
    listing = dana_api.get("/api/providers")
    assert listing.status_code == HTTPStatus.OK
    assert [p["id"] for p in listing.json()["results"]] == ["mine"] and listing.json()["count"] == 1
    assert listing.json()["results"][0]["metadata"] == {"region": "***"}  # view only: values masked
    assert dana_api.get("/api/providers?include_archived=true").json()["count"] == 1
    assert dana_api.get("/api/providers/mine").status_code == HTTPStatus.OK
    assert dana_api.get("/api/providers/mine/history").status_code == HTTPStatus.OK
    assert dana_api.get("/api/providers/mine/metrics").status_code == HTTPStatus.OK
    # Seen but not allowed: 403. Not seen: 404.
    assert dana_api.patch("/api/providers/mine", {"priority": 3}, format="json").status_code == HTTPStatus.FORBIDDEN
    assert dana_api.post("/api/providers/mine/test", {}, format="json").status_code == HTTPStatus.FORBIDDEN
    assert dana_api.post("/api/providers/mine/secret", {"action": "clear"}, format="json").status_code == HTTPStatus.FORBIDDEN
    for path in ("/api/providers/theirs", "/api/providers/theirs/history", "/api/providers/theirs/metrics",
                 "/api/providers/theirs/secret/versions"):
        assert dana_api.get(path).status_code == HTTPStatus.NOT_FOUND, path
    # Whatever spans every provider needs the viewer role.
    assert dana_api.get("/api/routing-chain").status_code == HTTPStatus.FORBIDDEN
    preview = {"provider_id": "mine", "changes": {"priority": 1}}
    assert dana_api.post("/api/routing-chain/preview", preview, format="json").status_code == HTTPStatus.FORBIDDEN
    assert dana_api.get("/api/events").status_code == HTTPStatus.FORBIDDEN
    assert dana_api.post("/api/providers/test-all", {}, format="json").status_code == HTTPStatus.FORBIDDEN


def test_change_and_test_include_view_and_revoke_takes_them_back(dana, dana_api, two_providers):
    out = delegate("dana", "mine", "--perm", "change", "--perm", "test")
    assert "now holds: change, test, view" in out
    assert held(dana, "mine") == {"view_provider", "change_provider", "test_provider"}
    response = dana_api.patch("/api/providers/mine", {"priority": 3}, format="json")
    assert response.status_code == HTTPStatus.OK and response.json()["metadata"] == {"region": "eu"}
    assert dana_api.post("/api/providers/mine/test", {}, format="json").status_code == HTTPStatus.OK
    assert dana_api.delete("/api/providers/mine").status_code == HTTPStatus.FORBIDDEN  # not delegated
    assert dana_api.patch("/api/providers/theirs", {"priority": 3}, format="json").status_code == HTTPStatus.NOT_FOUND

    delegate("dana", "mine", "--perm", "change", "--revoke")
    assert held(dana, "mine") == {"view_provider", "test_provider"}
    assert dana_api.patch("/api/providers/mine", {"priority": 4}, format="json").status_code == HTTPStatus.FORBIDDEN

    assert "now holds: nothing" in delegate("dana", "mine", "--perm", "view", "--revoke")
    assert held(dana, "mine") == set()
    assert dana_api.get("/api/providers/mine").status_code == HTTPStatus.NOT_FOUND
    assert dana_api.get("/api/providers").status_code == HTTPStatus.FORBIDDEN


def test_delegate_refuses_unknown_users_providers_and_permissions(dana, two_providers):
    with pytest.raises(CommandError, match="No user 'ghost'"):
        delegate("ghost", "mine", "--perm", "view")
    with pytest.raises(CommandError, match="No provider 'nowhere'"):
        delegate("dana", "nowhere", "--perm", "view")
    with pytest.raises(CommandError):
        delegate("dana", "mine", "--perm", "delete")
    with pytest.raises(CommandError):
        delegate("dana", "mine")  # --perm is required
    assert held(dana, "mine") == set()


def test_a_delegated_user_sees_their_cards_and_pages_only(client, dana, two_providers):
    delegate("dana", "mine", "--perm", "test")
    client.force_login(dana)
    page = client.get("/")
    assert page.status_code == HTTPStatus.OK
    html = page.content.decode()
    assert 'data-provider="mine"' in html and 'data-provider="theirs"' not in html
    assert 'data-testid="routing-chain"' not in html
    assert client.get("/providers/mine/").status_code == HTTPStatus.OK
    assert 'data-testid="test-provider"' in client.get("/providers/mine/").content.decode()
    assert client.get("/providers/theirs/").status_code == HTTPStatus.NOT_FOUND
    assert client.post("/providers/theirs/test/").status_code == HTTPStatus.NOT_FOUND
    assert client.post("/providers/mine/test/").status_code == HTTPStatus.FOUND
    assert client.get("/providers/mine/secret/").status_code == HTTPStatus.FORBIDDEN


def test_the_django_admin_delegates_on_the_providers_object_permission_screen(client, admin_user, dana, two_providers):
    client.force_login(admin_user)
    change_page = client.get("/admin/providers/provider/mine/change/").content.decode()
    assert "/admin/providers/provider/mine/permissions/" in change_page
    assert client.get("/admin/providers/provider/mine/permissions/").status_code == HTTPStatus.OK
    pick = client.post("/admin/providers/provider/mine/permissions/", {"user": "dana", "submit_manage_user": "1"})
    assert pick.status_code == HTTPStatus.FOUND
    assert pick["Location"] == f"/admin/providers/provider/mine/permissions/user-manage/{dana.pk}/"
    saved = client.post(pick["Location"], {"permissions": ["view_provider", "change_provider"]})
    assert saved.status_code == HTTPStatus.FOUND
    assert held(dana, "mine") == {"view_provider", "change_provider"}
    api = APIClient()
    api.force_authenticate(dana)
    assert api.patch("/api/providers/mine", {"priority": 9}, format="json").status_code == HTTPStatus.OK


class ForgetfulView(GenericAPIView):
    """A new object endpoint that never calls get_object() and does not restrict its queryset."""

    queryset = Provider.objects.all()
    lookup_url_kwarg = "provider_id"

    def get(self, request, provider_id):
        return Response({"leaked": Provider.objects.get(pk=provider_id).endpoint})

    def post(self, request, provider_id):
        return Response({"changed": provider_id})


def test_an_object_endpoint_that_forgets_get_object_is_still_guarded(dana, viewer_user, two_providers):
    delegate("dana", "mine", "--perm", "view")
    view = ForgetfulView.as_view()
    factory = APIRequestFactory()

    def call(user, method: str, provider_id: str) -> int:
        request = getattr(factory, method)(f"/x/{provider_id}")
        force_authenticate(request, user=user)
        return view(request, provider_id=provider_id).status_code

    assert call(dana, "get", "theirs") == HTTPStatus.NOT_FOUND
    assert call(dana, "get", "mine") == HTTPStatus.OK
    assert call(dana, "post", "mine") == HTTPStatus.FORBIDDEN
    assert call(viewer_user, "post", "mine") == HTTPStatus.FORBIDDEN
