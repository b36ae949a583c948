"""Secret versions: every set / rotate / clear / restore is a new, append-only row.

The row that is `is_current` for a (provider, field) pair is the secret's present state: a
value when its action is set/rotate/restore, none when it is a clear. Earlier rows stay
restorable for `VAULT_RETENTION_DAYS` after they were superseded; the purge then destroys
their key material and ciphertext and keeps the metadata.

Each version is bound to the endpoint origin (`scheme://host:port`) it was stored for: the
origin is in the encryption's associated data, and probes send the value only there. When an
admin moves a provider's endpoint to another origin, the current version is re-encrypted for
the new origin in the same transaction (`rebound_at`).

Only `secrets_vault.services` writes these rows, and `rotate_vault_key` / `purge_secrets`
update their key material; nothing else edits them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from secrets_vault.crypto import Envelope


class SecretField(models.TextChoices):
    """The kinds of credential a provider can hold (spec §3.2)."""

    API_KEY = "api_key", "API key"
    TOKEN = "token", "Token"
    SECRET_SALT = "secret_salt", "Secret salt"
    WEBHOOK_SECRET = "webhook_secret", "Webhook secret"
    TLS_IDENTITY = "tls_identity", "TLS identity"


# The credential the API, the projection and the health probes work with.
PRIMARY_FIELD = SecretField.API_KEY


class SecretAction(models.TextChoices):
    SET = "set"
    ROTATE = "rotate"
    CLEAR = "clear"
    RESTORE = "restore"


VALUE_ACTIONS = (SecretAction.SET, SecretAction.ROTATE, SecretAction.RESTORE)


class VersionQuerySet(models.QuerySet):
    """What provider secrets and the secrets of other owners share."""

    def current(self):
        return self.filter(is_current=True)

    def with_value(self):
        """Rows that still hold a value (not a clear, not purged)."""
        return self.filter(action__in=VALUE_ACTIONS, ciphertext__isnull=False)


class SecretVersionQuerySet(VersionQuerySet):
    def history(self, provider_id: str, field: str):
        """Every version of one provider's secret field, newest first."""
        return self.filter(provider_id=provider_id, field=field).order_by("-version")


