from django.contrib import admin

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only, and the admin is no back door."""

    list_display = ("created_at", "event", "provider_id", "actor_name", "summary")
    list_filter = ("event",)
    search_fields = ("provider_id", "actor_name", "summary", "request_id")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
