from django.contrib import admin

from core.admin import ReadOnlyModelAdmin
from secrets_vault.models import OwnedSecretVersion, SecretVersion

METADATA_FIELDS = (
    "provider",
    "field",
    "version",
    "action",
    "is_current",
    "restored_from",
    "secret_id_hint",
    "kid",
    "created_by_name",
    "created_at",
    "superseded_at",
    "rewrapped_at",
    "purged_at",
)


@admin.register(SecretVersion)
class SecretVersionAdmin(ReadOnlyModelAdmin):
    """Metadata only: the admin can neither reveal, add, edit nor delete a secret version.

    Key material and ciphertext are not among the fields, so no form, list or export shows
    them; secret actions go through the API or the Secret panel, where they are audited.
    """

    list_display = ("provider", "field", "version", "action", "is_current", "kid", "secret_id_hint",
                    "created_by_name", "created_at", "purged_at")
    list_filter = ("field", "action", "is_current", "kid")
    search_fields = ("provider__id", "provider__name", "secret_id_hint", "created_by_name")
    date_hierarchy = "created_at"
    fields = METADATA_FIELDS
    readonly_fields = METADATA_FIELDS
    list_select_related = ("provider",)
    actions = None

    def get_queryset(self, request):
        return super().get_queryset(request).defer("wrapped_key", "key_nonce", "nonce", "ciphertext")


OWNED_METADATA_FIELDS = (
    "owner",
    "field",
    "version",
    "action",
    "is_current",
    "kid",
    "created_by_name",
    "created_at",
    "superseded_at",
    "rewrapped_at",
    "purged_at",
)


@admin.register(OwnedSecretVersion)
class OwnedSecretVersionAdmin(ReadOnlyModelAdmin):
    """The secrets of other owners (an alert channel's webhook secret), metadata only, as above."""

    list_display = ("owner", "field", "version", "action", "is_current", "kid", "created_by_name", "created_at",
                    "purged_at")
    list_filter = ("field", "action", "is_current", "kid")
    search_fields = ("owner", "created_by_name")
    date_hierarchy = "created_at"
    fields = OWNED_METADATA_FIELDS
    readonly_fields = OWNED_METADATA_FIELDS
    actions = None

    def get_queryset(self, request):
        return super().get_queryset(request).defer("wrapped_key", "key_nonce", "nonce", "ciphertext")
