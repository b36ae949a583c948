"""The alerts' deliverers as processes: nothing lost when one dies, nothing sent twice by two.

Each test has a migrated site database of its own (a SQLite file, or a scratch PostgreSQL
database when DATABASE_URL names one: tests/site_process.py), a webhook receiver on 127.0.0.1
that verifies signatures (alerts/tests/receiver.py), and real `manage.py deliver_alerts` or
`run_checks --watch` children.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import ExitStack, contextmanager

from alerts.tests.conftest import WEBHOOK_SECRET_CANARY
from alerts.tests.receiver import Receiver
from tests.checker_process import STARTUP_TIMEOUT, Checker, python
from tests.site_process import BASE_DIR, postgres_scratch_database, site_process

SETUP = """
import sys
from alerts import services
from providers.services import create_provider
create_provider({"id": "p1", "name": "p1", "kind": "other", "endpoint": sys.argv[2], "timeout_ms": 2000,
                 "retries": 0, "secret_policy": "none", "default_model": "m", "status": "active"})
channel = services.create_channel({"id": "hook", "name": "Hook", "kind": "webhook", "url": sys.argv[1],
                                   "events": ["provider.unreachable", "provider.recovered"], "cooldown_s": 0})
services.change_secret(channel, "set", sys.argv[3])
"""


@contextmanager
def alert_site(receiver: Receiver, endpoint: str = "http://127.0.0.1:9/", **env: str):
    base_url = os.environ.get("DATABASE_URL", "")
    with ExitStack() as stack:
        database_url = None
        if base_url.startswith(("postgres://", "postgresql://")):
            database_url = stack.enter_context(postgres_scratch_database(base_url, migrated=True))
        settings = {"ALERT_TIMEOUT_MS": "1000", "ALERT_CLAIM_MARGIN_SECONDS": "1", "ALERT_POLL_SECONDS": "0.1",
                    "ALERT_RETRY_BASE_SECONDS": "0.2", **env}
        site = stack.enter_context(site_process(database_url=database_url, start=False, env=settings))
        python(site, SETUP, receiver.url, endpoint, WEBHOOK_SECRET_CANARY)
        yield site


def deliveries(site) -> list[dict]:
    out = python(site, "import json; from alerts.models import AlertDelivery\n"
                       "print(json.dumps(list(AlertDelivery.objects.order_by('id').values("
                       "'id', 'status', 'attempts', 'claimed_by'))))\n")
    return json.loads(out)


def attempts(site) -> int:
    return int(python(site, "from alerts.models import DeliveryAttempt; print(DeliveryAttempt.objects.count())"))


def deliver_once(site) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", "deliver_alerts", "--once"], cwd=BASE_DIR, env=site.env,
                          capture_output=True, text=True, timeout=STARTUP_TIMEOUT)


def deliverer(site, log_path) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "manage.py", "deliver_alerts"], cwd=BASE_DIR, env=site.env,
                                stdout=log, stderr=subprocess.STDOUT)


def wait_until(predicate, timeout=STARTUP_TIMEOUT, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout} s")


def test_a_process_killed_right_after_its_commit_loses_no_alert():
    with Receiver(secret=WEBHOOK_SECRET_CANARY) as receiver, alert_site(receiver) as site:
        # The change commits, then its process dies at once: no deliverer ever ran in it.
        died = subprocess.run(
            [sys.executable, "-c", "import django, os, signal; django.setup()\n"
             "from providers.services import move_status\n"
             "assert move_status('p1', expected='active', new='unreachable', reason='timeout')\n"
             "os.kill(os.getpid(), signal.SIGKILL)\n"],
            cwd=BASE_DIR, env=site.env, capture_output=True, timeout=STARTUP_TIMEOUT,
        )
        assert died.returncode == -signal.SIGKILL
        assert [(d["status"], d["attempts"]) for d in deliveries(site)] == [("pending", 0)]
        done = deliver_once(site)
        assert done.returncode == 0, done.stderr
        assert "1 sent" in done.stdout
        [got] = receiver.accepted()
        assert got.json["alert"] == "provider.unreachable"
        assert [d["status"] for d in deliveries(site)] == ["sent"]


def test_a_deliverer_killed_mid_send_leaves_the_alert_to_another(tmp_path):
    hold = threading.Event()
    # The claim lasts ALERT_TIMEOUT_MS + ALERT_CLAIM_MARGIN_SECONDS: ten minutes here, so the
    # early deliverer below meets it however slowly it starts; then the test lets it run out.
    with Receiver(secret=WEBHOOK_SECRET_CANARY, hold=hold) as receiver, \
            alert_site(receiver, ALERT_CLAIM_MARGIN_SECONDS="600") as site:
        python(site, "from providers.services import move_status\n"
                     "move_status('p1', expected='active', new='unreachable', reason='timeout')\n")
        first = deliverer(site, tmp_path / "first.log")
        try:
            assert receiver.arrived.wait(STARTUP_TIMEOUT), (tmp_path / "first.log").read_text()
            first.send_signal(signal.SIGKILL)  # while the receiver holds its answer
            first.wait(30)
        finally:
            if first.poll() is None:
                first.kill()
        hold.set()
        [held] = deliveries(site)
        assert (held["status"], held["attempts"]) == ("pending", 0) and held["claimed_by"]
        # Its claim still holds: another deliverer does not send it yet ...
        early = deliver_once(site)
        assert early.returncode == 0 and "0 sent" in early.stdout
        # ... and once it has run out, it does (the clock moved on: the claim's end is moved back).
        python(site, "import datetime; from django.utils import timezone; from alerts.models import AlertDelivery\n"
                     "AlertDelivery.objects.update(claimed_until=timezone.now() - datetime.timedelta(seconds=1))\n")
        late = deliver_once(site)
        assert "1 sent" in late.stdout, late.stdout + late.stderr
        [sent] = deliveries(site)
        assert (sent["status"], sent["attempts"]) == ("sent", 1)
        assert attempts(site) == 1  # the killed deliverer recorded nothing
        ids = [r.json["delivery_id"] for r in receiver.received]
        assert ids == [sent["id"], sent["id"]]  # at least once: a receiver drops the repeat by its id


def test_two_deliverers_send_each_alert_once(tmp_path):
    with Receiver(secret=WEBHOOK_SECRET_CANARY) as receiver, alert_site(receiver) as site:
        receiver.delay = 0.02  # sends overlap between the two
        python(site, "from alerts import services\nfrom alerts.models import AlertChannel\n"
                     "channel = AlertChannel.objects.get()\n"
                     "for _ in range(40): services.send_test(channel)\n")
        both = [deliverer(site, tmp_path / f"deliverer-{n}.log") for n in (1, 2)]
        try:
            wait_until(lambda: len(receiver.received) >= 40, what="40 deliveries")
            time.sleep(1.0)  # anything sent twice would have arrived by now
        finally:
            for process in both:
                process.send_signal(signal.SIGTERM)
            codes = [process.wait(30) for process in both]
        assert codes == [0, 0]
        counts = Counter(r.json["delivery_id"] for r in receiver.received)
        assert len(counts) == 40 and set(counts.values()) == {1}
        assert all(r.verdict is None for r in receiver.received)
        assert {d["status"] for d in deliveries(site)} == {"sent"}
        logs = [(tmp_path / f"deliverer-{n}.log").read_text() for n in (1, 2)]
        assert all("sent" in log for log in logs), logs  # both took part
        assert attempts(site) == 40


def test_the_checker_delivers_the_alert_of_a_provider_it_finds_down():
    with Receiver(secret=WEBHOOK_SECRET_CANARY) as receiver, alert_site(receiver, endpoint="http://127.0.0.1:9/") as site:
        checker = Checker(site, "--watch", "30").start()
        try:
            wait_until(lambda: receiver.accepted(), what="the alert from the checker")
        finally:
            checker.signal(signal.SIGTERM)
            assert checker.wait(30) == 0
        got = receiver.accepted()[0].json
        assert got["alert"] == "provider.unreachable" and got["event"]["provider_id"] == "p1"
        assert WEBHOOK_SECRET_CANARY not in checker.log()
