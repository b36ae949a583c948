"""The session's user for `/ws/events/` handshakes, read for every waiting handshake at once.

Channels' `AuthMiddlewareStack` reads the session and the user of each handshake in a
`database_sync_to_async` call of its own, and those calls run one after another on the one
thread Django's sync code shares. When a team's consoles reconnect together (a restart), 200
handshakes queued 200 calls: on PostgreSQL the last ones finished after daphne's 5 s handshake
timeout and were dropped (docs/performance.md, "Websocket connects"). Here handshakes that
arrive while a read is running wait for the next one, which reads all their sessions in one
query and all their users in another, as the consumer's admission (`audit.access`) already reads
their access.

What it puts in the scope is what `AuthMiddlewareStack` would: `session` (a session store for the
cookie's key) and `user` (the session's user, or an anonymous one when the session is missing,
expired, signed by another backend, made before a password change, or its user is inactive).
The consumer's admission reads the access again from the database before the socket is
accepted, so this is never the only check.
"""

from __future__ import annotations

import asyncio
import weakref
from http.cookies import SimpleCookie
from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import AnonymousUser
from django.utils.crypto import constant_time_compare

from audit.access import sessions_by_key


def _session_key(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers") or []:
        if name == b"cookie":
            cookie = SimpleCookie()
            try:
                cookie.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header: no session
                return None
            morsel = cookie.get(settings.SESSION_COOKIE_NAME)
            return morsel.value if morsel is not None else None
    return None


def _verified(user, session: dict[str, Any]) -> bool:
    """django.contrib.auth.get_user's rules for a session's user."""
    if not user.is_active or session.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS:
        return False
    session_hash = session.get(HASH_SESSION_KEY) or ""
    return bool(session_hash) and (
        constant_time_compare(session_hash, user.get_session_auth_hash())
        or any(constant_time_compare(session_hash, old) for old in user.get_session_auth_fallback_hash())
    )


def read_users(session_keys: set[str]) -> dict[str, Any]:
    """session key → its user (or AnonymousUser), two queries whatever the number of keys."""
    sessions = sessions_by_key(session_keys)
    user_ids = {str(data.get(SESSION_KEY)) for data in sessions.values() if data.get(SESSION_KEY) is not None}
    users = {str(user.pk): user for user in get_user_model().objects.filter(pk__in=user_ids)} if user_ids else {}
    found: dict[str, Any] = {}
    for key in session_keys:
        data = sessions.get(key)
        user = users.get(str(data.get(SESSION_KEY))) if data else None
        found[key] = user if user is not None and _verified(user, data) else AnonymousUser()
    return found


class _Reader:
    """The handshakes of one event loop waiting for their users, read together."""

    def __init__(self) -> None:
        self._waiting: set[str] = set()
        self._batch: asyncio.Future | None = None
        self._reading: asyncio.Task | None = None

    async def user_for(self, session_key: str) -> Any:
        self._waiting.add(session_key)
        if self._batch is None:
            self._batch = asyncio.get_running_loop().create_future()
            if self._reading is None or self._reading.done():
                self._reading = asyncio.ensure_future(self._read_waiting())
        found = await asyncio.shield(self._batch)
        return found[session_key]

    async def _read_waiting(self) -> None:
        while self._batch is not None:
            keys, batch = self._waiting, self._batch
            self._waiting, self._batch = set(), None
            try:
                batch.set_result(await database_sync_to_async(read_users)(keys))
            except Exception as exc:
                batch.set_exception(exc)


_readers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Reader] = weakref.WeakKeyDictionary()


def _reader() -> _Reader:
    loop = asyncio.get_running_loop()
    found = _readers.get(loop)
    if found is None:
        found = _readers[loop] = _Reader()
    return found


class SessionUserMiddleware:
    """`scope["session"]` and `scope["user"]` for a websocket, from the session cookie."""

    def __init__(self, inner):
        self.inner = inner
        self.store_class = import_module(settings.SESSION_ENGINE).SessionStore

    async def __call__(self, scope, receive, send):
        key = _session_key(scope)
        user = await _reader().user_for(key) if key else AnonymousUser()
        scope = {**scope, "session": self.store_class(session_key=key), "user": user}
        return await self.inner(scope, receive, send)
