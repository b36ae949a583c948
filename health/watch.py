"""The long-running checker behind `run_checks --watch SECONDS` (docs/health.md, "The checker").

Any number of checkers may run, on any number of machines, against one database. Exactly one
leads: it holds the leadership lease `run_checks.watch`, a short lease (LEASE: half the
interval, 3 s to 15 s) renewed by a heartbeat thread (health/heartbeat.py). The others stand
by and try to take the lease every quarter of it; when the leader dies its lease expires within
one LEASE and a standby takes over and runs a round at once. A leader that finds its lease
taken (it stalled past it) steps down and stands by.

Each round of the leader takes the run lock `run_checks` (health/locking.py, the lock the
console's Run all and a one-off `run_checks` take) only while it probes, with the same short
lease, renewed by the heartbeat. So the console's Run all works between rounds, a round never
overlaps another run (when the lock is held, the round is skipped and logged, the next one
comes an interval later), and a checker killed mid-round frees the lock within one LEASE.

SIGTERM or SIGINT finish the round under way, release both leases and end the watch (the
command exits 0); while sleeping they end it within SLEEP_STEP.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from datetime import timedelta

from django.db import DatabaseError, close_old_connections, connections

from health import locking
from health.background import current_run
from health.heartbeat import Heartbeat
from health.signals import checker_idle

logger = logging.getLogger("health.watch")

WATCH_LOCK = "run_checks.watch"
MIN_LEASE, MAX_LEASE = 3.0, 15.0
SLEEP_STEP = 0.2  # how soon a signal ends a sleep

sleep = time.sleep  # tests replace it


def lease_for(interval: float) -> timedelta:
    """The leadership's and a round's lease: short, so a dead checker is replaced within an
    interval, but several heartbeats long, so a live one under load keeps it."""
    return timedelta(seconds=min(max(interval / 2, MIN_LEASE), MAX_LEASE))


class Watcher:
    """`Watcher(interval, do_round).run()`: lead or stand by until SIGTERM/SIGINT.

    `do_round()` probes once (the run lock is already held) and returns a summary for the log.
    """

    def __init__(self, interval: float, do_round: Callable[[], str]) -> None:
        self.interval = interval
        self.do_round = do_round
        self.lease = lease_for(interval)
        self.holder = locking.new_holder()
        self.heartbeat = Heartbeat(self.lease, self._lost)
        self.rounds = 0
        self._signal: int | None = None

    # -- signals -----------------------------------------------------------------------------
    def _on_signal(self, signum: int, _frame: object) -> None:
        # Only a flag: the round under way finishes, the loop sees it between steps.
        self._signal = signum

    @property
    def stopping(self) -> bool:
        return self._signal is not None

    def _sleep_until(self, moment: float) -> None:
        while not self.stopping:
            self._idle()
            remaining = moment - time.monotonic()
            if remaining <= 0:
                return
            sleep(min(remaining, SLEEP_STEP))

    def _idle(self) -> None:
        """What the process does besides probing (health/signals.py): never stops the checker."""
        for receiver, error in checker_idle.send_robust(Watcher, holder=self.holder):
            if error is not None:
                logger.warning("%s failed between rounds: %s", getattr(receiver, "__qualname__", receiver), error)

    # -- leadership --------------------------------------------------------------------------
    @property
    def leading(self) -> bool:
        return self.heartbeat.holds(WATCH_LOCK)

    def _lost(self, name: str) -> None:
        if name == WATCH_LOCK:
            logger.warning("leadership lost: the %s lease was taken by another checker; standing by", WATCH_LOCK)
        else:
            logger.warning("the %s lock's lease was lost during round %s", name, self.rounds)

    def _try_to_lead(self) -> bool:
        if not locking.acquire(WATCH_LOCK, self.holder, self.lease):
            return False
        self.heartbeat.hold(WATCH_LOCK, self.holder)
        logger.info("leadership gained by %s (lease %.0f s); probing every %g s",
                    self.holder, self.lease.total_seconds(), self.interval)
        return True

    def _still_leading(self) -> bool:
        """Renewed now, before a round: a leader that stalled past its lease must not probe."""
        if not self.leading:
            return False
        if locking.renew(WATCH_LOCK, self.holder, self.lease):
            return True
        self.heartbeat.drop(WATCH_LOCK)
        self._lost(WATCH_LOCK)
        return False

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> None:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        self.heartbeat.start()
        logger.info("checker %s started: every %g s, standing by until it leads", self.holder, self.interval)
        try:
            self._loop()
        finally:
            self.heartbeat.stop()
            self._release()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        name = signal.Signals(self._signal).name if self._signal else "the end"
        logger.info("checker %s stopped on %s after %s round(s)", self.holder, name, self.rounds)

    def _loop(self) -> None:
        next_round = time.monotonic()
        poll = self.lease.total_seconds() / 4
        while not self.stopping:
            close_old_connections()
            try:
                if not self.leading:
                    if not self._try_to_lead():
                        self._sleep_until(time.monotonic() + poll)
                        continue
                    next_round = time.monotonic()  # a new leader probes at once
                if time.monotonic() >= next_round:
                    next_round = time.monotonic() + self.interval
                    if self._still_leading():
                        self._round()
                        continue  # the signal and the schedule are looked at again first
            except DatabaseError as error:
                logger.warning("database error, retrying in %.1f s: %s", poll, error)
                connections["default"].close()
                self._sleep_until(time.monotonic() + poll)
                continue
            self._sleep_until(next_round)

    def _round(self) -> None:
        holder = locking.new_holder()
        if not locking.acquire(locking.RUN_CHECKS_LOCK, holder, self.lease):
            running = current_run()
            logger.info("round skipped: the %s lock is held (%s); next round in %g s",
                        locking.RUN_CHECKS_LOCK, running.describe() if running else "another run", self.interval)
            return
        self.heartbeat.hold(locking.RUN_CHECKS_LOCK, holder)
        self.rounds += 1
        number = self.rounds
        logger.info("round %s started", number)
        try:
            summary = self.do_round()
        except Exception:
            logger.exception("round %s failed", number)
        else:
            logger.info("round %s done: %s", number, summary)
        finally:
            self.heartbeat.drop(locking.RUN_CHECKS_LOCK)
            locking.release(locking.RUN_CHECKS_LOCK, holder)
        if self.stopping:
            logger.info("round %s finished; stopping on %s", number, signal.Signals(self._signal).name)

    def _release(self) -> None:
        was_leading = self.leading
        self.heartbeat.drop(WATCH_LOCK)
        try:
            locking.release(WATCH_LOCK, self.holder)  # only this holder's row, if it is still ours
        except DatabaseError as error:
            logger.warning("could not release the %s lease (it expires by itself): %s", WATCH_LOCK, error)
            return
        if was_leading:
            logger.info("leadership released by %s", self.holder)
