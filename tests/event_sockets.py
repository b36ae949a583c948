"""Real websocket clients of `/ws/events/` (asyncio) for tests and benches.

    session = sign_in(site, "alice", "password")
    async with EventSockets() as sockets:
        await sockets.open(site, session, count=10)
        ...                                  # commit events somewhere
        await sockets.wait_for(lambda s: all(event_id in s.ids for s in sockets.all), timeout=30)

Each socket keeps the events it received (`events`, in arrival order) and, per event id, the
wall-clock time (`time.time()`) its frame arrived, so a caller can compare it with the event's
`created_at` (written by the site on this machine's clock just before its transaction commits).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import struct
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import requests


def sign_in(site: Any, username: str, password: str) -> requests.Session:
    """A browser-like session signed in through the site's own form (the websocket needs its cookie)."""
    session = requests.Session()
    session.trust_env = False
    page = session.get(site.url + "/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = session.post(
        site.url + "/login/", data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": site.url + "/login/"}, allow_redirects=False, timeout=30,
    )
    assert answer.status_code == 302, f"sign-in of {username} answered {answer.status_code}"
    return session


def created_at(event: dict[str, Any]) -> float:
    """An event's `created_at` as a Unix time."""
    return datetime.fromisoformat(event["created_at"].replace("Z", "+00:00")).timestamp()


class EventSocket:
    """One websocket to `/ws/events/`: a minimal RFC 6455 client on asyncio streams (text frames,
    pings answered), since autobahn's asyncio flavour cannot load beside daphne's Twisted."""

    def __init__(self, site: Any) -> None:
        self.site = site
        self.role: str | None = None
        self.events: list[dict[str, Any]] = []
        self.arrived: dict[int, float] = {}
        self.closed: int | None = None
        self.ready: asyncio.Future = asyncio.get_running_loop().create_future()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task | None = None

    @property
    def ids(self) -> list[int]:
        return [event["id"] for event in self.events]

    async def connect(self, cookies: str) -> None:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.site.port)
        key = base64.b64encode(os.urandom(16)).decode()
        self._writer.write((
            f"GET /ws/events/ HTTP/1.1\r\nHost: 127.0.0.1:{self.site.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {self.site.url}\r\nCookie: {cookies}\r\n\r\n"
        ).encode())
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = head.split(b" ", 2)[1]
        if status != b"101":
            raise ConnectionError(f"websocket handshake answered {status.decode()}")
        self._task = asyncio.create_task(self._read_frames())

    async def _read_frames(self) -> None:
        message = b""
        try:
            while True:
                first, second = await self._reader.readexactly(2)
                length = second & 0x7F
                if length == 126:
                    length = struct.unpack("!H", await self._reader.readexactly(2))[0]
                elif length == 127:
                    length = struct.unpack("!Q", await self._reader.readexactly(8))[0]
                payload = await self._reader.readexactly(length)  # a server's frames are not masked
                opcode = first & 0x0F
                if opcode == 0x8:  # close
                    self.closed = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                    break
                if opcode == 0x9:  # ping: a pong, or daphne closes the socket
                    self._send(0xA, payload)
                    continue
                if opcode in (0x1, 0x0):
                    message += payload
                    if first & 0x80:  # the message's last fragment
                        self._on_message(message)
                        message = b""
        except (asyncio.IncompleteReadError, ConnectionError):
            self.closed = self.closed or 1006
        finally:
            if not self.ready.done():
                self.ready.set_exception(ConnectionError(f"closed before hello: {self.closed}"))

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        self._writer.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)  # control frames: < 126 bytes

    def _on_message(self, payload: bytes) -> None:
        arrived = time.time()
        frame = json.loads(payload)
        if frame["type"] == "hello":
            self.role = frame["role"]
            if not self.ready.done():
                self.ready.set_result(True)
            return
        events = [frame["event"]] if frame["type"] == "event" else frame.get("events", [])
        for event in events:
            self.events.append(event)
            self.arrived.setdefault(event["id"], arrived)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._writer is not None:
            self._writer.close()


class EventSockets:
    def __init__(self) -> None:
        self.all: list[EventSocket] = []

    async def __aenter__(self) -> EventSockets:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for socket in self.all:
            await socket.close()
        await asyncio.sleep(0)

    async def open(self, site: Any, session: requests.Session, count: int = 1, timeout: float = 60) -> list[EventSocket]:
        """`count` sockets to `site`, signed in as `session`; returns once each has its hello."""
        cookies = "; ".join(f"{key}={value}" for key, value in session.cookies.items())
        opened = [EventSocket(site) for _ in range(count)]
        self.all.extend(opened)
        for socket in opened:
            await asyncio.wait_for(socket.connect(cookies), timeout)
        await asyncio.wait_for(asyncio.gather(*(socket.ready for socket in opened)), timeout)
        return opened

    async def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True
