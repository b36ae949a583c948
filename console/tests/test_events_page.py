"""The events page (/events/): the audit log with its filters in the URL, newest first,
paginated, masked for viewers as the API masks it, and refused to users without a role."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.events import record_event
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db

CANARY = "canary-endpoint-7f3a91.example.test"


def updated(provider_id: str, actor, before, after, summary=None):
    return record_event(
        "provider.updated",
        provider_id=provider_id,
        actor=actor,
        summary=summary or f"{provider_id} updated",
        payload={"changes": {"endpoint": {"before": before, "after": after}}, "version": 2},
    )


def row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-event-id="(\d+)"', html)]


def test_admin_sees_rows_newest_first_with_before_and_after(client, admin_user):
    first = updated("p1", admin_user, "https://old.example.test", f"https://{CANARY}")
    second = record_event("provider.state_changed", provider_id="p1", actor="system",
                          summary="p1 is now degraded (was active): slow", payload={"before": "active", "after": "degraded", "reason": "slow"})
    client.force_login(admin_user)
    response = client.get("/events/")
    assert response.status_code == 200
    html = response.content.decode()
    assert row_ids(html) == [second.id, first.id]
    assert CANARY in html and "https://old.example.test" in html
    assert "<th>Field</th>" in html or 'scope="col">Field' in html
    assert ">active<" in html and ">degraded<" in html
    assert "(values masked)" not in html
    assert 'href="/providers/p1/"' in html


def test_viewer_sees_summaries_with_values_masked(client, admin_user, viewer_user):
    updated("p1", admin_user, "https://old.example.test", f"https://{CANARY}", summary="p1: endpoint changed")
    client.force_login(viewer_user)
    html = client.get("/events/").content.decode()
    assert "p1: endpoint changed" in html
    assert CANARY not in html and "old.example.test" not in html
    assert "(values masked)" in html
    assert "<code>endpoint</code>" in html and "***" in html


def test_users_without_a_role_are_refused_and_anonymous_sign_in(client, outsider_user):
    assert client.get("/events/").status_code == 302
    client.force_login(outsider_user)
    response = client.get("/events/")
    assert response.status_code == 403
    assert b"data-testid=\"topbar\"" in response.content


def test_filters_by_type_provider_actor_and_time(client, admin_user, viewer_user):
    a = updated("p1", admin_user, "a", "b")
    b = updated("p2", viewer_user, "a", "b")
    c = record_event("provider.tested", provider_id="p1", actor=admin_user, summary="p1 passed", payload={"ok": True})
    client.force_login(admin_user)

    def ids(query):
        response = client.get("/events/" + query)
        assert response.status_code == 200, response.content
        return row_ids(response.content.decode())

    assert ids("?event=provider.tested") == [c.id]
    assert ids("?provider_id=p1") == [c.id, a.id]
    assert ids(f"?actor={viewer_user.username}") == [b.id]
    assert ids("?event=provider.updated&provider_id=p1&actor=") == [a.id]
    # The time range: created_at of the rows is "now"; since an hour ago finds them, until an
    # hour ago none. The form's own datetime-local format (no zone: UTC) is accepted.
    hour_ago = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert ids(f"?since={hour_ago}") == [c.id, b.id, a.id]
    assert ids(f"?until={hour_ago}") == []
    # The chosen filters are kept in the form.
    html = client.get("/events/?event=provider.tested&actor=alice").content.decode()
    assert '<option value="provider.tested" selected>' in html
    assert 'name="actor" value="alice"' in html
    assert 'data-filter-events="provider.tested"' in html and 'data-filter-actor="alice"' in html


def test_bad_filters_are_a_400_with_the_reason_next_to_the_field(client, admin_user):
    updated("p1", admin_user, "a", "b")
    client.force_login(admin_user)
    response = client.get("/events/?since=yesterday&event=provider.exploded")
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'data-testid="error-since">[^<]+<', html)
    assert re.search(r'data-testid="error-event">[^<]*provider\.exploded[^<]*<', html)
    assert 'data-testid="event-row"' not in html


def test_pagination_keeps_the_filters_in_the_links(client, admin_user):
    AuditEvent.objects.bulk_create(
        AuditEvent(event="provider.tested", provider_id="p1", actor_name="alice", summary=f"check {i}", payload={"ok": True})
        for i in range(120)
    )
    record_event("provider.created", provider_id="p2", actor=admin_user, summary="p2 created", payload={"fields": {"id": "p2"}})
    client.force_login(admin_user)
    html = client.get("/events/?provider_id=p1").content.decode()
    ids = row_ids(html)
    assert len(ids) == 50 and ids == sorted(ids, reverse=True)
    assert "120 events match" in html and "page 1 of 3" in html
    assert 'href="?provider_id=p1&amp;page=2"' in html
    assert 'data-events-live="true"' in html
    last = client.get("/events/?provider_id=p1&page=3").content.decode()
    assert len(row_ids(last)) == 20 and max(row_ids(last)) < min(ids)
    # A later page takes no live rows (it only counts them).
    assert 'data-events-live="false"' in last and 'data-testid="event-new"' in last


def test_query_count_does_not_grow_with_the_rows(client, admin_user, viewer_user):
    def queries(user):
        client.force_login(user)
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/events/").status_code == 200
        return len(captured)

    updated("p1", admin_user, "a", "b")
    few_admin, few_viewer = queries(admin_user), queries(viewer_user)
    AuditEvent.objects.bulk_create(
        AuditEvent(event="provider.updated", provider_id=f"p{i}", actor_name="alice", summary="x",
                   payload={"changes": {"priority": {"before": i, "after": i + 1}}})
        for i in range(80)
    )
    assert queries(admin_user) == few_admin
    assert queries(viewer_user) == few_viewer
    # session, user, the user's and the groups' permissions, the role badge's groups, count,
    # rows, the provider ids of the filter's suggestions, the newest id (where live rows start)
    assert few_admin == 9, few_admin


def test_top_bar_links_the_events_page(client, viewer_user):
    client.force_login(viewer_user)
    html = client.get("/events/").content.decode()
    assert re.search(r'<a href="/events/" aria-current="page">Events</a>', html)
    assert 'src="/static/js/events_page.js"' in html
