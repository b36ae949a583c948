"""`WS /ws/events/`: the live audit stream (API.md, "Events").

Session-authenticated and same-origin only (the origin check wraps this consumer in
config/asgi.py). Anonymous users, users without a role (a user with delegated providers only)
and users without `audit.view_auditevent` are closed before accept, so the hello never says
`role: null`. After connect: `{"type": "hello", "role": ...}`, then every committed audit row,
in commit order: a `{"type": "event", "event": {...}}` frame for an event written on its own,
`{"type": "events", "events": [...]}` frames for the rows of a Run all (audit/broadcast.py),
with payload values masked for anyone who may not change providers (the rule of
`GET /api/events`).

Access is read again while the socket is open (audit/access.py): before each batch of frames,
so a demoted admin's next frames are masked, and every second, so signing out, being
deactivated or losing one's role closes the socket (code 4403).

The channel layer is a helper, not the source of truth: when it fails (Redis down) the socket
stays open, the consumer retries, subscribes again when the layer is back and first sends the
events committed meanwhile, read from the database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch

from audit.access import Access, AccessWatcher, watcher
from audit.broadcast import (
    EVENTS_GROUP,
    EVENTS_PER_FRAME,
    OutageLog,
    broadcaster,
    frames_for,
    split_frames,
    without_events,
)
from audit.events import masked_event, serialize_event
from audit.models import AuditEvent

# Close code when the user's access ends while the socket is open (signed out, deactivated,
# role removed). The page's script does not reconnect after it.
CLOSE_ACCESS_REVOKED = 4403
# Events sent from the database after a channel-layer outage; a longer gap is refilled by the
# page's script from GET /api/events?after_id=… when it sees the next event's id.
REFILL_LIMIT = 1000
RETRY_MAX_SECONDS = 2.0
YIELD_EVERY_FRAMES = 100

# A warning: the outage itself is the broadcaster's error (logged once); this says the open
# sockets noticed it and wait for the layer to come back.
_layer_outage = OutageLog(
    "Receiving audit events from the channel layer", logging.getLogger(__name__), level=logging.WARNING
)


def _events_after(event_id: int, limit: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(id__gt=event_id).order_by("id")[:limit])


class EventsConsumer(AsyncWebsocketConsumer):
    watcher: AccessWatcher | None = None
    key: tuple[Any, str | None] | None = None
    last_event_id = 0
    subscribed_at = 0.0

    async def __call__(self, scope, receive, send):
        """channels' AsyncConsumer.__call__, with a channel-layer receive that outlives an outage
        of the layer instead of ending the consumer (and closing the socket) on its first error."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = await self.channel_layer.new_channel()
        self.channel_receive = self._receive_from_layer
        self.base_send = send
        self._subscribed = False
        self._accepted = asyncio.Event()  # the layer is used only for accepted sockets
        self._closed = False
        self._refilled: set[int] = set()
        try:
            await await_many_dispatch([receive, self.channel_receive], self.dispatch)
        except StopConsumer:
            pass

    # Messages from the channel layer: their handlers reach the database only through
    # database_sync_to_async (the shared access read, the refill), which closes stale connections
    # itself. channels' dispatch would first hop to the one sync thread to close them, once per
    # socket per message: 200 sockets queue 200 hops behind each other for every event.
    LAYER_MESSAGES = frozenset({"audit.events", "audit.event", "audit.refill"})

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message["type"] in self.LAYER_MESSAGES:
            await getattr(self, message["type"].replace(".", "_"))(message)
        else:
            await super().dispatch(message)

    # -- the socket -----------------------------------------------------------------------------
    async def connect(self) -> None:
        user = self.scope.get("user")
        session = self.scope.get("session")
        if not (user is not None and user.is_authenticated and session is not None):
            await self.close()  # before accept: the handshake is refused
            return
        self.key = (user.pk, session.session_key)
        self.watcher = watcher()
        access, self.last_event_id = await self.watcher.admit(self, self.key)
        if not access.allowed:
            await self.close()
            return
        broadcaster.listen_on(asyncio.get_running_loop())
        await self.subscribe()  # when the layer is down, the receive loop retries
        self._accepted.set()
        await self.accept()
        await self.send(text_data=json.dumps({"type": "hello", "role": access.role}))

    async def disconnect(self, code: int) -> None:
        self._closed = True
        if self.watcher is not None:
            self.watcher.forget(self)
        if not self._accepted.is_set():
            return
        try:
            await self.channel_layer.group_discard(EVENTS_GROUP, self.channel_name)
        except Exception:  # the layer is down: the membership expires with the group
            pass

    async def receive(self, text_data=None, bytes_data=None) -> None:
        """The stream is one-way; anything a client sends is ignored."""

    async def revoke(self) -> None:
        """The user may no longer read the stream: close the socket."""
        if self._closed:
            return
        self._closed = True
        if self.watcher is not None:
            self.watcher.forget(self)
        await self.close(code=CLOSE_ACCESS_REVOKED)

    # -- the channel layer ----------------------------------------------------------------------
    async def subscribe(self) -> bool:
        try:
            await self.channel_layer.group_add(EVENTS_GROUP, self.channel_name)
        except Exception as exc:
            _layer_outage.failed(exc)
            self._subscribed = False
            return False
        self._subscribed = True
        self.subscribed_at = time.monotonic()
        return True

    async def _receive_from_layer(self) -> dict[str, Any]:
        await self._accepted.wait()
        delay = 0.1
        while True:
            if not self._subscribed:
                if await self.subscribe():
                    _layer_outage.recovered()
                    return {"type": "audit.refill"}
            else:
                try:
                    return await self.channel_layer.receive(self.channel_name)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    _layer_outage.failed(exc)
                    self._subscribed = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_SECONDS)

    # -- messages -------------------------------------------------------------------------------
    async def _access_since(self, since: float) -> Access | None:
        """The user's access read after `since`; None (and the socket closed) when it ended."""
        if self._closed or self.watcher is None or self.key is None:
            return None
        access = await self.watcher.current(self.key, since=since)
        if not access.allowed:
            await self.revoke()
            return None
        return access

    async def audit_events(self, message: dict[str, Any]) -> None:
        """One group message from audit.broadcast: the frames of one or more commits."""
        access = await self._access_since(message["sent_at"])
        if access is None:
            return
        ids: list[int] = message["ids"]
        frames = split_frames(message, masked=not access.unmasked)
        if self._refilled:  # some were sent already from the database after an outage
            frames = [kept for frame in frames if (kept := without_events(frame, self._refilled)) is not None]
            if ids and min(ids) > max(self._refilled):
                self._refilled = set()
        for count, frame in enumerate(frames, 1):
            await self.base_send({"type": "websocket.send", "text": frame})
            if count % YIELD_EVERY_FRAMES == 0:
                await asyncio.sleep(0)  # a Run all is 1,000 frames: let other sockets and requests in
        if ids:
            self.last_event_id = max(self.last_event_id, *ids)

    async def audit_event(self, message: dict[str, Any]) -> None:
        """A single event row sent to the group by other code (`{"type": "audit.event",
        "event": {event row}}`, the message this consumer used to get): one `event` frame."""
        access = await self._access_since(time.time())
        if access is None:
            return
        event = message["event"] if access.unmasked else masked_event(message["event"])
        await self.send(text_data=frames_for([event], batch=False)[0])

    async def audit_refill(self, message: dict[str, Any]) -> None:
        """Back from a channel-layer outage: send what was committed meanwhile."""
        access = await self._access_since(time.time())
        if access is None:
            return
        rows = await database_sync_to_async(_events_after)(self.last_event_id, REFILL_LIMIT)
        events = [serialize_event(row, masked=not access.unmasked) for row in rows]
        for frame in frames_for(events, batch=len(events) > EVENTS_PER_FRAME):
            await self.send(text_data=frame)
        if rows:
            self._refilled = {row.id for row in rows}
            self.last_event_id = max(self.last_event_id, rows[-1].id)
