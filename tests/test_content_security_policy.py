"""The Content Security Policy header (django-csp; docs/configuration.md) on the site's pages,
the API's answers and the Swagger page, through the Django client. What the browser makes of
it is tests/test_browser_csp.py."""

from __future__ import annotations

import re
from http import HTTPStatus

import pytest
from django.test import Client

REQUIRED = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    parsed = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        parsed[name] = value.strip()
    return parsed


def assert_site_policy(response) -> dict[str, str]:
    policy = directives(response)
    for name, value in REQUIRED.items():
        assert policy.get(name) == value, (name, response["Content-Security-Policy"])
    assert "unsafe-inline" not in policy["script-src"] and "unsafe-eval" not in policy["script-src"]
    return policy


@pytest.mark.django_db
def test_a_page_carries_the_policy_and_allows_no_inline_style_attribute(client):
    response = client.get("/login/")
    assert response.status_code == HTTPStatus.OK
    policy = assert_site_policy(response)
    assert "style-src-attr" not in policy


@pytest.mark.django_db
def test_a_console_page_carries_the_policy(admin_user):
    client = Client()
    client.force_login(admin_user)
    response = client.get("/")
    assert response.status_code == HTTPStatus.OK
    assert "style-src-attr" not in assert_site_policy(response)


def test_an_api_answer_carries_the_policy(admin_client):
    response = admin_client.get("/api/providers", HTTP_ACCEPT="application/json")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"].startswith("application/json")
    assert "style-src-attr" not in assert_site_policy(response)


def test_the_browsable_api_alone_allows_style_attributes_never_inline_script(admin_user):
    client = Client()
    client.force_login(admin_user)
    response = client.get("/api/providers", HTTP_ACCEPT="text/html")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"].startswith("text/html")
    policy = assert_site_policy(response)
    assert policy["style-src-attr"] == "'unsafe-inline'"


def inline_scripts(html: str) -> list[str]:
    """Script elements the browser would run that carry their code inline (JSON data blocks,
    which are never run, are not counted)."""
    found = []
    for attributes, body in re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S):
        if "src=" in attributes or "application/json" in attributes:
            continue
        if body.strip():
            found.append(body.strip()[:80])
    return found


@pytest.mark.django_db
def test_the_swagger_page_loads_its_start_up_script_as_a_file(admin_user):
    client = Client()
    client.force_login(admin_user)
    page = client.get("/api/docs/")
    assert page.status_code == HTTPStatus.OK
    html = page.content.decode()
    assert inline_scripts(html) == []
    assert "<style" not in html
    assert_site_policy(page)
    script_url = re.search(r'<script src="([^"]*script=[^"]*)"', html).group(1).replace("&amp;", "&")
    script = client.get(script_url)
    assert script.status_code == HTTPStatus.OK
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


@pytest.mark.django_db
def test_no_console_template_runs_inline_script(admin_user, provider_factory):
    provider = provider_factory(id="csp-one", secret_policy="none")
    client = Client()
    client.force_login(admin_user)
    for path in ("/", f"/providers/{provider.id}/", "/events/", "/new-provider/", "/archived/", f"/providers/{provider.id}/edit/",
                 f"/providers/{provider.id}/secret/", "/account/", "/api/"):
        response = client.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == HTTPStatus.OK, path
        html = response.content.decode()
        assert inline_scripts(html) == [], path
        assert "<style" not in html, path  # style-src 'self' everywhere, the browsable API's too
        assert_site_policy(response)
