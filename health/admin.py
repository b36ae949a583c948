from django.contrib import admin

from health.models import HealthCheck


@admin.register(HealthCheck)
class HealthCheckAdmin(admin.ModelAdmin):
    """Read-only: check rows are append-only history."""

    list_display = ("provider", "checked_at", "ok", "error_code", "latency_ms", "http_status", "provider_status")
    list_filter = ("ok", "error_code")
    search_fields = ("provider__id",)
    date_hierarchy = "checked_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
