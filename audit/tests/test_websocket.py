"""`WS /ws/events/` through the real ASGI application with Channels' WebsocketCommunicator."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from audit.events import record_event
from config.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://testserver")


def session_cookie(user) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return b"cookie", f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def connect(headers):
    return WebsocketCommunicator(application, "/ws/events/", headers=headers)


def change(summary: str) -> None:
    record_event(
        "provider.updated", provider_id="p1", summary=summary,
        payload={"changes": {"priority": {"before": 1, "after": 2}}},
    )


def test_admin_gets_hello_then_committed_events_in_order(admin_user):
    headers = [ORIGIN, session_cookie(admin_user)]

    async def scenario():
        ws = connect(headers)
        connected, _ = await ws.connect()
        assert connected
        assert await ws.receive_json_from() == {"type": "hello", "role": "admin"}
        await database_sync_to_async(change)("first")
        await database_sync_to_async(change)("second")
        one, two = await ws.receive_json_from(), await ws.receive_json_from()
        assert one["type"] == two["type"] == "event"
        assert [one["event"]["summary"], two["event"]["summary"]] == ["first", "second"]
        assert one["event"]["payload"] == {"changes": {"priority": {"before": 1, "after": 2}}}
        assert one["event"]["masked"] is False
        assert set(one["event"]) == {
            "id", "event", "provider_id", "actor", "summary", "payload", "masked", "created_at", "request_id",
            "client_request_id",
        }
        await ws.disconnect()

    async_to_sync(scenario)()


def test_viewer_gets_summaries_with_masked_payloads(viewer_user):
    headers = [ORIGIN, session_cookie(viewer_user)]

    async def scenario():
        ws = connect(headers)
        assert (await ws.connect())[0]
        assert await ws.receive_json_from() == {"type": "hello", "role": "viewer"}
        await database_sync_to_async(change)("alice changed priority of p1")
        message = await ws.receive_json_from()
        assert message["event"]["summary"] == "alice changed priority of p1"
        assert message["event"]["payload"] == {"changes": {"priority": {"before": "***", "after": "***"}}}
        assert message["event"]["masked"] is True
        await ws.disconnect()

    async_to_sync(scenario)()


def test_a_rolled_back_change_is_never_sent(admin_user):
    from django.db import transaction

    def failed_change():
        try:
            with transaction.atomic():
                change("rolled back")
                raise RuntimeError
        except RuntimeError:
            pass
        change("committed")

    headers = [ORIGIN, session_cookie(admin_user)]

    async def scenario():
        ws = connect(headers)
        assert (await ws.connect())[0]
        await ws.receive_json_from()
        await database_sync_to_async(failed_change)()
        assert (await ws.receive_json_from())["event"]["summary"] == "committed"
        assert await ws.receive_nothing()
        await ws.disconnect()

    async_to_sync(scenario)()


@pytest.mark.parametrize("who", ["anonymous", "outsider", "foreign-origin", "no-origin"])
def test_refused_before_accept(who, outsider_user, viewer_user):
    headers = {
        "anonymous": [ORIGIN],
        "outsider": [ORIGIN, session_cookie(outsider_user)],
        "foreign-origin": [(b"origin", b"http://evil.example"), session_cookie(viewer_user)],
        "no-origin": [session_cookie(viewer_user)],
    }[who]

    async def scenario():
        ws = connect(headers)
        connected, _ = await ws.connect()
        assert connected is False
        await ws.disconnect()

    async_to_sync(scenario)()
