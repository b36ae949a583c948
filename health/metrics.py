"""Health metrics computed in the database for many providers at once (spec §3.3).

CONTRACT (used by providers/; keep these signatures):

- EMPTY_HEALTH: all health fields None (never checked).
- for_providers(provider_ids) -> dict[str, dict]   (a fixed number of queries for any count)
    each dict: {"latency_ms_last", "latency_ms_avg_5m", "latency_ms_p95_5m", "success_rate_5m",
                "failure_count_last_1m", "last_checked_at", "last_error_code",
                "last_error_message"}
- annotate_for_list(queryset) -> queryset of providers annotated with
    `health_last_checked_at`, `health_latency_avg_5m`, `health_failures_1m`
    (for the list's ordering `last_checked`, `avg_latency`, `failures` and filter `health`).

Definitions: the windows end now. Latency average and p95 are over passing checks only (a
failed check's time says how long it took to fail, not how fast the provider answers); p95 is
the discrete percentile (an observed value: the smallest latency at or above 95 % of them).
`success_rate_5m` is passed / all checks of the window, None when the window is empty. A
provider checked at least once but not in the window has `failure_count_last_1m` 0 and None
for the window's other figures. `last_checked_at` is a datetime (callers format it).
`health_failures_1m` is 0 for a provider without failures (and for one never checked), so
the list can order by it.

PostgreSQL computes p95 with PERCENTILE_DISC; other databases get it from one query of the
window's latencies — one query for all providers, never one per provider.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connections
from django.db.models import (
    Aggregate,
    Avg,
    Case,
    Count,
    DateTimeField,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.db.models.functions import Coalesce, TruncMinute
from django.utils import timezone

from health.models import HealthCheck
from providers.models import Provider

WINDOW = timedelta(minutes=5)
FAILURE_WINDOW = timedelta(minutes=1)
SERIES_MINUTES = 60
PERCENTILE = 0.95

HEALTH_FIELDS = (
    "latency_ms_last",
    "latency_ms_avg_5m",
    "latency_ms_p95_5m",
    "success_rate_5m",
    "failure_count_last_1m",
    "last_checked_at",
    "last_error_code",
    "last_error_message",
)
EMPTY_HEALTH: dict[str, Any] = dict.fromkeys(HEALTH_FIELDS)


class PercentileDisc(Aggregate):
    """PostgreSQL's ordered-set aggregate; NULLs (failed checks) are ignored."""

    function = "PERCENTILE_DISC"
    template = f"%(function)s({PERCENTILE}) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


def _has_percentile() -> bool:
    return connections[HealthCheck.objects.db].vendor == "postgresql"


