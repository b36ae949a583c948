"""The provider record of spec §3.1 and its status rules (ARCHITECTURE.md, "Status")."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from providers import validators as v


class Kind(models.TextChoices):
    OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible"
    OLLAMA = "ollama", "Ollama"
    LLAMA_CPP = "llama_cpp", "llama.cpp server"
    OTHER = "other", "Other"


class Status(models.TextChoices):
    ACTIVE = "active"
    STANDBY = "standby"
    DEGRADED = "degraded"
    UNREACHABLE = "unreachable"
    DISABLED = "disabled"


# What an operator may set; degraded and unreachable are set only by health checks.
OPERATOR_STATUSES = (Status.ACTIVE, Status.STANDBY, Status.DISABLED)
HEALTHY_STATUSES = (Status.ACTIVE, Status.STANDBY)


class Tier(models.TextChoices):
    """The operator's tier: kept while health overlays degraded/unreachable, and restored after."""

    ACTIVE = "active"
    STANDBY = "standby"


class SecretPolicy(models.TextChoices):
    REQUIRED = "required"
    OPTIONAL = "optional"
    NONE = "none"


DEFAULT_SECRET_POLICY = {
    Kind.OPENAI_COMPATIBLE: SecretPolicy.REQUIRED,
    Kind.OLLAMA: SecretPolicy.NONE,
    Kind.LLAMA_CPP: SecretPolicy.NONE,
    Kind.OTHER: SecretPolicy.OPTIONAL,
}


def default_secret_policy(kind: str) -> str:
    return DEFAULT_SECRET_POLICY.get(kind, SecretPolicy.OPTIONAL)


class ProviderQuerySet(models.QuerySet):
    def live(self):
        return self.filter(archived_at__isnull=True)


class Provider(models.Model):
    id = models.CharField(primary_key=True, max_length=63, validators=[v.validate_provider_id])
    name = models.CharField(max_length=100, unique=True)
    display_name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    endpoint = models.CharField(max_length=2048, validators=[v.validate_endpoint])
    default_model = models.CharField(max_length=v.MODEL_NAME_MAX, validators=[v.validate_model_name])
    fallback_models = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    status_reason = models.CharField(max_length=500, blank=True)
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.ACTIVE)
    enabled = models.BooleanField(default=True)
    priority = models.IntegerField(
        default=100,
        validators=[MinValueValidator(v.PRIORITY_RANGE[0]), MaxValueValidator(v.PRIORITY_RANGE[1])],
    )
    capabilities = models.JSONField(default=dict, blank=True, validators=[v.validate_capabilities])
    secret_policy = models.CharField(max_length=16, choices=SecretPolicy.choices)
    retries = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(v.RETRIES_RANGE[0]), MaxValueValidator(v.RETRIES_RANGE[1])]
    )
    timeout_ms = models.PositiveIntegerField(
        default=30_000,
        validators=[MinValueValidator(v.TIMEOUT_MS_RANGE[0]), MaxValueValidator(v.TIMEOUT_MS_RANGE[1])],
    )
    tool_timeout_ms = models.PositiveIntegerField(
        default=60_000,
        validators=[MinValueValidator(v.TOOL_TIMEOUT_MS_RANGE[0]), MaxValueValidator(v.TOOL_TIMEOUT_MS_RANGE[1])],
    )
    metadata = models.JSONField(default=dict, blank=True, validators=[v.validate_metadata])
    version = models.PositiveIntegerField(default=1)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProviderQuerySet.as_manager()

    class Meta:
        ordering = ["priority", "name"]
        permissions = [("test_provider", "Can run health checks on a provider")]

    def __str__(self) -> str:
        return self.display_name or self.name

    def clean(self) -> None:
        # Rules across fields, so the admin form and every service call enforce them too.
        if self._state.adding:
            try:
                v.validate_provider_id_not_reserved(self.id)
            except ValidationError as exc:
                raise ValidationError({"id": exc.messages}) from None
        try:
            v.validate_fallback_models(self.fallback_models, self.default_model)
        except ValidationError as exc:
            raise ValidationError({"fallback_models": exc.messages}) from None

    def fill_defaults(self) -> None:
        """Defaults that depend on other fields: `secret_policy` follows the kind (API.md)."""
        if not self.secret_policy:
            self.secret_policy = default_secret_policy(self.kind)

    def save(self, *args, **kwargs):
        self.fill_defaults()
        super().save(*args, **kwargs)

    @property
    def secret_required(self) -> bool:
        return self.secret_policy == SecretPolicy.REQUIRED

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def models(self) -> list[str]:
        """`default_model` first, then the fallbacks in order."""
        return [self.default_model, *self.fallback_models]

    def operator_status(self) -> str:
        """The status the operator's settings alone would give (no health overlay)."""
        return Status.DISABLED if not self.enabled else self.tier
