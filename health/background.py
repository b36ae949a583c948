"""Run all checks in the background: the console's button returns at once (spec §4.4).

`start_run(providers, actor=...)` takes the database lease lock `RUN_CHECKS_LOCK` (the one
`manage.py run_checks` takes, so it holds across processes and against the scheduler), starts
a daemon thread and returns a `CheckRun` (its id, who started it, when, the providers). The
thread calls `run_checks(..., record_as_they_finish=True, run_id=...)`: each provider's check
row, status move and `provider.tested` event (with `run_id` in its payload) are committed and
broadcast as soon as its probe ends. The lease is renewed after every recorded batch; the lock
is released and the thread's database connections closed when the run ends, whatever happens
(an exception is logged with the run's id).

When the lock is held, `start_run` raises `RunInProgress`, whose message names who started the
running one and when. `current_run()` reads the lock's row so any page, in any process, can
say that a run is going.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connections
from django.utils import timezone

from core.actors import actor_name
from core.timefmt import iso_utc
from health import locking
from health.models import SchedulerLock
from health.runner import run_checks
from health.runreport import record_failed_run
from providers.models import Provider

logger = logging.getLogger(__name__)

LEASE_MARGIN = timedelta(minutes=2)
_SEPARATOR = "|"
_MARK = "console-run"

# Runs started by this process, by id (tests wait for them; nothing else reads it).
_threads: dict[str, threading.Thread] = {}
_threads_lock = threading.Lock()


@dataclass(frozen=True)
class CheckRun:
    run_id: str
    started_by: str
    started_at: datetime
    total: int | None
    providers: list[dict[str, str]] = field(default_factory=list)

    def describe(self) -> str:
        moment = self.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"started by {self.started_by} at {moment}"

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started_by": self.started_by,
            "started_at": iso_utc(self.started_at),
            "description": self.describe(),
            "total": self.total,
            "providers": self.providers,
        }


class RunInProgress(Exception):
    def __init__(self, run: CheckRun | None) -> None:
        self.run = run
        if run is None:
            super().__init__("Checks are already running; wait for them to finish, then try again.")
        else:
            super().__init__(f"Checks are already running ({run.describe()}); wait for them to finish, then try again.")


def _holder(name: str, run_id: str, total: int) -> str:
    name = name.replace(_SEPARATOR, " ")[:80]
    return _SEPARATOR.join([_MARK, run_id, str(total), name, locking.new_holder()])[:200]


def _from_lock(lock: SchedulerLock) -> CheckRun:
    parts = lock.holder.split(_SEPARATOR)
    if len(parts) >= 5 and parts[0] == _MARK:
        return CheckRun(run_id=parts[1], started_by=parts[3], started_at=lock.acquired_at, total=int(parts[2]))
    # Another holder: `manage.py run_checks` (host:pid:token).
    return CheckRun(run_id="", started_by=f"manage.py run_checks ({lock.holder})", started_at=lock.acquired_at, total=None)


def current_run() -> CheckRun | None:
    """The run holding the lock now (its lease not expired), or None."""
    lock = SchedulerLock.objects.filter(name=locking.RUN_CHECKS_LOCK, expires_at__gte=timezone.now()).first()
    return None if lock is None else _from_lock(lock)


def lease_for(providers: list[Provider]) -> timedelta:
    slowest = max((p.timeout_ms * (p.retries + 1) for p in providers), default=0)
    return timedelta(milliseconds=slowest) + LEASE_MARGIN


def start_run(providers: Iterable[Provider], *, actor: Any, deep: bool = False) -> CheckRun:
    """Start checking `providers` in a daemon thread; raises RunInProgress when a run is going."""
    providers = list(providers)
    run_id = uuid.uuid4().hex[:12]
    name = actor_name(actor)
    holder = _holder(name, run_id, len(providers))
    lease = lease_for(providers)
    if not locking.acquire(locking.RUN_CHECKS_LOCK, holder, lease):
        raise RunInProgress(current_run())
    run = CheckRun(
        run_id=run_id,
        started_by=name,
        started_at=timezone.now(),
        total=len(providers),
        providers=[{"id": p.pk, "name": p.name} for p in providers],
    )
    thread = threading.Thread(
        target=_run, args=(providers, actor, deep, run_id, holder, lease), name=f"check-run-{run_id}", daemon=True
    )
    with _threads_lock:
        _threads[run_id] = thread
    try:
        thread.start()
    except BaseException:
        with _threads_lock:
            _threads.pop(run_id, None)
        locking.release(locking.RUN_CHECKS_LOCK, holder)
        raise
    return run


def _run(providers: list[Provider], actor: Any, deep: bool, run_id: str, holder: str, lease: timedelta) -> None:
    try:
        def renew(_rows: Any) -> None:
            if not locking.renew(locking.RUN_CHECKS_LOCK, holder, lease):
                logger.warning("check run %s: its lease on the run_checks lock was lost", run_id)

        result = run_checks(
            providers, deep=deep, actor=actor, record_as_they_finish=True, run_id=run_id, on_recorded=renew
        )
        record_failed_run(result, actor=actor, run_id=run_id)
        logger.info(
            "check run %s: %s checked, %s passed, %s failed in %s ms",
            run_id, result.checked, result.passed, result.failed, result.duration_ms,
        )
    except Exception:
        logger.exception("check run %s failed", run_id)
    finally:
        try:
            locking.release(locking.RUN_CHECKS_LOCK, holder)
        except Exception:
            logger.exception("check run %s could not release the run_checks lock (it expires with its lease)", run_id)
        finally:
            connections.close_all()
            with _threads_lock:
                _threads.pop(run_id, None)


def wait_for_all(timeout: float | None = None) -> bool:
    """Wait until every run this process started has ended; True when they have."""
    with _threads_lock:
        threads = list(_threads.values())
    for thread in threads:
        thread.join(timeout)
    return not any(thread.is_alive() for thread in threads)


def wait_for(run_id: str, timeout: float | None = None) -> bool:
    """Wait until the run `run_id` of this process has ended; True when it has."""
    with _threads_lock:
        thread = _threads.get(run_id)
    if thread is None:
        return True
    thread.join(timeout)
    return not thread.is_alive()
