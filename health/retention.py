"""History retention: check rows older than HEALTH_HISTORY_TTL_DAYS are deleted (spec §7)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from health.models import HealthCheck

BATCH = 5000


def cutoff(days: int | None = None, now: datetime | None = None) -> datetime:
    ttl = settings.HEALTH_HISTORY_TTL_DAYS if days is None else days
    return (now or timezone.now()) - timedelta(days=ttl)


def purge_history(days: int | None = None, now: datetime | None = None) -> int:
    """Delete checks older than the TTL, in batches so a large backlog never locks for long."""
    before = cutoff(days, now)
    deleted = 0
    while True:
        batch = list(HealthCheck.objects.filter(checked_at__lt=before).order_by().values_list("id", flat=True)[:BATCH])
        if not batch:
            return deleted
        count, _ = HealthCheck.objects.filter(id__in=batch).delete()
        deleted += count
