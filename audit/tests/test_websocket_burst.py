"""Handshakes of `/ws/events/` that arrive together read their sessions and users together
(audit/wsauth.py): 30 consoles connecting at once cost a couple of batched reads, not 30, and
every one gets its hello; the batched read keeps the sign-in rules (no session, an expired or
signed-out one, a password changed since, an inactive user: anonymous, refused)."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.models import Session
from django.test import Client

from audit import wsauth
from audit.tests.test_websocket import ORIGIN, connect, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

BURST = 30


def test_a_burst_of_handshakes_reads_sessions_and_users_in_a_few_batches(viewer_user, admin_user, monkeypatch):
    batches: list[int] = []
    real = wsauth.read_users

    def counted(keys):
        batches.append(len(keys))
        return real(keys)

    monkeypatch.setattr(wsauth, "read_users", counted)
    cookies = [session_cookie(viewer_user if i % 2 else admin_user) for i in range(BURST)]

    async def scenario():
        sockets = [connect([ORIGIN, cookie]) for cookie in cookies]
        results = await asyncio.gather(*(ws.connect(timeout=30) for ws in sockets))
        assert all(connected for connected, _ in results)
        hellos = await asyncio.gather(*(ws.receive_json_from(timeout=30) for ws in sockets))
        for ws in sockets:
            await ws.disconnect()
        return hellos

    hellos = async_to_sync(scenario)()
    assert sorted(h["role"] for h in hellos) == sorted("viewer" if i % 2 else "admin" for i in range(BURST))
    # Every handshake's session was read, in far fewer reads than handshakes.
    assert sum(batches) == BURST
    assert len(batches) <= 3, batches


def test_the_batched_read_keeps_the_sign_in_rules(viewer_user, admin_user, outsider_user):
    def key_of(user) -> str:
        client = Client()
        client.force_login(user)
        return client.cookies[settings.SESSION_COOKIE_NAME].value

    valid, password_changed, inactive, signed_out = (key_of(u) for u in (viewer_user, admin_user, outsider_user, viewer_user))
    admin_user.set_password("a-new-password-for-alice")
    admin_user.save()
    outsider_user.is_active = False
    outsider_user.save()
    Session.objects.filter(session_key=signed_out).delete()

    found = wsauth.read_users({valid, password_changed, inactive, signed_out, "no-such-session"})
    assert found[valid] == viewer_user
    for key in (password_changed, inactive, signed_out, "no-such-session"):
        assert isinstance(found[key], AnonymousUser), key

    async def refused():
        ws = connect([ORIGIN, (b"cookie", f"{settings.SESSION_COOKIE_NAME}={password_changed}".encode())])
        connected, _ = await ws.connect()
        await ws.disconnect()
        return connected

    assert async_to_sync(refused)() is False
