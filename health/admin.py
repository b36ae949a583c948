from django.contrib import admin

from core.admin import ReadOnlyModelAdmin
from health.models import HealthCheck


@admin.register(HealthCheck)
class HealthCheckAdmin(ReadOnlyModelAdmin):
    """Read-only: check rows are append-only history."""

    list_display = ("provider", "checked_at", "ok", "error_code", "latency_ms", "http_status", "provider_status")
    list_filter = ("ok", "error_code")
    search_fields = ("provider__id",)
    date_hierarchy = "checked_at"
