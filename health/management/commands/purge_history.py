"""`manage.py purge_history`: delete check history older than HEALTH_HISTORY_TTL_DAYS."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from health.retention import purge_history


class Command(BaseCommand):
    help = "Delete health check rows older than HEALTH_HISTORY_TTL_DAYS (or --days)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, help=f"keep this many days instead of {settings.HEALTH_HISTORY_TTL_DAYS}")

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if days is not None and days < 0:
            raise CommandError("--days takes a number of days, 0 or more.")
        deleted = purge_history(days)
        kept = settings.HEALTH_HISTORY_TTL_DAYS if days is None else days
        self.stdout.write(f"Deleted {deleted} check(s) older than {kept} day(s).")
