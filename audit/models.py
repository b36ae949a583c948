"""The audit log: append-only rows, one per change, never edited (NetBox's ObjectChange)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AppendOnlyError(Exception):
    """Raised on any attempt to edit or delete an audit row."""


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Audit events are append-only.")

    def delete(self):
        raise AppendOnlyError("Audit events are append-only.")


class AuditEvent(models.Model):
    class Event(models.TextChoices):
        PROVIDER_CREATED = "provider.created"
        PROVIDER_UPDATED = "provider.updated"
        PROVIDER_ARCHIVED = "provider.archived"
        PROVIDER_RESTORED = "provider.restored"
        PROVIDER_STATE_CHANGED = "provider.state_changed"
        PROVIDER_TESTED = "provider.tested"
        SECRET_UPDATED = "secret.updated"
        SECRET_CLEARED = "secret.cleared"

    event = models.CharField(max_length=40, choices=Event.choices, db_index=True)
    # A plain id, not a foreign key: the audit app knows nothing of the others, and the row
    # must outlive whatever it describes.
    provider_id = models.CharField(max_length=63, blank=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    summary = models.CharField(max_length=500)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["provider_id", "-id"])]

    def __str__(self) -> str:
        return f"{self.event} {self.provider_id}: {self.summary}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Audit events are append-only.")
