from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from guardian.admin import GuardedModelAdmin

from core.parsers import JSONFormField
from providers import services
from providers.models import Provider
from providers.signals import ChangeConflict, ChangeRefused


@admin.register(Provider)
class ProviderAdmin(GuardedModelAdmin):
    """Edits go through providers.services, so the admin writes the same audit rows as the API.

    guardian's "Object permissions" screen (a button on each provider's page) delegates that
    provider to a user or a group, as `manage.py delegate` does (docs/roles.md).
    """

    list_display = ("id", "name", "kind", "status", "enabled", "priority", "archived_at")
    list_filter = ("kind", "status", "enabled")
    search_fields = ("id", "name", "display_name", "endpoint")
    readonly_fields = ("status", "status_reason", "tier", "version", "archived_at", "created_at", "updated_at")
    actions = ["archive", "restore"]
    # JSON nested too deep is a field error on the form, not a RecursionError (core/parsers.py).
    formfield_overrides = {models.JSONField: {"form_class": JSONFormField}}

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (("id",) if obj else ())

    def has_delete_permission(self, request, obj=None):
        return False  # archive instead: reversible, audited

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None:
            return form

        class CheckedForm(form):
            """Shows a change another app refuses (e.g. moving a secret's origin) on the form, before saving."""

            def clean(self):
                data = super().clean()
                changes = {name: data[name] for name in self.changed_data if name in data}
                try:
                    services.check_update(obj, changes, actor=request.user)
                except (ChangeRefused, ChangeConflict) as exc:
                    raise ValidationError(str(exc)) from None
                return data

        return CheckedForm

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
        try:
            if change:
                services.update_provider(Provider.objects.get(pk=obj.pk), data, actor=request.user)
            else:
                services.create_provider(
                    {name: form.cleaned_data[name] for name in form.cleaned_data}, actor=request.user
                )
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
        except (ChangeRefused, ChangeConflict) as exc:  # refused after the form's own check (a race)
            messages.error(request, str(exc))

    @admin.action(description="Archive selected providers")
    def archive(self, request, queryset):
        for provider in queryset:
            services.archive_provider(provider, actor=request.user)

    @admin.action(description="Restore selected providers")
    def restore(self, request, queryset):
        for provider in queryset:
            services.restore_provider(provider, actor=request.user)
