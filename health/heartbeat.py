"""Short leases kept alive by a heartbeat thread while their holder lives.

The long-running checker (`run_checks --watch`, health/watch.py) holds its leases for seconds,
not minutes: the leadership (`run_checks.watch`) all the time it leads, the run lock
(`run_checks`) while a round probes. A thread renews every held lease a few times per TTL, so
a checker that is killed (SIGKILL, a machine lost) lets go of both within one TTL and a standby
can take over; a live one never loses them to a slow round.

A renewal that finds the row gone or taken by another holder (this process stalled past its
TTL and someone else took the lease) drops the lease and calls `on_lost(name)`; the owner then
knows it no longer holds it. A database error is logged and retried on the next beat: the lease
survives errors shorter than its TTL.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from django.db import DatabaseError, connections

from health import locking

logger = logging.getLogger("health.watch")

BEATS_PER_TTL = 4


class Heartbeat:
    def __init__(self, ttl: timedelta, on_lost: Callable[[str], None]) -> None:
        self.ttl = ttl
        self.on_lost = on_lost
        self._held: dict[str, str] = {}  # lock name -> holder
        # Held while renewing, so `drop` never races a renewal of the lease it releases.
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)

    @property
    def interval(self) -> float:
        return self.ttl.total_seconds() / BEATS_PER_TTL

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def hold(self, name: str, holder: str) -> None:
        with self._lock:
            self._held[name] = holder

    def drop(self, name: str) -> None:
        with self._lock:
            self._held.pop(name, None)

    def holds(self, name: str) -> bool:
        with self._lock:
            return name in self._held

    def _beat(self) -> None:
        try:
            while not self._stopping.wait(self.interval):
                self.renew_all()
        finally:
            connections.close_all()  # this thread's own connection

    def renew_all(self) -> None:
        lost = []
        with self._lock:
            for name, holder in list(self._held.items()):
                try:
                    renewed = locking.renew(name, holder, self.ttl)
                except DatabaseError as error:
                    logger.warning("could not renew the %s lease (retrying): %s", name, error)
                    connections["default"].close()  # a broken connection is opened again next beat
                    continue
                if not renewed:
                    del self._held[name]
                    lost.append(name)
        for name in lost:
            self.on_lost(name)