def percentile_disc(values: list[int], fraction: float = PERCENTILE) -> int | None:
    """The same definition as SQL's PERCENTILE_DISC, for databases without it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def _passing_latency():
    return Case(When(ok=True, then="latency_ms"), output_field=IntegerField())


def _as_number(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


def window_counts(provider_ids: Iterable[str], now: datetime | None = None) -> dict[str, tuple[int, int]]:
    """`{provider_id: (checks, passed)}` over the 5-minute window; one query."""
    now = now or timezone.now()
    rows = (
        HealthCheck.objects.filter(provider_id__in=list(provider_ids), checked_at__gte=now - WINDOW)
        .order_by()
        .values("provider_id")
        .annotate(total=Count("id"), passed=Count("id", filter=Q(ok=True)))
    )
    return {row["provider_id"]: (row["total"], row["passed"]) for row in rows}


def for_providers(
    provider_ids: Iterable[str], now: datetime | None = None, *, id_query: QuerySet | None = None
) -> dict[str, dict[str, Any]]:
    """The health fields of every provider in `provider_ids` (2 queries, 3 without percentiles).

    `id_query`, a queryset of the same providers' ids, is used in the SQL instead of the list: at
    fleet size Django prepares a long `IN (...)` list one value at a time (about 40 ms for 1,000
    ids, per query), a subquery costs nothing. Rows of providers outside `provider_ids` (created
    between the two reads) are left out.
    """
    ids = list(dict.fromkeys(provider_ids))
    if not ids:
        return {}
    now = now or timezone.now()
    since = now - WINDOW
    result = {pid: dict(EMPTY_HEALTH) for pid in ids}
    in_sql: Any = id_query if id_query is not None else ids

    # Query 1: the latest check of each provider (one correlated subquery, not one per id).
    latest = HealthCheck.objects.filter(provider_id=OuterRef("pk")).newest_first().values("id")[:1]
    last_rows = Provider.objects.filter(pk__in=in_sql).order_by().annotate(last_id=Subquery(latest)).values("last_id")
    for row in HealthCheck.objects.filter(id__in=last_rows).order_by().values(
        "provider_id", "latency_ms", "checked_at", "error_code", "error_message"
    ):
        if row["provider_id"] not in result:
            continue
        result[row["provider_id"]].update(
            latency_ms_last=row["latency_ms"],
            last_checked_at=row["checked_at"],
            last_error_code=row["error_code"] or None,
            last_error_message=row["error_message"] or None,
            failure_count_last_1m=0,
        )

    # Query 2: the window's aggregates, grouped by provider.
    aggregates: dict[str, Any] = {
        "total": Count("id"),
        "passed": Count("id", filter=Q(ok=True)),
        "avg": Avg("latency_ms", filter=Q(ok=True)),
        "failures_1m": Count("id", filter=Q(ok=False, checked_at__gte=now - FAILURE_WINDOW)),
    }
    with_percentile = _has_percentile()
    if with_percentile:
        aggregates["p95"] = PercentileDisc(_passing_latency())
    window = HealthCheck.objects.filter(provider_id__in=in_sql, checked_at__gte=since, checked_at__lte=now).order_by()
    for row in window.values("provider_id").annotate(**aggregates):
        health = result.get(row["provider_id"])
        if health is None:
            continue
        health.update(
            latency_ms_avg_5m=_round(row["avg"]),
            success_rate_5m=round(row["passed"] / row["total"], 4) if row["total"] else None,
            failure_count_last_1m=row["failures_1m"],
        )
        if with_percentile:
            health["latency_ms_p95_5m"] = _as_number(row["p95"])

    # Query 3 (without percentile functions): the window's passing latencies, all providers.
    if not with_percentile:
        latencies: dict[str, list[int]] = defaultdict(list)
        for pid, latency in window.filter(ok=True, latency_ms__isnull=False).values_list("provider_id", "latency_ms"):
            latencies[pid].append(latency)
        for pid, values in latencies.items():
            if pid in result:
                result[pid]["latency_ms_p95_5m"] = percentile_disc(values)
    return result


def for_provider(provider_id: str, now: datetime | None = None) -> dict[str, Any]:
    return for_providers([provider_id], now)[provider_id]


def annotate_for_list(queryset: QuerySet, now: datetime | None = None) -> QuerySet:
    """Annotate providers for ordering and filtering the list in SQL (subqueries, no extra query)."""
    now = now or timezone.now()
    checks = HealthCheck.objects.filter(provider_id=OuterRef("pk")).order_by()
    last_checked = checks.newest_first().values("checked_at")[:1]
    avg_latency = (
        checks.filter(ok=True, checked_at__gte=now - WINDOW, checked_at__lte=now)
        .values("provider_id")
        .annotate(value=Avg("latency_ms"))
        .values("value")
    )
    failures = (
        checks.filter(ok=False, checked_at__gte=now - FAILURE_WINDOW, checked_at__lte=now)
        .values("provider_id")
        .annotate(value=Count("id"))
        .values("value")
    )
    return queryset.annotate(
        health_last_checked_at=Subquery(last_checked, output_field=DateTimeField()),
        health_latency_avg_5m=Subquery(avg_latency, output_field=FloatField()),
        health_failures_1m=Coalesce(Subquery(failures, output_field=IntegerField()), 0),
    )


def series_for(provider_id: str, now: datetime | None = None, minutes: int = SERIES_MINUTES) -> list[dict[str, Any]]:
    """1-minute buckets of the last `minutes`, oldest first, empty minutes included.

    Each bucket: {"start": datetime, "checks", "failures", "latency_ms_avg", "latency_ms_p95"}.
    """
    now = (now or timezone.now()).astimezone(UTC)
    current = now.replace(second=0, microsecond=0)
    first = current - timedelta(minutes=minutes - 1)
    buckets = {
        first + timedelta(minutes=i): {
            "start": first + timedelta(minutes=i),
            "checks": 0,
            "failures": 0,
            "latency_ms_avg": None,
            "latency_ms_p95": None,
        }
        for i in range(minutes)
    }
    rows = HealthCheck.objects.filter(provider_id=provider_id, checked_at__gte=first, checked_at__lte=now).order_by()
    aggregates: dict[str, Any] = {
        "checks": Count("id"),
        "failures": Count("id", filter=Q(ok=False)),
        "avg": Avg("latency_ms", filter=Q(ok=True)),
    }
    with_percentile = _has_percentile()
    if with_percentile:
        aggregates["p95"] = PercentileDisc(_passing_latency())
    for row in rows.annotate(minute=TruncMinute("checked_at")).values("minute").annotate(**aggregates):
        bucket = buckets.get(_utc_minute(row["minute"]))
        if bucket is None:
            continue
        bucket.update(checks=row["checks"], failures=row["failures"], latency_ms_avg=_round(row["avg"]))
        if with_percentile:
            bucket["latency_ms_p95"] = _as_number(row["p95"])
    if not with_percentile:
        latencies: dict[datetime, list[int]] = defaultdict(list)
        for checked_at, latency in rows.filter(ok=True, latency_ms__isnull=False).values_list("checked_at", "latency_ms"):
            latencies[_utc_minute(checked_at)].append(latency)
        for minute, values in latencies.items():
            if minute in buckets:
                buckets[minute]["latency_ms_p95"] = percentile_disc(values)
    return list(buckets.values())


def _utc_minute(value: datetime) -> datetime:
    if timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value.astimezone(UTC).replace(second=0, microsecond=0)