class SecretVersion(models.Model):
    provider = models.ForeignKey("providers.Provider", on_delete=models.CASCADE, related_name="secret_versions")
    field = models.CharField(max_length=32, choices=SecretField.choices, default=PRIMARY_FIELD)
    version = models.PositiveIntegerField()
    action = models.CharField(max_length=16, choices=SecretAction.choices)
    is_current = models.BooleanField(default=True)
    restored_from = models.PositiveIntegerField(null=True, blank=True)
    secret_id_hint = models.CharField(max_length=64, blank=True)

    # Key material: empty for a clear, destroyed by the purge.
    kid = models.CharField(max_length=32, blank=True, db_index=True)
    wrapped_key = models.BinaryField(null=True, blank=True, editable=False)
    key_nonce = models.BinaryField(null=True, blank=True, editable=False)
    nonce = models.BinaryField(null=True, blank=True, editable=False)
    ciphertext = models.BinaryField(null=True, blank=True, editable=False)
    # The endpoint origin the value may be sent to. `origin_in_aad` is False only for versions
    # stored before origins existed: they keep the first associated-data format, and the
    # migration bound them to their provider's endpoint by this column.
    origin = models.CharField(max_length=300, blank=True)
    origin_in_aad = models.BooleanField(default=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    superseded_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    rewrapped_at = models.DateTimeField(null=True, blank=True)
    rebound_at = models.DateTimeField(null=True, blank=True)

    objects = SecretVersionQuerySet.as_manager()

    class Meta:
        ordering = ["provider_id", "field", "-version"]
        permissions = [("manage_secrets", "Can set, rotate, clear and restore provider secrets")]
        constraints = [
            models.UniqueConstraint(fields=["provider", "field", "version"], name="secret_version_unique"),
            models.UniqueConstraint(
                fields=["provider", "field"], condition=Q(is_current=True), name="secret_one_current"
            ),
        ]
        indexes = [models.Index(fields=["field", "is_current"], name="secret_current_idx")]

    def __str__(self) -> str:
        return f"{self.provider_id}/{self.field} v{self.version} ({self.action})"

    @property
    def holds_value(self) -> bool:
        return self.action in VALUE_ACTIONS and self.ciphertext is not None

    @property
    def is_purged(self) -> bool:
        return self.purged_at is not None

    def envelope(self) -> Envelope:
        return Envelope(
            kid=self.kid,
            wrapped_key=bytes(self.wrapped_key) if self.wrapped_key is not None else b"",
            key_nonce=bytes(self.key_nonce) if self.key_nonce is not None else b"",
            nonce=bytes(self.nonce) if self.nonce is not None else None,
            ciphertext=bytes(self.ciphertext) if self.ciphertext is not None else None,
            origin=self.origin if self.origin_in_aad else None,
        )

    def store(self, envelope: Envelope) -> None:
        self.kid = envelope.kid
        self.wrapped_key = envelope.wrapped_key
        self.key_nonce = envelope.key_nonce
        self.nonce = envelope.nonce
        self.ciphertext = envelope.ciphertext
        if envelope.origin is not None:
            self.origin = envelope.origin
        self.origin_in_aad = envelope.origin is not None


OWNER_MAX_LENGTH = 200


class OwnedSecretVersion(models.Model):
    """A version of a secret kept for an owner other than a provider, e.g. an alert channel's
    `webhook_secret` (owner "alert_channel:ops-webhook").

    The owner is a name, not a foreign key: the apps that own such secrets sit above the vault,
    which must not import them. Versions are append-only as for `SecretVersion` (set, rotate,
    clear), encrypted with the same envelope, bound to owner, field and version (no origin: the
    owner decides where the value goes). When the owner is deleted, `forget` destroys the key
    material of every version and keeps the metadata, as the purge does.

    Only `secrets_vault.owned` writes these rows, and `rotate_vault_key` / `purge_secrets` update
    their key material; nothing else edits them.
    """

    owner = models.CharField(max_length=OWNER_MAX_LENGTH)
    field = models.CharField(max_length=32)
    version = models.PositiveIntegerField()
    action = models.CharField(max_length=16, choices=SecretAction.choices)
    is_current = models.BooleanField(default=True)

    # Key material: empty for a clear, destroyed by the purge and by `forget`.
    kid = models.CharField(max_length=32, blank=True, db_index=True)
    wrapped_key = models.BinaryField(null=True, blank=True, editable=False)
    key_nonce = models.BinaryField(null=True, blank=True, editable=False)
    nonce = models.BinaryField(null=True, blank=True, editable=False)
    ciphertext = models.BinaryField(null=True, blank=True, editable=False)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    superseded_at = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)
    rewrapped_at = models.DateTimeField(null=True, blank=True)

    objects = VersionQuerySet.as_manager()

    class Meta:
        ordering = ["owner", "field", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "field", "version"], name="owned_secret_version_unique"),
            models.UniqueConstraint(
                fields=["owner", "field"], condition=Q(is_current=True), name="owned_secret_one_current"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.owner}/{self.field} v{self.version} ({self.action})"

    @property
    def holds_value(self) -> bool:
        return self.action in VALUE_ACTIONS and self.ciphertext is not None

    def envelope(self) -> Envelope:
        return Envelope(
            kid=self.kid,
            wrapped_key=bytes(self.wrapped_key) if self.wrapped_key is not None else b"",
            key_nonce=bytes(self.key_nonce) if self.key_nonce is not None else b"",
            nonce=bytes(self.nonce) if self.nonce is not None else None,
            ciphertext=bytes(self.ciphertext) if self.ciphertext is not None else None,
        )

    def store(self, envelope: Envelope) -> None:
        self.kid = envelope.kid
        self.wrapped_key = envelope.wrapped_key
        self.key_nonce = envelope.key_nonce
        self.nonce = envelope.nonce
        self.ciphertext = envelope.ciphertext
