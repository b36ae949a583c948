"""The fleet as Prometheus metrics (API.md, "Operations"; docs/metrics.md).

One `FleetCollector` is registered in a fresh `CollectorRegistry` per scrape, so each scrape
reads the database once, as it is now; nothing is kept between scrapes and no process-global
registry is shared between workers (every worker answers the same).

Every series is per provider, labelled `provider` (the provider's id, which never changes) and
`kind`; archived providers are left out (they serve nothing and are not checked). A series whose
value is unknown is absent rather than 0 or NaN: the window figures of a provider with no check
in the last five minutes, everything but the status of one never checked.

Queries: the read model's (`console.readmodel.current_chain`: the providers, the vault's
projections, the health figures of `health.metrics.for_providers`, whose windows are bounded by
time and use the (provider, checked_at) index) and one of the cumulative check counts
(`health.counters`), the same number at any fleet size and any history size.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from console.readmodel import current_chain
from health import counters
from providers.models import Status

LABELS = ["provider", "kind"]


class FleetCollector(Collector):
    def __init__(self, now: datetime | None = None):
        self.now = now

    def collect(self) -> Iterator[Metric]:
        chain, providers, context = current_chain()
        now = self.now or timezone.now()
        live = [p for p in providers if p.archived_at is None]
        live.sort(key=lambda p: p.id)
        kind_of = {p.id: p.kind for p in live}

        status = GaugeMetricFamily(
            "provider_status", "1 for the provider's current status, 0 for the others.", labels=[*LABELS, "status"]
        )
        latency_last = GaugeMetricFamily("provider_latency_ms_last", "Latency of the latest check, in milliseconds.", labels=LABELS)
        latency_avg = GaugeMetricFamily(
            "provider_latency_ms_avg_5m", "Average latency of the passing checks of the last 5 minutes, in milliseconds.", labels=LABELS
        )
        latency_p95 = GaugeMetricFamily(
            "provider_latency_ms_p95_5m",
            "95th percentile (discrete) latency of the passing checks of the last 5 minutes, in milliseconds.",
            labels=LABELS,
        )
        success = GaugeMetricFamily(
            "provider_success_rate_5m", "Passed checks / all checks of the last 5 minutes (0 to 1).", labels=LABELS
        )
        failures = GaugeMetricFamily("provider_failures_last_1m", "Failed checks in the last minute.", labels=LABELS)
        since = GaugeMetricFamily(
            "provider_seconds_since_last_check", "Seconds since the provider's latest check.", labels=LABELS
        )
        serving = GaugeMetricFamily(
            "routing_chain_serving", "1 for the provider the routing chain serves from now, 0 for the others.", labels=LABELS
        )

        for provider in live:
            labels = [provider.id, provider.kind]
            for value in Status.values:
                status.add_metric([*labels, value], 1.0 if provider.status == value else 0.0)
            serving.add_metric(labels, 1.0 if provider.id == chain.active_provider_id else 0.0)
            health = context.health_of(provider.id)
            for family, key in (
                (latency_last, "latency_ms_last"),
                (latency_avg, "latency_ms_avg_5m"),
                (latency_p95, "latency_ms_p95_5m"),
                (success, "success_rate_5m"),
                (failures, "failure_count_last_1m"),
            ):
                if health[key] is not None:
                    family.add_metric(labels, float(health[key]))
            if health["last_checked_at"] is not None:
                since.add_metric(labels, max((now - health["last_checked_at"]).total_seconds(), 0.0))

        checks = CounterMetricFamily(
            "provider_checks",
            "Checks since the provider was created, by result (pass, fail) and error code (empty for a pass).",
            labels=[*LABELS, "result", "error_code"],
        )
        for provider_id, result, error_code, count in counters.counts_for():
            if provider_id in kind_of:  # archived providers (and any created since) left out
                checks.add_metric([provider_id, kind_of[provider_id], result, error_code], float(count))

        yield from (status, latency_last, latency_avg, latency_p95, success, failures, since, checks, serving)


def fleet_registry(now: datetime | None = None) -> CollectorRegistry:
    """A registry holding only the fleet's collector (no process or platform metrics: they
    would differ from worker to worker behind the same address)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(now))
    return registry
