"""Request bodies and response shapes of the health endpoints (API.md)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rest_framework import serializers
from rest_framework.utils import html

from core.serializers import StrictFieldsMixin
from core.timefmt import iso_utc
from health.models import HealthCheck
from providers.models import Status


class StrictBooleanField(serializers.BooleanField):
    """JSON true/false only: "yes", 1 or "on" are a client's mistake here, not a boolean.

    A form body (the browsable API's HTML form) has no booleans: there a ticked checkbox sends
    "true" and an unticked one nothing.
    """

    def get_value(self, dictionary: Any) -> Any:
        value = super().get_value(dictionary)
        if html.is_html_input(dictionary) and value in ("true", "false"):
            return value == "true"
        return value

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictSerializer(StrictFieldsMixin, serializers.Serializer):
    """A JSON object body whose unknown fields are rejected (API.md), not ignored."""


class TestRequestSerializer(StrictSerializer):
    deep = StrictBooleanField(default=False)


class TestAllRequestSerializer(StrictSerializer):
    include_disabled = StrictBooleanField(default=False)
    provider_ids = serializers.ListField(
        child=serializers.CharField(max_length=63), allow_null=True, default=None, max_length=10_000
    )


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


class MetricsBucketSerializer(serializers.Serializer):
    """One minute of `series`: checks made, how many failed, latency of the passing ones."""

    start = serializers.DateTimeField()
    checks = serializers.IntegerField()
    failures = serializers.IntegerField()
    latency_ms_avg = serializers.FloatField(allow_null=True)
    latency_ms_p95 = serializers.FloatField(allow_null=True)


class MetricsSerializer(ProviderHealthSerializer):
    """`GET /api/providers/{id}/metrics`: the provider's health figures and the last hour in
    1-minute buckets, oldest first (`metrics_response()` writes it)."""

    provider_id = serializers.CharField()
    series = MetricsBucketSerializer(many=True)


class CheckResultSerializer(serializers.ModelSerializer):
    """The check result of API.md; the same shape for test, test-all, history and events.

    Serializes through `check_result()`, so there is one definition of the shape; the fields
    below describe it for the OpenAPI schema.
    """

    provider_id = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=["pass", "fail"], read_only=True)
    provider_status = serializers.ChoiceField(choices=Status.choices, read_only=True)
    error_message = serializers.SerializerMethodField()
    model = serializers.SerializerMethodField()

    class Meta:
        model = HealthCheck
        fields = [
            "provider_id", "ok", "status", "error_code", "error_message", "latency_ms",
            "http_status", "model", "deep", "checked_at", "provider_status",
        ]
        read_only_fields = fields

    def to_representation(self, instance: HealthCheck) -> dict[str, Any]:
        return check_result(instance)

    def get_error_message(self, check: HealthCheck) -> str | None:
        return check.error_message or None

    def get_model(self, check: HealthCheck) -> str | None:
        return check.model or None


def check_result(check: HealthCheck) -> dict[str, Any]:
    """The check result as a plain dict (what the serializer gives, without its per-call cost:
    a run of all checks writes hundreds of these into events)."""
    return {
        "provider_id": check.provider_id,
        "ok": check.ok,
        "status": check.result_status,
        "error_code": check.error_code or None,
        "error_message": check.error_message or None,
        "latency_ms": check.latency_ms,
        "http_status": check.http_status,
        "model": check.model or None,
        "deep": check.deep,
        "checked_at": iso_utc(check.checked_at),
        "provider_status": check.provider_status,
    }


def metrics_response(provider_id: str, health: Mapping[str, Any], series: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "provider_id": provider_id,
        **{key: iso_utc(value) if isinstance(value, datetime) else value for key, value in health.items()},
        "series": [{**bucket, "start": iso_utc(bucket["start"])} for bucket in series],
    }
