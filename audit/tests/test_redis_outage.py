"""Redis down under the channel layer: changes never fail, the failure is logged once, open
websockets stay open, and the stream resumes with what was committed meanwhile.

A real redis-server started and killed by the test (tests/redis_process.py).
"""

from __future__ import annotations

import logging
import uuid

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.db import database_sync_to_async

from audit.broadcast import broadcaster
from audit.models import AuditEvent
from audit.tests.test_websocket import ORIGIN, connect, session_cookie
from tests.redis_process import redis_server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_layer(settings):
    with redis_server() as redis:
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {
                    "hosts": [{"address": redis.url, "socket_connect_timeout": 1.0}],
                    "prefix": f"outage-{uuid.uuid4().hex[:8]}",
                    "capacity": settings.CHANNEL_CAPACITY,
                    "expiry": settings.CHANNEL_EXPIRY,
                },
            }
        }
        yield redis


def test_redis_down_never_fails_a_change_and_the_stream_resumes(
    redis_layer, admin_user, admin_client, provider_factory, caplog
):
    provider_factory(id="p1", priority=1)
    cookie = session_cookie(admin_user)
    caplog.set_level(logging.INFO)

    def patch(priority: int) -> int:
        return admin_client.patch("/api/providers/p1", {"priority": priority}, format="json").status_code

    def summaries_after(event_id: int) -> list[str]:
        return list(AuditEvent.objects.filter(id__gt=event_id).order_by("id").values_list("summary", flat=True))

    async def received_events(ws, count: int) -> list[dict]:
        events: list[dict] = []
        while len(events) < count:
            frame = await ws.receive_json_from(timeout=10)
            events += [frame["event"]] if frame["type"] == "event" else frame["events"]
        return events

    async def scenario():
        ws = connect([ORIGIN, cookie])
        assert (await ws.connect())[0]
        assert await ws.receive_json_from() == {"type": "hello", "role": "admin"}
        assert await database_sync_to_async(patch)(2) == 200
        [before] = await received_events(ws, 1)

        redis_layer.stop()
        for priority in (3, 4, 5):
            assert await database_sync_to_async(patch)(priority) == 200  # never a 500
        assert await sync_to_async(broadcaster.flush, thread_sensitive=False)(10)
        assert await ws.receive_nothing(1.5)  # the socket stays open, silent

        redis_layer.start()
        missed = await received_events(ws, 3)  # resent from the database once Redis is back
        assert [event["summary"] for event in missed] == await database_sync_to_async(summaries_after)(before["id"])
        assert [event["payload"]["changes"]["priority"]["after"] for event in missed] == [3, 4, 5]

        assert await database_sync_to_async(patch)(6) == 200
        [after] = await received_events(ws, 1)  # and the live stream goes on
        assert after["payload"]["changes"]["priority"]["after"] == 6
        assert await ws.receive_nothing(0.5)
        await ws.disconnect()

    async_to_sync(scenario)()

    broadcast_errors = [r for r in caplog.records if r.name == "audit.broadcast" and r.levelno >= logging.ERROR]
    assert len(broadcast_errors) == 1  # three events were not broadcast: one line, not three
    assert [r.levelname for r in caplog.records if r.levelno >= logging.ERROR] == ["ERROR"]  # that one, nothing else
    noticed = [r for r in caplog.records if r.name == "audit.consumers" and r.levelno == logging.WARNING]
    assert len(noticed) == 1  # the open socket noticed the outage: one line as well
    assert AuditEvent.objects.filter(event="provider.updated").count() == 5
