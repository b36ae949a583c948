"""Create, edit, archive and restore providers in the console, through the real pages."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.test import Client

from audit.models import AuditEvent
from health.simulator import Route, SimulatorServer
from providers.models import Provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_page(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def viewer_page(viewer_user) -> Client:
    client = Client()
    client.force_login(viewer_user)
    return client


def form(**overrides) -> dict[str, str]:
    data = {
        "id": "ollama-local", "name": "ollama-local", "display_name": "Ollama local", "kind": "ollama",
        "endpoint": "http://127.0.0.1:11434", "default_model": "llama3.2", "fallback_models": "qwen2.5\nphi3",
        "status": "active", "priority": "50", "secret_policy": "", "retries": "2", "timeout_ms": "30000",
        "tool_timeout_ms": "60000", "capabilities": '{"tools": true}', "metadata": '{"region": "lab"}',
    }
    data.update(overrides)
    return data


def edit_form(provider: Provider, **overrides) -> dict[str, str]:
    data = form(
        name=provider.name, display_name=provider.display_name, kind=provider.kind, endpoint=provider.endpoint,
        default_model=provider.default_model, fallback_models="\n".join(provider.fallback_models),
        status=provider.operator_status(), priority=str(provider.priority), secret_policy=provider.secret_policy,
        capabilities="", metadata="",
    )
    data.pop("id")
    data.update(provider_id=provider.id, version=str(provider.version))
    data.update(overrides)
    return data


def test_create_saves_through_the_api_rules_and_audits(admin_page):
    response = admin_page.post("/new-provider/", form())
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith("/#provider-ollama-local")
    provider = Provider.objects.get(pk="ollama-local")
    assert provider.fallback_models == ["qwen2.5", "phi3"]
    assert provider.capabilities == {"tools": True} and provider.metadata == {"region": "lab"}
    assert provider.priority == 50
    assert AuditEvent.objects.filter(event="provider.created", provider_id="ollama-local").exists()
    page = admin_page.get(response["Location"]).content.decode()
    assert "Created Ollama local." in page


def test_create_shows_the_api_errors_inline_and_saves_nothing(admin_page):
    response = admin_page.post(
        "/new-provider/",
        form(id="Bad Id", endpoint="ftp://x", capabilities="{not json", metadata='{"api_key": "x"}'),
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    page = response.content.decode()
    for field in ("id", "endpoint", "capabilities", "metadata"):
        assert f'data-testid="error-{field}"' in page, field
    assert "Not valid JSON" in page
    assert 'value="Bad Id"' in page  # what the operator typed comes back
    # Rules across fields run once each field is valid, as on the API.
    across = admin_page.post("/new-provider/", form(fallback_models="llama3.2"))
    assert across.status_code == HTTPStatus.BAD_REQUEST
    assert 'data-testid="error-fallback_models"' in across.content.decode()
    assert not Provider.objects.exists()


def test_create_refuses_a_taken_id_inline(admin_page, provider_factory):
    provider_factory(id="ollama-local", name="other")
    response = admin_page.post("/new-provider/", form())
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert 'data-testid="error-id"' in response.content.decode()


@pytest.mark.parametrize(("kind", "policy"), [("ollama", "none"), ("llama_cpp", "none"), ("openai_compatible", "required")])
def test_per_kind_defaults(admin_page, kind, policy):
    page = admin_page.get(f"/new-provider/?kind={kind}").content.decode()
    assert f'<option value="{policy}" selected>' in page
    assert "data-kind-defaults=" in page and "&quot;llama_cpp&quot;: &quot;none&quot;" in page
    # Left to the kind (no policy sent): the API's default for the kind.
    admin_page.post("/new-provider/", form(id=f"p-{kind}", name=f"p-{kind}", kind=kind, secret_policy=""))
    assert Provider.objects.get(pk=f"p-{kind}").secret_policy == policy


def test_edit_saves_with_the_version_and_audits(admin_page, provider_factory):
    provider = provider_factory(id="openai-prod", priority=10, secret_policy="none")
    page = admin_page.get("/providers/openai-prod/edit/").content.decode()
    assert f'name="version" value="{provider.version}"' in page
    response = admin_page.post("/providers/openai-prod/edit/", edit_form(provider, priority="5"))
    assert response.status_code == HTTPStatus.FOUND
    provider.refresh_from_db()
    assert provider.priority == 5
    event = AuditEvent.objects.get(event="provider.updated", provider_id="openai-prod")
    assert event.payload["changes"]["priority"] == {"before": 10, "after": 5}


def test_edit_with_htmx_redirects_the_page(admin_page, provider_factory):
    provider = provider_factory(id="openai-prod", priority=10, secret_policy="none")
    response = admin_page.post("/providers/openai-prod/edit/", edit_form(provider, priority="7"), HTTP_HX_REQUEST="true")
    assert response.status_code == HTTPStatus.NO_CONTENT
    assert response["HX-Redirect"] == "/#provider-openai-prod"
    bad = admin_page.post("/providers/openai-prod/edit/", edit_form(provider, priority="x"), HTTP_HX_REQUEST="true")
    assert bad.status_code == HTTPStatus.OK and 'data-testid="error-priority"' in bad.content.decode()


def test_edit_conflict_is_412_showing_theirs_and_yours(admin_page, provider_factory):
    provider = provider_factory(id="openai-prod", priority=10, secret_policy="none")
    stale = edit_form(provider, priority="30")
    # Someone else saves first.
    other = Client()
    other.force_login(provider_factory_user("bob"))
    assert other.post("/providers/openai-prod/edit/", edit_form(provider, priority="20")).status_code == HTTPStatus.FOUND
    response = admin_page.post("/providers/openai-prod/edit/", stale)
    assert response.status_code == HTTPStatus.PRECONDITION_FAILED
    page = response.content.decode()
    assert 'data-testid="conflict"' in page and 'data-testid="reload"' in page
    row = page.split('<tr data-field="priority">', 1)[1].split("</tr>", 1)[0]
    assert '<td class="theirs"><pre>20</pre></td>' in row and '<td class="yours"><pre>30</pre></td>' in row
    provider.refresh_from_db()
    assert provider.priority == 20
    # The form now carries the current version: saving again over theirs works.
    assert f'name="version" value="{provider.version}"' in page
    again = admin_page.post("/providers/openai-prod/edit/", {**stale, "version": str(provider.version)})
    assert again.status_code == HTTPStatus.FOUND
    provider.refresh_from_db()
    assert provider.priority == 30


def provider_factory_user(name: str):
    from conftest import make_user

    return make_user(name, "admin")


def test_archive_asks_then_undo_restores(admin_page, provider_factory):
    provider_factory(id="openai-prod", display_name="OpenAI prod", secret_policy="none")
    confirm = admin_page.get("/providers/openai-prod/archive/")
    assert confirm.status_code == HTTPStatus.OK and 'data-testid="confirm-archive"' in confirm.content.decode()
    assert Provider.objects.get(pk="openai-prod").archived_at is None  # asking archives nothing
    response = admin_page.post("/providers/openai-prod/archive/", follow=True)
    page = response.content.decode()
    assert "Archived OpenAI prod." in page and 'data-testid="undo-archive"' in page
    assert 'action="/providers/openai-prod/restore/"' in page
    assert Provider.objects.get(pk="openai-prod").archived_at is not None
    listed = admin_page.get("/archived/").content.decode()
    assert 'data-testid="restore-openai-prod"' in listed
    admin_page.post("/providers/openai-prod/restore/")
    assert Provider.objects.get(pk="openai-prod").archived_at is None
    assert list(AuditEvent.objects.filter(provider_id="openai-prod").values_list("event", flat=True).order_by("id")) == [
        "provider.archived", "provider.restored",
    ]


def test_viewer_sees_disabled_controls_and_is_refused_on_post(viewer_page, provider_factory):
    provider = provider_factory(id="openai-prod", priority=10, secret_policy="none")
    for url in ("/new-provider/", "/providers/openai-prod/edit/", "/providers/openai-prod/archive/", "/archived/"):
        response = viewer_page.get(url)
        assert response.status_code == HTTPStatus.OK, url
        if url != "/archived/":
            assert 'disabled title="Viewers cannot change providers"' in response.content.decode(), url
    for url, data in (
        ("/new-provider/", form()),
        ("/providers/openai-prod/edit/", edit_form(provider, priority="1")),
        ("/providers/openai-prod/archive/", {}),
        ("/providers/openai-prod/restore/", {}),
        ("/provider-form/discover/", {"kind": "ollama", "endpoint": "http://127.0.0.1:9"}),
        ("/provider-form/test/", {"kind": "ollama", "endpoint": "http://127.0.0.1:9", "default_model": "m"}),
    ):
        response = viewer_page.post(url, data)
        assert response.status_code == HTTPStatus.FORBIDDEN, url
        assert 'data-testid="role-badge"' in response.content.decode()  # the 403 page keeps the navigation
    provider.refresh_from_db()
    assert provider.priority == 10 and provider.archived_at is None and Provider.objects.count() == 1


def test_preview_beside_the_form_marks_moves_and_the_new_serving_provider(admin_page, provider_factory):
    first = provider_factory(id="first", priority=10, secret_policy="none")
    provider_factory(id="second", priority=20, secret_policy="none")
    response = admin_page.post("/provider-form/preview/", edit_form(first, priority="30"))
    page = response.content.decode()
    assert response.status_code == HTTPStatus.OK
    assert 'data-testid="new-serving"' in page and "New serving provider: second" in page
    assert 'data-testid="moved-first"' in page and 'data-testid="moved-second"' in page
    assert Provider.objects.get(pk="first").priority == 10  # nothing saved
    unchanged = admin_page.post("/provider-form/preview/", edit_form(first)).content.decode()
    assert "The chain stays as it is." in unchanged and "moved-" not in unchanged
    bad = admin_page.post("/provider-form/preview/", edit_form(first, priority="x")).content.decode()
    assert 'data-testid="preview-errors"' in bad and "priority" in bad


@pytest.fixture
def ollama_server():
    with SimulatorServer([Route("/ollama", "ollama", ["llama3.2:latest", "qwen2.5:7b"])]) as server:
        yield server.url("/ollama")


def test_discover_lists_the_models_of_an_unsaved_endpoint(admin_page, ollama_server):
    response = admin_page.post("/provider-form/discover/", {"kind": "ollama", "endpoint": ollama_server, "timeout_ms": "5000"})
    page = response.content.decode()
    assert 'data-model="llama3.2:latest"' in page and 'data-model="qwen2.5:7b"' in page
    assert not Provider.objects.exists()


def test_test_before_save_reports_pass_and_fail_without_saving(admin_page, ollama_server):
    ok = admin_page.post(
        "/provider-form/test/", {"kind": "ollama", "endpoint": ollama_server, "default_model": "llama3.2", "timeout_ms": "5000"}
    ).content.decode()
    assert "pass" in ok and " ms" in ok
    missing = admin_page.post(
        "/provider-form/test/", {"kind": "ollama", "endpoint": ollama_server, "default_model": "nope", "timeout_ms": "5000"}
    ).content.decode()
    assert "fail" in missing and "model_not_found" in missing
    assert not Provider.objects.exists()


def test_probes_of_unsaved_settings_hold_the_denied_networks(admin_page, settings):
    settings.PROBE_DENIED_NETWORKS = ["127.0.0.0/8"]
    page = admin_page.post(
        "/provider-form/test/", {"kind": "ollama", "endpoint": "http://127.0.0.1:9", "default_model": "m", "timeout_ms": "2000"}
    ).content.decode()
    assert "blocked_endpoint" in page


CANARY = "sk-forms-canary-7f3a9c1e"


def test_unsaved_probes_send_the_stored_secret_only_to_its_own_origin(admin_page, provider_factory, admin_user):
    from secrets_vault.services import set_secret

    routes = [Route("/v1", "openai_compatible", ["gpt-4o-mini"], api_key=CANARY)]
    with SimulatorServer(routes) as home, SimulatorServer(routes) as elsewhere:
        provider = provider_factory(
            id="cloud", kind="openai_compatible", endpoint=home.url("/v1"), default_model="gpt-4o-mini",
            fallback_models=[], secret_policy="required", retries=0, timeout_ms=5000,
        )
        set_secret(provider, CANARY, actor=admin_user)
        same = admin_page.post("/provider-form/test/", edit_form(provider, timeout_ms="5000")).content.decode()
        moved = admin_page.post(
            "/provider-form/test/", edit_form(provider, endpoint=elsewhere.url("/v1"), timeout_ms="5000")
        ).content.decode()
        found = admin_page.post(
            "/provider-form/discover/", edit_form(provider, endpoint=elsewhere.url("/v1"), timeout_ms="5000")
        ).content.decode()
        new = admin_page.post("/provider-form/test/", {**form(), "kind": "openai_compatible", "endpoint": home.url("/v1"),
                                                       "default_model": "gpt-4o-mini", "timeout_ms": "5000"}).content.decode()
    assert "pass" in same
    assert "fail" in moved and "auth_failure" in moved
    assert "auth_failure" in found
    assert "auth_failure" in new  # a new provider never sends a stored secret
    assert {r.authorization for r in home.recorded if r.path.endswith("/models")} == {f"Bearer {CANARY}", None}
    assert all(r.authorization is None for r in elsewhere.recorded)
    for page in (same, moved, found, new):
        assert CANARY not in page


def test_saving_other_fields_keeps_a_health_overlay(admin_page, provider_factory):
    provider = provider_factory(id="cloud", priority=10, secret_policy="none")
    Provider.objects.filter(pk="cloud").update(status="degraded")
    provider.refresh_from_db()
    assert admin_page.post("/providers/cloud/edit/", edit_form(provider, priority="15")).status_code == HTTPStatus.FOUND
    provider.refresh_from_db()
    assert (provider.status, provider.priority) == ("degraded", 15)
    # Choosing a status is still a change: standby lifts it to the operator's tier.
    assert admin_page.post("/providers/cloud/edit/", edit_form(provider, status="standby")).status_code == HTTPStatus.FOUND
    provider.refresh_from_db()
    assert provider.status == "standby"


def test_viewer_reads_metadata_keys_only_on_the_edit_page(viewer_page, admin_page, provider_factory):
    provider_factory(id="cloud", secret_policy="none", metadata={"region": "us-east-canary"})
    assert "us-east-canary" not in viewer_page.get("/providers/cloud/edit/").content.decode()
    assert "us-east-canary" in admin_page.get("/providers/cloud/edit/").content.decode()


@pytest.mark.parametrize("mode", ["wrong_shape", "non_json", "500"])
def test_discovery_of_a_broken_endpoint_says_why(admin_page, mode):
    with SimulatorServer([Route("/v1", "openai_compatible", ["m"], failures=(mode,))]) as server:
        response = admin_page.post(
            "/provider-form/discover/", {"kind": "openai_compatible", "endpoint": server.url("/v1"), "timeout_ms": "5000"}
        )
    assert response.status_code == HTTPStatus.OK
    assert 'data-testid="discovery-failed"' in response.content.decode()
