"""200 open consoles during a Run all over 1,000 providers: nobody misses an event, each gets
every event in order, masked for viewers.

How much the fan-out slows the run down is a performance figure, measured by
`bench/bench_event_fanout.py` (`make bench`: the ratio to the run alone, target 1.5x), not
asserted here: this shared machine's speed swings by itself (a fixed loop's median round is
1.7x its best), which no timed assertion in the suite can tell from a regression.

The consoles are WebsocketCommunicators on the real ASGI application (the same consumer, the
same channel layer as under daphne: in memory by default, Redis with REDIS_URL). The providers
point at the provider simulator in a child process, as real providers would be: its work does
not compete with the site for this interpreter's lock. Run all goes through its URL.

Every wait is on a condition (the broadcast flushed, each console's frames queued), never a
pause guessed long enough.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from rest_framework.test import APIClient

from audit.broadcast import EVENTS_PER_FRAME, broadcaster
from audit.events import record_event
from audit.models import AuditEvent
from audit.tests.test_websocket import ORIGIN, session_cookie
from config.asgi import application
from providers.models import Kind, Provider

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS = 1000
CONSOLES = 200

SIMULATOR = """
import sys
from health.simulator import Route, SimulatorServer
server = SimulatorServer([Route("/v1", "openai_compatible", ["load-model"], latency_ms=int(sys.argv[1]))])
print(server.base_url, flush=True)
server.serve_forever()
"""


@pytest.fixture
def simulator_process():
    process = subprocess.Popen(
        [sys.executable, "-c", SIMULATOR, "20"], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


def latest_event_id() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def record_ping() -> int:
    with transaction.atomic():
        row = record_event("provider.updated", provider_id="load-0000", summary="load test: consoles ready")
    return row.id


def event_ids_after(event_id: int) -> list[int]:
    return list(AuditEvent.objects.filter(id__gt=event_id).order_by("id").values_list("id", flat=True))


async def events_until(ws: WebsocketCommunicator, count: int, deadline: float) -> tuple[list[dict], int]:
    """The next `count` events of one console, and the number of frames they came in."""
    loop = asyncio.get_running_loop()
    events: list[dict] = []
    frames = 0
    while len(events) < count:
        message = await asyncio.wait_for(ws.output_queue.get(), max(0.01, deadline - loop.time()))
        assert message["type"] == "websocket.send", message
        frame = json.loads(message["text"])
        frames += 1
        events += [frame["event"]] if frame["type"] == "event" else frame["events"]
    return events, frames


def test_200_consoles_get_every_event_of_a_run_all_over_1000_providers(admin_user, viewer_user, simulator_process):
    Provider.objects.bulk_create(
        Provider(
            id=f"load-{i:04d}", name=f"load-{i:04d}", kind=Kind.OPENAI_COMPATIBLE, endpoint=f"{simulator_process}/v1",
            default_model="load-model", secret_policy="none", priority=i, timeout_ms=10_000, retries=0,
        )
        for i in range(PROVIDERS)
    )
    api = APIClient()
    api.force_authenticate(admin_user)

    def run_all(flush: bool = True) -> float:
        started = time.perf_counter()
        response = api.post("/api/providers/test-all", {}, format="json")
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.content
        assert response.json()["passed"] == PROVIDERS
        # The fan-out runs off the request path: let this run's broadcast end before anything
        # else is measured, so no console opened next gets a previous run's events.
        if flush:
            assert broadcaster.flush(60)
        return elapsed

    run_all()  # warm-up: imports, connection pools
    cookies = {"admin": session_cookie(admin_user), "viewer": session_cookie(viewer_user)}

    async def with_consoles() -> tuple[float, float]:
        """One Run all with 200 consoles open: its time, and how long after its response every
        console had been written all its frames."""
        sockets = [
            WebsocketCommunicator(application, "/ws/events/", headers=[ORIGIN, cookies["admin" if i % 2 else "viewer"]])
            for i in range(CONSOLES)
        ]
        for ws in sockets:
            assert (await ws.connect(timeout=10))[0]
            assert (await ws.receive_json_from())["type"] == "hello"
        # Every console subscribed and streaming before the run is timed: one event first,
        # and wait until all of them have it (a condition, not a pause).
        ping = await database_sync_to_async(record_ping)()
        for ws in sockets:
            assert (await ws.receive_json_from(timeout=30))["event"]["id"] == ping
        before = await database_sync_to_async(latest_event_id)()
        elapsed = await sync_to_async(run_all)(flush=False)  # the fan-out is timed below
        committed = time.perf_counter()
        expected = await database_sync_to_async(event_ids_after)(before)
        assert len(expected) == PROVIDERS  # one provider.tested each, nothing moved
        # Wait until every console has been written its frames (batch frames: ten, not a
        # thousand); the condition, not a guess of how long that takes.
        frames = PROVIDERS // EVENTS_PER_FRAME
        while any(ws.output_queue.qsize() < frames for ws in sockets) and time.perf_counter() - committed < 60:
            await asyncio.sleep(0.01)
        fan_out = time.perf_counter() - committed
        deadline = asyncio.get_running_loop().time() + 10
        for i, ws in enumerate(sockets):
            events, received = await events_until(ws, len(expected), deadline)
            assert [event["id"] for event in events] == expected, f"console {i} missed events"
            assert received == frames
            assert {event["masked"] for event in events} == {i % 2 == 0}  # viewers: masked
        # Nothing more comes: no event twice.
        await asyncio.sleep(0.1)
        assert all(ws.output_queue.empty() for ws in sockets)
        for ws in sockets:
            await ws.disconnect()
        return elapsed, fan_out

    elapsed, fan_out = async_to_sync(with_consoles)()
    print(
        f"\nRun all over {PROVIDERS} providers with {CONSOLES} consoles open: {elapsed:.2f} s; every console had "
        f"all {PROVIDERS} events at most {fan_out:.2f} s after the response"
    )
