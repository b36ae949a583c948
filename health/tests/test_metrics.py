"""Metrics of spec §3.3, computed for many providers in a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from health import metrics
from health.models import HealthCheck
from providers.models import Provider

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
# for_providers: latest row of each provider, the window's aggregates, and — without SQL
# percentiles — the window's latencies.
FOR_PROVIDERS_QUERIES = 2 if connection.vendor == "postgresql" else 3


def check(provider, seconds_ago: float, *, ok: bool = True, latency: int | None = 100, code: str | None = None, message: str = ""):
    return HealthCheck(
        provider=provider, checked_at=NOW - timedelta(seconds=seconds_ago), ok=ok, latency_ms=latency,
        error_code=code, error_message=message, provider_status=provider.status,
    )


@pytest.fixture
def history(provider_factory):
    busy, idle, never = provider_factory(), provider_factory(), provider_factory()
    HealthCheck.objects.bulk_create(
        [
            check(busy, 20 * 60, latency=9999),  # outside every window
            *(check(busy, 240 - i, latency=latency) for i, latency in enumerate([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000])),
            check(busy, 90, ok=False, latency=3000, code="timeout"),
            check(busy, 30, ok=False, latency=None, code="missing_secret"),
            check(busy, 10, ok=False, latency=42, code="server_error", message="The server answered HTTP 500."),
            check(idle, 15 * 60, latency=250),
        ]
    )
    return busy, idle, never


def test_for_providers_computes_every_field(history):
    busy, idle, never = history

    health = metrics.for_providers([busy.pk, idle.pk, never.pk], now=NOW)

    assert health[busy.pk] == {
        "latency_ms_last": 42,
        "latency_ms_avg_5m": 550.0,  # passing checks only
        "latency_ms_p95_5m": 1000,
        "success_rate_5m": round(10 / 13, 4),
        "failure_count_last_1m": 2,
        "last_checked_at": NOW - timedelta(seconds=10),
        "last_error_code": "server_error",
        "last_error_message": "The server answered HTTP 500.",
    }
    assert health[idle.pk] == {
        **metrics.EMPTY_HEALTH,
        "latency_ms_last": 250,
        "last_checked_at": NOW - timedelta(minutes=15),
        "failure_count_last_1m": 0,
    }
    assert health[never.pk] == metrics.EMPTY_HEALTH


def test_for_providers_needs_the_same_queries_for_3_or_300_providers(history, provider_factory, django_assert_num_queries):
    ids = [p.pk for p in history]
    with django_assert_num_queries(FOR_PROVIDERS_QUERIES):
        metrics.for_providers(ids, now=NOW)

    many = [provider_factory() for _ in range(300)]
    HealthCheck.objects.bulk_create(check(p, s) for p in many for s in (5, 50, 500))
    with django_assert_num_queries(FOR_PROVIDERS_QUERIES):
        result = metrics.for_providers([p.pk for p in many] + ids, now=NOW)
    assert len(result) == 303
    assert result[many[-1].pk]["success_rate_5m"] == 1.0


def test_for_providers_of_nothing_asks_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert metrics.for_providers([]) == {}


def test_the_latest_check_is_by_time_not_by_insertion(provider_factory):
    provider = provider_factory()
    HealthCheck.objects.bulk_create([check(provider, 5, latency=5), check(provider, 60, latency=60)])
    assert metrics.for_provider(provider.pk, now=NOW)["latency_ms_last"] == 5


def test_p95_is_the_discrete_percentile():
    assert metrics.percentile_disc([]) is None
    assert metrics.percentile_disc([7]) == 7
    assert metrics.percentile_disc(list(range(1, 101))) == 95
    assert metrics.percentile_disc(list(range(1, 21))) == 19
    assert metrics.percentile_disc([5, 1, 3]) == 5


def test_annotate_for_list_sorts_and_filters_in_one_query(history, django_assert_num_queries):
    busy, idle, never = history

    with django_assert_num_queries(1):
        rows = {
            p.pk: (p.health_last_checked_at, p.health_latency_avg_5m, p.health_failures_1m)
            for p in metrics.annotate_for_list(Provider.objects.all(), now=NOW)
        }

    assert rows[busy.pk] == (NOW - timedelta(seconds=10), 550.0, 2)
    assert rows[idle.pk] == (NOW - timedelta(minutes=15), None, 0)
    assert rows[never.pk] == (None, None, 0)

    by_failures = metrics.annotate_for_list(Provider.objects.all(), now=NOW).order_by("-health_failures_1m", "pk")
    assert by_failures.first() == busy
    unchecked = metrics.annotate_for_list(Provider.objects.all(), now=NOW).filter(health_last_checked_at__isnull=True)
    assert list(unchecked) == [never]


def test_series_has_sixty_one_minute_buckets(history, django_assert_num_queries):
    busy, _, never = history

    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 2):
        series = metrics.series_for(busy.pk, now=NOW)

    assert len(series) == 60
    assert series[-1]["start"] == NOW.replace(second=0)
    assert series[0]["start"] == NOW.replace(second=0) - timedelta(minutes=59)
    assert sum(b["checks"] for b in series) == 14  # the one 20 minutes old included
    assert sum(b["failures"] for b in series) == 3
    twenty_ago = [b for b in series if b["start"] == (NOW - timedelta(minutes=20)).replace(second=0)][0]
    assert twenty_ago == {**twenty_ago, "checks": 1, "failures": 0, "latency_ms_avg": 9999.0, "latency_ms_p95": 9999}
    assert all(b["checks"] == 0 and b["latency_ms_avg"] is None for b in metrics.series_for(never.pk, now=NOW))
