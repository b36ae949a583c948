from django.contrib import admin

from audit.models import AuditEvent
from core.admin import ReadOnlyModelAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    """Read-only: the audit log is append-only, and the admin is no back door."""

    list_display = ("created_at", "event", "provider_id", "actor_name", "summary")
    list_filter = ("event",)
    search_fields = ("provider_id", "actor_name", "summary", "request_id")
    date_hierarchy = "created_at"
