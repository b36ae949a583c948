"""The one event loop on which every probe's HTTP runs, and the two ways to wait for it.

A daemon thread runs the loop for the life of the process (a new one after a fork). Probes are
synchronous code that asks for one HTTP exchange at a time (`ProbeClient.request`); they wait
for the exchange's coroutine with `wait()`, which works in two ways:

- from an ordinary thread (a single Test, the console's unsaved probe, a test), the coroutine
  is submitted to the loop and that thread blocks until it is done;
- inside `run_all()` (Run all checks), each probe runs in its own greenlet on the loop thread
  itself, and `wait()` hands the coroutine to the loop, which resumes the greenlet with the
  result. A run of 1,000 probes is then 1,000 greenlets and 1,000 sockets on one thread:
  no thread start-ups, and no 1,000 threads taking turns at the interpreter lock, which is
  where a run on threads spent most of its time (docs/performance.md, "Run all checks").
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import greenlet
from django.conf import settings

T = TypeVar("T")

# Name lookups run on threads (getaddrinfo blocks); a run of 1,000 providers on 1,000 host names
# must not queue behind the default executor's handful of threads.
RESOLVER_THREADS = 32

# Probes started per turn of the loop in a run (see run_all): 8-16 measured best at 1,000.
START_WAVE = 16

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_thread: threading.Thread | None = None
_pid: int | None = None


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop by default (PROBE_EVENT_LOOP): the same probes cost the loop about a fifth less CPU
    than on asyncio's own loop (a Run all of 1,000: 390 against 460 ms; docs/performance.md)."""
    if settings.PROBE_EVENT_LOOP == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def loop() -> asyncio.AbstractEventLoop:
    """The probe loop, started on first use (and again in a forked child, which has no thread)."""
    global _loop, _loop_thread, _pid
    with _lock:
        if _loop is None or _pid != os.getpid() or _loop_thread is None or not _loop_thread.is_alive():
            new = _new_loop()
            new.set_default_executor(
                concurrent.futures.ThreadPoolExecutor(RESOLVER_THREADS, thread_name_prefix="probe-resolve")
            )
            _loop_thread = threading.Thread(target=new.run_forever, name="probe-loop", daemon=True)
            _loop_thread.start()
            _loop, _pid = new, os.getpid()
        return _loop


class _ProbeGreenlet(greenlet.greenlet):
    """A probe running on the loop thread; `wait()` inside it yields to the loop."""


def wait(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` on the probe loop and return its result (or raise its exception)."""
    current = greenlet.getcurrent()
    if isinstance(current, _ProbeGreenlet):
        return current.parent.switch(coroutine)  # resumed by _drive() with the result
    running = loop()
    if threading.current_thread() is _loop_thread:
        coroutine.close()
        raise RuntimeError("wait() on the probe loop's thread outside a probe would block the loop")
    return asyncio.run_coroutine_threadsafe(coroutine, running).result()


async def _drive(call: Callable[[], T]) -> T:
    """Run the synchronous `call` in a greenlet, awaiting each coroutine it waits for."""
    child = _ProbeGreenlet(call)
    pending: Any = child.switch()
    while not child.dead:
        try:
            value = await pending
        except BaseException as exc:  # handed back: the probe classifies it (or it propagates)
            pending = child.throw(exc)
        else:
            pending = child.switch(value)
    return pending


def run_all(calls: list[Callable[[], T]], limit: int, on_done: Callable[[T], None]) -> concurrent.futures.Future[None]:
    """Start every synchronous `call` as a greenlet on the loop, at most `limit` at once; each
    result goes to `on_done` (on the loop thread) as it arrives. The returned future completes
    when all have; it carries the exception of a call that raised instead of returning."""

    async def one(call: Callable[[], T], gate: asyncio.Semaphore) -> None:
        async with gate:
            on_done(await _drive(call))

    async def every() -> None:
        gate = asyncio.Semaphore(max(1, limit))
        running = []
        # Started a wave at a time, the loop turning between waves: the first requests are on
        # the wire at once and their answers are read while later probes connect. All started
        # in one go, each of a thousand probes took its first step (connect) before any took its
        # second, so no request left before the loop had spent the CPU of a thousand connects,
        # and the loop then sat idle for the endpoints' whole latency.
        for start in range(0, len(calls), START_WAVE):
            running.extend(asyncio.ensure_future(one(call, gate)) for call in calls[start : start + START_WAVE])
            await asyncio.sleep(0)
        await asyncio.gather(*running)

    return asyncio.run_coroutine_threadsafe(every(), loop())
