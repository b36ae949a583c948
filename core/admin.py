"""What the project's admin classes share."""

from django.contrib import admin


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """For append-only or secret-bearing rows: the admin shows them and changes nothing."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
