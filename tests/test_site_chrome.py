"""What every page shares, through the real client: one top bar with the role badge on the
console, the Django admin and the browsable API; the favicon; the stylesheets; 403 and 404
pages that keep the navigation and say what happened, while the API keeps its JSON errors."""

from __future__ import annotations

import re
import urllib.request
from http import HTTPStatus

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from guardian.shortcuts import assign_perm

pytestmark = pytest.mark.django_db

TOPBAR = 'data-testid="topbar"'
FAVICON_LINK = re.compile(r'<link rel="icon" href="/static/favicon\.svg" type="image/svg\+xml">')


def badge(role: str) -> str:
    return f'title="Your role" data-testid="role-badge">{role}<'


def assert_chrome(page: str, role: str) -> None:
    """The shared top bar (once), its role badge, the way back to the console, the icon."""
    assert page.count(TOPBAR) == 1
    assert badge(role) in page
    assert '<a class="brand" href="/">' in page and '<a href="/"' in page
    assert 'action="/logout/"' in page and ">Sign out</button>" in page
    assert FAVICON_LINK.search(page)
    assert "/static/css/topbar.css" in page


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_the_console_page_has_the_top_bar_and_role_badge(client, admin_user, viewer_user, provider_factory, role):
    provider_factory(id="p1")
    client.force_login({"admin": admin_user, "viewer": viewer_user}[role])
    for path in ("/", "/providers/p1/", "/account/"):
        response = client.get(path)
        assert response.status_code == HTTPStatus.OK, path
        page = response.content.decode()
        assert_chrome(page, role)
        assert "/static/css/site.css" in page


def test_the_current_section_is_marked_in_the_top_bar(client, admin_user):
    client.force_login(admin_user)
    assert '<a href="/" aria-current="page">Providers</a>' in client.get("/").content.decode()
    admin = client.get("/admin/").content.decode()
    assert '<a href="/admin/" aria-current="page">Admin</a>' in admin
    assert '<a href="/" aria-current="page">' not in admin
    api = client.get("/api/providers", HTTP_ACCEPT="text/html").content.decode()
    assert '<a href="/api/" aria-current="page">API</a>' in api


def test_the_django_admin_has_the_same_top_bar_with_links_back_to_the_console(client, admin_user, provider_factory):
    provider_factory(id="p1")
    client.force_login(admin_user)
    for path in ("/admin/", "/admin/providers/provider/", "/admin/providers/provider/p1/change/"):
        response = client.get(path)
        assert response.status_code == HTTPStatus.OK, path
        page = response.content.decode()
        assert_chrome(page, "admin")
        assert "<title>" in page and "Provider console admin</title>" in page
        assert 'href="/admin/password_change/"' in page  # the admin's own link stays reachable
        assert 'id="user-tools"' not in page  # one top bar, not two
        assert "/static/css/site.css" not in page  # the admin keeps its own stylesheet


def test_the_admin_sign_in_page_has_the_bar_without_anyone_in_it(client):
    page = client.get("/admin/login/").content.decode()
    assert page.count(TOPBAR) == 1 and 'data-testid="role-badge"' not in page and FAVICON_LINK.search(page)


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_the_browsable_api_has_the_same_top_bar(client, admin_user, viewer_user, provider_factory, role):
    provider_factory(id="p1")
    client.force_login({"admin": admin_user, "viewer": viewer_user}[role])
    for path in ("/api/", "/api/providers", "/api/providers/p1"):
        response = client.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == HTTPStatus.OK, path
        assert response["Content-Type"].startswith("text/html")
        page = response.content.decode()
        assert_chrome(page, role)
        assert "/static/css/api.css" in page
        assert "Django REST framework</a>" not in page  # DRF's navbar is replaced, not doubled
    # JSON clients get JSON, no chrome.
    assert client.get("/api/providers").json()["count"] == 1


def test_a_user_without_a_role_sees_no_role_in_the_badge(client):
    dana = get_user_model().objects.create_user("dana", password="pw-dana")
    client.force_login(dana)
    page = client.get("/account/").content.decode()
    assert badge("no role") in page and "role-none" in page


def test_the_favicon_is_served_at_favicon_ico(client):
    response = client.get("/favicon.ico")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "image/svg+xml"
    with open(finders.find("favicon.svg"), "rb") as svg:
        assert response.content == svg.read()
    assert response.content.startswith(b"<svg") and b"<script" not in response.content
    assert "sandbox" in response["Content-Security-Policy"]
    assert client.head("/favicon.ico").status_code == HTTPStatus.OK
    assert client.post("/favicon.ico").status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_static_css_and_icon_are_served(live_server):
    for path, content_type in (
        ("/static/css/site.css", "text/css"),
        ("/static/css/topbar.css", "text/css"),
        ("/static/css/api.css", "text/css"),
        ("/static/favicon.svg", "image/svg+xml"),
        ("/favicon.ico", "image/svg+xml"),
    ):
        with urllib.request.urlopen(live_server.url + path, timeout=10) as response:
            assert response.status == HTTPStatus.OK, path
            assert response.headers["Content-Type"].startswith(content_type), path
            body = response.read()
            assert body, path
    with urllib.request.urlopen(live_server.url + "/static/css/site.css", timeout=10) as response:
        css = response.read().decode()
    assert "prefers-color-scheme: dark" in css and ":focus-visible" in css and "min-height: 32px" in css


