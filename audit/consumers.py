"""`WS /ws/events/`: the live audit stream (API.md, "Events").

Session-authenticated and same-origin only (the origin check wraps this consumer in
config/asgi.py). Anonymous users and users without a role are closed before accept. After
connect: `{"type": "hello", "role": ...}`, then one `{"type": "event", ...}` per committed
audit row, in commit order, with payload values masked for anyone who may not change
providers — the same rule as `GET /api/events`.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from accounts.roles import role_of
from audit.api import sees_payloads
from audit.events import EVENTS_GROUP, masked_event


def _access(user) -> tuple[bool, str | None, bool]:
    """(may connect, role, sees payload values), read once per connection."""
    if not (user and user.is_authenticated and user.has_perm("audit.view_auditevent")):
        return False, None, False
    return True, role_of(user), sees_payloads(user)


class EventsConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        allowed, self.role, self.unmasked = await database_sync_to_async(_access)(self.scope.get("user"))
        if not allowed:
            await self.close()  # before accept: the handshake is refused
            return
        await self.channel_layer.group_add(EVENTS_GROUP, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello", "role": self.role})

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(EVENTS_GROUP, self.channel_name)

    async def audit_event(self, message: dict[str, Any]) -> None:
        event = message["event"] if self.unmasked else masked_event(message["event"])
        await self.send_json({"type": "event", "event": event})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """The stream is one-way; anything a client sends is ignored."""
