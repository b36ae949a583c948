"""The Django admin shows alert channels and deliveries read-only: changes go through the
console and the API (alerts/services.py), where they are validated and audited."""

from django.contrib import admin

from alerts.models import AlertChannel, AlertDelivery, DeliveryAttempt
from core.admin import ReadOnlyModelAdmin


@admin.register(AlertChannel)
class AlertChannelAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "name", "kind", "enabled", "cooldown_s", "version", "updated_at")
    list_filter = ("kind", "enabled")
    search_fields = ("id", "name")


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ("number", "attempted_at", "ok", "http_status", "latency_ms", "error_code", "error")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "channel", "alert", "provider_id", "status", "attempts", "last_http_status", "created_at")
    list_filter = ("status", "alert")
    search_fields = ("provider_id", "channel__id")
    inlines = [DeliveryAttemptInline]
