"""A provider's page: fields, secret metadata (never the value), the last hour's chart, its
check history paginated, and its own audit events with the before/after of each change, masked
for viewers as the API masks them; a fixed number of queries however long the history."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AuditEvent
from health.models import HealthCheck
from providers.services import update_provider
from secrets_vault.services import set_secret

pytestmark = pytest.mark.django_db

SECRET = "sk-canary-detail-9d81c7e2"
NEW_ENDPOINT = "https://canary-moved-4b1f.example.test/v1"


def checks(provider_id: str, count: int) -> None:
    now = timezone.now()
    HealthCheck.objects.bulk_create(
        HealthCheck(
            provider_id=provider_id, checked_at=now - timedelta(seconds=50 * i), ok=i % 4 != 3,
            latency_ms=100 + i if i % 4 != 3 else None, http_status=200 if i % 4 != 3 else 503,
            error_code=None if i % 4 != 3 else "server_error", error_message="" if i % 4 != 3 else f"overloaded {i}",
            provider_status="active", actor_name="alice",
        )
        for i in range(count)
    )


@pytest.fixture
def provider(provider_factory, admin_user):
    provider = provider_factory(id="p1", secret_policy="required", metadata={"team": "ml"})
    set_secret(provider, SECRET, hint="prod key", actor=admin_user)
    provider.refresh_from_db()
    update_provider(provider, {"endpoint": NEW_ENDPOINT, "priority": 7}, actor=admin_user)
    provider.refresh_from_db()
    return provider


def history_rows(html: str) -> list[str]:
    table = re.search(r'data-testid="history">(.*?)</table>', html, re.S).group(1)
    return re.findall(r"<tr class=\"(?:ok|bad)\">", table)


def event_ids(html: str) -> list[int]:
    section = html.split('id="events"', 1)[1]
    return [int(i) for i in re.findall(r'data-event-id="(\d+)"', section)]


def test_admin_sees_fields_secret_metadata_chart_history_and_changes(client, admin_user, provider):
    checks("p1", 25)
    client.force_login(admin_user)
    response = client.get("/providers/p1/")
    assert response.status_code == 200
    html = response.content.decode()
    # Fields and the secret's metadata, never its value in any form.
    assert NEW_ENDPOINT in html and "prod key" in html and "present" in html
    for form in (SECRET, base64.b64encode(SECRET.encode()).decode(), SECRET.encode().hex()):
        assert form not in html
    # The last hour's chart, drawn on the server.
    chart = re.search(r'data-testid="latency-chart">(.*?)</figure>', html, re.S).group(1)
    assert chart.lstrip().startswith('<svg class="latency-chart"') and "<path" in chart
    # The history, 20 a page, then the rest.
    assert len(history_rows(html)) == 20
    assert "checks page 1 of 2 (25 checks)" in html
    second = client.get("/providers/p1/?checks_page=2").content.decode()
    assert len(history_rows(second)) == 5 and "overloaded 23" in second
    # Its own events, newest first, with the before and after of the change.
    ids = event_ids(html)
    assert ids == list(AuditEvent.objects.filter(provider_id="p1").order_by("-id").values_list("id", flat=True))
    events = html.split('id="events"', 1)[1]
    assert "<code>provider.updated</code>" in events and "<code>secret.updated</code>" in events
    assert re.search(r"<code>priority</code></th><td>\d+</td><td>7</td>", events)
    assert f"<code>endpoint</code></th><td>https://p1.example.test/v1</td><td>{NEW_ENDPOINT}</td>" in events
    assert "(values masked)" not in events


def test_viewer_sees_the_same_page_with_event_values_masked(client, viewer_user, provider):
    client.force_login(viewer_user)
    html = client.get("/providers/p1/").content.decode()
    assert "secret.updated" in html and "provider.updated" in html
    events = html.split('id="events"', 1)[1]
    assert "(values masked)" in events
    assert "<code>priority</code></th><td>***</td><td>***</td>" in events
    assert NEW_ENDPOINT not in events and SECRET not in html


def test_events_are_paginated_and_only_this_providers(client, admin_user, provider, provider_factory):
    other = provider_factory(id="p2")
    for priority in range(30, 55):
        update_provider(provider, {"priority": priority}, actor=admin_user)
        provider.refresh_from_db()
    update_provider(other, {"priority": 99}, actor=admin_user)
    client.force_login(admin_user)
    total = AuditEvent.objects.filter(provider_id="p1").count()
    assert 20 < total <= 40
    html = client.get("/providers/p1/").content.decode()
    assert len(event_ids(html)) == 20 and f"events page 1 of 2 ({total} events)" in html
    rest = client.get("/providers/p1/?events_page=2").content.decode()
    assert len(event_ids(rest)) == total - 20
    assert max(event_ids(rest)) < min(event_ids(html))
    assert 'href="/providers/p2/"' not in html.split('id="events"', 1)[1]


def test_query_count_does_not_grow_with_history_or_events(client, admin_user, viewer_user, provider):
    def queries(user):
        client.force_login(user)
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/providers/p1/").status_code == 200
        return len(captured)

    checks("p1", 3)
    queries(viewer_user)  # warms the per-process content-type cache a delegated-access check reads
    few_admin, few_viewer = queries(admin_user), queries(viewer_user)
    checks("p1", 60)
    for priority in range(30, 60):
        update_provider(provider, {"priority": priority}, actor=admin_user)
        provider.refresh_from_db()
    # The first request after the changes computes the routing chain (console/chaincache.py:
    # its two queries); the next ones read it stored under the version.
    assert queries(admin_user) == few_admin + 2
    assert queries(admin_user) == few_admin
    assert queries(viewer_user) == few_viewer
    # session, user, permissions, the role badge's groups, the provider, the chain's version,
    # this provider's vault projection and health, the check history and chart, its events
    # (count and rows)
    # (SQLite reads the p95 latencies in a query of their own for each of health and chart.)
    expected = {"sqlite": (17, 20)}.get(connection.vendor, (15, 18))
    assert (few_admin, few_viewer) == expected
