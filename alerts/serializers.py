"""The alert channel, its deliveries and the request bodies of the alerts API (API.md, "Alerts").

The channel's fields are checked by `alerts.validation.clean_channel` (called by the services),
not here: these serializers make a JSON body strict (unknown and read-only fields are a 400
naming them), describe the shapes for the schema, and write the answers. A webhook channel's
secret is shown as its state only (present, version, last touch), never its value.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.http import QueryDict
from rest_framework import serializers

from alerts.models import MAX_COOLDOWN_S, SUBSCRIBABLE, AlertChannel, AlertDelivery, ChannelKind, DeliveryStatus
from alerts.models import AlertKind as AlertKindChoices
from alerts.services import secret_state, secret_states
from audit.api import EventSerializer
from core.masking import MASK
from core.serializers import StrictFieldsMixin
from core.timefmt import iso_utc
from providers.models import Kind

# Who may read a channel's URL in full: a Slack incoming webhook's URL is itself the credential
# that posts to the channel, and a webhook's may carry a token, so readers who cannot change
# channels see its scheme and host only.
URL_READER_PERMISSION = "alerts.change_alertchannel"


class _JsonAsSent(serializers.Serializer):
    """A JSON body goes to `clean_channel` as sent (its rules, its messages, each naming its
    field); only the browsable API's HTML form is parsed by the fields declared here."""

    def to_internal_value(self, data):
        if isinstance(data, QueryDict):
            return super().to_internal_value(data)
        return dict(data)


class AlertChannelWriteSerializer(StrictFieldsMixin, _JsonAsSent):
    """`POST /api/alert-channels` and `PATCH /api/alert-channels/{id}`: the channel's fields.

    `id` and `kind` are given at creation and cannot change (400 naming them)."""

    id = serializers.RegexField(r"^[a-z0-9][a-z0-9_-]{0,62}$", max_length=63)
    name = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=ChannelKind.choices)
    url = serializers.CharField(
        required=False, allow_blank=True, max_length=2000,
        help_text="Webhook and Slack: the http(s) URL to POST to, without a user name or password. Email: empty.",
    )
    email_to = serializers.ListField(
        child=serializers.EmailField(), required=False, max_length=20, help_text="Email: 1 to 20 addresses."
    )
    events = serializers.ListField(child=serializers.ChoiceField(choices=SUBSCRIBABLE), min_length=1)
    providers = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Provider ids; empty: every provider."
    )
    kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=Kind.choices), required=False, help_text="Provider kinds; empty: every kind."
    )
    enabled = serializers.BooleanField(required=False, default=True)
    cooldown_s = serializers.IntegerField(
        required=False, default=300, min_value=0, max_value=MAX_COOLDOWN_S,
        help_text="Seconds a flapping provider is summarised for, per provider and channel.",
    )


class LastDeliverySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)


class AlertChannelListSerializer(serializers.ListSerializer):
    """A page of channels: the webhook secrets' states of the whole page in one query."""

    def to_representation(self, data):
        channels = list(data)
        self.context["secret_states"] = secret_states(channels)
        return super().to_representation(channels)


class AlertChannelSerializer(serializers.Serializer):
    """The channel as the API reads it. `failing`: its deliveries that failed or wait for a retry;
    `last_delivery`: the newest one's status and times (null before the first). Both come from
    the annotations of `with_delivery_summary`, the secret states from one query per page."""

    id = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=ChannelKind.choices)
    url = serializers.CharField(help_text="Scheme and host only (`/***` after them) for readers who cannot edit.")
    email_to = serializers.ListField(child=serializers.CharField())
    events = serializers.ListField(child=serializers.ChoiceField(choices=SUBSCRIBABLE))
    providers = serializers.ListField(child=serializers.CharField())
    kinds = serializers.ListField(child=serializers.ChoiceField(choices=Kind.choices))
    enabled = serializers.BooleanField()
    cooldown_s = serializers.IntegerField()
    webhook_secret_present = serializers.BooleanField()
    webhook_secret_version = serializers.IntegerField(allow_null=True)
    webhook_secret_touched_at = serializers.DateTimeField(allow_null=True)
    webhook_secret_touched_by = serializers.CharField(allow_null=True)
    last_delivery = LastDeliverySerializer(allow_null=True)
    failing = serializers.IntegerField()
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    class Meta:
        list_serializer_class = AlertChannelListSerializer

    def to_representation(self, channel: AlertChannel) -> dict[str, Any]:
        states = self.context.get("secret_states") or {}
        state = states.get(channel.pk) or secret_state(channel)
        last_status = getattr(channel, "last_delivery_status", None)
        return {
            "id": channel.pk,
            "name": channel.name,
            "kind": channel.kind,
            "url": channel.url if self._reads_urls() else masked_url(channel.url),
            "email_to": channel.email_to,
            "events": channel.events,
            "providers": channel.providers,
            "kinds": channel.kinds,
            "enabled": channel.enabled,
            "cooldown_s": channel.cooldown_s,
            "webhook_secret_present": state["present"],
            "webhook_secret_version": state["version"],
            "webhook_secret_touched_at": iso_utc(state["touched_at"]),
            "webhook_secret_touched_by": state["touched_by"],
            "last_delivery": None if last_status is None else {
                "status": last_status,
                "created_at": iso_utc(channel.last_delivery_created_at),
                "sent_at": iso_utc(channel.last_delivery_sent_at),
            },
            "failing": getattr(channel, "failing", 0) or 0,
            "version": channel.version,
            "created_at": iso_utc(channel.created_at),
            "updated_at": iso_utc(channel.updated_at),
        }

    def _reads_urls(self) -> bool:
        if "reads_urls" not in self.context:
            request = self.context.get("request")
            self.context["reads_urls"] = bool(request and request.user.has_perm(URL_READER_PERMISSION))
        return self.context["reads_urls"]


