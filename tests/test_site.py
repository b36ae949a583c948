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


def test_admin_edits_go_through_the_audited_service(client, admin_user, provider_factory):
    from audit.models import AuditEvent
    from providers.models import Provider

    provider_factory(id="p1", priority=10)
    client.force_login(admin_user)
    form = client.get("/admin/providers/provider/p1/change/").context["adminform"].form
    data = {name: form.initial.get(name) for name in form.fields}
    data.update(priority=33, fallback_models='["gpt-4o"]', capabilities="{}", metadata="{}", enabled="on")
    response = client.post("/admin/providers/provider/p1/change/", data)
    assert response.status_code == HTTPStatus.FOUND, response.context["adminform"].form.errors
    provider = Provider.objects.get(pk="p1")
    assert (provider.priority, provider.version) == (33, 2)
    event = AuditEvent.objects.get()
    assert event.event == "provider.updated" and event.payload["changes"]["priority"] == {"before": 10, "after": 33}


def test_admin_creates_a_provider_with_its_audit_row(client, admin_user):
    from audit.models import AuditEvent
    from providers.models import Provider

    client.force_login(admin_user)
    data = {
        "id": "from-admin", "name": "from-admin", "display_name": "", "kind": "ollama",
        "endpoint": "http://127.0.0.1:11434", "default_model": "llama3", "fallback_models": "[]",
        "enabled": "on", "priority": 5, "capabilities": "{}", "secret_policy": "none", "retries": 1,
        "timeout_ms": 5000, "tool_timeout_ms": 60000, "metadata": "{}",
    }
    response = client.post("/admin/providers/provider/add/", data)
    assert response.status_code == HTTPStatus.FOUND, response.context["adminform"].form.errors
    assert Provider.objects.get(pk="from-admin").status == "active"
    assert list(AuditEvent.objects.values_list("event", flat=True)) == ["provider.created"]


def test_admin_shows_cross_field_errors_inline(client, admin_user, provider_factory):
    from providers.models import Provider

    provider_factory(id="p1", default_model="a", fallback_models=["b"])
    client.force_login(admin_user)
    form = client.get("/admin/providers/provider/p1/change/").context["adminform"].form
    data = {name: form.initial.get(name) for name in form.fields}
    data.update(fallback_models='["a"]', capabilities="{}", metadata="{}", enabled="on")
    response = client.post("/admin/providers/provider/p1/change/", data)
    assert response.status_code == HTTPStatus.OK
    assert "already the default model" in str(response.context["adminform"].form.errors)
    assert Provider.objects.get(pk="p1").fallback_models == ["b"]


def test_a_delegated_provider_page_is_readable_and_others_are_404(client, outsider_user, provider_factory):
    from guardian.shortcuts import assign_perm

    mine = provider_factory(id="mine", metadata={"team": "ml"})
    provider_factory(id="theirs")
    assign_perm("providers.view_provider", outsider_user, mine)
    client.force_login(outsider_user)
    page = client.get("/providers/mine/")
    assert page.status_code == HTTPStatus.OK and "***" in page.content.decode()
    assert client.get("/providers/theirs/").status_code == HTTPStatus.NOT_FOUND
    assert client.post("/providers/mine/test/").status_code == HTTPStatus.FORBIDDEN
    assert client.get("/providers/mine/secret/").status_code == HTTPStatus.FORBIDDEN
    assert client.get("/providers/theirs/secret/").status_code == HTTPStatus.NOT_FOUND
