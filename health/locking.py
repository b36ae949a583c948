"""A lease in the database so two schedulers never probe at once (SQLite and PostgreSQL alike).

Taking the lock is an INSERT of the lock's row (its primary key makes it exclusive) or, when
the previous holder's lease has expired (it crashed), a compare-and-set on that row. The
holder renews the lease while it runs and deletes the row when done.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from core.timefmt import iso_utc
from health.models import SchedulerLock

RUN_CHECKS_LOCK = "run_checks"


class LockHeld(Exception):
    def __init__(self, lock: SchedulerLock | None) -> None:
        self.lock = lock
        if lock is None:
            super().__init__("the scheduler lock is held by another process")
        else:
            super().__init__(
                f"the scheduler lock is held by {lock.holder} until "
                f"{iso_utc(lock.expires_at)}"
            )


def new_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(name: str, holder: str, lease: timedelta) -> bool:
    now = timezone.now()
    try:
        with transaction.atomic():
            SchedulerLock.objects.create(name=name, holder=holder, acquired_at=now, expires_at=now + lease)
        return True
    except IntegrityError:
        pass
    except OperationalError:  # SQLite: another process is writing the row right now
        return False
    taken = SchedulerLock.objects.filter(name=name, expires_at__lt=now).update(
        holder=holder, acquired_at=now, expires_at=now + lease
    )
    return taken == 1


def renew(name: str, holder: str, lease: timedelta) -> bool:
    return SchedulerLock.objects.filter(name=name, holder=holder).update(expires_at=timezone.now() + lease) == 1


def release(name: str, holder: str) -> None:
    SchedulerLock.objects.filter(name=name, holder=holder).delete()


class scheduler_lock:
    """`with scheduler_lock(lease) as lock:` … raises LockHeld when another holder has it."""

    def __init__(self, lease: timedelta, name: str = RUN_CHECKS_LOCK) -> None:
        self.name = name
        self.lease = lease
        self.holder = new_holder()

    def __enter__(self) -> scheduler_lock:
        if not acquire(self.name, self.holder, self.lease):
            raise LockHeld(SchedulerLock.objects.filter(name=self.name).first())
        return self

    def renew(self, lease: timedelta | None = None) -> bool:
        if lease is not None:
            self.lease = lease
        return renew(self.name, self.holder, self.lease)

    def __exit__(self, *exc: object) -> None:
        release(self.name, self.holder)
