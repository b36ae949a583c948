"""Committed audit rows to the `events` channel-layer group, off the request path.

`record_event()` registers one on-commit callback per call (Django drops it when its savepoint
or transaction rolls back). On commit the callback calls `broadcaster.submit(rows)`, which only
appends to a list and wakes the broadcast thread; the request never waits for the fan-out.

The broadcast thread (one per process, with its own event loop) takes everything submitted
since its previous round, encodes the websocket frames once as an admin sees them and once as a
viewer sees them (payload values masked), and sends them all in ONE group message; each console
writes the frames it gets, in commit order:
- an event written on its own (`record_event`: a change, a secret action, a status move) is one
  frame `{"type": "event", "event": {...}}`, as API.md has it;
- the events written together by `record_events` (the `provider.tested` rows of a Run all) are
  batch frames `{"type": "events", "events": [{...}, ...]}` of at most EVENTS_PER_FRAME events
  (one event alone is an `event` frame). A Run all over 1,000 providers is one group message
  and ten frames per console instead of a thousand: 200 consoles cost the server 2,000 writes.

Where the group message is sent from: the in-memory layer keeps its queues in the event loop of
the server that runs the consumers (asyncio queues belong to one loop), so there
(`run_coroutine_threadsafe` on the loop the consumers registered); channels-redis from the
broadcast thread's own loop.

A failure (Redis down, a server loop gone) is logged once, not once per event, and again once
when broadcasting works again, with the number of events that were not broadcast. It never
reaches the request that made the change: the change and its audit row are committed, and open
consoles get what they missed back from the database (the consumer refills after a channel-layer
outage; the page's script refills any gap in event ids from `GET /api/events?after_id=`).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer

logger = logging.getLogger(__name__)

EVENTS_GROUP = "events"
MESSAGE_TYPE = "audit.events"
# How long one group_send may take before the round is given up and logged as a failure.
SEND_TIMEOUT_SECONDS = 5.0
# Separates the frames of one group message: JSON text never contains a raw newline, and one
# string is copied for free where a list of 1,000 strings is not (the in-memory layer deep-copies
# the message for every member of the group).
FRAME_SEPARATOR = "\n"
# A batch frame holds at most this many events (about 70 kB for check results): small enough
# for any websocket client's default message size limit.
EVENTS_PER_FRAME = 100


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


def frames_for(events: list[dict[str, Any]], *, batch: bool) -> list[str]:
    """The websocket frames for event rows: one `event` frame each, or `events` batch frames."""
    if not batch or len(events) == 1:
        return [_dumps({"type": "event", "event": event}) for event in events]
    return [
        _dumps({"type": "events", "events": events[start : start + EVENTS_PER_FRAME]})
        for start in range(0, len(events), EVENTS_PER_FRAME)
    ]


def without_events(frame: str, event_ids: set[int]) -> str | None:
    """`frame` less the events in `event_ids` (None when nothing is left)."""
    data = json.loads(frame)
    if data["type"] == "event":
        return None if data["event"]["id"] in event_ids else frame
    kept = [event for event in data["events"] if event["id"] not in event_ids]
    return frames_for(kept, batch=True)[0] if kept else None  # fewer events: still one frame


def group_message(units: Sequence[tuple[Sequence[Any], bool]]) -> dict[str, Any]:
    """One group message for committed rows, given as (rows, written as a batch) in commit
    order: their ids and their frames, for admins and for viewers."""
    from audit.events import masked_event, serialize_event

    ids: list[int] = []
    frames: list[str] = []
    masked_frames: list[str] = []
    for rows, batch in units:
        events = [serialize_event(row) for row in rows]
        ids += [event["id"] for event in events]
        frames += frames_for(events, batch=batch)
        masked_frames += frames_for([masked_event(event) for event in events], batch=batch)
    return {
        "type": MESSAGE_TYPE,
        "ids": ids,
        "frames": FRAME_SEPARATOR.join(frames),
        "masked_frames": FRAME_SEPARATOR.join(masked_frames),
        # When the rows were committed at the latest: a console re-reads its user's access from
        # a read started after this before it writes the frames (audit.access).
        "sent_at": time.time(),
    }


def split_frames(message: dict[str, Any], *, masked: bool) -> list[str]:
    text = message["masked_frames" if masked else "frames"]
    return text.split(FRAME_SEPARATOR) if text else []


class OutageLog:
    """Logs the first failure of an outage and the recovery, and nothing in between."""

    def __init__(self, what: str, log: logging.Logger = logger, level: int = logging.ERROR):
        self.what = what
        self.log = log
        self.level = level
        self.failing = False
        self.missed = 0

    def failed(self, exc: BaseException, *, missed: int = 0) -> None:
        self.missed += missed
        if not self.failing:
            self.failing = True
            self.log.log(
                self.level,
                "%s failed (%s: %s); further failures are not logged until it works again. "
                "Changes are still saved and audited; open consoles refill what they missed.",
                self.what, type(exc).__name__, str(exc)[:200],
            )

    def recovered(self) -> None:
        if self.failing:
            self.failing = False
            missed = f" ({self.missed} events were not broadcast meanwhile)" if self.missed else ""
            self.log.log(max(logging.INFO, self.level - 10), "%s works again%s.", self.what, missed)
            self.missed = 0


class Broadcaster:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending: list[tuple[Sequence[Any], bool]] = []
        self._submitted = 0
        self._finished = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._server_loop: asyncio.AbstractEventLoop | None = None
        self.outage = OutageLog("Broadcasting audit events to the open consoles")

    # -- called from any thread -----------------------------------------------------------------
    def submit(self, rows: Sequence[Any], batch: bool = False) -> None:
        """Queue committed rows (written together when `batch`) for broadcasting; returns at
        once and never raises."""
        if not rows:
            return
        try:
            with self._lock:
                self._pending.append((rows, batch))
                self._submitted += len(rows)
                loop = self._loop or self._start()
            loop.call_soon_threadsafe(self._wake.set)  # type: ignore[union-attr]
        except Exception:  # never fail the request that committed the change
            logger.exception("could not queue %s audit events for broadcasting", len(rows))

    def listen_on(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop that runs the consumers (the in-memory layer delivers there)."""
        self._server_loop = loop

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far has been handed to the channel layer."""
        deadline = time.monotonic() + timeout
        with self._lock:
            target = self._submitted
            while self._finished < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    # -- the broadcast thread -------------------------------------------------------------------
    def _start(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            self._wake = asyncio.Event()
            ready.set()
            loop.run_until_complete(self._run())

        threading.Thread(target=run, name="audit-broadcast", daemon=True).start()
        ready.wait()
        self._loop = loop
        # A short-lived process (manage.py run_checks) broadcasts what it committed before it exits.
        atexit.register(self.flush, 5.0)
        return loop

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            await self._wake.wait()
            self._wake.clear()
            with self._lock:
                units, self._pending = self._pending, []
            if not units:
                continue
            count = sum(len(rows) for rows, _ in units)
            try:
                await self._send(units)
            except Exception as exc:
                self.outage.failed(exc, missed=count)
            else:
                self.outage.recovered()
            finally:
                with self._lock:
                    self._finished += count
                    self._idle.notify_all()

    async def _send(self, units: list[tuple[Sequence[Any], bool]]) -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        message = group_message(units)
        server_loop = self._server_loop
        if isinstance(layer, InMemoryChannelLayer) and server_loop is not None and server_loop.is_running():
            future = asyncio.run_coroutine_threadsafe(layer.group_send(EVENTS_GROUP, message), server_loop)
            await asyncio.wait_for(asyncio.wrap_future(future), SEND_TIMEOUT_SECONDS)
        else:
            await asyncio.wait_for(layer.group_send(EVENTS_GROUP, message), SEND_TIMEOUT_SECONDS)


broadcaster = Broadcaster()