def test_a_viewer_who_reaches_an_admin_page_gets_the_403_page_with_navigation(client, viewer_user, provider_factory):
    provider_factory(id="p1")
    client.force_login(viewer_user)
    response = client.get("/providers/p1/secret/")  # PermissionDenied from the page view
    assert response.status_code == HTTPStatus.FORBIDDEN
    page = response.content.decode()
    assert_chrome(page, "viewer")
    assert 'data-testid="error-403"' in page
    assert "You are signed in as victor (viewer). Viewers cannot change providers." in page
    assert 'href="/">Back to providers</a>' in page


def test_the_403_page_carries_the_reason_the_view_gave(client, viewer_user):
    client.force_login(viewer_user)
    response = client.post("/checks/run-all/")
    assert response.status_code == HTTPStatus.FORBIDDEN
    page = response.content.decode()
    assert "Viewers cannot change providers." in page
    assert 'data-testid="error-reason">Running checks needs the admin role.</p>' in page


def test_a_user_without_a_role_gets_the_403_page_saying_why(client, outsider_user):
    client.force_login(outsider_user)
    response = client.get("/")
    assert response.status_code == HTTPStatus.FORBIDDEN
    page = response.content.decode()
    assert_chrome(page, "no role")
    assert "You are signed in as olga (no role)." in page
    assert "You have no role and no provider is delegated to you." in page
    assert "Viewers cannot" not in page


def test_a_delegated_user_forbidden_a_provider_action_gets_the_403_page(client, provider_factory):
    provider = provider_factory(id="p1")
    dana = get_user_model().objects.create_user("dana", password="pw-dana")
    assign_perm("providers.view_provider", dana, provider)
    client.force_login(dana)
    response = client.get("/providers/p1/secret/")
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "You are signed in as dana (no role). Your account does not have the permission this needs." in response.content.decode()


@pytest.mark.parametrize("path", ["/providers/ghost/", "/no-such-page/", "/providers/ghost/secret/"])
def test_the_404_page_keeps_navigation_and_says_what_is_missing(client, viewer_user, path):
    client.force_login(viewer_user)
    response = client.get(path)
    assert response.status_code == HTTPStatus.NOT_FOUND
    page = response.content.decode()
    assert_chrome(page, "viewer")
    assert 'data-testid="error-404"' in page
    assert f"The page or provider <code>{path}</code> does not exist or is not shared with you." in page


def test_a_provider_not_shared_with_a_user_is_the_same_404_as_a_missing_one(client, provider_factory):
    provider_factory(id="p1")
    provider_factory(id="p2")
    dana = get_user_model().objects.create_user("dana", password="pw-dana")
    assign_perm("providers.view_provider", dana, provider_factory._meta.model.objects.get(pk="p1"))
    client.force_login(dana)
    assert client.get("/providers/p1/").status_code == HTTPStatus.OK
    hidden, missing = client.get("/providers/p2/"), client.get("/providers/nope/")
    assert hidden.status_code == missing.status_code == HTTPStatus.NOT_FOUND
    masked_token = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')

    def text(response, path_id: str) -> str:
        return masked_token.sub("", response.content.decode()).replace(path_id, "X")

    assert text(hidden, "p2") == text(missing, "nope")


def test_the_404_page_escapes_the_path(client, viewer_user):
    client.force_login(viewer_user)
    page = client.get('/<script>alert("x")</script>/').content.decode()
    assert "<script>alert" not in page and "%3Cscript%3Ealert" in page


def test_an_anonymous_visitor_gets_the_404_page_with_a_way_to_sign_in(client):
    response = client.get("/no-such-page/")
    assert response.status_code == HTTPStatus.NOT_FOUND
    page = response.content.decode()
    assert page.count(TOPBAR) == 1 and 'data-testid="role-badge"' not in page
    assert 'href="/login/">Sign in</a>' in page


def test_the_api_keeps_json_errors(client, viewer_user):
    client.force_login(viewer_user)
    missing = client.get("/api/providers/ghost")
    assert missing.status_code == HTTPStatus.NOT_FOUND and missing["Content-Type"] == "application/json"
    assert TOPBAR not in missing.content.decode()
    forbidden = client.post("/api/providers", {"id": "x"}, content_type="application/json")
    assert forbidden.status_code == HTTPStatus.FORBIDDEN and forbidden["Content-Type"] == "application/json"
    assert "detail" in forbidden.json()
    unknown = client.get("/api/no-such-thing")
    assert unknown.status_code == HTTPStatus.NOT_FOUND and unknown["Content-Type"] == "application/json"
