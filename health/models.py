"""Check history: one append-only `HealthCheck` row per probe, the cumulative counts of checks,
and the scheduler lock."""

from __future__ import annotations

from django.db import models

from health.errors import ErrorCode


class AppendOnlyError(Exception):
    """Raised on any attempt to edit a check row; old rows leave only through the purge."""


class HealthCheckQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Health checks are append-only.")

    def for_provider(self, provider_id: str) -> HealthCheckQuerySet:
        return self.filter(provider_id=provider_id)

    def newest_first(self) -> HealthCheckQuerySet:
        # The id breaks ties between checks of the same instant, in the order they were written.
        return self.order_by("-checked_at", "-id")


class HealthCheck(models.Model):
    provider = models.ForeignKey("providers.Provider", on_delete=models.CASCADE, related_name="health_checks")
    checked_at = models.DateTimeField(db_index=True)
    ok = models.BooleanField()
    error_code = models.CharField(max_length=32, choices=ErrorCode.choices, null=True, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    model = models.CharField(max_length=200, blank=True)
    deep = models.BooleanField(default=False)
    # The provider's status right after this check (and any move it caused).
    provider_status = models.CharField(max_length=16)
    actor_name = models.CharField(max_length=150, blank=True)

    objects = HealthCheckQuerySet.as_manager()

    class Meta:
        ordering = ["-checked_at", "-id"]
        indexes = [models.Index(fields=["provider", "-checked_at"], name="health_check_provider_time")]

    def __str__(self) -> str:
        return f"{self.provider_id} {'pass' if self.ok else 'fail'} at {self.checked_at:%Y-%m-%dT%H:%M:%SZ}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AppendOnlyError("Health checks are append-only.")
        super().save(*args, **kwargs)

    @property
    def result_status(self) -> str:
        return "pass" if self.ok else "fail"


class CheckCount(models.Model):
    """How many checks a provider has had, by result and error code, since it was created.

    Cumulative and never purged (the history is, after HEALTH_HISTORY_TTL_DAYS): the source of
    the Prometheus counter `provider_checks_total`, which must only go up, read in one query
    however long the history (a GROUP BY over a million check rows is not). Incremented in the
    transaction that writes the check rows (health/counters.py); `error_code` is "" for a pass.
    """

    provider = models.ForeignKey("providers.Provider", on_delete=models.CASCADE, related_name="check_counts")
    result = models.CharField(max_length=4)  # "pass" or "fail", as HealthCheck.result_status
    error_code = models.CharField(max_length=32, blank=True)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "result", "error_code"], name="health_check_count_key"),
        ]

    def __str__(self) -> str:
        return f"{self.provider_id} {self.result} {self.error_code or '-'}: {self.count}"


class SchedulerLock(models.Model):
    """A lease that keeps two `run_checks` schedulers from probing at once.

    A row per lock name: taking it is an INSERT (the primary key makes it exclusive) or a
    compare-and-set on an expired lease, so it works the same on SQLite and PostgreSQL.
    """

    name = models.CharField(primary_key=True, max_length=64)
    holder = models.CharField(max_length=200)
    acquired_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder} until {self.expires_at:%Y-%m-%dT%H:%M:%SZ}"
