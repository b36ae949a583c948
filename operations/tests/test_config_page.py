"""`/configuration/`: the configuration as code page for admins, through the Django client."""

from __future__ import annotations

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from audit.models import AuditEvent
from providers.models import Provider
from providers.tests.factories import ProviderFactory
from secrets_vault.services import set_secret

pytestmark = pytest.mark.django_db

PAGE = "/configuration/"
CANARY = "sk-config-page-canary-93be"


@pytest.fixture
def fleet(db):
    a = ProviderFactory(id="a", priority=10)
    ProviderFactory(id="b", priority=20, kind="ollama", endpoint="http://127.0.0.1:11435", default_model="llama3",
                    fallback_models=[])
    set_secret(a, CANARY)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def snapshot():
    return [list(Provider.objects.order_by("id").values_list()), AuditEvent.objects.count()]


def test_only_admins(fleet, viewer_user, outsider_user, admin_user):
    assert Client().get(PAGE).status_code == 302
    for user in (viewer_user, outsider_user):
        client = client_for(user)
        assert client.get(PAGE).status_code == 403
        assert client.post(PAGE, {"text": "providers: []"}).status_code == 403
        assert client.get("/configuration/providers.yaml").status_code == 403
        assert b'href="/configuration/"' not in client.get("/").content
    assert b'href="/configuration/"' in client_for(admin_user).get("/").content


def test_download_is_the_export(fleet, admin_user):
    client = client_for(admin_user)
    response = client.get("/configuration/providers.yaml")
    assert response.status_code == 200 and response["Content-Disposition"] == 'attachment; filename="providers.yaml"'
    text = response.content.decode()
    assert [p["id"] for p in yaml.safe_load(text)["providers"]] == ["a", "b"] and CANARY not in text
    assert client.get("/configuration/providers.json").json()["providers"][0]["secret_present"] is True


def test_dry_run_shows_the_diff_and_chains_then_apply_at_that_version(fleet, admin_user):
    client = client_for(admin_user)
    document = yaml.safe_load(client.get("/configuration/providers.yaml").content)
    document["providers"][1]["priority"] = 5
    text = yaml.safe_dump(document, sort_keys=False)
    before = snapshot()
    preview = client.post(PAGE, {"text": text, "action": "preview"})
    assert preview.status_code == 200
    html = preview.content.decode()
    assert 'data-testid="change-b" data-action="update"' in html and "<code>priority</code>: 20 → 5" in html
    assert 'data-testid="change-a" data-action="unchanged"' in html
    chain_before = html.split('data-testid="chain-before"')[1].split("</ol>")[0]
    chain_after = html.split('data-testid="chain-after"')[1].split("</ol>")[0]
    assert chain_before.index('data-provider="a" class="serving"') < chain_before.index('data-provider="b"')
    assert chain_after.index('data-provider="b" class="serving"') < chain_after.index('data-provider="a"')
    assert snapshot() == before and CANARY not in html
    version = preview.context["result"].version_before
    applied = client.post(PAGE, {"text": text, "action": "apply", "version": version})
    assert applied.status_code == 200 and "Applied: 1 change" in applied.content.decode()
    assert Provider.objects.get(id="b").priority == 5
    assert AuditEvent.objects.filter(event="provider.updated", provider_id="b", actor_name="alice").count() == 1


def test_apply_at_a_stale_version_is_refused(fleet, admin_user):
    client = client_for(admin_user)
    document = yaml.safe_load(client.get("/configuration/providers.yaml").content)
    document["providers"][1]["priority"] = 5
    text = yaml.safe_dump(document)
    version = client.post(PAGE, {"text": text}).context["result"].version_before
    Provider.objects.filter(id="a").update(retries=4)  # changed meanwhile
    before = snapshot()
    refused = client.post(PAGE, {"text": text, "action": "apply", "version": version})
    assert refused.status_code == 409 and "changed since you read it" in refused.content.decode()
    assert snapshot() == before


def test_an_invalid_upload_names_provider_and_field(fleet, admin_user):
    client = client_for(admin_user)
    document = yaml.safe_load(client.get("/configuration/providers.yaml").content)
    document["providers"][1]["timeout_ms"] = "soon"
    upload = SimpleUploadedFile("providers.yaml", yaml.safe_dump(document).encode())
    before = snapshot()
    response = client.post(PAGE, {"file": upload, "action": "apply", "version": "x"})
    assert response.status_code == 400
    assert "provider b: timeout_ms: A valid integer is required." in response.content.decode()
    assert snapshot() == before
    assert client.post(PAGE, {"text": "  "}).status_code == 400
