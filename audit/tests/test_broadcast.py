"""Broadcasting committed audit rows: once per commit, off the request path, failures logged once."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time

import pytest
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from audit.broadcast import broadcaster, split_frames
from audit.events import EVENTS_GROUP, record_event, record_events
from audit.models import AppendOnlyError, AuditEvent
from health.runner import run_checks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def subscriber():
    """A channel in the `events` group; `subscriber()` returns the group messages it got once
    the broadcaster is idle. One event loop for the whole test: channels-redis keeps a channel's
    buffer in the loop that first received on it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(30)

    layer = get_channel_layer()
    channel = run(layer.new_channel())
    run(layer.group_add(EVENTS_GROUP, channel))

    async def drain() -> list[dict]:
        found = []
        while True:
            try:
                found.append(await asyncio.wait_for(layer.receive(channel), 0.3))
            except TimeoutError:
                return found

    def messages() -> list[dict]:
        assert broadcaster.flush(10)
        return run(drain())

    yield messages
    run(layer.group_discard(EVENTS_GROUP, channel))
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def change(provider_id: str = "p1", summary: str = "changed") -> AuditEvent:
    return record_event("provider.updated", provider_id=provider_id, summary=summary, payload={"changes": {}})


def test_a_rolled_back_savepoint_is_never_broadcast_and_the_rest_is_in_commit_order(subscriber):
    with transaction.atomic():
        first = change(summary="first")
        try:
            with transaction.atomic():
                change(summary="rolled back")
                raise RuntimeError
        except RuntimeError:
            pass
        second = change(summary="second")
    messages = subscriber()
    ids = [event_id for message in messages for event_id in message["ids"]]
    assert ids == [first.id, second.id]
    frames = [json.loads(frame) for message in messages for frame in split_frames(message, masked=False)]
    assert [frame["event"]["summary"] for frame in frames] == ["first", "second"]


def test_a_run_all_is_one_group_message_written_with_one_insert(subscriber, sim_provider):
    providers = [sim_provider("/open/v1", id=f"p{i:02d}", name=f"p{i:02d}") for i in range(40)]
    run_checks(providers[:2])  # the first status moves, if any, happen here
    subscriber()

    with CaptureQueriesContext(connection) as few:
        run_checks(providers[:1])
    with CaptureQueriesContext(connection) as many:
        run_checks(providers)
    # The check rows and the audit rows are one INSERT each, whatever the number of providers.
    assert len(many) == len(few)

    messages = subscriber()
    assert len(messages) == 2
    assert len(messages[0]["ids"]) == 1 and len(messages[1]["ids"]) == 40
    tested = list(AuditEvent.objects.filter(event="provider.tested").order_by("id").values_list("id", flat=True))
    assert messages[1]["ids"] == tested[-40:]
    # One batch frame of 40 events, for admins and (values masked) for viewers.
    [frame] = [json.loads(frame) for frame in split_frames(messages[1], masked=False)]
    assert frame["type"] == "events" and [event["id"] for event in frame["events"]] == tested[-40:]
    assert {event["payload"]["check"]["ok"] for event in frame["events"]} == {True}
    [masked] = [json.loads(frame) for frame in split_frames(messages[1], masked=True)]
    assert {event["masked"] for event in masked["events"]} == {True}
    assert {event["payload"]["check"]["ok"] for event in masked["events"]} == {"***"}
    # A single provider's test is an ordinary event frame.
    [one] = [json.loads(frame) for frame in split_frames(messages[0], masked=False)]
    assert one["type"] == "event" and one["event"]["event"] == "provider.tested"


def test_the_request_does_not_wait_for_the_fan_out(admin_client, provider_factory, subscriber, monkeypatch):
    provider_factory(id="p1", priority=1)
    layer = get_channel_layer()
    real_group_send = layer.group_send

    async def slow_group_send(group, message):
        import asyncio

        await asyncio.sleep(2)  # 200 consoles on a busy layer
        await real_group_send(group, message)

    monkeypatch.setattr(layer, "group_send", slow_group_send)
    started = time.monotonic()
    response = admin_client.patch("/api/providers/p1", {"priority": 2}, format="json")
    answered = time.monotonic() - started
    assert response.status_code == 200
    assert answered < 1.0
    messages = subscriber()  # the broadcast still happens, after the answer
    assert [json.loads(frame)["event"]["summary"] for frame in split_frames(messages[0], masked=False)] == [
        AuditEvent.objects.get().summary
    ]


def test_a_broadcast_failure_is_logged_once_and_never_fails_the_change(
    admin_client, provider_factory, subscriber, monkeypatch, caplog
):
    provider_factory(id="p1", priority=1)
    layer = get_channel_layer()
    real_group_send = layer.group_send

    async def broken_group_send(group, message):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(layer, "group_send", broken_group_send)
    caplog.set_level(logging.INFO, logger="audit.broadcast")
    for priority in range(2, 7):
        assert admin_client.patch("/api/providers/p1", {"priority": priority}, format="json").status_code == 200
        assert broadcaster.flush(10)
    assert AuditEvent.objects.filter(event="provider.updated").count() == 5
    errors = [r for r in caplog.records if r.name == "audit.broadcast" and r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "further failures are not logged" in errors[0].getMessage()

    monkeypatch.setattr(layer, "group_send", real_group_send)
    assert admin_client.patch("/api/providers/p1", {"priority": 7}, format="json").status_code == 200
    messages = subscriber()
    assert [event_id for message in messages for event_id in message["ids"]] == [AuditEvent.objects.first().id]
    recovered = [r.getMessage() for r in caplog.records if r.name == "audit.broadcast" and r.levelno == logging.WARNING]
    assert recovered == ["Broadcasting audit events to the open consoles works again (5 events were not broadcast meanwhile)."]


def test_the_channel_layer_capacity_and_expiry_come_from_the_settings():
    layer = get_channel_layer()
    assert settings.CHANNEL_CAPACITY >= 1000
    assert layer.capacity == settings.CHANNEL_CAPACITY
    assert layer.expiry == settings.CHANNEL_EXPIRY


def test_bulk_create_appends_but_never_rewrites_audit_rows():
    rows = record_events(
        "provider.tested", [{"provider_id": "a", "summary": "a"}, {"provider_id": "b", "summary": "b"}], actor="cron"
    )
    assert [row.pk is not None for row in rows] == [True, True]
    assert list(AuditEvent.objects.order_by("id").values_list("provider_id", "actor_name")) == [("a", "cron"), ("b", "cron")]
    existing = AuditEvent.objects.first()
    existing.summary = "rewritten"
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_create([existing])
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_create(
            [AuditEvent(event="provider.tested", summary="x")],
            update_conflicts=True, unique_fields=["id"], update_fields=["summary"],
        )
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_update([existing], ["summary"])
    assert not AuditEvent.objects.filter(summary="rewritten").exists()
    with pytest.raises(ValueError):
        record_events("provider.exploded", [{"summary": "x"}])
