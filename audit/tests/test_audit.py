from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from audit.broadcast import broadcaster
from audit.events import EVENTS_GROUP, record_event
from audit.models import AppendOnlyError, AuditEvent

pytestmark = pytest.mark.django_db


def test_rows_cannot_be_edited_or_deleted():
    row = record_event("provider.created", provider_id="p1", summary="created p1")
    row.summary = "rewritten"
    with pytest.raises(AppendOnlyError):
        row.save()
    with pytest.raises(AppendOnlyError):
        row.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=row.pk).update(summary="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get().summary == "created p1"


def test_unknown_event_type_is_refused():
    with pytest.raises(ValueError):
        record_event("provider.exploded", summary="nope")


def _subscribe():
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(EVENTS_GROUP, channel)
    return layer, channel


def test_committed_event_is_published_to_the_events_group(django_capture_on_commit_callbacks):
    layer, channel = _subscribe()
    with django_capture_on_commit_callbacks(execute=True):
        row = record_event("provider.updated", provider_id="p1", summary="changed", payload={"changes": {}})
    assert broadcaster.flush()
    message = async_to_sync(layer.receive)(channel)
    assert message["type"] == "audit.events"
    assert message["ids"] == [row.id]
    frame = json.loads(message["frames"])
    assert frame["type"] == "event"
    assert frame["event"]["id"] == row.id
    assert frame["event"]["event"] == "provider.updated"


def test_rolled_back_event_is_neither_stored_nor_published(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                record_event("provider.updated", provider_id="p1", summary="changed")
                raise RuntimeError("the change failed")
    assert callbacks == []
    assert AuditEvent.objects.count() == 0


def test_events_api_masks_payload_values_for_viewers(admin_client, viewer_client):
    record_event(
        "provider.updated",
        provider_id="p1",
        summary="alice changed priority of p1",
        payload={"changes": {"priority": {"before": 1, "after": 2}}},
    )
    admin_row = admin_client.get("/api/events").json()["results"][0]
    viewer_row = viewer_client.get("/api/events").json()["results"][0]
    assert set(admin_row) == {
        "id", "event", "provider_id", "actor", "summary", "payload", "masked", "created_at", "request_id",
        "client_request_id",
    }
    assert admin_row["payload"] == {"changes": {"priority": {"before": 1, "after": 2}}}
    assert admin_row["masked"] is False
    assert viewer_row["payload"] == {"changes": {"priority": {"before": "***", "after": "***"}}}
    assert viewer_row["masked"] is True
    assert viewer_row["summary"] == "alice changed priority of p1"


def test_events_api_filters_and_orders_newest_first(viewer_client):
    first = record_event("provider.created", provider_id="a", summary="a")
    record_event("provider.created", provider_id="b", summary="b")
    record_event("provider.updated", provider_id="a", summary="a2")
    rows = viewer_client.get("/api/events").json()["results"]
    assert [r["summary"] for r in rows] == ["a2", "b", "a"]
    assert [r["summary"] for r in viewer_client.get("/api/events?provider_id=a").json()["results"]] == ["a2", "a"]
    assert [r["summary"] for r in viewer_client.get("/api/events?event=provider.updated").json()["results"]] == ["a2"]
    since = first.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert viewer_client.get(f"/api/events?since={since}").json()["count"] == 3
    assert viewer_client.get("/api/events?since=2999-01-01T00:00:00Z").json()["count"] == 0
    assert viewer_client.get("/api/events?since=yesterday").status_code == 400
    assert viewer_client.get("/api/events?event=provider.exploded").status_code == 400


def test_request_id_is_the_servers_and_the_clients_is_kept_apart(admin_client, provider_factory):
    provider_factory(id="p1")
    response = admin_client.patch("/api/providers/p1", {"priority": 3}, format="json", HTTP_X_REQUEST_ID="req-123")
    server_id = response["X-Request-ID"]
    assert server_id != "req-123" and len(server_id) == 32 and int(server_id, 16) >= 0
    row = AuditEvent.objects.get()
    assert (row.request_id, row.client_request_id) == (server_id, "req-123")
    event = admin_client.get("/api/events").json()["results"][0]
    assert (event["request_id"], event["client_request_id"]) == (server_id, "req-123")


def test_a_client_cannot_reuse_another_requests_id(admin_client, provider_factory):
    provider_factory(id="p1")
    first = admin_client.patch("/api/providers/p1", {"priority": 3}, format="json")["X-Request-ID"]
    admin_client.patch("/api/providers/p1", {"priority": 4}, format="json", HTTP_X_REQUEST_ID=first)
    ids = list(AuditEvent.objects.order_by("id").values_list("request_id", "client_request_id"))
    assert ids[0] == (first, "") and ids[1][0] != first and ids[1][1] == first
    # An id that is not a plain token is not kept at all.
    admin_client.patch("/api/providers/p1", {"priority": 5}, format="json", HTTP_X_REQUEST_ID="<script>")
    assert AuditEvent.objects.order_by("-id").first().client_request_id == ""
