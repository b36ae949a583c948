"""Alert channels, the outbox of deliveries, each delivery's attempts, and the rules' memory.

- `AlertChannel`: where alerts go (a webhook, a Slack incoming webhook, email addresses) and
  which alerts it takes. A webhook channel's signing key is the vault's (`webhook_secret`,
  owner `alert_channel:<id>`), never a column here.
- `AlertDelivery`: the outbox. One row per alert per channel, written in the transaction of the
  audit event that calls for it (alerts/rules.py); the deliverer (alerts/delivery.py) claims,
  sends, retries with backoff and marks it `sent` or `failed`.
- `DeliveryAttempt`: every try of a delivery (time, HTTP status, latency, error code).
- `AlertCooldown`: per channel and subject (a provider's state, a provider's secret, the chain,
  the checks) when the last alert went out and how many changes were held back since: a
  flapping provider gets one alert, then one "still flapping: N changes" summary per cooldown.
- `ServingState`: the provider the chain served with at the last look (alerts/serving.py).
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from providers.validators import validate_provider_id

DEFAULT_COOLDOWN_S = 300
MAX_COOLDOWN_S = 86_400


class ChannelKind(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    SLACK = "slack", "Slack"
    EMAIL = "email", "Email"


class AlertKind(models.TextChoices):
    PROVIDER_UNREACHABLE = "provider.unreachable", "A provider becomes unreachable"
    PROVIDER_DEGRADED = "provider.degraded", "A provider becomes degraded"
    PROVIDER_RECOVERED = "provider.recovered", "A provider recovers"
    CHAIN_SERVING_CHANGED = "chain.serving_changed", "The serving provider changes"
    SECRET_CLEARED = "secret.cleared", "A provider's secret is cleared"
    CHECKS_FAILED = "checks.failed", "Run all checks finds failures"
    ALERT_TEST = "alert.test", "Test alert"


# What a channel may subscribe to: a test alert is sent to one channel when an admin asks.
SUBSCRIBABLE = [kind for kind in AlertKind.values if kind != AlertKind.ALERT_TEST]


class AlertChannel(models.Model):
    id = models.CharField(primary_key=True, max_length=63, validators=[validate_provider_id])
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    # Webhook and Slack: where to POST. Email: unused.
    url = models.CharField(max_length=2000, blank=True)
    email_to = models.JSONField(default=list, blank=True)
    events = models.JSONField(default=list)
    # Empty: every provider (every kind).
    providers = models.JSONField(default=list, blank=True)
    kinds = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    cooldown_s = models.PositiveIntegerField(
        default=DEFAULT_COOLDOWN_S, validators=[MinValueValidator(0), MaxValueValidator(MAX_COOLDOWN_S)]
    )
    version = models.PositiveIntegerField(default=1)
    created_by_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    @property
    def vault_owner(self) -> str:
        return vault_owner(self.pk)


def vault_owner(channel_id: str) -> str:
    """The vault's owner key for a channel's webhook secret."""
    return f"alert_channel:{channel_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class AlertDelivery(models.Model):
    channel = models.ForeignKey(AlertChannel, on_delete=models.CASCADE, related_name="deliveries")
    # The audit event that called for it: a plain id, as the audit log's rows are referred to.
    event_id = models.BigIntegerField(db_index=True)
    alert = models.CharField(max_length=40, choices=AlertKind.choices)
    provider_id = models.CharField(max_length=63, blank=True)
    # The event row as a viewer sees it (payload values masked), frozen when the alert was made,
    # and the one-line text the Slack message, the email and the webhook's `text` carry.
    event = models.JSONField(default=dict)
    text = models.CharField(max_length=1000)
    # A flapping summary: how many changes it stands for (0 for an ordinary alert).
    changes = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A deliverer holds a delivery while it sends it; another may take it only once this passed.
    claimed_by = models.CharField(max_length=64, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_http_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="alert_delivery_due_idx"),
            models.Index(fields=["channel", "-id"], name="alert_delivery_channel_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.alert} to {self.channel_id} ({self.status})"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(AlertDelivery, on_delete=models.CASCADE, related_name="attempt_rows")
    number = models.PositiveIntegerField()
    attempted_at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField()
    http_status = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=40, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"


class AlertCooldown(models.Model):
    channel = models.ForeignKey(AlertChannel, on_delete=models.CASCADE, related_name="+")
    # What the cooldown is about: "state:<provider>", "secret:<provider>", "chain", "checks".
    subject = models.CharField(max_length=80)
    provider_id = models.CharField(max_length=63, blank=True)
    window_started_at = models.DateTimeField()
    held_back = models.PositiveIntegerField(default=0)
    last_event_id = models.BigIntegerField(null=True, blank=True)
    last_alert = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "subject"], name="alert_cooldown_unique")]
        indexes = [models.Index(fields=["held_back", "window_started_at"], name="alert_cooldown_due_idx")]


class ServingState(models.Model):
    """One row (pk 1): who served at the last look, and a version for compare-and-set."""

    serving_provider_id = models.CharField(max_length=63, blank=True)
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)
