"""Who may keep an events websocket open, read again while it is open.

The rule is the API's for `GET /api/events` plus a role: a signed-in, active user whose session
is still valid, who has a role (`admin` or `viewer`; a user without a role, such as one with
only delegated providers, is refused), and who holds `audit.view_auditevent`. Payload values
are sent in clear only to users who may change providers (`audit.api.sees_payloads`).

`read_access()` reads it for many sockets at once. `AccessWatcher` (one per event loop) keeps
what it read for every open socket and reads again:
- before frames are written: a consumer that receives an event message asks for access read
  after the message was sent; the first to ask starts one read and the others wait for it, so a
  demoted admin's next frames are masked at once, for one read per message, not per socket;
- every EVENTS_ACCESS_RECHECK_SECONDS (default 1 s): sockets whose user signed out, was
  deactivated or lost their role are closed (code 4403), within about a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.module_loading import import_string

from audit.broadcast import OutageLog

logger = logging.getLogger(__name__)

# (user id, session key) of one socket.
Key = tuple[Any, str | None]

_DB_SESSION_ENGINES = ("django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db")


def role_of(user) -> str | None:
    """The user's role (`admin`, `viewer`) or None, by the function `settings.AUDIT_ROLE_OF` names:
    roles belong to `accounts`, which `audit` does not import."""
    return import_string(settings.AUDIT_ROLE_OF)(user)


@dataclass(frozen=True)
class Access:
    allowed: bool
    role: str | None = None
    unmasked: bool = False


DENIED = Access(False)


def read_admission(keys: Iterable[Key]) -> tuple[dict[Key, Access], int]:
    """`read_access(keys)` and the id of the newest audit event (where the new sockets' stream
    starts), in one trip to the database thread."""
    from audit.models import AuditEvent

    latest = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return read_access(keys), latest


def read_access(keys: Iterable[Key]) -> dict[Key, Access]:
    """What each (user id, session key) may do now. Queries: the users with their groups, the
    sessions, and each distinct user's model permissions (Django's ModelBackend)."""
    keys = set(keys)
    user_ids = {user_id for user_id, _ in keys if user_id is not None}
    users = {user.pk: user for user in get_user_model().objects.filter(pk__in=user_ids).prefetch_related("groups")}
    sessions = _sessions({session_key for _, session_key in keys if session_key})
    return {(user_id, key): _access_of(users.get(user_id), sessions.get(key)) for user_id, key in keys}


def _sessions(session_keys: set[str]) -> dict[str, dict[str, Any]]:
    """The data of the sessions that still exist (a sign-out deletes its session)."""
    if not session_keys:
        return {}
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    if settings.SESSION_ENGINE in _DB_SESSION_ENGINES:
        rows = (
            store_class.get_model_class()
            .objects.filter(session_key__in=session_keys, expire_date__gt=timezone.now())
            .values_list("session_key", "session_data")
        )
        decoder = store_class()
        return {key: decoder.decode(data) for key, data in rows}
    found = {key: store_class(session_key=key).load() for key in session_keys}
    return {key: data for key, data in found.items() if data}


# The websocket handshakes' batched session read (audit/wsauth.py) uses the same one.
sessions_by_key = _sessions


def _access_of(user, session: dict[str, Any] | None) -> Access:
    from audit.api import sees_payloads

    if user is None or not session or not user.is_active:
        return DENIED
    if str(session.get(SESSION_KEY)) != str(user.pk):
        return DENIED
    if session.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS:
        return DENIED
    session_hash = session.get(HASH_SESSION_KEY) or ""
    if not session_hash or not (
        constant_time_compare(session_hash, user.get_session_auth_hash())
        or any(constant_time_compare(session_hash, old) for old in user.get_session_auth_fallback_hash())
    ):
        return DENIED  # the password changed since this session signed in
    role = role_of(user)
    if role is None or not user.has_perm("audit.view_auditevent"):
        return DENIED
    return Access(True, role, sees_payloads(user))


class AccessWatcher:
    """The event sockets open in one event loop and what their users may see now."""

    # A socket's group membership is renewed well before the layers' group expiry (one day).
    RENEW_SUBSCRIPTION_SECONDS = 3600.0

    def __init__(self) -> None:
        self.sockets: dict[Any, Key] = {}
        self.access: dict[Key, Access] = {}
        self.read_started = 0.0  # time.time() at which the read behind `access` began
        self._read: asyncio.Future | None = None
        self._read_since = 0.0
        self._timer: asyncio.Task | None = None
        self._waiting: set[Key] = set()
        self._admission: asyncio.Future | None = None
        self._admitting: asyncio.Task | None = None
        self._outage = OutageLog("Re-reading the access of open event sockets", logger)

    async def admit(self, consumer: Any, key: Key) -> tuple[Access, int]:
        """Read `key`'s access now; when allowed, watch the socket until `forget()`. Also returns
        the newest event id. Sockets that connect together share one read: 200 consoles
        opening at once must all finish their handshake within the server's timeout."""
        self._waiting.add(key)
        if self._admission is None:
            self._admission = asyncio.get_running_loop().create_future()
            if self._admitting is None or self._admitting.done():
                self._admitting = asyncio.ensure_future(self._admit_waiting())
        found, latest = await asyncio.shield(self._admission)
        access = found[key]
        if access.allowed:
            self.sockets[consumer] = key
            self.access[key] = access
            if self._timer is None or self._timer.done():
                self._timer = asyncio.ensure_future(self._recheck_periodically())
        return access, latest

    async def _admit_waiting(self) -> None:
        """One read for every socket waiting to be admitted; those that arrive meanwhile wait
        for the next one."""
        while self._admission is not None:
            keys, admission = self._waiting, self._admission
            self._waiting, self._admission = set(), None
            try:
                admission.set_result(await database_sync_to_async(read_admission)(keys))
            except Exception as exc:
                admission.set_exception(exc)

    def forget(self, consumer: Any) -> None:
        key = self.sockets.pop(consumer, None)
        if key is not None and key not in self.sockets.values():
            self.access.pop(key, None)
        if not self.sockets and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def current(self, key: Key, *, since: float) -> Access:
        """`key`'s access as read after `since` (a time.time() value)."""
        since = min(since, time.time())  # another server's clock may run ahead of this one's
        if key not in self.access or self.read_started < since:
            await self.refresh(since)
        return self.access.get(key, DENIED)

    async def refresh(self, since: float) -> None:
        """Read every watched socket's access, unless a read that began after `since` is running."""
        if self._read is None or self._read.done() or self._read_since < since:
            self._read_since = time.time()
            self._read = asyncio.ensure_future(self._read_all(self._read_since))
        await asyncio.shield(self._read)

    async def _read_all(self, started: float) -> None:
        keys = set(self.sockets.values())
        try:
            found = await database_sync_to_async(read_access)(keys)
        except Exception as exc:  # keep what was last read; the next read tries again
            self._outage.failed(exc)
            return
        self._outage.recovered()
        if started < self.read_started:
            return  # a later read has already landed
        watched = set(self.sockets.values())
        self.access = {key: found[key] if key in found else self.access[key] for key in watched if key in found or key in self.access}
        self.read_started = started

    async def _recheck_periodically(self) -> None:
        interval = float(settings.EVENTS_ACCESS_RECHECK_SECONDS)
        while self.sockets:
            await asyncio.sleep(interval)
            await self.refresh(time.time())
            now = time.monotonic()
            for consumer, key in list(self.sockets.items()):
                if not self.access.get(key, DENIED).allowed:
                    self.forget(consumer)
                    asyncio.ensure_future(consumer.revoke())
                elif now - consumer.subscribed_at > self.RENEW_SUBSCRIPTION_SECONDS:
                    asyncio.ensure_future(consumer.subscribe())


_watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AccessWatcher] = weakref.WeakKeyDictionary()


def watcher() -> AccessWatcher:
    """The watcher of the running event loop."""
    loop = asyncio.get_running_loop()
    found = _watchers.get(loop)
    if found is None:
        found = _watchers[loop] = AccessWatcher()
    return found
