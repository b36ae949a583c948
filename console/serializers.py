"""The provider object of API.md as the API reads it (its own fields, the vault's projection,
health, `routing_intent`), the routing chain and the preview body."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from console.readmodel import Visibility, routing_intent_for
from core.masking import MASK
from core.serializers import StrictFieldsMixin
from core.timefmt import iso_utc
from health.serializers import ProviderHealthSerializer
from providers import validators as v
from providers.models import Provider, Status
from providers.serializers import ProviderFieldsSerializer

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


# The provider object of API.md: its own fields, the vault's projection of its secret, its health
# and its place in the routing chain. (No docstring, so the schema's description stays as it is.)
class ProviderSerializer(ProviderFieldsSerializer):
    secret_required = serializers.BooleanField(read_only=True)
    secret_present = SecretFlagField()
    secret_last_rotated_at = SecretTimeField()
    secret_touched_by = SecretTextField()
    secret_touched_at = SecretTimeField()
    secret_id_hint = SecretTextField()
    routing_intent = serializers.SerializerMethodField()
    health = serializers.SerializerMethodField()

    class Meta(ProviderFieldsSerializer.Meta):
        fields = (
            "id", "name", "display_name", "kind", "endpoint", "default_model", "fallback_models",
            "status", "status_reason", "enabled", "priority", "capabilities", "secret_policy",
            "secret_required", *SECRET_FIELDS, "retries", "timeout_ms", "tool_timeout_ms", "metadata",
            "routing_intent", "health", "version", "archived_at", "created_at", "updated_at",
        )

    def to_representation(self, instance: Provider) -> dict[str, Any]:
        """The provider object, written field by field: DRF's generic loop (an attribute lookup,
        a field's `to_representation` and an ordered-dict insert for each of 29 fields) was most
        of `GET /api/providers`' time. `generic_representation` is DRF's answer, which
        `console/tests/test_provider_representation.py` proves this one equal to, key order
        included, for every kind of provider and reader."""
        p = instance
        context = chain_context(self.context)
        secret = context["provider_context"].secret(p.id)
        masked = self.context.get("mask_metadata", _masked_by_default)(p)
        return {
            "id": _text(p.id),
            "name": _text(p.name),
            "display_name": _text(p.display_name),
            "kind": _text(p.kind),
            "endpoint": _text(p.endpoint),
            "default_model": _text(p.default_model),
            "fallback_models": p.fallback_models,
            "status": _text(p.status),
            "status_reason": _text(p.status_reason),
            "enabled": _flag(p.enabled),
            "priority": _number(p.priority),
            "capabilities": p.capabilities,
            "secret_policy": _text(p.secret_policy),
            "secret_required": p.secret_required,
            **{name: _secret_value(secret.get(name)) for name in SECRET_FIELDS},
            "retries": _number(p.retries),
            "timeout_ms": _number(p.timeout_ms),
            "tool_timeout_ms": _number(p.tool_timeout_ms),
            "metadata": {key: MASK for key in (p.metadata or {})} if masked else p.metadata,
            "routing_intent": self.get_routing_intent(p),
            "health": self.get_health(p),
            "version": _number(p.version),
            "archived_at": iso_utc(p.archived_at),
            "created_at": iso_utc(p.created_at),
            "updated_at": iso_utc(p.updated_at),
        }

    def generic_representation(self, instance: Provider) -> dict[str, Any]:
        """DRF's own representation through the declared fields (the reference)."""
        return super().to_representation(instance)

    @extend_schema_field(ProviderHealthSerializer)
    def get_health(self, obj: Provider) -> dict[str, Any]:
        health = dict(chain_context(self.context)["provider_context"].health_of(obj.id))
        health["last_checked_at"] = iso_utc(health.get("last_checked_at"))
        return {name: health.get(name) for name in HEALTH_FIELDS}

    @extend_schema_field(RoutingIntentSerializer)
    def get_routing_intent(self, obj: Provider) -> dict[str, Any]:
        context = chain_context(self.context)
        if "visibility" not in self.context:
            request = self.context.get("request")
            self.context["visibility"] = Visibility(request.user) if request is not None else (lambda _id: False)
        return routing_intent_for(context["chain"], obj, self.context["visibility"])


def _masked_by_default(provider: Provider) -> bool:
    return True  # no reader named: nothing of the metadata's values (as ProviderFieldsSerializer)


def _text(value: Any) -> Any:
    """A CharField's or ChoiceField's output: choices are plain strings, so `str` of the value."""
    return value if value is None or value == "" else str(value)


def _number(value: Any) -> int | None:
    return None if value is None else int(value)


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _secret_value(value: Any) -> Any:
    return iso_utc(value) if isinstance(value, datetime) else value


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
