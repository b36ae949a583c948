"""Recent check results of one provider, for its page (the API paginates the same rows)."""

from __future__ import annotations

from health.models import HealthCheck


def recent_checks(provider_id: str, limit: int = 20) -> list[HealthCheck]:
    return list(HealthCheck.objects.for_provider(provider_id).newest_first()[:limit])
