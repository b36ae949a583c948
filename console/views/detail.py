"""What a provider's page shows beyond its fields and routing: the last hour as a chart (from
the 1-minute buckets of `health.metrics.series_for`), its check history and its own audit
events, both paginated, the events masked as the API masks them for this user."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator

from audit.models import AuditEvent
from console.eventrows import event_rows
from health.metrics import series_for
from health.models import HealthCheck

CHECKS_PER_PAGE = 20
EVENTS_PER_PAGE = 20
EVENTS_PERMISSION = "audit.view_auditevent"


def detail_extras(request, provider) -> dict[str, Any]:
    checks = Paginator(HealthCheck.objects.for_provider(provider.id).newest_first(), CHECKS_PER_PAGE).get_page(
        request.GET.get("checks_page")
    )
    extras: dict[str, Any] = {
        "series": series_for(provider.id),
        "checks_page": checks,
        "history": list(checks.object_list),
        "sees_events": request.user.has_perm(EVENTS_PERMISSION),
        "events_page": None,
        "event_rows": [],
    }
    if extras["sees_events"]:
        events = Paginator(AuditEvent.objects.filter(provider_id=provider.id).order_by("-id"), EVENTS_PER_PAGE).get_page(
            request.GET.get("events_page")
        )
        extras["events_page"] = events
        extras["event_rows"] = event_rows(list(events.object_list), request.user)
    return extras
