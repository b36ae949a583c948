"""Pages, docs and the admin through the real client."""

from __future__ import annotations

from http import HTTPStatus

import pytest

pytestmark = pytest.mark.django_db


def test_pages_redirect_anonymous_users_to_login(client):
    response = client.get("/")
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith("/login/?next=/")
    assert client.get("/login/").status_code == HTTPStatus.OK


def test_login_with_the_form_then_see_the_provider_list(client, viewer_user, provider_factory):
    provider_factory(id="p1", display_name="First provider")
    response = client.post("/login/", {"username": "victor", "password": "pw-victor"}, follow=True)
    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    assert "First provider" in page
    assert "Routing chain" in page
    assert 'data-testid="role-badge">viewer<' in page


def test_wrong_password_shows_an_inline_error(client, viewer_user):
    response = client.post("/login/", {"username": "victor", "password": "nope"})
    assert response.status_code == HTTPStatus.OK
    assert "didn't match" in response.content.decode()


def test_signed_in_user_without_a_role_gets_403_on_pages(client, outsider_user):
    client.force_login(outsider_user)
    assert client.get("/").status_code == HTTPStatus.FORBIDDEN


def test_provider_page_masks_metadata_for_viewers(client, admin_user, viewer_user, provider_factory):
    provider_factory(id="p1", metadata={"region": "us-east-1"})
    client.force_login(viewer_user)
    page = client.get("/providers/p1/").content.decode()
    assert "us-east-1" not in page and "***" in page
    client.force_login(admin_user)
    assert "us-east-1" in client.get("/providers/p1/").content.decode()


def test_schema_and_swagger_ui_are_served_with_local_assets(client, viewer_user):
    client.force_login(viewer_user)
    schema = client.get("/api/schema/")
    assert schema.status_code == HTTPStatus.OK
    assert b"/api/providers" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == HTTPStatus.OK
    assert b"/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs.content


def test_browsable_api_root_needs_login(client, viewer_user):
    assert client.get("/api/providers", HTTP_ACCEPT="text/html").status_code in (401, 403)
    client.force_login(viewer_user)
    assert client.get("/api/providers", HTTP_ACCEPT="text/html").status_code == HTTPStatus.OK


def test_admin_shows_providers_and_read_only_audit(client, admin_user, provider_factory):
    from audit.events import record_event

    provider_factory(id="p1")
    row = record_event("provider.created", provider_id="p1", summary="created")
    client.force_login(admin_user)
    assert client.get("/admin/providers/provider/").status_code == HTTPStatus.OK
    assert client.get("/admin/providers/provider/p1/change/").status_code == HTTPStatus.OK
    assert client.get("/admin/audit/auditevent/").status_code == HTTPStatus.OK
    detail = client.get(f"/admin/audit/auditevent/{row.pk}/change/")
    assert detail.status_code == HTTPStatus.OK
    assert b'name="_save"' not in detail.content
    assert client.get("/admin/audit/auditevent/add/").status_code == HTTPStatus.FORBIDDEN


def test_openapi_schema_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    out = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(out))
    schema = out.read_text()
    assert "bearerAuth" in schema and "/api/routing-chain/preview" in schema


def test_models_and_migrations_agree():
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_api_root_links_the_endpoints(client, viewer_user):
    assert client.get("/api/").status_code in (401, 403)
    client.force_login(viewer_user)
    links = client.get("/api/", HTTP_ACCEPT="application/json").json()
    assert links["providers"] == "http://testserver/api/providers"
    assert links["routing-chain"] == "http://testserver/api/routing-chain"
    assert links["events"] == "http://testserver/api/events"
    assert client.get("/api/", HTTP_ACCEPT="text/html").status_code == HTTPStatus.OK
