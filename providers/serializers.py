"""The provider object of API.md, field by field."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializers import StrictFieldsMixin
from core.masking import MASK
from core.parsers import JSONSerializerField
from core.timefmt import iso_utc
from providers import validators as v
from providers.models import OPERATOR_STATUSES, Kind, Provider, SecretPolicy, Status, default_secret_policy

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


@extend_schema_field({"type": "string", "format": "date-time", "nullable": True})
class SecretTimeField(SecretProjectionField):
    pass


# The rules of providers/validators.py, as the schema states them to integrators.
MODEL_NAME_SCHEMA = {"type": "string", "minLength": 1, "maxLength": v.MODEL_NAME_MAX, "pattern": r"^\S([\s\S]*\S)?$"}
# (OpenAPI 3.0 has no propertyNames: keys are 1 to JSON_KEY_MAX characters, the server says so.)
JSON_OBJECT_SCHEMA = {"type": "object", "maxProperties": v.JSON_OBJECT_MAX_KEYS}
SCALAR_SCHEMA = {"anyOf": [{"type": t} for t in ("string", "number", "boolean")], "nullable": True}


@extend_schema_field(MODEL_NAME_SCHEMA)
class ModelNameField(serializers.CharField):
    """`default_model`: no leading or trailing space."""


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": 100, "pattern": r"\S"})
class NameField(serializers.CharField):
    """`name`: not blank."""


@extend_schema_field({
    "type": "string", "format": "uri", "maxLength": 2048,
    "description": "An http:// or https:// URL, without credentials (user:password@, ?api_key=…).",
})
class EndpointField(serializers.CharField):
    pass


@extend_schema_field({
    "type": "array", "items": MODEL_NAME_SCHEMA, "maxItems": v.FALLBACK_MODELS_MAX, "uniqueItems": True,
    "description": "Models tried after `default_model`, in order; not the default model itself.",
})
class ModelNamesField(JSONSerializerField):
    """`fallback_models`: a JSON list of model names."""


@extend_schema_field({**JSON_OBJECT_SCHEMA, "additionalProperties": {}})
class CapabilitiesField(JSONSerializerField):
    """`capabilities`: a JSON object."""


@extend_schema_field({
    **JSON_OBJECT_SCHEMA,
    "additionalProperties": {"anyOf": [SCALAR_SCHEMA, {"type": "array", "items": SCALAR_SCHEMA}]},
    "description": "Non-sensitive labels; a key that looks like a credential (key, token, secret, password, "
    "auth, credential) is refused. Viewers read every value as \"***\".",
})
class MetadataField(JSONSerializerField):
    """`metadata`: a flat JSON object."""


class StatusField(serializers.ChoiceField):
    """`status`: an operator sends active, standby or disabled; a provider reads any status,
    health's degraded and unreachable included."""


class StatusFieldSchema(OpenApiSerializerFieldExtension):
    target_class = StatusField

    def map_serializer_field(self, auto_schema, direction):
        values = [s.value for s in OPERATOR_STATUSES] if direction == "request" else list(Status.values)
        return {"type": "string", "enum": values}


# --- what the responses hold besides the provider's own fields, for the OpenAPI schema ---


class ProviderHealthSerializer(serializers.Serializer):
    """`health` of a provider (and the figures of `GET …/metrics`); null until the first check."""

    latency_ms_last = serializers.IntegerField(allow_null=True)
    latency_ms_avg_5m = serializers.FloatField(allow_null=True)
    latency_ms_p95_5m = serializers.FloatField(allow_null=True)
    success_rate_5m = serializers.FloatField(allow_null=True)
    failure_count_last_1m = serializers.IntegerField(allow_null=True)
    last_checked_at = serializers.DateTimeField(allow_null=True)
    last_error_code = serializers.CharField(allow_null=True)
    last_error_message = serializers.CharField(allow_null=True)


class RoutingIntentSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=["primary", "fallback", "excluded"])
    position = serializers.IntegerField(allow_null=True)
    targets = serializers.ListField(child=serializers.CharField())
    next_provider_id = serializers.CharField(allow_null=True)


class ChainNodeSerializer(serializers.Serializer):
    provider_id = serializers.CharField()
    name = serializers.CharField()
    display_name = serializers.CharField()
    position = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Status.choices)
    models = serializers.ListField(child=serializers.CharField())
    state = serializers.ChoiceField(choices=["active", "standby", "skipped"])
    reason_code = serializers.CharField()
    reason = serializers.CharField()