def masked_url(url: str) -> str:
    """The URL's scheme and host, its path and query masked: where alerts go, not the key."""
    if not url:
        return url
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}/{MASK}"


class DeliveryAttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    attempted_at = serializers.DateTimeField()
    ok = serializers.BooleanField()
    http_status = serializers.IntegerField(allow_null=True)
    latency_ms = serializers.IntegerField(allow_null=True)
    error_code = serializers.CharField(help_text="Empty when the attempt succeeded.")


class AlertDeliverySerializer(serializers.Serializer):
    """One alert to one channel: its state in the outbox and every attempt made (oldest first).

    `event` is the event row as a viewer sees it (payload values masked), frozen when the alert
    was made; `last_error` is a short reason, never a response body or a secret."""

    id = serializers.IntegerField()
    event_id = serializers.IntegerField()
    alert = serializers.ChoiceField(choices=AlertKindChoices.choices)
    event = EventSerializer()
    text = serializers.CharField()
    changes = serializers.IntegerField(help_text="A flapping summary: the changes it stands for (else 0).")
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    attempts = serializers.IntegerField()
    last_http_status = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    next_attempt_at = serializers.DateTimeField(allow_null=True, help_text="Null once sent or failed.")
    sent_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    attempts_detail = DeliveryAttemptSerializer(many=True)

    def to_representation(self, delivery: AlertDelivery) -> dict[str, Any]:
        waiting = delivery.status == DeliveryStatus.PENDING
        return {
            "id": delivery.pk,
            "event_id": delivery.event_id,
            "alert": delivery.alert,
            "event": delivery.event,
            "text": delivery.text,
            "changes": delivery.changes,
            "status": delivery.status,
            "attempts": delivery.attempts,
            "last_http_status": delivery.last_http_status,
            "last_error": delivery.last_error,
            "next_attempt_at": iso_utc(delivery.next_attempt_at) if waiting else None,
            "sent_at": iso_utc(delivery.sent_at),
            "created_at": iso_utc(delivery.created_at),
            "attempts_detail": [
                {
                    "number": a.number,
                    "attempted_at": iso_utc(a.attempted_at),
                    "ok": a.ok,
                    "http_status": a.http_status,
                    "latency_ms": a.latency_ms,
                    "error_code": a.error_code,
                }
                for a in sorted(delivery.attempt_rows.all(), key=lambda a: a.number)
            ],
        }


class DeliveryFilterSerializer(serializers.Serializer):
    """The deliveries' filter: `?status=pending|sent|failed` (any other value is a 400)."""

    status = serializers.ChoiceField(choices=DeliveryStatus.choices, required=False)


class NoBodySerializer(serializers.Serializer):
    """An endpoint that takes no body (the browsable API still draws its POST button from it)."""


class WebhookSecretActionSerializer(StrictFieldsMixin, serializers.Serializer):
    """`{"action": "set"|"rotate", "value"}` or `{"action": "clear"}`; the vault checks the value."""

    action = serializers.ChoiceField(choices=["set", "rotate", "clear"])
    value = serializers.CharField(
        required=False, allow_null=True, trim_whitespace=False, write_only=True,
        style={"input_type": "password"},
        help_text="The signing key, for set and rotate only; never sent back.",
    )

    def validate_value(self, value):
        if value is not None and not isinstance(self.initial_data.get("value"), str):
            raise serializers.ValidationError("Must be a string.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        action, value = attrs["action"], attrs.get("value")
        if action in ("set", "rotate") and not value:
            raise serializers.ValidationError({"value": [f"Required for {action}."]})
        if action == "clear" and value is not None:
            raise serializers.ValidationError({"value": ["Not used with clear."]})
        return attrs


class WebhookSecretStateSerializer(serializers.Serializer):
    """The webhook secret's state after an action: never its value."""

    channel_id = serializers.CharField()
    action = serializers.ChoiceField(choices=["set", "rotate", "clear"])
    webhook_secret_present = serializers.BooleanField()
    webhook_secret_version = serializers.IntegerField(allow_null=True)
    webhook_secret_touched_at = serializers.DateTimeField(allow_null=True)
    webhook_secret_touched_by = serializers.CharField(allow_null=True)


def secret_state_body(channel: AlertChannel, action: str, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "channel_id": channel.pk,
        "action": action,
        "webhook_secret_present": state["present"],
        "webhook_secret_version": state["version"],
        "webhook_secret_touched_at": iso_utc(state["touched_at"]),
        "webhook_secret_touched_by": state["touched_by"],
    }
