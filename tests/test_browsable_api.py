"""The browsable API at /api/ with a session, as a browser posts its forms (CSRF enforced)."""

from __future__ import annotations

import base64
import html
import json
import re
from http import HTTPStatus
from urllib.parse import quote, quote_plus

import pytest
from django.test import Client

from health.models import HealthCheck
from providers.models import Provider

pytestmark = pytest.mark.django_db

CANARY = "sk-canary-Browsable+API/9f3c=="


def html_form(page: str, action: str) -> str:
    """The HTML form (not the raw-data form) that POSTs to `action`."""
    pattern = rf'<form action="{re.escape(action)}" method="POST" enctype="multipart/form-data".*?</form>'
    return re.search(pattern, page, re.S).group(0)


def csrf_token(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def raw_content(page: str) -> str:
    return html.unescape(re.search(r'<textarea name="_content"[^>]*>(.*?)</textarea>', page, re.S).group(1))


def no_form_of(secret: str, page: str) -> bool:
    forms = {
        secret, html.escape(secret), quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1],
        base64.b64encode(secret.encode()).decode(), base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
        secret.encode().hex(),
    }
    return not any(form in page for form in forms)


@pytest.fixture
def browser(admin_user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    return client


def get_page(client: Client, path: str) -> str:
    response = client.get(path, HTTP_ACCEPT="text/html")
    assert response.status_code in (HTTPStatus.OK, HTTPStatus.METHOD_NOT_ALLOWED), response.status_code
    return response.content.decode()


def test_the_create_form_offers_the_defaults_and_saves_through_the_form(browser):
    page = get_page(browser, "/api/providers")
    form = html_form(page, "/api/providers")
    assert re.search(r'<input type="checkbox" name="enabled" value="true" checked>', form)
    assert '<textarea name="fallback_models" class="form-control"  >[]</textarea>' in form
    assert '<textarea name="metadata" class="form-control"  >{}</textarea>' in form
    assert '<textarea name="capabilities" class="form-control"  >{}</textarea>' in form
    assert ">null<" not in form
    assert re.search(r'<select class="form-control" name="secret_policy">\s*<option value="" selected>', form)

    # What the browser sends for that form when the operator fills only the required fields.
    response = browser.post(
        "/api/providers",
        {
            "csrfmiddlewaretoken": csrf_token(page), "id": "from-form", "name": "from-form", "display_name": "",
            "kind": "ollama", "endpoint": "http://127.0.0.1:11434", "default_model": "llama3",
            "fallback_models": "[]", "status": "active", "enabled": "true", "priority": "", "capabilities": "{}",
            "secret_policy": "", "retries": "", "timeout_ms": "", "tool_timeout_ms": "", "metadata": "{}",
        },
        HTTP_ACCEPT="text/html",
    )
    assert response.status_code == HTTPStatus.CREATED, response.content.decode()[-3000:]
    provider = Provider.objects.get(pk="from-form")
    assert (provider.enabled, provider.status, provider.secret_policy) == (True, "active", "none")
    assert (provider.fallback_models, provider.capabilities, provider.metadata) == ([], {}, {})


def test_form_control_fields_are_unknown_in_a_json_body(admin_client):
    body = {"id": "x", "name": "x", "kind": "ollama", "endpoint": "http://127.0.0.1:1", "default_model": "m",
            "csrfmiddlewaretoken": "abc", "_method": "PATCH"}
    response = admin_client.post("/api/providers", body, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json() == {"csrfmiddlewaretoken": ["Unknown field."], "_method": ["Unknown field."]}


def test_a_failed_create_form_shows_inline_errors_and_keeps_what_was_typed(browser):
    page = get_page(browser, "/api/providers")
    response = browser.post(
        "/api/providers",
        {"csrfmiddlewaretoken": csrf_token(page), "id": "Bad Id", "name": "kept-name", "kind": "ollama",
         "endpoint": "http://127.0.0.1:11434", "default_model": "m", "fallback_models": "[]", "status": "active",
         "enabled": "true", "capabilities": "{}", "metadata": "{}"},
        HTTP_ACCEPT="text/html",
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    form = html_form(response.content.decode(), "/api/providers")
    assert "Use 1 to 63 lowercase letters" in html.unescape(form)
    assert 'value="kept-name"' in form


@pytest.mark.parametrize("status", ["active", "degraded"])
def test_the_prefilled_edit_body_saves_unchanged(browser, provider_factory, status):
    provider_factory(id="p1", kind="ollama", metadata={"team": "ml"}, status=status)
    page = get_page(browser, "/api/providers/p1")
    body = json.loads(raw_content(page))
    assert set(body) <= {
        "id", "name", "display_name", "kind", "endpoint", "default_model", "fallback_models", "status", "enabled",
        "priority", "capabilities", "secret_policy", "retries", "timeout_ms", "tool_timeout_ms", "metadata",
    }
    assert body["metadata"] == {"team": "ml"} and "version" not in body and "health" not in body
    # A status that health set is not the operator's to send back.
    assert body.get("status") == ("active" if status == "active" else None)

    # The browsable API sends the raw form with the CSRF token in a header.
    response = browser.patch(
        "/api/providers/p1", json.dumps(body), content_type="application/json",
        HTTP_X_CSRFTOKEN=browser.cookies["csrftoken"].value, HTTP_ACCEPT="application/json",
    )
    assert response.status_code == HTTPStatus.OK, response.content
    assert Provider.objects.get(pk="p1").status == status


def test_the_secret_form_never_renders_the_value_back(browser, provider_factory):
    provider_factory(id="p1", kind="openai_compatible")
    page = get_page(browser, "/api/providers/p1/secret")
    form = html_form(page, "/api/providers/p1/secret")
    assert '<input name="value" class="form-control" type="password"  value="" >' in form
    assert json.loads(raw_content(page))["value"] == ""

    token = csrf_token(page)
    attempts = [
        ({"action": "set", "value": f"  {CANARY}  "}, HTTPStatus.BAD_REQUEST),  # padded
        ({"action": "set", "value": CANARY, "secret_id_hint": f"hint-{CANARY}"}, HTTPStatus.BAD_REQUEST),
        ({"action": "restore", "value": CANARY}, HTTPStatus.BAD_REQUEST),
        ({"action": "set", "value": CANARY, "secret_id_hint": "prod-key"}, HTTPStatus.OK),
        ({"action": "set", "value": CANARY}, HTTPStatus.CONFLICT),
    ]
    for fields, expected in attempts:
        response = browser.post(
            "/api/providers/p1/secret", {"csrfmiddlewaretoken": token, "version": "", **fields}, HTTP_ACCEPT="text/html"
        )
        answer = response.content.decode()
        assert response.status_code == expected, answer[-2000:]
        assert no_form_of(CANARY, answer), fields
        assert '<input name="value" class="form-control" type="password"  value="" >' in answer
    assert HealthCheck.objects.count() == 0


API_PAGES = [
    "/api/", "/api/providers", "/api/providers/p1", "/api/providers/p1/test", "/api/providers/test-all",
    "/api/providers/p1/secret", "/api/providers/p1/secret/versions", "/api/providers/p1/history",
    "/api/providers/p1/metrics", "/api/providers/p1/restore", "/api/routing-chain", "/api/routing-chain/preview",
    "/api/events",
]


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_every_api_page_renders_in_the_browser(admin_user, viewer_user, provider_factory, role):
    provider_factory(id="p1", kind="openai_compatible")
    client = Client()
    client.force_login(admin_user if role == "admin" else viewer_user)
    for path in API_PAGES:
        response = client.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code < 500, (path, response.status_code)
        assert response["Content-Type"].startswith("text/html"), path


def test_the_test_forms_take_their_checkboxes(browser, provider_factory):
    provider_factory(id="p1", kind="ollama", endpoint="http://127.0.0.1:9", default_model="m", fallback_models=[],
                     retries=0, timeout_ms=500)
    page = get_page(browser, "/api/providers/p1/test")
    assert re.search(r'<input type="checkbox" name="deep" value="true"', html_form(page, "/api/providers/p1/test"))
    response = browser.post("/api/providers/p1/test", {"csrfmiddlewaretoken": csrf_token(page), "deep": "true"},
                            HTTP_ACCEPT="application/json")
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["deep"] is True
    page = get_page(browser, "/api/providers/test-all")
    response = browser.post("/api/providers/test-all", {"csrfmiddlewaretoken": csrf_token(page)},
                            HTTP_ACCEPT="application/json")
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["checked"] == 1


def test_a_json_body_still_takes_only_json_booleans(admin_client, provider_factory):
    provider_factory(id="p1", kind="ollama")
    response = admin_client.post("/api/providers/p1/test", {"deep": "true"}, format="json")
    assert response.status_code == HTTPStatus.BAD_REQUEST and "deep" in response.json()
