"""What every API request body shares: a JSON object whose unknown fields are an error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import QueryDict
from rest_framework import serializers
from rest_framework.settings import api_settings

# What the browsable API's HTML forms post beside the fields: the CSRF token and DRF's form
# overrides. Only ignored in form bodies; in a JSON body they are unknown fields like any other.
FORM_CONTROL_FIELDS = frozenset({"csrfmiddlewaretoken", "_method", "_content", "_content_type"})


class StrictFieldsMixin:
    """Unknown or read-only fields in a request body are a 400 naming them, never ignored
    (API.md); a body that is not a JSON object is a 400 too."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: ["Expected a JSON object."]})
        writable = {name for name, field in self.fields.items() if not field.read_only}
        ignored = FORM_CONTROL_FIELDS if isinstance(data, QueryDict) else frozenset()
        errors = {
            key: ["This field is read-only."] if key in self.fields else ["Unknown field."]
            for key in data
            if key not in writable and key not in ignored
        }
        if errors:
            raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
