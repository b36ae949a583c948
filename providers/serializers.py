"""The provider object of API.md, field by field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.serializers import StrictFieldsMixin
from core.parsers import JSONSerializerField
from core.timefmt import iso_utc
from providers import validators as v
from providers.models import OPERATOR_STATUSES, Kind, Provider, SecretPolicy, default_secret_policy

WRITABLE_FIELDS = (
    "id", "name", "display_name", "kind", "endpoint", "default_model", "fallback_models",
    "status", "enabled", "priority", "capabilities", "secret_policy", "retries", "timeout_ms",
    "tool_timeout_ms", "metadata",
)
SECRET_FIELDS = (
    "secret_present", "secret_last_rotated_at", "secret_touched_by", "secret_touched_at", "secret_id_hint",
)
HEALTH_FIELDS = (
    "latency_ms_last", "latency_ms_avg_5m", "latency_ms_p95_5m", "success_rate_5m",
    "failure_count_last_1m", "last_checked_at", "last_error_code", "last_error_message",
)
MASK = "***"


def chain_context(context: dict) -> dict:
    """The chain and per-provider context, loaded on first use and shared by a whole list.

    Loaded lazily so a response written after a change shows the chain as it now is.
    """
    if "chain" not in context:
        context["chain"], _, context["provider_context"] = context["load_chain"]()
    return context


class SecretProjectionField(serializers.Field):
    """One field of the vault's UI-safe projection; never anything else of the secret."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, provider: Provider):
        value = chain_context(self.context)["provider_context"].secret(provider.id).get(self.field_name)
        return iso_utc(value) if isinstance(value, datetime) else value


@extend_schema_field(OpenApiTypes.BOOL)
class SecretFlagField(SecretProjectionField):
    pass


@extend_schema_field({"type": "string", "nullable": True})
class SecretTextField(SecretProjectionField):
    pass


class ProviderSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    id = serializers.RegexField(
        v.PROVIDER_ID_RE,
        max_length=63,
        error_messages={"invalid": "Use 1 to 63 lowercase letters, digits, '-' or '_', starting with a letter or digit."},
    )
    name = serializers.CharField(max_length=100)
    endpoint = serializers.CharField(max_length=2048, validators=[v.validate_endpoint])
    default_model = serializers.CharField(max_length=v.MODEL_NAME_MAX, validators=[v.validate_model_name], trim_whitespace=False)
    # `initial` is what the browsable API's create form shows: the model's defaults, not null.
    fallback_models = JSONSerializerField(required=False, initial=list)
    capabilities = JSONSerializerField(required=False, initial=dict, validators=[v.validate_capabilities])
    metadata = JSONSerializerField(required=False, initial=dict, validators=[v.validate_metadata])
    kind = serializers.ChoiceField(choices=Kind.choices)
    secret_policy = serializers.ChoiceField(
        choices=SecretPolicy.choices,
        required=False,
        # The create form offers "the kind's default" first: an empty choice leaves it to `validate`.
        style={"template": "api/select_default.html", "default_label": "(the kind's default)"},
    )
    status = serializers.ChoiceField(
        choices=[(s.value, s.label) for s in OPERATOR_STATUSES],
        required=False,
        error_messages={
            "invalid_choice": "\"{input}\" cannot be set: an operator sets active, standby or disabled; "
            "degraded and unreachable come from health checks."
        },
    )
    enabled = serializers.BooleanField(required=False, initial=True)
    secret_required = serializers.BooleanField(read_only=True)
    secret_present = SecretFlagField()
    secret_last_rotated_at = SecretTextField()
    secret_touched_by = SecretTextField()
    secret_touched_at = SecretTextField()
    secret_id_hint = SecretTextField()
    routing_intent = serializers.SerializerMethodField()
    health = serializers.SerializerMethodField()

    class Meta:
        model = Provider
        fields = (
            "id", "name", "display_name", "kind", "endpoint", "default_model", "fallback_models",
            "status", "status_reason", "enabled", "priority", "capabilities", "secret_policy",
            "secret_required", *SECRET_FIELDS, "retries", "timeout_ms", "tool_timeout_ms", "metadata",
            "routing_intent", "health", "version", "archived_at", "created_at", "updated_at",
        )
        read_only_fields = ("status_reason", "version", "archived_at", "created_at", "updated_at")
        # Uniqueness is checked by the view and answered with 409, as API.md asks.
        validators: list = []

    # --- reading -----------------------------------------------------------------------

    def get_health(self, obj: Provider) -> dict[str, Any]:
        health = dict(chain_context(self.context)["provider_context"].health_of(obj.id))
        health["last_checked_at"] = iso_utc(health.get("last_checked_at"))
        return {name: health.get(name) for name in HEALTH_FIELDS}

    def get_routing_intent(self, obj: Provider) -> dict[str, Any]:
        return chain_context(self.context)["chain"].routing_intent(obj.id, obj.models)

    def to_representation(self, instance: Provider) -> dict[str, Any]:
        data = super().to_representation(instance)
        for name in ("archived_at", "created_at", "updated_at"):
            data[name] = iso_utc(getattr(instance, name))
        if self.context.get("mask_metadata", lambda obj: True)(instance):
            data["metadata"] = {key: MASK for key in (instance.metadata or {})}
        return data

    # --- writing -----------------------------------------------------------------------

    def validate_id(self, value: str) -> str:
        if self.instance is not None and value != self.instance.id:
            raise serializers.ValidationError("The id is fixed at creation and cannot be changed.")
        if self.instance is None:
            try:
                v.validate_provider_id_not_reserved(value)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.messages) from None
        return value

    def validate_name(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value

    def validate_endpoint(self, value: str) -> str:
        return value.rstrip("/")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        current = self.instance
        default_model = attrs.get("default_model", current.default_model if current else None)
        fallbacks = attrs.get("fallback_models", current.fallback_models if current else [])
        if "fallback_models" in attrs or "default_model" in attrs:
            try:
                v.validate_fallback_models(fallbacks, default_model)
            except DjangoValidationError as exc:
                raise serializers.ValidationError({"fallback_models": exc.messages}) from None
        status, enabled = attrs.get("status"), attrs.get("enabled")
        if status is not None and enabled is not None and (status == "disabled") == enabled:
            raise serializers.ValidationError(
                {"enabled": [f"enabled={str(enabled).lower()} contradicts status={status}; disabled means enabled=false."]}
            )
        if current is None and "secret_policy" not in attrs and "kind" in attrs:
            attrs["secret_policy"] = default_secret_policy(attrs["kind"])
        return attrs


class RoutingPreviewSerializer(StrictFieldsMixin, serializers.Serializer):
    provider_id = serializers.CharField(required=False, max_length=63)
    changes = serializers.DictField(required=False)
    provider = serializers.DictField(required=False)

    def validate(self, attrs):
        has_change = "provider_id" in attrs or "changes" in attrs
        if has_change == ("provider" in attrs):
            raise serializers.ValidationError(
                {"detail": "Send either provider_id with changes, or provider (a new provider)."}
            )
        if has_change and not ("provider_id" in attrs and "changes" in attrs):
            raise serializers.ValidationError({"changes": ["provider_id and changes go together."]})
        return attrs