class ChainExcludedSerializer(serializers.Serializer):
    provider_id = serializers.CharField()
    reason_code = serializers.CharField()
    reason = serializers.CharField()


class ChainSerializer(serializers.Serializer):
    """The routing chain of API.md (`providers.routing.Chain.to_dict()`)."""

    nodes = ChainNodeSerializer(many=True)
    active_provider_id = serializers.CharField(allow_null=True)
    active_reason = serializers.CharField()
    excluded = ChainExcludedSerializer(many=True)
    computed_at = serializers.DateTimeField()


class ChainPreviewSerializer(ChainSerializer):
    """The chain as if a change were applied, and whether it differs from the chain now."""

    changed = serializers.BooleanField()


class ProviderSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    id = serializers.RegexField(
        v.PROVIDER_ID_RE,
        max_length=63,
        error_messages={"invalid": "Use 1 to 63 lowercase letters, digits, '-' or '_', starting with a letter or digit."},
    )
    name = NameField(max_length=100)
    endpoint = EndpointField(max_length=2048, validators=[v.validate_endpoint])
    default_model = ModelNameField(max_length=v.MODEL_NAME_MAX, validators=[v.validate_model_name], trim_whitespace=False)
    # `initial` is what the browsable API's create form shows: the model's defaults, not null.
    fallback_models = ModelNamesField(required=False, initial=list)
    capabilities = CapabilitiesField(required=False, initial=dict, validators=[v.validate_capabilities])
    metadata = MetadataField(required=False, initial=dict, validators=[v.validate_metadata])
    kind = serializers.ChoiceField(choices=Kind.choices)
    secret_policy = serializers.ChoiceField(
        choices=SecretPolicy.choices,
        required=False,
        # The create form offers "the kind's default" first: an empty choice leaves it to `validate`.
        style={"template": "api/select_default.html", "default_label": "(the kind's default)"},
    )
    status = StatusField(
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
    secret_last_rotated_at = SecretTimeField()
    secret_touched_by = SecretTextField()
    secret_touched_at = SecretTimeField()
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

    @extend_schema_field(ProviderHealthSerializer)
    def get_health(self, obj: Provider) -> dict[str, Any]:
        health = dict(chain_context(self.context)["provider_context"].health_of(obj.id))
        health["last_checked_at"] = iso_utc(health.get("last_checked_at"))
        return {name: health.get(name) for name in HEALTH_FIELDS}

    @extend_schema_field(RoutingIntentSerializer)
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


@extend_schema_field(ProviderSerializer(partial=True))
class ProposedChangesField(serializers.DictField):
    """`changes`: writable provider fields, validated as a PATCH of `provider_id` would be."""


@extend_schema_field(ProviderSerializer)
class ProposedProviderField(serializers.DictField):
    """`provider`: a new provider, validated as a create would be."""


class RoutingPreviewSerializer(StrictFieldsMixin, serializers.Serializer):
    """`{"provider_id", "changes"}` (a change to a provider) or `{"provider"}` (a new one)."""

    provider_id = serializers.CharField(required=False, max_length=63)
    changes = ProposedChangesField(required=False)
    provider = ProposedProviderField(required=False)

    def validate(self, attrs):
        has_change = "provider_id" in attrs or "changes" in attrs
        if has_change == ("provider" in attrs):
            raise serializers.ValidationError(
                {"detail": "Send either provider_id with changes, or provider (a new provider)."}
            )
        if has_change and not ("provider_id" in attrs and "changes" in attrs):
            raise serializers.ValidationError({"changes": ["provider_id and changes go together."]})
        return attrs


class RoutingPreviewSchema(OpenApiSerializerExtension):
    """The body is one of two shapes; the schema says which fields go together."""

    target_class = RoutingPreviewSerializer

    def map_serializer(self, auto_schema, direction):
        change = auto_schema.resolve_serializer(ProviderSerializer(partial=True), direction).ref
        new = auto_schema.resolve_serializer(ProviderSerializer, direction).ref
        provider_id = {"type": "string", "pattern": v.PROVIDER_ID_RE}
        return {
            "oneOf": [
                {
                    "type": "object",
                    "description": "A change to an existing provider.",
                    "properties": {"provider_id": provider_id, "changes": change},
                    "required": ["provider_id", "changes"],
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "description": "A new provider.",
                    "properties": {"provider": new},
                    "required": ["provider"],
                    "additionalProperties": False,
                },
            ]
        }
