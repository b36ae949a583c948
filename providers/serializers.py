"""The provider's own fields as API.md describes them, with the validation every writer shares."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.masking import MASK
from core.parsers import JSONSerializerField
from core.serializers import StrictFieldsMixin
from core.timefmt import iso_utc
from providers import validators as v
from providers.models import OPERATOR_STATUSES, Kind, Provider, SecretPolicy, Status, default_secret_policy

WRITABLE_FIELDS = (
    "id", "name", "display_name", "kind", "endpoint", "default_model", "fallback_models",
    "status", "enabled", "priority", "capabilities", "secret_policy", "retries", "timeout_ms",
    "tool_timeout_ms", "metadata",
)


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


# The provider's own fields: the public (writable) ones with their validation, and the read-only
# ones the row holds. The API's provider (`console.serializers.ProviderSerializer`) adds the
# secret projection, health and `routing_intent`; the console's forms validate with this one, so
# a page refuses exactly what the API refuses. (No docstring: the schema's description of the
# provider comes from the classes above it, as it did before the split.)
class ProviderFieldsSerializer(StrictFieldsMixin, serializers.ModelSerializer):
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

    class Meta:
        model = Provider
        fields = (
            "id", "name", "display_name", "kind", "endpoint", "default_model", "fallback_models",
            "status", "status_reason", "enabled", "priority", "capabilities", "secret_policy",
            "secret_required", "retries", "timeout_ms", "tool_timeout_ms", "metadata",
            "version", "archived_at", "created_at", "updated_at",
        )
        read_only_fields = ("status_reason", "version", "archived_at", "created_at", "updated_at")
        # Uniqueness is checked by the view and answered with 409, as API.md asks.
        validators: list = []

    # --- reading -----------------------------------------------------------------------

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
