"""`manage.py run_checks`: probe providers now, for cron or a systemd timer, or every N seconds.

Once: exit code 0 when every check passed, 1 when any failed, 2 when another run holds the
run lock (nothing was probed). Each run also purges history older than HEALTH_HISTORY_TTL_DAYS.

`--watch SECONDS` is the long-running checker (health/watch.py): several may run, one leads
and probes every SECONDS behind the run lock, the others stand by and take over when it dies;
SIGTERM or SIGINT finish the round under way and exit 0.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from health.locking import LockHeld, scheduler_lock
from health.models import HealthCheck
from health.retention import purge_history
from health.runner import ProbeOutcome, RunResult, UnknownProviders, providers_to_check, run_checks
from health.runreport import record_failed_run
from health.watch import Watcher
from providers.models import Provider

EXIT_PASSED, EXIT_FAILED, EXIT_LOCKED = 0, 1, 2
LEASE_MARGIN = timedelta(minutes=2)
BAR_WIDTH = 30
ACTOR = "run_checks"


class Command(BaseCommand):
    help = "Probe providers (all enabled ones by default), record the results and print a table."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--provider", nargs="+", action="extend", default=[], metavar="ID", help="only these providers")
        parser.add_argument("--include-disabled", action="store_true", help="probe disabled providers too")
        parser.add_argument("--deep", action="store_true", help="also send one max_tokens=1 completion")
        parser.add_argument(
            "--watch", type=float, metavar="SECONDS",
            help="keep running: probe every SECONDS while this checker leads, stand by while another does; "
            "SIGTERM finishes the round and exits 0",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        watch = options["watch"]
        if watch is not None and watch <= 0:
            raise CommandError("--watch takes a positive number of seconds.")
        providers = self.select(options["provider"], options["include_disabled"])
        if watch is not None:
            Watcher(watch, lambda: self.watch_round(options["provider"], options["include_disabled"], options["deep"])).run()
            return  # stopped by a signal, as asked: not a failure whatever the last round found
        code = EXIT_PASSED
        try:
            with scheduler_lock(self.lease_for(providers)):
                code = self.run_once(options["provider"], options["include_disabled"], options["deep"])
        except LockHeld as held:
            self.stderr.write(f"Not probing: {held}. Another run_checks is running.")
            code = EXIT_LOCKED
        except KeyboardInterrupt:
            self.stderr.write("Interrupted.")
        if code:
            sys.exit(code)

    # -- steps (small, so tests can call them) ---------------------------------------------
    def select(self, ids: list[str], include_disabled: bool) -> list[Provider]:
        try:
            return providers_to_check(include_disabled=include_disabled, provider_ids=ids or None)
        except UnknownProviders as exc:
            raise CommandError(f"Unknown provider: {exc}") from None

    def lease_for(self, providers: list[Provider]) -> timedelta:
        slowest = max((p.timeout_ms * (p.retries + 1) for p in providers), default=0)
        return timedelta(milliseconds=slowest) + LEASE_MARGIN

    def run_once(self, ids: list[str], include_disabled: bool, deep: bool) -> int:
        self.last_result = None
        providers = self.select(ids, include_disabled)
        purged = purge_history()
        if purged:
            self.stdout.write(f"Purged {purged} check(s) older than the history TTL.")
        if not providers:
            self.stdout.write("No providers to check.")
            return EXIT_PASSED
        progress = self.progress(len(providers))
        result = self.last_result = run_checks(providers, deep=deep, actor=ACTOR, on_result=progress)
        record_failed_run(result, actor=ACTOR)
        self.print_table(providers, result)
        return EXIT_FAILED if result.failed else EXIT_PASSED

    def watch_round(self, ids: list[str], include_disabled: bool, deep: bool) -> str:
        """One round of --watch (the run lock is held); the summary for the checker's log."""
        self.run_once(ids, include_disabled, deep)
        result = self.last_result
        if result is None:
            return "no providers to check"
        return f"{result.checked} checked, {result.passed} passed, {result.failed} failed in {result.duration_ms} ms"

    def progress(self, total: int):
        done = 0
        tty = self.stdout.isatty()

        def report(outcome: ProbeOutcome) -> None:
            nonlocal done
            done += 1
            if tty:
                filled = round(BAR_WIDTH * done / total)
                self.stdout.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}", ending="")
                if done == total:
                    self.stdout.write("")
            else:
                verdict = "pass" if outcome.ok else f"fail {outcome.error_code}"
                latency = "-" if outcome.latency_ms is None else f"{outcome.latency_ms} ms"
                self.stdout.write(f"{done}/{total} {outcome.provider_id} {verdict} {latency}")

        return report

    def print_table(self, providers: list[Provider], result: RunResult) -> None:
        kinds = {p.pk: p.kind for p in providers}
        header = ("PROVIDER", "KIND", "RESULT", "ERROR", "LATENCY", "HTTP", "STATUS")
        rows = [header] + [self.row(check, kinds[check.provider_id]) for check in result.checks]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        self.stdout.write("")
        for row in rows:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        summary = f"{result.checked} checked, {result.passed} passed, {result.failed} failed in {result.duration_ms} ms"
        self.stdout.write(self.style.ERROR(summary) if result.failed else self.style.SUCCESS(summary))
        for check in result.checks:
            if not check.ok:
                self.stdout.write(f"  {check.provider_id}: {check.error_message}")

    @staticmethod
    def row(check: HealthCheck, kind: str) -> tuple[str, ...]:
        return (
            check.provider_id,
            kind,
            check.result_status,
            check.error_code or "-",
            "-" if check.latency_ms is None else f"{check.latency_ms} ms",
            "-" if check.http_status is None else str(check.http_status),
            check.provider_status,
        )
