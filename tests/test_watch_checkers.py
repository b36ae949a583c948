"""`run_checks --watch`, the long-running checker, as real processes on one database.

Several checkers: one leads and probes, the others stand by (the probed endpoint never has two
rounds in flight at once); SIGKILL the leader and a standby takes over. SIGTERM finishes the
round under way (its checks are recorded) and exits 0, and ends a sleep at once. Between rounds
the run lock is free (a one-off run_checks, like the console's Run all, gets it); a round that
finds it held is skipped with a log line. On a SQLite file, or on PostgreSQL when DATABASE_URL
names one (tests/checker_process.py).

No timed assertion: the bounds below are ten times what a healthy run takes and only tell
"happened" from "never happened" (a killed leader's run lock used to be held for minutes).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests.checker_process import Checker, checker_database, python, slow_endpoint
from tests.site_process import BASE_DIR

PROVIDERS = 3
TAKEOVER_BOUND = 40.0  # the lease is 3 s at --watch 1: a standby takes over ~3-4 s after a kill

COUNT_ROWS = """
from health.models import HealthCheck, SchedulerLock
print(HealthCheck.objects.filter(actor_name="run_checks").count(), SchedulerLock.objects.count())
"""


@pytest.fixture
def checkers():
    started: list[Checker] = []
    yield started
    for checker in started:
        checker.stop()


def rows(site) -> tuple[int, int]:
    """(check rows recorded by run_checks, lock rows left)."""
    checks, locks = python(site, COUNT_ROWS).split()
    return int(checks), int(locks)


def rounds_done(checker: Checker) -> int:
    return sum(" done: " in line for line in checker.watch_lines())


def test_one_checker_leads_the_others_stand_by_and_one_takes_over_when_the_leader_is_killed(checkers):
    with slow_endpoint(latency=0.3) as endpoint, checker_database(endpoint.url, PROVIDERS) as site:
        first = Checker(site, "--watch", "1").start()
        checkers.append(first)
        first.wait_for(r"leadership gained")
        second = Checker(site, "--watch", "1").start()
        checkers.append(second)
        second.wait_for(r"started: every 1 s, standing by")
        # Several rounds of the leader while the second stands by.
        target = rounds_done(first) + 3
        first.wait_for(rf"round {target} done: {PROVIDERS} checked")

        assert not any("leadership gained" in line or "round" in line for line in second.watch_lines())
        assert endpoint.most_in_flight <= PROVIDERS  # never two rounds at the endpoint at once

        first.signal(signal.SIGKILL)
        first.wait(timeout=30)
        killed_at = time.monotonic()
        second.wait_for(r"leadership gained", timeout=TAKEOVER_BOUND)
        second.wait_for(rf"round 2 done: {PROVIDERS} checked, {PROVIDERS} passed", timeout=TAKEOVER_BOUND)

        assert sum(start > killed_at for start, _ in endpoint.requests) >= 2 * PROVIDERS  # the standby probes now
        assert endpoint.most_in_flight <= PROVIDERS

        second.signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0
        lines = second.watch_lines()
        assert "leadership released" in lines[-2] and "stopped on SIGTERM" in lines[-1]
        assert rows(site)[1] == 0  # the survivor released both leases; the killed one's expired and was taken


def test_sigterm_mid_round_finishes_the_round_records_its_checks_and_exits_0(checkers):
    with slow_endpoint(latency=2.0) as endpoint, checker_database(endpoint.url, PROVIDERS) as site:
        checker = Checker(site, "--watch", "600").start()
        checkers.append(checker)
        checker.wait_for(r"round 1 started")
        deadline = time.monotonic() + 60
        while endpoint.in_flight < PROVIDERS and time.monotonic() < deadline:
            time.sleep(0.02)
        assert endpoint.in_flight == PROVIDERS  # the probes are out: SIGTERM lands mid-round

        checker.signal(signal.SIGTERM)

        assert checker.wait(timeout=60) == 0
        lines = checker.watch_lines()
        done = next(i for i, line in enumerate(lines) if f"round 1 done: {PROVIDERS} checked, {PROVIDERS} passed" in line)
        assert "round 1 finished; stopping on SIGTERM" in lines[done + 1]
        assert "stopped on SIGTERM after 1 round(s)" in lines[-1]
        assert rows(site) == (PROVIDERS, 0)  # the round's checks recorded, both leases released


def test_between_rounds_the_run_lock_is_free_and_sigterm_ends_the_sleep(checkers):
    with slow_endpoint(latency=0.05) as endpoint, checker_database(endpoint.url, PROVIDERS) as site:
        checker = Checker(site, "--watch", "600").start()
        checkers.append(checker)
        checker.wait_for(rf"round 1 done: {PROVIDERS} checked")

        # What the console's Run all does between rounds: take the run lock. A one-off run_checks
        # takes the same lock and exits 2 when it cannot.
        one_off = subprocess.run(
            [sys.executable, "manage.py", "run_checks"], cwd=BASE_DIR, env=site.env, capture_output=True, text=True,
            timeout=120,
        )
        assert one_off.returncode == 0, one_off.stderr
        assert rows(site)[0] == 2 * PROVIDERS

        checker.signal(signal.SIGTERM)  # 600 s before the next round: it must not wait for it
        assert checker.wait(timeout=60) == 0
        assert "stopped on SIGTERM after 1 round(s)" in checker.watch_lines()[-1]


HOLD_RUN_LOCK = """
import datetime
from django.utils import timezone
from health.models import SchedulerLock
now = timezone.now()
SchedulerLock.objects.create(name="run_checks", holder="console-run|0123456789ab|3|alice|elsewhere:1:x",
                             acquired_at=now, expires_at=now + datetime.timedelta(minutes=10))
"""
RELEASE_RUN_LOCK = """
from health.models import SchedulerLock
SchedulerLock.objects.filter(name="run_checks").delete()
"""


def test_a_round_that_finds_the_run_lock_held_is_skipped_with_a_log_line(checkers):
    with slow_endpoint(latency=0.05) as endpoint, checker_database(endpoint.url, PROVIDERS) as site:
        python(site, HOLD_RUN_LOCK)  # a console Run all is going
        checker = Checker(site, "--watch", "1").start()
        checkers.append(checker)

        skipped = checker.wait_for(r"round skipped: the run_checks lock is held \((.*)\); next round in 1 s")
        checker.wait_for(r"round skipped.*\n.*round skipped")  # and again at the next interval
        assert skipped.group(1).startswith("started by alice at ")
        assert endpoint.requests == []

        python(site, RELEASE_RUN_LOCK)  # the console's run ends
        checker.wait_for(rf"round 1 done: {PROVIDERS} checked")
        checker.signal(signal.SIGTERM)
        assert checker.wait(timeout=60) == 0
