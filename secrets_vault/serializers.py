"""Request and response shapes of the secret endpoints (API.md). No value ever goes out."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializers import StrictFieldsMixin
from secrets_vault.models import SecretAction
from secrets_vault.services import HINT_MAX_LENGTH, VALUE_MAX_LENGTH


class StrictStringField(serializers.CharField):
    """A string as sent: no number-to-string coercion, no whitespace trimming."""

    default_error_messages = {"invalid": "Must be a string."}

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field({
    "type": "string", "nullable": True, "writeOnly": True, "format": "password",
    "minLength": 1, "maxLength": VALUE_MAX_LENGTH, "pattern": r"^[!-~]([ -~]*[!-~])?$",
    "description": "The secret: printable ASCII without leading or trailing space (it is sent in an HTTP "
    "header). For set and rotate only; never sent back.",
})
class SecretValueField(StrictStringField):
    pass


class SecretActionSerializer(StrictFieldsMixin, serializers.Serializer):
    """`{"action", "value", "secret_id_hint", "version"}`; which fields an action takes is enforced here."""

    action = serializers.ChoiceField(choices=SecretAction.choices)
    value = SecretValueField(
        required=False, allow_null=True, min_length=1, max_length=VALUE_MAX_LENGTH,
        error_messages={
            "blank": f"Must be 1 to {VALUE_MAX_LENGTH} characters.",
            "min_length": f"Must be 1 to {VALUE_MAX_LENGTH} characters.",
            "max_length": f"Must be 1 to {VALUE_MAX_LENGTH} characters.",
        },
        style={"input_type": "password"},
    )
    secret_id_hint = StrictStringField(required=False, allow_null=True, allow_blank=True, max_length=HINT_MAX_LENGTH)
    version = StrictIntegerField(required=False, allow_null=True, min_value=1)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        action = attrs["action"]
        value, version = attrs.get("value"), attrs.get("version")
        hint = attrs.get("secret_id_hint")
        errors: dict[str, list[str]] = {}
        if action in (SecretAction.SET, SecretAction.ROTATE):
            if value is None:
                errors["value"] = [f"Required for {action}."]
            elif value != value.strip():
                errors["value"] = ["Must not start or end with whitespace."]
            if version is not None:
                errors["version"] = ["Only used with restore."]
        elif value is not None:
            errors["value"] = [f"Not used with {action}."]
        if action == SecretAction.RESTORE and version is None:
            errors["version"] = ["Required for restore: the version whose value to bring back."]
        if action == SecretAction.CLEAR:
            if version is not None:
                errors["version"] = ["Only used with restore."]
            if hint:
                errors["secret_id_hint"] = ["Not used with clear."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def get_initial(self) -> dict[str, Any]:
        """What a form shows again after a failed POST (the browsable API re-renders the form
        from it): never the value, nor a hint that holds the value."""
        initial = super().get_initial()
        value = initial.get("value")
        if "value" in initial:
            initial["value"] = ""
        hint = initial.get("secret_id_hint")
        if isinstance(value, str) and value.strip() and isinstance(hint, str) and value.strip().lower() in hint.lower():
            initial["secret_id_hint"] = ""
        return initial


class SecretActionSchema(OpenApiSerializerExtension):
    """Which fields each action takes, as `SecretActionSerializer.validate` enforces it."""

    target_class = SecretActionSerializer

    def map_serializer(self, auto_schema, direction):
        fields = auto_schema._map_basic_serializer(SecretActionSerializer, direction)["properties"]
        hint, value = fields["secret_id_hint"], {**fields["value"], "nullable": False}
        version = {**fields["version"], "nullable": False}

        def shape(actions: list[str], description: str, **extra: dict) -> dict:
            return {
                "type": "object",
                "description": description,
                "properties": {"action": {"type": "string", "enum": actions}, **extra},
                "required": ["action", *(name for name in extra if name != "secret_id_hint")],
                "additionalProperties": False,
            }

        return {
            "oneOf": [
                shape(["set", "rotate"], "Store a value: `set` when none is present, `rotate` to replace it.",
                      value=value, secret_id_hint=hint),
                shape(["clear"], "Remove the value (kept for the retention window, for restore)."),
                shape(["restore"], "Bring back the value of an earlier version as a new version.",
                      version=version, secret_id_hint=hint),
            ]
        }


class SecretProjectionSerializer(serializers.Serializer):
    """The secret projection of API.md, for the response to an action."""

    provider_id = serializers.CharField()
    action = serializers.ChoiceField(choices=SecretAction.choices)
    secret_present = serializers.BooleanField()
    secret_version = serializers.IntegerField(allow_null=True)
    secret_last_rotated_at = serializers.DateTimeField(allow_null=True)
    secret_touched_by = serializers.CharField(allow_null=True)
    secret_touched_at = serializers.DateTimeField(allow_null=True)
    secret_id_hint = serializers.CharField(allow_null=True)


class SecretVersionSerializer(serializers.Serializer):
    """One row of `GET …/secret/versions`: metadata only."""

    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(source="created_by_name")
    action = serializers.ChoiceField(choices=SecretAction.choices)
    secret_id_hint = serializers.SerializerMethodField()
    current = serializers.BooleanField(source="is_current")

    def get_secret_id_hint(self, row) -> str | None:
        return row.secret_id_hint or None
