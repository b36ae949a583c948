"""An event reaches an open socket without a hop to the sync thread per socket.

channels' `AsyncConsumer.dispatch` awaits `aclose_old_connections()` (a `sync_to_async` call on
the one sync thread) before every message; for the events group that is one hop per socket per
event, queued behind each other (bench/bench_ws_fanout.py, docs/performance.md). The events
consumer dispatches its channel-layer messages directly; its websocket messages keep channels'
behaviour.
"""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels import consumer as channels_consumer
from channels.db import database_sync_to_async

from audit.tests.test_websocket import ORIGIN, change, connect, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


def test_events_reach_every_socket_with_no_sync_hop_per_socket(admin_user, monkeypatch):
    hops = []
    real = channels_consumer.aclose_old_connections

    async def counted():
        hops.append(1)
        await real()

    monkeypatch.setattr(channels_consumer, "aclose_old_connections", counted)
    headers = [ORIGIN, session_cookie(admin_user)]

    async def scenario():
        sockets = [connect(headers) for _ in range(5)]
        for ws in sockets:
            assert (await ws.connect())[0]
            assert (await ws.receive_json_from())["type"] == "hello"
        connecting = len(hops)
        for summary in ("first", "second", "third"):
            await database_sync_to_async(change)(summary)
        for ws in sockets:
            frames = [await ws.receive_json_from(timeout=5) for _ in range(3)]
            assert [f["event"]["summary"] for f in frames] == ["first", "second", "third"]
            await ws.disconnect()
        return connecting

    connecting = async_to_sync(scenario)()

    assert connecting >= 5  # the websocket messages (connect) still go through channels' dispatch
    assert len(hops) - connecting <= 5  # the disconnects at most; none for the 15 event deliveries
