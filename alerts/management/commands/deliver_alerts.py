"""`manage.py deliver_alerts [--once]`: send the alerts' outbox (docs/alerts.md).

Without `--once` it keeps delivering every ALERT_POLL_SECONDS until SIGTERM or SIGINT, which
finish the round under way and exit 0. With `--once` it makes one round and exits: 0 when
nothing failed for good, 1 when a delivery was marked failed in this round. Any number of
deliverers may run (the checker `run_checks --watch` is one too): each delivery is claimed by
one of them (alerts/delivery.py).
"""

from __future__ import annotations

import signal
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, close_old_connections, connections

from alerts.delivery import deliver_round, new_deliverer_id

STEP = 0.2


class Command(BaseCommand):
    help = "Send due alerts (webhook, Slack, email), retrying failures with backoff."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="one round, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        deliverer = new_deliverer_id()
        if options["once"]:
            report = deliver_round(deliverer)
            self.stdout.write(f"{deliverer}: {report}")
            if report.failed:
                sys.exit(1)
            return
        self._signal: int | None = None
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        self.stdout.write(f"{deliverer}: delivering every {settings.ALERT_POLL_SECONDS:g} s")
        self.stdout.flush()  # to a file or the journal, the line is there when the deliverer is
        try:
            while self._signal is None:
                close_old_connections()
                try:
                    report = deliver_round(deliverer)
                    if report.ids or report.summaries or report.serving_changed:
                        self.stdout.write(f"{deliverer}: {report}")
                        self.stdout.flush()
                except DatabaseError as error:
                    self.stderr.write(f"database error, retrying: {error}")
                    connections["default"].close()
                self._wait(float(settings.ALERT_POLL_SECONDS))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write(f"{deliverer}: stopped on {signal.Signals(self._signal).name}")

    def _on_signal(self, signum: int, _frame: object) -> None:
        self._signal = signum

    def _wait(self, seconds: float) -> None:
        until = time.monotonic() + seconds
        while self._signal is None and time.monotonic() < until:
            time.sleep(min(STEP, until - time.monotonic()))
