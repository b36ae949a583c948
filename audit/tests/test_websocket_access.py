"""The events websocket re-checks access while it is open, and refuses users without a role."""

from __future__ import annotations

import time

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client
from guardian.shortcuts import assign_perm

from audit.consumers import CLOSE_ACCESS_REVOKED
from audit.tests.test_websocket import ORIGIN, change, connect, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

CLOSE_WITHIN_SECONDS = 2.0


def signed_in(user) -> tuple[Client, tuple[bytes, bytes]]:
    """A browser's session: the client that can sign out, and its cookie for the websocket."""
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    return client, (b"cookie", cookie.encode())


def closes_within_two_seconds(user, action) -> None:
    """Open a socket as `user`, run `action` (sync, may use the DB), and see the socket closed."""
    client, cookie = signed_in(user)

    async def scenario():
        ws = connect([ORIGIN, cookie])
        assert (await ws.connect())[0]
        assert (await ws.receive_json_from())["type"] == "hello"
        await database_sync_to_async(action)(client)
        started = time.monotonic()
        output = await ws.receive_output(timeout=CLOSE_WITHIN_SECONDS + 1)
        waited = time.monotonic() - started
        assert output == {"type": "websocket.close", "code": CLOSE_ACCESS_REVOKED}
        assert waited <= CLOSE_WITHIN_SECONDS
        # Nothing is sent on a revoked socket, not even what is committed next.
        await database_sync_to_async(change)("after the socket closed")
        assert await ws.receive_nothing(0.3)
        await ws.disconnect()

    async_to_sync(scenario)()


def test_signing_out_closes_the_socket_of_that_session(viewer_user):
    closes_within_two_seconds(viewer_user, lambda client: client.post("/logout/"))


@pytest.mark.parametrize("how", ["saved", "updated in bulk"])
def test_deactivating_the_user_closes_their_socket(viewer_user, how):
    def deactivate(client):
        if how == "saved":
            viewer_user.is_active = False
            viewer_user.save()
        else:  # no signal is sent: the socket must still notice
            get_user_model().objects.filter(pk=viewer_user.pk).update(is_active=False)

    closes_within_two_seconds(viewer_user, deactivate)


def test_removing_the_role_closes_the_socket(viewer_user):
    closes_within_two_seconds(viewer_user, lambda client: viewer_user.groups.clear())


def test_changing_the_password_closes_the_socket(viewer_user):
    def change_password(client):
        viewer_user.set_password("a-new-password-0123")
        viewer_user.save()

    closes_within_two_seconds(viewer_user, change_password)


def test_another_session_of_the_same_user_stays_open(viewer_user):
    client, cookie = signed_in(viewer_user)
    _, other_cookie = signed_in(viewer_user)

    async def scenario():
        ws, other = connect([ORIGIN, cookie]), connect([ORIGIN, other_cookie])
        for socket in (ws, other):
            assert (await socket.connect())[0]
            await socket.receive_json_from()
        await database_sync_to_async(client.post)("/logout/")
        assert (await ws.receive_output(timeout=3))["type"] == "websocket.close"
        await database_sync_to_async(change)("still streaming")
        assert (await other.receive_json_from(timeout=3))["event"]["summary"] == "still streaming"
        await ws.disconnect()
        await other.disconnect()

    async_to_sync(scenario)()


def test_a_demoted_admin_gets_masked_payloads_from_the_next_event_on(admin_user):
    _, cookie = signed_in(admin_user)

    def demote():
        admin_user.groups.set([Group.objects.get(name="viewer")])
        admin_user.is_staff = False
        admin_user.save()

    async def scenario():
        ws = connect([ORIGIN, cookie])
        assert (await ws.connect())[0]
        assert await ws.receive_json_from() == {"type": "hello", "role": "admin"}
        await database_sync_to_async(change)("before")
        assert (await ws.receive_json_from())["event"]["masked"] is False
        await database_sync_to_async(demote)()
        await database_sync_to_async(change)("right after the demotion")
        message = await ws.receive_json_from()
        assert message["event"]["summary"] == "right after the demotion"
        assert message["event"]["masked"] is True
        assert message["event"]["payload"] == {"changes": {"priority": {"before": "***", "after": "***"}}}
        assert await ws.receive_nothing(1.5)  # a viewer keeps the socket
        await ws.disconnect()

    async_to_sync(scenario)()


@pytest.mark.parametrize("how", ["user permission", "delegated provider"])
def test_a_user_without_a_role_is_refused_so_the_hello_never_says_role_null(outsider_user, provider_factory, how):
    if how == "user permission":
        outsider_user.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    else:  # guardian grants on one provider, as `manage.py delegate` gives
        provider = provider_factory(id="p1")
        for perm in ("providers.view_provider", "providers.change_provider"):
            assign_perm(perm, outsider_user, provider)
    headers = [ORIGIN, session_cookie(outsider_user)]

    async def scenario():
        ws = connect(headers)
        connected, _ = await ws.connect()
        assert connected is False
        await ws.disconnect()

    async_to_sync(scenario)()


def test_a_single_event_message_sent_to_the_group_by_other_code_is_still_masked_for_viewers(viewer_user):
    from channels.layers import get_channel_layer

    from audit.events import EVENTS_GROUP

    _, cookie = signed_in(viewer_user)
    row = {"id": 1, "event": "provider.updated", "provider_id": "p1", "actor": "alice", "summary": "s",
           "payload": {"priority": 2}, "masked": False, "created_at": "2026-01-01T00:00:00.000000Z",
           "request_id": None, "client_request_id": None}

    async def scenario():
        ws = connect([ORIGIN, cookie])
        assert (await ws.connect())[0]
        await ws.receive_json_from()
        await get_channel_layer().group_send(EVENTS_GROUP, {"type": "audit.event", "event": row})
        frame = await ws.receive_json_from()
        assert frame == {"type": "event", "event": {**row, "payload": {"priority": "***"}, "masked": True}}
        await ws.disconnect()

    async_to_sync(scenario)()
