"""The Test and Run all checks buttons of the pages, through the real client."""

from __future__ import annotations

from http import HTTPStatus

import pytest

from audit.models import AuditEvent
from health.models import HealthCheck

pytestmark = pytest.mark.django_db


def test_admin_tests_one_provider_and_sees_the_result(client, admin_user, sim_provider):
    sim_provider("/open/v1", id="p1")
    client.force_login(admin_user)
    response = client.post("/providers/p1/test/", {"next": "/"}, follow=True)
    assert response.redirect_chain[-1][0] == "/"
    page = response.content.decode()
    assert "p1: pass in" in page
    assert HealthCheck.objects.filter(provider_id="p1", ok=True).count() == 1
    assert AuditEvent.objects.filter(event="provider.tested", provider_id="p1").count() == 1


def test_a_failing_test_says_what_to_do(client, admin_user, sim_provider):
    sim_provider("/fail/401/v1", id="p1")
    client.force_login(admin_user)
    page = client.post("/providers/p1/test/", follow=True).content.decode()
    assert "p1: auth_failure" in page
    assert 'data-testid="history"' in page  # back on the provider page, with its history


def test_run_all_checks_summarises_passes_and_failures(client, admin_user, sim_provider):
    sim_provider("/open/v1", id="good")
    sim_provider("/fail/500/v1", id="bad")
    sim_provider("/open/v1", id="off", enabled=False, status="disabled")
    client.force_login(admin_user)
    page = client.post("/checks/run-all/", follow=True).content.decode()
    assert "Checked 2: 1 passed, 1 failed" in page
    assert "bad: server_error" in page
    assert not HealthCheck.objects.filter(provider_id="off").exists()


def test_viewers_see_no_buttons_and_cannot_post(client, viewer_user, sim_provider):
    sim_provider("/open/v1", id="p1")
    client.force_login(viewer_user)
    page = client.get("/").content.decode()
    assert "Run all checks" not in page and 'data-testid="test-p1"' not in page
    assert client.post("/providers/p1/test/").status_code == HTTPStatus.FORBIDDEN
    assert client.post("/checks/run-all/").status_code == HTTPStatus.FORBIDDEN
    assert not HealthCheck.objects.exists()


def test_buttons_need_login_and_an_open_redirect_is_refused(client, admin_user, sim_provider):
    sim_provider("/open/v1", id="p1")
    assert client.post("/providers/p1/test/")["Location"].startswith("/login/")
    client.force_login(admin_user)
    response = client.post("/providers/p1/test/", {"next": "https://evil.example/"})
    assert response["Location"] == "/providers/p1/"


def test_archived_provider_is_not_tested(client, admin_user, sim_provider):
    from django.utils import timezone

    sim_provider("/open/v1", id="p1", archived_at=timezone.now())
    client.force_login(admin_user)
    page = client.post("/providers/p1/test/", follow=True).content.decode()
    assert "archived; restore it" in page
    assert not HealthCheck.objects.exists()
