"""The OpenAPI schema's error answers: what `core.exceptions` sends, on every operation that
can send it (API.md "Errors").

- 400 on operations that take a body (POST, PATCH) or filters;
- 401 and 403 everywhere (every endpoint needs a signed-in user with a permission);
- 404 on operations with an id in the path, and on paginated lists (a page past the end);
- 409 on POST and PATCH (duplicate, archived, a secret action that does not fit);
- 412 on PATCH and DELETE (`If-Match`);
- 429 on throttled views.

An operation's own `@extend_schema(responses=…)` wins for a status it names.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

WITH_BODY = ("POST", "PUT", "PATCH")


class ErrorSerializer(serializers.Serializer):
    """`{"detail": "text"}`."""

    detail = serializers.CharField()


class ValidationErrorSerializer(serializers.Serializer):
    """`{"detail": "text"}`, or `{"field": ["text", …]}` with an object in place of the list for a
    nested body (`{"changes": {"priority": ["…"]}}`)."""


class ValidationErrorSchema(OpenApiSerializerExtension):
    target_class = ValidationErrorSerializer

    def map_serializer(self, auto_schema, direction):
        messages = {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "object"}]}}
        return {
            "anyOf": [
                auto_schema.resolve_serializer(ErrorSerializer, direction).ref,
                {
                    "type": "object",
                    "description": "Messages by field name.",
                    "additionalProperties": {"anyOf": [messages, {"type": "object"}]},
                },
            ]
        }


IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description='The `ETag` ("<version>") the change was made against; another version → 412.',
)


class AutoSchema(SpectacularAutoSchema):
    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        if self.method in ("PATCH", "DELETE") and "{" in self.path:
            parameters = [*parameters, IF_MATCH]
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, serializer in self._error_responses().items():
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(serializer, str(code), direction=direction)
        return responses

    def _error_responses(self) -> dict[int, type[serializers.Serializer]]:
        errors: dict[int, type[serializers.Serializer]] = {401: ErrorSerializer, 403: ErrorSerializer}
        if self.method in WITH_BODY or self._get_filter_parameters():
            errors[400] = ValidationErrorSerializer
        if "{" in self.path or self._is_paginated():
            errors[404] = ErrorSerializer
        if self.method in WITH_BODY:
            errors[409] = ValidationErrorSerializer
        if self.method in ("PATCH", "DELETE") and "{" in self.path:
            errors[412] = ErrorSerializer
        if getattr(self.view, "throttle_classes", None):
            errors[429] = ErrorSerializer
        return dict(sorted(errors.items()))

    def _is_paginated(self) -> bool:
        return self.method == "GET" and self._is_list_view() and self._get_paginator() is not None
