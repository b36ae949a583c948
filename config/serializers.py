"""What every API request body shares: a JSON object whose unknown fields are an error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers
from rest_framework.settings import api_settings


class StrictFieldsMixin:
    """Unknown or read-only fields in a request body are a 400 naming them, never ignored
    (API.md); a body that is not a JSON object is a 400 too."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: ["Expected a JSON object."]})
        writable = {name for name, field in self.fields.items() if not field.read_only}
        errors = {
            key: ["This field is read-only."] if key in self.fields else ["Unknown field."]
            for key in data
            if key not in writable
        }
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
